"""NumPy backend: plain functions and callables, forward only, float64 capable.

float16 (and bfloat16, when ``ml_dtypes`` is installed) are computed in float32
and rounded once. ``erf``/``erfc`` come from SciPy when it is installed,
otherwise from :func:`math.erf` element by element.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np

from .. import _scalar as S
from ..ops import Ops
from ..spec import ActivationSpec, Kernel
from . import _base
from ._layers import NumpyStructural, numpy_callable

NAME = "numpy"


def _is_number(x: Any) -> bool:
    """A Python number; NumPy scalars are not (np.float64 subclasses float, but
    must keep its dtype, as a float32 0-d result must)."""
    return isinstance(x, (int, float)) and not isinstance(x, np.generic)


def _unary(array_fn: Any, scalar_fn: Any) -> Any:
    def f(self: Any, x: Any) -> Any:
        return scalar_fn(x) if _is_number(x) else array_fn(x)

    f.__name__ = array_fn.__name__
    return f


class NumpyOps(Ops):
    name = NAME

    def __init__(self) -> None:
        try:
            from scipy import special

            self._erf, self._erfc = special.erf, special.erfc
        except ImportError:  # pragma: no cover - scipy is a test dependency
            verf, verfc = np.vectorize(math.erf), np.vectorize(math.erfc)

            def erf(x: Any) -> Any:
                x = np.asarray(x)
                return verf(x).astype(x.dtype) if x.size else x.copy()

            def erfc(x: Any) -> Any:
                x = np.asarray(x)
                return verfc(x).astype(x.dtype) if x.size else x.copy()

            self._erf, self._erfc = erf, erfc

    # Python numbers stay Python numbers (a NumPy float64 scalar would promote
    # float32 arrays to float64 under NumPy 2's promotion rules).
    exp = _unary(np.exp, S.exp)
    expm1 = _unary(np.expm1, S.expm1)
    log = _unary(np.log, S.log)
    log1p = _unary(np.log1p, S.log1p)
    sqrt = _unary(np.sqrt, S.sqrt)
    tanh = _unary(np.tanh, S.tanh)
    sin = _unary(np.sin, S.sin)
    cos = _unary(np.cos, S.cos)
    abs = _unary(np.abs, S.abs_)
    sign = _unary(np.sign, S.sign)
    isnan = _unary(np.isnan, S.isnan)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)

    def erf(self, x: Any) -> Any:
        return S.erf(x) if _is_number(x) else self._erf(x)

    def erfc(self, x: Any) -> Any:
        return S.erfc(x) if _is_number(x) else self._erfc(x)

    def sigmoid(self, x: Any) -> Any:
        if _is_number(x):
            return S.sigmoid(x)
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(cond, bool):  # only Python numbers compare to a Python bool
            return a if cond else b
        # a Python number takes the other branch's float dtype, as under NumPy 2's
        # rules: NumPy 1.x would make where(c, 1.0, a) float64 for a 0-d float32 a
        # (all branches scalars), and float32 results float64 downstream
        if _is_number(a) and _float_dtype(b) is not None:
            a = _float_dtype(b).type(a)
        elif _is_number(b) and _float_dtype(a) is not None:
            b = _float_dtype(a).type(b)
        return np.where(cond, a, b)


def _float_dtype(v: Any) -> Any:
    """The dtype of a NumPy floating array or scalar, else None."""
    dt = getattr(v, "dtype", None)
    return dt if dt is not None and dt.kind == "f" else None


def _np_dtype(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


class NumpyBackend(_base.Backend):
    name = NAME
    framework = "numpy"
    install = "pip install numpy"
    default_channel_axis = 1
    differentiable = False  # forward only

    def draw(self, dist: str, like: Any, rng: Any) -> Any:
        """From ``rng`` (a ``numpy.random.Generator``) or, for True, a fresh one."""
        gen = np.random.default_rng() if rng is True else rng
        a = np.asarray(like)
        out = gen.random(a.shape) if dist == "uniform" else gen.standard_normal(a.shape)
        return out.astype(a.dtype)

    def _make_ops(self) -> Ops:
        return NumpyOps()

    def owns(self, x: Any) -> bool:
        return isinstance(x, (np.ndarray, np.generic, float, int, list, tuple))

    def _coerce(self, x: Any) -> Any:
        return x if isinstance(x, (np.ndarray, np.generic)) else np.asarray(x)

    def check_input(self, x: Any, name: str) -> str:
        return super().check_input(self._coerce(x), name)

    def dtype_name(self, x: Any) -> str:
        return str(np.asarray(x).dtype)

    def to_numpy(self, x: Any) -> Any:
        return np.asarray(x)

    def from_numpy(self, a: Any, dtype: Optional[str] = None) -> Any:
        a = np.asarray(a)
        return a.astype(_np_dtype(dtype)) if dtype else a.copy()

    def _promote(self, x: Any) -> Any:
        return np.asarray(x, dtype=np.float32)

    def _demote(self, y: Any, dtype: str) -> Any:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow to inf is the rounding
            return np.asarray(y).astype(_np_dtype(dtype))

    def _channel_param(self, value: Any, like: Any, axis: int) -> Any:
        v = np.asarray(value, dtype=like.dtype)
        shape = _base.broadcast_shape(np.shape(like), axis, v.size, "activation")
        return v.reshape(shape)

    def _build_runner(self, spec, impl, options):  # type: ignore[no-untyped-def]
        # both branches of a `where` are evaluated: an overflow in the unused one
        # is expected and harmless, so floating-point warnings are silenced here
        run = super()._build_runner(spec, impl, options)

        def quiet(x: Any, params: Any, rng: Any = None) -> Any:
            with np.errstate(all="ignore"):
                return run(x, params, rng)

        return quiet

    def _concrete(self, value: Any) -> Optional[float]:
        a = np.asarray(value)
        return float(a.reshape(-1)[0]) if a.size == 1 else None

    def _guarded(self, impl: Any, x: Any, p: Any, lim: Any) -> Any:
        fin = np.isfinite(x)
        if fin.all():  # the common case costs one pass
            return impl(x, **p)
        special = np.isnan(x) if lim is None else ~fin
        y = np.asarray(impl(np.where(special, np.zeros((), x.dtype), x), **p))
        if lim is None:
            fill = np.asarray(np.nan, dtype=y.dtype)
        else:
            lm, _, lp, _ = lim
            fill = np.where(x > 0, np.asarray(lp, y.dtype), np.where(x < 0, np.asarray(lm, y.dtype), np.nan))
        return np.where(special, fill, y).astype(y.dtype, copy=False)

    def _wrap(self, spec, impl, params, options):  # type: ignore[no-untyped-def]
        inner = super()._wrap(spec, impl, params, options)
        coerce = self._coerce

        def f(x: Any, **overrides: Any) -> Any:
            return inner(coerce(x), **overrides)

        f.__name__ = f.__qualname__ = spec.name
        f.__doc__ = spec.docstring("numpy")
        return f

    def make_module(
        self, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
    ) -> Any:
        if spec.kind == "structural":
            return NumpyStructural(self, spec, params, options)
        return numpy_callable(self, spec, kernel, params, options)


backend = NumpyBackend()
