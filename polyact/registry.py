"""The central registry: names, aliases, kernels, plug-ins and selection.

Thread-safe: registration, plug-in discovery and lazy backend loading hold one
re-entrant lock; lookups read immutable snapshots.
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import threading
import warnings
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from . import _limits
from .backends import BACKEND_MODULES
from .backends._base import limits_for
from .errors import (
    ActivationError,
    BackendNotInstalledError,
    DuplicateRegistrationError,
    UnknownActivationError,
    UnknownBackendError,
    UnknownKernelError,
)
from .spec import ActivationSpec, Kernel, Param

__all__ = [
    "apply",
    "auto_kernel",
    "available_backends",
    "from_config",
    "to_config",
    "describe",
    "get_activation",
    "get_backend",
    "get_function",
    "get_spec",
    "kernels",
    "list_activations",
    "list_backends",
    "normalize",
    "register_activation",
    "register_kernel",
    "unregister_activation",
]

PLUGIN_GROUP = "polyact.plugins"
#: build options that are not activation parameters
OPTIONS = ("num_channels", "channel_axis", "inplace", "seed", "rngs")
RESERVED_KERNELS = ("auto", "export", "native", "composed", "fast", "fused", "compiled", "triton", "cpp")
PUBLIC_BACKENDS = ("numpy", "torch", "jax", "megengine")

_lock = threading.RLock()
_specs: Dict[str, ActivationSpec] = {}  # canonical name -> spec
_index: Dict[str, str] = {}  # normalised name or alias -> canonical name
_builtin: set = set()
_kernels: Dict[Tuple[str, str], Dict[str, Kernel]] = {}  # (name, backend) -> user kernels
_preferred: Dict[Tuple[str, str], str] = {}  # (name, backend) -> user kernel auto picks
_auto_cache: Dict[Tuple[Any, ...], Any] = {}  # shared AutoKernel selectors (see _select)
_AUTO_CACHE_SIZE = 1024
#: what get_activation works out before building (name and backend looked up,
#: parameters validated and bound, kernel selected), per call signature of plain values
_build_cache: Dict[Tuple[Any, ...], Tuple[Any, ...]] = {}
_by_name: Dict[str, Tuple[int, ActivationSpec]] = {}  # name as given -> (generation, spec)
_generation = 0  # bumped by every registration change (see _changed)
_backends: Dict[str, Any] = {}
_plugins_state = {"loaded": False, "loading": False}
_apply_cache: Dict[Tuple[str, str], Callable[..., Any]] = {}


class PluginWarning(UserWarning):
    """A plug-in could not be loaded and was skipped."""


def normalize(name: str) -> str:
    """Case, ``-``, ``_`` and spaces do not matter: ``"Leaky-ReLU"`` -> ``"leakyrelu"``."""
    if not isinstance(name, str):
        raise TypeError(f"an activation name must be a str. Received: {name!r}")
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


# --------------------------------------------------------------------------- backends
def list_backends() -> List[str]:
    """Every backend polyact knows (installed or not)."""
    return list(PUBLIC_BACKENDS)


def available_backends() -> List[str]:
    """The backends whose framework is installed here (nothing is imported)."""
    import importlib.util

    out = []
    for b in PUBLIC_BACKENDS:
        try:
            if importlib.util.find_spec(b) is not None:
                out.append(b)
        except (ImportError, ValueError):
            pass
    return out


def _backend_module(name: str) -> Any:
    return importlib.import_module(BACKEND_MODULES[name])


def get_backend(name: str) -> Any:
    """The backend object for ``name``; raises if it is unknown or not installed."""
    b = _backends.get(name)
    if b is not None:
        return b
    key = normalize(name) if isinstance(name, str) else name
    if key not in BACKEND_MODULES:
        close = difflib.get_close_matches(str(key), list(PUBLIC_BACKENDS), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownBackendError(
            f"Unknown backend {name!r}.{hint} Known backends: {', '.join(PUBLIC_BACKENDS)}."
        )
    with _lock:
        b = _backend_module(key).backend
        if not b.is_available():
            raise BackendNotInstalledError(
                f"The {key!r} backend needs the {b.framework!r} package, which is not installed. "
                f"Install it with: {b.install}"
            )
        _backends[name] = _backends[key] = b
    return b


# --------------------------------------------------------------------------- plug-ins
def _entry_points() -> Iterable[Any]:
    from importlib import metadata

    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=PLUGIN_GROUP))
    return list(eps.get(PLUGIN_GROUP, []))  # Python 3.9


def load_plugins(force: bool = False) -> None:
    """Discover the ``polyact.plugins`` entry points (once; lazily on the first
    miss or listing). ``POLYACT_NO_PLUGINS=1`` turns discovery off. A broken
    plug-in is skipped with a :class:`PluginWarning` naming it."""
    if os.environ.get("POLYACT_NO_PLUGINS", "") not in ("", "0"):
        return
    with _lock:
        if (_plugins_state["loaded"] and not force) or _plugins_state["loading"]:
            return
        _plugins_state["loading"] = True
        try:
            for ep in _entry_points():
                try:
                    obj = ep.load()
                    if callable(obj) and not isinstance(obj, type(os)):
                        obj()
                except Exception as exc:  # a plug-in must never break polyact
                    warnings.warn(
                        f"polyact: skipping plug-in {ep.name!r} ({ep.value}): {type(exc).__name__}: {exc}",
                        PluginWarning,
                        stacklevel=2,
                    )
        finally:
            _plugins_state["loading"] = False
            _plugins_state["loaded"] = True


# --------------------------------------------------------------------------- activations
def _ensure_builtins() -> None:
    if not _builtin:
        with _lock:
            if not _builtin:
                importlib.import_module("polyact.activations")


def get_spec(name: Union[str, ActivationSpec]) -> ActivationSpec:
    """The :class:`ActivationSpec` registered under ``name`` or one of its aliases."""
    hit = _by_name.get(name) if type(name) is str else None
    if hit is not None and hit[0] == _generation:
        return hit[1]
    if isinstance(name, ActivationSpec):
        return name
    generation = _generation  # before the lookup: a change during it makes the entry stale
    _ensure_builtins()
    key = normalize(name)
    canonical = _index.get(key)
    if canonical is None:
        load_plugins()
        canonical = _index.get(key)
    if canonical is None:
        raise UnknownActivationError(_unknown_message(name, key))
    spec = _specs[canonical]
    if len(_by_name) < _AUTO_CACHE_SIZE:
        _by_name[name] = (generation, spec)
    return spec


def _unknown_message(name: str, key: str) -> str:
    close = difflib.get_close_matches(key, list(_index), n=5, cutoff=0.6)
    names: List[str] = []
    for c in close:
        if _index[c] not in names:
            names.append(_index[c])
    hint = f" Did you mean: {', '.join(names)}?" if names else ""
    installed = ", ".join(available_backends()) or "none"
    return (
        f"Unknown activation {name!r}.{hint} See polyact.list_activations() for all "
        f"{len(_specs)} names. Installed backends: {installed}."
    )


def _register_spec(spec: ActivationSpec, override: bool, builtin: bool = False) -> None:
    if not builtin:
        _ensure_builtins()  # a user's name is checked against the built-ins
    names = (spec.name, *spec.aliases)
    with _lock:
        if not override:
            for n in names:
                taken = _index.get(normalize(n))
                if taken is not None:
                    raise DuplicateRegistrationError(
                        f"{n!r} is already registered (as {taken!r}). Pass override=True to replace it."
                    )
        elif spec.name in _specs:
            _drop(spec.name)
        for n in names:
            taken = _index.get(normalize(n))
            if taken is not None and taken != spec.name and override:
                _drop(taken)
        _specs[spec.name] = spec
        for n in names:
            _index[normalize(n)] = spec.name
        if builtin:
            _builtin.add(spec.name)
        _changed()


def _changed() -> None:
    """The registry changed (under ``_lock``): what was derived from it starts
    over. Entries keyed by the generation and written by a lookup that raced
    with the change never match again."""
    global _generation
    _generation += 1
    _apply_cache.clear()
    _build_cache.clear()
    _auto_cache.clear()
    _by_name.clear()


def _drop(canonical: str) -> None:
    spec = _specs.pop(canonical, None)
    for k in [k for k, v in _index.items() if v == canonical]:
        del _index[k]
    _builtin.discard(canonical)
    for key in [k for k in _kernels if k[0] == canonical]:
        del _kernels[key]
        _preferred.pop(key, None)
    _changed()
    del spec


def unregister_activation(name: str) -> None:
    """Remove a registered activation (and its user kernels)."""
    spec = get_spec(name)
    with _lock:
        _drop(spec.name)


def register_activation(
    name_or_spec: Union[str, ActivationSpec, Callable[..., Any], None] = None,
    fn: Optional[Callable[..., Any]] = None,
    *,
    params: Optional[Mapping[str, Any]] = None,
    aliases: Sequence[str] = (),
    override: bool = False,
    _builtin: bool = False,
    **spec_fields: Any,
) -> Any:
    """Register an activation on every backend at once.

    As a decorator on ``fn(x, ops, **params)``::

        @polyact.register_activation("my_act", params={"beta": polyact.Param(1.0, domain=polyact.positive)})
        def my_act(x, ops, beta):
            return x * ops.tanh(ops.exp(beta * x))

    or as a function taking an :class:`ActivationSpec`. ``params`` values may be
    :class:`Param` objects or plain defaults; any other :class:`ActivationSpec`
    field (``formula``, ``summary``, ``kinks``, ``references``, ...) can be
    given as a keyword. A duplicate name (or alias) raises
    :class:`DuplicateRegistrationError` unless ``override=True``.
    """
    if isinstance(name_or_spec, ActivationSpec):
        if fn is not None or params or aliases or spec_fields:
            raise TypeError("register_activation(spec) takes no other fields; put them on the spec")
        _register_spec(name_or_spec, override, _builtin)
        return name_or_spec

    def build(f: Callable[..., Any], name: Optional[str]) -> Callable[..., Any]:
        ps = {k: v if isinstance(v, Param) else Param(v) for k, v in (params or {}).items()}
        bad = [k for k in ps if k in OPTIONS]
        if bad:
            raise ActivationError(f"parameter name(s) {bad} are reserved build options")
        spec = ActivationSpec(name=name or f.__name__, fn=f, params=ps, aliases=tuple(aliases), **spec_fields)
        _register_spec(spec, override, _builtin)
        try:
            f.spec = spec  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass
        return f

    if callable(name_or_spec) and fn is None:  # bare decorator
        return build(name_or_spec, None)
    if fn is not None:
        return build(fn, name_or_spec)  # type: ignore[arg-type]
    return lambda f: build(f, name_or_spec)  # type: ignore[arg-type]


def list_activations(backend: Optional[str] = None) -> List[str]:
    """Canonical names of every registered activation (built-in, custom, plug-in),
    sorted; with ``backend``, those that backend can build."""
    _ensure_builtins()
    load_plugins()
    names = sorted(_specs)
    if backend is not None:
        key = normalize(backend)
        if key not in BACKEND_MODULES:
            get_backend(backend)  # raises the unknown-backend error
        if key == "reference":
            names = [n for n in names if _specs[n].kind != "structural"]
    return names


# --------------------------------------------------------------------------- kernels
def register_kernel(
    name: str,
    backend: str,
    kernel_name: str,
    impl: Callable[..., Any],
    *,
    differentiable: bool = True,
    inplace: Optional[Callable[..., Any]] = None,
    auto: bool = False,
    eligible: bool = True,
    dtypes: Optional[Sequence[str]] = None,
    note: str = "",
    override: bool = False,
    onnx: bool = False,
    compile_safe: bool = False,
    param_grads: bool = True,
    devices: Optional[Sequence[str]] = None,
    available: Optional[Callable[[], bool]] = None,
) -> Kernel:
    """Add an implementation of activation ``name`` on ``backend``.

    ``impl(x, **params)`` gets a floating tensor of the backend (half precision
    already promoted to float32) and the parameters; it returns the result.
    ``auto=True`` makes ``kernel="auto"`` prefer it (it must meet the numerical
    contract: the consistency tests cover every registered kernel). The
    capability flags (see :class:`Kernel`) say where ``auto`` may use it:
    ``onnx`` (export mode), ``compile_safe`` (under ``torch.compile``),
    ``param_grads`` (modules with trainable parameters), ``devices``
    (e.g. ``("cuda",)``), ``dtypes``, ``available`` (a check run before use).

    >>> import numpy as np, polyact as pa
    >>> k = pa.register_kernel("relu", "numpy", "clip", lambda x: np.maximum(x, 0.0), override=True)
    >>> pa.get_function("relu", "numpy", kernel="clip")(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    spec = get_spec(name)
    bkey = normalize(backend)
    if bkey not in BACKEND_MODULES:
        get_backend(backend)
    if not callable(impl):
        raise TypeError(f"impl must be callable. Received: {impl!r}")
    kernel = Kernel(
        kernel_name,
        bkey,
        "custom",
        impl,
        differentiable=differentiable,
        inplace=inplace,
        eligible=eligible,
        dtypes=tuple(dtypes) if dtypes else None,
        note=note,
        onnx=onnx,
        compile_safe=compile_safe,
        param_grads=param_grads,
        devices=tuple(devices) if devices else None,
        available=available,
    )
    with _lock:
        table = dict(_kernels.get((spec.name, bkey), {}))
        if not override and (kernel_name in table or kernel_name in RESERVED_KERNELS):
            raise DuplicateRegistrationError(
                f"kernel {kernel_name!r} is already registered for {spec.name} on {bkey}. "
                "Pass override=True to replace it."
            )
        table[kernel_name] = kernel
        _kernels[(spec.name, bkey)] = table
        if auto:
            _preferred[(spec.name, bkey)] = kernel_name
        _changed()
    return kernel


def kernels(name: str, backend: str) -> Dict[str, Kernel]:
    """Every kernel of ``name`` on ``backend``: native (where the framework has
    the op), composed, then user-registered ones."""
    spec = get_spec(name)
    return _table(spec, get_backend(backend))


def _table(spec: ActivationSpec, b: Any) -> Dict[str, Kernel]:
    table = b.builtin_kernels(spec)
    table.update(_kernels.get((spec.name, b.name), {}))
    return table


def _select(
    spec: ActivationSpec,
    b: Any,
    kernel: str,
    trainable_live: bool,
    params: Optional[Mapping[str, Any]] = None,
    shared: bool = False,
) -> Any:
    """The :class:`Kernel` named ``kernel``, or for ``"auto"`` an
    :class:`~polyact.selection.AutoKernel` that resolves per call (with
    ``shared``, one per spec, backend and parameter values)."""
    if kernel == "auto":
        # objects built with the same parameters share one selector (it decides
        # per call from the dtype, device, scope and environment, and remembers
        # its decisions); a kernel registration or a new calibration table
        # starts the cache over
        key = _auto_key(spec, b.name, trainable_live, params) if shared else None
        hit = _auto_cache.get(key) if key is not None else None
        if hit is not None and hit.spec is spec:
            return hit
        from .selection import AutoKernel

        table = _table(spec, b)
        auto = AutoKernel(
            spec, b.name, table, params or {}, trainable_live, _preferred.get((spec.name, b.name))
        )
        if key is not None:
            if len(_auto_cache) >= _AUTO_CACHE_SIZE:
                _auto_cache.clear()
            _auto_cache[key] = auto
        return auto
    table = _table(spec, b)
    if not isinstance(kernel, str) or kernel not in table:
        raise UnknownKernelError(
            f"{spec.name} has no kernel {kernel!r} on {b.name}. Available: {', '.join(table)} (or 'auto')."
        )
    from .selection import check_explicit

    check_explicit(spec, table[kernel], trainable_live)
    return table[kernel]


_PLAIN = (int, float, bool, str, type(None))


def _auto_key(
    spec: ActivationSpec, backend: str, trainable_live: bool, params: Optional[Mapping[str, Any]]
) -> Optional[Tuple[Any, ...]]:
    """The key of a shared auto selector, or None for parameter values that are
    not plain Python scalars (tensors, per-channel lists: not shared)."""
    items = _plain_items(params)
    if items is None:
        return None
    return (spec.name, backend, trainable_live, items, *_generations())


def _plain_items(params: Optional[Mapping[str, Any]]) -> Optional[Tuple[Any, ...]]:
    """``params`` as a hashable key part, types included (1, 1.0 and True are
    equal keys; a NaN never finds itself), or None when a value is not a plain
    Python scalar (tensors, arrays, lists)."""
    if not params:
        return ()
    for v in params.values():
        if type(v) not in _PLAIN:
            return None
    return tuple((k, type(v), v) for k, v in params.items())


def _generations() -> Tuple[int, int]:
    """The registry's and the calibration table's generations (keys of what is
    derived from them)."""
    cal = sys.modules.get(__package__ + "._calibration")
    return _generation, getattr(cal, "generation", 0)


def kernel_object(spec: ActivationSpec, b: Any, kernel: str, fixed: Mapping[str, Any]) -> Any:
    """The kernel (or auto selector) an activation object built with ``kernel``
    uses, rebuilt from its name (unpickling, moving between devices)."""
    return _select(spec, b, kernel, trainable_live=bool(spec.trainable) and b.name != "numpy", params=fixed)


def auto_kernel(
    name: str,
    backend: str,
    dtype: str = "float32",
    device: Optional[str] = None,
    *,
    trainable: bool = False,
    export: bool = False,
    size: Optional[int] = None,
    training: bool = False,
    **params: Any,
) -> str:
    """The name of the kernel ``kernel="auto"`` picks for ``name`` on ``backend``
    for tensors of ``dtype`` (on ``device``), with these parameters; with
    ``trainable=True`` as for a module whose trainable parameters are live
    tensors; with ``export=True`` in the export mode; with ``size``, for inputs
    of that many elements (large ones may rank kernels differently); with
    ``training=True``, for a call whose gradient is taken (the calibration
    table's training rankings, where it has them).

    >>> import polyact as pa
    >>> pa.auto_kernel("relu", "numpy")
    'native'
    """
    spec = get_spec(name)
    b = get_backend(backend)
    bound = spec.bind(params)
    live = trainable and bool(spec.trainable) and b.name != "numpy"
    auto = _select(spec, b, "auto", trainable_live=live, params=bound)
    return auto.pick(dtype, device, "export" if export else None, size=size, grad=training).name


# --------------------------------------------------------------------------- building
def _split_options(spec: ActivationSpec, kwargs: Dict[str, Any]) -> Tuple[dict, dict]:
    options = {k: kwargs.pop(k) for k in OPTIONS if k in kwargs}
    n = options.get("num_channels")
    if n is not None:
        if not spec.per_channel:
            raise ActivationError(
                f"{spec.name} has no per-channel parameters, so num_channels does not apply."
            )
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ActivationError(f"num_channels must be an integer >= 1. Received: num_channels={n!r}")
    return kwargs, options


def get_activation(name: str, backend: str, kernel: str = "auto", **params: Any) -> Any:
    """A fresh native activation object for ``backend``.

    torch: a ``torch.nn.Module``; JAX: a pure callable, or a ``flax.nnx.Module``
    when the activation has trainable parameters or state; MegEngine: a
    ``megengine.module.Module``; NumPy: a callable. ``params`` are validated
    (unknown names and out-of-domain values raise). Build options:
    ``num_channels`` and ``channel_axis`` for per-channel parameters,
    ``inplace`` (torch), ``seed``/``rngs`` for initial states.

    >>> import polyact as pa
    >>> act = pa.get_activation("leaky_relu", backend="numpy", negative_slope=0.1)
    >>> float(act(-2.0))
    -0.2
    """
    key = _build_key(name, backend, kernel, params)
    plan = _build_cache.get(key) if key is not None else None
    if plan is None:
        plan = _build_plan(name, backend, kernel, params)
        if key is not None:
            if len(_build_cache) >= _AUTO_CACHE_SIZE:
                _build_cache.clear()
            _build_cache[key] = plan
    spec, b, bound, k, options, config = plan
    obj = b.make_module(spec, k, dict(bound), dict(options))
    b.set_config(obj, dict(config))
    return obj


def _build_key(name: Any, backend: Any, kernel: Any, params: Mapping[str, Any]) -> Optional[Tuple[Any, ...]]:
    """The key of a repeated get_activation call, or None when a value is not a
    plain Python scalar (tensors, arrays, lists, generators are bound afresh)."""
    if type(name) is not str or type(backend) is not str or type(kernel) is not str:
        return None
    items = _plain_items(params)
    if items is None:
        return None
    return (name, backend, kernel, items, *_generations())


def _build_plan(name: str, backend: str, kernel: str, params: Dict[str, Any]) -> Tuple[Any, ...]:
    spec = get_spec(name)
    b = get_backend(backend)
    params, options = _split_options(spec, dict(params))
    bound = spec.bind(params)
    _warm_limits(spec, b, bound)
    k = _select(
        spec, b, kernel, trainable_live=bool(spec.trainable) and b.name != "numpy", params=bound, shared=True
    )
    config = {"name": spec.name}
    config.update({n: _plain(v) for n, v in bound.items() if not spec.params[n].trainable})
    config.update({n: v for n, v in options.items() if n in ("num_channels", "channel_axis", "inplace")})
    if kernel != "auto":
        config["kernel"] = kernel
    return spec, b, bound, k, options, config


def _warm_limits(spec: ActivationSpec, b: Any, bound: Mapping[str, Any]) -> None:
    """Work out the special-value limits now (cached), so that a traced call
    (``torch.compile``, ``jax.jit``) only looks them up."""
    if spec.elementwise and getattr(b, "guard_specials", False):
        limits_for(spec, bound, b._concrete)
        if spec.trainable:
            _limits.static_limits(spec)


def _plain(v: Any) -> Any:
    """A JSON-friendly copy of a parameter value."""
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def to_config(obj: Any) -> Dict[str, Any]:
    """Plain JSON describing an activation object built by :func:`get_activation`:
    its name, non-trainable parameters and build options. Trainable values travel
    in the framework's own state dict; rebuild with :func:`from_config`.

    >>> import polyact as pa
    >>> pa.to_config(pa.get_activation("leaky_relu", backend="numpy", negative_slope=0.1))
    {'name': 'leaky_relu', 'negative_slope': 0.1}
    """
    config = getattr(obj, "polyact_config", None)
    if not isinstance(config, dict):
        raise ActivationError(
            f"to_config takes an object built by polyact.get_activation. Received: {type(obj).__qualname__}"
        )
    return dict(config)


def from_config(config: Mapping[str, Any], backend: str) -> Any:
    """Rebuild an activation from :func:`to_config`'s output, on any backend."""
    if not isinstance(config, Mapping) or "name" not in config:
        raise ActivationError(f"a polyact config is a mapping with a 'name'. Received: {config!r}")
    rest = dict(config)
    return get_activation(rest.pop("name"), backend, **rest)


def get_function(name: str, backend: str, kernel: str = "auto", **params: Any) -> Callable[..., Any]:
    """A plain function ``f(x, **params)`` for ``backend``; ``params`` given here
    are its defaults, keyword arguments of a call override them (trainable
    parameters are ordinary arguments here: pass tensors to differentiate)."""
    spec = get_spec(name)
    b = get_backend(backend)
    params, options = _split_options(spec, dict(params))
    bound = spec.bind(params)
    _warm_limits(spec, b, bound)
    k = _select(spec, b, kernel, trainable_live=False, params=bound)
    return b.make_function(spec, k, bound, options)


def _infer_backend(x: Any) -> str:
    from .backends._base import owner_of

    owner = owner_of(x)
    if owner is None:
        if isinstance(x, (float, int, list, tuple)):
            return "numpy"
        raise ActivationError(
            f"Cannot infer a backend from an input of type {type(x).__module__}.{type(x).__qualname__}; "
            f"pass a tensor of one of: {', '.join(PUBLIC_BACKENDS)}."
        )
    return owner


def apply(name: str, x: Any, kernel: str = "auto", **params: Any) -> Any:
    """Apply activation ``name`` to ``x``, on the backend of ``x``'s type.

    >>> import numpy as np, polyact as pa
    >>> pa.apply("relu", np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    backend = _infer_backend(x)
    spec = get_spec(name)
    if any(p.required for p in spec.params.values()):
        # a required parameter is fixed when the function is built
        return get_function(spec.name, backend, kernel, **params)(x)
    key = (spec.name, backend, kernel)
    f = _apply_cache.get(key)  # type: ignore[arg-type]
    if f is None:
        f = get_function(spec.name, backend, kernel)
        _apply_cache[key] = f  # type: ignore[index]
    return f(x, **params)


# --------------------------------------------------------------------------- describe
def describe(name: str) -> str:
    """A readable summary: formula, parameters, kinks, references, kernels per backend."""
    spec = get_spec(name)
    lines = [f"{spec.name}: {spec.summary}".rstrip(": ")]
    if spec.formula:
        lines.append(f"  formula:    {spec.formula}")
    lines.append(f"  kind:       {spec.kind}")
    if spec.aliases:
        lines.append(f"  aliases:    {', '.join(spec.aliases)}")
    if spec.params:
        lines.append("  parameters:")
        for k, p in spec.params.items():
            flags = ["trainable"] if p.trainable else []
            if p.per_channel:
                flags.append("per channel")
            default = "required" if p.required else f"default {p.default!r}"
            extra = f"; {', '.join(flags)}" if flags else ""
            doc = f" - {p.doc}" if p.doc else ""
            lines.append(f"    {k}: {default}; {p.domain}{extra}{doc}")
    if spec.init_doc:
        lines.append(f"  init:       {spec.init_doc}")
    for kk in spec.kinks:
        lines.append(f"  kink:       f'({kk.at}) := {kk.grad}{' (' + kk.note + ')' if kk.note else ''}")
    props = [p for p in ("bounded", "monotone", "smooth") if getattr(spec, p)]
    if props:
        lines.append(f"  properties: {', '.join(props)}")
    for r in spec.references:
        lines.append(f"  reference:  {r}")
    if spec.origin:
        lines.append(f"  origin:     {', '.join(spec.origin)}")
    for n in spec.notes:
        lines.append(f"  note:       {n}")
    lines.append(
        "  kernels (at the default parameters; [auto] = what kernel='auto' picks for float32,"
        " [auto >= 4M] for inputs of at least 4M elements, [auto on cuda] on a CUDA GPU, [... training] for"
        " calls that take a gradient, where that differs):"
    )
    import sys

    installed = set(available_backends())
    for bname in PUBLIC_BACKENDS:
        if bname not in installed:
            lines.append(f"    {bname:10s} (not installed) {', '.join(_static_kernels(spec, bname))}")
            continue
        if bname not in sys.modules and bname != "numpy":  # the framework is not imported yet
            # describe imports no framework: the kernels judged from the spec
            lines.append(
                f"    {bname:10s} {', '.join(_static_kernels(spec, bname))} (load the backend to see auto)"
            )
            continue
        try:
            table = kernels(spec.name, bname)
            auto = big = gpu = train = gpu_train = None
            if spec.kind != "structural":
                auto = auto_kernel(spec.name, bname)
                from .selection import LARGE_FROM

                big = auto_kernel(spec.name, bname, size=LARGE_FROM)
                if bname in ("torch", "jax"):  # (the calibration table ranks a GPU's kernels apart)
                    gpu = auto_kernel(spec.name, bname, "float32", "cuda")
                if bname == "torch":  # (torch's calls tell whether their gradient is taken)
                    train = auto_kernel(spec.name, bname, training=True)
                    gpu_train = auto_kernel(spec.name, bname, "float32", "cuda", training=True)
        except ActivationError as exc:  # e.g. a framework that fails to import
            lines.append(f"    {bname:10s} unavailable: {exc}")
            continue
        shown = []
        for kname, k in table.items():
            text = kname + (" [auto]" if kname == auto else "")
            if kname == big != auto:
                text += " [auto >= 4M]"
            if kname == gpu != auto:
                text += " [auto on cuda]"
            if kname == train != auto:
                text += " [auto training]"
            if kname == gpu_train != gpu:
                text += " [auto on cuda training]"
            if not k.eligible_for(spec.defaults):
                text += f" (not auto: {k.note})" if k.note else " (not auto)"
            elif k.devices:
                text += f" ({'/'.join(k.devices)} only)"
            shown.append(text)
        lines.append(f"    {bname:10s} {', '.join(shown)}")
    return "\n".join(lines)


def _static_kernels(spec: ActivationSpec, backend: str) -> List[str]:
    """The kernel names a backend would have, judged from the spec alone."""
    out = []
    nat = spec.native.get(backend)
    if nat is not None:
        eligible = nat.eligible(spec.defaults) if callable(nat.eligible) else nat.eligible
        out.append(
            "native" if eligible else f"native (not auto: {nat.note})" if nat.note else "native (not auto)"
        )
    out.append("composed")
    if spec.fast is not None:
        out.append("fast")
    if spec.elementwise and backend != "numpy":
        if spec.grad is not None:
            out.append("fused")
        out.append("compiled")
    out.extend(_kernels.get((spec.name, backend), {}))
    return out
