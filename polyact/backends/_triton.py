"""The ``triton`` kernel: an element-wise spec compiled to one Triton kernel.

Triton compiles a ``@triton.jit`` function from its source, so a formula that
branches on its parameters in Python, calls helpers of its module or uses
``math`` cannot be jitted as it is. Instead the formula runs once in Python
with :class:`TritonOps` on a symbolic input: each primitive records one line of
``triton.language`` code, Python arithmetic on plain numbers (parameters,
constants) is done in Python as on every backend, and the recorded lines fill
one element-wise template (a forward kernel, and a backward kernel computing
``g * grad(x)`` from ``spec.grad``). The generated source is registered with
``linecache`` (Triton reads a kernel's source), executed and jitted once per
spec.

Parameters are symbolic, loaded from a small tensor in the input's dtype
(float64 keeps its digits: a Python float kernel argument would be float32), so
one compiled kernel serves every value and a trainable scalar needs no host
round trip. Per-channel parameters are gathered along the channel axis; the
noise of a stochastic activation in training mode is a second input. A formula
that needs a parameter's value in Python (``if alpha > 0``, ``math.frexp``) is
traced again with the values, and compiled per set of values (eis, sine,
squareplus, tanhsoft: hyperparameters, none trainable).

Compiled, the transcendentals, square root and division are libdevice's
(``tl.exp`` and ``tl.sqrt`` are fast approximations, float32 ``/`` is
``div.full``), without FMA contraction or flushed subnormals. Triton's
interpreter (``TRITON_INTERPRET=1``, the CPU tests) has no libdevice: there
they are NumPy's and torch's functions on the interpreter's arrays. Importing
this module never imports triton.
"""

from __future__ import annotations

import linecache
import math
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import _scalar as S
from ..errors import ActivationError
from ..ops import Ops
from ..spec import ActivationSpec, Kernel
from ._codegen import (
    Loads,
    Variant,
    _Expr,
    _NeedsValue,
    _number,
    bind_params,
    channel_layout,
    check_result,
    expressible,
)

__all__ = ["TritonOps", "Variant", "kernel_source", "triton_available", "triton_kernel"]

#: elements per program
BLOCK = 1024

#: compiled as the formulas are written: no contraction of a * b + c into one
#: FMA (the formulas' exact splits and error terms assume separate roundings),
#: and libdevice keeping subnormal results (Triton flushes them by default)
COMPILE_OPTIONS = {"enable_fp_fusion": False, "enable_reflect_ftz": False}

# the libdevice functions the generated code calls as ``_L.<name>``: the
# correctly rounded square root and division, and the accurate transcendentals
_LIB = ("exp", "expm1", "log", "log1p", "sqrt_rn", "div_rn", "tanh", "erf", "erfc", "sin", "cos", "pow")


