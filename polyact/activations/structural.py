"""Structural activations: they hold sub-layers (convolution, batch norm) with state.

Input is 4-D with an explicit ``channel_axis`` (NCHW by default on torch, MegEngine
and NumPy, NHWC on JAX).
"""

from __future__ import annotations

from ..spec import Layer, Param, Reference, integer_at_least
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
