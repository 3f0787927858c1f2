"""Sigmoid-shaped and softplus-like functions: sigmoid, tanh, softplus, isru,
isrlu, sqnl, soft_clipping, soft_exponential."""

from __future__ import annotations

from ..spec import Native, Param, Reference, positive, real
from ._declare import declare


@declare(
    "sigmoid",
    grad=lambda x, ops: ops.sigmoid(x) * ops.sigmoid(-x),
    accuracy="transcendental",
    aliases=("logistic", "expit"),
    formula=r"\frac{1}{1 + e^{-x}}",
    bounded=True,
    monotone=True,
    smooth=True,
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta"),
    native={
        "torch": lambda t, x: t.sigmoid(x),
        "jax": lambda j, x: j.nn.sigmoid(x),
        "megengine": lambda m, x: m.functional.sigmoid(x),
    },
)
def sigmoid(x, ops):
    """Logistic sigmoid 1 / (1 + exp(-x))."""
    return ops.sigmoid(x)


def _tanh_grad(x, ops):
    """sech^2 x = 4 s(2x) s(-2x), which does not cancel as 1 - tanh^2 does; 0 beyond |x| = 400."""
    sat = ops.abs(x) > 400.0
    xs = ops.where(sat, 0.0, x)
    return ops.where(sat, 0.0, 4.0 * ops.sigmoid(2.0 * xs) * ops.sigmoid(-2.0 * xs))


@declare(
    "tanh",
    grad=lambda x, ops: _tanh_grad(x, ops),
    accuracy="transcendental",
    formula=r"\tanh x",
    bounded=True,
    monotone=True,
    smooth=True,
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta"),
    native={
        "torch": lambda t, x: t.tanh(x),
        "jax": lambda j, x: j.numpy.tanh(x),
        "megengine": lambda m, x: m.functional.tanh(x),
    },
)
def tanh(x, ops):
    """Hyperbolic tangent."""
    return ops.tanh(x)


@declare(
    "softplus",
    grad=lambda x, ops, beta: ops.sigmoid(beta * x),
    accuracy="transcendental",
    examples=({"beta": 2.0}, {"beta": 0.5}),
    params={"beta": Param(1.0, positive, doc="sharpness: softplus(beta*x)/beta")},
    formula=r"\frac{1}{\beta}\ln\left(1 + e^{\beta x}\right)",
    monotone=True,
    smooth=True,
    references=(
        Reference(
            "Incorporating Second-Order Functional Knowledge for Better Option Pricing",
            None,
            "Dugas et al.",
            2001,
        ),
    ),
    origin=("torch", "jax", "keras", "megengine"),
    notes=(
        "torch.nn.Softplus returns x when beta*x > threshold (20), 5.8e5 ulp off in float64; polyact "
        "never switches to the linear form early (its torch native kernel passes threshold=40).",
    ),
    native={
        "torch": lambda t, x, beta: t.nn.functional.softplus(x, beta=beta, threshold=40.0),
        "jax": Native(
            lambda j, x, beta: j.nn.softplus(beta * x) / beta,
            eligible=lambda p: p["beta"] <= 1.0,
            note="softplus(beta*x)/beta overflows to inf once beta*x does (beta > 1, x near the float max)",
        ),
        "megengine": Native(
            lambda m, x, beta: m.functional.softplus(beta * x) / beta,
            eligible=lambda p: p["beta"] <= 1.0,
            note="softplus(beta*x)/beta overflows to inf once beta*x does (beta > 1, x near the float max)",
        ),
    },
)
def softplus(x, ops, beta):
    """Smooth ReLU: log(1 + exp(beta*x)) / beta, stable for every x."""
    z = beta * x
    pos = z > 0
    zp = ops.where(pos, z, 0.0)
    zn = ops.where(pos, 0.0, z)  # NaN stays here
    # x + log1p(exp(-z))/beta above 0: no overflow even when beta*x does
    return ops.where(pos, x + ops.log1p(ops.exp(-zp)) / beta, ops.log1p(ops.exp(zn)) / beta)


