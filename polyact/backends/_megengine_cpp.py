"""The ``cpp`` kernel of the MegEngine backend: an element-wise spec compiled
to one C++ loop, loaded as a MegEngine custom op.

MegEngine's CPU build runs every eager op as a full pass over fresh memory and
``megengine.jit.trace`` does not fuse element-wise ops, so a formula of ten
ops costs ten passes. This kernel writes the formula as one loop instead: the
formula runs once in Python on a symbolic input with :class:`CppOps` (the
tracer of :mod:`._triton`, in a C++ dialect), each primitive recording one line
of C++; the lines fill an element-wise template for the forward and one for the
backward (``g * grad(x)`` from ``spec.grad``, recomputed from the saved
input). The source is compiled with the system's C++ compiler against the
MegEngine wheel's headers (``megbrain/custom/custom.h``) and loaded with
``megengine.core.ops.custom.load``.

- Parameters are read from a small float32 input (scalars, or one value per
  channel gathered along the channel axis), so one build serves every value;
  a formula that needs a parameter's value in Python is built per set of
  values, as for the Triton kernel. The noise of a stochastic activation in
  training mode is one more input.
- Reads and writes float32 and computes in double with the C library's
  functions, IEEE division and square root, no FMA contraction
  (``-ffp-contract=off``) and no ``-ffast-math``: one rounding to float32 at
  the end, so results are nearly correctly rounded (and monotone where the
  function is; float32 evaluation of a quotient like e / (1 + e) steps down
  by an ulp in places). Large inputs are split over the usable CPUs.
- Built once per formula into ``$POLYACT_CACHE_DIR/megengine-cpp`` (keyed by
  the source, the compiler flags and MegEngine's version), so later processes
  load the library in milliseconds; without a cache directory it is built in a
  temporary one per process. With a cache directory, the first built-in
  activation asked for builds every built-in's kernels into one library (one
  compiler run of about 25 s instead of 1.3-1.6 s per activation).
- The special-value guard (:mod:`polyact._limits`) is part of the op: after
  each block of 4096 elements the loop checks the block's input, still in
  cache, and puts the limits (read from the ops' second input) where it is
  +-inf or NaN. The runner adds no pass or host read of its own on eager
  calls (inside ``jit.trace`` the formula runs behind the runner's guard).
  Measured on 2 CPUs: 175-230 us per call of 8 to 1024 elements against
  typically 260-290 with the runner's check; no clear change at 1M and 16M,
  where the runner's check was one sum.
- Available where MegEngine's headers and a C++ compiler (``$CXX`` or ``c++``)
  are; trainable parameters get no gradient (``param_grads=False``).
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from ..errors import ActivationError
from ..spec import ActivationSpec, Kernel
from ._codegen import (
    Loads,
    Variant,
    _Expr,
    _NeedsValue,
    bind_params,
    channel_layout,
    check_result,
    expressible,
    variants,
)
from ._triton import TritonOps, _Trace

__all__ = ["CppOps", "cpp_available", "cpp_kernel", "kernel_source", "prebuild"]

#: the optimisation flags of every build (part of the cache key)
#: (``-fno-trapping-math`` lets the vectoriser evaluate both sides of a ``where``, as
#: the formula does; ``-ffp-contract=off``: no FMA contraction)
CXXFLAGS = (
    "-O3",
    "-std=c++14",
    "-fPIC",
    "-fopenmp-simd",
    "-pthread",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-w",
)
#: inputs with fewer elements run on the calling thread (starting threads costs more)
PARALLEL_MIN = 1 << 16

_CPP_FUNCS = {
    "exp": "exp",
    "expm1": "expm1",
    "log": "log",
    "log1p": "log1p",
    "sqrt_rn": "sqrt",
    "tanh": "tanh",
    "erf": "erf",
    "erfc": "erfc",
    "sin": "sin",
    "cos": "cos",
}


class _CppTrace(_Trace):
    """The tracer's lines as C++ declarations of double (or bool) values."""

    NAN, INF, NINF = "PA_NAN", "PA_INF", "(-PA_INF)"

    def typed(self, v: Any) -> str:
        return self.lit(v)  # a double, like a Python number

    def declare(self, name: str, text: str, boolean: bool) -> str:
        return f"const {'bool' if boolean else 'double'} {name} = {text};"

    def absolute(self, a: _Expr) -> _Expr:
        return self.op(f"fabs({a.name})", (a,))

    def invert(self, a: _Expr) -> _Expr:
        return self.op(f"!{a.name}", (a,), True)

    def quotient(self, a: Any, b: Any) -> str:  # IEEE division: correctly rounded
        return f"{self.lit(a)} / {self.lit(b)}"

    def root(self, a: Any) -> str:
        return f"sqrt({self.lit(a)})"

    def raised(self, a: Any, b: Any) -> str:
        return f"pow({self.lit(a)}, {self.lit(b)})"


