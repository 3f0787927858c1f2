"""Functions along an axis (softmax, log_softmax, softmin, sparsemax; bipolar_relu,
which alternates along it; maxout, which pools groups along it) and gated
activations that split their input in two halves along an axis (glu, swiglu, geglu).

Every one takes an explicit ``axis`` (default -1 on every backend): polyact never
inherits a framework's implicit choice (torch's legacy ``dim=None``, MegEngine's
axis 0 for 1-D input). Gated activations follow torch's ``glu``: the first half
is the value, the second half the gate.
"""

from __future__ import annotations

from ..spec import Kink, Param, Reference, axis_index, integer_at_least
from ._declare import declare

_AXIS = {"axis": Param(-1, axis_index, doc="the axis the function runs along (default: the last)")}
_GATE_AXIS = {
    "axis": Param(-1, axis_index, doc="the axis split into value and gate halves (size must be even)")
}
_SHAZEER = Reference("GLU Variants Improve Transformer", "2002.05202", "Shazeer", 2020)


def _softmax(x, ops, axis):
    e = ops.exp(x - ops.amax(x, axis))
    return e / ops.sum(e, axis)


@declare(
    "softmax",
    kind="vector",
    params=_AXIS,
    examples=({"axis": 0},),
    formula=r"\frac{e^{x_i}}{\sum_j e^{x_j}}",
    bounded=True,
    smooth=True,
    origin=("torch", "jax", "keras", "megengine"),
    native={
        "torch": lambda t, x, axis: t.nn.functional.softmax(x, dim=axis),
        "jax": lambda j, x, axis: j.nn.softmax(x, axis=axis),
        "megengine": lambda m, x, axis: m.functional.softmax(x, axis=axis),
    },
    notes=(
        "MegEngine's softmax defaults to axis 0 for 0-, 1- and 3-D input and 1 otherwise, and torch's "
        "implicit dim is a legacy guess; polyact's axis is explicit, -1 by default.",
        "torch.nn.Softmax2d is softmax with axis=-3.",
    ),
)
def softmax(x, ops, axis):
    """Softmax: exp(x) normalised to sum to 1 along an axis (shifted by the maximum)."""
    return _softmax(x, ops, axis)


@declare(
    "log_softmax",
    kind="vector",
    aliases=("logsoftmax",),
    params=_AXIS,
    examples=({"axis": 0},),
    formula=r"x_i - \log \sum_j e^{x_j}",
    smooth=True,
    origin=("torch", "jax", "keras", "megengine"),
    native={
        "torch": lambda t, x, axis: t.nn.functional.log_softmax(x, dim=axis),
        "jax": lambda j, x, axis: j.nn.log_softmax(x, axis=axis),
        "megengine": lambda m, x, axis: m.functional.logsoftmax(x, axis=axis),
    },
    notes=(
        "Echo's legacy Keras LogSoftmax takes the log of the softmax, which underflows to -inf; "
        "polyact subtracts the log-sum-exp.",
    ),
)
def log_softmax(x, ops, axis):
    """Log-softmax: x minus the log-sum-exp along an axis."""
    s = x - ops.amax(x, axis)
    return s - ops.log(ops.sum(ops.exp(s), axis))


@declare(
    "softmin",
    kind="vector",
    params=_AXIS,
    examples=({"axis": 0},),
    formula=r"\frac{e^{-x_i}}{\sum_j e^{-x_j}}",
    bounded=True,
    smooth=True,
    origin=("torch",),
    native={"torch": lambda t, x, axis: t.nn.functional.softmin(x, dim=axis)},
)
def softmin(x, ops, axis):
    """Softmin: the softmax of -x along an axis."""
    return _softmax(-x, ops, axis)


@declare(
    "sparsemax",
    kind="vector",
    params=_AXIS,
    examples=({"axis": 0},),
    formula=r"\operatorname{argmin}_{p \in \Delta} \lVert p - x \rVert^2 = \max(x_i - \tau(x), 0)",
    bounded=True,
    smooth=False,
    references=(
        Reference(
            "From Softmax to Sparsemax: A Sparse Model of Attention and Multi-Label Classification",
            "1602.02068",
            "Martins & Astudillo",
            2016,
        ),
    ),
    origin=("keras",),
    notes=("The threshold tau comes from the sorted input: k(x) = max{k : 1 + k z_k > sum_{j<=k} z_j}.",),
)
def sparsemax(x, ops, axis):
    """Sparsemax: the Euclidean projection of x onto the probability simplex along an axis."""
    z = -ops.sort(-x, axis)  # descending
    # zeros and ones shaped like z, without z - z (NaN at the -inf a mask puts in)
    zero = ops.where(ops.isnan(z), z, 0.0)
    k = ops.cumsum(zero + 1.0, axis)
    support = 1.0 + k * z > ops.cumsum(z, axis)
    count = ops.sum(ops.where(support, 1.0, zero), axis)
    tau = (ops.sum(ops.where(support, z, zero), axis) - 1.0) / count
    return ops.where(x > tau, x - tau, ops.where(ops.isnan(x), x, 0.0))


