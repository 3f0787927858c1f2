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
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

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


#: inputs with at least this many elements run the guard and the kernel as one
#: jitted computation; smaller ones run eagerly (see ``JaxBackend._core``)
JIT_MIN_SIZE = 1 << 17

#: JAX platform names -> the device names of the calibration table (and of
#: ``polyact bench --device``), where they differ
_PLATFORMS = {"gpu": "cuda"}


def _size(x: Any) -> int:
    shape = getattr(x, "shape", ())
    n = 1
    for d in shape:
        n *= int(d)
    return n


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


def _specials(jax: Any, full: bool) -> Any:
    """``fix(x, y, lim)``: ``where(special, L(x), y)`` whose derivative at special
    inputs is the limit derivative (NaN at NaN), see :mod:`polyact._limits`.
    ``lim`` = (f(-inf), f'(-inf), f(+inf), f'(+inf)) may be traced values: new
    limits do not recompile."""
    fn = _SPECIALS.get(full)
    if fn is not None:
        return fn
    jnp = jax.numpy

    def special(x: Any) -> Any:
        return ~jnp.isfinite(x) if full else jnp.isnan(x)

    def fill(x: Any, neg: Any, pos: Any) -> Any:
        return jnp.where(x > 0, pos, jnp.where(x < 0, neg, jnp.nan)).astype(x.dtype)

    @jax.custom_vjp
    def fix(x: Any, y: Any, lim: Any) -> Any:
        return jnp.where(special(x), fill(x, lim[0], lim[2]), y)

    def fwd(x: Any, y: Any, lim: Any) -> Any:
        return fix(x, y, lim), (x, lim)

    def bwd(res: Any, g: Any) -> Any:
        x, lim = res
        s = special(x)
        zero = jnp.zeros_like(g)
        # double where: no 0 * inf in the derivative of this VJP (second order)
        gx = jnp.where(s, fill(x, lim[1], lim[3]), zero) * jnp.where(s, g, zero)
        return gx, jnp.where(s, zero, g), jax.tree_util.tree_map(jnp.zeros_like, lim)

    fix.defvjp(fwd, bwd)
    _SPECIALS[full] = fix
    return fix


def _static_key(value: Any) -> Any:
    """A hashable key telling Python parameter values apart (-0.0 from 0.0,
    NaN equal to itself, 1 from 1.0)."""
    if isinstance(value, (numbers.Real, np.generic)):
        return (type(value).__name__, repr(value))
    try:
        hash(value)
    except TypeError:  # a list or other unhashable constant: its text
        return (type(value).__name__, repr(value))
    return (type(value).__name__, value)


def _split_params(p: Mapping[str, Any]) -> Tuple[Tuple[Tuple[str, Any], ...], Any, Dict[str, Any]]:
    """(static items, their hashable key, traced items) of a parameter dict:
    Python numbers (and other non-arrays) stay Python values, since formulas may
    branch on them (``if b > 0``); arrays, tracers and noise are traced."""
    static = []
    traced: Dict[str, Any] = {}
    for k, v in p.items():
        if hasattr(v, "shape") and not isinstance(v, np.generic):
            traced[k] = v
        else:
            static.append((k, v))
    items = tuple(static)
    return items, tuple((k, _static_key(v)) for k, v in items), traced


_NAN4 = (float("nan"),) * 4


