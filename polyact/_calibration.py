"""The calibration table ``kernel="auto"`` reads: measured kernel rankings.

The table is JSON::

    {"version": 1, "measured": "2026-11-22T22:40:00Z", "machine": "...", "size": 1048576,
     "metric": "fwd+bwd median",
     "rankings": {backend: {dtype: {activation: [kernel names, fastest first]}}},
     "training": {...},
     "sources": {backend: {"measured": ..., "size": ..., "framework": ...}},
     "large": {"rankings": {...}, "sources": {...}}}

A backend's key is its name for CPU tensors and ``name:device`` for another
device (``"torch:cuda"``: measured with ``polyact bench --calibrate --device
cuda``); a device without rankings falls back to ``native -> fused -> fast ->
composed``, never to another device's rankings.

``rankings`` order the kernels by forward+backward time, keeping the
framework's op first unless another kernel beats it both forward and
forward+backward (inference runs the forward alone); the optional ``training``
rankings order them by forward+backward alone, for calls whose gradient is
taken, where the runner can tell (torch: the input or a trainable parameter
requires grad and grad mode is on).

``rankings`` were measured on a mid-sized input (1M elements); ``large`` (optional)
holds rankings measured on at least :data:`~polyact.selection.LARGE_FROM`
elements (16M), which inputs of that size use where the table has them. A table
measured at such a size is saved into ``large``.

:func:`load` reads the user's file (``$POLYACT_CALIBRATION``, else
``~/.cache/polyact/calibration.json``) when it exists, else the table shipped
with the package, once per process (:func:`reload` drops the cache).
``polyact bench --calibrate`` writes it with :func:`save`. ``import polyact``
does not import this module.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from typing import Any, Dict, List, Mapping, Optional

from .selection import LARGE_FROM

__all__ = ["LARGE_FROM", "SHIPPED", "VERSION", "device_key", "load", "ranking", "reload", "save", "user_path"]

VERSION = 1
#: the table shipped with the package
SHIPPED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration.json")

_lock = threading.Lock()
_cache: Optional[Dict[str, Any]] = None
#: bumped whenever the cached table is dropped (objects that remember auto's
#: decisions compare it: :mod:`polyact.registry` shares selectors per generation)
generation = 0


def user_path() -> str:
    """The user's calibration file: ``$POLYACT_CALIBRATION``, else
    ``~/.cache/polyact/calibration.json`` (it need not exist)."""
    env = os.environ.get("POLYACT_CALIBRATION")
    if env:
        return os.path.expanduser(env)
    return os.path.join(os.path.expanduser("~"), ".cache", "polyact", "calibration.json")


def _empty() -> Dict[str, Any]:
    return {"version": VERSION, "measured": None, "machine": None, "size": None, "rankings": {}}


def _read(path: str) -> Optional[Dict[str, Any]]:
    """The table at ``path``, or None (with a warning) when it is unreadable or not a table."""
    try:
        with open(path, encoding="utf-8") as fh:
            table = json.load(fh)
    except (OSError, ValueError) as exc:
        warnings.warn(f"polyact: ignoring the calibration file {path}: {exc}", RuntimeWarning, stacklevel=3)
        return None
    large = table.get("large", {}) if isinstance(table, dict) else None
    if (
        not isinstance(table, dict)
        or table.get("version") != VERSION
        or not isinstance(table.get("rankings"), dict)
        or not isinstance(large, dict)
        or not isinstance(large.get("rankings", {}), dict)
    ):
        warnings.warn(
            f"polyact: ignoring the calibration file {path}: not a version-{VERSION} table",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    table["path"] = path
    return table


def load() -> Dict[str, Any]:
    """The calibration table in use (cached): the user's file when present and
    valid, else the shipped one, else an empty table."""
    global _cache
    with _lock:
        if _cache is None:
            table = None
            user = user_path()
            if os.path.isfile(user):
                table = _read(user)
            if table is None and os.path.isfile(SHIPPED):
                table = _read(SHIPPED)
            _cache = table if table is not None else _empty()
        return _cache


def reload() -> Dict[str, Any]:
    """Drop the cached table and read it again."""
    global _cache, generation
    with _lock:
        _cache = None
        generation += 1
    return load()


def device_key(backend: str, device: Optional[str] = None) -> str:
    """The table's key for ``backend`` on ``device``: the backend's name on the
    CPU (or when the device is not known), ``"backend:device"`` on another."""
    return backend if device in (None, "cpu") else f"{backend}:{device}"


def ranking(
    backend: str,
    dtype: str,
    name: str,
    *,
    large: bool = False,
    device: Optional[str] = None,
    training: bool = False,
) -> Optional[List[str]]:
    """The measured kernel names of ``name`` on ``backend`` at ``dtype``, fastest
    first (with ``large``: measured on a large input, where the table has that;
    ``device``: for tensors on that device, see :func:`device_key`; with
    ``training``: for a call whose gradient is taken, the ``training``
    ranking where the table has one), or None when the table has no data."""
    table = load()
    backend = device_key(backend, device)
    kinds = ("training", "rankings") if training else ("rankings",)
    sections = (table.get("large", {}), table) if large else (table,)
    for section in sections:
        for kind in kinds:
            got = (section.get(kind) or {}).get(backend, {}).get(dtype, {}).get(name)
            if got:
                return list(got)
    return None


def save(table: Mapping[str, Any], path: Optional[str] = None, *, merge: bool = True) -> str:
    """Write ``table`` to ``path`` (default: the user file) and return the path.

    A table measured on at least :data:`LARGE_FROM` elements goes into the
    file's ``large`` rankings, any other into its main ones. With ``merge`` the
    rankings already in that file for other backends, dtypes, activations and
    sizes are kept (so torch, JAX and MegEngine, measured in different
    environments, share one file). The cache is dropped."""
    if table.get("version") != VERSION or not isinstance(table.get("rankings"), Mapping):
        raise ValueError(f"not a version-{VERSION} calibration table")
    path = os.path.expanduser(path) if path else user_path()
    size = table.get("size")
    large = isinstance(size, int) and size >= LARGE_FROM
    old: Optional[Dict[str, Any]] = None
    if merge and os.path.isfile(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            old = _read(path)
    if old is not None:
        out: Dict[str, Any] = {k: v for k, v in old.items() if k != "path"}
    else:
        out = _empty()
        out["metric"] = table.get("metric")
    on_cpu = all(":" not in b for b in table["rankings"])
    if not large and on_cpu:  # the main section's description is this (CPU) table's
        out.update(
            {
                k: v
                for k, v in table.items()
                if k not in ("path", "rankings", "training", "sources", "frameworks")
            }
        )
    section = out.setdefault("large", {}) if large else out
    _merge(section, table)
    if not out.get("large"):
        out.pop("large", None)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
    _drop()
    return path


def _merge(section: Dict[str, Any], table: Mapping[str, Any]) -> None:
    """Merge ``table``'s rankings into ``section`` (the main table or its
    ``large`` part), with one ``sources`` entry per backend measured."""
    # training rankings exist where they differ from the main ones: an activation
    # measured again keeps one only if the new measurement has one
    training = {b: {d: dict(a) for d, a in ds.items()} for b, ds in (section.get("training") or {}).items()}
    new = table.get("training") or {}
    for b, ds in table["rankings"].items():
        for d, acts in ds.items():
            for a in acts:
                order = new.get(b, {}).get(d, {}).get(a)
                if order:
                    training.setdefault(b, {}).setdefault(d, {})[a] = order
                else:
                    training.get(b, {}).get(d, {}).pop(a, None)
    kept = {
        b: {d: dict(sorted(a.items())) for d, a in sorted(ds.items()) if a}
        for b, ds in sorted(training.items())
    }
    kept = {b: ds for b, ds in kept.items() if ds}
    if kept:
        section["training"] = kept
    else:
        section.pop("training", None)
    rankings = {b: {d: dict(a) for d, a in ds.items()} for b, ds in (section.get("rankings") or {}).items()}
    sources = dict(section.get("sources") or {})
    for b, ds in table["rankings"].items():
        before = {(d, a) for d, acts in rankings.get(b, {}).items() for a in acts}
        now = {(d, a) for d, acts in ds.items() for a in acts}
        for d, acts in ds.items():
            rankings.setdefault(b, {}).setdefault(d, {}).update(acts)
        source = (table.get("sources") or {}).get(b) or {
            "measured": table.get("measured"),
            "machine": table.get("machine"),
            "size": table.get("size"),
            "framework": (table.get("frameworks") or {}).get(b),
        }
        old = sources.get(b)
        if old is not None and not before <= now:  # a partial re-measure: the rest stays as it was
            update = {**source, "activations": sorted({a for _, a in now})}
            source = {**old, "updates": [*old.get("updates", []), update]}
        sources[b] = source
    section["rankings"] = {
        b: {d: dict(sorted(a.items())) for d, a in sorted(ds.items())} for b, ds in sorted(rankings.items())
    }
    section["sources"] = dict(sorted(sources.items()))


def _drop() -> None:
    """Drop the cached table (the next :func:`load` reads the files again)."""
    global _cache, generation
    with _lock:
        _cache = None
        generation += 1