class CppOps(TritonOps):
    """The primitives as C++ (in double): on traced values each call records one
    line; on plain numbers it computes in Python like every backend's Ops."""

    name = "cpp"

    def _u(self, lib: str, scalar: Callable[[float], Any], x: Any) -> Any:
        if isinstance(x, _Expr):
            return self.tr.op(f"{_CPP_FUNCS[lib]}({x.name})", (x,))
        return scalar(x)

    def sigmoid(self, x: Any) -> Any:
        """``1 / (1 + e)`` for x >= 0 and ``e / (1 + e)`` below, ``e = exp(-|x|)``:
        no overflow, and monotone (one correctly rounded division of a
        non-decreasing quotient; ``e * (1 / (1 + e))`` rounds twice and steps
        down by an ulp just below 0)."""
        if not isinstance(x, _Expr):
            return super().sigmoid(x)
        e = self.exp(-abs(x))
        d = 1.0 + e
        return self.where(x >= 0, 1.0 / d, e / d)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if not isinstance(cond, _Expr):
            return a if cond else b
        t = self.tr
        return t.op(f"{cond.name} ? {t.lit(a)} : {t.lit(b)}", (cond, a, b))

    def _extremum(self, fn: str, scalar: Callable[[float, float], float], a: Any, b: Any) -> Any:
        if not isinstance(a, _Expr) and not isinstance(b, _Expr):
            return scalar(a, b)
        t = self.tr
        return t.op(f"pa_{fn}({t.lit(a)}, {t.lit(b)})", (a, b))


# --------------------------------------------------------------------------- source
_PREAMBLE = """\
// generated by polyact from activation specs: one element-wise loop per op
#include <math.h>
#include <sched.h>
#include <stdint.h>

#include <algorithm>
#include <limits>
#include <thread>
#include <vector>

#include "megbrain/custom/custom.h"

// the C library's double functions, with glibc's vector variants (libmvec) so that the loops vectorise
extern "C" {
%(simd)s}

namespace {
const double PA_NAN = std::numeric_limits<double>::quiet_NaN();
const double PA_INF = std::numeric_limits<double>::infinity();
// elements per block of the special-value check (the block's input is still in L1 cache)
const int64_t PA_BLOCK = 4096;

// NaN-propagating extrema (no short-circuit operators: the loops stay branch-free and vectorise;
// bool & and | below are the formulas' logical operators, evaluated without branches too)
inline double pa_maximum(double a, double b) {
    const double m = a > b ? a : b;
    const double n = b != b ? b : m;
    return a != a ? a : n;
}
inline double pa_minimum(double a, double b) {
    const double m = a < b ? a : b;
    const double n = b != b ? b : m;
    return a != a ? a : n;
}

// body(lo, hi) over [0, n): in chunks on one thread per usable CPU for large n. Threads of
// their own rather than OpenMP's pool, whose idle threads spin and slow MegEngine's next ops
int pa_cpus() {
    static const int n = [] {
        cpu_set_t set;
        const int c = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
        return std::max(1, std::min(c, 64));
    }();
    return n;
}

template <typename F>
void pa_parallel(int64_t n, F body) {
    const int t = pa_cpus();
    if (n < %(parallel_min)d || t < 2) {
        body(int64_t(0), n);
        return;
    }
    const int64_t chunk = (n + t - 1) / t;
    std::vector<std::thread> pool;
    for (int k = 1; k < t && k * chunk < n; ++k) pool.emplace_back(body, k * chunk, std::min(n, (k + 1) * chunk));
    body(int64_t(0), std::min(n, chunk));
    for (auto& th : pool) th.join();
}

// the output is like the input x (given, so that MegEngine does not warn about its defaults)
void pa_device(const std::vector<custom::Device>& in, const custom::Param&, std::vector<custom::Device>& out) {
    out[0] = in[0];
}
void pa_shape(const std::vector<custom::Shape>& in, const custom::Param&, std::vector<custom::Shape>& out) {
    out[0] = in[0];
}
void pa_dtype(const std::vector<custom::DType>& in, const custom::Param&, std::vector<custom::DType>& out) {
    out[0] = in[0];
}
}  // namespace
"""

