"""Research element-wise activations with fixed hyper-parameters: beta_mish,
mila, bent_identity, weighted_tanh, lecun_tanh, sine_relu, talu, seagull,
tanhsoft, eis, sine, log_gamma, pulsar_new, sp_act."""

from __future__ import annotations

import math

from ..spec import Kink, Param, Reference, positive, real
from ._declare import declare

_LEGACY = "Echo has it only in its legacy modules (PyPI echoAI 0.1.3), not at HEAD."


def _tanh(y, ops):
    """tanh(y) as -expm1(-2|y|) / (2 + expm1(-2|y|)) with the sign of y.

    An increasing numerator over a decreasing positive denominator: monotone on
    every backend, whereas XLA's tanh steps down near saturation (float32
    |y| in [3.7, 8], float64 |y| in [13.5, 17.7]).
    """
    pos = y >= 0
    u = ops.where(pos, y, -y)
    # tanh(u) = 1 in every format beyond u = 20; cutting at 100 (a jump of
    # 2e-87, invisible even to the 60-digit reference) keeps a large factor on
    # the result (x * tanh(...)) from meeting the 0 derivative as inf * 0
    sat = u > 100.0
    e = ops.expm1(-2.0 * ops.where(sat, 0.0, u))
    t = ops.where(sat, 1.0, -e / (2.0 + e))
    return ops.where(pos, t, -t)


# --------------------------------------------------------------------------- mish relatives
@declare(
    "beta_mish",
    examples=({"beta": 1.0}, {"beta": 3.0}),
    aliases=("betamish",),
    params={"beta": Param(1.5, positive, doc="power of 1 + e^x inside the logarithm (beta = 1 is mish)")},
    formula=r"x \tanh\left(\ln\left((1 + e^x)^{\beta}\right)\right) = x \tanh(\beta \operatorname{softplus}(x))",
    smooth=True,
    monotone=False,
    origin=("echo",),
    notes=(
        "No paper: a variant from the Mish author's repository. " + _LEGACY,
        "Echo's legacy code takes the logarithm of (1 + e^x)^beta literally, which overflows to inf "
        "once e^x does; polyact computes beta * softplus(x).",
    ),
)
def beta_mish(x, ops, beta):
    """Beta-Mish: x * tanh(beta * softplus(x))."""
    # below x = -1000 the value (about beta x e^x) is 0 in every format; cutting
    # there keeps the gradient from forming x * beta (inf near the float max)
    # times sigmoid(x) = 0
    tail = x < -1000.0
    xs = ops.where(tail, 0.0, x)
    return ops.where(tail, 0.0, xs * _tanh(beta * ops.softplus(xs), ops))


@declare(
    "mila",
    examples=({"beta": 0.0}, {"beta": 1.0}),
    params={"beta": Param(-0.25, real, doc="shift of the softplus argument (beta = 0 is mish)")},
    formula=r"x \tanh(\operatorname{softplus}(x + \beta))",
    smooth=True,
    monotone=False,
    origin=("echo",),
    notes=(
        "No paper: from the Mish author's repository. " + _LEGACY,
        "Echo's legacy TF-Keras Mila writes ln(1 + e^(x + beta)) literally (inf once e^x overflows); "
        "polyact uses a stable softplus.",
    ),
)
def mila(x, ops, beta):
    """Mila: x * tanh(softplus(x + beta)), a shifted mish."""
    return x * _tanh(ops.softplus(x + beta), ops)


# --------------------------------------------------------------------------- bent identity, tanh variants
@declare(
    "bent_identity",
    aliases=("bent_id", "bentidentity"),
    formula=r"x + \frac{\sqrt{x^2 + 1} - 1}{2}",
    smooth=True,
    monotone=True,
    origin=("echo",),
    notes=(
        "No paper. " + _LEGACY,
        "sqrt(x^2 + 1) - 1 is computed as x^2 / (sqrt(x^2 + 1) + 1) for |x| <= 1 (no cancellation) "
        "and as |x| sqrt(1 + 1/x^2) - 1 above (no overflow of x^2).",
    ),
)
def bent_identity(x, ops):
    """Bent identity: x + (sqrt(x^2 + 1) - 1) / 2."""
    big = ops.abs(x) > 1.0
    xb = ops.where(big, x, 2.0)
    xs = ops.where(big, 0.0, x)  # NaN stays on this side
    small = xs * xs / (ops.sqrt(xs * xs + 1.0) + 1.0)
    large = ops.abs(xb) * ops.sqrt(1.0 + 1.0 / (xb * xb)) - 1.0
    return x + 0.5 * ops.where(big, large, small)


