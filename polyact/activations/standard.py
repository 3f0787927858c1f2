"""Standard element-wise activations of the framework libraries: identity, relu6,
the ELU family, hard (piecewise) units, shrinkage functions, sparse_plus and
sparse_sigmoid, squareplus, log1mexp and the squared rectifiers."""

from __future__ import annotations

import math

from ..spec import Kink, Native, Param, Reference, nonnegative, positive
from ._declare import declare

_MOBILENET_V3 = Reference("Searching for MobileNetV3", "1905.02244", "Howard et al.", 2019)
_FENCHEL_YOUNG = Reference(
    "Learning with Fenchel-Young Losses", "1901.02324", "Blondel, Martins & Niculae", 2020
)

#: e as a float64 pair (the sum is e to 1e-32)
_E_HI = 2.718281828459045
_E_LO = 1.4456468917292502e-16

#: ln 2: where log1mexp switches from log(-expm1(-x)) to log1p(-exp(-x))
_LN2 = math.log(2.0)

# SELU's fixed constants (Klambauer et al.), to the digits the paper derives
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _expm1_neg(z, ops):
    """expm1(z) for z <= 0 whose gradient keeps its digits: exp(z) - 1 below -ln 2
    (autograd's expm1' = expm1(z) + 1 cancels to 0 in the tail: elu'(-40) would be 0)."""
    far = z < -_LN2
    zf = ops.where(far, z, 0.0)
    zn = ops.where(far, -1.0, z)  # NaN stays here
    return ops.where(far, ops.exp(zf) - 1.0, ops.expm1(zn))


def _ones(x, ops, c=1.0):
    """The constant ``c`` (a number or a parameter tensor) shaped like ``x``; NaN stays NaN."""
    return ops.where(ops.isnan(x), x, c)


def _band_grad(x, ops, lo, hi, slope):
    """``slope`` strictly inside (lo, hi), 0 at and beyond both ends (a clip's derivative)."""
    return ops.where(x <= lo, 0.0, ops.where(x >= hi, 0.0, _ones(x, ops, slope)))


@declare(
    "identity",
    accuracy="exact",
    aliases=("linear", "linear_activation"),
    formula=r"x",
    monotone=True,
    smooth=True,
    bounded=False,
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta"),
    grad=lambda x, ops: _ones(x, ops),
    native={"jax": lambda j, x: j.nn.identity(x)},
)
def identity(x, ops):
    """The identity: f(x) = x."""
    return x


@declare(
    "relu6",
    accuracy="exact",
    formula=r"\min(\max(0, x), 6)",
    kinks=(
        Kink(0.0, 0.0, "x = 0 belongs to the flat branch, as in torch"),
        Kink(6.0, 0.0, "x = 6 belongs to the flat branch, as in torch"),
    ),
    grad=lambda x, ops: _band_grad(x, ops, 0.0, 6.0, 1.0),
    bounded=True,
    monotone=True,
    smooth=False,
    references=(Reference("Convolutional Deep Belief Networks on CIFAR-10", None, "Krizhevsky", 2010),),
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta", "echo"),
    native={
        "torch": Native(
            lambda t, x: t.nn.functional.relu6(x),
            inplace=lambda t, x: t.nn.functional.relu6(x, inplace=True),
        ),
        "jax": lambda j, x: j.nn.relu6(x),
        "megengine": lambda m, x: m.functional.relu6(x),
    },
)
def relu6(x, ops):
    """ReLU capped at 6: min(max(0, x), 6)."""
    return ops.where(x <= 0, 0.0, ops.where(x >= 6.0, 6.0, x))


@declare(
    "elu",
    accuracy="transcendental",
    examples=({"alpha": 0.5}, {"alpha": 2.0}),
    params={"alpha": Param(1.0, positive, doc="value approached as x -> -inf is -alpha")},
    formula=r"\begin{cases} x & x > 0 \\ \alpha\,(e^x - 1) & x \le 0 \end{cases}",
    kinks=(Kink(0.0, "alpha", "x = 0 belongs to the exponential branch, as in torch: elu'(0) = alpha"),),
    grad=lambda x, ops, alpha: ops.where(x > 0, 1.0, alpha * ops.exp(ops.where(x > 0, 0.0, x))),
    monotone=True,
    smooth=False,
    references=(
        Reference(
            "Fast and Accurate Deep Network Learning by Exponential Linear Units (ELUs)",
            "1511.07289",
            "Clevert et al.",
            2015,
        ),
    ),
    origin=("torch", "jax", "keras", "timm"),
    native={
        "torch": lambda t, x, alpha: t.nn.functional.elu(x, alpha=alpha),
        "jax": lambda j, x, alpha: j.nn.elu(x, alpha=alpha),
    },
)
def elu(x, ops, alpha):
    """Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise."""
    pos = x > 0
    return ops.where(pos, x, alpha * _expm1_neg(ops.where(pos, 0.0, x), ops))