def _isru_core(x, ops, alpha):
    """x / sqrt(1 + alpha x^2) without overflow of x^2 for |x| > 1."""
    big = ops.abs(x) > 1.0
    xb = ops.where(big, x, 1.0)
    xs = ops.where(big, 0.0, x)  # NaN lands here and stays NaN
    inner = xs / ops.sqrt(1.0 + alpha * xs * xs)
    outer = ops.sign(xb) / ops.sqrt(1.0 / (xb * xb) + alpha)
    return ops.where(big, outer, inner)


def _isru_grad(x, ops, alpha):
    """(1 + alpha x^2)^(-3/2) as q^3, q = 1 / sqrt(1 + alpha x^2) = r / sqrt(r^2 + alpha) with
    r = 1/|x| for |x| > 1 (no overflow of x^2)."""
    big = ops.abs(x) > 1.0
    r = 1.0 / ops.abs(ops.where(big, x, 1.0))
    xs = ops.where(big, 0.0, x)
    q = ops.where(big, r / ops.sqrt(r * r + alpha), 1.0 / ops.sqrt(1.0 + alpha * xs * xs))
    return q * q * q


_ISRU_REF = Reference(
    "Improving Deep Learning by Inverse Square Root Linear Units (ISRLUs)",
    "1710.09967",
    "Carlile et al.",
    2017,
)


@declare(
    "isru",
    grad=_isru_grad,
    examples=({"alpha": 4.0}, {"alpha": 0.1}),
    params={
        "alpha": Param(1.0, positive, doc="saturation: the output lies in (-1/sqrt(alpha), 1/sqrt(alpha))")
    },
    formula=r"\frac{x}{\sqrt{1 + \alpha x^2}}",
    bounded=True,
    monotone=True,
    smooth=True,
    references=(_ISRU_REF,),
    origin=("echo",),
    notes=("Echo's torch/MegEngine ISRU reference a misspelled attribute (self.apha) and fail.",),
)
def isru(x, ops, alpha):
    """Inverse square root unit x / sqrt(1 + alpha x^2)."""
    return _isru_core(x, ops, alpha)


@declare(
    "isrlu",
    grad=lambda x, ops, alpha: ops.where(x < 0, _isru_grad(ops.where(x < 0, x, 0.0), ops, alpha), 1.0),
    examples=({"alpha": 3.0},),
    params={"alpha": Param(1.0, positive, doc="saturation of the negative side")},
    formula=r"\begin{cases} x & x \ge 0 \\ \frac{x}{\sqrt{1 + \alpha x^2}} & x < 0 \end{cases}",
    monotone=True,
    smooth=False,
    references=(_ISRU_REF,),
    origin=("echo",),
)
def isrlu(x, ops, alpha):
    """Inverse square root linear unit: x for x >= 0, ISRU below."""
    neg = x < 0
    return ops.where(neg, _isru_core(ops.where(neg, x, 0.0), ops, alpha), x)


def _sqnl_grad(x, ops):
    """1 - |x|/2 on [-2, 2], 0 outside."""
    outside = ops.abs(x) > 2.0
    xm = ops.where(outside, 0.0, x)
    return ops.where(outside, 0.0, 1.0 - 0.5 * ops.abs(xm))


