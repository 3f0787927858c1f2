"""The swish family: silu, swish, e_swish, flatten_t_swish, mish, aria2, elish, hard_elish."""

from __future__ import annotations

from ..spec import Kink, Native, Param, Reference, positive, real
from ._declare import declare

_SWISH_REF = Reference("Searching for Activation Functions", "1710.05941", "Ramachandran et al.", 2017)
_ELISH_REF = Reference("The Quest for the Golden Activation Function", "1808.00783", "Basirat & Roth", 2018)


def _silu_grad(x, ops):
    """d/dx x sigmoid(x) = s(x) (1 + x s(-x)); finite for every finite x."""
    return ops.sigmoid(x) * (1.0 + x * ops.sigmoid(-x))


def _swish_grad(x, ops, beta):
    """d/dx x sigmoid(beta x) = s(z) (1 + z s(-z)), z = beta x; 1 or 0 once |z| > 1000 (z may overflow)."""
    z = beta * x
    zs = ops.where(ops.abs(z) > 1e3, 0.0, z)
    return ops.where(z > 1e3, 1.0, ops.where(z < -1e3, 0.0, _silu_grad(zs, ops)))


def _mish_grad(x, ops):
    """mish'(x) = tanh(sp) + x s(x) sech^2(sp), sp = softplus(x), through p = s(x) and q = s(-x):
    tanh(sp) = p (1 + q) / (1 + q^2) and sech^2(sp) = 4 q^2 / (1 + q^2)^2, which neither cancel nor
    overflow (p * x stays finite, being tiny where x is hugely negative)."""
    p = ops.sigmoid(x)
    q = ops.sigmoid(-x)
    d = 1.0 + q * q
    return p * (1.0 + q) / d + (p * x) * (4.0 * q * q) / (d * d)


def _mish_fast(x, ops):
    """mish(x) = x n / (n + 2), n = e^x (e^x + 2): one exp instead of exp, log1p
    and tanh, and no ``where`` (a subgraph of five ops on MegEngine). The exp
    argument stops at 20, where n / (n + 2) = 1 - 8.5e-18 already rounds to 1
    in float64, so nothing overflows and x * 1 = x beyond."""
    e = ops.exp_in_range(ops.minimum(x, 20.0))
    n = e * (e + 2.0)
    return x * (n / (n + 2.0))


def _aria2_grad(x, ops, beta, alpha):
    """g (1 + alpha beta x s(-beta x)), g = (1 + e^(-beta x))^(-alpha); 1 where the forward saturates.
    Taken as g + alpha beta (g x) s(-beta x): g x stays finite where x is hugely negative."""
    saturated = beta * x > 46.0 + ops.log(alpha)
    xs = ops.where(saturated, 0.0, x)
    g = ops.exp(-alpha * ops.softplus(-beta * xs))
    return ops.where(saturated, 1.0, g + (alpha * beta) * (g * xs) * ops.sigmoid(-beta * xs))


def _elish_fast(x, ops):
    """ELiSH without expm1 (six times the cost of exp on MegEngine) or ``where``:
    the larger of t e^min(x, 0), t = tanh(x / 2), and x s(x). Below 0 the first
    is (e^x - 1) s(x) (as e^x - 1 = t (e^x + 1)), which exceeds x s(x) by
    s(x)(e^x - 1 - x) > 0; from 0 on the first is t <= x / 2 <= x s(x). The two
    meet only at 0, where both slopes are 1/2 (a tie's gradient split does not
    matter), and neither cancels or overflows."""
    t = ops.tanh(0.5 * x)
    return ops.maximum(t * ops.exp_in_range(ops.minimum(x, 0.0)), x * ops.sigmoid(x))


def _elish_grad(x, ops):
    """s(x) (e^x + (e^x - 1) s(-x)) for x < 0, silu'(x) above."""
    neg = x < 0
    xn = ops.where(neg, x, 0.0)
    left = ops.sigmoid(xn) * (ops.exp(xn) + ops.expm1(xn) * ops.sigmoid(-xn))
    return ops.where(neg, left, _silu_grad(ops.where(neg, 0.0, x), ops))


