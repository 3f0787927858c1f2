"""Research element-wise activations with fixed hyper-parameters: beta_mish,
mila, bent_identity, weighted_tanh, lecun_tanh, sine_relu, talu, seagull,
tanhsoft, eis, sine, log_gamma, pulsar_new, sp_act."""

from __future__ import annotations

import math

from ..spec import Interval, Kink, Param, Reference, nonnegative, positive, real
from ._declare import declare

_LEGACY = "Echo has it only in its legacy modules (PyPI echoAI 0.1.3), not at HEAD."
_INF = float("inf")


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


def _tanh_acc(y, ops):
    """tanh(y) whose derivative keeps its relative accuracy near saturation.

    1 - 2 sigmoid(-2|y|) above |y| = 0.55 (sigmoid's derivative s (1 - s) is
    accurate when s is tiny, unlike 1 - tanh^2), the expm1 form of :func:`_tanh`
    below. Not guaranteed monotone across the switch: for non-monotone users.
    """
    pos = y >= 0
    u = ops.where(pos, y, -y)
    sat = u > 100.0  # see _tanh
    small = u <= 0.55
    us = ops.where(small, u, 0.0)
    e = ops.expm1(-2.0 * us)
    ub = ops.where(small, 1.0, ops.where(sat, 1.0, u))
    t = ops.where(sat, 1.0, ops.where(small, -e / (2.0 + e), 1.0 - 2.0 * ops.sigmoid(-2.0 * ub)))
    return ops.where(pos, t, -t)


def _sech2(y, ops):
    """sech(y)^2 = 1 - tanh(y)^2 = 4 e / (1 + e)^2, e = exp(-2|y|): relative accuracy
    for every y (no 1 - tanh^2 cancellation), 0 where exp underflows."""
    u = ops.abs(y)
    m = ops.expm1(-2.0 * u)  # e - 1, in (-1, 0]
    d = 2.0 + m  # 1 + e, in (1, 2]
    return 4.0 * ops.exp(-2.0 * u) / (d * d)


def _ones(x, ops, c=1.0):
    """The constant ``c`` (a number or a parameter tensor) shaped like ``x``; NaN stays NaN."""
    return ops.where(ops.isnan(x), x, c)


def _log_param(v, ops):
    """ln of a parameter value >= 0, with ln 0 = -inf."""
    return ops.log(v) if v > 0 else -_INF


def _hypot(p, q, ops):
    """sqrt(p^2 + q^2) for p, q >= 0 without overflow; value and gradient 0 at (0, 0)."""
    first = p >= q
    m = ops.where(first, p, q)
    n = ops.where(first, q, p)
    nonzero = m > 0
    ms = ops.where(nonzero, m, 1.0)
    # n = 0 (a constant, or |x| = 0) takes r = 0 without dividing: the quotient's
    # derivative in ms is n / ms^2, 0 / 0 once ms^2 underflows (JAX)
    some = n > 0
    r = ops.where(some, n / ops.where(some, ms, 1.0), 0.0)
    return ops.where(nonzero, ms * ops.sqrt(1.0 + r * r), 0.0)


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
    grad=lambda x, ops, beta: _beta_mish_grad(x, ops, beta),
)
def beta_mish(x, ops, beta):
    """Beta-Mish: x * tanh(beta * softplus(x))."""
    # below x = -1000 the value (about beta x e^x) is 0 in every format; cutting
    # there keeps the gradient from forming x * beta (inf near the float max)
    # times sigmoid(x) = 0
    tail = x < -1000.0
    xs = ops.where(tail, 0.0, x)
    return ops.where(tail, 0.0, xs * _tanh_acc(beta * ops.softplus(xs), ops))


def _beta_mish_grad(x, ops, beta):
    """tanh(y) + x sech(y)^2 beta sigmoid(x), y = beta softplus(x); 0 below x = -1000 as
    the forward."""
    tail = x < -1000.0
    xs = ops.where(tail, 0.0, x)
    y = beta * ops.softplus(xs)
    g = _tanh_acc(y, ops) + xs * (_sech2(y, ops) * (beta * ops.sigmoid(xs)))
    return ops.where(tail, 0.0, g)


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
    grad=lambda x, ops, beta: _mila_grad(x, ops, beta),
    fast=lambda x, ops, beta: _mila_fast(x, ops, beta),
)
def mila(x, ops, beta):
    """Mila: x * tanh(softplus(x + beta)), a shifted mish."""
    return x * _tanh_acc(ops.softplus(x + beta), ops)


def _mila_fast(x, ops, beta):
    """Mila as mish's fast form: tanh(softplus(z)) = n / (n + 2), n = e^z (e^z + 2),
    z = x + beta: one exp instead of exp, log1p and tanh. The exp argument stops
    at 20 (n / (n + 2) is 1 in float64 beyond), so nothing overflows."""
    e = ops.exp_in_range(ops.minimum(x + beta, 20.0))
    n = e * (e + 2.0)
    return x * (n / (n + 2.0))


