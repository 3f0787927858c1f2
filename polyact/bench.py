"""Benchmarks: ``polyact bench``.

For each (activation, backend, dtype) this times every kernel that runs here
(forward, and forward plus backward with an all-ones cotangent) and counts the
bytes the backward keeps alive, next to three anchors measured in the same run:

- ``@native``: the framework's own op (``spec.native[backend]``) called raw;
- ``@naive``: the formula through an "Echo-style" ops namespace (masks
  multiplied in, literal ``log(1 + exp(x))`` and friends), no guard;
- ``@compile``: ``torch.compile`` / ``jax.jit`` (MegEngine: ``jit.trace``,
  forward only) of the formula with the backend's ops, no guard.

Times are medians of ``repeat`` runs after warm-up; ratios are against the
``@native`` and ``@naive`` anchors (below 1: faster). ``--calibrate`` ranks the
kernels ``kernel="auto"`` may pick by their forward+backward median and writes
the table :mod:`polyact._calibration` reads; ``--overhead`` measures the import
time and the per-call costs of the Python layer.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TextIO, Tuple, Union

from . import _jsonio, registry
from .errors import PolyactError
from .ops import AXIS_PRIMITIVES, PRIMITIVES, Ops

__all__ = [
    "ANCHORS",
    "BenchResult",
    "Row",
    "auto_kernel_name",
    "bench_main",
    "calibrate",
    "naive_ops",
    "overhead",
    "parse_size",
    "run",
]

#: anchor rows (kernel column) and what they are
ANCHORS = {
    "@native": "the framework's op, called raw",
    "@naive": "Echo-style naive composition (mask multiplication, log(1 + exp(x)))",
    "@compile": "torch.compile / jax.jit / megengine.jit.trace of the formula, no guard",
}
DEFAULT_SIZE = 1 << 20
DEFAULT_REPEAT = 5
DEFAULT_WARMUP = 2
FRAMEWORK_BACKENDS = ("torch", "jax", "megengine")
DEVICE = "cpu"
#: the devices ``--device`` takes (``cuda``: torch and JAX on an NVIDIA GPU)
DEVICES = ("cpu", "cuda")
#: calls per timed sample on a GPU (see ``_TorchHarness``)
GPU_INNER = 10


# --------------------------------------------------------------------------- naive ops
def _mask(c: Any, a: Any, b: Any) -> Any:
    """The boolean ``c`` as 0/1 in the dtype of the tensor among ``a``, ``b``."""
    like = a if hasattr(a, "dtype") and hasattr(a, "shape") else b
    dt = getattr(like, "dtype", None)
    if dt is None:
        return c.astype("float32") if hasattr(c, "astype") else c.float()
    return c.astype(dt) if hasattr(c, "astype") else c.to(dt)


def _n_where(self: Any, cond: Any, a: Any, b: Any) -> Any:
    """Mask multiplication: ``c * a + (1 - c) * b``."""
    if isinstance(cond, bool) or type(cond).__name__ == "bool_":
        return a if cond else b
    m = _mask(cond, a, b)
    return m * a + (1 - m) * b


def _n_softplus(self: Any, x: Any) -> Any:
    return self.log(1 + self.exp(x))


def _n_log1p(self: Any, x: Any) -> Any:
    return self.log(1 + x)


def _n_expm1(self: Any, x: Any) -> Any:
    return self.exp(x) - 1


def _n_sigmoid(self: Any, x: Any) -> Any:
    return 1 / (1 + self.exp(-x))


def _n_log_sigmoid(self: Any, x: Any) -> Any:
    return -self.log(1 + self.exp(-x))


def _n_erfc(self: Any, x: Any) -> Any:
    return 1 - self.erf(x)


def _n_relu(self: Any, x: Any) -> Any:
    return x * _mask(x > 0, x, None)


#: the textbook forms; derived helpers not listed here use the generic
#: definitions of :class:`polyact.ops.Ops` (built on the naive ``where``)
TEXTBOOK = {
    "where": _n_where,
    "softplus": _n_softplus,
    "log1p": _n_log1p,
    "expm1": _n_expm1,
    "sigmoid": _n_sigmoid,
    "log_sigmoid": _n_log_sigmoid,
    "erfc": _n_erfc,
    "relu": _n_relu,
}

_NAIVE: Dict[str, Ops] = {}


def naive_ops(backend: str) -> Ops:
    """The Echo-style ops namespace of ``backend``: its primitives, with ``exp``
    the framework's own (no range handling), ``where`` as mask multiplication,
    softplus as ``log(1 + exp(x))``, ``log1p(x)`` as ``log(1 + x)``, ``expm1``
    as ``exp(x) - 1``, sigmoid as ``1 / (1 + exp(-x))``, log-sigmoid as
    ``-log(1 + exp(-x))``, erfc as ``1 - erf`` and every other derived helper
    in its generic textbook form."""
    b = registry.get_backend(backend)
    ops = _NAIVE.get(b.name)
    if ops is None:
        base = type(b.ops)
        ns: Dict[str, Any] = {}
        for k, v in vars(Ops).items():
            if callable(v) and not k.startswith("_") and k not in PRIMITIVES and k not in AXIS_PRIMITIVES:
                ns[k] = v  # the generic definition, not the backend's native replacement
        ns.update(TEXTBOOK)
        # exp as Echo calls it: the framework's own, without polyact's range
        # handling (a backend that adds some, MegEngine's six-op split product
        # around its saturating F.exp, keeps the raw op as exp_in_range)
        if base.exp_in_range is not Ops.exp_in_range:
            ns["exp"] = base.exp_in_range
        ns["name"] = f"{base.name}-naive"
        cls = type(f"Naive{base.__name__}", (base,), ns)
        ops = cls.__new__(cls)
        ops.__dict__.update(b.ops.__dict__)
        _NAIVE[b.name] = ops
    return ops


# --------------------------------------------------------------------------- per backend
def _timed(thunk: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    thunk()
    return time.perf_counter() - t0


class _Harness:
    """How to feed, time, differentiate and inspect one backend."""

    differentiable = True
    #: calls per timed sample (the thunks run them back to back, then wait once)
    inner = 1

    def __init__(self, backend: str, device: str = DEVICE) -> None:
        self.b = registry.get_backend(backend)
        self.fw = self.b.fw
        self.name = self.b.name
        self.device = device
        self.check_device()

    def check_device(self) -> None:
        """Raise ValueError when this harness cannot put inputs on ``self.device``."""
        if self.device != "cpu":
            raise ValueError(f"--device {self.device}: polyact bench runs {self.name} on the CPU only")

    def make_input(self, size: int, dtype: str) -> Any:
        import numpy as np

        a = np.random.default_rng(0).standard_normal(size).astype(np.float32) * 3.0
        return self.place(self.b.from_numpy(a, dtype))

    def place(self, x: Any) -> Any:
        """``x`` on ``self.device``."""
        return x

    def nbytes(self, x: Any) -> int:
        return int(self.b.to_numpy(x).nbytes if not hasattr(x, "nbytes") else x.nbytes)

    def sync(self, y: Any) -> None:
        pass

    def forward(self, f: Callable[[Any], Any], x: Any) -> Callable[[], Any]:
        sync = self.sync

        def run() -> None:
            sync(f(x))

        return run

    def forward_backward(self, f: Callable[[Any], Any], x: Any) -> Optional[Callable[[], Any]]:
        return None

    def saved(self, f: Callable[[Any], Any], x: Any) -> Optional[int]:
        return None

    def compiled(self, fn: Callable[[Any], Any], x: Any) -> Tuple[Callable[[], Any], Any, Any]:
        """``(forward thunk, forward+backward thunk or None, saved bytes or None)``
        of the framework's compiler applied to ``fn``."""
        raise NotImplementedError