#: the functions declared with SIMD variants: glibc >= 2.35 has them all in libmvec,
#: older ones (from 2.22) the first four
_SIMD = ("exp", "log", "sin", "cos", "expm1", "log1p", "tanh", "erf", "erfc")


def _simd_functions() -> Tuple[str, ...]:
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()  # type: ignore[union-attr]
        major, minor = (int(v) for v in version.split(".")[:2])
    except (AttributeError, OSError, ValueError):
        return ()  # not glibc: no libmvec
    if name != "glibc" or (major, minor) < (2, 22):
        return ()
    return _SIMD if (major, minor) >= (2, 35) else _SIMD[:4]


_OP = """
CUSTOM_OP_REG_BEGIN(%(name)s)
static void compute(const std::vector<Tensor>& in, const Param& prm, std::vector<Tensor>& out) {
    const float* __restrict X = in[0].data<float>();
    // in[1]: the special-value limits f(-inf), f'(-inf), f(+inf), f'(+inf), then 1 where they are
    // known (+-inf and NaN take them) or 0 (NaN alone is special), then the parameters
    const float* __restrict L = in[1].data<float>();
    const float* __restrict P = L + 5;
%(loads)s    float* __restrict Y = out[0].data<float>();
    const int64_t N = static_cast<int64_t>(in[0].size());
    const int64_t INNER = prm["inner"].as<int64_t>(), C = prm["c"].as<int64_t>();
    // special: !(|x| <= BOUND), so +-inf and NaN where the limits are known, NaN alone where not
    const float BOUND = L[4] != 0.0f ? std::numeric_limits<float>::max() : std::numeric_limits<float>::infinity();
    const float LO = L[%(lo)d], HI = L[%(hi)d];
    (void)P; (void)INNER; (void)C;
%(scalars)s    pa_parallel(N, [=](int64_t lo, int64_t hi) {
        // local copies: read from the closure inside the loops, they keep them from vectorising
        const float bound = BOUND, lim_lo = LO, lim_hi = HI;
        // the special-value guard without a pass of its own: each block of the formula's loop
        // is checked while it is in cache, and the rare block with a special value fixed up
        for (int64_t b = lo; b < hi; b += PA_BLOCK) {
            const int64_t e = std::min(hi, b + PA_BLOCK);
#pragma omp simd
            for (int64_t i = b; i < e; ++i) {
                const double x = X[i];
%(body)s                Y[i] = static_cast<float>(%(result)s);
            }
            bool any = false;
#pragma omp simd reduction(| : any)
            for (int64_t i = b; i < e; ++i) any |= !(fabsf(X[i]) <= bound);
            if (!any) continue;
            for (int64_t i = b; i < e; ++i) {
                const float x_in = X[i];
                if (fabsf(x_in) <= bound) continue;
                const float lim = x_in < 0 ? lim_lo : (x_in > 0 ? lim_hi : x_in);
                Y[i] = %(at_special)s;
            }
        }
    });
}
CUSTOM_OP_REG(%(name)s)
    .add_inputs(%(inputs)d)
    .add_outputs(1)
    .add_param("inner", static_cast<int64_t>(1))
    .add_param("c", static_cast<int64_t>(1))
    .set_device_infer(pa_device)
    .set_shape_infer(pa_shape)
    .set_dtype_infer(pa_dtype)
    .set_compute("x86", compute);
CUSTOM_OP_REG_END(%(name)s)
"""


class Unit(NamedTuple):
    """The C++ of one (spec, variant, values): a forward and a backward op."""

    fwd: str
    bwd: str
    source: str


#: how the generated C++ loads the parameters and the noise (``i``: the element)
_LOADS = Loads(
    channel_index="const int64_t ch = (i / INNER) % C;",
    channel="const double p{i} = P[{i} * C + ch];",
    scalar="const double p{i} = P[{i}];",
    noise="const double nz = NZ[i];",
)


def _trace(
    fn: Callable[..., Any], names: Tuple[str, ...], values: Optional[Mapping[str, Any]], variant: Variant
) -> Tuple[List[str], List[str], str]:
    """(per-call lines, per-element lines, result expression) of ``fn``."""
    tr = _CppTrace()
    x = _Expr(tr, "x", True)
    params, once, each = bind_params(tr, names, values, variant, _LOADS)
    y = fn(x, CppOps(tr), **params)
    check_result(y)
    return once, [*each, *tr.lines], tr.lit(y)