@declare(
    "celu",
    accuracy="transcendental",
    examples=({"alpha": 0.5}, {"alpha": 3.0}),
    params={
        "alpha": Param(1.0, positive, doc="scale of the exponential branch (the curve saturates at -alpha)")
    },
    formula=r"\max(0, x) + \min\left(0, \alpha\,(e^{x/\alpha} - 1)\right)",
    grad=lambda x, ops, alpha: ops.where(x > 0, 1.0, ops.exp(ops.where(x > 0, 0.0, x) / alpha)),
    monotone=True,
    smooth=False,
    references=(
        Reference("Continuously Differentiable Exponential Linear Units", "1704.07483", "Barron", 2017),
    ),
    origin=("torch", "jax", "keras", "timm", "echo"),
    notes=(
        "Continuously differentiable (celu'(0) = 1 from both sides); the second derivative jumps at 0 "
        "unless alpha = 1.",
        "torch, jax and Keras accept any alpha != 0; polyact requires alpha > 0, the range of the paper's "
        "properties (bounded derivative): for alpha < 0 the negative branch grows like e^(x/alpha).",
    ),
    native={
        "torch": Native(
            lambda t, x, alpha: t.nn.functional.celu(x, alpha=alpha),
            eligible=False,
            note="torch's celu backward loses float64 precision for most alpha (celu'(0) = 1.00000002 "
            "for alpha = 1.7)",
        ),
        "jax": lambda j, x, alpha: j.nn.celu(x, alpha=alpha),
    },
)
def celu(x, ops, alpha):
    """Continuously differentiable ELU: x for x > 0, alpha * (exp(x / alpha) - 1) otherwise."""
    pos = x > 0
    return ops.where(pos, x, alpha * _expm1_neg(ops.where(pos, 0.0, x) / alpha, ops))


@declare(
    "selu",
    accuracy="transcendental",
    formula=(
        r"\lambda \begin{cases} x & x > 0 \\ \alpha\,(e^x - 1) & x \le 0 \end{cases},\quad"
        r" \lambda \approx 1.0507009873554805,\ \alpha \approx 1.6732632423543772"
    ),
    grad=lambda x, ops: ops.where(
        x > 0, _SELU_SCALE, (_SELU_SCALE * _SELU_ALPHA) * ops.exp(ops.where(x > 0, 0.0, x))
    ),
    kinks=(
        Kink(
            0.0,
            _SELU_SCALE * _SELU_ALPHA,
            "x = 0 belongs to the exponential branch, as in torch: lambda * alpha",
        ),
    ),
    monotone=True,
    smooth=False,
    references=(Reference("Self-Normalizing Neural Networks", "1706.02515", "Klambauer et al.", 2017),),
    origin=("torch", "jax", "keras", "timm"),
    native={
        "torch": lambda t, x: t.nn.functional.selu(x),
        "jax": lambda j, x: j.nn.selu(x),
    },
)
def selu(x, ops):
    """Scaled ELU with the fixed self-normalising constants lambda and alpha."""
    pos = x > 0
    return ops.where(
        pos, _SELU_SCALE * x, (_SELU_SCALE * _SELU_ALPHA) * _expm1_neg(ops.where(pos, 0.0, x), ops)
    )


@declare(
    "hard_sigmoid",
    accuracy="exact",
    aliases=("hardsigmoid", "hsigmoid"),
    formula=r"\frac{\min(\max(0, x + 3), 6)}{6}",
    kinks=(
        Kink(-3.0, 0.0, "x = -3 belongs to the flat branch, as in torch"),
        Kink(3.0, 0.0, "x = 3 belongs to the flat branch, as in torch"),
    ),
    grad=lambda x, ops: _band_grad(x, ops, -3.0, 3.0, 1.0 / 6.0),
    bounded=True,
    monotone=True,
    smooth=False,
    references=(_MOBILENET_V3,),
    origin=("torch", "jax", "keras", "megengine", "timm"),
    notes=("Keras 2 used clip(0.2 x + 0.5, 0, 1); every current anchor and polyact use relu6(x + 3) / 6.",),
    native={
        "torch": Native(
            lambda t, x: t.nn.functional.hardsigmoid(x),
            inplace=lambda t, x: t.nn.functional.hardsigmoid(x, inplace=True),
            eligible=False,
            note="torch's hardsigmoid backward uses 1/6 rounded to float32: in float64 the gradient is "
            "0.16666667163 (1.8e8 ulp off)",
        ),
        "jax": Native(
            lambda j, x: j.nn.hard_sigmoid(x),
            eligible=False,
            note="jax.nn.hard_sigmoid clips x + 3, which rounds to 6 just below x = 3: gradient 0 there, not 1/6",
        ),
        "megengine": lambda m, x: m.functional.hsigmoid(x),
    },
)
def hard_sigmoid(x, ops):
    """Piecewise-linear sigmoid relu6(x + 3) / 6."""
    return ops.where(x <= -3.0, 0.0, ops.where(x >= 3.0, 1.0, (x + 3.0) / 6.0))


