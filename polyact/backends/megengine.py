"""MegEngine backend: ``megengine.module.Module`` objects and plain functions.

MegEngine 1.13 ships wheels for CPython <= 3.10 only. Facts this module relies
on (checked against the 1.13.0 sources and by running them):

- There is no public ``erf``/``erfc``: the elementwise modes are reached through
  ``megengine.module.Elemwise("erf")`` / ``Elemwise("erfc")`` (their gradients
  are the exact 2/sqrt(pi) exp(-x^2)).
- ``F.sigmoid``'s gradient is ``y * (1 - y)``, which is 0 for x >= 17 (the
  "s*(1-s)" trap); :meth:`MegEngineOps.sigmoid` keeps its values and takes the
  gradient ``s(x) s(-x)`` (an ``autodiff.Function``).
- ``F.where`` (a subgraph: cast, two ``switch_gt0``, a subtraction and an
  addition) and comparisons are slow on CPU: about 90 ms and 17 ms at 4M
  elements where ``x * 2`` takes 2 ms.
- ``F.sign(NaN)`` is 0 and ``F.abs``' gradient is -1 at 0 and at NaN; the ops
  below propagate NaN and give abs'(0) = 0.
- ``F.softplus`` is log1p(exp(-|x|)) + relu(x) with a dedicated gradient mode:
  softplus'(0) = 0.5 exactly, no overflow at +-1000, NaN -> NaN, so it is used.
- float32 -> float16 ``astype`` rounds ties away from zero, not to even; the
  half-precision demotion below corrects ties so results are correctly rounded
  (float32 -> bfloat16 is already round-to-nearest-even).
- There is no float64: ``float64`` arrays become float32 tensors.
- ``BatchNorm2d(momentum=m)`` keeps ``m * running + (1 - m) * batch``: the
  opposite of torch, so torch's 0.1 is MegEngine's 0.9.
- Importing MegEngine turns on flush-to-zero / denormals-are-zero in the
  importing thread (NumPy included there); its own kernels flush subnormals
  whatever that thread's mode. The backend imports MegEngine between a save and
  a restore of the thread's floating-point environment, so NumPy keeps IEEE
  subnormals (see ``_keeping_fp_environment``).
- ``megengine.jit.trace`` objects called under a ``GradManager`` must have been
  recorded under one ("trace error because data unreadable" otherwise), and the
  other way round: the compiled kernel keeps one trace per gradient mode.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections import OrderedDict
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

import numpy as np

from .. import _scalar as S
from ..errors import InvalidInputError
from ..ops import Ops
from ..spec import ActivationSpec, Kernel
from . import _base

NAME = "megengine"


def torch_momentum_to_megengine(momentum: float) -> float:
    """BatchNorm momentum: torch's weight of the batch statistic -> MegEngine's
    weight of the running value (``M.BatchNorm2d`` keeps ``m * running + (1 - m) * batch``)."""
    return 1.0 - float(momentum)


def _is_float(dtype: Any) -> bool:
    d = np.dtype(dtype)
    return d.kind == "f" or d.name.endswith("bfloat16")


# --------------------------------------------------------------------------- ops
def _sigmoid_function(mge: Any) -> Any:
    """The sigmoid as a ``megengine.autodiff.Function``: ``F.sigmoid`` forward,
    ``dy * s(x) * s(-x)`` backward (no cancellation in either tail; NaN -> NaN)."""
    F = mge.functional

    class Sigmoid(mge.autodiff.Function):
        def forward(self, x: Any) -> Any:
            self.x = x
            return F.sigmoid(x)

        def backward(self, dy: Any) -> Any:
            x = self.x
            return dy * (F.sigmoid(x) * F.sigmoid(-x))

    return Sigmoid


_EXP_SPLIT = 87.3  # not a round number: an input exactly at the split is unlikely (tie gradients)


class MegEngineOps(Ops):
    """The primitives on MegEngine tensors (and on Python numbers, via ``math``)."""

    name = NAME

    def __init__(self, mge: Any) -> None:
        self.mge = mge
        self.F = mge.functional
        self.T = mge.Tensor
        self._erf = mge.module.Elemwise("erf")
        self._erfc = mge.module.Elemwise("erfc")
        self._sigmoid = _sigmoid_function(mge)

    def __getstate__(self) -> Dict[str, Any]:  # pragma: no cover - ops are per process
        raise TypeError("MegEngineOps is not picklable; use polyact.get_backend('megengine').ops")

    def _u(self, tf: Any, sf: Any, x: Any) -> Any:
        return tf(x) if isinstance(x, self.T) else sf(x)

    def _const(self, v: Any, like: Any) -> Any:
        """A 0-d tensor holding ``v`` with the dtype and device of ``like``."""
        dtype = like.dtype if _is_float(like.dtype) else "float32"
        return self.mge.tensor(v, dtype=dtype, device=like.device)

    # ------------------------------------------------------------ primitives
    def exp(self, x: Any) -> Any:
        # MegEngine's vectorised exp saturates at 2.406e38 from x = 88.38 on (16+
        # elements): finite instead of inf, and up to 30% low below ln(max). Split
        # as exp(min(x, c)) * exp(max(x - c, 0)) with c = 87.3 (exact below c: the
        # second factor is 1; above, both factors are in range and the product
        # overflows to inf where it should). No `where` (a five-op subgraph here).
        if not isinstance(x, self.T):
            return S.exp(x)
        F = self.F
        return F.exp(F.minimum(x, _EXP_SPLIT)) * F.exp(F.maximum(x - _EXP_SPLIT, 0.0))

    def exp_in_range(self, x: Any) -> Any:
        # the argument is at most 80 (the caller's promise): below the saturation
        return self._u(self.F.exp, S.exp, x)

    def expm1(self, x: Any) -> Any:
        return self._u(self.F.expm1, S.expm1, x)

    def log(self, x: Any) -> Any:
        return self._u(self.F.log, S.log, x)

    def log1p(self, x: Any) -> Any:
        return self._u(self.F.log1p, S.log1p, x)

    def sqrt(self, x: Any) -> Any:
        return self._u(self.F.sqrt, S.sqrt, x)

    def tanh(self, x: Any) -> Any:
        return self._u(self.F.tanh, S.tanh, x)

    def sigmoid(self, x: Any) -> Any:
        if not isinstance(x, self.T):
            return S.sigmoid(x)
        # F.sigmoid's values are right (within 2.1 ulp, as the split at 0 was), its
        # gradient y (1 - y) is not (0 for x >= 17): a Function with s(x) s(-x), one op
        # forward instead of two comparisons, two F.where and a subtraction
        return self._sigmoid()(x)

    def erf(self, x: Any) -> Any:
        return self._u(self._erf, S.erf, x)

    def erfc(self, x: Any) -> Any:
        return self._u(self._erfc, S.erfc, x)

    def sin(self, x: Any) -> Any:
        return self._u(self.F.sin, S.sin, x)

    def cos(self, x: Any) -> Any:
        return self._u(self.F.cos, S.cos, x)

    def sign(self, x: Any) -> Any:
        if not isinstance(x, self.T):
            return S.sign(x)
        xd = x.detach()
        # F.sign(NaN) is 0; the sign carries no gradient (as in torch and JAX)
        return self.where(self.F.isnan(xd), xd, self.F.sign(xd))

    def abs(self, x: Any) -> Any:
        if not isinstance(x, self.T):
            return abs(x)
        # x * sign(x): exact, NaN -> NaN with gradient NaN, abs'(0) = 0 (F.abs gives -1 at 0 and NaN)
        return x * self.sign(x)

    def isnan(self, x: Any) -> Any:
        return self._u(self.F.isnan, S.isnan, x)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(cond, (bool, np.bool_)):
            return a if cond else b
        F = self.F
        ta, tb = isinstance(a, self.T), isinstance(b, self.T)
        shapes = [tuple(cond.shape)] + [tuple(t.shape) for t, is_t in ((a, ta), (b, tb)) if is_t]
        shape = np.broadcast_shapes(*shapes)
        # F.where does not reduce the gradient of a broadcast operand (a 0-d
        # parameter would get a gradient of the output's shape), and returns
        # shape (1,) for 0-d operands: broadcast tensor operands explicitly
        # (broadcast_to reduces its gradient) and compute 0-d as (1,).
        work = shape if shape else (1,)
        if not ta and not tb:
            a = self.mge.tensor(a, dtype="float32", device=cond.device)
            b = self.mge.tensor(b, dtype="float32", device=cond.device)
        elif not ta:
            a = self._const(a, b)
        elif not tb:
            b = self._const(b, a)
        if ta and tuple(a.shape) != work:
            a = F.broadcast_to(a, work)
        if tb and tuple(b.shape) != work:
            b = F.broadcast_to(b, work)
        if tuple(cond.shape) != work:
            cond = F.broadcast_to(cond, work)
        out = F.where(cond, a, b)
        return out if shape else out.reshape(())

    def sum(self, x: Any, axis: int) -> Any:
        return self.F.sum(x, axis=axis, keepdims=True)

    def amax(self, x: Any, axis: int) -> Any:
        return self.F.max(x.detach(), axis=axis, keepdims=True)

    def cumsum(self, x: Any, axis: int) -> Any:
        return self.F.cumsum(x, axis % x.ndim)

    def sort(self, x: Any, axis: int) -> Any:
        # F.sort sorts the last axis of a 1-D or 2-D tensor: move the axis last,
        # flatten the others, sort, and undo both
        F, nd = self.F, x.ndim
        axis %= nd
        perm = [i for i in range(nd) if i != axis] + [axis]
        xt = F.transpose(x, perm) if axis != nd - 1 else x
        shape = tuple(xt.shape)
        out = F.sort(xt.reshape(-1, shape[-1]))[0].reshape(shape)
        if axis == nd - 1:
            return out
        inv = [0] * nd
        for i, pi in enumerate(perm):
            inv[pi] = i
        return F.transpose(out, inv)

    def split2(self, x: Any, axis: int) -> Any:
        from ..ops import _check_even

        _check_even(x.shape, axis)
        return tuple(self.F.split(x, 2, axis=axis % x.ndim))

    def odd(self, x: Any, axis: int) -> Any:
        import numpy as np

        from ..ops import _odd_mask

        return self.mge.tensor(_odd_mask(np, tuple(x.shape), axis))

    def groups(self, x: Any, axis: int, k: int) -> Any:
        from ..ops import _group_axis

        shape = tuple(x.shape)
        axis = _group_axis(shape, axis, k)
        r = x.reshape((*shape[:axis], shape[axis] // k, k, *shape[axis + 1 :]))
        lead = (slice(None),) * (axis + 1)
        return tuple(r[(*lead, j)] for j in range(k))

    def maximum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, self.T) and not isinstance(b, self.T):
            return S.maximum(a, b)
        return self.F.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, self.T) and not isinstance(b, self.T):
            return S.minimum(a, b)
        return self.F.minimum(a, b)

    # ------------------------------------------------------------ derived helpers
    def softplus(self, x: Any) -> Any:
        # MegEngine's fused op: log1p(exp(-|x|)) + relu(x) with its own gradient
        # mode; softplus'(0) = 1/2 exactly, finite at +-1000, NaN -> NaN (checked).
        if isinstance(x, self.T):
            return self.F.softplus(x)
        return super().softplus(x)


# --------------------------------------------------------------------------- backend
_SPECIALS: Any = None


def _specials_function(mge: Any) -> Any:
    """``Specials(lim, full)(x, y)``: ``where(special, L(x), y)`` whose gradient
    at special inputs is the limit derivative (NaN at NaN), see :mod:`polyact._limits`."""
    global _SPECIALS
    if _SPECIALS is not None:
        return _SPECIALS
    F = mge.functional

    def const(x: Any, c: float) -> Any:
        # NaN computed as sqrt(-1), never a NaN constant: jit.trace compares recorded
        # constants with ==, and NaN != NaN makes every traced call after the first
        # an "operator mismatch".
        return F.full_like(x, c) if c == c else F.sqrt(F.full_like(x, -1.0))

    def fill(x: Any, neg: float, pos: float) -> Any:
        out = F.where(x < 0, const(x, neg), const(x, float("nan")))
        return F.where(x > 0, const(x, pos), out)

    class Specials(mge.autodiff.Function):
        def __init__(self, lim: Any, full: bool) -> None:
            super().__init__()
            self.lim, self.full = lim, full

        def _special(self, x: Any) -> Any:
            nanm = F.isnan(x)
            return F.logical_or(nanm, F.isinf(x)) if self.full else nanm

        def forward(self, x: Any, y: Any) -> Any:
            self.x = x
            return F.where(self._special(x), fill(x, self.lim[0], self.lim[2]), y)

        def backward(self, g: Any) -> Any:
            x = self.x
            s = self._special(x)
            zero = F.zeros_like(g)
            return F.where(s, fill(x, self.lim[1], self.lim[3]) * g, zero), F.where(s, zero, g)

    _SPECIALS = Specials
    return Specials


def _fused_class(mge: Any, ops: Ops, spec: ActivationSpec) -> Any:
    """A ``megengine.autodiff.Function`` for ``spec``: the forward is ``spec.fast``
    (or ``spec.fn``) and saves only the input; the backward is ``dy * spec.grad(x)``.
    Instances take the parameters (Python numbers or tensors, which get no gradient)."""
    forward_fn = spec.fast if spec.fast is not None else spec.fn
    grad_fn = spec.grad

    class Fused(mge.autodiff.Function):
        def __init__(self, params: Dict[str, Any]) -> None:
            super().__init__()
            self.params = params
            self.saved: Tuple[Any, ...] = ()

        def forward(self, x: Any) -> Any:
            self.saved = (x,)
            return forward_fn(x, ops, **self.params)

        def backward(self, dy: Any) -> Any:
            (x,) = self.saved
            return dy * grad_fn(x, ops, **self.params)

    Fused.__name__ = Fused.__qualname__ = _base.class_name(spec.name) + "Fused"
    return Fused


#: trace objects kept per compiled kernel (one per input shape, dtype, device,
#: gradient mode and scalar parameter values), least recently used dropped first
COMPILED_CACHE_SIZE = 16

#: graph optimisation level of the compiled kernel's traces: level 2 (the default)
#: reorders chains of multiplications, which overflows e.g. 0.5 * x * erfc(.) at
#: x = float32 max (x * erfc(.) first); level 1 keeps the formula's order
OPT_LEVEL = 1

#: eager inputs of at most this many elements are checked for finiteness on the
#: host (``Tensor.numpy``), larger ones with a reduction on the device
HOST_CHECK_MAX = 1 << 16


def _compiled_impl(mge: Any, ops: Ops, spec: ActivationSpec) -> Callable[..., Any]:
    """``impl(x, **p)``: ``spec.fn`` through ``megengine.jit.trace(symbolic=True)``,
    one trace per (shape, dtype, device, gradient mode, scalar parameters); tensor
    parameters are inputs of the trace. Inside a user's trace the formula runs
    as it is (the outer trace compiles it)."""
    from megengine.core._imperative_rt.core2 import get_grad_key
    from megengine.jit import trace, tracing

    fn = spec.fn
    tensor = mge.Tensor
    cache: OrderedDict[Any, Any] = OrderedDict()

    def impl(x: Any, **p: Any) -> Any:
        if tracing.is_tracing() or x.ndim == 0 or x.size == 0:
            # (a trace cannot take 0-d or empty inputs: nothing to compile there)
            return fn(x, ops, **p)
        names = tuple(k for k, v in p.items() if isinstance(v, tensor))
        args = tuple(p[k] for k in names)
        consts = {k: v for k, v in p.items() if not isinstance(v, tensor)}
        key = (
            tuple(x.shape),
            str(x.dtype),
            str(x.device),
            get_grad_key((x, *args)) is not None,
            tuple((k, repr(v)) for k, v in consts.items()),
            tuple((k, tuple(t.shape), str(t.dtype)) for k, t in zip(names, args)),
        )
        traced = cache.get(key)
        if traced is None:

            def body(xx: Any, *ts: Any) -> Any:
                return fn(xx, ops, **consts, **dict(zip(names, ts)))

            traced = trace(body, symbolic=True, capture_as_const=True, opt_level=OPT_LEVEL)
            cache[key] = traced
            while len(cache) > COMPILED_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return traced(x, *args)

    impl.cache = cache  # type: ignore[attr-defined]  (for tests)
    return impl


class MegEngineBackend(_base.Backend):
    name = NAME
    #: MegEngine's CPU kernels compute with denormals-are-zero: a subnormal input
    #: acts as a signed zero (log1mexp of the smallest bfloat16 subnormal is -inf)
    flushes_subnormal_inputs = True
    framework = "megengine"
    install = (
        "pip install megengine==1.13.0 'numpy<2' 'setuptools<70'  (MegEngine 1.13 needs CPython <= 3.10)"
    )
    default_channel_axis = 1
    dtypes = ("float16", "bfloat16", "float32")

    def __init__(self) -> None:
        super().__init__()
        # spec name -> (spec, its fused/compiled kernels): built once per spec, so
        # that Function classes and trace caches are shared by every lookup
        self._extra: Dict[str, Tuple[ActivationSpec, Dict[str, Kernel]]] = {}
        self._is_tracing: Any = None

    def _import(self) -> Any:
        # NumPy builds its finfo tables lazily and warns ("smallest subnormal ... is
        # zero") when it first builds them under denormals-are-zero: build them
        # before, in case the environment cannot be restored below.
        for t in (np.float16, np.float32, np.float64, np.longdouble):
            np.finfo(t)
        with _keeping_fp_environment():
            mge = importlib.import_module("megengine")
            for sub in ("functional", "module", "autodiff", "optimizer", "random"):
                importlib.import_module(f"megengine.{sub}")
            # the runtime starts with the first tensor, and sets the mode again
            mge.tensor(np.zeros(1, np.float32)).numpy()
        return mge

    def _make_ops(self) -> Ops:
        return MegEngineOps(self.fw)

    # ------------------------------------------------------------------ dtypes
    def _bf16(self) -> Any:
        from megengine.core.tensor import dtype as mdt

        return mdt.bfloat16

    def dtype_name(self, x: Any) -> str:
        name = np.dtype(x.dtype).name
        if name.endswith("bfloat16"):  # MegEngine's own numpy dtype is called "pybfloat16"
            return "bfloat16"
        return name

    def check_input(self, x: Any, name: str) -> str:
        # fast path of every eager call: a MegEngine tensor of a floating dtype
        fast = self.__dict__.get("_fast_input")
        if fast is None:
            mge = self.fw
            dts = {np.dtype(d): d for d in ("float32", "float16")}
            dts[np.dtype(self._bf16())] = "bfloat16"
            fast = self.__dict__["_fast_input"] = ((mge.Tensor, mge.Parameter), dts)
        if type(x) in fast[0]:
            dt = fast[1].get(x.dtype)
            if dt is not None:
                return dt
        return super().check_input(x, name)

    def to_numpy(self, x: Any) -> Any:
        a = x.numpy()
        if a.dtype.name.endswith("bfloat16"):
            return a.astype(np.float32)  # exact
        return a

    def from_numpy(self, a: Any, dtype: Optional[str] = None) -> Any:
        """A MegEngine tensor from a NumPy array (copied). MegEngine has no 64-bit
        types: float64 arrays become float32 and int64 int32 (as ``megengine.tensor``
        does); ``dtype="float64"`` is refused. bfloat16 and float16 values are
        rounded once from the source precision."""
        if dtype == "float64":
            raise InvalidInputError("MegEngine has no float64 dtype; use float32 (or float16/bfloat16).")
        mge = self.fw
        with np.errstate(all="ignore"):  # NaN payloads and overflow to inf are intended
            arr = np.asarray(a)
            if arr.dtype.name.endswith("bfloat16"):  # ml_dtypes or MegEngine's own
                arr = arr.astype(np.float32)  # exact
                if dtype is None:
                    dtype = "bfloat16"
            if dtype is None:
                if arr.dtype == np.float64:
                    arr = arr.astype(np.float32)
                return mge.tensor(np.array(arr, copy=True))
            if dtype == "bfloat16":
                return mge.tensor(_to_bfloat16_values(arr)).astype(self._bf16())
            return mge.tensor(np.array(arr.astype(np.dtype(dtype)), copy=True))

    def _promote(self, x: Any) -> Any:
        return x.astype("float32")

    def _concrete(self, value: Any) -> Optional[float]:
        if isinstance(value, self.fw.Tensor):  # no host read: it would break jit.trace
            return None
        a = np.asarray(value)
        return float(a.reshape(-1)[0]) if a.size == 1 else None

    def _numel(self, x: Any) -> Optional[int]:
        # from the shape: MegEngine's ``Tensor.size`` costs about 4 us, the shape 0.6
        shape = getattr(x, "shape", None)
        if type(shape) is not tuple:  # a symbolic trace's shape is a tensor
            return None
        n = 1
        for d in shape:
            if type(d) is not int:
                return None
            n *= d
        return n

    def _finite_eager(self, x: Any, small: bool) -> bool:
        """Whether every element of the eager tensor ``x`` is finite: read on the
        host when ``small``, else from a sum on the device."""
        if small:  # (half precision arrives here promoted to float32)
            return _base.finite_on_host(x.numpy())
        return math.isfinite(float(self.fw.functional.sum(x.detach()).item()))

    def _tracing(self) -> bool:
        if self._is_tracing is None:
            from megengine.jit import tracing

            self._is_tracing = tracing.is_tracing
        return bool(self._is_tracing())

    def _bare_check(self, spec: ActivationSpec) -> Callable[[Any, Any, Mapping[str, Any]], bool]:
        """Eager calls of a kernel that carries the guard in its own loop (``cpp``)
        run bare; inside ``jit.trace`` that kernel runs the formula, behind the guard."""
        tracing = self._tracing

        def runs_bare(x: Any, impl: Any, params: Mapping[str, Any]) -> bool:
            return getattr(impl, "guards_specials", False) and not tracing()

        return runs_bare

    def _guarded(self, impl: Any, x: Any, p: Any, lim: Any) -> Any:
        F = self.fw.functional
        if not self._tracing():
            # eager: all elements finite -> run the kernel bare, one check instead of
            # the guard's element-wise passes. Small inputs are read on the host
            # (about 3 us, against 35 for a reduction and its sync); larger ones are
            # summed on the device (a NaN or an inf makes the sum NaN or inf, and
            # an overflowing sum takes the guard).
            n = 1
            for d in x.shape:
                n *= d
            small = n <= HOST_CHECK_MAX
            if self._finite_eager(x, small):
                # MegEngine's element-wise kernels take another code path, with other
                # last bits, on a strided view (a slice). The reduction makes a view
                # contiguous in place, and so does asking for the device tensor (about
                # 1 us, against 11 for a multiplication by one) once the value is there:
                # _dev_tensor() does not wait for a queued value, the host read above has.
                if small:
                    x._dev_tensor()
                y = impl(x, **p)
                # a kernel returning its input unchanged (identity): a GradManager gives no
                # gradient to an output that is the attached tensor itself, so return a copy
                return F.copy(y) if y is x else y
        full = lim is not None
        nanm = F.isnan(x)
        special = F.logical_or(nanm, F.isinf(x)) if full else nanm
        y = impl(F.where(special, F.zeros_like(x), x), **p)
        nan = float("nan")
        fix = _specials_function(self.fw)(tuple(lim) if full else (nan, nan, nan, nan), full)
        return fix(x, y)

    def _demote(self, y: Any, dtype: str) -> Any:
        if dtype == "float16":
            return _round_to_half(self.fw, y)
        return y.astype(self._bf16())

    def _build_runner(self, spec: ActivationSpec, impl: Any, options: Any) -> Any:
        """The shared runner, computing 0-d inputs as shape (1,): MegEngine 1.13
        returns shape (1,) from comparisons, ``F.where`` and ``F.isnan`` on 0-d
        tensors and then back-propagates (1,)-shaped gradients into 0-d tensors."""
        run = super()._build_runner(spec, impl, options)
        tensor = self.fw.Tensor

        def run0(x: Any, params: Any, rng: Any = None) -> Any:
            if isinstance(x, tensor) and x.ndim == 0:
                return run(x.reshape((1,)), params, rng).reshape(())
            return run(x, params, rng)

        return run0

    def draw(self, dist: str, like: Any, rng: Any) -> Any:
        """From ``rng`` (a ``megengine.random.RNG``) or, for True, MegEngine's global generator."""
        gen = self.fw.random if rng is True else rng
        shape = tuple(like.shape)
        out = gen.uniform(0.0, 1.0, size=shape) if dist == "uniform" else gen.normal(0.0, 1.0, size=shape)
        return out.astype(like.dtype)

    def _cast_param(self, value: Any, like: Any) -> Any:
        if isinstance(value, self.fw.Tensor) and value.dtype != like.dtype:
            return value.astype(like.dtype)
        return value

    def _channel_param(self, value: Any, like: Any, axis: int) -> Any:
        mge = self.fw
        if not isinstance(value, mge.Tensor):
            value = mge.tensor(np.asarray(value, dtype=np.float32), dtype=like.dtype, device=like.device)
        value = value.reshape(-1)
        shape = _base.broadcast_shape(tuple(like.shape), axis, int(value.shape[0]), "activation")
        return value.reshape(shape)

    # ------------------------------------------------------------------ kernels
    def extra_kernels(self, spec: ActivationSpec) -> Dict[str, Kernel]:
        """``fused`` (where ``spec.grad`` exists: an ``autodiff.Function`` saving only
        the input), ``compiled`` (the formula through ``megengine.jit.trace``) and
        ``cpp`` (one C++ loop generated from the formula: :mod:`._megengine_cpp`)."""
        hit = self._extra.get(spec.name)
        if hit is not None and hit[0] is spec:
            return dict(hit[1])
        mge, ops = self.fw, self.ops
        out: Dict[str, Kernel] = {}
        if spec.grad is not None:
            cls = _fused_class(mge, ops, spec)

            def fused(x: Any, **p: Any) -> Any:
                return cls(p)(x)

            fused.function = cls  # type: ignore[attr-defined]  (for tests)
            out["fused"] = Kernel(
                "fused",
                self.name,
                "fused",
                fused,
                onnx=False,
                param_grads=False,
                note="megengine.autodiff.Function: saves only the input, backward from the closed-form "
                "derivative; tensor parameters get no gradient",
            )
        out["compiled"] = Kernel(
            "compiled",
            self.name,
            "compiled",
            _compiled_impl(mge, ops, spec),
            onnx=False,
            note="the formula through megengine.jit.trace(symbolic=True), one trace per shape, dtype, "
            "gradient mode and scalar parameters; inside a user's trace the formula runs as it is",
        )
        from ._megengine_cpp import cpp_kernel

        k = cpp_kernel(mge, ops, spec)
        if k is not None:
            out["cpp"] = k
        self._extra[spec.name] = (spec, out)
        return dict(out)

    # ------------------------------------------------------------------ objects
    def set_config(self, obj: Any, config: Dict[str, Any]) -> None:
        from ._megengine_modules import set_plain

        set_plain(obj, "polyact_config", config)

    def make_module(
        self, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
    ) -> Any:
        self.fw  # noqa: B018  (clear error when missing)
        from ._megengine_modules import build_module

        return build_module(self, spec, kernel, params, options)

    def value_and_grad(self, f: Any, x: Any) -> Tuple[Any, Any]:
        mge = self.fw
        F = mge.functional
        xg = x.detach()
        gm = mge.autodiff.GradManager()
        gm.attach([xg])
        with gm:
            y = f(xg)
            gm.backward(y, F.ones_like(y))
        g = xg.grad
        if g is None:
            g = F.zeros_like(xg)
        return y.detach(), g

    def param_grads(self, module: Any, x: Any) -> Tuple[Any, Dict[str, Any]]:
        mge = self.fw
        F = mge.functional
        named = list(module.named_parameters())
        saved = [p.grad for _, p in named]
        for _, p in named:
            p.grad = None
        gm = mge.autodiff.GradManager()
        gm.attach([p for _, p in named])
        # synchronous execution: MegEngine 1.13 computes the gradient of a per-channel
        # operand broadcast against the input ((1, C, 1, 1)) wrong now and then when
        # it runs asynchronously (about 1 call in 100 with the other core busy gives
        # values like -2e24 or 0, in plain MegEngine code too); synchronously 0 in 4,400
        level = mge.config.async_level
        mge._full_sync()
        mge.config.async_level = 0
        try:
            with gm:
                y = module(x)
                gm.backward(y, F.ones_like(y))
            out = {}
            for k, p in named:
                g = p.grad
                out[k] = np.zeros(tuple(p.shape)) if g is None else g.numpy().astype(np.float64)
        finally:
            mge.config.async_level = level
            for (_, p), g in zip(named, saved):
                p.grad = g
        return y.detach(), out


