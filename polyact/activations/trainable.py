"""Activations with trainable scalar or per-channel parameters:
parametric_flatten_t_swish, snake, apl, flexible_relu, arelu, mpelu, polymorphic."""

from __future__ import annotations

from ..spec import Kink, Param, Reference, positive, real
from ._declare import declare
from .research import _ones, _sech2, _tanh


@declare(
    "parametric_flatten_t_swish",
    examples=({"threshold": 0.0}, {"threshold": 0.5}),
    aliases=("pfts", "parametric_fts"),
    params={
        "threshold": Param(
            -0.2, real, trainable=True, doc="T: the value for x < 0, added for x >= 0 (trained)"
        )
    },
    formula=r"\begin{cases} x\,\sigma(x) + T & x \ge 0 \\ T & x < 0 \end{cases}",
    kinks=(Kink(0.0, 0.5, "x = 0 belongs to the swish branch"),),
    grad=lambda x, ops, threshold: ops.where(x < 0, 0.0, ops.sigmoid(x) * (1.0 + x * ops.sigmoid(-x))),
    monotone=True,
    smooth=False,
    init_doc="T starts at -0.20, the paper's initial value and flatten_t_swish's fixed default.",
    references=(
        Reference(
            "Parametric Flatten-T Swish: An Adaptive Non-linear Activation Function For Deep Learning",
            "2011.03155",
            "Chieng et al.",
            2020,
        ),
    ),
    origin=("echo",),
    notes=(
        "flatten_t_swish with a trainable T. Echo's Swish(flatten=True, pfts=True) raises a "
        "TypeError (the flag combination returns None inside), and its flatten branch would "
        "multiply by x once more.",
    ),
)
def parametric_flatten_t_swish(x, ops, threshold):
    """Parametric Flatten-T Swish: x * sigmoid(x) + T for x >= 0, T below, T trained."""
    return ops.where(x < 0, threshold, x * ops.sigmoid(x) + threshold)


#: below this |a x|, sin(u)^2 / a is taken as x sin(u) (1 - u^2/6 + u^4/120): finite
#: at a = 0, and the neglected u^6/5040 is invisible even to the 60-digit reference
_SNAKE_SMALL = 1e-8


@declare(
    "snake",
    examples=({"a": 0.5}, {"a": 4.0}),
    params={
        "a": Param(1.0, positive, trainable=True, per_channel=True, doc="frequency, one per channel (a > 0)")
    },
    formula=r"x + \frac{1}{a}\sin^2(a x)",
    grad=lambda x, ops, a: _snake_grad(x, ops, a),
    monotone=True,
    smooth=True,
    init_doc=(
        "a = 1.0 on every channel (zeta's scalar default) unless values are passed. Echo draws a from "
        "Exponential(rate 0.1) per feature (mean 10), and that default path raises a TypeError."
    ),
    references=(
        Reference(
            "Neural Networks Fail to Learn Periodic Functions and How to Fix It",
            "2006.08195",
            "Ziyin, Hartwig & Ueda",
            2020,
        ),
    ),
    origin=("echo", "zeta"),
    notes=(
        "Per channel as in Echo (one a per feature) and in the paper; zeta's Snake has one trainable "
        "scalar (pass num_channels=1, the default, for that).",
        "Finite at a = 0 (the limit x, with d/da = x^2), where zeta's and Echo's 1/a * sin(a x)^2 is "
        "NaN. Echo's alpha_trainable flag is ignored (misspelt requiresGrad).",
        "The derivative 1 + sin(2 a x) has no limit at +-inf: the gradient there is NaN.",
    ),
)
def snake(x, ops, a):
    """Snake: x + sin(a x)^2 / a, a learned frequency per channel."""
    u = a * x
    u = ops.where(ops.abs(u) == float("inf"), 0.0, u)  # a x overflowed: f = x to every digit
    small = ops.abs(u) < _SNAKE_SMALL
    us = ops.where(small, u, 0.0)
    near = x * ops.sin(us) * (1.0 - us * us * (1.0 / 6.0 - us * us / 120.0))
    ub = ops.where(small, 1.0, u)
    ab = ops.where(small, 1.0, a)  # a != 0 here (|a x| >= 1e-8)
    s = ops.sin(ub)
    return x + ops.where(small, near, s * s / ab)


def _snake_grad(x, ops, a):
    """1 + sin(2 a x) as (sin u + cos u)^2, u = a x: 2u never formed (it overflows near the
    float max), no cancellation of 1 against sin near the zeros, never negative; u is taken
    as 0 where a x itself overflows, as in the forward."""
    u = a * x
    u = ops.where(ops.abs(u) == float("inf"), 0.0, u)
    s = ops.sin(u) + ops.cos(u)
    return s * s