@declare(
    "hard_swish",
    aliases=("hard_silu", "hardswish", "hswish"),
    formula=r"x\,\frac{\min(\max(0, x + 3), 6)}{6}",
    kinks=(
        Kink(-3.0, 0.0, "x = -3 belongs to the flat branch, as in torch"),
        Kink(3.0, 1.0, "x = 3 belongs to the identity branch, as in torch"),
    ),
    grad=lambda x, ops: ops.where(
        x <= -3.0, 0.0, ops.where(x >= 3.0, 1.0, (2.0 * ops.where(ops.abs(x) < 3.0, x, 0.0) + 3.0) / 6.0)
    ),
    smooth=False,
    references=(_MOBILENET_V3,),
    origin=("torch", "jax", "keras", "megengine", "timm"),
    native={
        "torch": Native(
            lambda t, x: t.nn.functional.hardswish(x),
            inplace=lambda t, x: t.nn.functional.hardswish(x, inplace=True),
            bound=1e37,
            note="torch's hardswish overflows to inf for x near the float max (true value x): "
            "inputs beyond +-1e37 take the formula",
        ),
        "jax": Native(
            lambda j, x: j.nn.hard_swish(x),
            eligible=False,
            note="jax.nn.hard_swish clips x + 3, which rounds to 6 just below x = 3: gradient 1 there, not 1.5",
        ),
        "megengine": Native(
            lambda m, x: m.functional.hswish(x),
            eligible=False,
            note="MegEngine's hswish overflows to inf for x near the float max (true value x), and its "
            "gradient is -0.5 at x = -3 and 1.5 at x = 3 (not 0 and 1)",
        ),
    },
)
def hard_swish(x, ops):
    """Hard swish x * relu6(x + 3) / 6."""
    return ops.where(x <= -3.0, 0.0, ops.where(x >= 3.0, x, x * (x + 3.0) / 6.0))


def _hard_tanh_check(p):
    if not p["min_val"] < p["max_val"]:
        return f"min_val < max_val must hold. Received: min_val={p['min_val']!r}, max_val={p['max_val']!r}"
    return None


@declare(
    "hard_tanh",
    accuracy="exact",
    examples=({"min_val": -2.0, "max_val": 0.5},),
    aliases=("hardtanh",),
    params={
        "min_val": Param(-1.0, doc="lower clipping value"),
        "max_val": Param(1.0, doc="upper clipping value"),
    },
    formula=(
        r"\begin{cases} \mathrm{max\_val} & x \ge \mathrm{max\_val} \\ x & \mathrm{min\_val} < x < "
        r"\mathrm{max\_val} \\ \mathrm{min\_val} & x \le \mathrm{min\_val} \end{cases}"
    ),
    kinks=(
        Kink("min_val", 0.0, "x = min_val belongs to the flat branch, as in torch"),
        Kink("max_val", 0.0, "x = max_val belongs to the flat branch, as in torch"),
    ),
    check=_hard_tanh_check,
    grad=lambda x, ops, min_val, max_val: _band_grad(x, ops, min_val, max_val, 1.0),
    bounded=True,
    monotone=True,
    smooth=False,
    origin=("torch", "jax", "keras", "echo"),
    notes=(
        "jax.nn.hard_tanh and Keras fix the range to [-1, 1] (and jax.nn.hard_tanh has gradient 1 at "
        "x = +-1); it is not registered as a native kernel here.",
    ),
    native={
        "torch": Native(
            lambda t, x, min_val, max_val: t.nn.functional.hardtanh(x, min_val=min_val, max_val=max_val),
            inplace=lambda t, x, min_val, max_val: t.nn.functional.hardtanh_(
                x, min_val=min_val, max_val=max_val
            ),
        ),
    },
)
def hard_tanh(x, ops, min_val, max_val):
    """Clip x to [min_val, max_val] (default [-1, 1])."""
    return ops.where(x <= min_val, min_val, ops.where(x >= max_val, max_val, x))


