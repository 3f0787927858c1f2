"""Forward-mode dual numbers in float64 NumPy: a formula's value and its exact
derivative (the derivative of the formula as written, up to float64 rounding).

This is the fast oracle behind the exhaustive 16-bit sweeps: float64 carries 42
more bits than float16 and 45 more than bfloat16, so a float64 value rounds to
the same 16-bit number as the exact one except within a hair of a rounding
midpoint; :mod:`polyact._refcache` sends those points (and every point where the
oracle is not finite) to mpmath, and cross-checks a sample of the rest against
mpmath too. It is never the reference for float32 or float64 results.
"""

from __future__ import annotations

import math
from typing import Any, Tuple

import numpy as np

from ..ops import Ops

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Dual:
    """A float64 array of values with one derivative per element."""

    __slots__ = ("d", "v")
    __array_priority__ = 1000  # numpy scalars defer to Dual's operators

    def __init__(self, v: Any, d: Any) -> None:
        self.v = np.asarray(v, dtype=np.float64)
        self.d = np.asarray(d, dtype=np.float64)

    @property
    def shape(self) -> Tuple[int, ...]:
        return self.v.shape

    @property
    def ndim(self) -> int:
        return self.v.ndim

    # arithmetic; a constant operand contributes no derivative term (no 0 * inf)
    def __add__(self, o: Any) -> Dual:
        if isinstance(o, Dual):
            return Dual(self.v + o.v, self.d + o.d)
        return Dual(self.v + o, self.d)

    __radd__ = __add__

    def __sub__(self, o: Any) -> Dual:
        if isinstance(o, Dual):
            return Dual(self.v - o.v, self.d - o.d)
        return Dual(self.v - o, self.d)

    def __rsub__(self, o: Any) -> Dual:
        return Dual(o - self.v, -self.d)

    def __neg__(self) -> Dual:
        return Dual(-self.v, -self.d)

    def __pos__(self) -> Dual:
        return self

    def __mul__(self, o: Any) -> Dual:
        if isinstance(o, Dual):
            return Dual(self.v * o.v, _sum(self.d * o.v, self.v * o.d))
        return Dual(self.v * o, self.d * o)

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> Dual:
        if isinstance(o, Dual):
            q = self.v / o.v
            return Dual(q, (self.d - q * o.d) / o.v)
        return Dual(self.v / o, self.d / o)

    def __rtruediv__(self, o: Any) -> Dual:
        q = o / self.v
        return Dual(q, -q * self.d / self.v)

    def __pow__(self, n: Any) -> Dual:
        if isinstance(n, Dual):
            return exp_(n * log_(self))
        if n == 2:
            return self * self
        return Dual(self.v**n, n * self.v ** (n - 1) * self.d)

    def __rpow__(self, c: Any) -> Dual:
        y = np.power(float(c), self.v)
        return Dual(y, y * math.log(c) * self.d)

    # comparisons look at the values
    def __lt__(self, o: Any) -> Any:
        return self.v < _val(o)

    def __le__(self, o: Any) -> Any:
        return self.v <= _val(o)

    def __gt__(self, o: Any) -> Any:
        return self.v > _val(o)

    def __ge__(self, o: Any) -> Any:
        return self.v >= _val(o)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return self.v == _val(o)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return self.v != _val(o)

    __hash__ = None  # type: ignore[assignment]


def _sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + b


def _val(o: Any) -> Any:
    return o.v if isinstance(o, Dual) else o


def _lift(x: Any) -> Dual:
    return x if isinstance(x, Dual) else Dual(x, np.zeros_like(np.asarray(x, dtype=np.float64)))


def _chain(x: Any, value: Any, deriv: Any) -> Any:
    """f(x) with f' = ``deriv`` (both computed on x's values)."""
    if isinstance(x, Dual):
        with np.errstate(all="ignore"):
            return Dual(value, deriv * x.d)
    return value


def exp_(x: Any) -> Any:
    e = np.exp(_val(x))
    return _chain(x, e, e)


def log_(x: Any) -> Any:
    v = _val(x)
    return _chain(x, np.log(v), 1.0 / v)


def _sigmoid(v: Any) -> Any:
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sech2(v: Any) -> Any:
    e = np.exp(-2.0 * np.abs(v))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


class DualOps(Ops):
    """Ops over :class:`Dual` arrays (and plain float64 arrays or numbers)."""

    name = "dual"

    def __init__(self) -> None:
        try:
            from scipy import special

            self._erf_fn, self._erfc_fn = special.erf, special.erfc
        except ImportError:  # pragma: no cover - scipy is a test dependency
            self._erf_fn, self._erfc_fn = np.vectorize(math.erf), np.vectorize(math.erfc)

    def exp(self, x: Any) -> Any:
        return exp_(x)

    def expm1(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, np.expm1(v), np.exp(v))

    def log(self, x: Any) -> Any:
        return log_(x)

    def log1p(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, np.log1p(v), 1.0 / (1.0 + v))

    def sqrt(self, x: Any) -> Any:
        s = np.sqrt(_val(x))
        return _chain(x, s, 0.5 / s)

    def tanh(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, np.tanh(v), _sech2(v))

    def sigmoid(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, _sigmoid(v), _sigmoid(v) * _sigmoid(-v))

    def erf(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, self._erf_fn(v), _TWO_OVER_SQRT_PI * np.exp(-v * v))

    def erfc(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, self._erfc_fn(v), -_TWO_OVER_SQRT_PI * np.exp(-v * v))

    def sin(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, np.sin(v), np.cos(v))

    def cos(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, np.cos(v), -np.sin(v))

    def abs(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, np.abs(v), np.sign(v))

    def sign(self, x: Any) -> Any:
        v = _val(x)
        return _chain(x, np.sign(v), np.zeros_like(v))

    def isnan(self, x: Any) -> Any:
        return np.isnan(_val(x))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        c = np.asarray(_val(cond), dtype=bool)
        if not isinstance(a, Dual) and not isinstance(b, Dual):
            return np.where(c, a, b)
        a, b = _lift(a), _lift(b)
        return Dual(np.where(c, a.v, b.v), np.where(c, a.d, b.d))

    def maximum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, Dual) and not isinstance(b, Dual):
            return np.maximum(a, b)
        a, b = _lift(a), _lift(b)
        first = (a.v >= b.v) | np.isnan(a.v)
        return Dual(np.maximum(a.v, b.v), np.where(first, a.d, b.d))

    def minimum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, Dual) and not isinstance(b, Dual):
            return np.minimum(a, b)
        a, b = _lift(a), _lift(b)
        first = (a.v <= b.v) | np.isnan(a.v)
        return Dual(np.minimum(a.v, b.v), np.where(first, a.d, b.d))


def value_and_derivative(fn: Any, x: np.ndarray, params: Any) -> Tuple[np.ndarray, np.ndarray]:
    """``fn(x, ops, **params)`` and d/dx in float64, element by element."""
    xv = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        y = fn(Dual(xv, np.ones_like(xv)), DualOps(), **params)
    if not isinstance(y, Dual):  # a constant function
        yv = np.broadcast_to(np.asarray(y, dtype=np.float64), xv.shape)
        return yv.copy(), np.zeros_like(xv)
    return np.broadcast_to(y.v, xv.shape).copy(), np.broadcast_to(y.d, xv.shape).copy()