@declare(
    "apl",
    examples=({"a": 0.2, "b": 0.5}, {"a": -0.5, "b": -1.0}),
    aliases=("adaptive_piecewise_linear",),
    params={
        "a": Param(0.0, real, trainable=True, per_channel=True, doc="slope of the hinge, one per channel"),
        "b": Param(0.0, real, trainable=True, per_channel=True, doc="position of the hinge, one per channel"),
    },
    formula=r"\max(0, x) + a \max(0, -x + b)",
    kinks=(
        Kink(0.0, "-a * (b > 0)", "max(0, x) has derivative 0 at 0; the hinge adds -a where b > 0"),
        Kink("b", "1.0 * (b > 0)", "the hinge has derivative 0 at x = b; max(0, x) adds 1 where b > 0"),
    ),
    grad=lambda x, ops, a, b: (
        ops.where(x <= 0, 0.0, _ones(x, ops)) - a * ops.where(b - x <= 0, 0.0, _ones(x, ops))
    ),
    smooth=False,
    init_doc=(
        "a = 0 and b = 0 on every channel (Echo's Keras initialisers), so APL starts as a ReLU; "
        "a receives gradient from the start (b does once a is nonzero)."
    ),
    references=(
        Reference(
            "Learning Activation Functions to Improve Deep Neural Networks",
            "1412.6830",
            "Agostinelli et al.",
            2014,
        ),
    ),
    origin=("echo",),
    notes=(
        "One hinge (S = 1) with a and b per channel, as in the paper (per unit) and Echo's Keras APL "
        "(per element, optional shared axes). Echo's torch APL(s=1) keeps scalar a, b (init 0.2, 0.5) "
        "shared by all units; polyact follows the paper.",
        "Echo's Keras get_config saves the b initialiser, regulariser and constraint under the alpha "
        "keys and leaves out S.",
    ),
)
def apl(x, ops, a, b):
    """Adaptive piecewise linear unit with one hinge: relu(x) + a * relu(b - x)."""
    return ops.relu(x) + a * ops.relu(b - x)


@declare(
    "flexible_relu",
    accuracy="exact",
    examples=({"bias": 0.5}, {"bias": -1.25}),
    params={"bias": Param(0.0, real, trainable=True, doc="b, added to relu(x) (trained)")},
    formula=r"\max(0, x) + b",
    kinks=(Kink(0.0, 0.0, "relu'(0) = 0"),),
    grad=lambda x, ops, bias: ops.where(x <= 0, 0.0, _ones(x, ops)),
    monotone=True,
    smooth=False,
    init_doc="b = 0, so it starts as a ReLU (Echo draws b from N(0, 1)).",
    references=(
        Reference(
            "FReLU: Flexible Rectified Linear Units for Improving Convolutional Neural Networks",
            "1706.08098",
            "Qiu et al.",
            2017,
        ),
    ),
    origin=("echo",),
    notes=(
        "Echo names it FReLU (t_ops.FReLU, whose in_channels argument is unused), the name Ma et al. "
        "use for the funnel activation: polyact registers no 'frelu' alias; the funnel one is "
        "funnel_relu.",
        "One scalar b, as in Echo; the paper learns b per layer (or per channel).",
    ),
)
def flexible_relu(x, ops, bias):
    """Flexible ReLU: relu(x) + b with a learned bias b."""
    return ops.relu(x) + bias


@declare(
    "arelu",
    examples=({"alpha": 0.5, "beta": -1.0}, {"alpha": 1.5, "beta": 0.0}),
    params={
        "alpha": Param(0.9, real, trainable=True, doc="slope for x < 0, clamped to [0.01, 0.99]"),
        "beta": Param(2.0, real, trainable=True, doc="x >= 0 is scaled by 1 + sigmoid(beta)"),
    },
    formula=(
        r"(1 + \sigma(\beta)) \max(0, x) - C(\alpha) \max(0, -x),"
        r"\quad C(\alpha) = \min(\max(\alpha, 0.01), 0.99)"
    ),
    kinks=(Kink(0.0, 0.0, "both rectifiers have derivative 0 at 0"),),
    grad=lambda x, ops, alpha, beta: _arelu_grad(x, ops, alpha, beta),
    monotone=True,
    smooth=False,
    init_doc="alpha = 0.90 and beta = 2.0, as in the paper and Echo.",
    references=(
        Reference("AReLU: Attention-based Rectified Linear Unit", "2006.13858", "Chen et al.", 2020),
    ),
    origin=("echo",),
    notes=(
        "The clamp of alpha is written with where, so d/dalpha is 1 inside [0.01, 0.99] (bounds "
        "included) and 0 outside, as torch.clamp.",
    ),
)
def arelu(x, ops, alpha, beta):
    """Attention-based ReLU: (1 + sigmoid(beta)) relu(x) - clamp(alpha) relu(-x)."""
    c = ops.where(alpha < 0.01, 0.01, ops.where(alpha > 0.99, 0.99, alpha))
    # sigmoid(beta) element by element, in x's dtype: the same bits whether beta is a
    # Python float (functions) or a float32 parameter (modules)
    s = ops.sigmoid(beta + 0.0 * x)
    r = ops.relu(x)
    return r + s * r - c * ops.relu(-x)