@declare(
    "hard_mish",
    formula=r"\tfrac{1}{2}\,x\,\min(\max(0, x + 2), 2)",
    kinks=(Kink(-2.0, 0.0, "x = -2 belongs to the flat branch (timm's hard_mish gives -1 there)"),),
    grad=lambda x, ops: ops.where(x <= -2.0, 0.0, ops.where(x >= 0, 1.0, ops.where(x <= -2.0, 0.0, x) + 1.0)),
    smooth=False,
    origin=("timm",),
    notes=(
        "No paper defines it; timm's hard_mish follows the Mish author's notes. The derivative is "
        "continuous at x = 0 (both sides give 1).",
    ),
)
def hard_mish(x, ops):
    """Hard Mish: x * clip(x + 2, 0, 2) / 2."""
    return ops.where(x <= -2.0, 0.0, ops.where(x >= 0, x, 0.5 * x * (x + 2.0)))


@declare(
    "log_sigmoid",
    accuracy="transcendental",
    aliases=("logsigmoid",),
    formula=r"\ln \sigma(x) = -\ln\left(1 + e^{-x}\right)",
    grad=lambda x, ops: ops.sigmoid(-x),
    monotone=True,
    smooth=True,
    origin=("torch", "jax", "keras", "megengine", "echo"),
    notes=("Computed as -softplus(-x), stable for every x.",),
    native={
        # torch exports logsigmoid to ONNX as Log(Sigmoid(x)): -inf below x = -104
        "torch": Native(lambda t, x: t.nn.functional.logsigmoid(x), onnx=False),
        "jax": lambda j, x: j.nn.log_sigmoid(x),
        "megengine": lambda m, x: m.functional.logsigmoid(x),
    },
)
def log_sigmoid(x, ops):
    """Logarithm of the sigmoid, -softplus(-x)."""
    return ops.log_sigmoid(x)


@declare(
    "softsign",
    accuracy="transcendental",
    aliases=("soft_sign",),
    formula=r"\frac{x}{1 + |x|}",
    grad=lambda x, ops: _softsign_grad(x, ops),
    bounded=True,
    monotone=True,
    smooth=False,
    origin=("torch", "jax", "keras"),
    notes=(
        "Computed as sign(x) (1 - 1/(1 + |x|)) for |x| >= 1, so that the gradient 1/(1 + |x|)^2 "
        "does not come out of a cancelling difference; continuously differentiable, with a jump of "
        "the second derivative at 0.",
    ),
    native={
        "torch": lambda t, x: t.nn.functional.softsign(x),
        "jax": lambda j, x: j.nn.soft_sign(x),
    },
)
def softsign(x, ops):
    """Softsign x / (1 + |x|)."""
    small = ops.abs(x) < 1.0
    xs = ops.where(small, x, 0.0)
    xb = ops.where(small, 2.0, x)  # NaN lands here and stays NaN
    far = 1.0 - 1.0 / (1.0 + ops.abs(xb))  # |x| >= 1: no cancellation, finite in both signs
    far = ops.where(xb > 0, far, -far)
    return ops.where(small, xs / (1.0 + ops.abs(xs)), far)


def _softsign_grad(x, ops):
    """1 / (1 + |x|)^2, formed as a square of the reciprocal (no overflow)."""
    r = 1.0 / (1.0 + ops.abs(x))
    return r * r


# x - tanh(x) = x^3 * (1/3 - 2x^2/15 + 17x^4/315 - 62x^6/2835 + ...), the Taylor
# coefficients of x - tanh(x) divided by x^3, highest first (for Horner's rule)
_TANH_SHRINK_SERIES = (
    -929569.0 / 638512875.0,
    21844.0 / 6081075.0,
    -1382.0 / 155925.0,
    62.0 / 2835.0,
    -17.0 / 315.0,
    2.0 / 15.0,
    -1.0 / 3.0,
)
_TANH_SHRINK_HALVINGS = 4


@declare(
    "tanh_shrink",
    aliases=("tanhshrink",),
    formula=r"x - \tanh x",
    grad=lambda x, ops: ops.tanh(x) * ops.tanh(x),
    monotone=True,
    smooth=True,
    origin=("torch", "keras", "echo"),
    notes=(
        "Near 0 the difference x - tanh x cancels; for |x| < 1 polyact evaluates its Taylor series at "
        "x/16 and doubles back with x - tanh x = (2 d(x/2) + x t^2)/(1 + t^2), t = tanh(x/2), "
        "d(u) = u - tanh u, whose terms never cancel.",
    ),
    native={"torch": lambda t, x: t.nn.functional.tanhshrink(x)},
)
def tanh_shrink(x, ops):
    """x - tanh(x)."""
    small = ops.abs(x) < 1.0
    xs = ops.where(small, x, 0.0)
    xb = ops.where(small, 0.0, x)  # NaN lands here and stays NaN
    y = xs * (0.5**_TANH_SHRINK_HALVINGS)
    y2 = y * y
    poly = _TANH_SHRINK_SERIES[0]
    for c in _TANH_SHRINK_SERIES[1:]:
        poly = poly * y2 + c
    d = -(y * y2) * poly  # d(y) = y - tanh y for |y| < 1/16
    for _ in range(_TANH_SHRINK_HALVINGS):
        t = ops.tanh(y)
        t2 = t * t
        d = (2.0 * d + 2.0 * y * t2) / (1.0 + t2)
        y = 2.0 * y
    return ops.where(small, d, xb - ops.tanh(xb))