class _TorchHarness(_Harness):
    def __init__(self, backend: str, device: str = DEVICE) -> None:
        self.torch = registry.get_backend(backend).fw
        super().__init__(backend, device)
        if device == "cuda":
            # a GPU runs queued calls while Python issues the next: one sample is
            # GPU_INNER calls and one wait (the throughput of a training loop; a
            # lone call's latency would add the launch overhead to every figure)
            self.inner = GPU_INNER

    def check_device(self) -> None:
        if self.device == "cuda" and not self.torch.cuda.is_available():
            raise ValueError(
                "--device cuda: torch sees no CUDA device here (torch.cuda.is_available() is False)"
            )

    def place(self, x: Any) -> Any:
        return x.to(self.device)

    def _sync(self) -> Callable[[], None]:
        """Waits for the device's queued work (a no-op on the CPU, whose ops return when done)."""
        return self.torch.cuda.synchronize if self.device == "cuda" else lambda: None

    def nbytes(self, x: Any) -> int:
        return int(x.numel() * x.element_size())

    def forward(self, f: Callable[[Any], Any], x: Any) -> Callable[[], Any]:
        torch, sync, calls = self.torch, self._sync(), range(self.inner)

        def run() -> None:
            with torch.no_grad():
                for _ in calls:
                    f(x)
            sync()

        return run

    def forward_backward(self, f: Callable[[Any], Any], x: Any) -> Optional[Callable[[], Any]]:
        torch, sync, calls = self.torch, self._sync(), range(self.inner)
        xg = x.detach().requires_grad_(True)
        ones = torch.ones_like(x)

        def run() -> None:
            for _ in calls:
                y = f(xg)
                torch.autograd.grad(y, xg, grad_outputs=ones)
            sync()

        return run

    def saved(self, f: Callable[[Any], Any], x: Any) -> Optional[int]:
        torch = self.torch
        storages: Dict[int, int] = {}

        def pack(t: Any) -> Any:
            st = t.untyped_storage()
            storages[st.data_ptr()] = int(st.nbytes())
            return t

        xg = x.detach().requires_grad_(True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = f(xg)
        del y
        return sum(storages.values())

    def compiled(self, fn: Callable[[Any], Any], x: Any) -> Tuple[Callable[[], Any], Any, Any]:
        torch = self.torch
        torch._dynamo.reset()  # a fresh cache: no recompilation limit across activations
        g = torch.compile(fn, dynamic=False)
        return self.forward(g, x), self.forward_backward(g, x), lambda: self.saved(g, x)


class _JaxHarness(_Harness):
    def __init__(self, backend: str, device: str = DEVICE) -> None:
        self.jax = registry.get_backend(backend).fw
        super().__init__(backend, device)

    def _device(self) -> Any:
        platform = "gpu" if self.device == "cuda" else "cpu"
        try:
            return self.jax.devices(platform)[0]
        except RuntimeError:
            raise ValueError(f"--device {self.device}: JAX has no {platform} device here") from None

    def check_device(self) -> None:
        self._device()

    def place(self, x: Any) -> Any:
        return self.jax.device_put(x, self._device())

    def nbytes(self, x: Any) -> int:
        return int(x.nbytes)

    def sync(self, y: Any) -> None:
        self.jax.block_until_ready(y)

    def forward_backward(self, f: Callable[[Any], Any], x: Any) -> Optional[Callable[[], Any]]:
        jax = self.jax
        ones = jax.numpy.ones_like(x)

        def run() -> None:
            y, vjp = jax.vjp(f, x)
            jax.block_until_ready((y, vjp(ones)))

        return run

    def saved(self, f: Callable[[Any], Any], x: Any) -> Optional[int]:
        jax = self.jax
        _, vjp = jax.vjp(f, x)
        buffers: Dict[Any, int] = {}
        for leaf in jax.tree_util.tree_leaves(vjp):
            if isinstance(leaf, jax.Array):
                try:
                    key: Any = leaf.unsafe_buffer_pointer()
                except Exception:  # sharded or deleted: count it once by identity
                    key = id(leaf)
                buffers[key] = int(leaf.nbytes)
        return sum(buffers.values())

    def compiled(self, fn: Callable[[Any], Any], x: Any) -> Tuple[Callable[[], Any], Any, Any]:
        jax = self.jax
        g = jax.jit(fn)

        def value_and_pullback(x: Any, ct: Any) -> Any:
            y, vjp = jax.vjp(fn, x)
            return y, vjp(ct)

        fb = jax.jit(value_and_pullback)
        ones = jax.numpy.ones_like(x)

        def run_fb() -> None:
            jax.block_until_ready(fb(x, ones))

        return self.forward(g, x), run_fb, lambda: self.saved(g, x)


class _MegEngineHarness(_Harness):
    def __init__(self, backend: str, device: str = DEVICE) -> None:
        super().__init__(backend, device)
        self.mge = self.fw

    def nbytes(self, x: Any) -> int:
        import numpy as np

        return int(x.size * np.dtype(x.dtype).itemsize) if "bfloat16" not in str(x.dtype) else int(x.size * 2)

    def sync(self, y: Any) -> None:
        self.mge._full_sync()

    def forward_backward(self, f: Callable[[Any], Any], x: Any) -> Optional[Callable[[], Any]]:
        mge = self.mge
        xg = x.detach()
        ones = mge.functional.ones_like(x)
        gm = mge.autodiff.GradManager()
        gm.attach([xg])

        def run() -> None:
            xg.grad = None
            with gm:
                y = f(xg)
                gm.backward(y, ones)
            mge._full_sync()

        return run

    def compiled(self, fn: Callable[[Any], Any], x: Any) -> Tuple[Callable[[], Any], Any, Any]:
        from megengine.jit import trace

        g = trace(symbolic=True)(lambda x: fn(x))
        return self.forward(g, x), None, lambda: None


class _NumpyHarness(_Harness):
    differentiable = False

    def nbytes(self, x: Any) -> int:
        return int(x.nbytes)


_HARNESSES = {"torch": _TorchHarness, "jax": _JaxHarness, "megengine": _MegEngineHarness}


def _harness(backend: str, device: str = DEVICE) -> _Harness:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}. Received: {device!r}")
    b = registry.get_backend(backend)
    return _HARNESSES.get(b.name, _NumpyHarness)(b.name, device)