def _mila_grad(x, ops, beta):
    """tanh(y) + x sech(y)^2 sigmoid(x + beta), y = softplus(x + beta)."""
    z = x + beta
    y = ops.softplus(z)
    return _tanh_acc(y, ops) + x * (_sech2(y, ops) * ops.sigmoid(z))


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
    grad=lambda x, ops: _bent_identity_grad(x, ops),
)
def bent_identity(x, ops):
    """Bent identity: x + (sqrt(x^2 + 1) - 1) / 2."""
    big = ops.abs(x) > 1.0
    xb = ops.where(big, x, 2.0)
    xs = ops.where(big, 0.0, x)  # NaN stays on this side
    small = xs * xs / (ops.sqrt(xs * xs + 1.0) + 1.0)
    large = ops.abs(xb) * ops.sqrt(1.0 + 1.0 / (xb * xb)) - 1.0
    return x + 0.5 * ops.where(big, large, small)


def _bent_identity_grad(x, ops):
    """1 + x / (2 sqrt(x^2 + 1)), as sign(x) / sqrt(1 + 1/x^2) above |x| = 1 (no overflow)."""
    big = ops.abs(x) > 1.0
    xb = ops.where(big, x, 2.0)
    xs = ops.where(big, 0.0, x)
    rb = 1.0 / ops.sqrt(1.0 + 1.0 / (xb * xb))
    ratio = ops.where(big, ops.where(xb > 0, rb, -rb), xs / ops.sqrt(xs * xs + 1.0))
    return 1.0 + 0.5 * ratio


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
    grad=lambda x, ops, weight: weight * _sech2(weight * x, ops),
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
    grad=lambda x, ops: (1.7159 * 2.0 / 3.0) * _sech2(2.0 * x / 3.0, ops),
)
def lecun_tanh(x, ops):
    """LeCun's scaled tanh: 1.7159 * tanh(2x/3), so that f(+-1) = +-1."""
    return 1.7159 * _tanh(2.0 * x / 3.0, ops)


@declare(
    "sine_relu",
    examples=({"epsilon": 0.5},),
    aliases=("sinerelu",),
    params={"epsilon": Param(0.01, real, doc="amplitude of the sine branch")},
    formula=r"\begin{cases} x & x > 0 \\ \epsilon (\sin x - \cos x) & x \le 0 \end{cases}",
    kinks=(
        Kink(0.0, "epsilon", "x = 0 belongs to the sine branch: f(0) = -epsilon (the function jumps at 0)"),
    ),
    grad=lambda x, ops, epsilon: ops.where(x > 0, 1.0, epsilon * (ops.cos(x) + ops.sin(x))),
    smooth=False,
    origin=("echo",),
    notes=(
        "No paper (a blog post by W. Rodrigues). " + _LEGACY,
        "Echo's legacy torch SineReLU uses x > 0 for the identity branch and its Keras one x >= 0; "
        "polyact follows the torch version (f(0) = -epsilon). On backends that read subnormal inputs "
        "as zero (XLA on CPU) a positive subnormal x gives f(0) = -epsilon.",
    ),
)
def sine_relu(x, ops, epsilon):
    """SineReLU: x for x > 0, epsilon * (sin x - cos x) otherwise."""
    return ops.where(x > 0, x, epsilon * (ops.sin(x) - ops.cos(x)))


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
    grad=lambda x, ops: ops.where(x <= _TALU_T, 0.0, ops.where(x <= 0, _sech2(x, ops), 1.0)),
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
    grad=lambda x, ops: _seagull_grad(x, ops),
)
def seagull(x, ops):
    """Seagull: the even function log(1 + x^2)."""
    big = ops.abs(x) > 1.0
    xb = ops.where(big, x, 2.0)
    xs = ops.where(big, 0.0, x)  # NaN stays on this side
    return ops.where(big, 2.0 * ops.log(ops.abs(xb)) + ops.log1p(1.0 / (xb * xb)), ops.log1p(xs * xs))


def _seagull_grad(x, ops):
    """2x / (1 + x^2), as 2 / (x + 1/x) above |x| = 1 (no overflow of x^2)."""
    big = ops.abs(x) > 1.0
    xb = ops.where(big, x, 2.0)
    xs = ops.where(big, 0.0, x)
    return ops.where(big, 2.0 / (xb + 1.0 / xb), 2.0 * xs / (1.0 + xs * xs))


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
    grad=lambda x, ops, w0: _sine_grad(x, ops, w0),
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


def _sine_grad(x, ops, w0):
    """w0 cos(w0 x), with w0 x split into an exact sum as in the forward."""
    h, lo_w = _split12(w0)
    if h == 0.0 or (lo_w == 0.0 and abs(math.frexp(h)[0]) == 0.5):  # w0 * x is exact
        return w0 * ops.cos(_finite_or_zero(w0 * x, ops))
    inside = ops.abs(x) <= 1e30
    xs = ops.where(inside, x, 0.0)
    g = _VELTKAMP * xs
    x_hi = g - (g - xs)
    x_lo = xs - x_hi
    a = h * x_hi
    b = h * x_lo + lo_w * xs
    split = ops.cos(a) * ops.cos(b) - ops.sin(a) * ops.sin(b)
    far = ops.cos(_finite_or_zero(w0 * ops.where(inside, 0.0, x), ops))
    return w0 * ops.where(inside, split, far)


