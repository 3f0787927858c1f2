"""Every registered activation, on every backend and kernel, in float32 and float64
(where the backend has it), on normal and large inputs: values and gradients
against the mpmath reference rounded once to the dtype (NUMERICS.md contract)."""

from __future__ import annotations

import numpy as np
import pytest

import polyact
from polyact._inputs import away_from_kinks

from . import _ref, known_divergences
from ._matrix import cases, check, iter_kinks


def _build(name, params, backend, kernel):
    return polyact.get_backend(backend), polyact.get_function(name, backend, kernel=kernel, **params)


@pytest.mark.parametrize("name,params,backend,kernel,dtype,cls", cases("forward"))
def test_forward(name, params, backend, kernel, dtype, cls):
    b, f = _build(name, params, backend, kernel)
    x_np = _ref.inputs(cls, dtype)
    y = f(b.from_numpy(x_np, dtype))
    assert b.dtype_name(y) == dtype
    assert tuple(y.shape) == x_np.shape
    check(x_np, np.asarray(b.to_numpy(y), dtype=np.float64), _ref.value(name, params, cls, dtype), dtype)


@pytest.mark.parametrize("name,params,backend,kernel,dtype,cls", cases("gradient", differentiable=True))
def test_gradient(name, params, backend, kernel, dtype, cls):
    b, f = _build(name, params, backend, kernel)
    spec = polyact.get_spec(name)
    x_np = _ref.inputs(cls, dtype)
    keep = away_from_kinks(x_np, list(iter_kinks(spec, params)))
    _, g = b.value_and_grad(f, b.from_numpy(x_np, dtype))
    assert b.dtype_name(g) == dtype
    g = np.asarray(b.to_numpy(g), dtype=np.float64)
    check(x_np[keep], g[keep], _ref.grad(name, params, cls, dtype)[keep], dtype, grad=True)


def _kink_cases():
    out = []
    for p in cases("kink", differentiable=True, classes=("normal",)):
        name, params, backend, kernel, dtype, _ = p.values
        if not polyact.get_spec(name).kinks:
            continue
        why = known_divergences.match(name, backend, kernel, "kink", dtype)
        marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
        out.append(pytest.param(name, params, backend, kernel, dtype, id=p.id.rsplit("-", 1)[0], marks=marks))
    return out


@pytest.mark.parametrize("name,params,backend,kernel,dtype", _kink_cases())
def test_kink_gradient(name, params, backend, kernel, dtype):
    """At a kink the derivative is the declared one, exactly, on every backend."""
    b, f = _build(name, params, backend, kernel)
    spec = polyact.get_spec(name)
    pts = list(iter_kinks(spec, params))
    x_np = np.asarray([at for at, _ in pts]).astype(dtype)
    expected = np.asarray([g for _, g in pts]).astype(dtype).astype(np.float64)
    _, g = b.value_and_grad(f, b.from_numpy(x_np, dtype))
    got = np.asarray(b.to_numpy(g), dtype=np.float64)
    assert np.array_equal(got, expected), (
        f"kinks at {x_np.tolist()}: got {got.tolist()}, declared {expected.tolist()}"
    )