def _hard_elish_grad(x, ops):
    """0 for x <= -1, (e^x (x + 1) + e^x - 1) / 2 on (-1, 0), x + 1/2 on [0, 1), 1 from x = 1."""
    xn = ops.where(x < 0, x, 0.0)
    left = 0.5 * (ops.exp(xn) * (xn + 1.0) + ops.expm1(xn))
    return ops.where(x <= -1.0, 0.0, ops.where(x < 0, left, ops.where(x >= 1.0, 1.0, x + 0.5)))


@declare(
    "silu",
    grad=lambda x, ops: _silu_grad(x, ops),
    formula=r"x\,\sigma(x)",
    smooth=True,
    references=(
        Reference(
            "Sigmoid-Weighted Linear Units for Neural Network Function Approximation in Reinforcement Learning",
            "1702.03118",
            "Elfwing et al.",
            2017,
        ),
        _SWISH_REF,
    ),
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta", "echo"),
    native={
        "torch": Native(
            lambda t, x: t.nn.functional.silu(x), inplace=lambda t, x: t.nn.functional.silu(x, inplace=True)
        ),
        "jax": lambda j, x: j.nn.silu(x),
        "megengine": lambda m, x: m.functional.silu(x),
    },
)
def silu(x, ops):
    """Sigmoid-weighted linear unit x * sigmoid(x) (swish with beta = 1)."""
    return x * ops.sigmoid(x)


@declare(
    "swish",
    grad=_swish_grad,
    examples=({"beta": 2.0}, {"beta": -0.5}),
    aliases=("swish_beta",),
    params={
        "beta": Param(1.0, real, trainable=True, doc="slope inside the sigmoid, trained (starts at 1 = SiLU)")
    },
    formula=r"x\,\sigma(\beta x)",
    smooth=True,
    references=(_SWISH_REF,),
    origin=("echo",),
    init_doc="beta starts at 1.0 as in the paper (Echo draws it from N(0, 1)).",
    notes=("At its default beta = 1 this is silu; here beta is a trainable parameter.",),
)
def swish(x, ops, beta):
    """Swish with a trainable beta: x * sigmoid(beta * x)."""
    return x * ops.sigmoid(beta * x)


@declare(
    "e_swish",
    grad=lambda x, ops, beta: beta * _silu_grad(x, ops),
    examples=({"beta": 1.75},),
    aliases=("eswish",),
    params={"beta": Param(1.375, real, doc="output scale; the paper explores 1 <= beta <= 2")},
    formula=r"\beta\,x\,\sigma(x)",
    smooth=True,
    references=(
        Reference(
            "E-swish: Adjusting Activations to Different Network Depths", "1801.07145", "Alcaide", 2018
        ),
    ),
    origin=("echo",),
    notes=("Echo defaults beta to 1.735, a transposition of the documented 1.375, which polyact uses.",),
)
def e_swish(x, ops, beta):
    """E-swish: beta * x * sigmoid(x)."""
    # beyond |x| = 1000 the sigmoid is exactly 0 or 1 in every format; splitting
    # there keeps beta * x (and the gradient's beta * x * s') from overflowing
    sat = ops.abs(x) > 1e3
    xs = ops.where(sat, 0.0, x)
    return ops.where(sat, ops.where(x > 0, beta * x, 0.0), beta * (xs * ops.sigmoid(xs)))


@declare(
    "flatten_t_swish",
    grad=lambda x, ops, threshold: ops.where(x < 0, 0.0, _silu_grad(ops.where(x < 0, 0.0, x), ops)),
    examples=({"threshold": 0.0},),
    aliases=("fts", "flattent_swish"),
    params={"threshold": Param(-0.2, real, doc="T: the value for x < 0, added for x >= 0")},
    formula=r"\begin{cases} x\,\sigma(x) + T & x \ge 0 \\ T & x < 0 \end{cases}",
    kinks=(Kink(0.0, 0.5, "x = 0 belongs to the swish branch"),),
    smooth=False,
    references=(
        Reference(
            "Flatten-T Swish: a thresholded ReLU-Swish-like activation function for deep learning",
            "1812.06247",
            "Chieng et al.",
            2018,
        ),
    ),
    origin=("echo",),
    notes=("Echo's MegEngine and Keras versions use T = 0; the paper's default is T = -0.20.",),
)
def flatten_t_swish(x, ops, threshold):
    """Flatten-T Swish: x * sigmoid(x) + T for x >= 0, T below."""
    return ops.where(x < 0, threshold, x * ops.sigmoid(x) + threshold)


