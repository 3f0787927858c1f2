"""Cross-backend dumps: every backend's values and gradients on one fixed input set.

MegEngine lives in its own environment, so the backends cannot be compared in
one process. Each environment runs::

    python -m polyact._crossdump OUTDIR [--backend B]...

which writes ``OUTDIR/<backend>.npz`` (inputs, values and gradients of every
non-structural activation, parameter set, kernel and dtype, as float64) and
``OUTDIR/<backend>.json`` (versions, counts, errors). ``tests/test_cross_backend.py``
then compares every pair of backends and kernels (``make test-cross``).

Keys of the ``.npz``: ``name|params-json|kernel|dtype|x`` (inputs), ``...|y``
(values) and ``...|g`` (gradients, only where backend and kernel are
differentiable). ``params-json`` is ``json.dumps(params, sort_keys=True)``
with no spaces (``{}`` for the defaults).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import check, registry
from ._inputs import input_set
from .backends._base import FLOAT

__all__ = ["CLASSES", "SEP", "dump_backend", "fixed_inputs", "main", "params_key", "split_key"]

#: the input classes concatenated into the fixed set (``kinks`` is added per parameter set)
CLASSES: Tuple[str, ...] = ("normal", "small", "boundaries", "cancellation", "large", "extremal")
SEP = "|"
FORMAT_VERSION = 1
PAD = 512


def params_key(params: Mapping[str, Any]) -> str:
    """The canonical JSON of a parameter set, as used in the keys."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"))


def split_key(key: str) -> Tuple[str, str, str, str, str]:
    """``name|params|kernel|dtype|part`` -> its five fields (params JSON has no ``|``)."""
    name, params, kernel, dtype, part = key.split(SEP)
    return name, params, kernel, dtype, part


def fixed_inputs(spec: Any, params: Mapping[str, Any], dtype: str) -> np.ndarray:
    """The fixed input set of one (activation, parameter set, dtype), in ``dtype``."""
    parts = [input_set(cls, dtype) for cls in CLASSES]
    parts.append(check.case_inputs(spec, params, "kinks", dtype))
    return np.concatenate(parts)