def _op_source(name: str, traced: Tuple[List[str], List[str], str], variant: Variant, backward: bool) -> str:
    scalars, body, result = traced
    loads, inputs = "", 2
    if variant.noise:
        loads += f"    const float* __restrict NZ = in[{inputs}].data<float>();\n"
        inputs += 1
    at_special = "lim"
    if backward:
        loads += f"    const float* __restrict G = in[{inputs}].data<float>();\n"
        inputs += 1
        result, at_special = f"G[i] * ({result})", "G[i] * lim"
    return _OP % {
        "name": name,
        "lo": 1 if backward else 0,
        "hi": 3 if backward else 2,
        "at_special": at_special,
        "loads": loads,
        "scalars": "".join(f"    {s}\n" for s in scalars),
        "body": "".join(f"                {s}\n" for s in body),
        "result": result,
        "inputs": inputs,
    }


def kernel_source(
    spec: ActivationSpec, values: Optional[Mapping[str, Any]] = None, variant: Optional[Variant] = None
) -> Unit:
    """The C++ of ``spec``'s forward and backward ops (parameters symbolic, or
    fixed to ``values``), without the preamble; raises ``_NeedsValue`` when the
    formula needs the values. The op names hash the source."""
    names = tuple(spec.params)
    variant = variant or Variant()
    fwd = _trace(spec.fast or spec.fn, names, values, variant)
    bwd = _trace(spec.grad, names, values, variant)  # type: ignore[arg-type]
    body = _op_source("@F", fwd, variant, False) + _op_source("@B", bwd, variant, True)
    tag = hashlib.sha256(body.encode()).hexdigest()[:16]
    f, b = f"PolyactK{tag}F", f"PolyactK{tag}B"
    return Unit(f, b, body.replace("@F", f).replace("@B", b))


def _expressible(spec: ActivationSpec) -> Optional[str]:
    """Why ``spec`` has no cpp kernel, or None when it has one (a formula that
    reads its parameters' values runs scalar calls only: per-channel and noise
    calls are refused when they come)."""
    return expressible(spec, kernel_source, values_per_channel=True)


# --------------------------------------------------------------------------- building
_lock = threading.RLock()
_LOADED: Dict[str, bool] = {}  # op names loaded into this process
_AVAILABLE: Dict[str, Any] = {}


def _compiler() -> Optional[str]:
    return shutil.which(os.environ.get("CXX", "c++"))


def _arch_flags() -> List[str]:
    """``-mavx2 -mfma`` where this CPU has them (4 doubles per vector: glibc's
    AVX2 exp, log...), else the compiler's baseline (part of the cache key)."""
    flags = _AVAILABLE.get("arch")
    if flags is None:
        flags = []
        try:
            with open("/proc/cpuinfo") as fh:
                words = set(fh.read(1 << 16).split())
            if {"avx2", "fma"} <= words:
                flags = ["-mavx2", "-mfma"]
        except OSError:
            pass
        _AVAILABLE["arch"] = flags
    return list(flags)


def _megengine_paths() -> Tuple[str, str, int, str]:
    """(include dir, lib dir, ABI flag, version) of the MegEngine wheel."""
    import megengine
    from megengine.utils import custom_op_tools as tools

    return tools.MGE_INC_PATH, tools.MGE_LIB_PATH, int(tools.MGE_ABI_VER), megengine.__version__


def cpp_available() -> bool:
    """Whether a C++ compiler and MegEngine's custom-op headers exist here (checked once)."""
    ok = _AVAILABLE.get("ok")
    if ok is None:
        try:
            inc = _megengine_paths()[0]
            ok = _compiler() is not None and os.path.exists(
                os.path.join(inc, "megbrain", "custom", "custom.h")
            )
        except Exception:  # a MegEngine without custom ops or its tools
            ok = False
        _AVAILABLE["ok"] = ok
    return bool(ok)


def _build_dir() -> Tuple[str, bool]:
    """(directory, persistent): the cache's ``megengine-cpp`` or a temporary one."""
    from .._refcache import cache_dir

    root = cache_dir()
    if root is not None:
        d = os.path.join(str(root), "megengine-cpp")
        try:
            os.makedirs(d, exist_ok=True)
            return d, True
        except OSError:
            pass
    d = _AVAILABLE.get("tmp")
    if d is None:
        d = _AVAILABLE["tmp"] = tempfile.mkdtemp(prefix="polyact-megengine-cpp-")
    return d, False


