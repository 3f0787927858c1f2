"""Gaussian-CDF family: gelu (exact), gelu_tanh, laplace."""

from __future__ import annotations

import math

from ..spec import Native, Param, Reference, positive, real
from ._declare import declare

_GELU_REF = Reference("Gaussian Error Linear Units (GELUs)", "1606.08415", "Hendrycks & Gimpel", 2016)


def _gelu_grad(x, ops):
    """gelu'(x) = Phi(x) + x phi(x); 1 above x = 40 and 0 below -40 (phi(40) underflows), so x*x
    never overflows."""
    sat = ops.abs(x) > 40.0
    xs = ops.where(sat, 0.0, x)
    core = 0.5 * ops.erfc(-xs * ops.sqrt1_2) + xs * ops.exp(-0.5 * xs * xs) * (0.5 * ops.sqrt_2_over_pi)
    return ops.where(x > 40.0, 1.0, ops.where(x < -40.0, 0.0, core))


def _gelu_tanh_grad(x, ops):
    """d/dx x s(2u) = s(2u) (1 + 2 x u' s(-2u)), u = c (x + 0.044715 x^3); relu's slope for |x| > 30,
    as the forward."""
    inside = ops.abs(x) <= 30.0
    xs = ops.where(inside, x, 0.0)
    x2 = xs * xs
    u2 = (2.0 * ops.sqrt_2_over_pi) * (xs + 0.044715 * xs * x2)
    du2 = (2.0 * ops.sqrt_2_over_pi) * (1.0 + 3.0 * (0.044715 * x2))
    core = ops.sigmoid(u2) * (1.0 + xs * du2 * ops.sigmoid(-u2))
    return ops.where(inside, core, ops.where(x <= 0, 0.0, ops.sign(x)))


def _laplace_grad(x, ops, mu, sigma):
    """The Gaussian density exp(-z^2 / 2) / (sigma sqrt(2 pi)), z = (x - mu) / sigma; 0 for |z| > 40."""
    z = (x - mu) / sigma
    sat = ops.abs(z) > 40.0
    zs = ops.where(sat, 0.0, z)
    return ops.where(sat, 0.0, ops.exp(-0.5 * zs * zs) * (0.5 * ops.sqrt_2_over_pi / sigma))


@declare(
    "gelu",
    grad=lambda x, ops: _gelu_grad(x, ops),
    aliases=("gelu_exact", "gelu_python", "gelu_erf"),
    formula=r"x\,\Phi(x) = \tfrac{1}{2} x \operatorname{erfc}\left(-x/\sqrt{2}\right)",
    smooth=True,
    references=(_GELU_REF,),
    origin=("torch", "jax", "keras", "megengine", "timm", "zeta"),
    notes=(
        "Exact erf form on every backend: the jax native kernel passes approximate=False (jax.nn.gelu "
        "defaults to the tanh form). Computed with erfc so the negative tail keeps its digits.",
    ),
    native={
        "torch": Native(
            lambda t, x: t.nn.functional.gelu(x, approximate="none"),
            bound=1e38,
            note="torch's exact gelu overflows to inf near x = float32 max (true value is finite): "
            "inputs beyond +-1e38 take the formula",
        ),
        "jax": lambda j, x: j.nn.gelu(x, approximate=False),
        "megengine": Native(
            lambda m, x: m.functional.gelu(x),
            eligible=False,
            note="MegEngine's gelu cancels in the negative tail: 4% off at x = -5, 0 for x <= -6 in float32",
        ),
    },
)
def gelu(x, ops):
    """Gaussian error linear unit x * Phi(x) (exact)."""
    return 0.5 * x * ops.erfc(-x * ops.sqrt1_2)


@declare(
    "gelu_tanh",
    grad=lambda x, ops: _gelu_tanh_grad(x, ops),
    aliases=("gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_accurate", "new_gelu", "approximate_gelu"),
    formula=r"\tfrac{1}{2} x \left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715 x^3)\right)\right)",
    smooth=True,
    references=(_GELU_REF,),
    origin=("torch", "jax", "keras", "timm", "zeta"),
    notes=(
        "Computed as x * sigmoid(2u) (= x (1 + tanh u) / 2) so the negative tail does not cancel; "
        "for |x| > 30 the value equals relu(x) in every float format.",
    ),
    native={
        "torch": Native(
            lambda t, x: t.nn.functional.gelu(x, approximate="tanh"),
            bound=1e12,
            note="torch's tanh gelu has NaN gradients once x^3 overflows (|x| >= ~1e13 in float32): "
            "inputs beyond +-1e12 take the formula",
        ),
        "jax": Native(
            lambda j, x: j.nn.gelu(x, approximate=True),
            eligible=False,
            note="jax.nn.gelu's 1 + tanh(u) cancels in the negative tail (gradient off by 3e-14 at x = -7 in "
            "float64) and its gradient is NaN once x^3 overflows",
        ),
    },
)
def gelu_tanh(x, ops):
    """GELU with the tanh approximation of Phi."""
    inside = ops.abs(x) <= 30.0
    xs = ops.where(inside, x, 0.0)
    u = ops.sqrt_2_over_pi * (xs + 0.044715 * xs * xs * xs)
    return ops.where(inside, xs * ops.sigmoid(2.0 * u), ops.where(x <= 0, 0.0, x))


@declare(
    "laplace",
    grad=_laplace_grad,
    examples=({"mu": 0.0, "sigma": 1.0},),
    aliases=("laplace_activation", "laplaceactivation"),
    params={
        "mu": Param(math.sqrt(0.5), real, doc="location (MEGA: sqrt(1/2))"),
        "sigma": Param(math.sqrt(1.0 / (4.0 * math.pi)), positive, doc="scale (MEGA: sqrt(1/(4 pi)))"),
    },
    formula=r"\tfrac{1}{2}\left(1 + \operatorname{erf}\left(\frac{x - \mu}{\sigma\sqrt{2}}\right)\right)",
    bounded=True,
    monotone=True,
    smooth=True,
    references=(Reference("Mega: Moving Average Equipped Gated Attention", "2209.10655", "Ma et al.", 2022),),
    origin=("zeta",),
    notes=(
        "zeta passes mu and sigma to forward(); polyact makes them constructor parameters (the zeta "
        "facade keeps zeta's calling convention). Computed as erfc(-(x - mu)/(sigma sqrt 2))/2.",
    ),
)
def laplace(x, ops, mu, sigma):
    """Laplace activation of MEGA: the Gaussian CDF with mean mu and scale sigma."""
    return 0.5 * ops.erfc((mu - x) * ops.sqrt1_2 / sigma)
