"""Kernel selection: ``kernel="auto"``, scoped overrides and the export mode.

An activation built with ``kernel="auto"`` (the default) chooses its kernel on
each call, per (dtype, device), and remembers the choice:

1. a kernel named by the innermost :func:`use_kernel` scope (for this backend),
   else by the environment variable ``POLYACT_KERNEL``, when the activation has
   it and it can run here;
2. otherwise the fastest kernel that meets the numerical contract: a user
   kernel registered with ``auto=True``, else the first of the calibration
   table's ranking (measured by ``polyact bench --calibrate``; see
   :mod:`polyact._calibration`), else the first of ``native -> fused -> fast ->
   composed``. The table has rankings per device (CPU; a GPU's where measured
   there) measured on 1M elements and, for inputs
   of at least :data:`LARGE_FROM` elements, rankings measured on 16M where it
   has them: which kernel is fastest changes with the size (a large input
   streams from memory, where a small one stays in cache).

Only kernels that meet the contract for these parameters (``eligible``), run on
this dtype and device, and are available here are candidates. Trainable
parameters that are live tensors rule out kernels without parameter gradients
(natives, fused). In the export mode (``use_kernel(export=True)``,
``POLYACT_KERNEL=export``, or automatically while ``torch.onnx.export``
traces) only ONNX-exportable kernels are candidates; under ``torch.compile``
only compile-safe ones.

``compiled`` and ``cpp`` kernels are picked by ``auto`` only when the
calibration table ranks them first for that (activation, backend, dtype) and
they are available here: their first call compiles (seconds on torch, which
also needs a C++ compiler; a fraction of a second on JAX; MegEngine's ``cpp``
needs a C++ compiler and builds once per formula into the cache), so the
shipped table ranks them where that pays off.

An explicit ``kernel=`` given to ``get_activation``/``get_function`` always
wins over scopes and the environment.
"""

from __future__ import annotations

import contextlib
import os
from contextvars import ContextVar
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .errors import ActivationError, UnknownKernelError
from .spec import ActivationSpec, Kernel

__all__ = ["AUTO_ORDER", "KERNEL_KINDS", "LARGE_FROM", "AutoKernel", "current_scope", "use_kernel"]

#: fallback order of ``auto`` when the calibration table has no data
AUTO_ORDER = ("native", "fused", "fast", "composed")
#: the kernel names polyact builds itself (user kernels add their own names)
KERNEL_KINDS = ("native", "composed", "fast", "fused", "compiled", "triton", "cpp")
ENV = "POLYACT_KERNEL"
#: inputs of at least this many elements use the calibration table's rankings
#: for large inputs where it has them (4M: between the 1M and 16M measurements)
LARGE_FROM = 1 << 22


def _env_reader() -> Any:
    """A cheap ``os.environ.get(ENV)`` for the per-call cache key: the raw value
    from ``os.environ``'s own mapping (kept in step by ``os.environ[...] = ...``
    and ``os.putenv``-free updates), or ``os.environ.get`` where it has none."""
    data = getattr(os.environ, "_data", None)
    encode = getattr(os.environ, "encodekey", None)
    if isinstance(data, dict) and encode is not None:
        key = encode(ENV)
        return lambda: data.get(key)
    return lambda: os.environ.get(ENV)


_env_raw = _env_reader()


class Scope:
    """What the innermost ``use_kernel`` says: kernel names per backend
    (``"*"``: every backend) and the export mode."""

    __slots__ = ("export", "kernels")

    def __init__(self, kernels: Tuple[Tuple[str, str], ...], export: bool) -> None:
        self.kernels = kernels
        self.export = export

    def kernel_for(self, backend: str) -> Optional[str]:
        for b, k in reversed(self.kernels):  # the innermost scope first
            if b == backend or b == "*":
                return k
        return None

    def key(self) -> Tuple[Any, ...]:
        return (self.kernels, self.export)


_SCOPE: ContextVar[Optional[Scope]] = ContextVar("polyact_kernel_scope", default=None)


def current_scope() -> Optional[Scope]:
    """The innermost :func:`use_kernel` scope of this thread/task, or None."""
    return _SCOPE.get()


@contextlib.contextmanager
def use_kernel(
    kernel: Optional[str] = None, *, backend: Optional[str] = None, export: bool = False
) -> Iterator[None]:
    """Within the ``with`` block, activations built with ``kernel="auto"`` use
    ``kernel`` (on ``backend`` only, when given) wherever they have it; with
    ``export=True`` they pick only ONNX-exportable kernels. Scopes nest (the
    inner one wins; an export scope stays in force inside) and are
    ContextVars: thread- and async-safe.

    >>> import numpy as np, polyact as pa
    >>> with pa.use_kernel("composed"):
    ...     float(pa.get_function("relu", "numpy")(np.float64(-1.0)))
    0.0
    """
    if kernel is not None:
        if not isinstance(kernel, str) or not kernel:
            raise UnknownKernelError(f"use_kernel takes a kernel name. Received: {kernel!r}")
        _check_kernel_name(kernel)
    outer = _SCOPE.get()
    kernels = outer.kernels if outer is not None else ()
    if kernel is not None and kernel != "auto":
        kernels = (*kernels, (backend or "*", kernel))
    elif kernel == "auto":  # back to automatic selection inside
        kernels = tuple((b, k) for b, k in kernels if backend is not None and b not in (backend, "*"))
    token = _SCOPE.set(Scope(kernels, export or bool(outer is not None and outer.export)))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def _known_kernel_names() -> Tuple[str, ...]:
    from . import registry

    users = {k for table in registry._kernels.values() for k in table}
    return (*KERNEL_KINDS, *sorted(users))


