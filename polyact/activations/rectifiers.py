"""Rectifiers: relu, leaky_relu, nlrelu, srelu."""

from __future__ import annotations

from ..spec import Kink, Native, Param, Reference, positive, real
from ._declare import declare


def _one(x, ops):
    """1 with the shape and dtype of x."""
    return ops.sign(ops.abs(x) + 1.0)


@declare(
    "relu",
    grad=lambda x, ops: ops.where(x <= 0, 0.0, _one(x, ops)),
    accuracy="exact",
    formula=r"\max(0, x)",
    kinks=(Kink(0.0, 0.0, "relu'(0) = 0"),),
    monotone=True,
    smooth=False,
    references=(
        Reference(
            "Rectified Linear Units Improve Restricted Boltzmann Machines", None, "Nair & Hinton", 2010
        ),
    ),
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta"),
    native={
        "torch": Native(lambda t, x: t.relu(x), inplace=lambda t, x: t.relu_(x)),
        "jax": lambda j, x: j.nn.relu(x),
        # MegEngine's relu(NaN) is 0: the special-value guard, around every kernel,
        # restores NaN (the kernel never sees a NaN), so the op is eligible
        "megengine": lambda m, x: m.functional.relu(x),
    },
)
def relu(x, ops):
    """Rectified linear unit: x for x > 0, else 0."""
    return ops.where(x <= 0, 0.0, x)


@declare(
    "leaky_relu",
    grad=lambda x, ops, negative_slope: ops.where(x > 0, 1.0, negative_slope * _one(x, ops)),
    accuracy="exact",
    examples=({"negative_slope": 0.2}, {"negative_slope": -0.5}),
    aliases=("leakyrelu",),
    params={
        "negative_slope": Param(0.01, real, doc="slope for x < 0 (Keras 3 defaults to 0.2; polyact to 0.01)")
    },
    formula=r"\begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases}",
    kinks=(Kink(0.0, "negative_slope", "leaky_relu'(0) = negative_slope"),),
    smooth=False,
    references=(
        Reference(
            "Rectifier Nonlinearities Improve Neural Network Acoustic Models", None, "Maas et al.", 2013
        ),
    ),
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta"),
    native={
        "torch": Native(
            lambda t, x, negative_slope: t.nn.functional.leaky_relu(x, negative_slope),
            inplace=lambda t, x, negative_slope: t.nn.functional.leaky_relu_(x, negative_slope),
        ),
        "jax": Native(
            lambda j, x, negative_slope: j.nn.leaky_relu(x, negative_slope=negative_slope),
            eligible=False,
            note="jax.nn.leaky_relu assigns x = 0 to the identity branch: gradient 1 at 0, not the slope",
        ),
        "megengine": Native(
            lambda m, x, negative_slope: m.functional.leaky_relu(x, negative_slope),
            eligible=False,
            note="MegEngine's leaky_relu has gradient 1 at x = 0, not the slope",
        ),
    },
)
def leaky_relu(x, ops, negative_slope):
    """Leaky ReLU: x for x > 0, negative_slope * x otherwise."""
    return ops.where(x > 0, x, negative_slope * x)


def _nlrelu_grad(x, ops, beta):
    """beta / (1 + beta x) for x > 0, taken as 1 / (1/beta + x) (no overflow of beta x); 0 for x <= 0."""
    xp = ops.where(x <= 0, 1.0, x)
    return ops.where(x <= 0, 0.0, 1.0 / (1.0 / beta + xp))


