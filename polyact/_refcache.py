"""Reference values rounded once to a dtype, computed once and cached on disk.

``reference(spec, params, x, dtype, what)`` returns the mpmath value
(``what="value"``), d/dx (``"grad"``) or d/dparam (``"param:NAME"``, rounded to
float64) of an activation at the exact values of ``x``, rounded once to
``dtype``, as a float64 array.

Cache: one ``.npy`` file per (spec, parameters, what, dtype, input grid), keyed
by a SHA-256 of the spec's fingerprint (its formula's source, parameters,
kinks) and of the grid's bytes, under ``$POLYACT_CACHE_DIR`` (default
``~/.cache/polyact/reference``; ``POLYACT_CACHE_DIR=off`` disables it). A
changed formula gets a new key, so a stale entry is never read.

Big 16-bit grids (the exhaustive sweeps) use the float64 dual-number oracle of
:mod:`polyact.backends._dual`, with mpmath deciding every point that the oracle
cannot (near a rounding midpoint of the target format, or not finite) and a
sample of the others cross-checked against mpmath; if the sample disagrees the
whole grid is computed with mpmath.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import numpy as np

from ._numerics import FORMATS, round_array

__all__ = ["cache_dir", "fingerprint", "reference", "reference_at_zero"]

#: bump when the way references are computed changes (invalidates every entry)
VERSION = 6
_ORACLE_MIN = 4096  # grids at least this big, in a 16-bit dtype, use the float64 oracle
_MIDPOINT_REL = 2.0**-30  # oracle values closer than this (relative) to a midpoint go to mpmath
_SAMPLE = 96  # points of an oracle grid cross-checked against mpmath

_memory: Dict[str, np.ndarray] = {}
_lock = threading.Lock()


def cache_dir() -> Optional[Path]:
    env = os.environ.get("POLYACT_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "polyact" / "reference"


def _source(fn: Any) -> str:
    if fn is None:
        return ""
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        return repr((code.co_code, code.co_consts)) if code is not None else repr(fn)


def _module_source(fn: Any) -> str:
    """The source of the module defining ``fn``: helpers a formula calls live there."""
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    if module is None:
        return ""
    try:
        return inspect.getsource(module)
    except (OSError, TypeError):
        return ""


#: fingerprints by spec object (reading sources with ``inspect`` costs a
#: millisecond or more, and the suite asks for a reference tens of thousands
#: of times); the spec is kept so that its id is never reused
_fingerprints: Dict[int, Any] = {}


def fingerprint(spec: Any) -> str:
    """What the reference of ``spec`` depends on: its formula (and its module's
    helpers) and parameter declarations. Only stable text goes in (a domain's
    description, never a function's repr, whose address changes every run)."""
    hit = _fingerprints.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    fp = _fingerprint(spec)
    with _lock:
        _fingerprints[id(spec)] = (spec, fp)
    return fp


def _fingerprint(spec: Any) -> str:
    parts = [
        spec.name,
        _source(spec.fn),
        _source(spec.grad),
        _module_source(spec.fn),
        repr(sorted((k, repr(p.default), str(p.domain)) for k, p in spec.params.items())),
        repr(spec.kinks),
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _key(spec: Any, params: Mapping[str, Any], x: np.ndarray, dtype: str, what: str) -> str:
    h = hashlib.sha256()
    # a thread with denormals-are-zero computes other references at subnormal inputs:
    # its entries are its own (the MegEngine backend restores the mode that importing
    # MegEngine turns on; this keeps a process where that failed apart)
    daz = "daz" if np.float32(1e-45) * np.float32(2.0) == 0 else ""
    h.update(f"{VERSION}|{fingerprint(spec)}|{what}|{dtype}|{daz}|".encode())
    h.update(json.dumps({k: np.asarray(v).tolist() for k, v in params.items()}, sort_keys=True).encode())
    # the raw bytes: a float64 conversion would flush subnormals under MegEngine's FTZ/DAZ
    h.update(np.ascontiguousarray(np.asarray(x)).tobytes())
    return h.hexdigest()


def reference(
    spec: Any, params: Optional[Mapping[str, Any]], x: Any, dtype: str, what: str = "value"
) -> np.ndarray:
    """The reference of ``what`` at ``x`` rounded once to ``dtype`` (a float64 array)."""
    params = dict(params or {})
    x = np.asarray(x)
    key = _key(spec, params, x, dtype, what)
    hit = _memory.get(key)
    if hit is not None:
        return hit
    root = cache_dir()
    path = root / key[:2] / f"{key}.npy" if root is not None else None
    if path is not None and path.exists():
        try:
            out = np.load(path)
            if out.shape == x.shape:
                _memory[key] = out
                return out
        except (OSError, ValueError):
            pass
    out = _compute(spec, params, x, dtype, what)
    out.setflags(write=False)
    with _lock:
        _memory[key] = out
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as fh:
                np.save(fh, out)
            os.replace(tmp, path)
        except OSError:
            pass
    return out


def reference_at_zero(
    spec: Any,
    params: Optional[Mapping[str, Any]],
    x: Any,
    ref: np.ndarray,
    sub: np.ndarray,
    dtype: str,
    what: str,
) -> np.ndarray:
    """``ref`` (the reference at ``x``) with the entries where ``sub`` is true
    replaced by the reference at the zero of ``x``'s sign there: the values of a
    backend that reads subnormal inputs as zero. Only the two zeros are
    evaluated (a reference of the whole grid with its subnormals zeroed would be
    a new grid to compute: 65536 points for an exhaustive sweep)."""
    x = np.asarray(x)
    zeros = reference(spec, params, np.asarray([0.0, -0.0]).astype(x.dtype), dtype, what)
    with np.errstate(invalid="ignore"):  # NaN payloads of 16-bit types
        neg = np.signbit(x.astype(np.float64))
    return np.where(sub, np.where(neg, zeros[1], zeros[0]), ref)


def _exact(spec: Any, params: Dict[str, Any], x: np.ndarray, what: str) -> Any:
    from .backends import reference as R

    if what == "value":
        return R.evaluate(spec, x, params)
    if what == "grad":
        return R.derivative(spec, x, params)
    if what.startswith("param:"):
        return R.param_derivative(spec, x, params, what[len("param:") :])
    raise ValueError(f"unknown reference kind {what!r}")


def _compute(spec: Any, params: Dict[str, Any], x: np.ndarray, dtype: str, what: str) -> np.ndarray:
    target = "float64" if what.startswith("param:") else dtype
    if (
        what in ("value", "grad")
        and dtype in ("float16", "bfloat16")
        and x.size >= _ORACLE_MIN
        and all(np.ndim(v) == 0 for v in params.values())
    ):
        out = _via_oracle(spec, params, x, dtype, what)
        if out is not None:
            return out
    return round_array(_exact(spec, params, x, what), target).astype(np.float64)


def _round(v: np.ndarray, dtype: str) -> np.ndarray:
    from ._numerics import numpy_dtype

    with np.errstate(all="ignore"):
        return v.astype(numpy_dtype(dtype)).astype(np.float64)


def _near_midpoint(v: np.ndarray, dtype: str) -> np.ndarray:
    """Where a float64 value is too close to a rounding midpoint of ``dtype`` to trust its rounding."""
    from ._inputs import step

    fmt = FORMATS[dtype]
    r = _round(v, dtype)
    with np.errstate(all="ignore"):
        up = step(r, 1, dtype).astype(np.float64)
        down = step(r, -1, dtype).astype(np.float64)
        mids = np.stack([(r + up) / 2, (r + down) / 2])
        dist = np.min(np.abs(mids - v), axis=0)
        tol = _MIDPOINT_REL * np.maximum(np.abs(v), fmt.min_subnormal)
        bad = ~(dist > tol)
    return bad | ~np.isfinite(v) | ~np.isfinite(r)


def _via_oracle(
    spec: Any, params: Dict[str, Any], x: np.ndarray, dtype: str, what: str
) -> Optional[np.ndarray]:
    from ._inputs import away_from_kinks
    from .backends._dual import value_and_derivative

    bound = spec.bind(params)
    with np.errstate(invalid="ignore"):
        xf = np.asarray(x).astype(np.float64)
    finite = np.isfinite(xf)
    y, d = value_and_derivative(spec.fn, np.where(finite, xf, 0.0), {k: float(v) for k, v in bound.items()})
    v = y if what == "value" else d
    out = _round(v, dtype)
    exact_at = (~finite) | _near_midpoint(v, dtype)
    nan_in = np.isnan(xf)
    out[nan_in] = np.nan
    todo = np.flatnonzero(exact_at & ~nan_in)
    # cross-check a deterministic sample of the trusted points against mpmath
    # (not at kinks, where the oracle takes the declared branch and mpmath's
    # central difference the mean of both: gradients there are tested apart)
    away = away_from_kinks(xf, spec.kink_points(bound))
    trusted = np.flatnonzero(~exact_at & ~nan_in & away)
    if trusted.size:
        pick = trusted[np.linspace(0, trusted.size - 1, min(_SAMPLE, trusted.size)).astype(int)]
        check = round_array(_exact(spec, params, xf[pick], what), dtype).astype(np.float64)
        agree = (check == out[pick]) | (np.isnan(check) & np.isnan(out[pick]))
        if not agree.all():
            return None  # the oracle is not good enough for this formula: use mpmath throughout
    # many non-finite oracle values (outside the domain, or far past overflow): check
    # a sample with mpmath and trust the rest when the sample agrees
    wild = todo[~np.isfinite(v[todo])]
    if wild.size > 4 * _SAMPLE:
        pick = wild[np.linspace(0, wild.size - 1, _SAMPLE).astype(int)]
        check = round_array(_exact(spec, params, xf[pick], what), dtype).astype(np.float64)
        if np.array_equal(check, out[pick], equal_nan=True):
            todo = np.setdiff1d(todo, wild)
    if todo.size:
        out[todo] = round_array(_exact(spec, params, xf[todo], what), dtype).astype(np.float64)
    return out