class _Trace:
    """The lines of code one formula records, with common subexpressions shared.

    This is the Triton dialect; another dialect (the C++ of the MegEngine
    ``cpp`` kernel) overrides the spelling: the special literals, a line's
    declaration, and the text of ``abs``, logical not, division, square root
    and power."""

    # (NaN as inf - inf, folded at compile time: a NaN global would fail the check that
    # a jitted kernel's globals are unchanged at launch, since NaN != NaN)
    NAN, INF, NINF = "(_INF - _INF)", "_INF", "_NINF"

    def __init__(self) -> None:
        self.lines: List[str] = []
        self.memo: Dict[str, _Expr] = {}

    def lit(self, v: Any) -> str:
        """An operand of an arithmetic operator: a name or a Python literal."""
        if isinstance(v, _Expr):
            return v.name
        v = float(v)
        if math.isnan(v):
            return self.NAN
        if math.isinf(v):
            return self.INF if v > 0 else self.NINF
        return f"({v!r})"

    def typed(self, v: Any) -> str:
        """An argument of a ``tl`` function: numbers become constants of the input's dtype."""
        return v.name if isinstance(v, _Expr) else f"tl.full([], {self.lit(v)}, x.dtype)"

    def declare(self, name: str, text: str, boolean: bool) -> str:
        """The line giving ``name`` the value of ``text``."""
        return f"{name} = {text}"

    def binary(self, op: str, a: Any, b: Any, boolean: bool) -> _Expr:
        """``a op b`` for a Python operator ``op`` (arithmetic, comparison, logic)."""
        return self.op(f"{self.lit(a)} {op} {self.lit(b)}", (a, b), boolean)

    def absolute(self, a: _Expr) -> _Expr:
        return self.op(f"tl.abs({a.name})", (a,))

    def invert(self, a: _Expr) -> _Expr:
        """Logical not of a comparison's result."""
        return self.op(f"~{a.name}", (a,), True)

    def quotient(self, a: Any, b: Any) -> str:
        """Correctly rounded division (Triton's float32 ``/`` is ``div.full``, 2 ulp)."""
        return f"_L.div_rn({self.typed(a)}, {self.typed(b)})"

    def root(self, a: Any) -> str:
        return f"_L.sqrt_rn({self.typed(a)})"

    def raised(self, a: Any, b: Any) -> str:
        return f"_L.pow({self.typed(a)}, {self.typed(b)})"

    def op(self, text: str, args: Tuple[Any, ...], boolean: bool = False) -> _Expr:
        hit = self.memo.get(text)
        if hit is None:
            block = any(isinstance(a, _Expr) and a.block for a in args)
            hit = _Expr(self, f"v{len(self.lines)}", block, boolean)
            self.lines.append(self.declare(hit.name, text, boolean))
            self.memo[text] = hit
        return hit

    def divide(self, a: Any, b: Any) -> Any:
        if not (isinstance(a, _Expr) or _number(a)) or not (isinstance(b, _Expr) or _number(b)):
            return NotImplemented
        return self.op(self.quotient(a, b), (a, b))

    def power(self, a: Any, b: Any) -> Any:
        if _number(b) and float(b) == 2.0:
            return a * a
        if _number(b) and float(b) == 0.5:
            return self.op(self.root(a), (a,))
        if _number(b) and float(b) in (3.0, 4.0, 5.0, 6.0, 7.0, 8.0):
            out = a
            for _ in range(int(b) - 1):
                out = out * a
            return out
        if not any(isinstance(v, _Expr) and v.block for v in (a, b)):
            raise _NeedsValue("a power of parameters")  # computed in Python from the values
        return self.op(self.raised(a, b), (a, b))


