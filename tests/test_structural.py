"""Generated tests of the structural activations (funnel_relu, xunit, ...): on
every backend, a module loaded with the same random torch-layout state agrees
with the NumPy implementation (float64 sub-layers) in evaluation mode and in
training mode (batch statistics, and the running statistics they update), keeps
half-precision dtypes, takes an explicit channel axis, and trains (its parameters
get gradients).
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest

import polyact as pa

from .conftest import BACKENDS

STRUCTURAL = [n for n in pa.list_activations() if pa.get_spec(n).kind == "structural"]
C = 3


def _layout(name: str) -> Any:
    """(input shape, its channel axis, the same with the channel axis moved)."""
    if 4 in pa.get_spec(name).input_ndims:  # NCHW; odd sizes, smaller than a 9x9 kernel on purpose
        return (2, C, 11, 10), 1, -1
    return (4, 5, C), -1, 1  # features last, with a sequence axis


def _build(name: str, backend: str, *, moved: bool = False, **options: Any) -> Any:
    """Built with the channel axis of the test input (explicit on every backend)."""
    spec = pa.get_spec(name)
    axis = _layout(name)[2 if moved else 1]
    return pa.get_activation(name, backend, **{spec.channels_param: C}, channel_axis=axis, **options)


def _state(name: str) -> Dict[str, np.ndarray]:
    """A random state in torch's keys and layouts (the NumPy module's own)."""
    rng = np.random.default_rng(3)
    out = {}
    for key, v in _build(name, "numpy").state_dict().items():
        v = np.asarray(v)
        if key.endswith("num_batches_tracked"):
            out[key] = np.array(5)
        elif key.endswith("running_var"):
            out[key] = rng.uniform(0.5, 2.0, v.shape)
        elif key.endswith("weight") and v.ndim == 1:  # batch norm scale
            out[key] = rng.uniform(0.5, 1.5, v.shape)
        else:
            out[key] = rng.normal(0.0, 0.3, v.shape)
    return out


def _load(module: Any, backend: str, state: Dict[str, np.ndarray]) -> Any:
    if backend == "torch":
        import torch

        module.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in state.items()})
    elif backend == "jax":
        from polyact.backends._jax_modules import load_torch_state

        load_torch_state(module, state)
    elif backend == "megengine":
        module.load_torch_state(state)
    else:
        module.load_state_dict(state)
    return module


def _run(module: Any, backend: str, x: np.ndarray, dtype: str = "float32") -> np.ndarray:
    b = pa.get_backend(backend)
    y = module(b.from_numpy(x, dtype))
    assert b.dtype_name(y) == dtype
    return np.asarray(b.to_numpy(y), dtype=np.float64)


def _input(name: str) -> np.ndarray:
    shape = _layout(name)[0]
    return np.random.default_rng(4).normal(size=shape).astype(np.float32).astype(np.float64)


def _reference(name: str, train: bool) -> np.ndarray:
    ref = _load(_build(name, "numpy"), "numpy", _state(name))
    ref.train(train)
    return np.asarray(ref(_input(name)), dtype=np.float64)


@pytest.mark.parametrize("name", STRUCTURAL)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_matches_numpy_from_the_same_state(name, backend, train):
    m = _load(_build(name, backend, seed=0), backend, _state(name))
    if train:
        m.train()  # nnx's train() takes no mode argument
    else:
        m.eval()
    y = _run(m, backend, _input(name))
    assert y.shape == _layout(name)[0]
    np.testing.assert_allclose(y, _reference(name, train), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", STRUCTURAL)
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_half_precision_keeps_its_dtype(name, backend):
    m = _load(_build(name, backend, seed=0), backend, _state(name))
    m.eval()
    x = _input(name)
    for dtype in pa.get_backend(backend).dtypes:
        if dtype in ("float16", "bfloat16"):
            y = _run(m, backend, x, dtype)
            ref = _reference(name, False)
            # half input and output, float32 inside: within a few half-precision ulps
            np.testing.assert_allclose(y, ref, rtol=2**-6, atol=2**-6 * (1 + np.abs(ref).max()))


@pytest.mark.parametrize("name", STRUCTURAL)
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_channel_axis_is_explicit(name, backend):
    _, axis, moved = _layout(name)
    m = _load(_build(name, backend, moved=True, seed=0), backend, _state(name))
    m.eval()
    y = _run(m, backend, np.moveaxis(_input(name), axis, moved))
    np.testing.assert_allclose(np.moveaxis(y, moved, axis), _reference(name, False), rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", STRUCTURAL)
@pytest.mark.parametrize("backend", [b for b in BACKENDS if pa.get_backend(b).differentiable])
def test_parameters_get_gradients(name, backend):
    m = _load(_build(name, backend, seed=0), backend, _state(name))
    b = pa.get_backend(backend)
    _, grads = b.param_grads(m, b.from_numpy(_input(name), "float32"))
    assert grads, "no trainable parameters"
    for key, g in grads.items():
        g = np.asarray(g, dtype=np.float64)
        assert np.isfinite(g).all(), key
    assert any(np.abs(np.asarray(g)).max() > 0 for g in grads.values())


@pytest.mark.parametrize("name", STRUCTURAL)
def test_is_a_module_only(name):
    with pytest.raises(pa.errors.ActivationError, match="structural"):
        pa.get_function(name, "numpy", **{pa.get_spec(name).channels_param: C})
