"""Values and derivatives of an activation at +-inf (NUMERICS.md: the
mathematical limits), for the special-value guard every backend applies.

A formula like ``x * sigmoid(x)`` is NaN at -inf (-inf * 0) and its gradient is
NaN at +inf, although silu(-inf) = 0 and silu'(+inf) = 1. The backends evaluate
kernels on finite inputs only and put these limits at the infinities (and NaN,
with a NaN gradient, at NaN inputs), so every kernel gets the same special
values without rewriting each formula.

The limits come from the formula itself evaluated with float64 dual numbers far
out (x = +-1e30 and +-1e60): a value that has settled is the limit, one that
keeps growing is +-inf, anything else has no limit (NaN).
"""

from __future__ import annotations

import math
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

Limits = Tuple[float, float, float, float]  # f(-inf), f'(-inf), f(+inf), f'(+inf)

_FAR = (1e30, 1e60)
_cache: Dict[Any, Optional[Limits]] = {}
_lock = threading.Lock()


def _settle(v1: float, v2: float) -> float:
    if math.isnan(v1) or math.isnan(v2):
        return math.nan
    if math.isinf(v2):
        return v2
    if v2 != 0.0 and abs(v2) <= 1e-6 * abs(v1) and v1 * v2 > 0:
        return 0.0  # decays like a power of x (b / (4|x|): 1e-30, then 1e-60): the limit is 0
    if abs(v2 - v1) <= 1e-12 * max(1.0, abs(v2)):
        return v2
    if abs(v2) > 100 and abs(v2) > 1.5 * max(1.0, abs(v1)) and v1 * v2 > 0:
        return math.inf if v2 > 0 else -math.inf
    return math.nan


def compute(spec: Any, params: Mapping[str, float]) -> Limits:
    """The limits of ``spec`` at +-inf with scalar parameters ``params`` (bound)."""
    import numpy as np

    from .backends._dual import value_and_derivative

    x = np.asarray([-_FAR[0], -_FAR[1], _FAR[0], _FAR[1]])
    y, d = value_and_derivative(spec.fn, x, dict(params))
    # Python floats, not NumPy scalars (torch.compile traces these as constants)
    return (
        float(_settle(y[0], y[1])),
        float(_settle(d[0], d[1])),
        float(_settle(y[2], y[3])),
        float(_settle(d[2], d[3])),
    )


def _key(spec: Any, params: Mapping[str, float]) -> Any:
    # sorted names, not sorted items: torch.compile traces this (it sorts strings, not tuples)
    return (id(spec), spec.name, tuple((k, params[k]) for k in sorted(params)))


def limits(spec: Any, params: Mapping[str, float]) -> Limits:
    """Cached :func:`compute` (scalar parameters)."""
    key = _key(spec, params)
    hit = _cache.get(key)
    if hit is None:
        hit = compute(spec, params)
        with _lock:
            _cache[key] = hit
    return hit  # type: ignore[return-value]


def static_limits(spec: Any) -> Optional[Limits]:
    """The limits when they do not depend on the parameters (the same at the
    defaults and at every example parameter set), else None."""
    key = (id(spec), spec.name, "static")
    if key in _cache:
        return _cache[key]
    out: Optional[Limits] = None
    try:
        base = spec.bind({})
        scalar = all(isinstance(v, (int, float)) for v in base.values())
        if scalar:
            first = limits(spec, {k: float(v) for k, v in base.items()})
            same = True
            for ex in spec.examples:
                b = spec.bind(dict(ex))
                if not all(isinstance(v, (int, float)) for v in b.values()):
                    same = False
                    break
                other = limits(spec, {k: float(v) for k, v in b.items()})
                same &= all((a == c) or (math.isnan(a) and math.isnan(c)) for a, c in zip(first, other))
            out = first if same else None
    except Exception:  # a formula the float64 dual numbers cannot evaluate
        out = None
    with _lock:
        _cache[key] = out
    return out
