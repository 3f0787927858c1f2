"""Structural activations: they hold sub-layers (convolution, batch norm) with state.

Input is 4-D with an explicit ``channel_axis`` (NCHW by default on torch, MegEngine
and NumPy, NHWC on JAX).
"""

from __future__ import annotations

from ..spec import Layer, Param, Reference, integer_at_least, real
from ._declare import declare


@declare(
    "funnel_relu",
    aliases=("funnel", "frelu_funnel", "funnel_activation"),
    params={"in_channels": Param(doc="number of channels", domain=integer_at_least(1))},
    layers={
        "conv": Layer.of("depthwise_conv2d", kernel_size=3, padding=1, bias=True),
        "bn": Layer.of("batch_norm", eps=1e-5, momentum=0.1),
    },
    channels_param="in_channels",
    formula=r"\max\left(x, \operatorname{BN}(\operatorname{DWConv}_{3\times 3}(x))\right)",
    smooth=False,
    references=(Reference("Funnel Activation for Visual Recognition", "2007.11824", "Ma et al.", 2020),),
    origin=("echo",),
    init_doc="Depthwise 3x3 convolution (bias on) with the framework's default init; batch norm weight 1, bias 0.",
    notes=(
        "Echo names both this (MegEngine) and the flexible ReLU relu(x) + b (torch) 'FReLU'; in polyact "
        "they are two activations. Input: NCHW on torch, MegEngine and NumPy, NHWC on JAX (channel_axis).",
        "Ties max(x, t) with x = t send the gradient to x.",
    ),
)
def funnel_relu(x, ops, conv, bn):
    """Funnel activation: max(x, BN(depthwise 3x3 conv(x)))."""
    t = bn(conv(x))
    return ops.where(t > x, t, x)


@declare(
    "xunit",
    aliases=("x_unit",),
    params={
        "in_channels": Param(doc="number of channels", domain=integer_at_least(1)),
        "kernel_size": Param(9, integer_at_least(1), doc="odd size of the depthwise convolution"),
    },
    check=lambda p: (
        None if int(p["kernel_size"]) % 2 else f"kernel_size must be odd. Received: {p['kernel_size']}"
    ),
    layers={
        "bn1": Layer.of("batch_norm", eps=1e-5, momentum=0.1),
        "conv": Layer.of("depthwise_conv2d", kernel_size="kernel_size", bias=True),
        "bn2": Layer.of("batch_norm", eps=1e-5, momentum=0.1),
    },
    channels_param="in_channels",
    formula=(
        r"x \cdot e^{-u^2},\quad u = \operatorname{BN}(\operatorname{DWConv}_{k\times k}"
        r"(\operatorname{ReLU}(\operatorname{BN}(x))))"
    ),
    smooth=False,
    references=(
        Reference(
            "xUnit: Learning a Spatial Activation Function for Efficient Image Restoration",
            "1711.06445",
            "Kligvasser et al.",
            2017,
        ),
    ),
    origin=("echo",),
    init_doc="Batch norms weight 1, bias 0; the depthwise convolution (bias on, padding k // 2) as the framework inits it.",
    notes=("Echo's XUnit calls the channel count out_channels; polyact's in_channels is the same number.",),
)
def xunit(x, ops, bn1, conv, bn2):
    """xUnit: x gated by a Gaussian of a learnt spatial (depthwise convolution) response."""
    u = bn2(conv(ops.relu(bn1(x))))
    return x * ops.exp(-(u * u))


@declare(
    "dice",
    aliases=("data_adaptive_activation",),
    params={
        "emb_size": Param(
            doc="number of features (the channel axis, last by default)", domain=integer_at_least(1)
        ),
        "alpha": Param(0.0, real, trainable=True, doc="slope of the rectified side, learnt"),
    },
    layers={"bn": Layer.of("batch_norm", eps=1e-8, momentum=0.1)},
    channels_param="emb_size",
    input_ndims=(2, 3),
    channel_axis=-1,
    formula=r"p\,x + \alpha\,(1 - p)\,x,\quad p = \sigma(\operatorname{BN}(x))",
    smooth=True,
    references=(
        Reference(
            "Deep Interest Network for Click-Through Rate Prediction", "1706.06978", "Zhou et al.", 2017
        ),
    ),
    origin=("echo",),
    init_doc="alpha starts at 0; batch norm (eps 1e-8) weight 1, bias 0, i.e. the paper's plain standardisation.",
    notes=(
        "Echo's DICE freezes alpha at 0 and crashes for dim=3; in polyact alpha is trained, as in the paper, "
        "and (N, C) and (N, L, C) inputs both work (features on the last axis, or channel_axis=).",
        "The batch norm keeps its affine weight and bias (as Echo's); at their initial values it is the "
        "paper's standardisation (x - E[x]) / sqrt(Var[x] + eps).",
    ),
)
def dice(x, ops, bn, alpha):
    """Dice: a data-adaptive PReLU whose switch point follows the batch statistics."""
    p = ops.sigmoid(bn(x))
    return p * x + alpha * ((1.0 - p) * x)
