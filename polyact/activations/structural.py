"""Structural activations: they hold sub-layers (convolution, batch norm) with state."""

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