def _padded(x: np.ndarray) -> np.ndarray:
    """``x`` followed by zeros up to a length shared by (nearly) every entry.

    The functions are elementwise, so the padding changes no value; one shape
    lets JAX's eager mode reuse its compiled primitives (about 45 s -> 10 s).
    """
    n = max(PAD, -(-x.size // 256) * 256)
    return np.concatenate([x, np.zeros(n - x.size, dtype=x.dtype)])


def _quiet(backend: str) -> None:
    if backend == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 in the matrix; dtypes are explicit
    if backend == "megengine":
        logging.getLogger("megengine").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module="megengine")


def _framework_version(backend: str) -> str:
    b = registry.get_backend(backend)
    return str(getattr(b.fw, "__version__", "unknown"))


def _activations(names: Optional[Sequence[str]] = None) -> List[Any]:
    specs = [registry.get_spec(n) for n in (names if names is not None else registry.list_activations())]
    return [s for s in specs if s.elementwise]


Inputs = Dict[Tuple[str, str, str], Tuple[np.ndarray, np.ndarray]]


def all_inputs(names: Optional[Sequence[str]] = None) -> Inputs:
    """The fixed inputs of every (activation, params JSON, dtype), in the dtype and
    (exactly) in float64.

    Made before any framework runs: MegEngine switches the CPU to flush-to-zero
    and denormals-are-zero for the whole process, after which NumPy's own casts
    turn subnormals into 0 and the input set would lose its subnormal points.
    """
    out: Inputs = {}
    for spec in _activations(names):
        for params in check.param_sets(spec):
            for dtype in FLOAT:
                x = fixed_inputs(spec, params, dtype)
                out[(spec.name, params_key(params), dtype)] = (x, x.astype(np.float64))
    return out


def dump_backend(
    backend: str,
    names: Optional[Sequence[str]] = None,
    inputs: Optional[Inputs] = None,
) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
    """The arrays and manifest of one backend (see the module docstring).

    ``inputs`` comes from :func:`all_inputs`, called before any framework ran."""
    if inputs is None:
        inputs = all_inputs(names)
    _quiet(backend)
    b = registry.get_backend(backend)
    dtypes = check.backend_dtypes(backend)
    arrays: Dict[str, np.ndarray] = {}
    errors: Dict[str, str] = {}
    entries = 0
    t0 = time.perf_counter()
    for spec in _activations(names):
        for params in check.param_sets(spec):
            pkey = params_key(params)
            for kname, kernel in registry.kernels(spec.name, backend).items():
                if not check._in_default_matrix(kernel, backend):  # GPU-only; torch's inductor compiles
                    continue
                grads = bool(b.differentiable and kernel.differentiable)
                for dtype in dtypes:
                    base = SEP.join((spec.name, pkey, kname, dtype))
                    try:
                        x, x64 = inputs[(spec.name, pkey, dtype)]
                        f = registry.get_function(spec.name, backend, kernel=kname, **params)
                        xp = _padded(x)
                        y = f(b.from_numpy(xp, dtype))
                        yv = np.asarray(b.to_numpy(y)).astype(np.float64).reshape(-1)
                        if yv.shape != xp.shape:
                            raise ValueError(f"output shape {yv.shape} for input shape {xp.shape}")
                        yv = yv[: x.size]
                    except Exception as exc:  # a broken kernel is reported, not fatal
                        errors[base + SEP + "y"] = f"{type(exc).__name__}: {exc}"
                        continue
                    arrays[base + SEP + "x"] = x64
                    arrays[base + SEP + "y"] = yv
                    entries += 1
                    if not grads:
                        continue
                    try:
                        _, g = b.value_and_grad(f, b.from_numpy(xp, dtype))
                        gv = np.asarray(b.to_numpy(g)).astype(np.float64).reshape(-1)
                        if gv.shape != xp.shape:
                            raise ValueError(f"gradient shape {gv.shape} for input shape {xp.shape}")
                        gv = gv[: x.size]
                    except Exception as exc:
                        errors[base + SEP + "g"] = f"{type(exc).__name__}: {exc}"
                        continue
                    arrays[base + SEP + "g"] = gv
    manifest = {
        "format": FORMAT_VERSION,
        "backend": backend,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "framework": b.framework,
        "framework_version": _framework_version(backend),
        "platform": platform.platform(),
        "dtypes": list(dtypes),
        "classes": [*CLASSES, "kinks"],
        "entries": entries,
        "arrays": len(arrays),
        "errors": errors,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return arrays, manifest


def write(outdir: str, backend: str, arrays: Mapping[str, np.ndarray], manifest: Mapping[str, Any]) -> None:
    """Write ``<backend>.npz`` and ``<backend>.json`` into ``outdir`` (atomically each)."""
    os.makedirs(outdir, exist_ok=True)
    npz = os.path.join(outdir, f"{backend}.npz")
    tmp = os.path.join(outdir, f".{backend}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, npz)
    js = os.path.join(outdir, f"{backend}.json")
    with open(js + ".tmp", "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(js + ".tmp", js)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m polyact._crossdump",
        description="Dump every backend's values and gradients on one fixed input set.",
    )
    parser.add_argument("outdir", help="directory for <backend>.npz and <backend>.json")
    parser.add_argument(
        "--backend",
        action="append",
        dest="backends",
        metavar="B",
        help="backend to dump (repeatable; default: every installed one)",
    )
    parser.add_argument(
        "--activation", action="append", dest="names", metavar="NAME", help="restrict to these (repeatable)"
    )
    args = parser.parse_args(argv)
    backends = args.backends or registry.available_backends()
    inputs = all_inputs(args.names)  # before any framework runs (see all_inputs)
    status = 0
    for backend in backends:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in casts at +-max: expected
            arrays, manifest = dump_backend(backend, args.names, inputs)
        write(args.outdir, backend, arrays, manifest)
        nerr = len(manifest["errors"])
        print(
            f"[crossdump] {backend} {manifest['framework_version']} (Python {manifest['python']}): "
            f"{manifest['entries']} entries, {manifest['arrays']} arrays, {nerr} errors, "
            f"{manifest['seconds']:.1f}s -> {os.path.join(args.outdir, backend + '.npz')}"
        )
        for key, msg in sorted(manifest["errors"].items()):
            print(f"[crossdump]   error {key}: {msg}", file=sys.stderr)
        status |= 1 if nerr else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