@declare(
    "exponential",
    accuracy="transcendental",
    formula=r"e^x",
    grad=lambda x, ops: exponential(x, ops),
    notes=(
        "Computed as e * exp(x - 1) above x = 88: MegEngine's vectorised exp saturates at 2.406e38 "
        "for x > 88.38 instead of overflowing (and is up to 30% low just below ln(max)).",
    ),
    monotone=True,
    smooth=True,
    origin=("keras",),
    native={
        "torch": lambda t, x: t.exp(x),
        "jax": lambda j, x: j.numpy.exp(x),
        "megengine": Native(
            lambda m, x: m.functional.exp(x),
            eligible=False,
            note="MegEngine's vectorised exp saturates at 2.406e38 for x > 88.38 (finite instead of inf, "
            "and up to 30% low below ln(max) = 88.72)",
        ),
    },
)
def exponential(x, ops):
    """The exponential e^x."""
    big = x > 88.0
    t = ops.exp(ops.where(big, x, 1.0) - 1.0)  # x - 1 is exact; e = _E_HI + _E_LO to 1e-32
    return ops.where(big, t * _E_HI + t * _E_LO, ops.exp(ops.where(big, 0.0, x)))


@declare(
    "sparse_plus",
    formula=r"\begin{cases} 0 & x \le -1 \\ \tfrac{1}{4}(x + 1)^2 & -1 < x < 1 \\ x & x \ge 1 \end{cases}",
    grad=lambda x, ops: sparse_sigmoid(x, ops),
    monotone=True,
    smooth=False,
    references=(_FENCHEL_YOUNG,),
    origin=("jax", "keras"),
    notes=(
        "Continuously differentiable (its derivative is sparse_sigmoid); the second derivative jumps at +-1.",
    ),
    native={
        "jax": Native(
            lambda j, x: j.nn.sparse_plus(x),
            eligible=False,
            note="jax.nn.sparse_plus has NaN gradients at |x| near the float max ((x + 1)^2 overflows "
            "in the unselected branch)",
        )
    },
)
def sparse_plus(x, ops):
    """Sparse plus: 0 below -1, (x + 1)^2 / 4 in between, x above 1."""
    outside = ops.abs(x) >= 1.0
    xs = ops.where(outside, 0.0, x)  # keeps (x + 1)^2 finite in the unused branch; NaN stays
    q = 0.25 * ((xs + 1.0) * (xs + 1.0))
    return ops.where(x <= -1.0, 0.0, ops.where(x >= 1.0, x, q))


@declare(
    "sparse_sigmoid",
    accuracy="exact",
    formula=r"\begin{cases} 0 & x \le -1 \\ \tfrac{1}{2}(x + 1) & -1 < x < 1 \\ 1 & x \ge 1 \end{cases}",
    kinks=(
        Kink(-1.0, 0.0, "x = -1 belongs to the flat branch"),
        Kink(1.0, 0.0, "x = 1 belongs to the flat branch"),
    ),
    grad=lambda x, ops: _band_grad(x, ops, -1.0, 1.0, 0.5),
    bounded=True,
    monotone=True,
    smooth=False,
    references=(_FENCHEL_YOUNG,),
    origin=("jax", "keras"),
    native={
        "jax": Native(
            lambda j, x: j.nn.sparse_sigmoid(x),
            eligible=False,
            note="jax.nn.sparse_sigmoid clips with jnp.clip: gradient 1/4 at x = +-1, not 0",
        )
    },
)
def sparse_sigmoid(x, ops):
    """Sparse sigmoid: clip((x + 1) / 2, 0, 1), the derivative of sparse_plus."""
    return ops.where(x <= -1.0, 0.0, ops.where(x >= 1.0, 1.0, 0.5 * (x + 1.0)))


