"""PyTorch backend: ``torch.nn.Module`` objects and plain functions.

Modules are fresh instances per lookup, hold trainable parameters as
``nn.Parameter`` (scalar, or ``(num_channels,)`` broadcast along an explicit
``channel_axis``, default 1 = NCHW), round-trip through ``state_dict`` and
accept ``inplace=True`` where a native in-place kernel exists.
"""

from __future__ import annotations

import math
import types
import warnings
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .. import _scalar as S
from ..ops import Ops
from ..spec import ActivationSpec, Kernel
from . import _base

NAME = "torch"


#: the backend's export check (torch.onnx is tracing; not while torch.compile
#: traces, which reads no such flag), bound when torch loads
_EXPORTING: list = [lambda: False]


def _expm1_onnx(t: Any, x: Any) -> Any:
    """e^x - 1 from ops every ONNX exporter knows (torch's TorchScript exporter
    has no expm1): 2 tanh(x/2) / (1 - tanh(x/2)) for |x| < 1/2, where e^x - 1
    would cancel, else e^x - 1 (a few ULPs)."""
    h = t.tanh(0.5 * x)
    return t.where(t.abs(x) < 0.5, 2.0 * h / (1.0 - h), t.exp(x) - 1.0)


#: the Chebyshev fit of log(exp(x^2) erfc(x) / u) in u = 1 / (1 + x/2), x >= 0,
#: of Press et al., Numerical Recipes (2nd ed., section 6.2): fractional error
#: below 1.2e-7; coefficients from the highest power down
_NR_ERFC = (
    0.17087277,
    -0.82215223,
    1.48851587,
    -1.13520398,
    0.27886807,
    -0.18628806,
    0.09678418,
    0.37409196,
    1.00002368,
    -1.26551223,
)


def _nr_exponent(u: Any) -> Any:
    """The fit's polynomial: erfc(x) = u exp(-x^2 + _nr_exponent(u))."""
    poly = _NR_ERFC[0]
    for c in _NR_ERFC[1:]:
        poly = c + u * poly
    return poly


def _erfc_onnx(t: Any, x: Any) -> Any:
    """erfc from ops every ONNX exporter knows (no erfc in ONNX): 1 - erf(x)
    below x = 1/2 (no cancellation there); above, the fit (:data:`_NR_ERFC`)."""
    z = t.clamp(x, min=0.5, max=10.5)  # erfc(10.5) < 1e-48 rounds to 0 in float32
    u = 1.0 / (1.0 + 0.5 * z)
    # exp(-z^2) as exp(-zh^2) exp(-(z - zh)(z + zh)): zh has at most 16 bits, so
    # zh^2 is exact and the rounding of z^2 (100 ULPs at z = 8) is gone
    zh = t.floor(z * 16.0) / 16.0
    tail = u * t.exp(-zh * zh) * t.exp(_nr_exponent(u) - (z - zh) * (z + zh))
    return t.where(x < 0.5, 1.0 - t.special.erf(x), tail)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_FAST_ERFC: Any = None


def _fast_erfc_function(torch: Any) -> Any:
    """float32 erfc for code torch.compile traces. Inductor has no vector erfc on
    CPU (it calls the scalar one per element: the compiled exact gelu ran 1.9x
    torch's own op); this is one exp and a polynomial, which it vectorises:
    erfc(a) = u exp(-a^2 + P(u)), u = 1 / (1 + a/2), for a = |x| (the fit of
    :data:`_NR_ERFC`, fractional error below 1.2e-7 at every a >= 0, so the
    tail keeps its digits), 2 - erfc(|x|) for x < 0. Within 8 ULPs (its float32
    evaluation near a = 0) up to the rounding of a^2 in the exponent (2 a^2
    ULPs more, as any float32 exp(-a^2) has; the exact form's second exp made
    compiled gelu a tenth slower: 31.5 against 28.6 ms at 16M elements). The
    backward is the exact derivative -2/sqrt(pi) exp(-x^2), not the fit's."""
    global _FAST_ERFC
    if _FAST_ERFC is not None:
        return _FAST_ERFC

    class FastErfc(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x: Any) -> Any:
            # beyond 10.5, exp underflows to 0 as erfc does in float32; NaN stays NaN
            a = torch.clamp(torch.abs(x), max=10.5)
            u = 1.0 / (1.0 + 0.5 * a)
            e = u * torch.exp(_nr_exponent(u) - a * a)
            return torch.where(x < 0, 2.0 - e, e)

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (x,) = ctx.saved_tensors
            return g * (-_TWO_OVER_SQRT_PI * torch.exp(-x * x))

    _FAST_ERFC = FastErfc
    return FastErfc