@declare(
    "glu",
    kind="gated",
    params=_GATE_AXIS,
    examples=({"axis": 0},),
    formula=r"a \odot \sigma(b),\quad [a, b] = \operatorname{split}(x)",
    smooth=True,
    references=(
        Reference(
            "Language Modeling with Gated Convolutional Networks", "1612.08083", "Dauphin et al.", 2016
        ),
    ),
    origin=("torch", "jax", "keras", "zeta"),
    native={
        "torch": lambda t, x, axis: t.nn.functional.glu(x, dim=axis),
        "jax": lambda j, x, axis: j.nn.glu(x, axis=axis),
    },
    notes=(
        "zeta's GLU is a layer (a linear projection to twice the width, then any gate activation); "
        "polyact's is the parameter-free torch function.",
    ),
)
def glu(x, ops, axis):
    """Gated linear unit: the first half times the sigmoid of the second half."""
    a, b = ops.split2(x, axis)
    return a * ops.sigmoid(b)


@declare(
    "swiglu",
    kind="gated",
    params=_GATE_AXIS,
    examples=({"axis": 0},),
    formula=r"a \odot \operatorname{silu}(b),\quad [a, b] = \operatorname{split}(x)",
    smooth=True,
    references=(_SHAZEER,),
    origin=("zeta",),
    notes=(
        "zeta's SwiGLUStacked is the whole feed-forward block w2(silu(w1 x) * w3 x); polyact's "
        "swiglu is the activation on an already projected input.",
    ),
)
def swiglu(x, ops, axis):
    """SwiGLU: the first half times silu of the second half."""
    a, b = ops.split2(x, axis)
    return a * (b * ops.sigmoid(b))


@declare(
    "geglu",
    kind="gated",
    params=_GATE_AXIS,
    examples=({"axis": 0},),
    formula=r"a \odot \operatorname{gelu}(b),\quad [a, b] = \operatorname{split}(x)",
    smooth=True,
    references=(_SHAZEER,),
    origin=("zeta",),
    notes=("zeta's GEGLU splits along dim 1; polyact's axis is explicit, -1 by default.",),
)
def geglu(x, ops, axis):
    """GEGLU: the first half times the exact gelu of the second half."""
    a, b = ops.split2(x, axis)
    return a * (0.5 * b * ops.erfc(-b * ops.sqrt1_2))


@declare(
    "bipolar_relu",
    kind="vector",
    aliases=("brelu",),
    params={
        "axis": Param(-1, axis_index, doc="the unit (channel) axis the sign alternates along; 1 for NCHW")
    },
    examples=({"axis": 0},),
    accuracy="exact",
    formula=r"\begin{cases} \max(0, x_i) & i \text{ even} \\ -\max(0, -x_i) & i \text{ odd} \end{cases}",
    kinks=(Kink(0.0, 0.0, "both halves have derivative 0 at 0 (relu'(0) = 0)"),),
    smooth=False,
    references=(
        Reference(
            "Shifting Mean Activation Towards Zero with Bipolar Activation Functions",
            "1709.04054",
            "Eidnes & Nokland",
            2017,
        ),
    ),
    origin=("echo",),
    notes=(
        "Echo's torch BReLU alternates along dim 0, the batch, so a sample's sign depends on its place in "
        "the batch; the paper alternates over units, as Echo's Keras version (last axis) and polyact (an "
        "explicit axis) do.",
    ),
)
def bipolar_relu(x, ops, axis):
    """Bipolar ReLU: relu at even positions along an axis, -relu(-x) at odd ones."""
    return ops.where(ops.odd(x, axis), ops.where(x >= 0, 0.0, x), ops.where(x <= 0, 0.0, x))


@declare(
    "maxout",
    kind="vector",
    params={
        "pool_size": Param(2, integer_at_least(1), doc="k: the number of consecutive units pooled"),
        "axis": Param(-1, axis_index, doc="the unit (channel) axis pooled; 1 for NCHW"),
    },
    examples=({"pool_size": 3}, {"axis": 0}),
    accuracy="exact",
    formula=r"y_g = \max_{0 \le j < k} x_{g k + j}",
    smooth=False,
    references=(Reference("Maxout Networks", "1302.4389", "Goodfellow et al.", 2013),),
    origin=("echo",),
    notes=(
        "Echo's torch Maxout defaults to pool_size=1, which is the identity, and its Keras MaxOut takes a "
        "global maximum (a scalar); polyact pools groups of k consecutive units, k = 2 by default.",
        "The output has 1/k of the units along the axis. Ties send the gradient to the first maximum; "
        "NaN propagates.",
    ),
)
def maxout(x, ops, pool_size, axis):
    """Maxout: the maximum over groups of pool_size consecutive units along an axis."""
    parts = ops.groups(x, axis, pool_size)
    out = parts[0]
    for p in parts[1:]:
        out = ops.where(ops.isnan(p), p, ops.where(p > out, p, out))
    return out