@declare(
    "squareplus",
    examples=({"b": 1.0}, {"b": 0.0}),
    params={"b": Param(4.0, nonnegative, doc="smoothness near 0 (b = 0 gives relu)")},
    formula=r"\tfrac{1}{2}\left(x + \sqrt{x^2 + b}\right)",
    kinks=(Kink(0.0, 0.5, "f'(0) = 1/2 for every b; a kink only when b = 0 (relu)"),),
    grad=lambda x, ops, b: _squareplus_grad(x, ops, b),
    monotone=True,
    smooth=True,
    references=(Reference("Squareplus: A Softplus-Like Algebraic Rectifier", "2112.11687", "Barron", 2021),),
    origin=("jax", "keras"),
    notes=(
        "Computed as b / (2 (s - x)) for x < 0 (s = sqrt(x^2 + b), no cancellation) and with s scaled "
        "by |x| beyond sqrt(b) (no overflow of x^2). Smooth for b > 0; b = 0 gives relu with "
        "f'(0) = 1/2, the limit of b -> 0.",
    ),
    native={
        "jax": Native(
            lambda j, x, b: j.nn.squareplus(x, b=b),
            eligible=False,
            note="jax.nn.squareplus forms x^2: inf for |x| > sqrt(float max) (value and gradient)",
        )
    },
)
def squareplus(x, ops, b):
    """Squareplus (x + sqrt(x^2 + b)) / 2, an algebraic softplus."""
    a = ops.abs(x)
    big = a > b**0.5
    ab = ops.where(big, a, 1.0)
    # |x| sqrt(1 + b/x^2): x^2 never formed (b = 0 skips b/x^2, which torch computes
    # as b * (1/x): 0 * inf for a subnormal x)
    s_big = ab * ops.sqrt(1.0 + (b / ab) / ab) if b > 0 else ab
    asm = ops.where(big, 0.0, a)
    q = asm * asm + b
    qpos = q > 0
    s_small = ops.where(qpos, ops.sqrt(ops.where(qpos, q, 1.0)), 0.0)  # sqrt'(0) never formed
    s = ops.where(big, s_big, s_small)
    pos = x >= 0
    if not b > 0:  # relu; b / den below would be 0 * (1/den) in torch, NaN for a subnormal x
        # x + (s - x) / 2 (s = x for x > 0, s'(0) = 0): XLA folds 0.5 x + 0.5 s into
        # 0.5 (x + s), inf at float max
        return ops.where(x < 0, 0.0, x + 0.5 * (s - x))  # NaN stays NaN
    # t = b / (2 (s + |x|)): f = t for x < 0 (no cancellation) and f = x + t beyond
    # sqrt(b), where XLA would fold 0.5 x + 0.5 s into 0.5 (x + s), inf at float max.
    # |x| as where(x >= 0, x, -x): abs'(0) = 0 would give f'(0) = 1, not 1/2.
    t = 0.5 * b / (s + ops.where(pos, x, -x))  # >= sqrt(b) > 0; b / inf = 0 at float max
    # below sqrt(b) the two increasing halves keep the rounded f monotone
    return ops.where(pos, ops.where(big, x + t, 0.5 * x + 0.5 * s), t)


def _squareplus_grad(x, ops, b):
    """(1 + x / s) / 2, s = sqrt(x^2 + b): b / (2 s (s + |x|)) for x < 0 (no cancellation),
    with s scaled by |x| beyond sqrt(b) as in the forward; relu's 0, 1/2 (at 0), 1 for b = 0."""
    if not b > 0:
        return ops.where(x < 0, 0.0, ops.where(x > 0, 1.0, _ones(x, ops, 0.5)))
    a = ops.abs(x)
    big = a > b**0.5
    ab = ops.where(big, a, 1.0)
    root = ops.sqrt(1.0 + (b / ab) / ab)  # s / |x| where big
    asm = ops.where(big, 0.0, a)
    s_small = ops.sqrt(asm * asm + b)  # >= sqrt(b) > 0
    s = ops.where(big, ab * root, s_small)
    # x / s for x >= 0
    ratio = ops.where(big, 1.0 / root, asm / s_small)
    neg = 0.5 * ((b / s) / (s + a))
    return ops.where(x < 0, neg, 0.5 + 0.5 * ratio)


def _log1mexp_grad(x, ops):
    """1 / expm1(x): +inf at 0, NaN below (outside the domain)."""
    xs = ops.where(x == 0, 1.0, x)
    return ops.where(x < 0, math.nan, ops.where(x == 0, math.inf, 1.0 / ops.expm1(xs)))