def _finite_or_zero(p, ops):
    """``p`` where it is finite, else 0: past the float range w0 * x has no
    computable phase (the contract's eps * |x| term forgives any value there)."""
    return ops.where(ops.abs(p) == float("inf"), 0.0, p)  # NaN stays NaN


# --------------------------------------------------------------------------- families of Biswas et al.
def _log_delta_plus_exp(x, ops, delta):
    """ln(delta + e^x) for delta >= 0 (= x for delta = 0), without overflow:
    logaddexp(ln delta, x) with ln 0 = -inf."""
    ld = _log_param(delta, ops)
    hi = x >= ld
    z = ops.where(hi, ld - x, x - ld)  # <= 0; -inf when delta = 0
    return ops.where(hi, x, ld) + ops.log1p(ops.exp(z))


#: where tanhsoft's tanh is 1 in every format (tanh(50) = 1 - 7e-44)
_TANHSOFT_SAT = 50.0
#: exp of at most this is finite in every format (float32 overflows past 88.7)
_EXP_SAFE = 80.0


@declare(
    "tanhsoft",
    examples=(
        {"alpha": 0.87, "beta": 0.0, "gamma": 1.0, "delta": 1.0},
        {"alpha": -0.5, "beta": 1.0, "gamma": 0.5, "delta": 0.5},
    ),
    params={
        "alpha": Param(0.0, Interval(-math.inf, 1.0), doc="slope inside tanh (alpha <= 1)"),
        "beta": Param(0.6, nonnegative, doc="weight of the exponential inside tanh"),
        "gamma": Param(1.0, positive, doc="rate of the exponential inside tanh"),
        "delta": Param(0.0, Interval(0.0, 1.0), doc="offset inside the logarithm (0 <= delta <= 1)"),
    },
    formula=r"\tanh\left(\alpha x + \beta e^{\gamma x}\right) \ln\left(\delta + e^x\right)",
    smooth=True,
    references=(
        Reference(
            "TanhSoft -- a family of activation functions combining Tanh and Softplus",
            "2009.03863",
            "Biswas, Kumar, Banerjee & Pandey",
            2020,
        ),
    ),
    origin=("echo",),
    notes=(
        "The defaults give the paper's x tanh(0.6 e^x); alpha = 0.87, beta = 0, delta = 1 gives its "
        "tanh(0.87 x) ln(1 + e^x). The domains are the constraints Echo checks in __init__.",
        "Echo computes tanh(alpha x + beta exp(gamma x)) * log(delta + exp(x)) literally: inf or NaN "
        "once exp overflows (x > 88 in float32). polyact uses ln(delta + e^x) = logaddexp(ln delta, x) "
        "and takes tanh = 1 once alpha x + beta e^(gamma x) > 50, decided in the logarithmic domain "
        "so that e^(gamma x) is never formed when it would overflow.",
    ),
    grad=lambda x, ops, alpha, beta, gamma, delta: _tanhsoft_grad(x, ops, alpha, beta, gamma, delta),
)
def tanhsoft(x, ops, alpha, beta, gamma, delta):
    """TanhSoft: tanh(alpha x + beta e^(gamma x)) * ln(delta + e^x)."""
    L = _log_delta_plus_exp(x, ops, delta)
    # saturated when beta e^(gamma x) > T - alpha x, compared as logarithms:
    # e = ln(beta) + gamma x against ln(T - alpha x) (-inf when that is <= 0)
    gx = gamma * x
    e = _log_param(beta, ops) + gx
    ax = alpha * x
    ok = ax < _TANHSOFT_SAT
    far = ax < -_TANHSOFT_SAT  # T - alpha x ~ |alpha| |x|: logs of the factors, no overflow
    near = ops.log(_TANHSOFT_SAT - ops.where(far, 0.0, ax))
    big = (
        _log_param(abs(alpha), ops)
        + ops.log(ops.abs(x))
        + ops.log1p(_TANHSOFT_SAT / ops.abs(ops.where(far, ax, -1.0)))
    )
    log_room = ops.where(ok, ops.where(far, big, near), -_INF)
    sat = e >= log_room
    # beta e^(gamma x) as written while e^(gamma x) cannot overflow, else as e^e
    # (e <= ln(T - alpha x) where it is used: no overflow)
    direct = gx <= _EXP_SAFE
    b_direct = beta * ops.exp(ops.where(sat, 0.0, ops.where(direct, gx, 0.0)))
    b_log = ops.exp(ops.where(sat, 0.0, ops.where(direct, 0.0, e)))
    u = ax + ops.where(direct, b_direct, b_log)
    return ops.where(sat, 1.0, _tanh_acc(ops.where(sat, 0.0, u), ops)) * L


