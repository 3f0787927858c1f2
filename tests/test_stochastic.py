"""Generated tests of the stochastic activations (rrelu, probact) in training
mode, on every backend: the noise follows the declared distribution, seeded
generators and JAX keys reproduce it, evaluation mode has none, and gradients go
through the drawn noise. (Evaluation mode is element-wise and deterministic: the
consistency matrix of test_reference.py covers it like any other activation.)

The statistical checks are deterministic: fixed seeds, and bounds of 6 standard
errors on 20,000 draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import polyact as pa
from polyact.check import backend_dtypes

from .conftest import BACKENDS

STOCHASTIC = [n for n in pa.list_activations() if pa.get_spec(n).kind == "stochastic"]
N = 20_000


def _rng(backend: str, seed: int) -> Any:
    if backend == "jax":
        import jax

        return jax.random.key(seed)
    if backend == "numpy":
        return np.random.default_rng(seed)
    if backend == "torch":
        import torch

        return torch.Generator().manual_seed(seed)
    import megengine

    return megengine.random.RNG(seed=seed)


def _train(name: str, backend: str, x: np.ndarray, seed: int, dtype: str = "float32", **params: Any):
    b = pa.get_backend(backend)
    f = pa.get_function(name, backend, **params)
    y = f(b.from_numpy(x, dtype), training=True, rng=_rng(backend, seed))
    assert b.dtype_name(y) == dtype
    return np.asarray(b.to_numpy(y), dtype=np.float64)


def _negatives() -> np.ndarray:
    return -np.random.default_rng(0).uniform(0.5, 4.0, size=N)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rrelu_slopes_are_uniform_in_training_and_the_mean_in_evaluation(backend):
    x = _negatives()
    lo, hi = 0.1, 0.3
    slope = _train("rrelu", backend, x, 1, lower=lo, upper=hi) / x.astype(np.float32)
    assert slope.min() >= lo - 1e-6 and slope.max() <= hi + 1e-6
    se = (hi - lo) / np.sqrt(12 * N)
    assert abs(slope.mean() - (lo + hi) / 2) < 6 * se
    assert abs(slope.std() - (hi - lo) / np.sqrt(12)) < 0.01
    b = pa.get_backend(backend)
    ev = np.asarray(
        b.to_numpy(pa.get_function("rrelu", backend, lower=lo, upper=hi)(b.from_numpy(x, "float32")))
    )
    np.testing.assert_allclose(ev / x.astype(np.float32), (lo + hi) / 2, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_probact_noise_is_normal_with_scale_sigma(backend):
    x = np.random.default_rng(0).normal(size=N)
    sigma = 0.5
    y = _train("probact", backend, x, 2, sigma=sigma)
    eps = (y - np.maximum(x.astype(np.float32), 0)) / sigma
    assert abs(eps.mean()) < 6 / np.sqrt(N)
    assert abs(eps.std() - 1.0) < 6 * np.sqrt(0.5 / N)
    assert abs(np.mean(eps**3)) < 6 * np.sqrt(15 / N)  # symmetric


@pytest.mark.parametrize("name", STOCHASTIC)
@pytest.mark.parametrize("backend", BACKENDS)
def test_seeds_reproduce_and_differ(name, backend):
    x = np.linspace(-3, 3, 64)
    params = dict(pa.get_spec(name).examples[0])
    a = _train(name, backend, x, 5, **params)
    np.testing.assert_array_equal(a, _train(name, backend, x, 5, **params))
    assert not np.array_equal(a, _train(name, backend, x, 6, **params))


@pytest.mark.parametrize("name", STOCHASTIC)
@pytest.mark.parametrize("backend", BACKENDS)
def test_half_precision_in_training_mode(name, backend):
    x = np.linspace(-3, 3, 64)
    params = dict(pa.get_spec(name).examples[0])
    for dtype in backend_dtypes(backend):
        y = _train(name, backend, x, 5, dtype, **params)
        assert np.isfinite(y).all()


@pytest.mark.parametrize("name", STOCHASTIC)
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_modules_add_noise_in_training_mode_only(name, backend):
    """torch and MegEngine modules start in training mode (``.eval()`` stops the
    noise); nnx modules start non-deterministic (``.eval()`` likewise)."""
    b = pa.get_backend(backend)
    params = dict(pa.get_spec(name).examples[0])
    x = b.from_numpy(np.linspace(-3, 3, 64), "float32")
    expected = np.asarray(b.to_numpy(pa.get_function(name, backend, **params)(x)))
    mods = [pa.get_activation(name, backend, seed=7, **params) for _ in range(2)]
    first = np.asarray(b.to_numpy(mods[0](x)))
    assert not np.array_equal(first, expected)
    np.testing.assert_array_equal(first, np.asarray(b.to_numpy(mods[1](x))))  # same seed, same noise
    assert not np.array_equal(first, np.asarray(b.to_numpy(mods[0](x))))  # the stream moves on
    mods[0].eval()
    np.testing.assert_array_equal(np.asarray(b.to_numpy(mods[0](x))), expected)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if pa.get_backend(b).differentiable])
def test_rrelu_gradient_is_the_drawn_slope(backend):
    b = pa.get_backend(backend)
    x = np.concatenate([_negatives()[:256], np.linspace(0.5, 3, 16)])
    f = pa.get_function("rrelu", backend)
    rng = _rng(backend, 9)
    y, g = b.value_and_grad(lambda t: f(t, training=True, rng=rng), b.from_numpy(x, "float32"))
    y, g = np.asarray(b.to_numpy(y), np.float64), np.asarray(b.to_numpy(g), np.float64)
    xs = x.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(g[:256], y[:256] / xs[:256], rtol=1e-6)
    np.testing.assert_array_equal(g[256:], 1.0)