class TritonOps(Ops):
    """The primitives as ``triton.language`` code: on traced values each call
    records one line of the kernel (``_L`` is libdevice when compiled); on
    plain numbers it computes in Python like every backend's Ops."""

    name = "triton"

    def __init__(self, trace: Optional[_Trace] = None) -> None:
        self.tr = trace if trace is not None else _Trace()

    def _u(self, lib: str, scalar: Callable[[float], Any], x: Any) -> Any:
        if isinstance(x, _Expr):
            return self.tr.op(f"_L.{lib}({x.name})", (x,))
        return scalar(x)

    def exp(self, x: Any) -> Any:
        return self._u("exp", S.exp, x)

    def expm1(self, x: Any) -> Any:
        return self._u("expm1", S.expm1, x)

    def log(self, x: Any) -> Any:
        return self._u("log", S.log, x)

    def log1p(self, x: Any) -> Any:
        return self._u("log1p", S.log1p, x)

    def sqrt(self, x: Any) -> Any:
        return self._u("sqrt_rn", S.sqrt, x)

    def tanh(self, x: Any) -> Any:
        return self._u("tanh", S.tanh, x)

    def erf(self, x: Any) -> Any:
        return self._u("erf", S.erf, x)

    def erfc(self, x: Any) -> Any:
        return self._u("erfc", S.erfc, x)

    def sin(self, x: Any) -> Any:
        return self._u("sin", S.sin, x)

    def cos(self, x: Any) -> Any:
        return self._u("cos", S.cos, x)

    def abs(self, x: Any) -> Any:
        return abs(x) if isinstance(x, _Expr) else S.abs_(x)

    def sigmoid(self, x: Any) -> Any:
        if not isinstance(x, _Expr):
            return S.sigmoid(x)
        e = self.exp(-abs(x))  # <= 1: no overflow on either side
        r = 1.0 / (1.0 + e)
        return self.where(x >= 0, r, e * r)

    def sign(self, x: Any) -> Any:
        if not isinstance(x, _Expr):
            return S.sign(x)
        zero = self.where(x != x, x, 0.0)  # NaN stays NaN, signed zeros give +0
        return self.where(x > 0, 1.0, self.where(x < 0, -1.0, zero))

    def isnan(self, x: Any) -> Any:
        return x != x if isinstance(x, _Expr) else S.isnan(x)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if not isinstance(cond, _Expr):
            return a if cond else b
        t = self.tr
        return t.op(f"tl.where({cond.name}, {t.typed(a)}, {t.typed(b)})", (cond, a, b))

    def _extremum(self, fn: str, scalar: Callable[[float, float], float], a: Any, b: Any) -> Any:
        if not isinstance(a, _Expr) and not isinstance(b, _Expr):
            return scalar(a, b)
        t = self.tr
        text = f"tl.{fn}({t.typed(a)}, {t.typed(b)}, propagate_nan=tl.PropagateNan.ALL)"
        return t.op(text, (a, b))

    def maximum(self, a: Any, b: Any) -> Any:
        return self._extremum("maximum", S.maximum, a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        return self._extremum("minimum", S.minimum, a, b)


# --------------------------------------------------------------------------- tracing
# The special-value guard is part of the kernel (no extra pass over memory): the
# formula runs on x with +-inf and NaN replaced by 0, and those positions get
# the limits from LIM (f(-inf), f'(-inf), f(+inf), f'(+inf); FULL) or, where
# the limits are unknown, NaN at NaN and the formula's own values at +-inf.
_TEMPLATE = """
def {name}(X, NZ, {io}P, LIM, N, INNER, C, FULL: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    msk = offs < N
    x_in = tl.load(X + offs, mask=msk, other=0.0)
    if FULL:
        special = ~(tl.abs(x_in) < _INF)
    else:
        special = x_in != x_in
    x = tl.where(special, 0.0, x_in)
{body}
    if FULL:
        lim = tl.where(x_in < 0, tl.load(LIM + {lo}), tl.where(x_in > 0, tl.load(LIM + {hi}), x_in))
    else:
        lim = x_in
    tl.store({dst} + offs, tl.where(special, {at_special}, {out}), mask=msk)
"""


#: how the generated Triton code loads the parameters and the noise
_LOADS = Loads(
    channel_index="ch = (offs // INNER) % C",
    channel="p{i} = tl.load(P + ({i} * C + ch), mask=msk, other=0.0)",
    scalar="p{i} = tl.load(P + {i})",
    noise="nz = tl.load(NZ + offs, mask=msk, other=0.0)",
)


def _trace(
    fn: Callable[..., Any], names: Tuple[str, ...], values: Optional[Mapping[str, Any]], variant: Variant
) -> List[str]:
    """The kernel body of ``fn`` (its result in ``out``): parameters symbolic
    (``values`` None) or the given numbers."""
    tr = _Trace()
    x = _Expr(tr, "x", True)
    params, once, each = bind_params(tr, names, values, variant, _LOADS)
    y = fn(x, TritonOps(tr), **params)
    check_result(y)
    if isinstance(y, _Expr) and y.block:
        out = y.name
    elif isinstance(y, _Expr):
        out = f"{y.name} + tl.zeros_like(x)"
    else:
        out = f"tl.full([BLOCK], {tr.lit(y)}, x.dtype)"
    return [*once, *each, *tr.lines, f"out = {out}"]


def kernel_source(
    spec: ActivationSpec, values: Optional[Mapping[str, Any]] = None, variant: Optional[Variant] = None
) -> str:
    """The Python source of ``spec``'s forward and backward Triton kernels
    (parameters symbolic, or fixed to ``values``); raises ``_NeedsValue`` when
    the formula needs the values."""
    names = tuple(spec.params)
    variant = variant or Variant()
    fwd = _trace(spec.fast or spec.fn, names, values, variant)
    bwd = _trace(spec.grad, names, values, variant)  # type: ignore[arg-type]
    body = "\n".join("    " + line for line in fwd)
    src = _TEMPLATE.format(name="fwd", io="Y, ", body=body, dst="Y", out="out", lo=0, hi=2, at_special="lim")
    body = "\n".join("    " + line for line in bwd)
    body += "\n    g = tl.load(G + offs, mask=msk, other=0.0)"
    src += _TEMPLATE.format(
        name="bwd", io="G, DX, ", body=body, dst="DX", out="g * out", lo=1, hi=3, at_special="g * lim"
    )
    return src


def _expressible(spec: ActivationSpec) -> Optional[str]:
    """Why ``spec`` has no triton kernel, or None when it has one."""
    return expressible(spec, kernel_source, values_per_channel=False)


# --------------------------------------------------------------------------- compiling
_lock = threading.RLock()
_COMPILED: Dict[Any, Any] = {}
_NEEDS_VALUES: Dict[Any, ActivationSpec] = {}


def _interpreting() -> bool:
    import triton

    return bool(triton.knobs.runtime.interpret)


def _interpreter_lib() -> Any:
    """``_L`` under the interpreter: NumPy/torch functions on its arrays."""
    import numpy as np
    import torch
    import triton.language as tl
    from triton.runtime.interpreter import TensorHandle

    def data(v: Any) -> Any:
        return v.handle.data if isinstance(v, tl.tensor) else np.asarray(v)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            like = max((a for a in args if isinstance(a, tl.tensor)), key=lambda a: len(a.shape))
            with np.errstate(all="ignore"):
                out = np.asarray(fn(*(data(a) for a in args)), dtype=like.handle.data.dtype)
            return tl.tensor(TensorHandle(out, like.dtype.scalar), like.type)

        return call

    def special(name: str) -> Callable[..., Any]:
        f = getattr(torch.special, name)
        return lambda a: f(torch.from_numpy(np.ascontiguousarray(a))).numpy()

    fns = {
        "exp": np.exp,
        "expm1": np.expm1,
        "log": np.log,
        "log1p": np.log1p,
        "sqrt_rn": np.sqrt,
        "div_rn": np.divide,
        "tanh": np.tanh,
        "erf": special("erf"),
        "erfc": special("erfc"),
        "sin": np.sin,
        "cos": np.cos,
        "pow": np.power,
    }
    return type("InterpreterLib", (), {k: staticmethod(wrap(fns[k])) for k in _LIB})


def _compile(
    spec: ActivationSpec, values: Optional[Mapping[str, Any]], variant: Variant, interp: bool
) -> Tuple[Any, Any]:
    """The jitted (forward, backward) kernels of ``spec``."""
    import triton
    import triton.language as tl

    if interp:
        lib = _interpreter_lib()
    else:
        from triton.language.extra import libdevice as lib
    src = kernel_source(spec, values, variant)
    filename = f"<polyact-triton {spec.name} {len(_COMPILED)}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    scope = {
        "tl": tl,
        "_L": lib,
        "_INF": tl.constexpr(math.inf),
        "_NINF": tl.constexpr(-math.inf),
    }
    exec(compile(src, filename, "exec"), scope)  # the source generated above
    return triton.jit(scope["fwd"]), triton.jit(scope["bwd"])


