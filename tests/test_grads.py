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

from .conftest import BACKENDS

if "numpy" not in BACKENDS:  # the formulas go through NumPy: the main environment's job
    pytest.skip("the NumPy backend is not under test in this environment", allow_module_level=True)

DTYPES = ("float64", "float32")


def _elementwise():
    return [n for n in polyact.list_activations() if polyact.get_spec(n).elementwise]


def _cases(kinked=False):
    out = []
    for name in _elementwise():
        spec = polyact.get_spec(name)
        if spec.grad is None or (kinked and not spec.kinks):
            continue
        for params in check.param_sets(spec):
            for dtype in DTYPES:
                out.append(pytest.param(name, params, dtype, id=f"{name}{check.param_id(params)}-{dtype}"))
    return out


def closed_form(spec, params, x):
    """``spec.grad`` through the NumPy ops at the finite entries of ``x``:
    (those entries, the values, their mask in ``x``)."""
    ops = polyact.get_backend("numpy").ops
    p = spec.bind(dict(params))
    fin = np.isfinite(x)
    xf = x[fin]
    with np.errstate(all="ignore"):
        g = np.asarray(spec.grad(xf, ops, **p), dtype=x.dtype)
    return xf, np.broadcast_to(g, xf.shape), fin


@pytest.mark.parametrize(("name", "params", "dtype"), _cases())
def test_closed_form_derivative(name, params, dtype):
    spec = polyact.get_spec(name)
    kinks = spec.kink_points(spec.bind(dict(params)))
    failures = []
    for cls in GRID_CLASSES:
        if cls == "kinks" and not spec.kinks:
            continue
        x = check.case_inputs(spec, params, cls, dtype)
        xf, g, fin = closed_form(spec, params, x)
        if not xf.size:
            continue
        # the reference of the whole class (the consistency matrix's cache entry)
        ref = reference(spec, params, x, dtype, "grad")[fin]
        ok = within_contract(g, ref, xf, dtype, grad=True) | ~away_from_kinks(xf, kinks)
        for i in np.flatnonzero(~ok)[:4]:
            failures.append(f"{cls}: x={float(xf[i])!r} grad={float(g[i])!r} ref={float(ref[i])!r}")
    assert not failures, f"{name}{check.param_id(params)} {dtype}:\n" + "\n".join(failures)


@pytest.mark.parametrize(("name", "params", "dtype"), _cases(kinked=True))
def test_closed_form_at_kinks(name, params, dtype):
    spec = polyact.get_spec(name)
    points = spec.kink_points(spec.bind(dict(params)))
    ftype = np.dtype(dtype).type
    for at, want in points:
        if not np.isfinite(at) or float(ftype(at)) != at:
            continue  # a kink the dtype cannot represent is not a kink there
        _, g, _ = closed_form(spec, params, np.asarray([at], dtype=dtype))
        assert float(g[0]) == float(ftype(want)), f"{name} f'({at}) = {float(g[0])}, declared {want}"


def test_every_elementwise_activation_has_a_closed_form_derivative():
    missing = [n for n in _elementwise() if polyact.get_spec(n).grad is None]
    assert not missing, f"no closed-form derivative (grad=) on: {', '.join(missing)}"


# points spread over the interesting range (a kink closer than 1e-6 is skipped)
_PROBES = (
    -1e10,
    -1e3,
    -60.0,
    -33.0,
    -20.0,
    -7.3,
    -3.1,
    -2.5,
    -1.7,
    -1.2,
    -0.7,
    -0.3,
    -0.1,
    -1e-3,
    1e-3,
    0.13,
    0.45,
    0.55,
    0.7,
    0.95,
    1.3,
    1.9,
    2.6,
    4.2,
    9.0,
    15.0,
    29.0,
    31.0,
    45.0,
    60.0,
    1e3,
    1e10,
)


def _formula_cases():
    out = []
    for name in _elementwise():
        spec = polyact.get_spec(name)
        if spec.grad is not None:
            for params in check.param_sets(spec):
                out.append(pytest.param(name, params, id=f"{name}{check.param_id(params)}"))
    return out


@pytest.mark.parametrize(("name", "params"), _formula_cases())
def test_closed_form_is_the_derivative_of_the_formula(name, params):
    """The reference derivative of a spec with ``grad`` is ``grad`` itself at
    60 digits (exact in the far tails, where a difference quotient underflows),
    so this checks the formula's mathematics: ``grad`` at 60 digits against a
    60-digit central difference of ``fn``."""
    import dataclasses

    import mpmath as mp

    from polyact.backends import reference as R

    spec = polyact.get_spec(name)
    kinks = [at for at, _ in spec.kink_points(spec.bind(dict(params)))]
    x = np.array([t for t in _PROBES if all(abs(t - k) > 1e-6 * max(1.0, abs(k)) for k in kinks)])
    closed = R.derivative(spec, x, params)
    numeric = R.derivative(dataclasses.replace(spec, grad=None), x, params)
    bad = []
    for t, a, b in zip(x, closed, numeric):
        outside = mp.isnan(a) or (isinstance(a, mp.mpc) and a.imag != 0)  # off the domain
        if outside and mp.isnan(b):
            continue
        # relative 1e-15; an absolute floor for where f is flat to 60 digits
        # (the difference quotient then reads 0)
        if not abs(a - b) <= 1e-15 * abs(b) + mp.mpf(10) ** -40:
            bad.append(f"x={t!r}: grad={mp.nstr(a, 17)} numeric={mp.nstr(b, 17)}")
    assert not bad, f"{name}{check.param_id(params)}:\n" + "\n".join(bad)