# --------------------------------------------------------------------------- results
@dataclass
class Row:
    """One kernel or anchor of one (activation, backend, dtype, size)."""

    activation: str
    backend: str
    dtype: str
    size: int
    kernel: str  # a kernel name, or an anchor: "@native", "@naive", "@compile"
    kind: str  # the kernel's kind, or "anchor"
    forward_s: Optional[float] = None
    forward_backward_s: Optional[float] = None
    #: bytes of the distinct buffers the backward keeps (the input included when it is one)
    saved_bytes: Optional[int] = None
    input_bytes: int = 0
    auto: bool = False  # the kernel kernel="auto" picks
    #: the kernel auto picks for calls whose gradient is taken (the calibration
    #: table's training ranking, torch), where that is another
    auto_training: bool = False
    eligible: bool = True  # auto may pick it (meets the contract for these parameters)
    flags: List[str] = field(default_factory=list)
    vs_native: Dict[str, Optional[float]] = field(default_factory=dict)
    vs_naive: Dict[str, Optional[float]] = field(default_factory=dict)
    error: Optional[str] = None

    @property
    def anchor(self) -> bool:
        return self.kind == "anchor"

    @property
    def saved_inputs(self) -> Optional[float]:
        """The saved bytes in units of the input's size."""
        if self.saved_bytes is None or not self.input_bytes:
            return None
        return self.saved_bytes / self.input_bytes

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["anchor"] = self.anchor
        d["saved_inputs"] = self.saved_inputs
        return d


@dataclass
class BenchResult:
    """The rows of one run and what was measured."""

    rows: List[Row]
    meta: Dict[str, Any]
    skipped: List[str] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        return {**self.meta, "skipped": list(self.skipped), "results": [r.to_dict() for r in self.rows]}

    def write_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            _jsonio.dump(self.to_json(), fh)

    def groups(self) -> List[Tuple[Tuple[str, str, int], List[Row]]]:
        out: Dict[Tuple[str, str, int], List[Row]] = {}
        for r in self.rows:
            out.setdefault((r.backend, r.dtype, r.size), []).append(r)
        return list(out.items())

    def where(self) -> str:
        """``""``, or `` on cuda (GPU name)`` when measured on a GPU."""
        device = self.meta.get("device") or DEVICE
        if device == "cpu":
            return ""
        gpu = self.meta.get("gpu")
        calls = max((self.meta.get("calls_per_sample") or {}).values(), default=1)
        batch = f"; each sample {calls} calls in a row, then one wait" if calls > 1 else ""
        return f" on {device}" + (f" ({gpu}{batch})" if gpu or batch else "")

    def render_text(self) -> str:
        lines = []
        for (backend, dtype, size), rows in self.groups():
            lines.append(
                f"{backend} {dtype}, {size:,} elements{self.where()} (median of {self.meta['repeat']} runs after "
                f"{self.meta['warmup']} warm-up; ratios below 1 are faster; * = auto, + = auto for calls "
                "that take a gradient where that differs)"
            )
            head = (
                f"{'activation':22s} {'kernel':10s} {'fwd ms':>9s} {'f+b ms':>9s} {'saved':>7s} "
                f"{'fwd/nat':>8s} {'f+b/nat':>8s} {'fwd/naive':>9s} {'f+b/naive':>9s}"
            )
            lines.append(head)
            lines.append("-" * len(head))
            for r in rows:
                k = r.kernel + ("*" if r.auto else "+" if r.auto_training else "")
                if r.error:
                    lines.append(f"{r.activation:22s} {k:10s} error: {r.error}")
                    continue
                lines.append(
                    f"{r.activation:22s} {k:10s} {_ms(r.forward_s):>9s} {_ms(r.forward_backward_s):>9s} "
                    f"{_times(r.saved_inputs):>7s} {_ratio(r.vs_native.get('forward')):>8s} "
                    f"{_ratio(r.vs_native.get('forward_backward')):>8s} "
                    f"{_ratio(r.vs_naive.get('forward')):>9s} {_ratio(r.vs_naive.get('forward_backward')):>9s}"
                )
            lines.append("")
        if self.skipped:
            lines.append("skipped: " + "; ".join(self.skipped))
        return "\n".join(lines).rstrip() + "\n"

    def render_markdown(self) -> str:
        m = self.meta
        lines = [
            "# polyact bench",
            "",
            f"Measured {m['measured']} on {m['machine']} ({m['python']}; "
            + ", ".join(f"{k} {v}" for k, v in m["frameworks"].items())
            + f"). Median of {m['repeat']} runs after {m['warmup']} warm-up runs. Ratios are time over "
            "the anchor's time (below 1: faster); saved = bytes kept for backward in input sizes "
            '(the input included when kept); * = the kernel `kernel="auto"` picks; + = the one it picks for '
            "calls that take a gradient, where that differs.",
            "",
            "Anchors: " + "; ".join(f"`{k}` {v}" for k, v in ANCHORS.items()) + ".",
            "",
        ]
        for (backend, dtype, size), rows in self.groups():
            lines += [
                f"## {backend}, {dtype}, {size:,} elements{self.where()}",
                "",
                "| activation | kernel | fwd ms | fwd+bwd ms | saved | fwd / native | fwd+bwd / native "
                "| fwd / naive | fwd+bwd / naive |",
                "|---|---|--:|--:|--:|--:|--:|--:|--:|",
            ]
            for r in rows:
                k = f"`{r.kernel}`" + (" *" if r.auto else " +" if r.auto_training else "")
                if r.error:
                    lines.append(f"| {r.activation} | {k} | error: {r.error} | | | | | | |")
                    continue
                lines.append(
                    f"| {r.activation} | {k} | {_ms(r.forward_s)} | {_ms(r.forward_backward_s)} | "
                    f"{_times(r.saved_inputs)} | {_ratio(r.vs_native.get('forward'))} | "
                    f"{_ratio(r.vs_native.get('forward_backward'))} | {_ratio(r.vs_naive.get('forward'))} | "
                    f"{_ratio(r.vs_naive.get('forward_backward'))} |"
                )
            lines.append("")
        return "\n".join(lines)

    def summary_markdown(self) -> str:
        """One line per (backend, activation): the auto kernel against the anchors
        (the README's table)."""
        lines = [
            "| backend | activation | auto kernel | fwd+bwd ms | vs native op | vs naive | vs compiled formula |",
            "|---|---|---|--:|--:|--:|--:|",
        ]
        for (backend, _dtype, _size), rows in self.groups():
            by_act: Dict[str, List[Row]] = {}
            for r in rows:
                by_act.setdefault(r.activation, []).append(r)
            for act, rs in by_act.items():
                auto = next((r for r in rs if r.auto and not r.error), None)
                comp = next((r for r in rs if r.kernel == "@compile" and not r.error), None)
                if auto is None:
                    continue
                vs_comp = _div(auto.forward_backward_s, comp.forward_backward_s if comp else None)
                lines.append(
                    f"| {backend} | {act} | `{auto.kernel}` | {_ms(auto.forward_backward_s)} | "
                    f"{_ratio(auto.vs_native.get('forward_backward'))} | "
                    f"{_ratio(auto.vs_naive.get('forward_backward'))} | {_ratio(vs_comp)} |"
                )
        return "\n".join(lines) + "\n"

    def write_markdown(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.render_markdown())
            fh.write("\n## Summary\n\n")
            fh.write(self.summary_markdown())