def _kernels(
    spec: ActivationSpec, p: Mapping[str, Any], variant: Variant, interp: bool
) -> Tuple[Any, Any, bool]:
    """(forward, backward, symbolic): compiled once per spec and variant, or per
    parameter values when the formula needs them (entries are keyed by the
    spec's id and hold the spec, so a re-registered name never reuses them)."""
    values = None
    if _NEEDS_VALUES.get((id(spec), variant)) is spec:
        if variant.channel or variant.noise:
            raise ActivationError(
                f"the triton kernel of {spec.name} needs scalar parameters here (its formula reads their "
                f"values in Python)"
            )
        values = {k: _float(v) for k, v in p.items()}
    key = (id(spec), variant, interp, None if values is None else tuple(sorted(values.items())))
    hit = _COMPILED.get(key)
    if hit is not None and hit[3] is spec:
        return hit[:3]
    with _lock:
        try:
            fwd, bwd = _compile(spec, values, variant, interp)
        except _NeedsValue:
            if values is not None:
                raise
            _NEEDS_VALUES[(id(spec), variant)] = spec
            return _kernels(spec, p, variant, interp)
        _COMPILED[key] = (fwd, bwd, values is None, spec)
    return fwd, bwd, values is None


def _float(v: Any) -> float:
    if hasattr(v, "numel"):
        return float(v.detach().reshape(()).item())
    return float(v)


_PARAM_CACHE: Dict[Any, Any] = {}
_LIMIT_CACHE: Dict[Any, Any] = {}