def _build_and_load(units: Iterable[Unit]) -> None:
    """Compile ``units`` into one library (or find it in the cache) and load it."""
    with _lock:
        todo: Dict[str, Unit] = {}
        for u in units:
            if u.fwd not in _LOADED:
                todo.setdefault(u.fwd, u)  # two specs may share a formula
        if todo:
            _build_and_load_locked(list(todo.values()))


def _build_and_load_locked(units: List[Unit]) -> None:
    inc, lib, abi, version = _megengine_paths()
    cxx = _compiler()
    if cxx is None or not cpp_available():
        raise ActivationError(
            "the cpp kernel needs a C++ compiler ($CXX or c++; e.g. apt install g++) and MegEngine's "
            "custom-op headers"
        )
    simd_fns = _simd_functions()
    simd = "".join(f'double {f}(double) __attribute__((simd("notinbranch")));\n' for f in simd_fns)
    source = _PREAMBLE % {"simd": simd, "parallel_min": PARALLEL_MIN} + "".join(u.source for u in units)
    flags = [*CXXFLAGS, *_arch_flags(), f"-D_GLIBCXX_USE_CXX11_ABI={abi}", "-isystem", inc]
    link = ["-shared", f"-L{lib}", "-lmegengine_shared", f"-Wl,-rpath,{lib}", "-pthread", "-lm"]
    if simd_fns:
        link.insert(-1, "-lmvec")
    key = hashlib.sha256("\0".join([source, cxx, *flags, version]).encode()).hexdigest()[:24]
    from megengine.core.ops import custom

    d, _ = _build_dir()
    path = os.path.join(d, f"polyact_{key}.so")
    if not os.path.exists(path):
        src = os.path.join(d, f"polyact_{key}.{os.getpid()}.cpp")
        tmp = os.path.join(d, f"polyact_{key}.{os.getpid()}.so")
        with open(src, "w") as f:
            f.write(source)
        try:
            run = subprocess.run([cxx, *flags, src, "-o", tmp, *link], capture_output=True, text=True)
        finally:
            os.unlink(src)
        if run.returncode != 0:
            raise ActivationError(f"compiling the cpp kernel failed ({cxx}):\n{run.stderr[-4000:]}")
        os.replace(tmp, path)  # atomic: concurrent builders write the same bytes
    custom.load(path)
    for u in units:
        _LOADED[u.fwd] = _LOADED[u.bwd] = True


def prebuild(specs: Iterable[ActivationSpec]) -> List[str]:
    """Compile the cpp kernels of ``specs`` (symbolic parameters, every variant;
    default values where a formula needs them) into one library and load it:
    one compiler run instead of one per activation. Returns the names built."""
    units: List[Unit] = []
    names = []
    for spec in specs:
        if _expressible(spec) is not None:
            continue
        for variant in variants(spec):
            try:
                units.append(kernel_source(spec, None, variant))
            except _NeedsValue:
                if variant == Variant() and all(k in spec.defaults for k in spec.params):
                    values = {k: float(v) for k, v in spec.defaults.items() if k in spec.params}
                    units.append(kernel_source(spec, values, variant))
        names.append(spec.name)
    _build_and_load(units)
    return names


# --------------------------------------------------------------------------- running
_UNITS: Dict[Any, Any] = {}
_NEEDS_VALUES: Dict[Any, ActivationSpec] = {}
_OPS: Dict[Any, Any] = {}
_PARAM_CACHE: Dict[Any, Any] = {}
_NAN = math.nan


def _unit(spec: ActivationSpec, values: Optional[Mapping[str, float]], variant: Variant) -> Unit:
    key = (id(spec), variant, None if values is None else tuple(sorted(values.items())))
    hit = _UNITS.get(key)
    if hit is not None and hit[1] is spec:
        return hit[0]
    unit = kernel_source(spec, values, variant)
    if unit.fwd not in _LOADED and _is_builtin(spec) and _build_dir()[1] and "builtins" not in _AVAILABLE:
        # the first built-in asked for builds them all (one compiler run, about 25 s on 2 cores,
        # then cached for every later process) instead of about a second per activation
        from .. import registry

        _AVAILABLE["builtins"] = True
        try:
            prebuild(
                registry.get_spec(n) for n in sorted(registry._builtin) if _is_builtin(registry.get_spec(n))
            )
        except ActivationError:
            pass  # each activation is then built alone, and reports its own error
    _build_and_load([unit])
    _UNITS[key] = (unit, spec)
    return unit


