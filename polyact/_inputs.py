"""The input classes of NUMERICS.md, deterministic, exactly representable in
the dtype they are made for (duplicates removed, order fixed).

``input_set(cls, dtype, kinks)`` is the one entry point: the generated tests,
``polyact check`` and the cross-backend dumps all draw their inputs here.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Iterable, Sequence, Tuple

import numpy as np

from ._numerics import FORMATS, numpy_dtype

__all__ = [
    "CLASSES",
    "GRID_CLASSES",
    "HALF",
    "away_from_kinks",
    "input_set",
    "neighbours",
    "step",
]

HALF = ("float16", "bfloat16")
_UINT = {64: np.uint64, 32: np.uint32, 16: np.uint16}
_WIDTH = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 16}


def _cast(values: Iterable[float], dtype: str) -> np.ndarray:
    """Round float64 values to ``dtype`` and keep each distinct value once (first seen)."""
    a = np.asarray(list(values), dtype=np.float64).astype(numpy_dtype(dtype))
    bits = a.view(_UINT[_WIDTH[dtype]])
    _, first = np.unique(bits, return_index=True)
    return a[np.sort(first)]


def step(x: np.ndarray, k: int, dtype: str) -> np.ndarray:
    """``x`` moved ``k`` representable values up (k > 0) or down, in ``dtype``."""
    w = _WIDTH[dtype]
    a = np.asarray(x).astype(numpy_dtype(dtype))
    mag = a.view(_UINT[w]).astype(np.uint64) & np.uint64((1 << (w - 1)) - 1)
    neg = np.signbit(a.astype(np.float32 if w == 16 else a.dtype))
    line = np.where(neg, -mag.astype(np.int64), mag.astype(np.int64)) + k  # monotone integer line
    bits = np.abs(line).astype(np.uint64) | np.where(line < 0, np.uint64(1 << (w - 1)), np.uint64(0))
    return bits.astype(_UINT[w]).view(numpy_dtype(dtype))


def neighbours(points: Sequence[float], dtype: str, k: int = 2) -> np.ndarray:
    """Each point rounded to ``dtype`` and the ``k`` representable values on either side."""
    base = _cast(points, dtype)
    if not base.size:
        return base
    parts = [step(base, j, dtype) for j in range(-k, k + 1)]
    return _cast(np.concatenate([p.astype(np.float64) for p in parts]), dtype)


def normal(dtype: str) -> np.ndarray:
    """N(0, 3^2), uniform [-10, 10] and log-uniform magnitudes 1e-3..1e3 of both signs."""
    rng = np.random.default_rng(20261122)
    a = rng.normal(0.0, 3.0, 48)
    b = rng.uniform(-10.0, 10.0, 48)
    mags = 10.0 ** rng.uniform(-3.0, 3.0, 48)
    c = mags * np.where(rng.uniform(size=48) < 0.5, -1.0, 1.0)
    return _cast(np.concatenate([a, b, c]), dtype)


def small(dtype: str) -> np.ndarray:
    """+-0, +-smallest subnormal and normal, +-eps, +-1e-3, 1e-5, 1e-8."""
    f = FORMATS[dtype]
    mags = [0.0, f.tiny, f.eps, 1e-3, 1e-5, 1e-8]
    rest = _cast([s * m for m in mags for s in (1.0, -1.0)], dtype)
    # the smallest subnormals from their bit patterns: a float conversion would
    # flush them to zero in a process with FTZ/DAZ on (MegEngine turns it on)
    w = _WIDTH[dtype]
    sub = np.asarray([1, 1 | (1 << (w - 1))], dtype=np.uint64).astype(_UINT[w]).view(numpy_dtype(dtype))
    return np.concatenate([rest[:2], sub, rest[2:]])


def boundaries(dtype: str) -> np.ndarray:
    """Where exp over- and underflows: +-ln(max), ln(smallest normal),
    ln(smallest subnormal / 2), each with 3 representable values either side."""
    f = FORMATS[dtype]
    ln_max = math.log(f.max)
    pts = [ln_max, -ln_max, math.log(f.tiny), math.log(f.min_subnormal) - math.log(2.0)]
    return neighbours(pts, dtype, k=3)


def cancellation(dtype: str) -> np.ndarray:
    """gelu's tail x in [-40, -3], x in [-1e-6, 0) and x < -17 (elu/selu/celu), x > 15 (sigmoid)."""
    pts = list(np.linspace(-40.0, -3.0, 24))
    pts += list(-(10.0 ** np.linspace(-12.0, -6.0, 8)))
    pts += [-17.0, -17.5, -20.0, -25.0, -30.0, -50.0, -80.0]
    pts += [15.0, 16.0, 17.5, 20.0, 25.0, 30.0, 36.0, 40.0, 45.0]
    return _cast(pts, dtype)


def large(dtype: str) -> np.ndarray:
    """+-1e4, +-1e20, +-max/2, +-max (values past the format's range dropped)."""
    fmax = FORMATS[dtype].max
    vals = [v for v in (1e4, 1e20, fmax / 2, fmax) if v <= fmax]
    return _cast(sorted(s * v for v in vals for s in (1.0, -1.0)), dtype)


def extremal(dtype: str) -> np.ndarray:
    """+-inf and NaN, then a random vector with scattered NaN and +-inf (the vectorised path)."""
    rng = np.random.default_rng(7)
    v = rng.normal(0.0, 4.0, 61)
    idx = rng.permutation(61)
    v[idx[:5]] = np.nan
    v[idx[5:9]] = np.inf
    v[idx[9:13]] = -np.inf
    head = np.asarray([np.inf, -np.inf, np.nan])
    # _cast would merge the NaNs; they are wanted in place
    return np.concatenate([head, v]).astype(numpy_dtype(dtype))


def exhaustive(dtype: str) -> np.ndarray:
    """Every bit pattern of a 16-bit format (65,536 values, NaNs included)."""
    if dtype not in HALF:
        raise ValueError(f"the exhaustive sweep is for float16 and bfloat16, not {dtype}")
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(numpy_dtype(dtype))


def kinks(dtype: str, points: Sequence[float] = ()) -> np.ndarray:
    """Each kink and the two representable values either side of it."""
    return neighbours([p for p in points if math.isfinite(p)], dtype, k=2)


CLASSES: Dict[str, Callable[..., np.ndarray]] = {
    "normal": normal,
    "small": small,
    "kinks": kinks,
    "boundaries": boundaries,
    "cancellation": cancellation,
    "large": large,
    "extremal": extremal,
    "exhaustive": exhaustive,
}

#: the classes every (activation, backend, kernel, dtype) runs on; ``exhaustive``
#: is separate (16-bit dtypes only)
GRID_CLASSES: Tuple[str, ...] = (
    "normal",
    "small",
    "kinks",
    "boundaries",
    "cancellation",
    "large",
    "extremal",
)


def input_set(cls: str, dtype: str, kink_points: Sequence[float] = ()) -> np.ndarray:
    """The inputs of class ``cls`` in ``dtype`` (a NumPy array of that dtype)."""
    if cls == "kinks":
        return kinks(dtype, kink_points)
    return CLASSES[cls](dtype)


def away_from_kinks(x: np.ndarray, kinks: list, rel: float = 1e-6) -> np.ndarray:
    """Mask of the inputs not within ``rel`` of a kink (gradients there are tested apart)."""
    xf = np.asarray(x).astype(np.float64)
    keep = np.ones(xf.shape, dtype=bool)
    for at, _ in kinks:
        with np.errstate(invalid="ignore"):
            keep &= ~(np.abs(xf - at) <= rel * max(1.0, abs(at)))
    return keep