@declare(
    "sqnl",
    grad=lambda x, ops: _sqnl_grad(x, ops),
    formula=(
        r"\begin{cases} 1 & x > 2 \\ x - x^2/4 & 0 \le x \le 2 \\ x + x^2/4 & -2 \le x < 0 \\"
        r" -1 & x < -2 \end{cases}"
    ),
    bounded=True,
    monotone=True,
    smooth=False,
    references=(
        Reference("SQNL: A New Computationally Efficient Activation Function", None, "Wuraola & Patel", 2018),
    ),
    origin=("echo",),
)
def sqnl(x, ops):
    """Square non-linearity: a quadratic sigmoid saturating at +-1 beyond |x| = 2."""
    outside = ops.abs(x) > 2.0
    xm = ops.where(outside, 0.0, x)  # keep x*x finite in the unused branch
    quad = ops.where(xm < 0, xm + 0.25 * xm * xm, xm - 0.25 * xm * xm)
    return ops.where(x > 2.0, 1.0, ops.where(x < -2.0, -1.0, quad))


def _soft_clip_half(z, ops, alpha):
    """(1/a) log((1 + e^{a z}) / (1 + e^{a (z - 1)})) for z <= 1/2, without cancellation."""
    e = ops.exp(alpha * z)
    return ops.log1p(-ops.expm1(-alpha) * e / (1.0 + ops.exp(alpha * z - alpha))) / alpha


def _soft_clipping_grad(x, ops, alpha):
    """s(a) - s(a - alpha), a = alpha x, without cancellation: (1 - e^-alpha) / (1 + e^-alpha +
    e^(a - alpha) + e^-a), evaluated at min(x, 1 - x) (f'(x) = f'(1 - x)) so that a <= alpha/2; 0 once
    a < -1000."""
    w = ops.where(x > 0.5, 1.0 - x, x)
    a = alpha * w
    far = a < -1e3
    a_s = ops.where(far, 0.0, a)
    den = 1.0 + ops.exp(-alpha) + ops.exp(a_s - alpha) + ops.exp(-a_s)
    return ops.where(far, 0.0, -ops.expm1(-alpha) / den)


@declare(
    "soft_clipping",
    grad=_soft_clipping_grad,
    examples=({"alpha": 2.0}, {"alpha": 0.1}),
    aliases=("softclipping",),
    params={"alpha": Param(0.5, positive, doc="sharpness of the two corners at 0 and 1")},
    formula=r"\frac{1}{\alpha}\ln\frac{1 + e^{\alpha x}}{1 + e^{\alpha (x - 1)}}",
    bounded=True,
    monotone=True,
    smooth=True,
    references=(
        Reference(
            "Neural Network-Based Approach to Phase Space Integration",
            "1810.11509",
            "Klimek & Perelstein",
            2018,
        ),
    ),
    origin=("echo",),
    notes=(
        "Evaluated as f(x) for x <= 1/2 and 1 - f(1 - x) above (the function's symmetry), so it "
        "never overflows; Echo's torch version returns NaN for alpha*x > 88 and its Keras one drops 1/alpha.",
    ),
)
def soft_clipping(x, ops, alpha):
    """Soft clipping: a smooth clamp of x to [0, 1]."""
    upper = x > 0.5
    lo = ops.where(upper, 0.0, x)  # NaN stays on this side
    hi = ops.where(upper, x, 1.0)
    return ops.where(upper, 1.0 - _soft_clip_half(1.0 - hi, ops, alpha), _soft_clip_half(lo, ops, alpha))


def _exprel(u, ops):
    """expm1(u)/u with exprel(0) = 1 and exprel'(0) = 1/2."""
    tiny = ops.abs(u) < 1e-5
    us = ops.where(tiny, 1.0, u)
    ut = ops.where(tiny, u, 0.0)
    return ops.where(tiny, 1.0 + ut * (0.5 + ut * (1.0 / 6.0 + ut / 24.0)), ops.expm1(us) / us)


def _log1prel(v, ops):
    """log1p(v)/v with value 1 and derivative -1/2 at v = 0."""
    tiny = ops.abs(v) < 1e-5
    vs = ops.where(tiny, 1.0, v)
    vt = ops.where(tiny, v, 0.0)
    return ops.where(tiny, 1.0 - vt * (0.5 - vt * (1.0 / 3.0 - vt / 4.0)), ops.log1p(vs) / vs)