def _tanhsoft_grad(x, ops, alpha, beta, gamma, delta):
    """sech(u)^2 (alpha + gamma beta e^(gamma x)) L + tanh(u) L', u = alpha x + beta e^(gamma x),
    L = ln(delta + e^x), L' = e^x / (delta + e^x); L' alone where the forward takes tanh = 1.
    The saturation test and u are the forward's."""
    L = _log_delta_plus_exp(x, ops, delta)
    dL = ops.sigmoid(x - _log_param(delta, ops)) if delta > 0 else _ones(x, ops)
    gx = gamma * x
    e = _log_param(beta, ops) + gx
    ax = alpha * x
    ok = ax < _TANHSOFT_SAT
    far = ax < -_TANHSOFT_SAT
    near = ops.log(_TANHSOFT_SAT - ops.where(far, 0.0, ax))
    big = (
        _log_param(abs(alpha), ops)
        + ops.log(ops.abs(x))
        + ops.log1p(_TANHSOFT_SAT / ops.abs(ops.where(far, ax, -1.0)))
    )
    log_room = ops.where(ok, ops.where(far, big, near), -_INF)
    sat = e >= log_room
    direct = gx <= _EXP_SAFE
    b_direct = beta * ops.exp(ops.where(sat, 0.0, ops.where(direct, gx, 0.0)))
    b_log = ops.exp(ops.where(sat, 0.0, ops.where(direct, 0.0, e)))
    b = ops.where(direct, b_direct, b_log)  # beta e^(gamma x)
    u = ops.where(sat, 0.0, ax + b)
    s2 = _sech2(u, ops)
    # sech^2 first: it is 0 wherever a factor could be huge
    inner = (s2 * alpha) * L + ((s2 * gamma) * b) * L + _tanh_acc(u, ops) * dL
    return ops.where(sat, dL, inner)


def _eis_check(p):
    if p["beta"] == 0 and p["delta"] == 0:
        return (
            "beta > 0 or delta > 0 must hold: otherwise the denominator sqrt(beta + gamma x^2) + "
            f"delta e^(-theta x) vanishes at x = 0. Received: beta={p['beta']!r}, delta={p['delta']!r}"
        )
    return None


#: below this, ln(softplus(x)) is x + ln(1 - u/2 + u^2/3), u = e^x (the next term, u^3/4,
#: is below 1e-52 relative, invisible even to the 60-digit reference); above it
#: softplus(x) is a normal float32 number
_LOG_SOFTPLUS_TAIL = -40.0
#: where the exponential term of eis's denominator takes over: e^40 times anything else
_EIS_BIG = 40.0


