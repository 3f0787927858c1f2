"""Every activation object on every backend: same values as the plain function,
the input's dtype and shape preserved (half precision included)."""

from __future__ import annotations

import numpy as np
import pytest

import polyact as pa

from .conftest import BACKENDS, evaluation, make_act, make_fn, required_params

HALF = {
    "numpy": ("float16",),
    "torch": ("float16", "bfloat16"),
    "jax": ("float16", "bfloat16"),
    "megengine": ("float16",),
}


def _cases():
    out = []
    for name in pa.list_activations():
        if not pa.get_spec(name).elementwise:
            continue
        for b in BACKENDS:
            for dtype in ("float32", *HALF[b]):
                out.append(pytest.param(name, b, dtype, id=f"{name}-{b}-{dtype}"))
    return out


@pytest.mark.parametrize("name,backend,dtype", _cases())
def test_object_matches_function_and_keeps_dtype(name, backend, dtype):
    be = pa.get_backend(backend)
    spec = pa.get_spec(name)
    extra = {"num_channels": 3, "channel_axis": 1} if spec.per_channel else {}
    obj = evaluation(make_act(name, backend=backend, **extra))
    x_np = np.linspace(-6.0, 6.0, 3 * 9).reshape(9, 3)
    x = be.from_numpy(x_np, dtype)
    y = obj(x)
    assert be.dtype_name(y) == dtype and tuple(y.shape) == (9, 3)
    # the module's float32 parameters equal the defaults here, so the plain function agrees when
    # it runs the kernel the object runs (live trainable parameters rule out some of auto's picks)
    kernel = getattr(obj, "kernel", "auto")
    if kernel == "auto":
        kernel = pa.auto_kernel(name, backend, dtype, trainable=True, **required_params(name))
    f = make_fn(name, backend=backend, kernel=kernel, channel_axis=1)
    expected = be.to_numpy(f(x))
    got = be.to_numpy(y)
    np.testing.assert_array_equal(np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64))


CONFIG_CASES = [
    ("leaky_relu", {"negative_slope": 0.1}),
    ("laplace", {"mu": 0.0, "sigma": 2.0}),
    ("srelu", {"num_channels": 3, "channel_axis": 1}),
    ("soft_exponential", {"alpha": 0.25}),
    ("mish", {"kernel": "composed"}),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,kwargs", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_round_trip_across_backends(backend, name, kwargs):
    import json

    obj = evaluation(make_act(name, backend=backend, **kwargs))
    config = pa.to_config(obj)
    assert json.loads(json.dumps(config)) == config and config["name"] == name
    spec = pa.get_spec(name)
    for k, v in kwargs.items():
        if k not in spec.params or not spec.params[k].trainable:
            assert config[k] == v
    be = pa.get_backend(backend)
    x = be.from_numpy(np.linspace(-3, 3, 12).reshape(4, 3), "float32")
    for other in BACKENDS:  # the same config builds the same function anywhere
        twin = pa.from_config(config, backend=other)
        assert pa.to_config(twin) == config
    if not spec.trainable:
        twin = pa.from_config(config, backend=backend)
        np.testing.assert_array_equal(be.to_numpy(twin(x)), be.to_numpy(obj(x)))


def test_to_config_rejects_foreign_objects():
    with pytest.raises(pa.ActivationError, match=r"built by polyact\.get_activation"):
        pa.to_config(object())
    with pytest.raises(pa.ActivationError, match="mapping with a 'name'"):
        pa.from_config({"negative_slope": 0.1}, backend="numpy")


@pytest.mark.parametrize("backend", BACKENDS)
def test_objects_pickle(backend):
    import pickle

    be = pa.get_backend(backend)
    obj = pa.get_activation("leaky_relu", backend=backend, negative_slope=0.1)
    twin = pickle.loads(pickle.dumps(obj))
    x = be.from_numpy(np.array([-2.0, 3.0]), "float32")
    assert repr(twin) == repr(obj) and "negative_slope: slope for x < 0" in type(twin).__doc__ + (
        twin.__doc__ or ""
    )
    np.testing.assert_allclose(be.to_numpy(twin(x)), [-0.2, 3.0], rtol=1e-7)


def test_numpy_keeps_float32_whatever_numpy_promotes():
    """NumPy 1.x (the MegEngine environment's) makes ``where(c, 1.0, a)`` float64
    when ``a`` is a 0-d float32 array: the numpy backend's ``where`` gives the
    Python number the array's dtype, so snake's function form (a scalar ``a``)
    stays float32 and equals the per-channel object."""
    ops = pa.get_backend("numpy").ops
    c = np.array([True, False])
    assert ops.where(c, 1.0, np.asarray(2.0, dtype=np.float32)).dtype == np.float32
    assert ops.where(c, np.float32(2.0), 1.0).dtype == np.float32
    x = np.linspace(-6.0, 6.0, 27).astype(np.float32).reshape(9, 3)
    y = pa.get_function("snake", backend="numpy")(x)
    obj = pa.get_activation("snake", backend="numpy", num_channels=3, channel_axis=1)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(obj(x), y)