def _layout(spec: ActivationSpec, p: Mapping[str, Any], x: Any) -> Tuple[int, int]:
    """(INNER, C) of per-channel parameters: ``C`` values along an axis of ``x``
    with ``INNER`` elements after it; (1, 1) when every parameter is a scalar."""
    shapes = (tuple(v.shape) for v in p.values() if hasattr(v, "numel") and v.numel() > 1)
    return channel_layout("triton", spec, shapes, tuple(x.shape))


def _param_tensor(torch: Any, spec: ActivationSpec, p: Mapping[str, Any], x: Any, c: int) -> Any:
    """The parameters as a (n, C) tensor of ``x``'s dtype on its device, row k
    the k-th parameter's values (``x`` itself, unused, without parameters)."""
    if not p:
        return x
    vals = [p[k] for k in spec.params]
    if not any(isinstance(v, torch.Tensor) for v in vals):
        floats = tuple(float(v) for v in vals)
        # (the signs of zeros in the key: -0.0 == 0.0, and a formula may tell them apart)
        key = (floats, tuple(math.copysign(1.0, v) for v in floats), x.dtype, x.device)
        t = _PARAM_CACHE.get(key)
        if t is None:
            if len(_PARAM_CACHE) > 256:
                _PARAM_CACHE.clear()
            t = _PARAM_CACHE[key] = torch.tensor(floats, dtype=x.dtype, device=x.device)
        return t
    rows = [torch.as_tensor(v, dtype=x.dtype, device=x.device).detach().reshape(-1).expand(c) for v in vals]
    return torch.stack(rows).contiguous()


_FUNCTION: Any = None
_FORWARD: Any = None