@declare(
    "weighted_tanh",
    examples=({"weight": 2.0}, {"weight": 0.5}),
    aliases=("weightedtanh",),
    params={"weight": Param(1.0, real, doc="input scale w (Echo's legacy TF-Keras class requires it)")},
    formula=r"\tanh(w x)",
    bounded=True,
    monotone=True,
    smooth=True,
    origin=("echo",),
    notes=(
        "No paper. " + _LEGACY,
        "tanh is evaluated as -expm1(-2|u|) / (2 + expm1(-2|u|)), which is monotone on every backend "
        "(XLA's own tanh is not near saturation).",
    ),
)
def weighted_tanh(x, ops, weight):
    """Weighted tanh: tanh(w * x), the input scaled by w."""
    return _tanh(weight * x, ops)


@declare(
    "lecun_tanh",
    aliases=("lecuntanh",),
    formula=r"1.7159 \tanh\left(\tfrac{2}{3} x\right)",
    bounded=True,
    monotone=True,
    smooth=True,
    references=(Reference("Efficient BackProp", None, "LeCun, Bottou, Orr & Mueller", 1998),),
    origin=("echo",),
    notes=(
        "Echo has it only in its legacy Keras module, added after the 0.1.3 release.",
        "The constants make f(1) = 1 and f(-1) = -1 (to 4 digits); 2x/3 is computed as (2x)/3, "
        "one rounding. tanh is evaluated in the monotone form of weighted_tanh.",
    ),
)
def lecun_tanh(x, ops):
    """LeCun's scaled tanh: 1.7159 * tanh(2x/3), so that f(+-1) = +-1."""
    return 1.7159 * _tanh(2.0 * x / 3.0, ops)


#: the smallest normal float32 number: where sine_relu switches branches
_TINY32 = 2.0**-126


@declare(
    "sine_relu",
    examples=({"epsilon": 0.5},),
    aliases=("sinerelu",),
    params={"epsilon": Param(0.01, real, doc="amplitude of the sine branch")},
    formula=(
        r"\begin{cases} x & x > \tau \\ \epsilon (\sin x - \cos x) & x \le \tau \end{cases},"
        r"\quad \tau = 2^{-126}"
    ),
    kinks=(
        Kink(
            _TINY32,
            "epsilon",
            "x = 2^-126 belongs to the sine branch: f jumps there from about -epsilon to 2^-126",
        ),
    ),
    smooth=False,
    origin=("echo",),
    notes=(
        "No paper (a blog post by W. Rodrigues). " + _LEGACY,
        "Echo's legacy torch SineReLU switches at x > 0 and its Keras one at x >= 0. polyact switches "
        "at the smallest normal float32 number 2^-126 (1.2e-38): the function jumps by epsilon there, "
        "and backends that read subnormal inputs as zero (XLA and MegEngine on CPU) could not tell "
        "0 < x < 2^-126 from 0, so a switch at 0 would give -epsilon instead of x on them.",
    ),
)
def sine_relu(x, ops, epsilon):
    """SineReLU: x for x > 0 (from 2^-126 on), epsilon * (sin x - cos x) below."""
    return ops.where(x > _TINY32, x, epsilon * (ops.sin(x) - ops.cos(x)))


_TALU_T = -0.05
#: tanh(-0.05) correctly rounded to float64: a literal, so that the kernels, the
#: limit at -inf and the reference agree to the bit (np.tanh is 1 ulp off here)
_TALU_C = -0.04995837495787998


@declare(
    "talu",
    accuracy="transcendental",
    formula=(
        r"\begin{cases} x & x > 0 \\ \tanh x & -0.05 < x \le 0 \\"
        r" \tanh(-0.05) & x \le -0.05 \end{cases}"
    ),
    kinks=(Kink(_TALU_T, 0.0, "x = -0.05 belongs to the constant branch"),),
    monotone=True,
    smooth=False,
    references=(
        Reference("TaLuActivationFunction (GitHub repository mjain72/TaLuActivationFunction)", None),
    ),
    origin=("echo",),
    notes=(
        "Echo has TaLU only in its legacy Keras module (added after the 0.1.3 release), where "
        "'if cond is True' compares a tensor with True: always False, so that layer returns its input "
        "unchanged. polyact implements the intended function.",
        "The derivative is continuous at 0 (tanh'(0) = 1); x = -0.05 is the only kink.",
    ),
)
def talu(x, ops):
    """TaLU: x for x > 0, tanh x down to -0.05, then constant tanh(-0.05)."""
    return ops.where(x <= _TALU_T, _TALU_C, ops.where(x <= 0, ops.tanh(x), x))  # NaN: last branch