def _is_builtin(spec: ActivationSpec) -> bool:
    from .. import registry

    return spec.name in registry._builtin and registry._specs.get(spec.name) is spec


def _op(name: str, inner: int, c: int) -> Any:
    key = (name, inner, c)
    op = _OPS.get(key)
    if op is None:
        from megengine.core.ops import custom

        if len(_OPS) > 1024:
            _OPS.clear()
        op = _OPS[key] = getattr(custom, name)(inner=inner, c=c)
    return op


def _layout(spec: ActivationSpec, p: Mapping[str, Any], x: Any, tensor: type) -> Tuple[int, int]:
    """(INNER, C) of per-channel parameters (broadcast against ``x``); (1, 1) for scalars."""
    shapes = (tuple(v.shape) for v in p.values() if isinstance(v, tensor) and v.size > 1)
    return channel_layout("cpp", spec, shapes, tuple(x.shape))


def _param_tensor(mge: Any, spec: ActivationSpec, p: Mapping[str, Any], c: int, lim: Any) -> Any:
    """The ops' float32 second input: the special-value limits ``lim`` (see
    :mod:`polyact._limits`; NaN and a 0 flag where they are unknown), then the
    parameters, k-th parameter's values at [5 + k * C, 5 + (k + 1) * C)."""
    vals = [p[k] for k in spec.params if k in p]
    head = (*lim, 1.0) if lim is not None else (_NAN, _NAN, _NAN, _NAN, 0.0)
    tensor = mge.Tensor
    if not any(isinstance(v, tensor) for v in vals):
        # the signs of zeros kept apart (-0.0 == 0.0); the limits by identity (one
        # cached tuple per parameter values: a NaN in a key never equals itself)
        key = (tuple((float(v), math.copysign(1.0, float(v))) for v in vals), id(lim))
        hit = _PARAM_CACHE.get(key)
        if hit is None or hit[0] is not lim:
            if len(_PARAM_CACHE) > 256:
                _PARAM_CACHE.clear()
            row = [*head, *(float(v) for v in vals)]
            hit = _PARAM_CACHE[key] = (lim, mge.tensor(row, dtype="float32"))
        return hit[1]
    F = mge.functional
    rows = [mge.tensor(list(head), dtype="float32")] + [
        F.broadcast_to(
            (v if isinstance(v, tensor) else mge.tensor(float(v))).astype("float32").reshape(-1), (c,)
        )
        for v in vals
    ]
    return F.concat(rows).detach()


def _concrete(value: Any) -> Optional[float]:
    """A one-element parameter tensor's value (read on the host: the kernel runs
    eagerly), else None: the limits are then the static ones, or unknown."""
    if not hasattr(value, "numpy"):
        return None
    n = 1
    for d in value.shape:  # per-channel values are not read (a host read per call)
        n *= int(d)
    return float(value.numpy().reshape(-1)[0]) if n == 1 else None


def _function(mge: Any) -> Any:
    fn = _AVAILABLE.get("function")
    if fn is not None:
        return fn
    from megengine.core._imperative_rt.core2 import apply

    sync = mge._full_sync

    class CppActivation(mge.autodiff.Function):
        """Forward op on (x, P[, noise]); backward op on (x, P[, noise], dy).

        Two facts of MegEngine 1.13's custom ops (measured): an op receives the
        storage of a view (a transpose, a slice, a broadcast) with a contiguous
        layout, so it would read the wrong elements; and its compute may run
        before the queued ops that produce its inputs have finished. So every
        tensor goes in as the result of an element-wise op (``* 1.0``: fresh
        and contiguous; ``reshape(-1)`` is not enough, a broadcast scalar
        stays a stride-0 view, and MegEngine shows no layout to skip the copy
        for a tensor that is already contiguous), and every apply waits for
        the queue. The copies cost one pass each (about 40 ms of the forward
        and of the backward at 16M elements)."""

        def __init__(self, fwd: Any, bwd: Any, extra: Tuple[Any, ...]) -> None:
            super().__init__()
            self.fwd, self.bwd, self.extra = fwd, bwd, extra
            self.x: Any = None

        def forward(self, x: Any) -> Any:
            self.x = x = x * 1.0
            sync()
            return apply(self.fwd, x, *self.extra)[0]

        def backward(self, dy: Any) -> Any:
            dy = dy.astype("float32") * 1.0
            sync()
            return apply(self.bwd, self.x, *self.extra, dy)[0]

    _AVAILABLE["function"] = CppActivation
    return CppActivation