def _soft_exponential_grad(x, ops, alpha):
    """e^(alpha x) for alpha >= 0; 1 / (1 - alpha (x + alpha)) for alpha < 0, NaN outside its domain
    (where the value is NaN) and +inf on its edge."""
    neg = alpha < 0
    u = ops.where(neg, 0.0, alpha * x)
    w = 1.0 + ops.where(neg, -alpha * (x + alpha), 0.0)
    return ops.where(neg, ops.where(w < 0, float("nan"), 1.0 / w), ops.exp(u))


@declare(
    "soft_exponential",
    grad=_soft_exponential_grad,
    examples=({"alpha": 0.5}, {"alpha": -0.5}),
    aliases=("softexponential",),
    params={
        "alpha": Param(
            0.0, real, trainable=True, doc="interpolates log (alpha < 0), identity (0) and exp (alpha > 0)"
        )
    },
    formula=(
        r"\begin{cases} -\frac{\ln(1 - \alpha(x + \alpha))}{\alpha} & \alpha < 0 \\ x & \alpha = 0 \\"
        r" \frac{e^{\alpha x} - 1}{\alpha} + \alpha & \alpha > 0 \end{cases}"
    ),
    smooth=True,
    monotone=True,
    references=(
        Reference(
            "A continuum among logarithmic, linear, and exponential functions, and its potential to improve generalization in neural networks",
            "1602.01321",
            "Godfrey & Gashler",
            2016,
        ),
    ),
    origin=("echo",),
    notes=(
        "Written as (x + alpha) * log1p(v)/v (alpha < 0) and x * expm1(alpha x)/(alpha x) + alpha "
        "(alpha >= 0): continuous and differentiable in alpha, so a trainable alpha starting at 0 "
        "receives d/dalpha = 1 + x^2/2 (in Echo it never leaves 0). For alpha < 0 it is defined where "
        "1 - alpha (x + alpha) > 0 and NaN elsewhere.",
        "The Echo docs print the alpha < 0 branch with the wrong sign and the alpha > 0 branch without "
        "'+ alpha'; Echo's code and polyact follow the paper.",
    ),
)
def soft_exponential(x, ops, alpha):
    """Soft exponential: a continuum between log (alpha < 0), identity and exp (alpha > 0)."""
    neg = alpha < 0
    u = ops.where(neg, 0.0, alpha * x)  # the alpha >= 0 branch
    v = ops.where(neg, -alpha * (x + alpha), 0.0)  # the alpha < 0 branch
    # near alpha*x = 0 the series keeps d/dalpha right; elsewhere expm1(u)/alpha
    # (not x * expm1(u)/u, whose gradient is inf - inf once e^u overflows)
    tiny = ops.abs(u) < 1e-5
    a_safe = ops.where(alpha == 0, 1.0, alpha)  # alpha = 0 only reaches the series branch
    u_big = ops.where(tiny, 0.0, u)
    pos_branch = ops.where(tiny, x * _exprel(ops.where(tiny, u, 0.0), ops), ops.expm1(u_big) / a_safe) + alpha
    # near v = 0 the series keeps d/dalpha right; elsewhere -log1p(v)/alpha, which
    # never divides by v (MegEngine's division gradient overflows there). log1p(v)
    # is taken as 2 log1p(v / (1 + sqrt(1 + v))) so that outside the domain
    # (1 + v < 0) the gradient is NaN like the value, not a finite 1/(1 + v).
    vtiny = ops.abs(v) < 1e-5
    a_neg = ops.where(neg, alpha, -1.0)
    vs = ops.where(vtiny, 0.0, v)
    log1p_v = 2.0 * ops.log1p(vs / (1.0 + ops.sqrt(1.0 + vs)))
    neg_branch = ops.where(vtiny, (x + alpha) * _log1prel(ops.where(vtiny, v, 0.0), ops), log1p_v / (-a_neg))
    return ops.where(neg, neg_branch, pos_branch)
