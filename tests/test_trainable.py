"""Trainable parameters receive the reference gradient on every backend that trains."""

from __future__ import annotations

import numpy as np
import pytest

import polyact as pa
from polyact._numerics import round_array
from polyact.backends import reference

from .conftest import backend_params

TRAINING = backend_params(differentiable_only=True)


def _dtype(backend):
    return "float32" if backend == "megengine" else "float64"


def _x(n=24, c=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (n,) if c is None else (n, c)
    return rng.uniform(-4.0, 4.0, size=shape)


def _f32(params):
    """Module parameters are stored in float32: the reference uses those values."""
    return {
        k: [float(np.float32(v)) for v in val] if isinstance(val, list) else float(np.float32(val))
        for k, val in params.items()
    }


def _ref_param_grad_sum(name, x, params, key):
    spec = pa.get_spec(name)
    d = reference.param_derivative(spec, x, params, key)
    return float(round_array(np.asarray([sum(d.reshape(-1))], dtype=object), "float64")[0])


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


@pytest.mark.parametrize("backend", TRAINING)
@pytest.mark.parametrize(
    "name,params",
    [
        ("soft_exponential", {"alpha": 0.3}),
        ("soft_exponential", {"alpha": -0.2}),
        ("swish", {"beta": 1.0}),
        ("swish", {"beta": 1.7}),
    ],
)
def test_scalar_parameter_gradients_match_reference(backend, name, params):
    be = pa.get_backend(backend)
    dt = _dtype(backend)
    x = _x(seed=1).astype(dt)
    act = pa.get_activation(name, backend=backend, **params)
    _, grads = be.param_grads(act, be.from_numpy(x, dt))
    (key,) = params
    expected = _ref_param_grad_sum(name, x, _f32(params), key)
    np.testing.assert_allclose(
        grads[key], expected, rtol=2e-5 if dt == "float32" else 2e-7
    )  # parameters (and their grads) are float32


@pytest.mark.parametrize("backend", TRAINING)
def test_srelu_per_channel_gradients(backend):
    be = pa.get_backend(backend)
    dt = _dtype(backend)
    values = {
        "t_left": [-1.0, 0.0, 0.5],
        "a_left": [0.1, 0.2, 0.3],
        "t_right": [1.0, 2.0, 3.0],
        "a_right": [0.5, 1.0, 1.5],
    }
    x = _x(64, 3, seed=2).astype(dt)
    act = pa.get_activation("srelu", backend=backend, num_channels=3, channel_axis=1, **values)
    y, grads = be.param_grads(act, be.from_numpy(x, dt))
    ref_y = np.empty_like(x, dtype=np.float64)
    for c in range(3):
        pc = {k: v[c] for k, v in _f32(values).items()}
        ref_y[:, c] = round_array(reference.evaluate(pa.get_spec("srelu"), x[:, c], pc), "float64")
        for key in values:
            assert grads[key].shape == (3,)
            expected = _ref_param_grad_sum("srelu", x[:, c], pc, key)
            np.testing.assert_allclose(grads[key][c], expected, rtol=1e-5, atol=1e-6, err_msg=f"{key}[{c}]")
    np.testing.assert_allclose(be.to_numpy(y), ref_y, rtol=1e-6)
