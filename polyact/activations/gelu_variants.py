"""Variants of GELU and ReLU used by particular model families: quick_gelu
(CLIP-style sigmoid approximation), clipped_gelu (GELU clamped for integer
quantization) and the variance-preserving vp_relu and vp_gelu of NF-Nets."""

from __future__ import annotations

from ..spec import REQUIRED, Kink, Param, Reference
from ._declare import declare

_GELU_REF = Reference("Gaussian Error Linear Units (GELUs)", "1606.08415", "Hendrycks & Gimpel", 2016)
_NF_REFS = (
    Reference(
        "Characterizing signal propagation to close the performance gap in unnormalized ResNets",
        "2101.08692",
        "Brock, De & Smith",
        2021,
    ),
    Reference(
        "High-Performance Large-Scale Image Recognition Without Normalization",
        "2102.06171",
        "Brock et al.",
        2021,
    ),
)

#: the variance-preserving gains of timm's NFNet ``_nonlin_gamma`` (also zeta's VPReLU / VPGELU)
_VP_RELU_GAMMA = 1.7139588594436646
_VP_GELU_GAMMA = 1.7015043497085571


def _gelu(x, ops):
    """x * Phi(x) through erfc, so the negative tail keeps its digits."""
    return 0.5 * x * ops.erfc(-x * ops.sqrt1_2)


def _gelu_grad(x, ops):
    """gelu'(x) = Phi(x) + x phi(x); 1 above x = 40 and 0 below -40 (phi(40) underflows)."""
    sat = ops.abs(x) > 40.0
    xs = ops.where(sat, 0.0, x)
    core = 0.5 * ops.erfc(-xs * ops.sqrt1_2) + xs * ops.exp(-0.5 * xs * xs) * (0.5 * ops.sqrt_2_over_pi)
    return ops.where(x > 40.0, 1.0, ops.where(x < -40.0, 0.0, core))


def _one(x, ops):
    """1 with the shape and dtype of x."""
    return ops.sign(ops.abs(x) + 1.0)


def _quick_gelu_grad(x, ops):
    """s(z) (1 + z s(-z)), z = 1.702 x; 1 or 0 once |z| > 1000 (z may overflow)."""
    z = 1.702 * x
    zs = ops.where(ops.abs(z) > 1e3, 0.0, z)
    core = ops.sigmoid(zs) * (1.0 + zs * ops.sigmoid(-zs))
    return ops.where(z > 1e3, 1.0, ops.where(z < -1e3, 0.0, core))


def _clipped_gelu_grad(x, ops, min_val, max_val):
    """gelu'(x) where the forward does not clip (ties included), 0 where it does."""
    g = _gelu(x, ops)
    return ops.where(g < min_val, 0.0, ops.where(g > max_val, 0.0, _gelu_grad(x, ops)))


@declare(
    "quick_gelu",
    grad=lambda x, ops: _quick_gelu_grad(x, ops),
    aliases=("quickgelu",),
    formula=r"x\,\sigma(1.702\,x)",
    smooth=True,
    references=(_GELU_REF,),
    origin=("timm", "zeta"),
    notes=("The sigmoid approximation of GELU from the GELU paper, as used by CLIP; not the exact GELU.",),
)
def quick_gelu(x, ops):
    """GELU approximated with a sigmoid: x * sigmoid(1.702 x)."""
    return x * ops.sigmoid(1.702 * x)


def _clipped_gelu_check(p):
    # strict, as torch's hardtanh: with min_val == max_val the function is a constant
    if not p["min_val"] < p["max_val"]:
        return f"min_val < max_val must hold. Received: min_val={p['min_val']!r}, max_val={p['max_val']!r}"
    return None


@declare(
    "clipped_gelu",
    grad=_clipped_gelu_grad,
    examples=({"min_val": -10.0, "max_val": 10.0}, {"min_val": -0.1, "max_val": 2.0}),
    params={
        "min_val": Param(REQUIRED, doc="lower clipping value of gelu(x)"),
        "max_val": Param(REQUIRED, doc="upper clipping value of gelu(x)"),
    },
    formula=r"\min\left(\max\left(x\,\Phi(x), \mathrm{min\_val}\right), \mathrm{max\_val}\right)",
    check=_clipped_gelu_check,
    bounded=True,
    smooth=False,
    references=(
        Reference(
            "Integer Quantization for Deep Learning Inference: Principles and Empirical Evaluation",
            "2004.09602",
            "Wu et al.",
            2020,
        ),
        _GELU_REF,
    ),
    origin=("zeta",),
    notes=(
        "Kinks: where gelu(x) equals a bound the derivative is gelu'(x) (the point belongs to the "
        "unclipped branch, like torch.clamp, which zeta uses); those points are roots of gelu(x) = bound, "
        "not parameters, so they are not declared as Kink entries.",
        "zeta's ClippedGELUActivation takes min and max (its ACT2FN registry binds gelu_10 to "
        "(-10, 10)); polyact names them min_val and max_val as in hard_tanh, and has no gelu_10 alias "
        "because an alias cannot carry parameter values.",
    ),
)
def clipped_gelu(x, ops, min_val, max_val):
    """GELU clipped to [min_val, max_val]."""
    g = _gelu(x, ops)
    return ops.where(g < min_val, min_val, ops.where(g > max_val, max_val, g))


@declare(
    "vp_relu",
    grad=lambda x, ops: ops.where(x <= 0, 0.0, _VP_RELU_GAMMA * _one(x, ops)),
    accuracy="exact",
    aliases=("vprelu",),
    formula=r"\gamma \max(0, x),\quad \gamma = 1.7139588594436646",
    kinks=(Kink(0.0, 0.0, "x = 0 belongs to the flat branch, as relu'(0) = 0"),),
    monotone=True,
    smooth=False,
    references=_NF_REFS,
    origin=("timm", "zeta"),
    notes=(
        "A fixed variance-preserving gain on relu (timm's NFNet _nonlin_gamma['relu']); zeta's "
        "docstring expands VPReLU as 'Variational Parametric ReLU', but nothing in it is trained.",
    ),
)
def vp_relu(x, ops):
    """Variance-preserving ReLU: gamma * relu(x) with the NF-Net gain."""
    return ops.where(x <= 0, 0.0, _VP_RELU_GAMMA * x)


@declare(
    "vp_gelu",
    grad=lambda x, ops: _VP_GELU_GAMMA * _gelu_grad(x, ops),
    aliases=("vpgelu",),
    formula=r"\gamma\,x\,\Phi(x),\quad \gamma = 1.7015043497085571",
    smooth=True,
    references=_NF_REFS,
    origin=("timm", "zeta"),
    notes=("A fixed variance-preserving gain on the exact gelu (timm's NFNet _nonlin_gamma['gelu']).",),
)
def vp_gelu(x, ops):
    """Variance-preserving GELU: gamma * gelu(x) with the NF-Net gain."""
    return (0.5 * _VP_GELU_GAMMA) * x * ops.erfc(-x * ops.sqrt1_2)
