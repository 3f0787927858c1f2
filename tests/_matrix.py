"""Generates the test matrix from the registry: activation x params x backend x kernel x dtype."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Tuple

import numpy as np
import pytest

import polyact
from polyact._numerics import FORMATS, ulp_error, within_contract

from . import known_divergences
from ._ref import param_sets
from .conftest import BACKENDS, cpu_kernels

DTYPES = {
    "numpy": ("float64", "float32"),
    "torch": ("float64", "float32"),
    "jax": ("float64", "float32"),
    "megengine": ("float32", "float16"),
}


def param_id(params: Dict[str, Any]) -> str:
    if not params:
        return ""
    return (
        "(" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()) + ")"
    )


def cases(
    test: str, *, differentiable: bool = False, classes: Tuple[str, ...] = ("normal", "large")
) -> List[Any]:
    """One pytest param per (activation, params, backend, kernel, dtype, class);
    known framework divergences become strict xfails."""
    out = []
    for name in polyact.list_activations():
        spec = polyact.get_spec(name)
        if not spec.elementwise:
            continue
        for params in param_sets(spec):
            for backend in BACKENDS:
                if differentiable and not polyact.get_backend(backend).differentiable:
                    continue
                for kname, kernel in cpu_kernels(name, backend).items():
                    if differentiable and not kernel.differentiable:
                        continue
                    for dtype in DTYPES[backend]:
                        for cls in classes:
                            cid = f"{name}{param_id(params)}-{backend}-{kname}-{dtype}-{cls}"
                            marks = known_divergences.xfail(name, backend, kname, test, dtype, cls, params)
                            out.append(
                                pytest.param(name, params, backend, kname, dtype, cls, id=cid, marks=marks)
                            )
    return out


def report(x: np.ndarray, y: np.ndarray, ref: np.ndarray, dtype: str, ok: np.ndarray, what: str) -> str:
    """Which inputs failed, the value, the reference and the error in ulp (worst first)."""
    bad = np.flatnonzero(~ok)
    err = ulp_error(y, ref, dtype)
    order = bad[np.argsort(-err.reshape(-1)[bad], kind="stable")][:8]
    lines = [f"{len(bad)} of {ok.size} {what} outside the {dtype} contract; worst:"]
    for i in order:
        lines.append(
            f"  x={x.reshape(-1)[i]!r:>24}  got={y.reshape(-1)[i]!r:>24}  ref={ref.reshape(-1)[i]!r:>24}  "
            f"err={err.reshape(-1)[i]:.3g} ulp"
        )
    return "\n".join(lines)


def check(x: np.ndarray, y: np.ndarray, ref: np.ndarray, dtype: str, *, grad: bool = False) -> None:
    ok = within_contract(y, ref, x, dtype, grad=grad)
    if not ok.all():
        pytest.fail(report(x, y, ref, dtype, ok, "gradients" if grad else "values"), pytrace=False)


def iter_kinks(spec: Any, params: Dict[str, Any]) -> Iterator[Tuple[float, float]]:
    bound = spec.bind(params)
    yield from spec.kink_points(bound)


__all__ = ["DTYPES", "FORMATS", "cases", "check", "iter_kinks", "param_id", "report"]