@declare(
    "eis",
    examples=(
        {"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 0.0, "theta": 0.0},
        {"alpha": 0.0, "beta": 1.0, "gamma": 0.0, "delta": 0.68, "theta": 1.7},
    ),
    params={
        "alpha": Param(1.0, Interval(0.0, 1.0), doc="power of softplus in the numerator"),
        "beta": Param(0.0, nonnegative, doc="constant under the square root"),
        "gamma": Param(1.0, nonnegative, doc="weight of x^2 under the square root"),
        "delta": Param(1.16, nonnegative, doc="weight of the exponential in the denominator"),
        "theta": Param(1.0, nonnegative, doc="rate of the exponential in the denominator"),
    },
    formula=(
        r"\frac{x \operatorname{softplus}(x)^{\alpha}}{\sqrt{\beta + \gamma x^2} + \delta e^{-\theta x}}"
    ),
    smooth=False,
    check=_eis_check,
    references=(
        Reference(
            "EIS -- a family of activation functions combining Exponential, ISRU, and Softplus",
            "2009.13501",
            "Biswas, Kumar, Banerjee & Pandey",
            2020,
        ),
    ),
    origin=("echo",),
    notes=(
        "The defaults are the paper's first member (Echo's version=1), x ln(1 + e^x) / (|x| + 1.16 e^-x); "
        "the examples are version 2, x ln(1 + e^x) / sqrt(1 + x^2), and version 3, "
        "x / (1 + 0.68 e^(-1.7 x)). The paper's abstract writes the first as x ln(1 + e^x) / "
        "(x + 1.16 e^-x); polyact, like Echo, follows the family's sqrt(beta + gamma x^2), which is |x| "
        "there (the two differ for x < 0).",
        "Echo's EIS has no defaults, and its version argument silently overwrites the values given. "
        "With beta = 0 the denominator has a kink at 0 (f is continuously differentiable but not smooth); "
        "Echo's sqrt(x^2) gives a NaN gradient there, polyact f'(0) = ln(2)^alpha / delta.",
        "Computed without overflow: softplus^alpha through logarithms (exactly softplus at alpha = 1 "
        "and 1 at alpha = 0), the square root as a scaled hypot, and the exponential term divided out "
        "once it dominates (Echo: NaN gradients at x = 0 and x = -200 for version 1).",
    ),
    grad=lambda x, ops, alpha, beta, gamma, delta, theta: _eis_grad(x, ops, alpha, beta, gamma, delta, theta),
)
def eis(x, ops, alpha, beta, gamma, delta, theta):
    """EIS: x softplus(x)^alpha / (sqrt(beta + gamma x^2) + delta e^(-theta x))."""
    return _softplus_power(x, ops, alpha) * _eis_ratio(x, ops, beta, gamma, delta, theta)


def _softplus_power(x, ops, alpha):
    """softplus(x)^alpha for 0 <= alpha <= 1: exactly softplus at alpha = 1 and 1 at
    alpha = 0; for alpha >= 1/2 as softplus * softplus^(alpha - 1), whose rounding
    does not grow with ln(softplus) where the result is close to x."""
    tail = x < _LOG_SOFTPLUS_TAIL
    xt = ops.where(tail, x, 2.0 * _LOG_SOFTPLUS_TAIL)
    u = ops.exp(xt)
    ls_tail = xt + ops.log1p(u * (u / 3.0 - 0.5))
    xm = ops.where(tail, 0.0, x)
    sp = ops.softplus(xm)
    ls = ops.log(sp)  # in [-40, 710]: (alpha - 1) * ls cannot overflow
    mid = ops.where(alpha >= 0.5, sp * ops.exp((alpha - 1.0) * ls), ops.exp(alpha * ls))
    return ops.where(tail, ops.exp(alpha * ls_tail), mid)


def _eis_ratio(x, ops, beta, gamma, delta, theta):
    """x / (S + T), S = hypot(sqrt(beta), sqrt(gamma) |x|), T = delta e^(-theta x),
    without overflow or underflow."""
    b, c = ops.sqrt(beta), ops.sqrt(gamma)
    tx = theta * x
    lt = _log_param(delta, ops) - tx  # ln T (-inf for delta = 0)
    big = lt > _EIS_BIG
    # T as written while e^(-theta x) cannot overflow, else from ln T (<= 40 where used)
    direct = tx >= -_EXP_SAFE
    t = ops.where(
        direct,
        delta * ops.exp(-ops.where(direct, tx, 0.0)),
        ops.exp(ops.where(direct, 0.0, ops.where(big, 0.0, lt))),
    )
    ax = ops.abs(x)
    # S: divided by |x| where c |x| > b and |x| > 1 (hypot(b, c |x|) could overflow)
    scaled = ops.minimum(c * ax - b, ax - 1.0) > 0
    xs = ops.where(scaled, x, 2.0)
    axs = ops.abs(xs)
    s_over_x = _hypot(b / axs, c, ops)  # >= c > 0 where used
    xp = ops.where(scaled, 0.0, x)
    s_plain = _hypot(b, c * ops.abs(xp), ops)
    q_scaled = ops.sign(xs) / (s_over_x + ops.where(scaled, t, 1.0) / axs)
    q_plain = xp / (s_plain + ops.where(scaled, 1.0, t))
    # T > e^40: divide it out, x / (S + T) = (x / T) / (S / T + 1), S / T from logarithms
    log_s = ops.where(scaled, ops.log(axs) + ops.log(s_over_x), ops.log(s_plain))
    # past theta x = -1000 the quotient is 0 in every format: keep x moderate there,
    # so that x * (1 / delta) never overflows on the way to the 0 derivative of e^(theta x)
    xb = ops.where(big, ops.where(tx < -1000.0, -1.0, x), 0.0)
    inv_delta = 1.0 / delta if delta > 0 else 0.0  # big is never true for delta = 0
    r = ops.exp(ops.where(big, tx, -2.0 * _EIS_BIG)) * inv_delta  # 1 / T <= e^-40
    q_big = xb * r / (ops.exp(ops.where(big, log_s - lt, 0.0)) + 1.0)
    return ops.where(big, q_big, ops.where(scaled, q_scaled, q_plain))


def _eis_grad(x, ops, alpha, beta, gamma, delta, theta):
    """f' = alpha P' R + P R', P = softplus(x)^alpha, P' = sigmoid(x) softplus(x)^(alpha - 1),
    R = x / (S + T)."""
    p = _softplus_power(x, ops, alpha)
    tail = x < _LOG_SOFTPLUS_TAIL
    xt = ops.where(tail, x, 2.0 * _LOG_SOFTPLUS_TAIL)
    u = ops.exp(xt)
    # sigmoid / softplus = 1 / ((1 + u)(1 - u/2 + u^2/3 ...)) in the tail (both underflow)
    dp_tail = p / ((1.0 + u) * (1.0 + u * (u / 3.0 - 0.5)))
    xm = ops.where(tail, 0.0, x)
    # softplus^(alpha - 1) from its logarithm (in [-40, 710]: no overflow), not P / softplus:
    # sigmoid / softplus is subnormal for large x (flushed to 0 by XLA in float32)
    dp = ops.where(tail, dp_tail, ops.sigmoid(xm) * ops.exp((alpha - 1.0) * ops.log(ops.softplus(xm))))
    r = _eis_ratio(x, ops, beta, gamma, delta, theta)
    dr = _eis_ratio_grad(x, ops, beta, gamma, delta, theta)
    return alpha * dp * r + p * dr


def _eis_ratio_grad(x, ops, beta, gamma, delta, theta):
    """d/dx x / (S + T) = (beta / S + T (1 + theta x)) / (S + T)^2 in the three regimes of
    :func:`_eis_ratio` (plain, S scaled by |x|, T divided out), without overflow."""
    b, c = ops.sqrt(beta), ops.sqrt(gamma)
    tx = theta * x
    lt = _log_param(delta, ops) - tx
    big = lt > _EIS_BIG
    direct = tx >= -_EXP_SAFE
    t = ops.where(
        direct,
        delta * ops.exp(-ops.where(direct, tx, 0.0)),
        ops.exp(ops.where(direct, 0.0, ops.where(big, 0.0, lt))),
    )
    ax = ops.abs(x)
    scaled = ops.minimum(c * ax - b, ax - 1.0) > 0
    xs = ops.where(scaled, x, 2.0)
    axs = ops.abs(xs)
    s_over_x = _hypot(b / axs, c, ops)
    xp = ops.where(scaled, 0.0, x)
    s_plain = _hypot(b, c * ops.abs(xp), ops)
    # beta / S (0 for beta = 0, where S may vanish)
    if beta > 0:
        bs = ops.where(scaled, (beta / axs) / s_over_x, beta / ops.where(scaled, 1.0, s_plain))
    else:
        bs = 0.0 * x
    # 1 + theta x, cut where T (or 1 / T) is 0 to the last digit of the result
    one_tx = 1.0 + ops.where(tx < -1000.0, -1000.0, ops.where(tx > 1000.0, 1000.0, tx))
    # plain: 1 / (S + T)
    tp = ops.where(scaled, 1.0, t)
    inv_p = 1.0 / (s_plain + tp)
    d_plain = bs * inv_p * inv_p + (tp * inv_p) * one_tx * inv_p
    # scaled: S + T = |x| den; T (1 + theta x) / (S + T) = T (1/|x| + theta sign(x)) / den
    ts = ops.where(scaled, t, 1.0)
    den = s_over_x + ts / axs
    inv_s = (1.0 / axs) / den
    sg = ops.where(xs > 0, 1.0, -1.0)
    d_scaled = bs * inv_s * inv_s + (ts * (1.0 / axs + theta * sg) / den) * inv_s
    # T > e^40: 1 / (S + T) = (1 / T) / (S / T + 1), T / (S + T) = 1 / (S / T + 1)
    log_s = ops.where(scaled, ops.log(axs) + ops.log(s_over_x), ops.log(s_plain))
    w1 = ops.exp(ops.where(big, log_s - lt, 0.0)) + 1.0
    inv_delta = 1.0 / delta if delta > 0 else 0.0
    inv_t = ops.exp(ops.where(big, tx, -2.0 * _EIS_BIG)) * inv_delta
    inv_b = inv_t / w1
    d_big = bs * inv_b * inv_b + (1.0 / w1) * one_tx * inv_b
    return ops.where(big, d_big, ops.where(scaled, d_scaled, d_plain))


# --------------------------------------------------------------------------- log-gamma
#: ln Gamma(2 + t) = sum_n c_n t^n (Abramowitz & Stegun 6.1.33): c_1 = 1 - Euler's
#: gamma, c_n = (-1)^n (zeta(n) - 1) / n. 30 terms: truncation below 1e-19
#: relative for |t| <= 1/2 (the coefficients fall like 2^-n)
_LGAMMA2_TAYLOR = (
    0.42278433509846713,
    0.3224670334241132,
    -0.0673523010531981,
    0.020580808427784546,
    -0.007385551028673986,
    0.0028905103307415234,
    -0.001192753911703261,
    0.0005096695247430425,
    -0.00022315475845357939,
    9.945751278180853e-05,
    -4.492623673813314e-05,
    2.050721277567069e-05,
    -9.439488275268397e-06,
    4.374866789907488e-06,
    -2.039215753801366e-06,
    9.55141213040742e-07,
    -4.492469198764566e-07,
    2.1207184805554665e-07,
    -1.0043224823968099e-07,
    4.7698101693639804e-08,
    -2.2711094608943164e-08,
    1.0838659214896955e-08,
    -5.183475041970047e-09,
    2.4836745438024785e-09,
    -1.1921401405860912e-09,
    5.731367241678862e-10,
    -2.7595228851242334e-10,
    1.330476437424449e-10,
    -6.4229645638381e-11,
    3.1044247747322276e-11,
)
#: Stirling's series ln Gamma(z) = (z - 1/2) ln z - z + ln(2 pi) / 2 + sum_k
#: B_2k / (2k (2k - 1) z^(2k - 1)): 8 terms, truncation below 1e-18 for z >= 10.5
_STIRLING = (
    0.08333333333333333,
    -0.002777777777777778,
    0.0007936507936507937,
    -0.0005952380952380953,
    0.0008417508417508417,
    -0.0019175269175269176,
    0.00641025641025641,
    -0.029550653594771242,
)
_HALF_LN_2PI_MINUS_HALF = 0.4189385332046727
#: from here on Stirling's series; below, the recurrence shifts x down to [1/2, 3/2)
_LGAMMA_STIRLING_FROM = 9.5


def _lgamma2(t, ops):
    """ln Gamma(2 + t) for |t| <= 1/2, relative accuracy kept at its zero t = 0."""
    acc = _LGAMMA2_TAYLOR[-1]
    for c in reversed(_LGAMMA2_TAYLOR[:-1]):
        acc = c + t * acc
    return t * acc


def _lgamma1p(x, ops):
    """ln Gamma(1 + x), NaN for x < -1, with relative accuracy at both zeros (x = 0
    and x = 1): x + 1 is never formed where it would round.

    (-1, -1/2): S(1 + x) - ln(1 + x) - ln(2 + x); [-1/2, 1/2): S(x) - log1p(x);
    [1/2, 9.5): S(y - 1) + ln(x (x - 1) ... (y + 1)) with y = x - k in [1/2, 3/2);
    [9.5, inf): Stirling's series; S(t) = ln Gamma(2 + t).
    """
    neg = x < -0.5
    near0 = x < 0.5
    stir = x >= _LGAMMA_STIRLING_FROM
    xa = ops.where(neg, x, -0.75)
    u = 1.0 + xa  # exact for x in [-1, -1/2]
    log_u = 2.0 * ops.log(ops.sqrt(u))  # NaN, value and gradient, below x = -1
    xb = ops.where(neg, 0.0, ops.where(near0, x, 0.0))
    y = ops.where(near0, 1.0, ops.where(stir, 1.0, x))
    prod = 1.0
    for _ in range(8):  # y - 1 is exact in this range
        more = y >= 1.5
        prod = ops.where(more, prod * y, prod)
        y = ops.where(more, y - 1.0, y)
    t = ops.where(neg, u, ops.where(near0, xb, y - 1.0))
    low = _lgamma2(t, ops) + ops.where(
        neg, -log_u - ops.log(2.0 + xa), ops.where(near0, -ops.log1p(xb), ops.log(prod))
    )
    z = ops.where(stir, x, 10.0) + 1.0
    r = 1.0 / z
    r2 = r * r
    ser = _STIRLING[-1]
    for c in reversed(_STIRLING[:-1]):
        ser = c + r2 * ser
    # (z - 1/2) ln z - z = (z - 1/2)(ln z - 1) - 1/2: no overflow before the result's
    high = (z - 0.5) * (ops.log(z) - 1.0) + _HALF_LN_2PI_MINUS_HALF + r * ser
    return ops.where(stir, high, low)


#: digamma's asymptotic series psi(z) = ln z - 1/(2z) - sum_k B_2k / (2k z^2k)
_STIRLING_PSI = (
    1.0 / 12.0,
    -1.0 / 120.0,
    1.0 / 252.0,
    -1.0 / 240.0,
    1.0 / 132.0,
    -691.0 / 32760.0,
    1.0 / 12.0,
    -3617.0 / 8160.0,
)


def _digamma1p(x, ops):
    """psi(1 + x) = d/dx ln Gamma(1 + x), NaN below x = -1: the derivative of
    :func:`_lgamma1p` term by term (its closed form, so that the reference never
    differences across the region boundaries, where the truncated series jump by
    about 1e-17)."""
    neg = x < -0.5
    near0 = x < 0.5
    stir = x >= _LGAMMA_STIRLING_FROM
    xa = ops.where(neg, x, -0.75)
    u = 1.0 + xa
    pos = u > 0
    # -1/u, with -inf at x = -1 and NaN below (log(u) there: no division by 0)
    minus_inv_u = ops.where(pos, -1.0 / ops.where(pos, u, 1.0), ops.log(u))
    x2 = ops.where(pos, xa, -0.75)
    xb = ops.where(neg, 0.0, ops.where(near0, x, 0.0))
    y = ops.where(near0, 1.0, ops.where(stir, 1.0, x))
    acc = 0.0
    for _ in range(8):
        more = y >= 1.5
        acc = ops.where(more, acc + 1.0 / y, acc)
        y = ops.where(more, y - 1.0, y)
    t = ops.where(neg, u, ops.where(near0, xb, y - 1.0))
    n = len(_LGAMMA2_TAYLOR)
    ds = n * _LGAMMA2_TAYLOR[-1]
    for k in range(n - 1, 0, -1):
        ds = k * _LGAMMA2_TAYLOR[k - 1] + t * ds
    low = ds + ops.where(neg, minus_inv_u - 1.0 / (2.0 + x2), ops.where(near0, -1.0 / (1.0 + xb), acc))
    z = ops.where(stir, x, 10.0) + 1.0
    r = 1.0 / z
    r2 = r * r
    ser = _STIRLING_PSI[-1]
    for c in reversed(_STIRLING_PSI[:-1]):
        ser = c + r2 * ser
    high = ops.log(z) - 0.5 * r - r2 * ser
    return ops.where(stir, high, low)


@declare(
    "log_gamma",
    aliases=("pulsar", "loggammaactivation", "log_gamma_activation"),
    formula=r"\ln \Gamma(x + 1) \quad (x > -1;\ \text{NaN below})",
    grad=lambda x, ops: _digamma1p(x, ops),
    smooth=True,
    monotone=False,
    origin=("zeta",),
    notes=(
        "No paper: zeta's LogGammaActivation (zeta/nn/modules/pulsar.py), whose docstring describes "
        "a different function and calls itself fictional.",
        "zeta's custom backward returns digamma(x + 2); the derivative of ln Gamma(x + 1) is "
        "digamma(x + 1) (at x = 0.5 zeta gives 0.7032 instead of 0.0365). polyact differentiates "
        "the formula itself.",
        "Defined for x > -1 (+inf at x = -1) and NaN below, value and gradient; zeta's torch.lgamma "
        "returns ln|Gamma| there. ops has no lgamma, so polyact composes one: a 30-term Taylor "
        "series of ln Gamma(2 + t) (A&S 6.1.33) on |t| <= 1/2, the recurrence down to it below "
        "x = 9.5 and Stirling's series above, never forming x + 1 where it would round (relative "
        "accuracy at both zeros, x = 0 and x = 1).",
        "No native kernel: torch.lgamma(x + 1) and jax.lax.lgamma(x + 1) break the contract. x + 1 "
        "rounds, so near x = 0 they lose all relative accuracy (0 instead of -5.8e-21 at x = 1e-20; "
        "float32 lgamma(1 + 3e-8) = 0), and below x = -1 they return ln|Gamma(x + 1)| instead of NaN.",
    ),
)
def log_gamma(x, ops):
    """Log-gamma activation ln Gamma(x + 1) (zeta's Pulsar)."""
    return _lgamma1p(x, ops)


# --------------------------------------------------------------------------- zeta's oddities
@declare(
    "pulsar_new",
    examples=({"alpha": 0.1, "beta": 0.75}, {"alpha": 0.0, "beta": 0.25}),
    aliases=("pulsarnew",),
    params={
        "alpha": Param(0.01, real, doc="slope for x < 0"),
        "beta": Param(
            0.5,
            Interval(0.0, 1.0),
            doc="where the tanh saturation starts; it saturates at 1 (0 <= beta <= 1)",
        ),
    },
    formula=(
        r"\begin{cases} \alpha x & x < 0 \\ x & 0 \le x < \beta \\"
        r" \beta + (1 - \beta) \tanh(x - \beta) & x \ge \beta \end{cases}"
    ),
    kinks=(
        Kink(0.0, 1.0, "x = 0 belongs to the identity branch"),
        Kink("beta", "1 - beta", "x = beta belongs to the tanh branch"),
    ),
    grad=lambda x, ops, alpha, beta: ops.where(
        x < 0, alpha, ops.where(x < beta, 1.0, (1.0 - beta) * _sech2(x - beta, ops))
    ),
    monotone=True,
    smooth=False,
    origin=("zeta",),
    notes=(
        "No paper. zeta defines it in zeta/nn/modules/pulsar.py without exporting it.",
        "beta is restricted to [0, 1]: outside it the function is no longer continuous at 0 "
        "(beta < 0) or no longer non-decreasing (beta > 1). tanh is evaluated in the monotone form "
        "of weighted_tanh.",
    ),
)
def pulsar_new(x, ops, alpha, beta):
    """PulsarNew: leaky below 0, identity up to beta, then a tanh saturating at 1."""
    return ops.where(x < 0, alpha * x, ops.where(x < beta, x, beta + (1.0 - beta) * _tanh(x - beta, ops)))


@declare(
    "sp_act",
    examples=({"alpha": 0.25}, {"alpha": 0.9}),
    aliases=("spact",),
    params={"alpha": Param(0.5, real, doc="weight of the identity (1 - alpha weighs tanh)")},
    formula=r"\alpha x + (1 - \alpha) \tanh x",
    monotone=True,
    smooth=True,
    origin=("zeta",),
    notes=(
        "No paper. zeta defines SPAct in zeta/nn/modules/sp_act.py without exporting it, with alpha "
        "a fixed attribute; here it is a constructor parameter. Non-decreasing for alpha >= 0.",
    ),
    grad=lambda x, ops, alpha: alpha + (1.0 - alpha) * _sech2(x, ops),
)
def sp_act(x, ops, alpha):
    """SPAct: a blend of the identity and tanh, alpha * x + (1 - alpha) * tanh(x)."""
    return alpha * x + (1.0 - alpha) * _tanh(x, ops)
