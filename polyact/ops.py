"""The Ops namespace: the primitives a formula may use.

A formula ``fn(x, ops, **params)`` uses nothing but these methods and the
arithmetic and comparison operators of its input, so the same function runs on
every backend and in the mpmath reference. Each backend subclasses :class:`Ops`
and implements the primitives with its framework's own functions; the derived
helpers (stable softplus, log-sigmoid, ...) have generic definitions here that
a backend may replace with an equally accurate native op.

Every primitive accepts the backend's tensors and plain Python numbers (a
parameter is a Python float unless it is trainable), and ``where`` accepts
Python numbers for either branch, but not for both (the result's dtype would
be the framework's default, not the input's).

Rules for formulas (NUMERICS.md): never multiply by 0/1 masks, use ``where``
and make the unused branch's input safe ("double where"); never build a kink on
``maximum``/``minimum``/``clip`` (their tie gradients differ between
frameworks); prefer ``expm1``, ``log1p``, ``softplus`` and ``erfc`` over the
textbook forms that cancel or overflow.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["AXIS_PRIMITIVES", "PRIMITIVES", "Ops"]

#: The primitives every backend implements (tested for symmetry).
PRIMITIVES = (
    "exp",
    "expm1",
    "log",
    "log1p",
    "sqrt",
    "tanh",
    "sigmoid",
    "erf",
    "erfc",
    "sin",
    "cos",
    "abs",
    "sign",
    "where",
    "maximum",
    "minimum",
    "isnan",
)

#: Primitives along an axis, for the ``vector`` and ``gated`` kinds (the
#: element-wise machinery, e.g. the dual-number oracle, does not need them).
AXIS_PRIMITIVES = ("sum", "amax", "cumsum", "sort", "split2", "odd", "groups")


class Ops:
    """Base class of the per-backend primitive namespaces.

    Constants are plain attributes (``ops.pi``, ``ops.sqrt2``, ``ops.sqrt1_2``,
    ``ops.sqrt_2_over_pi``) so that the reference backend can supply them at
    high precision.
    """

    name = "abstract"
    pi: Any = math.pi
    sqrt2: Any = math.sqrt(2.0)
    sqrt1_2: Any = math.sqrt(0.5)
    sqrt_2_over_pi: Any = math.sqrt(2.0 / math.pi)

    def __repr__(self) -> str:
        return f"<polyact ops for {self.name}>"

    # ------------------------------------------------------------ primitives
    def exp(self, x: Any) -> Any:
        raise NotImplementedError

    def expm1(self, x: Any) -> Any:
        raise NotImplementedError

    def log(self, x: Any) -> Any:
        raise NotImplementedError

    def log1p(self, x: Any) -> Any:
        raise NotImplementedError

    def sqrt(self, x: Any) -> Any:
        raise NotImplementedError

    def tanh(self, x: Any) -> Any:
        raise NotImplementedError

    def sigmoid(self, x: Any) -> Any:
        """1 / (1 + exp(-x)), without overflow for any x."""
        raise NotImplementedError

    def erf(self, x: Any) -> Any:
        raise NotImplementedError

    def erfc(self, x: Any) -> Any:
        raise NotImplementedError

    def sin(self, x: Any) -> Any:
        raise NotImplementedError

    def cos(self, x: Any) -> Any:
        raise NotImplementedError

    def abs(self, x: Any) -> Any:
        raise NotImplementedError

    def sign(self, x: Any) -> Any:
        raise NotImplementedError

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """``a`` where ``cond`` else ``b``; ``a``/``b`` may be Python numbers."""
        raise NotImplementedError

    def maximum(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def minimum(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def isnan(self, x: Any) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------ derived helpers
    def square(self, x: Any) -> Any:
        return x * x

    def rsqrt(self, x: Any) -> Any:
        return 1.0 / self.sqrt(x)

    def softplus(self, x: Any) -> Any:
        """log(1 + exp(x)) without overflow or cancellation; softplus'(0) = 1/2."""
        pos = x > 0
        xp = self.where(pos, x, 0.0)  # exp(-xp) <= 1
        xn = self.where(pos, 0.0, x)  # exp(xn) <= 1 (and NaN stays here)
        return self.where(pos, xp + self.log1p(self.exp(-xp)), self.log1p(self.exp(xn)))

    def exp_in_range(self, x: Any) -> Any:
        """exp(x) for arguments the formula keeps at most 80, where exp is finite
        in every format: a backend whose ``exp`` pays for overflow handling may
        skip it here (MegEngine: one op instead of six)."""
        return self.exp(x)

    def log_sigmoid(self, x: Any) -> Any:
        return -self.softplus(-x)

    def relu(self, x: Any) -> Any:
        """max(x, 0) with relu'(0) = 0 and NaN propagated."""
        return self.where(x <= 0, 0.0, x)

    # --------------------------------------------------------- along an axis
    # Generic definitions on NumPy arrays; they also serve the reference
    # backend's object arrays of mpmath numbers. Framework backends override.
    def sum(self, x: Any, axis: int) -> Any:
        """Sum along ``axis``, keeping it (size 1)."""
        import numpy as np

        return np.sum(x, axis=axis, keepdims=True)

    def amax(self, x: Any, axis: int) -> Any:
        """Maximum along ``axis``, kept, and NOT differentiated: use it only as a
        shift the formula is invariant to (softmax's stabiliser)."""
        import numpy as np

        return np.max(x, axis=axis, keepdims=True)

    def cumsum(self, x: Any, axis: int) -> Any:
        import numpy as np

        return np.cumsum(x, axis=axis)

    def sort(self, x: Any, axis: int) -> Any:
        """Ascending sort along ``axis`` (differentiable: a permutation)."""
        import numpy as np

        return np.sort(x, axis=axis)

    def split2(self, x: Any, axis: int) -> Any:
        """The two halves of ``x`` along ``axis`` (its size must be even)."""
        import numpy as np

        _check_even(np.shape(x), axis)
        return tuple(np.split(x, 2, axis=axis))

    def odd(self, x: Any, axis: int) -> Any:
        """A boolean mask, broadcastable to ``x``: True at the odd positions
        (1, 3, 5, ...) along ``axis``."""
        import numpy as np

        shape = np.shape(x)
        return _odd_mask(np, shape, axis)

    def groups(self, x: Any, axis: int, k: int) -> Any:
        """``k`` tensors: part ``j`` holds the positions ``g * k + j`` along
        ``axis`` (groups of ``k`` consecutive positions; the size must divide)."""
        import numpy as np

        shape = tuple(np.shape(x))
        axis = _group_axis(shape, axis, k)
        r = np.reshape(x, (*shape[:axis], shape[axis] // k, k, *shape[axis + 1 :]))
        return tuple(np.take(r, j, axis=axis + 1) for j in range(k))


def _odd_mask(xp: Any, shape: Any, axis: int) -> Any:
    """The odd-position mask as a NumPy-like array (``xp``) of ``shape`` broadcastable."""
    import numpy as np

    shape = tuple(shape)
    n = shape[axis]
    b = [1] * len(shape)
    b[axis] = n
    return xp.asarray(np.arange(n) % 2 == 1).reshape(b)


def _group_axis(shape: Any, axis: int, k: int) -> int:
    from .errors import InvalidInputError

    shape = tuple(shape)
    if not shape:
        raise InvalidInputError("grouping along an axis needs an input with at least one dimension")
    axis %= len(shape)
    if shape[axis] % k:
        raise InvalidInputError(
            f"groups of {k} along axis {axis} need a size divisible by {k}. Received: shape {shape}"
        )
    return axis


def _check_even(shape: Any, axis: int) -> None:
    from .errors import InvalidInputError

    n = tuple(shape)[axis] if len(tuple(shape)) else 0
    if n % 2:
        raise InvalidInputError(
            f"a gated activation splits its input in two halves along axis {axis}, "
            f"whose size must be even. Received: shape {tuple(shape)}"
        )
