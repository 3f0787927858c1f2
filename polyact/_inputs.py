"""Input classes of NUMERICS.md used by the generated tests (deterministic)."""

from __future__ import annotations

import numpy as np

from ._numerics import FORMATS, numpy_dtype


def normal(dtype: str) -> np.ndarray:
    """N(0, 3^2), uniform [-10, 10] and log-uniform magnitudes 1e-3..1e3 of both signs."""
    rng = np.random.default_rng(20261122)
    a = rng.normal(0.0, 3.0, 48)
    b = rng.uniform(-10.0, 10.0, 48)
    mags = 10.0 ** rng.uniform(-3.0, 3.0, 48)
    c = mags * np.where(rng.uniform(size=48) < 0.5, -1.0, 1.0)
    return np.concatenate([a, b, c]).astype(numpy_dtype(dtype))


def large(dtype: str) -> np.ndarray:
    """+-1e4, +-1e20, +-max/2, +-max (values past the format's range dropped)."""
    fmax = FORMATS[dtype].max
    vals = [v for v in (1e4, 1e20, fmax / 2, fmax) if v <= fmax]
    out = sorted({s * v for v in vals for s in (1.0, -1.0)})
    return np.asarray(out, dtype=np.float64).astype(numpy_dtype(dtype))


CLASSES = {"normal": normal, "large": large}


def away_from_kinks(x: np.ndarray, kinks: list, rel: float = 1e-6) -> np.ndarray:
    """Mask of the inputs not within ``rel`` of a kink (gradients are tested apart)."""
    xf = x.astype(np.float64)
    keep = np.ones(xf.shape, dtype=bool)
    for at, _ in kinks:
        keep &= np.abs(xf - at) > rel * max(1.0, abs(at))
    return keep