def _ms(s: Optional[float]) -> str:
    if s is None:
        return "-"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 10 else f"{ms:.1f}"


def _ratio(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.2f}"


def _times(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.1f}x"


def _div(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b <= 0:
        return None
    return a / b


# --------------------------------------------------------------------------- progress
class Progress:
    """A one-line progress bar on a terminal stream (silent elsewhere)."""

    def __init__(self, total: int, *, enabled: bool = True, stream: Optional[TextIO] = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = max(int(total), 1)
        self.done = 0
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self._width = 0
        self._label = ""

    def step(self, n: int = 1) -> None:
        self.done += n
        self.show()

    def show(self, label: Optional[str] = None) -> None:
        """Redraw; ``label`` (what runs now) stays until the next one."""
        if not self.enabled:
            return
        if label is None:
            label = self._label
        self._label = label
        frac = min(self.done / self.total, 1.0)
        n = int(frac * 30)
        elapsed = time.perf_counter() - self.t0
        text = f"\r[{'#' * n}{'.' * (30 - n)}] {self.done}/{self.total} {elapsed:5.0f}s {label}"[:120]
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write(text + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()


# --------------------------------------------------------------------------- the run
def bench_params(spec: Any) -> Optional[Dict[str, Any]]:
    """The parameters benchmarked: the defaults, and required ones from the first
    example that gives them (None when no example does)."""
    given = dict(spec.defaults)
    missing = [k for k, p in spec.params.items() if p.required]
    if missing:
        ex = next((e for e in spec.examples if all(k in e for k in missing)), None)
        if ex is None:
            return None
        given.update(ex)
    return spec.bind(given)


def auto_kernel_name(
    name: str,
    backend: str,
    dtype: str = "float32",
    params: Optional[Mapping] = None,
    size: Optional[int] = None,
    device: str = DEVICE,
    training: bool = False,
) -> str:
    """The kernel ``kernel="auto"`` picks here for inputs of ``size`` elements on
    ``device`` (with ``training``: for calls whose gradient is taken)."""
    spec = registry.get_spec(name)
    bound = spec.bind(dict(params or {}))
    return registry.auto_kernel(spec.name, backend, dtype, device, size=size, training=training, **bound)


def runnable_kernels(name: str, backend: str, dtype: str, device: str = DEVICE) -> Dict[str, Any]:
    """The kernels of ``name`` on ``backend`` that run on ``dtype`` tensors on ``device``."""
    out = {}
    for k, kern in registry.kernels(name, backend).items():
        devices = getattr(kern, "devices", None)
        if devices is not None and device not in devices:
            continue
        if kern.kind == "triton" and device == "cpu":
            continue
        supports = getattr(kern, "supports", None)
        if supports is not None and not supports(dtype, device):
            continue
        if supports is None and kern.dtypes is not None and dtype not in kern.dtypes:
            continue
        out[k] = kern
    return out


@dataclass
class _Candidate:
    kernel: str
    kind: str
    build: Callable[[], Any]  # -> f(x), or (fwd thunk, fb thunk, saved thunk) for "@compile"
    eligible: bool = True
    flags: List[str] = field(default_factory=list)


def _candidates(
    h: _Harness,
    spec: Any,
    params: Dict[str, Any],
    dtype: str,
    kernels: Optional[Sequence[str]],
    anchors: bool,
    size: int,
) -> Tuple[List[_Candidate], Tuple[str, str]]:
    name, backend = spec.name, h.name
    table = runnable_kernels(name, backend, dtype, h.device)
    try:
        auto = auto_kernel_name(name, backend, dtype, params, size, h.device)
        auto_train = auto_kernel_name(name, backend, dtype, params, size, h.device, training=True)
    except Exception:  # auto may refuse (e.g. no eligible kernel): measured all the same
        auto = auto_train = ""
    wanted = list(table)
    if kernels:
        sel = [a for k in kernels for a in ((auto, auto_train) if k == "auto" else (k,))]
        wanted = [k for k in wanted if k in sel]
    out: List[_Candidate] = []
    for k in wanted:
        kern = table[k]

        def build(k: str = k) -> Any:
            return registry.get_function(name, backend, kernel=k, **params)

        flags = list(kern.flags()) if hasattr(kern, "flags") else []
        out.append(_Candidate(k, kern.kind, build, kern.eligible_for(params), flags))
    wanted_anchors = tuple(ANCHORS) if anchors is True else tuple(anchors or ())
    if wanted_anchors:
        fw, fn = h.fw, spec.fn
        raw = dict(params)
        native = spec.native.get(backend)
        if "@native" in wanted_anchors and native is not None and spec.kind == "elementwise":
            nfn = native.fn
            out.append(_Candidate("@native", "anchor", lambda: lambda x: nfn(fw, x, **raw)))
        if "@naive" in wanted_anchors:
            nops = naive_ops(backend)
            out.append(_Candidate("@naive", "anchor", lambda: lambda x: fn(x, nops, **raw)))
        if "@compile" in wanted_anchors and backend in _HARNESSES:
            ops = h.b.ops
            out.append(_Candidate("@compile", "anchor", lambda: lambda x: fn(x, ops, **raw)))
    return out, (auto, auto_train)


def _short_error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text[:160]


class _Timing:
    """One candidate of a group being timed: its thunks, then its samples."""

    def __init__(self, h: _Harness, c: _Candidate, x: Any, what: Sequence[str]) -> None:
        self.inner = h.inner
        built = c.build()
        if c.kernel == "@compile":
            fwd, fb, saved_fn = h.compiled(built, x)
        else:
            fwd = h.forward(built, x)
            fb = h.forward_backward(built, x) if h.differentiable else None

            def saved_fn() -> Optional[int]:
                return h.saved(built, x)

        self.thunks = [t for t in (fwd if "forward" in what else None, fb) if t is not None]
        self.fwd = fwd if "forward" in what else None
        self.fb = fb if "forward_backward" in what else None
        self.saved_fn = saved_fn if "saved" in what and h.differentiable else None
        self.samples: Dict[str, List[float]] = {"forward": [], "forward_backward": []}

    def warm_up(self, warmup: int) -> None:
        for thunk in (self.fwd, self.fb):
            for _ in range(warmup if thunk is not None else 0):
                thunk()  # type: ignore[misc]

    def sample(self) -> None:
        if self.fwd is not None:
            self.samples["forward"].append(_timed(self.fwd) / self.inner)
        if self.fb is not None:
            self.samples["forward_backward"].append(_timed(self.fb) / self.inner)

    def result(self) -> Tuple[Optional[float], Optional[float], Optional[int]]:
        f, fb = self.samples["forward"], self.samples["forward_backward"]
        return (
            statistics.median(f) if f else None,
            statistics.median(fb) if fb else None,
            self.saved_fn() if self.saved_fn is not None else None,
        )


def _measure_group(
    h: _Harness,
    cands: Sequence[_Candidate],
    rows: Sequence[Row],
    x: Any,
    repeat: int,
    warmup: int,
    what: Sequence[str],
    bar: Progress,
    label: str,
) -> None:
    """Time the candidates of one (activation, backend, dtype) side by side:
    after each one's warm-up, every round times each candidate once, so a slow
    spell of a shared machine falls on all of them alike, and starts one
    candidate later than the round before, so none always runs first or right
    after the same one; medians per candidate.
    A candidate that raises gets its error on its row and leaves the rounds."""
    live: List[Tuple[_Timing, Row]] = []
    for c, row in zip(cands, rows):
        bar.show(f"{label} {c.kernel} (warm-up)")
        try:
            t = _Timing(h, c, x, what)
            t.warm_up(warmup)
            live.append((t, row))
        except Exception as exc:  # one broken kernel does not stop the run
            row.error = _short_error(exc)
            bar.step(repeat)
        bar.step()
    for i in range(repeat):
        bar.show(f"{label} round {i + 1}/{repeat}")
        k = i % len(live) if live else 0
        for t, row in live[k:] + live[:k]:  # each round starts one candidate later
            try:
                t.sample()
            except Exception as exc:
                row.error = _short_error(exc)
                live.remove((t, row))
                bar.step(repeat - i)
                continue
            bar.step()
    for t, row in live:
        try:
            row.forward_s, row.forward_backward_s, row.saved_bytes = t.result()
        except Exception as exc:
            row.error = _short_error(exc)


def _ensure_x64(backends: Sequence[str], dtypes: Sequence[str]) -> None:
    if "jax" in backends and "float64" in dtypes:
        import jax

        jax.config.update("jax_enable_x64", True)


def select_names(names: Optional[Sequence[str]]) -> Tuple[List[str], List[str]]:
    """Canonical element-wise names (all when ``names`` is empty) and the skip notes."""
    skipped: List[str] = []
    if not names:
        return [n for n in registry.list_activations() if registry.get_spec(n).elementwise], skipped
    out: List[str] = []
    for n in names:
        spec = registry.get_spec(n)  # unknown names raise, with suggestions
        if not spec.elementwise:
            skipped.append(f"{spec.name} ({spec.kind}: not element-wise)")
        elif spec.name not in out:
            out.append(spec.name)
    return out, skipped


def run(
    names: Optional[Sequence[str]] = None,
    backends: Optional[Sequence[str]] = None,
    *,
    kernels: Optional[Sequence[str]] = None,
    dtypes: Sequence[str] = ("float32",),
    size: int = DEFAULT_SIZE,
    repeat: int = DEFAULT_REPEAT,
    warmup: int = DEFAULT_WARMUP,
    anchors: Union[bool, Sequence[str]] = True,
    what: Sequence[str] = ("forward", "forward_backward", "saved"),
    progress: bool = False,
    stream: Optional[TextIO] = None,
    device: str = DEVICE,
) -> BenchResult:
    """Measure ``names`` (default: every element-wise activation) on ``backends``
    (default: the installed frameworks) and return the rows, with ratios.

    ``kernels``: kernel names (``"auto"``: the one auto picks; default all);
    ``anchors``: True for all of :data:`ANCHORS`, or the ones to run; ``what``:
    any of ``forward``, ``forward_backward``, ``saved``; ``device``: ``"cpu"``
    or ``"cuda"`` (torch and JAX; the timings then wait for the device)."""
    if repeat < 1 or warmup < 0 or size < 1:
        raise ValueError("repeat >= 1, warmup >= 0 and size >= 1 are required")
    sel, skipped = select_names(names)
    if backends is None:
        backends = [b for b in registry.available_backends() if b in FRAMEWORK_BACKENDS]
    keys: List[str] = []
    for b in backends:
        key = registry.get_backend(b).name
        registry.get_backend(key).fw  # noqa: B018  (a clear error when it is not installed)
        if key not in keys:
            keys.append(key)
    _ensure_x64(keys, dtypes)
    harnesses = {b: _harness(b, device) for b in keys}
    plan: List[Tuple[_Harness, Any, Dict[str, Any], str, List[_Candidate], Tuple[str, str]]] = []
    for b in keys:
        h = harnesses[b]
        for dtype in dtypes:
            if dtype not in h.b.dtypes:
                skipped.append(f"{b} {dtype} (not a dtype of this backend)")
                continue
            for n in sel:
                spec = registry.get_spec(n)
                params = bench_params(spec)
                if params is None:
                    skipped.append(f"{n} (required parameters and no example)")
                    continue
                cands, auto = _candidates(h, spec, params, dtype, kernels, anchors, size)
                if cands:
                    plan.append((h, spec, params, dtype, cands, auto))
    bar = Progress(sum(len(p[4]) for p in plan) * (1 + repeat), enabled=progress, stream=stream)
    rows: List[Row] = []
    try:
        x_cache: Dict[Tuple[str, str], Any] = {}
        for h, spec, _params, dtype, cands, auto in plan:
            key = (h.name, dtype)
            if key not in x_cache:
                x_cache.clear()
                gc.collect()
                x_cache[key] = h.make_input(size, dtype)
            x = x_cache[key]
            group = [
                Row(
                    spec.name,
                    h.name,
                    dtype,
                    size,
                    c.kernel,
                    c.kind,
                    input_bytes=h.nbytes(x),
                    auto=c.kernel == auto[0],
                    auto_training=c.kernel == auto[1] != auto[0],
                    eligible=c.eligible,
                    flags=c.flags,
                )
                for c in cands
            ]
            _measure_group(h, cands, group, x, repeat, warmup, what, bar, f"{h.name} {dtype} {spec.name}")
            _add_ratios(group)
            rows.extend(group)
    finally:
        bar.close()
    meta = _meta(size, repeat, warmup, keys, device)
    meta["calls_per_sample"] = {b: h.inner for b, h in harnesses.items()}
    return BenchResult(rows, meta, skipped)


def _add_ratios(group: List[Row]) -> None:
    native = next((r for r in group if r.kernel == "@native" and not r.error), None)
    naive = next((r for r in group if r.kernel == "@naive" and not r.error), None)
    for r in group:
        for anchor, out in ((native, r.vs_native), (naive, r.vs_naive)):
            out["forward"] = _div(r.forward_s, anchor.forward_s if anchor else None)
            out["forward_backward"] = _div(
                r.forward_backward_s, anchor.forward_backward_s if anchor else None
            )


def _framework_versions(backends: Sequence[str]) -> Dict[str, str]:
    out = {}
    for b in backends:
        fw = registry.get_backend(b).fw
        out[b] = str(getattr(fw, "__version__", "?"))
    return out


def machine() -> str:
    """A line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs"


def _threads(backends: Sequence[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"cpus": os.cpu_count(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}
    if "torch" in backends:
        out["torch"] = registry.get_backend("torch").fw.get_num_threads()
    return out


def _load() -> Optional[List[float]]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _gpu(device: str, backends: Sequence[str]) -> Optional[str]:
    """The GPU's name when measuring on one."""
    if device != "cuda":
        return None
    if "torch" in backends:
        return str(registry.get_backend("torch").fw.cuda.get_device_name())
    return None


def _meta(
    size: int, repeat: int, warmup: int, backends: Sequence[str], device: str = DEVICE
) -> Dict[str, Any]:
    from . import __version__

    return {
        "version": 1,
        "polyact": __version__,
        "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "python": f"Python {platform.python_version()}",
        "frameworks": _framework_versions(backends),
        "device": device,
        "gpu": _gpu(device, backends),
        "size": size,
        "repeat": repeat,
        "warmup": warmup,
        "threads": _threads(backends),
        "load_average": _load(),
        "saved_bytes": "distinct buffers the backward keeps alive, the input included when it is one",
        "anchors": dict(ANCHORS),
    }


# --------------------------------------------------------------------------- calibration
#: how much faster (forward and forward+backward) than the framework's native op
#: another kernel must be for calibration to rank it first
NATIVE_MARGIN = 1.10


def _beats(r: Row, native: Row, keys: Sequence[str] = ("forward_s", "forward_backward_s")) -> bool:
    """Whether ``r`` is NATIVE_MARGIN faster than the native op in each of ``keys``
    (forward and forward+backward)."""
    for key in keys:
        a, n = getattr(r, key), getattr(native, key)
        if a is None or n is None or a * NATIVE_MARGIN > n:
            return False
    return True


def calibrate(
    names: Optional[Sequence[str]] = None,
    backends: Optional[Sequence[str]] = None,
    *,
    dtypes: Sequence[str] = ("float32",),
    size: int = DEFAULT_SIZE,
    repeat: int = DEFAULT_REPEAT,
    warmup: int = DEFAULT_WARMUP,
    progress: bool = False,
    stream: Optional[TextIO] = None,
    kernels: Optional[Sequence[str]] = None,
    device: str = DEVICE,
) -> Dict[str, Any]:
    """Measure the kernels auto may pick (``kernels``: only these) and return the
    calibration table: per (backend, dtype, activation) the kernel names,
    fastest forward+backward first. A kernel left out is never ranked, so auto
    picks it only by name (the shipped table leaves out torch's ``compiled``:
    its first call compiles for seconds). On ``device="cuda"`` the rankings are
    filed under ``"torch:cuda"`` (``"jax:cuda"``): tensors on the GPU use them,
    CPU tensors the backend's own."""
    from ._calibration import device_key

    res = run(
        names,
        backends,
        kernels=kernels,
        dtypes=dtypes,
        size=size,
        repeat=repeat,
        warmup=warmup,
        anchors=False,
        what=("forward", "forward_backward"),
        progress=progress,
        stream=stream,
        device=device,
    )
    rankings: Dict[str, Dict[str, Dict[str, List[str]]]] = {}
    training: Dict[str, Dict[str, Dict[str, List[str]]]] = {}
    groups: Dict[Tuple[str, str, str], List[Row]] = {}
    for r in res.rows:
        groups.setdefault((r.backend, r.dtype, r.activation), []).append(r)
    for (b, dt, act), rows in groups.items():
        ok = [r for r in rows if r.eligible and not r.error]
        timed = [r for r in ok if r.forward_backward_s is not None]
        if not timed:
            continue
        timed.sort(key=lambda r: r.forward_backward_s)  # type: ignore[arg-type,return-value]
        native = next((r for r in timed if r.kind == "native"), None)

        def order(keys: Sequence[str]) -> List[str]:
            # a framework's own op keeps first place unless another kernel beats it by
            # NATIVE_MARGIN in each of keys (closer figures are within a shared machine's noise)
            if native is None:
                return [r.kernel for r in timed]
            ahead = [r for r in timed if r is not native and _beats(r, native, keys)]
            return [
                r.kernel for r in (*ahead, native, *(r for r in timed if r is not native and r not in ahead))
            ]

        key = device_key(b, device)
        # calls that may be inference (the forward alone) need a win both ways; calls whose
        # gradient is taken (the training rankings) only forward+backward
        rankings.setdefault(key, {}).setdefault(dt, {})[act] = order(("forward_s", "forward_backward_s"))
        train = order(("forward_backward_s",))
        if train != rankings[key][dt][act]:
            training.setdefault(key, {}).setdefault(dt, {})[act] = train
    frameworks = {device_key(b, device): v for b, v in res.meta["frameworks"].items()}
    return {
        "version": 1,
        "measured": res.meta["measured"],
        "machine": res.meta["machine"] + (f", {res.meta['gpu']}" if res.meta.get("gpu") else ""),
        "size": size,
        "metric": "fwd+bwd median",
        "frameworks": frameworks,
        "rankings": rankings,
        "training": training,
    }


# --------------------------------------------------------------------------- overhead
def _import_times(runs: int = 7) -> Dict[str, float]:
    """Median wall time of a bare interpreter and of one that imports polyact
    (subprocesses), and the in-process time of ``import polyact``, in ms."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    inner = "import time; t = time.perf_counter(); import polyact; print(time.perf_counter() - t)"

    def wall(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env, stdout=subprocess.PIPE)
        return time.perf_counter() - t0

    bare, imp, inproc = [], [], []
    for _ in range(runs):
        bare.append(wall("pass"))
        imp.append(wall("import polyact"))
        out = subprocess.run(
            [sys.executable, "-c", inner], check=True, env=env, stdout=subprocess.PIPE, text=True
        ).stdout
        inproc.append(float(out.strip()))
    b, i = statistics.median(bare), statistics.median(imp)
    return {
        "bare_interpreter_ms": b * 1e3,
        "with_import_ms": i * 1e3,
        "import_added_ms": (i - b) * 1e3,
        "import_in_process_ms": statistics.median(inproc) * 1e3,
    }


def _per_call(*fns: Callable[[], Any], calls: int, samples: int, sync: Callable[[], Any]) -> List[float]:
    """Median seconds per call of each of ``fns`` (``calls`` per sample). The
    samples alternate between the functions (and their order between rounds),
    so a slow spell of a shared machine falls on all of them alike."""
    for fn in fns:
        for _ in range(min(calls, 50)):
            fn()
    sync()
    out: List[List[float]] = [[] for _ in fns]
    for i in range(samples):
        order = list(enumerate(fns))
        for j, fn in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            sync()
            out[j].append((time.perf_counter() - t0) / calls)
    return [statistics.median(o) for o in out]


def overhead(
    backends: Optional[Sequence[str]] = None,
    name: str = "silu",
    *,
    calls: int = 200,
    samples: int = 15,
    imports: int = 7,
) -> Dict[str, Any]:
    """The import time over a bare interpreter, and per backend the time of a
    repeated ``get_activation`` and a module call's time over its kernel's
    ``impl`` on an 8-element float32 tensor (microseconds)."""
    import numpy as np

    if backends is None:
        backends = [b for b in registry.available_backends() if b in FRAMEWORK_BACKENDS]
    out: Dict[str, Any] = {"import": _import_times(imports), "activation": name, "backends": {}}
    spec = registry.get_spec(name)
    params = bench_params(spec) or {}
    for b in backends:
        h = _harness(b)
        x = h.b.from_numpy(np.linspace(-3, 3, 8, dtype=np.float32), "float32")
        registry.get_activation(spec.name, h.name)
        (get_s,) = _per_call(
            lambda: registry.get_activation(spec.name, h.name),
            calls=calls,
            samples=samples,
            sync=lambda: None,
        )
        module = registry.get_activation(spec.name, h.name)
        kname = auto_kernel_name(spec.name, h.name, "float32", params, 8)
        impl = registry.kernels(spec.name, h.name)[kname].impl
        last: List[Any] = [None]

        def sync() -> None:
            if last[0] is not None:
                h.sync(last[0])

        def call_module() -> None:
            last[0] = module(x)

        def call_impl() -> None:
            last[0] = impl(x, **params)

        t_mod, t_imp = _per_call(call_module, call_impl, calls=calls, samples=samples, sync=sync)
        out["backends"][h.name] = {
            "kernel": kname,
            "get_activation_us": get_s * 1e6,
            "module_call_us": t_mod * 1e6,
            "kernel_call_us": t_imp * 1e6,
            "module_overhead_us": (t_mod - t_imp) * 1e6,
        }
    return out


def render_overhead(o: Mapping[str, Any]) -> str:
    imp = o["import"]
    lines = [
        f"import polyact: +{imp['import_added_ms']:.1f} ms over a bare interpreter "
        f"({imp['with_import_ms']:.1f} vs {imp['bare_interpreter_ms']:.1f} ms; "
        f"{imp['import_in_process_ms']:.1f} ms measured in-process)",
        f"per call ({o['activation']}, 8 float32 elements):",
    ]
    for b, d in o["backends"].items():
        lines.append(
            f"  {b:10s} get_activation {d['get_activation_us']:8.1f} us   module call {d['module_call_us']:8.1f} us"
            f"   kernel '{d['kernel']}' impl {d['kernel_call_us']:8.1f} us   overhead "
            f"{d['module_overhead_us']:+8.1f} us"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command line
BENCH_HELP = """\
Time every kernel of the given activations (default: all element-wise ones) per backend
and dtype: forward, forward+backward and the bytes kept for backward, next to the anchors
measured in the same run (@native: the framework's op called raw; @naive: the Echo-style
naive composition; @compile: torch.compile / jax.jit of the formula). Median of --repeat
runs after warm-up; ratios against @native and @naive (below 1: faster).

--calibrate ranks the kernels kernel="auto" may pick by forward+backward time and writes
the calibration table (default: the user file, $POLYACT_CALIBRATION or
~/.cache/polyact/calibration.json; --output PATH elsewhere). --overhead measures the
import time and the per-call cost of the Python layer instead.
"""


def parse_size(text: str) -> int:
    """``1024``, ``64K``, ``1M``, ``16M`` (binary multiples) or ``2**24``."""
    t = text.strip().upper().replace("_", "")
    try:
        if "**" in t:
            base, exp = t.split("**", 1)
            return int(base) ** int(exp)
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
        return int(float(t[:-1] if mult > 1 else t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1024, 64K, 16M)") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="polyact bench", description=BENCH_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="activations (default: every element-wise one)")
    p.add_argument(
        "--backend",
        action="append",
        metavar="B",
        help="a backend (repeatable; default: every installed framework)",
    )
    p.add_argument(
        "--kernel", action="append", metavar="K", help="a kernel name or 'auto' (repeatable; default: all)"
    )
    p.add_argument(
        "--size",
        type=parse_size,
        default=None,
        metavar="N",
        help=f"elements per input (1024, 64K, 16M; default {DEFAULT_SIZE:,})",
    )
    p.add_argument(
        "--dtype",
        action="append",
        choices=["float32", "float64", "float16", "bfloat16"],
        metavar="D",
        help="float32 (default), float64, float16, bfloat16 (repeatable)",
    )
    p.add_argument(
        "--device",
        choices=list(DEVICES),
        default=DEVICE,
        help="where the inputs live: cpu (default) or cuda (torch and JAX on an NVIDIA GPU; adds triton kernels)",
    )
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the results as a Markdown report")
    p.add_argument("--calibrate", action="store_true", help="write the calibration table kernel='auto' reads")
    p.add_argument(
        "--output", metavar="PATH", help="with --calibrate: the file to write (default: the user file)"
    )
    p.add_argument("--overhead", action="store_true", help="import time and per-call overheads instead")
    p.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        metavar="R",
        help=f"timed runs (default {DEFAULT_REPEAT})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def bench_main(
    argv: Optional[Sequence[str]] = None, *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None
) -> int:
    """``polyact bench``: returns the exit status (0 done, 2 a usage error)."""
    from .cli import start_command

    args, status, out, err = start_command(_parser(), argv, stdout, stderr)
    if args is None:
        return status
    try:
        if args.repeat < 1:
            raise ValueError("--repeat must be >= 1")
        if args.output and not args.calibrate:
            raise ValueError("--output goes with --calibrate (use --json/--markdown for results)")
        if args.calibrate and args.overhead:
            raise ValueError("--calibrate and --overhead are separate runs")
        if args.overhead and args.device != DEVICE:
            raise ValueError("--overhead measures the Python layer on the CPU (leave out --device)")
        backends = None
        if args.backend:
            backends = []
            for b in args.backend:
                key = registry.get_backend(b).name  # unknown backends raise
                registry.get_backend(key).fw  # noqa: B018  (not installed: a clear error)
                if key not in backends:
                    backends.append(key)
        if "megengine" in (backends or []) or (
            backends is None and "megengine" in registry.available_backends()
        ):
            _quiet_megengine()
        progress = not args.quiet
        if args.overhead:
            name = args.names[0] if args.names else "silu"
            o = overhead(backends, registry.get_spec(name).name)
            out.write(render_overhead(o))
            if args.json:
                with open(args.json, "w", encoding="utf-8") as fh:
                    _jsonio.dump(o, fh)
            return 0
        dtypes = args.dtype or ["float32"]
        size = args.size or DEFAULT_SIZE
        if args.calibrate:
            from . import _calibration

            table = calibrate(
                args.names or None,
                backends,
                dtypes=dtypes,
                size=size,
                repeat=args.repeat,
                progress=progress,
                stream=err,
                kernels=args.kernel or None,
                device=args.device,
            )
            path = _calibration.save(table, args.output)
            n = sum(len(a) for d in table["rankings"].values() for a in d.values())
            out.write(f"calibration: {n} rankings written to {path}\n")
            if args.json:
                with open(args.json, "w", encoding="utf-8") as fh:
                    _jsonio.dump(table, fh)
            return 0
        res = run(
            args.names or None,
            backends,
            kernels=args.kernel,
            dtypes=dtypes,
            size=size,
            repeat=args.repeat,
            progress=progress,
            stream=err,
            device=args.device,
        )
    except (PolyactError, ValueError) as exc:
        print(f"polyact bench: {exc}", file=err)
        return 2
    if not res.rows:
        print("polyact bench: nothing to measure for this selection", file=err)
        return 2
    out.write(res.render_text())
    if args.json:
        res.write_json(args.json)
        out.write(f"JSON written to {args.json}\n")
    if args.markdown:
        res.write_markdown(args.markdown)
        out.write(f"Markdown written to {args.markdown}\n")
    return 0


def _quiet_megengine() -> None:
    import logging
    import warnings

    logging.getLogger("megengine").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="megengine")