@declare(
    "log1mexp",
    formula=r"\ln\left(1 - e^{-x}\right),\quad x > 0",
    monotone=True,
    smooth=True,
    references=(
        Reference(
            "Accurately Computing log(1 - exp(-|a|)) Assessed by the Rmpfr package", None, "Maechler", 2012
        ),
    ),
    grad=lambda x, ops: _log1mexp_grad(x, ops),
    origin=("jax",),
    notes=(
        "Defined for x > 0: -inf at x = 0 (derivative +inf) and NaN below, value and gradient. Computed "
        "as log(-expm1(-x)) below ln 2 (taken as 2 log(sqrt(.)) so that the gradient is NaN outside the "
        "domain and +inf at +-0) and log1p(-exp(-x)) above.",
    ),
    native={
        "jax": Native(
            lambda j, x: j.nn.log1mexp(x),
            eligible=False,
            note="jax.nn.log1mexp has finite gradients for x < 0 (outside the domain) and -inf at x = -0",
        ),
    },
)
def log1mexp(x, ops):
    """log(1 - exp(-x)) for x > 0."""
    near = x < _LN2
    xn = ops.where(near, x, 1.0)
    xf = ops.where(near, 1.0, x)  # NaN lands here and stays NaN
    u = -ops.expm1(-xn)  # 1 - e^-x: < 0 outside the domain
    return ops.where(near, 2.0 * ops.log(ops.sqrt(u)), ops.log1p(-ops.exp(-xf)))


@declare(
    "relu_squared",
    aliases=("relu2", "relu_squared_activation", "relusquared", "squared_relu"),
    formula=r"\max(0, x)^2",
    grad=lambda x, ops: ops.where(x <= 0, 0.0, 2.0 * x),
    monotone=True,
    smooth=False,
    references=(
        Reference(
            "Primer: Searching for Efficient Transformers for Language Modeling",
            "2109.08668",
            "So et al.",
            2021,
        ),
    ),
    origin=("zeta", "timm"),
    notes=(
        "Continuously differentiable (derivative 0 at x = 0 from both sides). zeta has three copies "
        "(ReLUSquaredActivation, two ReluSquared); timm's is model-local (SquaredReLU in metaformer).",
    ),
)
def relu_squared(x, ops):
    """Squared ReLU: max(0, x)^2."""
    xp = ops.where(x <= 0, 0.0, x)
    return xp * xp


def _shrink_grad(x, ops, lambd):
    """0 on [-lambd, lambd] (both ends included), 1 outside."""
    return ops.where(ops.abs(x) <= lambd, 0.0, ops.sign(x) * ops.sign(x))


@declare(
    "hard_shrink",
    accuracy="exact",
    examples=({"lambd": 1.0}, {"lambd": 0.0}),
    aliases=("hardshrink",),
    params={"lambd": Param(0.5, nonnegative, doc="half-width of the zeroed band (Keras: threshold)")},
    formula=r"\begin{cases} x & |x| > \lambda \\ 0 & |x| \le \lambda \end{cases}",
    grad=_shrink_grad,
    kinks=(
        Kink(
            "lambd",
            0.0,
            "x = +-lambd belong to the zero branch, as in torch (the value jumps there; -lambd is "
            "covered by the closed-form derivative)",
        ),
    ),
    monotone=True,
    smooth=False,
    origin=("torch", "keras", "echo"),
    native={
        "torch": lambda t, x, lambd: t.nn.functional.hardshrink(x, lambd=lambd),
    },
)
def hard_shrink(x, ops, lambd):
    """Hard shrinkage: x where |x| > lambd, 0 elsewhere."""
    return ops.where(ops.abs(x) <= lambd, 0.0, x)  # NaN fails the test and stays NaN


@declare(
    "soft_shrink",
    accuracy="exact",
    examples=({"lambd": 2.0}, {"lambd": 0.0}),
    aliases=("softshrink",),
    params={"lambd": Param(0.5, nonnegative, doc="amount subtracted from |x| (Keras: threshold)")},
    formula=r"\begin{cases} x - \lambda & x > \lambda \\ 0 & |x| \le \lambda \\ x + \lambda & x < -\lambda \end{cases}",
    grad=_shrink_grad,
    kinks=(
        Kink(
            "lambd",
            0.0,
            "x = +-lambd belong to the zero branch, as in torch (-lambd is covered by the closed-form "
            "derivative)",
        ),
    ),
    monotone=True,
    smooth=False,
    origin=("torch", "keras", "echo"),
    native={
        "torch": lambda t, x, lambd: t.nn.functional.softshrink(x, lambd=lambd),
    },
)
def soft_shrink(x, ops, lambd):
    """Soft shrinkage: sign(x) * max(|x| - lambd, 0)."""
    return ops.where(ops.abs(x) <= lambd, 0.0, ops.where(x > 0, x - lambd, x + lambd))