class _LRU:
    """A small least-recently-used cache (compiled functions per parameter set)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        with self.lock:
            hit = self.data.get(key)
            if hit is not None:
                self.data.move_to_end(key)
                return hit
        value = make()
        with self.lock:
            self.data[key] = value
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


def _fused_impl(jax: Any, ops: Ops, spec: ActivationSpec) -> Callable[..., Any]:
    """The fused kernel of ``spec``: forward ``spec.fast`` where the spec
    declares one, else jax's own op where it meets the contract for these
    parameters, else ``spec.fn``; backward ``g * spec.grad(x)`` from the saved
    input. Array parameters (trainable, per-channel, noise) get their
    cotangents from the formula's VJP, recomputed in backward; Python-number
    parameters are constants of the function."""
    formula, grad, fn = spec.fast or spec.fn, spec.grad, spec.fn
    native = spec.native.get(NAME)
    cache = _LRU(256)

    def native_ok(consts: Dict[str, Any]) -> bool:
        if native is None or native.eligible is False:
            return False
        if native.eligible is True:
            return True
        try:
            return bool(native.eligible(spec.bind(consts)))
        except Exception:  # array parameters left out of consts: no verdict
            return False

    def make(static: Tuple[Tuple[str, Any], ...]) -> Any:
        consts = dict(static)
        # a declared fast form beats jax's own op here: XLA fuses either into
        # one loop, and the fast forms spend fewer transcendentals (mish: one
        # exp against jax.nn.mish's exp, log1p and tanh: the fused forward at
        # 16M took 38 ms against 47-55 for jax.nn.mish)
        use_native = spec.fast is None and native_ok(consts)

        def forward(x: Any, **p: Any) -> Any:
            if use_native and not p.keys() - consts.keys():  # no array parameters
                return native.fn(jax, x, **p)  # type: ignore[union-attr]
            return formula(x, ops, **p)

        @jax.custom_vjp
        def f(x: Any, arrays: Dict[str, Any]) -> Any:
            return forward(x, **consts, **arrays)

        def f_fwd(x: Any, arrays: Dict[str, Any]) -> Any:
            return f(x, arrays), (x, arrays)

        def f_bwd(res: Any, g: Any) -> Any:
            x, arrays = res
            gx = g * grad(x, ops, **consts, **arrays)
            if not arrays:
                return gx, arrays
            _, vjp = jax.vjp(lambda a: fn(x, ops, **consts, **a), arrays)
            (ga,) = vjp(g)
            return gx, ga

        f.defvjp(f_fwd, f_bwd)

        def primal(x: Any, arrays: Dict[str, Any]) -> Any:
            return forward(x, **consts, **arrays)

        return f, primal

    tracer = jax.core.Tracer

    def fused(x: Any, **p: Any) -> Any:
        static, key, arrays = _split_params(p)
        f, primal = cache.get(key, lambda: make(static))
        # concrete input and parameters: nothing can be differentiated (JAX
        # differentiates tracers only), so the forward runs without the
        # custom_vjp's eager dispatch (about 100 us on a small array)
        if not isinstance(x, tracer) and not any(isinstance(a, tracer) for a in arrays.values()):
            return primal(x, arrays)
        return f(x, arrays)

    return fused


def _compiled_impl(jax: Any, ops: Ops, spec: ActivationSpec) -> Callable[..., Any]:
    """The compiled kernel of ``spec``: ``jax.jit`` of the composed formula, array
    parameters traced (new values reuse the compilation), Python numbers baked in."""
    fn = spec.fn
    cache = _LRU(256)

    def make(static: Tuple[Tuple[str, Any], ...]) -> Any:
        consts = dict(static)
        return jax.jit(lambda x, arrays: fn(x, ops, **consts, **arrays))

    def compiled(x: Any, **p: Any) -> Any:
        static, key, arrays = _split_params(p)
        return cache.get(key, lambda: make(static))(x, arrays)

    return compiled


class JaxBackend(_base.Backend):
    name = NAME
    #: XLA on CPU computes with denormals-are-zero: a subnormal input acts as a signed zero
    flushes_subnormal_inputs = True
    framework = "jax"
    install = "pip install jax flax"
    default_channel_axis = -1

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._tables: Dict[int, Tuple[ActivationSpec, Dict[str, Kernel]]] = {}
        self._jit_kinds: Dict[int, Tuple[Any, Optional[str]]] = {}
        self._cores = _LRU(1024)
        self._fixes: Dict[bool, Any] = {}

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

    def check_input(self, x: Any, name: str) -> str:
        # fast path of every eager call: a concrete array of a floating dtype
        fast = self.__dict__.get("_fast_input")
        if fast is None:
            jnp = self.fw.numpy
            names = {np.dtype(getattr(jnp, d)): d for d in _base.FLOAT}
            fast = self.__dict__["_fast_input"] = (self._array_type(), names)
        if type(x) is fast[0]:
            dt = fast[1].get(x.dtype)
            if dt is not None:
                return dt
        return super().check_input(x, name)

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

    def _array_type(self) -> Any:
        """The type of JAX's concrete arrays. Made under ``ensure_compile_time_eval``:
        the first call may come inside a ``jit`` trace, where a new array is a tracer."""
        jax = self.fw
        with jax.ensure_compile_time_eval():
            t = type(jax.numpy.zeros(()))
        if issubclass(t, jax.core.Tracer):  # pragma: no cover (a JAX without compile-time eval)
            raise RuntimeError(f"could not make a concrete JAX array (got a {t.__name__})")
        return t

    def _cpu_array(self) -> Any:
        """The concrete array type when JAX runs on CPU only (then NumPy reads an
        array's buffer in place), else False."""
        t = self.__dict__.get("_cpu_array_type")
        if t is None:
            jax = self.fw
            only_cpu = all(d.platform == "cpu" for d in jax.devices())
            t = self.__dict__["_cpu_array_type"] = self._array_type() if only_cpu else False
        return t

    def _device_of(self, x: Any) -> Optional[str]:
        """The calibration table's device for a call on ``x`` (see
        :func:`polyact._calibration.device_key`), so that an array on a GPU
        reads the GPU's rankings (``"jax:cuda"``), never the CPU's. None on a
        CPU-only JAX; otherwise the platform of the array's device, or of
        JAX's default backend for a tracer (where ``jit`` compiles) or a
        non-JAX input, with ``"gpu"`` named ``"cuda"`` as in ``polyact bench
        --device cuda``."""
        if self._cpu_array() is not False:
            return None
        jax = self.fw
        devices = None if isinstance(x, jax.core.Tracer) else getattr(x, "devices", None)
        if devices is None:
            platform = jax.default_backend()
        else:
            platform = next(iter(devices())).platform
        return _PLATFORMS.get(platform, platform)

    def _bare_check(self, spec: ActivationSpec) -> Any:
        # Eager calls on small arrays on a CPU-only JAX: NumPy reads the buffer in
        # place and it is checked on the host (_base.finite_on_host, about 1 us),
        # so a finite input runs the kernel bare instead of the guard's op-by-op
        # computation (about 250 us). Large inputs keep the guard fused into the
        # kernel's one jitted computation: a separate finiteness pass cost more
        # (relu 1.13x the raw op against 1.09x, mish 1.08x against 1.03x at 16M).
        # Tracers (jit, grad, vmap) always run the guard. (Kernels that already give the
        # limits are not run bare on special inputs as on torch: their NaNs are
        # negative, the guard's positive, and eager calls must give the bits of
        # vmap'd ones, which take the guard.) Every eager call of a module or
        # function asks, so this is one closure; the concrete-array type is
        # looked up when the first call comes.
        cpu: List[Any] = []
        asarray, finite = np.asarray, _base.finite_on_host

        def runs_bare(x: Any, impl: Any, params: Any) -> bool:
            if not cpu:
                cpu.append(self._cpu_array())
            if type(x) is not cpu[0]:
                return False
            return x.size < JIT_MIN_SIZE and finite(asarray(x))

        return runs_bare

    def _guarded(self, impl: Any, x: Any, p: Any, lim: Any) -> Any:
        # one jitted computation (guard + kernel) per kernel, parameter set and
        # dtype/shape; kernels that are not compile-safe run eagerly around the
        # jitted fix-up. Limits are traced when a parameter is an array, so new
        # parameter arrays never recompile (constants otherwise: see _core).
        full = lim is not None
        lim_args = tuple(float(v) for v in lim) if full else _NAN4
        core = self._core(impl, full, p, x, lim_args)
        if core is not None:
            fn, arrays = core
            return fn(x, arrays, lim_args)
        jnp = self.fw.numpy
        special = ~jnp.isfinite(x) if full else jnp.isnan(x)
        y = impl(jnp.where(special, jnp.zeros((), x.dtype), x), **p)
        return self._fix(full)(x, y, lim_args)

    def _fix(self, full: bool) -> Any:
        fn = self._fixes.get(full)
        if fn is None:
            fn = self._fixes[full] = self.fw.jit(_specials(self.fw, full))
        return fn

    def _core(
        self,
        impl: Any,
        full: bool,
        p: Mapping[str, Any],
        x: Any = None,
        lim: Optional[Tuple[float, ...]] = None,
    ) -> Optional[Tuple[Any, Dict[str, Any]]]:
        """(jitted guard + ``impl``, its traced parameters), or None when ``impl``
        is not a compile-safe kernel. ``lim``: the limits of a call whose
        parameters are all Python values. They follow from those values, which
        the computation is compiled for anyway, so they are compiled in as
        constants (XLA folds the fill-in: relu's jitted guard at 16M costs 1.048x
        the bare op against 1.076x with traced limits, medians of 25 interleaved
        rounds); traced parameters keep them traced."""
        entry = self._jit_kinds.get(id(impl))
        if entry is None or entry[0] is not impl:
            entry = (impl, self._jit_kind(impl))
            with self._lock:
                if len(self._jit_kinds) > 4096:
                    self._jit_kinds.clear()
                self._jit_kinds[id(impl)] = entry
        kind = entry[1]
        if kind is None:
            return None
        static, key, arrays = _split_params(p)
        jax = self.fw
        fixed_lim = lim if lim is not None and not arrays else None
        if fixed_lim is not None:
            key = (key, tuple(_static_key(v) for v in fixed_lim))

        def make() -> Any:
            jnp = jax.numpy
            fix = _specials(jax, full)
            consts = dict(static)

            def body(x: Any, arrs: Dict[str, Any], lim: Any) -> Any:
                special = ~jnp.isfinite(x) if full else jnp.isnan(x)
                y = impl(jnp.where(special, jnp.zeros((), x.dtype), x), **consts, **arrs)
                return fix(x, y, lim if fixed_lim is None else fixed_lim)

            # keep only the input for backward: the guard's masks and the kernel's
            # intermediates are recomputed in one fused backward pass, which at 16M
            # is about 2x faster than reading them back (silu native f+b 52 vs 157
            # ms). ``composed`` stays the op-by-op baseline, residuals and all.
            if kind in ("fused", "native", "compiled"):
                body = jax.checkpoint(body, policy=jax.checkpoint_policies.nothing_saveable)
            return (impl, jax.jit(body), body)

        hit = self._cores.get((id(impl), full, key), make)
        if hit[0] is not impl:  # an id reused by a new function: replace the stale entry
            hit = make()
            self._cores.data[(id(impl), full, key)] = hit
        # one compiled computation pays off on large inputs; on small ones its
        # compile (per kernel, parameter set and shape) costs more than it saves,
        # and the eager ops (compiled once per shape for every activation) run it.
        # The choice depends on the size only: switching after some calls would
        # change results by an ULP (XLA fuses), and repeated calls are bit-identical.
        return (hit[1] if _size(x) >= JIT_MIN_SIZE else hit[2]), arrays

    def _jit_kind(self, impl: Any) -> Optional[str]:
        """The kind of the compile-safe kernel whose impl is ``impl``, or None."""
        for table in (*(t for _, t in self._tables.values()), *self._user_tables()):
            for k in table.values():
                if k.impl is impl:
                    return k.kind if k.compile_safe else None
        return None

    def _user_tables(self) -> Any:
        from .. import registry

        return [t for (_, b), t in list(registry._kernels.items()) if b == NAME]

    def builtin_kernels(self, spec: ActivationSpec) -> Dict[str, Kernel]:
        # built once per spec: stable impls keep their jitted guards
        hit = self._tables.get(id(spec))
        if hit is None or hit[0] is not spec:
            hit = (spec, super().builtin_kernels(spec))
            with self._lock:
                self._tables[id(spec)] = hit
        return dict(hit[1])

    def extra_kernels(self, spec: ActivationSpec) -> Dict[str, Kernel]:
        jax, ops = self.fw, self.ops
        out: Dict[str, Kernel] = {}
        if spec.grad is not None:
            out["fused"] = Kernel(
                "fused",
                NAME,
                "fused",
                _fused_impl(jax, ops, spec),
                onnx=False,
                note="jax.custom_vjp: saves only the input, backward from the closed-form derivative",
            )
        out["compiled"] = Kernel(
            "compiled",
            NAME,
            "compiled",
            _compiled_impl(jax, ops, spec),
            onnx=False,
            note="jax.jit of the formula",
        )
        return out

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
