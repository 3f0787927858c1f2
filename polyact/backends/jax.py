"""JAX backend: pure callables, ``flax.nnx`` modules and plain functions.

Stateless activations are pure callable objects that work under ``jax.jit``,
``jax.grad`` and ``jax.vmap``; activations with trainable parameters are
``flax.nnx.Module`` subclasses holding ``nnx.Param`` (scalar, or
``(num_channels,)`` broadcast along an explicit ``channel_axis``, default -1 =
channels last); structural activations (funnel_relu) are ``nnx.Module``s with
``nnx.Conv``/``nnx.BatchNorm`` sub-layers on NHWC input.

Half precision is computed in float32 and rounded once (JAX on CPU computes
float16 natively and loses accuracy). float64 works when ``jax_enable_x64`` is
on; the backend never flips that flag.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .. import _scalar as S
from ..errors import ActivationError
from ..ops import Ops
from ..spec import ActivationSpec, Kernel
from . import _base

NAME = "jax"


def _is_scalar(x: Any) -> bool:
    """A plain Python (or NumPy scalar) real number, not an array or tracer."""
    if isinstance(x, np.generic):
        return True
    return isinstance(x, numbers.Real) and not hasattr(x, "shape")


class JaxOps(Ops):
    """The primitives on ``jax.numpy``; Python numbers stay Python floats."""

    name = NAME

    def __init__(self, jax: Any) -> None:
        import jax.numpy as jnp
        import jax.scipy.special as jsp

        self.j = jax
        self.jnp = jnp
        self._erf_fn = jsp.erf
        self._erfc_fn = jsp.erfc

    def _u(self, jf: Any, sf: Any, x: Any) -> Any:
        return sf(float(x)) if _is_scalar(x) else jf(x)

    def exp(self, x: Any) -> Any:
        return self._u(self.jnp.exp, S.exp, x)

    def expm1(self, x: Any) -> Any:
        return self._u(self.jnp.expm1, S.expm1, x)

    def log(self, x: Any) -> Any:
        return self._u(self.jnp.log, S.log, x)

    def log1p(self, x: Any) -> Any:
        return self._u(self.jnp.log1p, S.log1p, x)

    def sqrt(self, x: Any) -> Any:
        return self._u(self.jnp.sqrt, S.sqrt, x)

    def tanh(self, x: Any) -> Any:
        return self._u(self.jnp.tanh, S.tanh, x)

    def sigmoid(self, x: Any) -> Any:
        # jax.nn.sigmoid is lax.logistic: stable for every x, derivative s(x)*s(-x)
        return self._u(self.j.nn.sigmoid, S.sigmoid, x)

    def erf(self, x: Any) -> Any:
        return self._u(self._erf_fn, S.erf, x)

    def erfc(self, x: Any) -> Any:
        return self._u(self._erfc_fn, S.erfc, x)

    def sin(self, x: Any) -> Any:
        return self._u(self.jnp.sin, S.sin, x)

    def cos(self, x: Any) -> Any:
        return self._u(self.jnp.cos, S.cos, x)

    def abs(self, x: Any) -> Any:
        return self._u(self.jnp.abs, S.abs_, x)

    def sign(self, x: Any) -> Any:
        return self._u(self.jnp.sign, S.sign, x)

    def isnan(self, x: Any) -> Any:
        return self._u(self.jnp.isnan, S.isnan, x)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(cond, (bool, np.bool_)):
            return a if cond else b
        return self.jnp.where(cond, a, b)

    def sum(self, x: Any, axis: int) -> Any:
        return self.jnp.sum(x, axis=axis, keepdims=True)

    def amax(self, x: Any, axis: int) -> Any:
        return self.j.lax.stop_gradient(self.jnp.max(x, axis=axis, keepdims=True))

    def cumsum(self, x: Any, axis: int) -> Any:
        return self.jnp.cumsum(x, axis=axis)

    def sort(self, x: Any, axis: int) -> Any:
        return self.jnp.sort(x, axis=axis)

    def split2(self, x: Any, axis: int) -> Any:
        from ..ops import _check_even

        _check_even(x.shape, axis)
        return tuple(self.jnp.split(x, 2, axis=axis))

    def odd(self, x: Any, axis: int) -> Any:
        from ..ops import _odd_mask

        return _odd_mask(self.jnp, tuple(x.shape), axis)

    def groups(self, x: Any, axis: int, k: int) -> Any:
        from ..ops import _group_axis

        shape = tuple(x.shape)
        axis = _group_axis(shape, axis, k)
        r = self.jnp.reshape(x, (*shape[:axis], shape[axis] // k, k, *shape[axis + 1 :]))
        return tuple(self.jnp.take(r, j, axis=axis + 1) for j in range(k))

    def maximum(self, a: Any, b: Any) -> Any:
        if _is_scalar(a) and _is_scalar(b):
            return S.maximum(float(a), float(b))
        return self.jnp.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        if _is_scalar(a) and _is_scalar(b):
            return S.minimum(float(a), float(b))
        return self.jnp.minimum(a, b)

    def softplus(self, x: Any) -> Any:
        # jax.nn.softplus = logaddexp(x, 0) = max(x, 0) + log1p(exp(-|x|)) with a
        # custom JVP: softplus'(0) = 1/2, finite value and gradient for every
        # finite x, softplus(inf) = inf, NaN in -> NaN out (checked in the tests).
        if _is_scalar(x):
            return super().softplus(float(x))
        return self.j.nn.softplus(x)


_SPECIALS: Dict[Any, Any] = {}


def _specials(jax: Any, lim: Tuple[float, float, float, float], full: bool) -> Any:
    """``fix(x, y)``: ``where(special, L(x), y)`` whose derivative at special
    inputs is the limit derivative (NaN at NaN), see :mod:`polyact._limits`."""
    key = (tuple(repr(v) for v in lim), full)  # NaN != NaN: key on the text
    fn = _SPECIALS.get(key)
    if fn is not None:
        return fn
    jnp = jax.numpy
    lm, dm, lp, dp = lim

    def special(x: Any) -> Any:
        return ~jnp.isfinite(x) if full else jnp.isnan(x)

    def fill(x: Any, neg: float, pos: float) -> Any:
        return jnp.where(x > 0, pos, jnp.where(x < 0, neg, jnp.nan)).astype(x.dtype)

    @jax.custom_vjp
    def fix(x: Any, y: Any) -> Any:
        return jnp.where(special(x), fill(x, lm, lp), y)

    def fwd(x: Any, y: Any) -> Any:
        return fix(x, y), x

    def bwd(x: Any, g: Any) -> Any:
        s = special(x)
        zero = jnp.zeros_like(g)
        # double where: no 0 * inf in the derivative of this VJP (second order)
        return jnp.where(s, fill(x, dm, dp), zero) * jnp.where(s, g, zero), jnp.where(s, zero, g)

    fix.defvjp(fwd, bwd)
    _SPECIALS[key] = fix
    return fix


class JaxBackend(_base.Backend):
    name = NAME
    #: XLA on CPU computes with denormals-are-zero: a subnormal input acts as a signed zero
    flushes_subnormal_inputs = True
    framework = "jax"
    install = "pip install jax flax"
    default_channel_axis = -1

    def _make_ops(self) -> Ops:
        return JaxOps(self.fw)

    # ------------------------------------------------------------------ dtypes
    @property  # type: ignore[override]
    def dtypes(self) -> Tuple[str, ...]:  # float64 only under jax_enable_x64
        try:
            x64 = self.x64_enabled()
        except ImportError:  # jax missing: BackendNotInstalledError is an ImportError
            x64 = False
        return _base.FLOAT if x64 else tuple(d for d in _base.FLOAT if d != "float64")

    def x64_enabled(self) -> bool:
        """Whether float64 arrays are possible right now (``jax_enable_x64``,
        globally or through the ``jax.enable_x64`` context)."""
        return bool(self.fw.dtypes.canonicalize_dtype(np.float64) == np.float64)

    def owns(self, x: Any) -> bool:
        # jax.Array and every tracer (jit, grad, vmap) come from modules rooted at
        # "jax"/"jaxlib"; isinstance(., jax.Array) catches anything registered as one
        # without importing jax here.
        if _base.owner_of(x) == NAME:
            return True
        jax = sys.modules.get("jax")
        array = getattr(jax, "Array", None) if jax is not None else None
        return array is not None and isinstance(x, array)

    def dtype_name(self, x: Any) -> str:
        return str(np.dtype(x.dtype))

    def to_numpy(self, x: Any) -> Any:
        return np.asarray(x)

    def from_numpy(self, a: Any, dtype: Optional[str] = None) -> Any:
        jnp = self.fw.numpy
        a = np.asarray(a)
        if dtype == "float64" and not self.x64_enabled():
            raise ActivationError(
                "float64 arrays on JAX need 64-bit mode: jax.config.update('jax_enable_x64', True) "
                "(or the jax.enable_x64() context)."
            )
        # copy: jnp.asarray can alias a NumPy buffer on CPU, and the caller may mutate it
        a = np.array(a, copy=True)
        return jnp.array(a) if dtype is None else jnp.array(a, dtype=dtype)

    def _promote(self, x: Any) -> Any:
        return x.astype(self.fw.numpy.float32)

    def _demote(self, y: Any, dtype: str) -> Any:
        return y.astype(dtype)

    def _concrete(self, value: Any) -> Optional[float]:
        if _is_scalar(value):
            return float(value)
        if isinstance(value, self.fw.core.Tracer):
            return None
        a = np.asarray(value)
        return float(a.reshape(-1)[0]) if a.size == 1 else None

    def _guarded(self, impl: Any, x: Any, p: Any, lim: Any) -> Any:
        jnp = self.fw.numpy
        full = lim is not None
        special = ~jnp.isfinite(x) if full else jnp.isnan(x)
        y = impl(jnp.where(special, jnp.zeros((), x.dtype), x), **p)
        nan = float("nan")
        return _specials(self.fw, tuple(lim) if full else (nan, nan, nan, nan), full)(x, y)

    def _cast_param(self, value: Any, like: Any) -> Any:
        if _is_scalar(value) or not self.owns(value):
            return value
        if value.dtype != like.dtype:
            return value.astype(like.dtype)
        return value

    def _channel_param(self, value: Any, like: Any, axis: int) -> Any:
        jnp = self.fw.numpy
        if self.owns(value):
            v = value.astype(like.dtype) if value.dtype != like.dtype else value
        else:
            v = jnp.asarray(np.asarray(value, dtype=np.float64).astype(np.dtype(like.dtype)))
        v = v.reshape(-1)
        return v.reshape(_base.broadcast_shape(tuple(like.shape), axis, int(v.shape[0]), "activation"))

    # ------------------------------------------------------------------ objects
    def draw(self, dist: str, like: Any, rng: Any) -> Any:
        """From ``rng``, a JAX PRNG key (there is no global generator)."""
        r = self.fw.random
        make = r.uniform if dist == "uniform" else r.normal
        return make(rng, like.shape, like.dtype)

    def training_rng(self, spec: ActivationSpec, rng: Any) -> Any:
        if rng is None or rng is True:
            raise ActivationError(
                f"{spec.name} is stochastic: in training mode on JAX pass an explicit key, "
                f"f(x, training=True, rng=jax.random.key(0)) (a fresh key per call)."
            )
        return rng

    def make_module(
        self, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
    ) -> Any:
        from ._jax_modules import build_module

        return build_module(self, spec, kernel, params, options)

    def value_and_grad(self, f: Any, x: Any) -> Tuple[Any, Any]:
        jax = self.fw
        y, vjp = jax.vjp(f, x)
        (g,) = vjp(jax.numpy.ones_like(y))
        return y, g

    def param_grads(self, module: Any, x: Any) -> Tuple[Any, Dict[str, Any]]:
        from ._jax_modules import param_grads

        return param_grads(module, x)


backend = JaxBackend()
