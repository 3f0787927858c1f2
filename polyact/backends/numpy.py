"""NumPy backend: plain functions and callables, forward only, float64 capable.

float16 (and bfloat16, when ``ml_dtypes`` is installed) are computed in float32
and rounded once. ``erf``/``erfc`` come from SciPy when it is installed,
otherwise from :func:`math.erf` element by element.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import numpy as np

from ..ops import Ops
from ..spec import ActivationSpec, Kernel
from . import _base
from ._layers import NumpyStructural, numpy_callable

NAME = "numpy"


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

    exp = staticmethod(np.exp)
    expm1 = staticmethod(np.expm1)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    sqrt = staticmethod(np.sqrt)
    tanh = staticmethod(np.tanh)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    isnan = staticmethod(np.isnan)

    def erf(self, x: Any) -> Any:
        return self._erf(x)

    def erfc(self, x: Any) -> Any:
        return self._erfc(x)

    def sigmoid(self, x: Any) -> Any:
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return np.where(cond, a, b)


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
        return np.asarray(y).astype(_np_dtype(dtype))

    def _channel_param(self, value: Any, like: Any, axis: int) -> Any:
        v = np.asarray(value, dtype=like.dtype)
        shape = _base.broadcast_shape(np.shape(like), axis, v.size, "activation")
        return v.reshape(shape)

    def _wrap(self, spec, impl, params, options):  # type: ignore[no-untyped-def]
        inner = super()._wrap(spec, impl, params, options)
        coerce = self._coerce

        def f(x: Any, **overrides: Any) -> Any:
            return inner(coerce(x), **overrides)

        f.__name__ = f.__qualname__ = spec.name
        f.__doc__ = spec.summary
        return f

    def make_module(
        self, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
    ) -> Any:
        if spec.kind == "structural":
            return NumpyStructural(self, spec, params, options)
        return numpy_callable(self, spec, kernel, params, options)


backend = NumpyBackend()