@declare(
    "mish",
    grad=_mish_grad,
    fast=_mish_fast,
    formula=r"x \tanh(\operatorname{softplus}(x))",
    smooth=True,
    references=(
        Reference("Mish: A Self Regularized Non-Monotonic Activation Function", "1908.08681", "Misra", 2019),
    ),
    origin=("torch", "jax", "keras", "timm", "zeta", "echo"),
    native={
        "torch": Native(
            lambda t, x: t.nn.functional.mish(x), inplace=lambda t, x: t.nn.functional.mish(x, inplace=True)
        ),
        "jax": lambda j, x: j.nn.mish(x),
    },
)
def mish(x, ops):
    """Mish: x * tanh(softplus(x))."""
    return x * ops.tanh(ops.softplus(x))


@declare(
    "aria2",
    grad=_aria2_grad,
    examples=({"beta": 2.0, "alpha": 1.5}, {"beta": 1.0, "alpha": 1.0}),
    params={
        "beta": Param(0.5, positive, doc="growth rate"),
        "alpha": Param(1.0, positive, doc="asymmetry exponent"),
    },
    formula=r"x\,\left(1 + e^{-\beta x}\right)^{-\alpha}",
    smooth=True,
    references=(
        Reference(
            "ARiA: Utilizing Richard's Curve for Controlling the Non-monotonicity of the Activation Function in Deep Neural Nets",
            "1805.08878",
            "Patwardhan et al.",
            2018,
        ),
    ),
    origin=("echo",),
    notes=(
        "Echo (code and docs) drops the factor x, which turns ARiA2 into a generalised sigmoid; polyact "
        "follows the paper. Computed as x * exp(-alpha * softplus(-beta x)), finite for every x.",
    ),
)
def aria2(x, ops, beta, alpha):
    """ARiA2: x weighted by Richard's curve, x * (1 + exp(-beta x))^(-alpha)."""
    bx = beta * x
    # once alpha * exp(-beta x) < 1e-20 the weight is 1 in every format: skip it,
    # so the gradient never forms x * alpha (which overflows near the float max)
    saturated = bx > 46.0 + ops.log(alpha)
    xs = ops.where(saturated, 0.0, x)
    return ops.where(saturated, x, xs * ops.exp(-alpha * ops.softplus(-beta * xs)))


@declare(
    "elish",
    grad=_elish_grad,
    fast=_elish_fast,
    formula=r"\begin{cases} x\,\sigma(x) & x \ge 0 \\ (e^x - 1)\,\sigma(x) & x < 0 \end{cases}",
    smooth=True,
    references=(_ELISH_REF,),
    origin=("echo", "keras-echo"),
    notes=(
        "Echo's Keras ELiSH returns NaN above x = 88 (0 * inf from mask multiplication); polyact uses a double where.",
    ),
)
def elish(x, ops):
    """ELiSH: swish for x >= 0, (exp(x) - 1) * sigmoid(x) below."""
    neg = x < 0
    xn = ops.where(neg, x, 0.0)
    s = ops.sigmoid(x)
    return ops.where(neg, ops.expm1(xn) * s, x * s)


@declare(
    "hard_elish",
    grad=_hard_elish_grad,
    aliases=("hardelish",),
    formula=(
        r"\begin{cases} x\,h(x) & x \ge 0 \\ (e^x - 1)\,h(x) & x < 0 \end{cases},\quad"
        r" h(x) = \max\left(0, \min\left(1, \tfrac{x + 1}{2}\right)\right)"
    ),
    kinks=(
        Kink(-1.0, 0.0, "x = -1 belongs to the flat branch"),
        Kink(1.0, 1.0, "x = 1 belongs to the identity branch"),
    ),
    smooth=False,
    references=(_ELISH_REF,),
    origin=("echo",),
    notes=("Echo's torch/MegEngine code uses exp(x - 1) instead of exp(x) - 1; polyact follows the paper.",),
)
def hard_elish(x, ops):
    """Hard ELiSH: ELiSH with the sigmoid replaced by a hard sigmoid."""
    h = ops.where(x <= -1.0, 0.0, ops.where(x >= 1.0, 1.0, 0.5 * (x + 1.0)))
    neg = x < 0
    xn = ops.where(neg, x, 0.0)
    return ops.where(neg, ops.expm1(xn) * h, x * h)