class TorchOps(Ops):
    name = NAME

    def __init__(self, torch: Any) -> None:
        self.t = torch
        self.T = torch.Tensor
        self.F = torch.nn.functional

    def _u(self, tf: Any, sf: Any, x: Any) -> Any:
        return tf(x) if isinstance(x, self.T) else sf(x)

    def exp(self, x: Any) -> Any:
        return self._u(self.t.exp, S.exp, x)

    def expm1(self, x: Any) -> Any:
        if isinstance(x, self.T) and not self.t.compiler.is_compiling() and _EXPORTING[0]():
            return _expm1_onnx(self.t, x)
        return self._u(self.t.expm1, S.expm1, x)

    def log(self, x: Any) -> Any:
        return self._u(self.t.log, S.log, x)

    def log1p(self, x: Any) -> Any:
        return self._u(self.t.log1p, S.log1p, x)

    def sqrt(self, x: Any) -> Any:
        return self._u(self.t.sqrt, S.sqrt, x)

    def tanh(self, x: Any) -> Any:
        return self._u(self.t.tanh, S.tanh, x)

    def sigmoid(self, x: Any) -> Any:
        return self._u(self.t.sigmoid, S.sigmoid, x)

    def erf(self, x: Any) -> Any:
        return self._u(self.t.special.erf, S.erf, x)

    def erfc(self, x: Any) -> Any:
        if not isinstance(x, self.T):
            return S.erfc(x)
        if self.t.compiler.is_compiling():
            if x.dtype == self.t.float32:  # inductor's erfc is scalar: see _fast_erfc_function
                return _FAST_ERFC.apply(x)
        elif _EXPORTING[0]():
            return _erfc_onnx(self.t, x)
        return self.t.special.erfc(x)

    def sin(self, x: Any) -> Any:
        return self._u(self.t.sin, S.sin, x)

    def cos(self, x: Any) -> Any:
        return self._u(self.t.cos, S.cos, x)

    def abs(self, x: Any) -> Any:
        return self._u(self.t.abs, S.abs_, x)

    def sign(self, x: Any) -> Any:
        return self._u(self.t.sign, S.sign, x)

    def isnan(self, x: Any) -> Any:
        return self._u(self.t.isnan, S.isnan, x)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(cond, (bool, np.bool_)):
            return a if cond else b
        return self.t.where(cond, a, b)

    def sum(self, x: Any, axis: int) -> Any:
        return x.sum(dim=axis, keepdim=True)

    def amax(self, x: Any, axis: int) -> Any:
        return x.detach().amax(dim=axis, keepdim=True)

    def cumsum(self, x: Any, axis: int) -> Any:
        return self.t.cumsum(x, dim=axis)

    def sort(self, x: Any, axis: int) -> Any:
        return self.t.sort(x, dim=axis).values

    def split2(self, x: Any, axis: int) -> Any:
        from ..ops import _check_even

        _check_even(x.shape, axis)
        return tuple(self.t.chunk(x, 2, dim=axis))

    def odd(self, x: Any, axis: int) -> Any:
        from ..ops import _odd_mask

        return _odd_mask(self.t, tuple(x.shape), axis).to(x.device)

    def groups(self, x: Any, axis: int, k: int) -> Any:
        from ..ops import _group_axis

        axis = _group_axis(x.shape, axis, k)
        return x.unflatten(axis, (x.shape[axis] // k, k)).unbind(axis + 1)

    def maximum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, self.T):
            a, b = b, a
        return self.t.maximum(a, b) if isinstance(b, self.T) else self.t.clamp(a, min=b)

    def minimum(self, a: Any, b: Any) -> Any:
        if not isinstance(a, self.T):
            a, b = b, a
        return self.t.minimum(a, b) if isinstance(b, self.T) else self.t.clamp(a, max=b)

    def softplus(self, x: Any) -> Any:
        # torch's own op with a late threshold: log1p(exp(x)) below 40, x above
        # (exact to float64 rounding there); its gradient is sigmoid(x) everywhere.
        if isinstance(x, self.T):
            return self.F.softplus(x, beta=1.0, threshold=40.0)
        return super().softplus(x)


_SPECIALS: Any = None


def _specials_function(torch: Any) -> Any:
    """The autograd function that puts the limits at special inputs (see
    :mod:`polyact._limits`): forward ``where(special, L(x), y)``; backward the
    limit derivative (NaN at NaN) for ``x`` and nothing for ``y`` there."""
    global _SPECIALS
    if _SPECIALS is not None:
        return _SPECIALS

    class Specials(torch.autograd.Function):
        # the limits arrive as tensors (values and derivatives at each special
        # input, made by the caller): Python floats such as inf passed to a
        # traced autograd.Function become symbols torch.compile cannot place
        @staticmethod
        def forward(x: Any, y: Any, values: Any, derivs: Any, special: Any) -> Any:
            return torch.where(special, values, y)

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            _, _, _, derivs, special = inputs
            ctx.save_for_backward(derivs, special)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            derivs, special = ctx.saved_tensors
            zero = torch.zeros_like(g)
            # double where: the limit derivative (possibly inf) never meets a masked
            # cotangent, so the backward is itself differentiable without 0 * inf
            gx = torch.where(special, derivs, zero) * torch.where(special, g, zero)
            gy = torch.where(special, zero, g)
            return gx, gy, None, None, None

    _SPECIALS = Specials
    return Specials


def _finite_sum(x: Any) -> bool:
    """Whether the sum of an eager CPU tensor is finite: then so is every
    element (a NaN or +-inf makes the sum non-finite; an overflowing sum of
    finite values only sends the call through the full guard). A few elements
    are summed in Python, in double precision, faster than a reduction op."""
    if x.dim() == 1 and x.numel() <= 32:
        return math.isfinite(sum(x.tolist()))
    return math.isfinite((x.detach() if x.requires_grad else x).sum().item())


def _within(x: Any, bound: float) -> bool:
    """Whether every element of an eager CPU tensor lies in [-bound, bound] (so
    none is NaN or infinite): one pass, ``Tensor.aminmax``."""
    if x.numel() == 0:
        return True
    lo, hi = (x.detach() if x.requires_grad else x).aminmax()
    return -bound <= lo.item() and hi.item() <= bound


def _flagged(torch: Any, formula: Any, name: str) -> Any:
    """``f(x, ops, **p) = (formula(x, ops, **p), isfinite(x).all())`` for
    torch.compile, as a code object of its own per activation: dynamo keeps a
    cache (of 8 entries) per code object, which one shared wrapper would fill."""

    def flagged(x: Any, ops: Any, **p: Any) -> Any:
        return formula(x, ops, **p), torch.isfinite(x).all()

    code = flagged.__code__.replace(co_name=f"compiled_{name}")
    return types.FunctionType(code, flagged.__globals__, code.co_name, None, flagged.__closure__)


def _fill(torch: Any, x: Any, neg: float, pos: float) -> Any:
    """``neg`` where x < 0, ``pos`` where x > 0, NaN elsewhere (x NaN)."""
    out = torch.where(x < 0, torch.full_like(x, neg), torch.full_like(x, float("nan")))
    return torch.where(x > 0, torch.full_like(x, pos), out)


def _export_flag(torch: Any) -> Any:
    """A cheap ``torch.onnx.is_in_onnx_export()`` (which imports two modules per
    call): the same two flags read directly, or the function itself when
    torch's private layout differs."""
    try:
        from torch.onnx._internal.exporter import _flags
        from torch.onnx._internal.torchscript_exporter._globals import GLOBALS

        def exporting() -> bool:
            return bool(GLOBALS.in_onnx_export or _flags._is_onnx_exporting)

        exporting()
        return exporting
    except (ImportError, AttributeError):  # pragma: no cover - other torch versions
        return torch.onnx.is_in_onnx_export


def _wrapped(x: Any) -> bool:
    """Whether ``x`` is a torch.func (vmap/grad) wrapper, on which data-dependent
    Python branches are not allowed."""
    check = _FUNCTORCH_CHECK[0]
    return bool(check(x)) if check is not None else False


_FUNCTORCH_CHECK: list = [None]  # torch._C._functorch.is_functorch_wrapped_tensor, set on load


_FUSED: Dict[Any, Any] = {}
TORCH_OPS: list = []  # the backend's ops, set when it loads


#: eager CPU fused kernels evaluate their formulas block by block on inputs of
#: at least CHUNK_MIN elements: each op then reads and writes cache-resident
#: blocks instead of allocating and streaming input-sized temporaries
CHUNK = 1 << 17
CHUNK_MIN = 1 << 18


def _chunkable(torch: Any, x: Any, values: Tuple[Any, ...]) -> bool:
    """Whether a fused formula may run block by block on ``x``: a large
    contiguous eager CPU tensor, outside torch.compile and torch.func
    transforms, with scalar parameters (a per-channel one broadcasts by shape)."""
    if not x.is_cpu or x.numel() < CHUNK_MIN or not x.is_contiguous():
        return False
    if torch.compiler.is_compiling() or _wrapped(x):
        return False
    return all(not isinstance(v, torch.Tensor) or v.dim() == 0 for v in values)


def _blockwise(torch: Any, f: Any, x: Any, g: Any = None) -> Any:
    """``f(x)`` (times ``g`` when given), computed CHUNK elements at a time into
    one output; ``x`` is contiguous."""
    out = torch.empty_like(x)
    flat, dst = x.view(-1), out.view(-1)
    gf = None if g is None else (g if g.is_contiguous() else g.contiguous()).view(-1)
    n = flat.numel()
    for s in range(0, n, CHUNK):
        e = min(s + CHUNK, n)
        y = f(flat[s:e])
        if gf is None:
            dst[s:e].copy_(y)
        else:
            torch.mul(gf[s:e], y, out=dst[s:e])
    return out


def _native_forward(torch: Any, spec: ActivationSpec, names: Tuple[str, ...]) -> Any:
    """``ok(values)``: whether a fused kernel's forward may be the spec's torch
    op for these parameter values (eager calls with Python-number parameters
    for which the op is eligible for ``kernel="auto"``; traced code keeps the
    formula, which inductor fuses), or None where the spec has no such op."""
    native = spec.native.get(NAME)
    if native is None or native.eligible is False or native.bound is not None:
        return None
    eligible = native.eligible
    verdicts: Dict[Tuple[Any, ...], bool] = {}
    is_compiling, tensor = torch.compiler.is_compiling, torch.Tensor

    def ok(values: Tuple[Any, ...]) -> bool:
        if is_compiling() or any(isinstance(v, tensor) for v in values):
            return False
        try:
            hit = verdicts.get(values)
        except TypeError:  # unhashable values (lists of per-channel numbers): keep the formula
            return False
        if hit is None:
            try:
                hit = eligible is True or bool(eligible(spec.bind(dict(zip(names, values)))))
            except Exception:  # no verdict: keep the formula
                hit = False
            if len(verdicts) < 256:
                verdicts[values] = hit
        return hit

    return ok


def _fused_function(
    torch: Any, spec: ActivationSpec, ops: Ops, names: Tuple[str, ...], native: bool = False
) -> Any:
    """The ``torch.autograd.Function`` of a spec's fused kernel for parameters
    ``names`` (one class per spec and names, made eagerly: dynamo traces no
    class definition): forward torch's own op where it meets the contract (see
    :func:`_native_forward`), else ``spec.fn(x)``, saving only ``x`` (and tensor
    parameters, which are not input-sized); backward ``g * spec.grad(x)``. On
    large eager CPU inputs the formula forward and the backward run block by
    block (:func:`_blockwise`); torch's own op runs whole. Written in the
    ``setup_context`` style so that ``torch.compile`` traces it."""
    hit = _FUSED.get((spec.name, names, native))
    if hit is not None and hit[0] is spec:
        return hit[1]
    # torch has fused ops for what spec.fast rewrites (softplus, tanh, ...): the formula is faster
    forward_formula = spec.fn
    grad_formula = spec.grad
    Tensor = torch.Tensor
    native_fn = spec.native[NAME].fn if native else None

    class Fused(torch.autograd.Function):
        @staticmethod
        def forward(x: Any, values: Tuple[Any, ...]) -> Any:
            # the ops through a module global: dynamo wraps objects it can name
            p = dict(zip(names, values))
            if native_fn is not None:  # torch's own op (eager calls only, see _native_forward)
                y = native_fn(torch, x, **p)
            elif _chunkable(torch, x, values):
                return _blockwise(torch, lambda b: forward_formula(b, TORCH_OPS[0], **p), x)
            else:
                y = forward_formula(x, TORCH_OPS[0], **p)
            return y.view_as(y) if y is x else y  # the input itself cannot be the output

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            x, values = inputs
            ctx.save_for_backward(x, *[v for v in values if isinstance(v, Tensor)])
            ctx.numbers = tuple(None if isinstance(v, Tensor) else v for v in values)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, *tensors = ctx.saved_tensors
            it = iter(tensors)
            values = [next(it) if v is None else v for v in ctx.numbers]
            p = dict(zip(names, values))
            # create_graph (double backward) needs the differentiable whole-tensor form
            if not torch.is_grad_enabled() and g.shape == x.shape and _chunkable(torch, x, tuple(values)):
                return _blockwise(torch, lambda b: grad_formula(b, TORCH_OPS[0], **p), x, g), None
            return g * grad_formula(x, TORCH_OPS[0], **p), None

    Fused.__name__ = Fused.__qualname__ = f"Fused_{spec.name}" + ("_native" if native else "")
    _FUSED[(spec.name, names, native)] = (spec, Fused)
    return Fused


def _have_compiler() -> bool:
    """Whether torch.compile's CPU code generation can find a C++ compiler."""
    import os
    import shutil

    return any(shutil.which(c) for c in (os.environ.get("CXX", ""), "g++", "c++", "clang++") if c)


class TorchBackend(_base.Backend):
    name = NAME
    framework = "torch"
    install = "pip install torch"
    default_channel_axis = 1
    checks_bounds = True

    def _import(self) -> Any:
        t = super()._import()
        # the mode checks every call makes, bound once (before any ops exist:
        # a function runs without building the ops namespace first)
        self._exporting = _export_flag(t)
        self._compiling = t.compiler.is_compiling
        self._tensor_type = t.Tensor
        self._float_names = {getattr(t, n): n for n in _base.FLOAT}
        return t

    def _make_ops(self) -> Ops:
        # made eagerly: dynamo traces no class definition
        t = self.fw
        _specials_function(t)
        _fast_erfc_function(t)
        _FUNCTORCH_CHECK[0] = getattr(t._C._functorch, "is_functorch_wrapped_tensor", None)
        _EXPORTING[0] = self._exporting
        ops = TorchOps(self.fw)
        TORCH_OPS[:] = [ops]
        return ops

    @property
    def _probes(self) -> Dict[Any, bool]:
        d = self.__dict__.get("_probe_cache")
        if d is None:
            d = self.__dict__["_probe_cache"] = {}
        return d

    #: set when torch is imported (the fast path of check_input)
    _tensor_type: Any = ()
    _float_names: Dict[Any, str] = {}

    def check_input(self, x: Any, name: str) -> str:
        # fast path of every call: a torch tensor of a floating dtype
        if isinstance(x, self._tensor_type):
            dt = self._float_names.get(x.dtype)
            if dt is not None:
                return dt
        return super().check_input(x, name)

    def dtype_name(self, x: Any) -> str:
        return str(x.dtype).replace("torch.", "")

    def to_numpy(self, x: Any) -> Any:
        x = x.detach().cpu()
        if x.dtype == self.fw.bfloat16:
            return x.float().numpy()
        return x.numpy()

    def from_numpy(self, a: Any, dtype: Optional[str] = None) -> Any:
        a = np.asarray(a)
        if a.dtype.name == "bfloat16":
            a = a.astype(np.float32)
        t = self.fw.from_numpy(np.array(a, copy=True))
        return t.to(getattr(self.fw, dtype)) if dtype else t

    def _promote(self, x: Any) -> Any:
        return x.float().contiguous()

    def _concrete(self, value: Any) -> Optional[float]:
        t = self.fw
        if not isinstance(value, t.Tensor):
            a = np.asarray(value)
            return float(a.reshape(-1)[0]) if a.size == 1 else None
        if value.numel() != 1 or t.compiler.is_compiling():
            return None
        return float(value.detach().reshape(()).item())

    def _guarded(self, impl: Any, x: Any, p: Any, lim: Any) -> Any:
        t = self.fw
        mode = self._mode()
        full = lim is not None
        if mode == "export":  # ONNX: plain where ops, no custom autograd function
            special = ~t.isfinite(x) if full else t.isnan(x)
            y = impl(t.where(special, t.zeros((), dtype=x.dtype, device=x.device), x), **p)
            lm, lp = (lim[0], lim[2]) if full else (float("nan"),) * 2
            return t.where(special, _fill(t, x, lm, lp), y)
        special = ~t.isfinite(x) if full else t.isnan(x)
        y = impl(t.where(special, t.zeros((), dtype=x.dtype, device=x.device), x), **p)
        lm, dm, lp, dp = lim if full else (float("nan"),) * 4
        values, derivs = _fill(t, x, lm, lp), _fill(t, x, dm, dp)
        return _specials_function(t).apply(x, y, values, derivs, special)

    def fix_inplace(self, x: Any, impl: Any, p: Any, lim: Any) -> Any:
        """An in-place kernel with the special-value guard (values only: in-place
        results are not differentiated)."""
        if lim is None or self._inplace_limits_ok(impl, p, lim, x.dtype):
            return impl(x, **p)
        neg, pos = x == -float("inf"), x == float("inf")
        impl(x, **p)
        x.masked_fill_(neg, lim[0])
        x.masked_fill_(pos, lim[2])
        return x

    def _inplace_limits_ok(self, impl: Any, p: Any, lim: Any, dtype: Any) -> bool:
        """Whether the in-place kernel already gives the limits at +-inf (probed once)."""
        key = (impl, tuple(repr(v) for v in lim), tuple(sorted((k, repr(v)) for k, v in p.items())), dtype)
        ok = self._probes.get(key)
        if ok is None:
            t = self.fw
            with t.no_grad():
                probe = t.tensor([-float("inf"), float("inf")], dtype=dtype)
                impl(probe, **{k: v.detach() if isinstance(v, t.Tensor) else v for k, v in p.items()})
            want = t.tensor([lim[0], lim[2]], dtype=dtype)
            ok = bool(((probe == want) | (t.isnan(probe) & t.isnan(want))).all())
            self._probes[key] = ok
        return ok

    def extra_kernels(self, spec: ActivationSpec) -> Dict[str, Kernel]:
        """``fused`` (closed-form backward, saves only the input), ``compiled``
        (``torch.compile`` of the formula) and, where Triton can express the
        spec, ``triton`` (CUDA tensors)."""
        out: Dict[str, Kernel] = {}
        t, ops = self.fw, self.ops
        if spec.grad is not None:
            names = tuple(spec.params)
            plain = _fused_function(t, spec, ops, names)
            noisy = _fused_function(t, spec, ops, (*names, "noise")) if spec.noise else None
            native_ok = _native_forward(t, spec, names)
            with_native = _fused_function(t, spec, ops, names, native=True) if native_ok else None

            def fused_impl(x: Any, **p: Any) -> Any:
                if "noise" in p:  # a stochastic activation in training mode
                    return noisy.apply(x, (*[p[k] for k in names], p["noise"]))
                values = tuple([p[k] for k in names])
                if native_ok is not None and native_ok(values):
                    return with_native.apply(x, values)
                return plain.apply(x, values)

            out["fused"] = Kernel(
                "fused",
                NAME,
                "fused",
                fused_impl,
                onnx=False,
                param_grads=False,
                note="custom autograd.Function: saves only the input, closed-form backward",
            )
        out["compiled"] = self._compiled_kernel(spec)
        try:
            from ._triton import triton_kernel
        except ImportError:  # pragma: no cover
            triton_kernel = None
        if triton_kernel is not None:
            k = triton_kernel(spec)
            if k is not None:
                out["triton"] = k
        return out

    def _compiled_kernel(self, spec: ActivationSpec) -> Kernel:
        cache = self.__dict__.setdefault("_compiled_cache", {})
        hit = cache.get(spec.name)
        k = hit[1] if hit is not None and hit[0] is spec else None
        if k is None:
            t, ops = self.fw, self.ops
            formula = spec.fast or spec.fn
            # compiling the spec's own formula (one code object per activation)
            # keeps dynamo's per-code-object cache from filling up across specs
            # (torch.compile's machinery loads on the first call, not when the
            # kernel table is built: describe, the docs and eager users skip it)
            made: List[Any] = []
            is_compiling = t.compiler.is_compiling
            backend = self

            def run(x: Any, p: Mapping[str, Any]) -> Any:
                """(formula(x), whether every element of x is finite), both from
                one generated loop: the finiteness check costs no extra read."""
                if not made:
                    made.append(t.compile(_flagged(t, formula, spec.name), dynamic=None))
                compiled = made[0]
                # dynamo reads .grad of its inputs while wrapping them, which warns
                # for the guard's masked copy (a non-leaf): nothing is wrong there
                with warnings.catch_warnings():
                    warnings.filterwarnings(
                        "ignore", message="The .grad attribute of a Tensor that is not a leaf"
                    )
                    return compiled(x, ops, **p)

            def compiled_beyond(x: Any, **p: Any) -> Any:
                # what the special-value guard runs (on its masked copy)
                if is_compiling():
                    # inside an outer torch.compile the formula is traced inline (a
                    # warnings scope would be a graph break)
                    return formula(x, ops, **p)
                return run(x, p)[0]

            def compiled_impl(x: Any, **p: Any) -> Any:
                if is_compiling():
                    return formula(x, ops, **p)
                y, finite = run(x, p)
                # eager CPU calls without parameters come here unguarded (see
                # _bare_check): the loop's own finiteness flag sends the few with
                # NaN or +-inf through the guard (a GPU's flag is not read back)
                if not x.is_cpu or finite.item():
                    return y
                lim = _base.limits_for(spec, p, backend._concrete)
                return backend._guarded(compiled_beyond, x, p, lim)

            compiled_impl.beyond = compiled_beyond  # type: ignore[attr-defined]
            compiled_impl.checks_finite = True  # type: ignore[attr-defined]

            k = Kernel(
                "compiled",
                NAME,
                "compiled",
                compiled_impl,
                onnx=False,
                available=_have_compiler,
                note="torch.compile of the formula (inductor; the first call per dtype compiles)",
            )
            cache[spec.name] = (spec, k)
        return k

    def _picker(self, auto: Any) -> Any:
        composed = auto.table["composed"].impl
        compiling, exporting = self._compiling, self._exporting  # self._mode, inlined (every call)

        Tensor = self.fw.Tensor
        grad_enabled = self.fw.is_grad_enabled

        def pick(dt: str, x: Any, params: Any) -> Any:
            if compiling():
                # inductor fuses the formula (and the guard) into one loop and its
                # partitioner recomputes instead of saving intermediates: the
                # composed kernel is what auto traces (dynamo cannot read the
                # use_kernel ContextVar; an explicit kernel= still applies)
                return composed
            live = (
                any(isinstance(v, Tensor) and v.requires_grad for v in params.values()) if params else False
            )
            grad = (x.requires_grad or live) and grad_enabled()
            mode = "export" if exporting() else None
            # x.numel(): self._numel inlined (the hot path)
            return auto.pick(dt, "cpu" if x.is_cpu else x.device.type, mode, live, x.numel(), grad).impl

        return pick

    def _numel(self, x: Any) -> Optional[int]:
        return int(x.numel())

    def _limits(self, spec: ActivationSpec, params: Any) -> Any:
        # under torch.compile this is traced: the limits must already be cached
        # (get_activation / get_function work them out when they build)
        return _base.limits_for(spec, params, self._concrete)

    def _mode(self) -> Optional[str]:
        # compiling first: dynamo does not trace the export flags (and a
        # torch.export-based ONNX export compiles: its auto choice, the composed
        # formula, exports)
        if self._compiling():
            return "compile"
        if self._exporting():
            return "export"
        return None

    def _bare_check(self, spec: ActivationSpec) -> Any:
        # The framework's own op often gives the contract's values (and
        # derivatives) at +-inf and NaN already: then its eager CPU calls skip the
        # guard and its finiteness pass, a full extra read of the input. That is
        # probed once per dtype and parameter values (specials in every SIMD lane,
        # forward and backward) and never assumed.
        native = self.builtin_kernels(spec).get("native")
        # (not for noise-driven activations: their training calls pass the noise too)
        native_impl = native.impl if native is not None and spec.noise is None else None
        # an op correct up to a bound (gelu's overflow near the float maximum): its
        # eager CPU calls run it where the input's minimum and maximum are within
        bound = getattr(native_impl, "bound", None)
        t, plain = self.fw, _base.plain_values
        compiling, exporting = self._compiling, self._exporting  # self._mode, inlined (every call)
        grad_enabled = t.is_grad_enabled
        # per dtype and parameter values: 0 guard, 1 bare without autograd, 2 bare
        exact: Dict[Any, int] = {}
        probe = self._probe_specials

        def runs_bare(x: Any, impl: Any, params: Mapping[str, Any]) -> bool:
            if getattr(impl, "guards_specials", False):  # the triton kernel: the guard is inside
                return True
            if compiling() or exporting() or _wrapped(x):
                return False
            cpu = x.is_cpu
            if impl is native_impl:
                if bound is not None:
                    return cpu and _within(x, bound)
                dev = x.dtype if cpu else (x.dtype, x.device)  # a GPU's op is probed on it
                key = (dev, *params.values()) if params else dev
                try:
                    ok = exact.get(key)
                except TypeError:  # a per-channel list of values: not probed
                    ok = 0
                if ok is None:
                    ok = 0
                    if plain(params):
                        fwd, bwd = probe(spec, impl, params, x.dtype, x.device)
                        ok = exact[key] = (2 if bwd else 1) if fwd else 0
                if ok and (ok == 2 or not (x.requires_grad and grad_enabled())):
                    return True
            if cpu and not params and getattr(impl, "checks_finite", False):
                return True  # the compiled kernel: its loop reports finiteness itself
            # on a GPU, reading the finiteness back would wait for the device on every call
            return _finite_sum(x) if cpu else False

        return runs_bare

    def _probe_specials(
        self, spec: ActivationSpec, impl: Any, params: Mapping[str, Any], dtype: Any, device: Any = None
    ) -> Tuple[bool, bool]:
        """(forward, backward): whether ``impl`` with ``params`` gives what the
        guard would at -inf, +inf and NaN in ``dtype``: the limits (values and
        derivatives, bit for bit) and NaN at NaN, on a vector long enough for
        the SIMD loop and its scalar tail."""
        t = self.fw
        lim = self._limits(spec, params)
        npdt = np.float64 if dtype == t.float64 else np.float32  # the guard fills in this dtype
        pattern, want_y, want_g, check = _base.special_probe(lim, npdt)
        try:
            with t.inference_mode(False), t.enable_grad():
                xp = t.tensor(pattern, dtype=dtype, device=device, requires_grad=True)
                y = impl(xp, **params)
                fwd = _base.same_bits(y.detach().double().cpu().numpy(), want_y, check)
                if not y.requires_grad:
                    return (fwd, False)
                (g,) = t.autograd.grad(y, xp, grad_outputs=t.full_like(y, 2.0))
        except Exception:  # such a kernel runs guarded, which reports the error
            return (False, False)
        return (fwd, _base.same_bits(g.detach().double().cpu().numpy() / 2.0, want_g, check))

    def _layout(self, x: Any) -> Any:
        return x if x.is_contiguous() else x.contiguous()

    def _demote(self, y: Any, dtype: str) -> Any:
        return y.to(getattr(self.fw, dtype))

    def _cast_param(self, value: Any, like: Any) -> Any:
        if isinstance(value, self.fw.Tensor) and value.dtype != like.dtype:
            return value.to(like.dtype)
        return value

    def _channel_param(self, value: Any, like: Any, axis: int) -> Any:
        t = self.fw
        if not isinstance(value, t.Tensor):
            value = t.as_tensor(np.asarray(value, dtype=np.float64), dtype=like.dtype, device=like.device)
        value = value.reshape(-1)
        return value.reshape(_base.broadcast_shape(tuple(like.shape), axis, value.numel(), "activation"))

    def draw(self, dist: str, like: Any, rng: Any) -> Any:
        """From ``rng`` (a ``torch.Generator`` on the input's device) or, for True,
        torch's global generator."""
        t = self.fw
        gen = None if rng is True else rng
        make = t.rand if dist == "uniform" else t.randn
        return make(like.shape, generator=gen, dtype=like.dtype, device=like.device)

    def set_config(self, obj: Any, config: Dict[str, Any]) -> None:
        # where nn.Module.__setattr__ puts a dict, without its checks (a microsecond)
        obj.__dict__["polyact_config"] = config

    def make_module(
        self, spec: ActivationSpec, kernel: Kernel, params: Dict[str, Any], options: Dict[str, Any]
    ) -> Any:
        from ._torch_modules import build_module

        return build_module(self, spec, kernel, params, options)

    def value_and_grad(self, f: Any, x: Any) -> Tuple[Any, Any]:
        t = self.fw
        xg = x.detach().clone().requires_grad_(True)
        y = f(xg)
        (g,) = t.autograd.grad(y, xg, grad_outputs=t.ones_like(y))
        return y.detach(), g

    def param_grads(self, module: Any, x: Any) -> Tuple[Any, Dict[str, Any]]:
        t = self.fw
        named = [(k, p) for k, p in module.named_parameters() if p.requires_grad]
        y = module(x)
        if y.requires_grad:
            grads = t.autograd.grad(y, [p for _, p in named], grad_outputs=t.ones_like(y), allow_unused=True)
        else:  # no parameter reaches the output (e.g. probact's sigma in evaluation mode)
            grads = [None] * len(named)
        out = {}
        for (k, p), g in zip(named, grads):
            out[k] = np.zeros(tuple(p.shape)) if g is None else g.detach().double().cpu().numpy()
        return y.detach(), out


backend = TorchBackend()
