"""Stochastic activations: random noise in training mode only, deterministic in
evaluation mode (torch/MegEngine ``module.eval()``, ``nnx`` ``module.eval()``,
functions called without ``training=True``).

Noise comes from a seeded generator when the object is built with ``seed=``
(torch, MegEngine), from explicit keys on JAX (``rngs=nnx.Rngs(...)`` for
modules, ``rng=key`` for functions), otherwise from the framework's global one.
"""

from __future__ import annotations

from ..spec import Interval, Kink, Param, Reference, nonnegative
from ._declare import declare


def _one(x, ops):
    """1 with the shape and dtype of x."""
    return ops.sign(ops.abs(x) + 1.0)


def _rrelu_grad(x, ops, lower, upper, noise=None):
    """1 for x > 0, else the slope: the mean in evaluation mode, the drawn one (held fixed) in training."""
    a = 0.5 * (lower + upper) if noise is None else lower + (upper - lower) * noise
    return ops.where(x > 0, 1.0, a * _one(x, ops))


def _rrelu_check(p):
    if not p["lower"] < p["upper"]:
        return f"lower < upper must hold. Received: lower={p['lower']!r}, upper={p['upper']!r}"
    return None


@declare(
    "rrelu",
    grad=_rrelu_grad,
    aliases=("randomized_leaky_relu", "randomized_relu"),
    noise="uniform",
    accuracy="exact",
    params={
        "lower": Param(1.0 / 8.0, Interval(0.0, 1.0), doc="lower bound of the random negative slope"),
        "upper": Param(1.0 / 3.0, Interval(0.0, 1.0), doc="upper bound of the random negative slope"),
    },
    examples=({"lower": 0.1, "upper": 0.3},),
    check=_rrelu_check,
    formula=(
        r"\begin{cases} x & x > 0 \\ a\,x & x \le 0 \end{cases},\quad "
        r"a \sim U(l, u) \text{ (training)},\ a = \tfrac{l + u}{2} \text{ (evaluation)}"
    ),
    kinks=(Kink(0.0, "(lower + upper) / 2", "evaluation mode: the mean slope at 0, as torch's leaky_relu"),),
    monotone=True,
    smooth=False,
    references=(
        Reference(
            "Empirical Evaluation of Rectified Activations in Convolutional Network",
            "1505.00853",
            "Xu et al.",
            2015,
        ),
    ),
    origin=("torch",),
    notes=(
        "One slope per element, drawn afresh at every training-mode call; torch's native rrelu draws from "
        "the global generator only, so polyact uses its composed kernel, which honours seed= and JAX keys.",
    ),
)
def rrelu(x, ops, lower, upper, noise=None):
    """Randomized leaky ReLU: a random negative slope in [lower, upper) when training, the mean otherwise."""
    a = 0.5 * (lower + upper) if noise is None else lower + (upper - lower) * noise
    return ops.where(x > 0, x, a * x)


@declare(
    "probact",
    grad=lambda x, ops, sigma, noise=None: ops.where(x <= 0, 0.0, _one(x, ops)),
    aliases=("prob_act",),
    noise="normal",
    params={"sigma": Param(0.0, nonnegative, trainable=True, doc="standard deviation of the added noise")},
    examples=({"sigma": 0.5},),
    formula=r"\max(0, x) + \sigma\,\varepsilon,\quad \varepsilon \sim N(0, 1) \text{ (training only)}",
    kinks=(Kink(0.0, 0.0, "relu'(0) = 0"),),
    monotone=True,
    smooth=False,
    references=(
        Reference(
            "ProbAct: A Probabilistic Activation Function for Deep Neural Networks",
            "1905.10761",
            "Shridhar et al.",
            2019,
        ),
    ),
    origin=("echo",),
    init_doc="sigma starts at 0 as in Echo (init=0): the noise scale is learnt.",
    notes=(
        "Echo's ProbAct adds the noise in evaluation mode too; polyact adds it only in training mode, as "
        "the paper's inference uses the mean.",
    ),
)
def probact(x, ops, sigma, noise=None):
    """ProbAct: relu(x) plus trainable-scale Gaussian noise in training mode."""
    y = ops.where(x <= 0, 0.0, x)
    return y if noise is None else y + sigma * noise
