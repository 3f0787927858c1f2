"""The arbitrary-precision reference: the spec's own formula evaluated with
mpmath, element by element on object arrays, at >= 50 significant digits.

Use :func:`evaluate` for values, :func:`derivative` for d/dx and
:func:`param_derivative` for d/dparam (closed form when the spec has one,
otherwise a central difference at high precision, away from kinks), then
:func:`polyact._numerics.round_array` to round once to the target dtype.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Mapping, Optional, TypeVar

import numpy as np

from ..errors import ActivationError
from ..ops import Ops
from ..spec import ActivationSpec, Kernel
from . import _base

NAME = "reference"
DPS = 60  # decimal digits used for every evaluation


def _mp() -> Any:
    import mpmath

    return mpmath


_F = TypeVar("_F", bound=Callable[..., Any])


def _cheap_array_repr(fn: _F) -> _F:
    """Run ``fn`` with numpy arrays printing each element as ``?``.

    A formula such as ``alpha * x`` (an mpf times an object array) first asks
    mpmath to convert the array; mpmath refuses with an error message that
    holds ``repr(array)``, and only then does numpy's reflected operator run.
    That repr prints every mpf to 60 digits (slow near 1e4000, where limits
    at infinity are taken): 13 s of tanhsoft's 14 s reference on 209 points.
    Nothing reads the message, so the repr is made cheap while the reference
    is computed."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with np.printoptions(formatter={"all": lambda v: "?"}):
            return fn(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _erfc(v: Any) -> Any:
    """mpmath.erfc, with the asymptotic series where mpmath overflows (|v| > 1e4)."""
    mp = _mp()
    if mp.isnan(v) or abs(v) <= 10**4:
        return mp.erfc(v)
    if v < 0:
        return 2 - _erfc(-v)
    if mp.isinf(v):
        return mp.mpf(0)
    # erfc(v) = exp(-v^2)/(v sqrt(pi)) * sum_n (-1)^n (2n-1)!! / (2 v^2)^n; terms fall by 1e-8 each
    s, term, z = mp.mpf(1), mp.mpf(1), 2 * v * v
    for n in range(1, 12):
        term = -term * (2 * n - 1) / z
        s += term
    return mp.exp(-v * v) / (v * mp.sqrt(mp.pi)) * s


class ReferenceOps(Ops):
    """Ops on object arrays of ``mpmath.mpf`` (and on single mpf numbers)."""

    name = NAME

    def __init__(self) -> None:
        mp = _mp()
        self._mp = mp
        u = lambda f: np.frompyfunc(f, 1, 1)
        self._exp, self._expm1 = u(mp.exp), u(mp.expm1)
        self._log, self._log1p = u(mp.log), u(mp.log1p)
        self._sqrt, self._tanh = u(mp.sqrt), u(mp.tanh)
        self._erf, self._erfc = u(mp.erf), u(_erfc)
        self._sin, self._cos = u(mp.sin), u(mp.cos)
        self._abs, self._sign = u(abs), u(mp.sign)
        self._isnan = np.frompyfunc(mp.isnan, 1, 1)
        self._sigmoid = u(lambda v: 1 / (1 + mp.exp(-v)))
        self._max = np.frompyfunc(
            lambda a, b: b if mp.isnan(b) else (a if (mp.isnan(a) or a >= b) else b), 2, 1
        )
        self._min = np.frompyfunc(
            lambda a, b: b if mp.isnan(b) else (a if (mp.isnan(a) or a <= b) else b), 2, 1
        )

    # constants at working precision
    @property
    def pi(self) -> Any:  # type: ignore[override]
        return self._mp.pi

    @property
    def sqrt2(self) -> Any:  # type: ignore[override]
        return self._mp.sqrt(2)

    @property
    def sqrt1_2(self) -> Any:  # type: ignore[override]
        return self._mp.sqrt(self._mp.mpf(1) / 2)

    @property
    def sqrt_2_over_pi(self) -> Any:  # type: ignore[override]
        return self._mp.sqrt(2 / self._mp.pi)

    def _c(self, v: Any) -> Any:
        return self._mp.mpf(v) if isinstance(v, (int, float)) else v

    def exp(self, x: Any) -> Any:
        return self._exp(self._c(x))

    def expm1(self, x: Any) -> Any:
        return self._expm1(self._c(x))

    def log(self, x: Any) -> Any:
        return self._log(self._c(x))

    def log1p(self, x: Any) -> Any:
        return self._log1p(self._c(x))

    def sqrt(self, x: Any) -> Any:
        return self._sqrt(self._c(x))

    def tanh(self, x: Any) -> Any:
        return self._tanh(self._c(x))

    def sigmoid(self, x: Any) -> Any:
        return self._sigmoid(self._c(x))

    def erf(self, x: Any) -> Any:
        return self._erf(self._c(x))

    def erfc(self, x: Any) -> Any:
        return self._erfc(self._c(x))

    def sin(self, x: Any) -> Any:
        return self._sin(self._c(x))

    def cos(self, x: Any) -> Any:
        return self._cos(self._c(x))

    def abs(self, x: Any) -> Any:
        return self._abs(self._c(x))

    def sign(self, x: Any) -> Any:
        return self._sign(self._c(x))

    def isnan(self, x: Any) -> Any:
        return np.asarray(self._isnan(self._c(x)), dtype=bool)

    def maximum(self, a: Any, b: Any) -> Any:
        return self._max(self._c(a), self._c(b))

    def minimum(self, a: Any, b: Any) -> Any:
        return self._min(self._c(a), self._c(b))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return np.where(np.asarray(cond, dtype=bool), self._c(a), self._c(b))


_OPS: Optional[ReferenceOps] = None


def ops() -> ReferenceOps:
    global _OPS
    if _OPS is None:
        _OPS = ReferenceOps()
    return _OPS


def to_mp(x: Any) -> np.ndarray:
    """A float array (any dtype) as an object array of exact mpf values."""
    mp = _mp()
    a = np.asarray(x)
    if a.dtype != object:
        with np.errstate(invalid="ignore"):  # NaN payloads of 16-bit types
            a = a.astype(np.float64)  # exact for every float dtype up to float64
    flat = [mp.mpf(float(v)) if not isinstance(v, mp.mpf) else v for v in a.reshape(-1)]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(a.shape)


def _mp_params(spec: ActivationSpec, params: Mapping[str, Any], ndim: int, axis: int) -> Dict[str, Any]:
    mp = _mp()
    out = {}
    for k, v in params.items():
        if spec.params[k].per_channel and np.ndim(v) and np.size(v) > 1:
            vec = to_mp(np.asarray(v, dtype=np.float64).reshape(-1))
            shape = [1] * ndim
            shape[axis] = vec.size
            out[k] = vec.reshape(shape)
        elif spec.params[k].domain.integral:
            out[k] = int(v)
        elif isinstance(v, (int, float, np.floating, np.integer)) or np.ndim(v) == 0:
            out[k] = mp.mpf(float(np.asarray(v)))
        else:
            out[k] = mp.mpf(float(np.asarray(v).reshape(-1)[0]))
    return out


@_cheap_array_repr
def evaluate(
    spec: ActivationSpec, x: Any, params: Optional[Mapping[str, Any]] = None, *, channel_axis: int = -1
) -> np.ndarray:
    """The formula at ``x`` (exact values of the given floats) at ``DPS`` digits."""
    if spec.kind == "structural":
        raise ActivationError(f"{spec.name} is structural: it has no elementwise reference")
    mp = _mp()
    p = spec.bind(dict(params or {}))
    xm = to_mp(x)
    if not spec.elementwise:  # along an axis: the formula on the whole array (gated: half the size)
        with mp.workdps(DPS):
            return np.asarray(spec.fn(xm, ops(), **_mp_params(spec, p, xm.ndim, channel_axis)), dtype=object)
    inf = np.frompyfunc(mp.isinf, 1, 1)(xm).astype(bool) if xm.size else np.zeros(xm.shape, bool)
    mpp = _mp_params(spec, p, xm.ndim, channel_axis)
    with mp.workdps(DPS):
        y = spec.fn(np.where(inf, mp.mpf(0), xm) if inf.any() else xm, ops(), **mpp)
    y = np.asarray(y, dtype=object)
    y = y if y.shape == xm.shape else np.broadcast_to(y, xm.shape).copy()
    if inf.any():
        if any(np.ndim(v) for v in mpp.values()):
            raise ActivationError("limits at infinity need scalar parameters")
        f = _scalar_fn(spec, mpp)
        for idx in zip(*np.nonzero(inf)):
            y[idx] = limit_at_infinity(f, xm[idx])
    return y


#: the two far points whose values decide a limit at infinity: beyond every
#: float format's range, and far enough apart to tell growth from convergence
_FAR = ("1e400", "1e4000")


def limit_at_infinity(f: Any, t: Any) -> Any:
    """lim f(x) for x -> t (= +-inf): f's value far out if it has settled there,
    +-inf if it keeps growing, NaN if it has no limit (oscillates)."""
    mp = _mp()
    s = 1 if t > 0 else -1
    with mp.workdps(DPS):
        v1, v2 = (f(s * mp.mpf(far)) for far in _FAR)
    if isinstance(v1, mp.mpc) or isinstance(v2, mp.mpc) or mp.isnan(v1) or mp.isnan(v2):
        return mp.nan
    if mp.isinf(v2):
        return v2
    if abs(v2 - v1) <= mp.mpf(10) ** (-40) * max(1, abs(v2)):
        return v2
    if abs(v2) > 100 and abs(v2) > 2 * max(1, abs(v1)) and v1 * v2 > 0:  # log growth: x10 here
        return mp.inf if v2 > 0 else -mp.inf
    return mp.nan


def _scalar_fn(spec: ActivationSpec, p: Mapping[str, Any]) -> Any:
    o = ops()

    def f(t: Any) -> Any:
        arr = np.empty((), dtype=object)
        arr[()] = t
        return np.asarray(spec.fn(arr, o, **p), dtype=object).item()

    return f


def _scalar_grad(spec: ActivationSpec, p: Mapping[str, Any], o: Any) -> Any:
    def g(t: Any) -> Any:
        arr = np.empty((), dtype=object)
        arr[()] = t
        return np.asarray(spec.grad(arr, o, **p), dtype=object).item()

    return g


def _central(f: Any, t: Any) -> Any:
    """d f / d t at high precision (relative step, extra digits)."""
    mp = _mp()
    with mp.workdps(DPS + 40):
        t = mp.mpf(t)
        h = mp.mpf(10) ** (-(DPS // 2)) * max(1, abs(t))
        return (f(t + h) - f(t - h)) / (2 * h)


@_cheap_array_repr
def derivative(
    spec: ActivationSpec, x: Any, params: Optional[Mapping[str, Any]] = None, *, channel_axis: int = -1
) -> np.ndarray:
    """d f / d x at every element of ``x`` (scalar parameters only for the numeric path)."""
    mp = _mp()
    p = spec.bind(dict(params or {}))
    xm = to_mp(x)
    pm = _mp_params(spec, p, 0, 0)
    f = _scalar_fn(spec, pm)
    out = np.empty(xm.shape, dtype=object)
    if spec.grad is not None:
        # the closed form at finite points (exact where a difference quotient
        # underflows; tests/test_grads.py checks it against one); the limits
        # at +-inf and NaN at NaN as for every other spec
        o = ops()
        with mp.workdps(DPS):
            for idx, t in np.ndenumerate(xm):
                if mp.isfinite(t):
                    try:
                        arr = np.empty((), dtype=object)
                        arr[()] = t
                        out[idx] = np.asarray(spec.grad(arr, o, **pm), dtype=object).item()
                        continue
                    except (ZeroDivisionError, ValueError):  # a removable point: the quotient
                        pass
                elif mp.isinf(t) and not mp.isnan(limit_at_infinity(f, t)):
                    # the closed form's own limit (NaN where it oscillates, as snake's)
                    out[idx] = limit_at_infinity(_scalar_grad(spec, pm, o), t)
                    continue
                out[idx] = _deriv_point(f, t)
        return out
    for idx, t in np.ndenumerate(xm):
        out[idx] = _deriv_point(f, t)
    return out


def _deriv_point(f: Any, t: Any) -> Any:
    mp = _mp()
    if mp.isnan(t):
        return mp.nan
    with mp.workdps(DPS):
        v = limit_at_infinity(f, t) if mp.isinf(t) else f(t)
    if (isinstance(v, mp.mpc) and v.imag != 0) or mp.isnan(v):  # outside the domain
        return mp.nan
    if mp.isinf(t):  # the limit of the derivative
        return limit_at_infinity(lambda u: _central(f, u), t)
    if mp.isinf(v):  # at a pole on the domain's edge: the one-sided limit, +-inf
        with mp.workdps(DPS + 40):
            h = mp.mpf(10) ** (-(DPS // 2)) * max(1, abs(t))
            right = f(t + h)
        real_right = not (isinstance(right, mp.mpc) and right.imag != 0) and not mp.isnan(right)
        return -v if real_right and not mp.isinf(right) else v
    return _central(f, t)


@_cheap_array_repr
def param_derivative(
    spec: ActivationSpec, x: Any, params: Optional[Mapping[str, Any]], key: str
) -> np.ndarray:
    """d f / d param at every element of ``x`` (scalar parameters)."""
    p = spec.bind(dict(params or {}))
    xm = to_mp(x)
    base = _mp_params(spec, p, 0, 0)
    out = np.empty(xm.shape, dtype=object)
    for idx, t in np.ndenumerate(xm):

        def g(a: Any, t: Any = t) -> Any:
            q = dict(base)
            q[key] = a
            return _scalar_fn(spec, q)(t)

        out[idx] = _central(g, base[key])
    return out


class ReferenceBackend(_base.Backend):
    """The mpmath reference as a backend (values only; used by tests and checks)."""

    name = NAME
    framework = "mpmath"
    install = "pip install mpmath"
    default_channel_axis = -1
    dtypes = ("float64",)
    guard_specials = False  # mpmath takes the limits itself

    def _make_ops(self) -> Ops:
        return ops()

    def owns(self, x: Any) -> bool:
        return isinstance(x, np.ndarray) and x.dtype == object

    def dtype_name(self, x: Any) -> str:
        return "float64"

    def to_numpy(self, x: Any) -> Any:
        return np.asarray([float(v) for v in np.asarray(x).reshape(-1)]).reshape(np.shape(x))

    def from_numpy(self, a: Any, dtype: Optional[str] = None) -> Any:
        return to_mp(a)

    def _promote(self, x: Any) -> Any:
        return x

    def _demote(self, y: Any, dtype: str) -> Any:
        return y

    def _channel_param(self, value: Any, like: Any, axis: int) -> Any:
        vec = to_mp(np.asarray(value, dtype=np.float64).reshape(-1))
        return vec.reshape(_base.broadcast_shape(like.shape, axis, vec.size, "activation"))

    def make_function(self, spec, kernel, params, options):  # type: ignore[no-untyped-def]
        mp = _mp()
        inner = super().make_function(
            spec, kernel, {k: mp.mpf(v) if isinstance(v, float) else v for k, v in params.items()}, options
        )

        def f(x: Any, **overrides: Any) -> Any:
            with mp.workdps(DPS):
                return inner(x if self.owns(x) else to_mp(x), **overrides)

        f.__name__ = f.__qualname__ = spec.name
        return f

    def make_module(
        self, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
    ) -> Any:
        return self.make_function(spec, kernel, params, options)


backend = ReferenceBackend()
