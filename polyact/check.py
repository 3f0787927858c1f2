"""Measure kernels against the mpmath reference: the engine behind the demo's
agreement table (and ``polyact check``).

A :class:`Cell` is one (activation, backend, kernel, dtype) measured on the
input classes of NUMERICS.md: the worst forward and gradient error in ULPs and
whether every element meets the contract.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import registry
from ._inputs import CLASSES, away_from_kinks
from ._numerics import round_array, ulp_error, within_contract

__all__ = ["Cell", "measure"]


@dataclass
class Cell:
    name: str
    backend: str
    kernel: str
    dtype: str
    forward_ulp: float = 0.0
    gradient_ulp: Optional[float] = None  # None: the backend has no gradients
    forward_ok: bool = True
    gradient_ok: bool = True
    worst: List[Tuple[str, float, float, float, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.forward_ok and self.gradient_ok

    def as_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)


@functools.lru_cache(maxsize=4096)
def _reference(name: str, pkey: str, cls: str, dtype: str, what: str) -> np.ndarray:
    from .backends import reference

    spec = registry.get_spec(name)
    params = json.loads(pkey)
    x = CLASSES[cls](dtype)
    exact = reference.evaluate(spec, x, params) if what == "value" else reference.derivative(spec, x, params)
    return round_array(exact, dtype).astype(np.float64)


def _worst_finite(err: np.ndarray) -> float:
    return float(err.max()) if err.size else 0.0


def measure(
    name: str,
    backend: str,
    kernel: str = "auto",
    dtype: str = "float32",
    params: Optional[Mapping[str, Any]] = None,
    classes: Sequence[str] = ("normal", "large"),
) -> Cell:
    """Worst forward/gradient ULP error of one kernel against the reference."""
    spec = registry.get_spec(name)
    b = registry.get_backend(backend)
    params = dict(params or {})
    f = registry.get_function(spec.name, backend, kernel=kernel, **params)
    kname = kernel
    if kernel == "auto":
        kname = registry._select(spec, b, "auto", trainable_live=False, params=params).name
    cell = Cell(spec.name, backend, kname, dtype)
    pkey = json.dumps(params, sort_keys=True)
    kinks = spec.kink_points(spec.bind(params))
    for cls in classes:
        x = CLASSES[cls](dtype)
        xt = b.from_numpy(x, dtype)
        ref = _reference(spec.name, pkey, cls, dtype, "value")
        if b.differentiable:
            y, g = b.value_and_grad(f, xt)
        else:
            y, g = f(xt), None
        y = np.asarray(b.to_numpy(y), dtype=np.float64)
        ok = within_contract(y, ref, x, dtype)
        cell.forward_ok &= bool(ok.all())
        err = ulp_error(y, ref, dtype)
        cell.forward_ulp = max(cell.forward_ulp, _worst_finite(err))
        for i in np.flatnonzero(~ok)[:3]:
            cell.worst.append(("forward", float(x[i]), float(y[i]), float(ref[i]), float(err[i])))
        if g is not None:
            keep = away_from_kinks(x, kinks)
            gref = _reference(spec.name, pkey, cls, dtype, "grad")[keep]
            gv = np.asarray(b.to_numpy(g), dtype=np.float64)[keep]
            gok = within_contract(gv, gref, x[keep], dtype, grad=True)
            cell.gradient_ok &= bool(gok.all())
            gerr = ulp_error(gv, gref, dtype)
            cell.gradient_ulp = max(cell.gradient_ulp or 0.0, _worst_finite(gerr))
            for i in np.flatnonzero(~gok)[:3]:
                cell.worst.append(
                    ("gradient", float(x[keep][i]), float(gv[i]), float(gref[i]), float(gerr[i]))
                )
    return cell