def _arelu_grad(x, ops, alpha, beta):
    """1 + sigmoid(beta) for x > 0, clamp(alpha) for x < 0, 0 at x = 0."""
    c = ops.where(alpha < 0.01, 0.01, ops.where(alpha > 0.99, 0.99, alpha))
    s = ops.sigmoid(beta + 0.0 * x)  # in x's dtype, as the forward
    return ops.where(x > 0, 1.0 + s, ops.where(-x <= 0, 0.0, c * _ones(x, ops)))


@declare(
    "mpelu",
    examples=({"alpha": 0.5, "beta": 2.0}, {"alpha": 1.0, "beta": 0.5}),
    params={
        "alpha": Param(0.25, real, trainable=True, per_channel=True, doc="scale of the x <= 0 branch"),
        "beta": Param(1.0, positive, trainable=True, per_channel=True, doc="rate of the x <= 0 branch"),
    },
    formula=r"\begin{cases} x & x > 0 \\ \alpha\left(e^{\beta x} - 1\right) & x \le 0 \end{cases}",
    grad=lambda x, ops, alpha, beta: ops.where(x > 0, 1.0, alpha * beta * ops.exp(beta * x)),
    kinks=(Kink(0.0, "alpha * beta", "x = 0 belongs to the exponential branch"),),
    monotone=True,
    smooth=False,
    init_doc="alpha = 0.25 and beta = 1.0 on every channel (the paper's and Echo's initial values).",
    references=(
        Reference(
            "Improving Deep Neural Network with Multiple Parametric Exponential Linear Units",
            "1606.00305",
            "Li et al.",
            2016,
        ),
    ),
    origin=("echo",),
    notes=(
        "Per channel as in the paper (num_channels=1, the default, shares one pair); Echo keeps one "
        "scalar pair and fails on current torch (it passes a Parameter as nn.ELU's alpha).",
        "e^(beta x) - 1 is expm1 for beta x >= -1 and exp - 1 below, so that the gradient "
        "alpha beta e^(beta x) keeps its digits (expm1's derivative expm1 + 1 cancels there).",
    ),
)
def mpelu(x, ops, alpha, beta):
    """Multiple parametric ELU: x for x > 0, alpha * (exp(beta x) - 1) otherwise."""
    neg = x <= 0
    z = beta * ops.where(neg, x, 0.0)
    far = z < -1.0
    em1 = ops.where(far, ops.exp(ops.where(far, z, -2.0)) - 1.0, ops.expm1(ops.where(far, 0.0, z)))
    return ops.where(neg, alpha * em1, x)


@declare(
    "polymorphic",
    examples=({"alpha": 0.0}, {"alpha": 2.0}),
    aliases=("polymorphic_activation",),
    params={"alpha": Param(0.5, real, trainable=True, doc="shared slope and tanh weight (trained)")},
    formula=r"\sigma(\alpha x) + \alpha \tanh x",
    grad=lambda x, ops, alpha: alpha * (ops.sigmoid(alpha * x) * ops.sigmoid(-(alpha * x)) + _sech2(x, ops)),
    monotone=True,
    smooth=True,
    init_doc="alpha = 0.5, zeta's default.",
    origin=("zeta",),
    notes=(
        "No paper: zeta's PolymorphicActivation, where alpha must be a Python float; here it is a "
        "trainable parameter like any other. Non-decreasing for alpha >= 0; tanh is evaluated in "
        "the monotone form of weighted_tanh.",
    ),
)
def polymorphic(x, ops, alpha):
    """Polymorphic activation: sigmoid(alpha x) + alpha tanh(x)."""
    return ops.sigmoid(alpha * x) + alpha * _tanh(x, ops)
