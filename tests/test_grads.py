"""Closed-form derivatives on the specs (``spec.grad``), checked against the
reference derivative (mpmath, rounded once to the dtype) with the gradient
contract of NUMERICS.md, on every input class of the float64 and float32
grids. The fused kernels compute their backward from these formulas, so the
consistency matrix checks them again through every backend; this file checks
the formula itself through the NumPy ops, and that every element-wise
activation has one.

At a kink the formula must give the declared one-sided convention exactly.
Non-finite inputs are the special-value guard's business (the limits at
+-inf), so they are left out here.
"""

from __future__ import annotations

import numpy as np
import pytest

import polyact
from polyact import check
from polyact._inputs import GRID_CLASSES, away_from_kinks
from polyact._numerics import within_contract
from polyact._refcache import reference

DTYPES = ("float64", "float32")


def _elementwise():
    return [n for n in polyact.list_activations() if polyact.get_spec(n).elementwise]


def _cases():
    out = []
    for name in _elementwise():
        spec = polyact.get_spec(name)
        if spec.grad is None:
            continue
        for params in check.param_sets(spec):
            for dtype in DTYPES:
                out.append(pytest.param(name, params, dtype, id=f"{name}{check.param_id(params)}-{dtype}"))
    return out


def closed_form(spec, params, x):
    """``spec.grad`` through the NumPy ops at the finite entries of ``x``."""
    ops = polyact.get_backend("numpy").ops
    p = spec.bind(dict(params))
    xf = x[np.isfinite(x)]
    with np.errstate(all="ignore"):
        g = np.asarray(spec.grad(xf, ops, **p), dtype=x.dtype)
    return xf, np.broadcast_to(g, xf.shape)


@pytest.mark.parametrize(("name", "params", "dtype"), _cases())
def test_closed_form_derivative(name, params, dtype):
    spec = polyact.get_spec(name)
    kinks = spec.kink_points(spec.bind(dict(params)))
    failures = []
    for cls in GRID_CLASSES:
        if cls == "kinks" and not spec.kinks:
            continue
        x = check.case_inputs(spec, params, cls, dtype)
        xf, g = closed_form(spec, params, x)
        if not xf.size:
            continue
        ref = reference(spec, params, xf, dtype, "grad")
        ok = within_contract(g, ref, xf, dtype, grad=True) | ~away_from_kinks(xf, kinks)
        for i in np.flatnonzero(~ok)[:4]:
            failures.append(f"{cls}: x={float(xf[i])!r} grad={float(g[i])!r} ref={float(ref[i])!r}")
    assert not failures, f"{name}{check.param_id(params)} {dtype}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("name", "params", "dtype"), _cases())
def test_closed_form_at_kinks(name, params, dtype):
    spec = polyact.get_spec(name)
    points = spec.kink_points(spec.bind(dict(params)))
    if not points:
        pytest.skip("no kinks")
    ftype = np.dtype(dtype).type
    for at, want in points:
        if not np.isfinite(at) or float(ftype(at)) != at:
            continue  # a kink the dtype cannot represent is not a kink there
        _, g = closed_form(spec, params, np.asarray([at], dtype=dtype))
        assert float(g[0]) == float(ftype(want)), f"{name} f'({at}) = {float(g[0])}, declared {want}"


def test_every_elementwise_activation_has_a_closed_form_derivative():
    missing = [n for n in _elementwise() if polyact.get_spec(n).grad is None]
    assert not missing, f"no closed-form derivative (grad=) on: {', '.join(missing)}"
