"""Trainable parameters receive the reference gradient on every backend that trains.

The generated checks (every trainable activation, scalar and per-channel
parameters, random parameter values) are in test_properties.py; this file keeps
the closed-form check of the soft exponential issue."""

from __future__ import annotations

import numpy as np
import pytest

import polyact as pa

from .conftest import backend_params

TRAINING = backend_params(differentiable_only=True)


def _dtype(backend):
    return "float32" if backend == "megengine" else "float64"


def _x(n=24, seed=0):
    return np.random.default_rng(seed).uniform(-4.0, 4.0, size=n)


@pytest.mark.parametrize("backend", TRAINING)
def test_soft_exponential_alpha_gradient_at_zero(backend):
    """The issue's check: at alpha = 0, d/dalpha f = 1 + x^2/2."""
    be = pa.get_backend(backend)
    dt = _dtype(backend)
    x = _x().astype(dt)
    act = pa.get_activation("soft_exponential", backend=backend)
    y, grads = be.param_grads(act, be.from_numpy(x, dt))
    np.testing.assert_allclose(be.to_numpy(y), x, rtol=1e-6)
    expected = np.sum(1.0 + x.astype(np.float64) ** 2 / 2.0)
    np.testing.assert_allclose(grads["alpha"], expected, rtol=1e-5)