def _function(torch: Any) -> Any:
    """The autograd function: forward kernel; backward kernel from the saved
    input (and the noise of a training-mode call, and the parameters)."""
    global _FUNCTION, _FORWARD
    if _FUNCTION is not None:
        return _FUNCTION
    import contextlib

    import numpy as np

    # Triton launches on the current device: with several GPUs, switch to x's
    # (with one, x is on it: the context manager's cost is saved on every call)
    several = torch.cuda.is_available() and torch.cuda.device_count() > 1
    same = contextlib.nullcontext()

    def device(x: Any) -> Any:
        return torch.cuda.device(x.device) if several and x.is_cuda else same

    def launch(kernels: Any, i: int, n: int, lim: Any, *args: Any) -> None:
        if not n:
            return
        grid = ((n + BLOCK - 1) // BLOCK,)
        if kernels[2]:  # compiled
            kernels[i][grid](*args, FULL=lim is not None, BLOCK=BLOCK, **kernels[2])
            return
        # the interpreter computes with NumPy: overflow to inf is IEEE, not an error
        with np.errstate(all="ignore"):
            kernels[i][grid](*args, FULL=lim is not None, BLOCK=BLOCK)

    def forward_only(x: Any, noise: Any, params: Any, kernels: Any, layout: Any, lim: Any) -> Any:
        """The forward kernel alone (no autograd record: nothing needs a gradient)."""
        y = torch.empty_like(x)
        nz = x if noise is None else noise
        with device(x):
            launch(
                kernels, 0, x.numel(), lim, x, nz, y, params, x if lim is None else lim, x.numel(), *layout
            )
        return y

    _FORWARD = forward_only

    class TritonActivation(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any, noise: Any, params: Any, kernels: Any, layout: Any, lim: Any) -> Any:
            y = torch.empty_like(x)
            nz = x if noise is None else noise
            lim_t = x if lim is None else lim
            with device(x):
                launch(kernels, 0, x.numel(), lim, x, nz, y, params, lim_t, x.numel(), *layout)
            ctx.save_for_backward(x, nz, params, lim_t)
            ctx.kernels, ctx.layout, ctx.full = kernels, layout, lim is not None
            return y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            x, nz, params, lim_t = ctx.saved_tensors
            g = g.to(x.dtype).contiguous()
            dx = torch.empty_like(x)
            with device(x):
                lim = lim_t if ctx.full else None
                launch(ctx.kernels, 1, x.numel(), lim, x, nz, g, dx, params, lim_t, x.numel(), *ctx.layout)
            return dx, None, None, None, None, None

    _FUNCTION = TritonActivation
    return _FUNCTION


_VARIANTS = {(c, n): Variant(channel=c, noise=n) for c in (False, True) for n in (False, True)}


def _run(spec: ActivationSpec, x: Any, p: Mapping[str, Any]) -> Any:
    import torch

    noise = p.get("noise")
    p = {k: v for k, v in p.items() if k in spec.params}
    interp = _interpreting()
    if x.device.type != "cuda" and not interp:
        raise ActivationError(
            f"the triton kernel of {spec.name} needs a CUDA tensor (got one on {x.device}); pick another "
            f"kernel (kernel='auto' does) or set TRITON_INTERPRET=1 to run it in Triton's interpreter"
        )
    half = x.dtype in (torch.float16, torch.bfloat16)
    xc = (x.float() if half else x).contiguous()
    if noise is not None:
        noise = noise.detach().to(xc.dtype).expand(xc.shape).contiguous()
    layout = _layout(spec, p, xc)
    variant = _VARIANTS[layout[1] > 1, noise is not None]
    fwd, bwd, symbolic = _kernels(spec, p, variant, interp)
    params = _param_tensor(torch, spec, p if symbolic else {}, xc, layout[1])
    lim = _limit_tensor(torch, spec, p, xc)
    kernels = (fwd, bwd, {} if interp else COMPILE_OPTIONS)
    function = _function(torch)
    if xc.requires_grad and torch.is_grad_enabled():
        y = function.apply(xc, noise, params, kernels, layout, lim)
    else:
        y = _FORWARD(xc, noise, params, kernels, layout, lim)
    return y.to(x.dtype) if half else y


def _limit_tensor(torch: Any, spec: ActivationSpec, p: Mapping[str, Any], x: Any) -> Any:
    """The special-value limits for ``p`` (see :mod:`polyact._limits`) as a
    4-element tensor of ``x``'s dtype on its device, or None where they are
    unknown (per-channel values): the kernel's special-value guard reads them."""
    from . import _base

    if x.numel() == 0:  # nothing to launch
        return None
    lim = _base.limits_for(spec, p, _concrete)
    if lim is None:
        return None
    # keyed by the tuple's identity (one cached tuple per parameter values), not
    # its value: -0.0 == 0.0 would hand a kernel the other sign of zero
    key = (id(lim), x.dtype, x.device)
    hit = _LIMIT_CACHE.get(key)
    if hit is None or hit[0] is not lim:
        if len(_LIMIT_CACHE) > 256:
            _LIMIT_CACHE.clear()
        hit = _LIMIT_CACHE[key] = (lim, torch.tensor(lim, dtype=x.dtype, device=x.device))
    return hit[1]


def _concrete(value: Any) -> Optional[float]:
    """A one-element parameter tensor's value (else None: the limits are then
    the static ones, or unknown)."""
    if hasattr(value, "numel"):
        return float(value.detach().reshape(()).item()) if value.numel() == 1 else None
    return None


# --------------------------------------------------------------------------- the kernel
_AVAILABLE: Dict[str, bool] = {}


def triton_available() -> bool:
    """Whether triton imports here (tried once)."""
    ok = _AVAILABLE.get("ok")
    if ok is None:
        try:
            import triton  # noqa: F401

            ok = True
        except Exception:  # a broken install is "not available"
            ok = False
        _AVAILABLE["ok"] = ok
    return ok


def triton_kernel(spec: ActivationSpec) -> Optional[Kernel]:
    """The ``triton`` kernel of an element-wise ``spec`` on the torch backend,
    or None when the spec cannot be expressed (no ``grad``, a formula that
    cannot be traced)."""
    if _expressible(spec) is not None:
        return None

    def impl(x: Any, **p: Any) -> Any:
        return _run(spec, x, p)

    impl.guards_specials = True  # type: ignore[attr-defined]  (the runner adds no guard)

    return Kernel(
        "triton",
        "torch",
        "triton",
        impl,
        devices=("cuda",),
        onnx=False,
        compile_safe=False,
        param_grads=False,
        available=triton_available,
        note="a Triton kernel generated from the formula (backward: g * grad(x) from the saved input), "
        "the special-value guard inside the kernel; CUDA tensors only; scalar or per-channel parameters; no gradient for trainable parameters",
    )