def _check_kernel_name(kernel: str) -> None:
    if kernel in ("auto", "export"):
        return
    known = _known_kernel_names()
    if kernel not in known:
        import difflib

        close = difflib.get_close_matches(kernel, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownKernelError(f"Unknown kernel {kernel!r}.{hint} Kernels: {', '.join(known)} (or 'auto').")


def _env_kernel() -> Tuple[Optional[str], bool]:
    """(kernel name, export mode) from ``POLYACT_KERNEL``."""
    value = os.environ.get(ENV, "").strip()
    if not value or value == "auto":
        return None, False
    if value == "export":
        return None, True
    _check_kernel_name(value)
    return value, False


class AutoKernel:
    """``kernel="auto"``: resolves to a :class:`Kernel` per call (see the module
    docstring). It quacks like a :class:`Kernel` for the objects built on it:
    ``name`` is ``"auto"``, ``impl`` dispatches, ``inplace`` is the native
    in-place variant where ``auto`` would use the native op."""

    kind = "auto"
    name = "auto"

    def __init__(
        self,
        spec: ActivationSpec,
        backend: str,
        table: Mapping[str, Kernel],
        params: Mapping[str, Any],
        trainable_live: bool,
        preferred: Optional[str] = None,
    ) -> None:
        self.spec = spec
        self.backend = backend
        self.table = dict(table)
        self.params = dict(params)
        self.trainable_live = trainable_live
        self.preferred = preferred
        self._cache: Dict[Any, Kernel] = {}
        native = self.table.get("native")
        usable = native is not None and not trainable_live and native.eligible_for(params)
        self.inplace = native.inplace if usable else None  # type: ignore[union-attr]
        self.differentiable = True
        self.impl = self  # the runner asks ``impl.pick(dtype, device)``

    def __repr__(self) -> str:
        return f"<AutoKernel {self.spec.name} on {self.backend}>"

    def pick(
        self,
        dtype: str,
        device: Optional[str] = None,
        mode: Optional[str] = None,
        live: bool = False,
        size: Optional[int] = None,
        grad: bool = False,
    ) -> Kernel:
        """The kernel for a call on ``dtype``/``device``; ``mode`` is ``"export"``
        or ``"compile"`` when the framework is exporting or compiling; ``live``
        when a parameter value is being differentiated in this call; ``size``:
        the input's number of elements (None: unknown, as for a small one);
        ``grad``: the call's gradient will be taken (known; the training
        rankings apply where the table has them)."""
        scope = _SCOPE.get()
        env = _env_raw()
        large = size is not None and size >= LARGE_FROM
        key = (dtype, device, mode, live, large, grad, None if scope is None else scope.key(), env)
        k = self._cache.get(key)
        if k is None:
            k = self._cache[key] = self.resolve(dtype, device, mode, scope, live, large, grad)
        return k

    def candidates(
        self,
        dtype: str,
        device: Optional[str] = None,
        export: bool = False,
        compiling: bool = False,
        live: bool = False,
    ) -> List[Kernel]:
        """The kernels ``auto`` may choose from, in table order."""
        out = []
        live = live or self.trainable_live
        for k in self.table.values():
            if not k.differentiable or not k.eligible_for(self.params) or not k.supports(dtype, device):
                continue
            if live and not k.param_grads:
                continue
            if export and not k.onnx:
                continue
            if compiling and not k.compile_safe:
                continue
            out.append(k)
        return out

    def resolve(
        self,
        dtype: str,
        device: Optional[str],
        mode: Optional[str],
        scope: Optional[Scope],
        live: bool = False,
        large: bool = False,
        grad: bool = False,
    ) -> Kernel:
        env_kernel, env_export = _env_kernel()
        live = live or self.trainable_live
        export = mode == "export" or env_export or bool(scope is not None and scope.export)
        forced = scope.kernel_for(self.backend) if scope is not None else None
        forced = forced or env_kernel
        if forced is not None:
            k = self.table.get(forced)
            if k is not None and k.supports(dtype, device) and (k.param_grads or not live):
                if not export or k.onnx:
                    return k
        cands = self.candidates(dtype, device, export=export, compiling=mode == "compile", live=live)
        if not cands:  # nothing meets every wish: the formula always runs
            return self.table["composed"]
        by_name = {k.name: k for k in cands}
        if self.preferred in by_name:
            return by_name[self.preferred]  # type: ignore[index]
        for name in _ranking(self.backend, dtype, self.spec.name, large, device, grad) or ():
            if name in by_name:
                return by_name[name]
        for name in AUTO_ORDER:
            if name in by_name:
                return by_name[name]
        return cands[0]


def _ranking(
    backend: str,
    dtype: str,
    name: str,
    large: bool = False,
    device: Optional[str] = None,
    grad: bool = False,
) -> Optional[Tuple[str, ...]]:
    """The calibration table's ranking (fastest first; for large inputs where
    the table has one; for ``device``'s tensors: a GPU has its own; for a call
    whose gradient is taken, the training ranking where there is one), or None
    without data."""
    try:
        from . import _calibration
    except ImportError:  # pragma: no cover - the module ships with polyact
        return None
    r = _calibration.ranking(backend, dtype, name, large=large, device=device, training=grad)
    return tuple(r) if r else None


def check_explicit(spec: ActivationSpec, kernel: Kernel, trainable_live: bool) -> None:
    """An explicitly requested kernel that cannot differentiate live trainable
    parameters would silently leave them without gradients: refuse it."""
    if trainable_live and not kernel.param_grads:
        raise ActivationError(
            f"kernel {kernel.name!r} of {spec.name} does not differentiate the trainable parameters "
            f"({', '.join(spec.trainable)}); use kernel='auto' or 'composed'."
        )