def load_torch_state(module: Any, state: Dict[str, Any]) -> Any:
    """Load torch-layout arrays (``conv.weight`` (C, 1, k, k), ``conv.bias`` (C,),
    ``bn.weight``/``bn.bias``/``bn.running_mean``/``bn.running_var`` (C,), and an
    ignored ``bn.num_batches_tracked``) into a MegEngine structural activation
    (MegEngine's depthwise weight is (C, 1, 1, k, k), its biases (1, C, 1, 1))."""
    return module.load_torch_state(state)


def torch_state(module: Any) -> Dict[str, Any]:
    """The state of a MegEngine structural activation in torch's layout (NumPy arrays)."""
    return module.torch_state()


# --------------------------------------------------------------------------- fp environment
@contextlib.contextmanager
def _keeping_fp_environment() -> Iterator[None]:
    """Restore the calling thread's floating-point environment on exit.

    Importing MegEngine 1.13, and its first tensor, set flush-to-zero and
    denormals-are-zero in the calling thread, which silently changes NumPy
    there: a float32 subnormal converts to 0.0, and subnormal results become
    zeros. MegEngine's kernels flush subnormals whatever that thread's mode (its
    results on subnormal inputs are the same with the mode restored), so the
    restore changes nothing in MegEngine's results and keeps the caller's NumPy
    IEEE. A tensor on a new device (``device="cpu1"``) sets the mode again.
    Uses C's ``fegetenv``/``fesetenv`` through ctypes; where the C library
    cannot be loaded, nothing is restored."""
    saved = None
    try:
        import ctypes
        import ctypes.util

        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        env = ctypes.create_string_buffer(1024)  # fenv_t is 32 bytes on x86-64 glibc
        if libm.fegetenv(env) == 0:
            saved = (libm, env)
    except (OSError, AttributeError):  # pragma: no cover (no C maths library to load)
        saved = None
    try:
        yield
    finally:
        if saved is not None:
            saved[0].fesetenv(saved[1])