def _float(v: Any) -> float:
    return float(v.numpy().reshape(-1)[0]) if hasattr(v, "numpy") else float(v)


def _run(mge: Any, spec: ActivationSpec, x: Any, p: Mapping[str, Any]) -> Any:
    noise = p.get("noise")
    p = {k: v for k, v in p.items() if k in spec.params}
    if x.size == 0:
        return x * 1.0
    if x.dtype != "float32":
        raise ActivationError(f"the cpp kernel of {spec.name} computes float32, got {x.dtype}")
    inner, c = _layout(spec, p, x, mge.Tensor)
    variant = Variant(channel=c > 1, noise=noise is not None)
    values = None
    if _NEEDS_VALUES.get((id(spec), variant)) is spec:
        if variant.channel or variant.noise:
            raise ActivationError(
                f"the cpp kernel of {spec.name} needs scalar parameters here (its formula reads their values in "
                f"Python)"
            )
        values = {k: _float(v) for k, v in p.items()}
    try:
        unit = _unit(spec, values, variant)
    except _NeedsValue:
        if values is not None or variant.channel or variant.noise:
            raise ActivationError(
                f"the cpp kernel of {spec.name} needs scalar parameters here (its formula reads their values in "
                f"Python)"
            ) from None
        _NEEDS_VALUES[(id(spec), variant)] = spec
        return _run(mge, spec, x, {**p, **({} if noise is None else {"noise": noise})})
    from ._base import limits_for

    lim = limits_for(spec, p, _concrete)
    extra: Tuple[Any, ...] = (_param_tensor(mge, spec, {} if values is not None else p, c, lim),)
    if noise is not None:
        F = mge.functional
        extra += (F.broadcast_to(noise.astype("float32"), x.shape).detach() * 1.0,)
    cls = _function(mge)
    return cls(_op(unit.fwd, inner, c), _op(unit.bwd, inner, c), extra)(x)


def cpp_kernel(mge: Any, ops: Any, spec: ActivationSpec) -> Optional[Kernel]:
    """The ``cpp`` kernel of an element-wise ``spec`` on the MegEngine backend,
    or None when the spec cannot be expressed (no ``grad``, a formula that
    cannot be traced). Inside a ``megengine.jit.trace`` the formula runs as it
    is (the trace compiles it)."""
    if _expressible(spec) is not None:
        return None
    from megengine.jit import tracing

    fn = spec.fn

    def impl(x: Any, **p: Any) -> Any:
        if tracing.is_tracing():
            return fn(x, ops, **p)
        return _run(mge, spec, x, p)

    impl.guards_specials = True  # type: ignore[attr-defined]  (eager: the runner adds no guard)

    return Kernel(
        "cpp",
        "megengine",
        "cpp",
        impl,
        onnx=False,
        compile_safe=False,
        param_grads=False,
        available=cpp_available,
        eligible=_at_defaults(spec),
        note="one C++ loop generated from the formula (backward: g * grad(x) from the saved input), "
        "the special-value guard inside the loop; compiled on first use (about a second; needs a C++ "
        "compiler) and cached; scalar or per-channel parameters, which get no gradient",
    )


def _at_defaults(spec: ActivationSpec) -> Any:
    """The kernel's ``eligible``: True, or for a formula that reads its parameters'
    values in Python (one library per set of values) a check that ``auto``'s
    parameters are the defaults, which the built-in bundle holds: other values
    would make auto wait for the compiler (about a second) on a first call."""
    verdict: List[bool] = []
    defaults = {k: v for k, v in spec.defaults.items() if k in spec.params}

    def eligible(params: Mapping[str, Any]) -> bool:
        if not verdict:
            try:
                kernel_source(spec, None, Variant())
                verdict.append(False)
            except _NeedsValue:
                verdict.append(True)
        if not verdict[0]:
            return True
        try:
            return all(
                type(params[k]) in (int, float) and float(params[k]) == float(v) for k, v in defaults.items()
            )
        except (KeyError, TypeError, ValueError):
            return False

    return eligible