# --------------------------------------------------------------------------- even / periodic
@declare(
    "seagull",
    accuracy="transcendental",
    formula=r"\ln(1 + x^2)",
    smooth=True,
    monotone=False,
    references=(
        Reference("A Use of Even Activation Functions in Neural Networks", "2011.11713", "Gao & Zhang", 2020),
    ),
    origin=("echo",),
    notes=(
        "Computed as log1p(x^2) for |x| <= 1 and 2 ln|x| + log1p(1/x^2) above: Echo's log(1 + x^2) "
        "overflows to inf once x^2 does (|x| > 1.8e19 in float32).",
    ),
)
def seagull(x, ops):
    """Seagull: the even function log(1 + x^2)."""
    big = ops.abs(x) > 1.0
    xb = ops.where(big, x, 2.0)
    xs = ops.where(big, 0.0, x)  # NaN stays on this side
    return ops.where(big, 2.0 * ops.log(ops.abs(xb)) + ops.log1p(1.0 / (xb * xb)), ops.log1p(xs * xs))


def _split12(v):
    """A Python float as h + l with h rounded to 12 significant bits (both exact)."""
    v = float(v)
    if v == 0.0 or not math.isfinite(v):
        return v, 0.0
    m, e = math.frexp(v)
    h = math.ldexp(round(math.ldexp(m, 12)), e - 12)
    return h, v - h


#: Veltkamp's constant for splitting a float into halves of which the upper has
#: 12 fewer bits: valid in float32 (12 + 12 bits) and float64 (41 + 12 bits)
_VELTKAMP = 4097.0


@declare(
    "sine",
    accuracy="transcendental",
    examples=({"w0": 3.0}, {"w0": 0.1}),
    params={"w0": Param(1.0, real, doc="frequency omega_0 (SIREN uses 30)")},
    formula=r"\sin(\omega_0 x)",
    bounded=True,
    smooth=True,
    references=(
        Reference(
            "Implicit Neural Representations with Periodic Activation Functions",
            "2006.09661",
            "Sitzmann et al.",
            2020,
        ),
    ),
    origin=("echo",),
    notes=(
        "When w0 is not a power of two, w0 * x is formed exactly as a sum of two terms (a 12-bit split "
        "of w0 and a Veltkamp split of x) and the sine of the sum is expanded, so that large w0 * x "
        "keeps its digits: a rounded product would be off by up to w0 |x| eps / 2 (Echo's "
        "sin(w0 * x)). Beyond |x| = 1e30 the plain sin(w0 * x) is used.",
    ),
)
def sine(x, ops, w0):
    """Sine activation of SIREN: sin(w0 * x)."""
    h, lo_w = _split12(w0)
    if h == 0.0 or (lo_w == 0.0 and abs(math.frexp(h)[0]) == 0.5):  # w0 * x is exact
        return ops.sin(_finite_or_zero(w0 * x, ops))
    inside = ops.abs(x) <= 1e30  # the split's C * x cannot overflow
    xs = ops.where(inside, x, 0.0)
    g = _VELTKAMP * xs
    x_hi = g - (g - xs)
    x_lo = xs - x_hi
    a = h * x_hi  # exact: at most 24 (float32) or 53 (float64) significant bits
    b = h * x_lo + lo_w * xs  # small: its rounding is far below eps * |x|
    split = ops.sin(a) * ops.cos(b) + ops.cos(a) * ops.sin(b)
    far = ops.sin(_finite_or_zero(w0 * ops.where(inside, 0.0, x), ops))
    return ops.where(inside, split, far)


def _finite_or_zero(p, ops):
    """``p`` where it is finite, else 0: past the float range w0 * x has no
    computable phase (the contract's eps * |x| term forgives any value there)."""
    return ops.where(ops.abs(p) == float("inf"), 0.0, p)  # NaN stays NaN