# --------------------------------------------------------------------------- rounding
def _to_bfloat16_values(a: Any) -> Any:
    """float32 array of the bfloat16 values nearest to ``a`` (ties to even), with
    one rounding from the source precision (no double rounding through float32)."""
    arr = np.asarray(a)
    with np.errstate(all="ignore"):
        if arr.dtype.name.endswith("bfloat16"):
            return arr.astype(np.float32)
        x = arr.astype(np.float64)
        m, e = np.frexp(x)  # x = m * 2**e, 0.5 <= |m| < 1
        normal = np.rint(m * 256.0)  # 8 significant bits, ties to even (exact in float64)
        out = np.ldexp(normal, e - 8)
        tiny = np.abs(x) < 2.0**-126  # bfloat16 subnormals: fixed quantum 2**-133
        out = np.where(tiny, np.rint(x * 2.0**133) * 2.0**-133, out)
        out = np.where(np.isfinite(x), out, x)
        return out.astype(np.float32)  # exact: every bfloat16 value is a float32


def _round_to_half(mge: Any, y: Any) -> Any:
    """float32 tensor -> float16, rounded to nearest with ties to even.

    MegEngine's ``astype("float16")`` rounds ties away from zero. With ``r`` that
    result, ``other = 2y - r`` is the float16 neighbour on the other side of ``y``
    exactly when ``y`` is a tie (otherwise it is not a float16 value, or equals
    ``r``); it is kept when it is the even one (a multiple of twice the spacing).
    Non-finite values fall through (the quotient is NaN), and so does ``other == r``
    (division by 0). Differentiable (each branch has gradient 1) and traceable.
    """
    F = mge.functional
    rf = y.astype("float16").astype("float32")
    other = 2.0 * y - rf
    step = 2.0 * F.abs(rf - other)  # twice the float16 spacing at a tie (a power of 2: exact)
    pick = (other.astype("float16").astype("float32") == other) & (F.floor(other / step) * step == other)
    return F.where(pick, other, rf).astype("float16")


backend = MegEngineBackend()