@declare(
    "threshold",
    accuracy="exact",
    examples=({"threshold": 0.5, "value": -1.0}, {"threshold": -2.0, "value": 3.0}),
    params={
        "threshold": Param(doc="inputs above it pass through"),
        "value": Param(doc="the output at and below the threshold"),
    },
    formula=r"\begin{cases} x & x > \theta \\ v & x \le \theta \end{cases}",
    kinks=(Kink("threshold", 0.0, "x = threshold takes the constant branch, as in torch"),),
    grad=lambda x, ops, threshold, value: ops.where(x <= threshold, 0.0, _ones(x, ops)),
    smooth=False,
    origin=("torch", "keras"),
    notes=("threshold and value have no defaults (torch and Keras require them too).",),
    native={
        "torch": Native(
            lambda t, x, threshold, value: t.nn.functional.threshold(x, threshold, value),
            inplace=lambda t, x, threshold, value: t.nn.functional.threshold_(x, threshold, value),
            onnx=False,  # torch's ONNX export takes only threshold = 0
        ),
    },
)
def threshold(x, ops, threshold, value):
    """x where x > threshold, value elsewhere."""
    return ops.where(x <= threshold, value, x)  # NaN fails the test and stays NaN


def _torch_prelu(t, x, weight):
    """torch's prelu takes a scalar or a 1-D weight applied along dim 1; polyact's
    weight arrives shaped to broadcast along the channel axis, which may be another."""
    if weight.numel() == 1:
        return t.nn.functional.prelu(x, weight.reshape(1)) if x.dim() else t.where(x > 0, x, weight * x)
    axis = next(i for i, n in enumerate(weight.shape) if n != 1)
    w = weight.reshape(-1)
    if axis == 1:
        return t.nn.functional.prelu(x, w)
    return t.nn.functional.prelu(x.movedim(axis, 1), w).movedim(1, axis)


@declare(
    "prelu",
    examples=({"weight": 0.1}, {"weight": -0.5}),
    params={
        "weight": Param(
            0.25, trainable=True, per_channel=True, doc="slope for x <= 0, one per channel (or one shared)"
        )
    },
    formula=r"\begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}",
    kinks=(Kink(0.0, "weight", "x = 0 belongs to the slope branch, as in torch: prelu'(0) = a"),),
    grad=lambda x, ops, weight: ops.where(x > 0, _ones(x, ops), weight),
    smooth=False,
    init_doc="a = 0.25 on every channel (torch's and MegEngine's default), or the value(s) passed.",
    references=(
        Reference(
            "Delving Deep into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification",
            "1502.01852",
            "He et al.",
            2015,
        ),
    ),
    origin=("torch", "megengine", "timm"),
    notes=(
        "The channel axis is explicit (channel_axis); MegEngine's M.PReLU stores its weight as "
        "(1, C, 1, 1) and so only works on NCHW, torch applies a 1-D weight along dim 1.",
    ),
    native={
        "torch": _torch_prelu,
        "megengine": Native(
            lambda m, x, weight: m.functional.prelu(x, weight),
            eligible=False,
            note="MegEngine's prelu puts x = 0 on the identity branch: gradient 1 there, not the slope",
        ),
    },
)
def prelu(x, ops, weight):
    """Parametric ReLU: x for x > 0, weight * x otherwise (weight learned per channel)."""
    return ops.where(x > 0, x, weight * x)


@declare(
    "star_relu",
    examples=({"scale": 0.5, "bias": -0.25}, {"scale": -2.0, "bias": 1.0}),
    aliases=("starrelu",),
    params={
        "scale": Param(1.0, trainable=True, doc="s, multiplies relu(x)^2"),
        "bias": Param(0.0, trainable=True, doc="b, added"),
    },
    formula=r"s\,\max(0, x)^2 + b",
    grad=lambda x, ops, scale, bias: ops.where(x <= 0, 0.0, 2.0 * scale * x),
    smooth=False,
    references=(Reference("MetaFormer Baselines for Vision", "2210.13452", "Yu et al.", 2022),),
    origin=("timm",),
    init_doc="s = 1 and b = 0 (timm's defaults), both trained.",
    notes=(
        "Continuously differentiable (derivative 0 at x = 0 from both sides). timm can freeze s or b "
        "(scale_learnable, bias_learnable); in polyact both are parameters, frozen with the framework's "
        "own means (requires_grad, stop_gradient).",
    ),
)
def star_relu(x, ops, scale, bias):
    """StarReLU: scale * relu(x)^2 + bias."""
    xp = ops.where(x <= 0, 0.0, x)
    return (scale * xp) * xp + bias  # s x first: x^2 alone may overflow when s x^2 does not