@declare(
    "nlrelu",
    grad=_nlrelu_grad,
    examples=({"beta": 3.0}, {"beta": 0.01}),
    aliases=("natural_logarithm_relu",),
    params={"beta": Param(1.0, positive, doc="scale inside the logarithm")},
    formula=r"\ln(1 + \beta \max(0, x))",
    kinks=(Kink(0.0, 0.0, "derivative 0 at x = 0 (flat branch)"),),
    monotone=True,
    smooth=False,
    references=(
        Reference(
            "Natural-Logarithm-Rectified Activation Function in Convolutional Neural Networks",
            "1908.03682",
            "Liu et al.",
            2019,
        ),
    ),
    origin=("echo",),
    notes=("Echo's NLReLU cannot run (undefined names); this follows the paper.",),
)
def nlrelu(x, ops, beta):
    """Natural-logarithm ReLU: log(1 + beta * max(0, x))."""
    xp = ops.where(x <= 0, 0.0, x)  # NaN stays NaN
    bx = beta * xp
    finite = bx < float("inf")  # beta * x overflows only for beta > 1
    small = ops.log1p(ops.where(finite, bx, 0.0))
    xl = ops.where(finite, 1.0, xp)
    large = ops.log(xl) + ops.log(beta + 1.0 / xl)  # log(x) + log(beta + 1/x), both >= 0 here
    return ops.where(x <= 0, 0.0, ops.where(finite, small, large))


def _srelu_grad(x, ops, t_left, a_left, t_right, a_right):
    """a_right from t_right on, a_left up to t_left, 1 between."""
    one = _one(x, ops)
    return ops.where(x >= t_right, a_right * one, ops.where(x <= t_left, a_left * one, one))


def _srelu_check(p):
    import numpy as np

    tl = np.asarray(p["t_left"], dtype=float)
    tr = np.asarray(p["t_right"], dtype=float)
    if tl.size > 1 and tr.size > 1 and tl.size != tr.size:
        return f"t_left has {tl.size} values but t_right has {tr.size}"
    if not np.all(tl < tr):
        return f"t_left < t_right must hold for every channel. Received: t_left={p['t_left']!r}, t_right={p['t_right']!r}"
    return None


@declare(
    "srelu",
    grad=_srelu_grad,
    examples=({"t_left": -1.0, "a_left": 0.1, "t_right": 2.0, "a_right": 0.5},),
    aliases=("s_shaped_relu",),
    params={
        "t_left": Param(0.0, real, trainable=True, per_channel=True, doc="left threshold"),
        "a_left": Param(0.2, real, trainable=True, per_channel=True, doc="slope left of t_left"),
        "t_right": Param(1.0, real, trainable=True, per_channel=True, doc="right threshold"),
        "a_right": Param(1.0, real, trainable=True, per_channel=True, doc="slope right of t_right"),
    },
    formula=(
        r"\begin{cases} t_r + a_r (x - t_r) & x \ge t_r \\ x & t_l < x < t_r \\"
        r" t_l + a_l (x - t_l) & x \le t_l \end{cases}"
    ),
    kinks=(
        Kink("t_left", "a_left", "x = t_l belongs to the left branch"),
        Kink("t_right", "a_right", "x = t_r belongs to the right branch"),
    ),
    smooth=False,
    check=_srelu_check,
    init_doc=(
        "Deterministic: t_left = 0, a_left = 0.2, t_right = 1, a_right = 1 on every channel, so SReLU "
        "starts as a leaky ReLU (slope 0.2) and every parameter receives gradient. Echo draws all four "
        "from N(0, 1), which can violate t_left < t_right; polyact enforces t_left < t_right at construction."
    ),
    references=(
        Reference(
            "Deep Learning with S-shaped Rectified Linear Activation Units", "1512.07030", "Jin et al.", 2015
        ),
    ),
    origin=("echo",),
    notes=("Echo computes t + a*(x + t); polyact follows the paper, t + a*(x - t).",),
)
def srelu(x, ops, t_left, a_left, t_right, a_right):
    """S-shaped ReLU: identity between two thresholds, learned slopes outside."""
    right = x >= t_right
    left = x <= t_left
    return ops.where(
        right, t_right + a_right * (x - t_right), ops.where(left, t_left + a_left * (x - t_left), x)
    )
