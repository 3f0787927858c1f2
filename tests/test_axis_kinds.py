"""Generated tests of the activations along an axis (``vector``: softmax,
log_softmax, softmin, sparsemax) and of the gated ones (``gated``: glu, swiglu,
geglu): every such activation x parameter set x backend x kernel x dtype, forward
and vector-Jacobian product, against the mpmath reference.

Element-wise bounds do not fit these functions (an output depends on a whole
slice), so the contract's absolute term uses the largest input magnitude the
output depends on: max |x| over the slice (vector) or over the value and gate
pair (gated). The VJP uses a fixed random cotangent and is compared with a
central difference of <v, f(x)> taken in mpmath at 60 digits.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Tuple

import numpy as np
import pytest

import polyact as pa
from polyact._numerics import numpy_dtype, within_contract
from polyact.backends import reference
from polyact.check import backend_dtypes, param_id, param_sets

from .conftest import BACKENDS, cpu_kernels

AXIS_KINDS = [n for n in pa.list_activations() if pa.get_spec(n).kind in ("vector", "gated")]
SHAPE = (4, 4, 6)


def _input(mask: float = 0.0) -> np.ndarray:
    """Normal values, one slice with a large spread (stability) and, with a
    ``mask`` (an infinity), a slice where two entries are masked out, as
    attention does; exactly representable in every dtype."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=SHAPE) * 3
    a[0, 0, :] = [60.0, -50.0, 30.0, 0.5, -0.25, 45.0]
    if mask:
        a[1, 1, :2] = mask
    # bfloat16 then float16 values are exact in every dtype: one reference for all
    a = a.astype(numpy_dtype("bfloat16")).astype(np.float16).astype(np.float64)
    for dtype in ("float32", "float16", "bfloat16"):
        assert (a.astype(numpy_dtype(dtype)).astype(np.float64) == a)[np.isfinite(a)].all()
    return a


@functools.lru_cache(maxsize=None)
def _mask(name: str) -> float:
    """The infinity that masks an entry out (its output is exactly 0, or -inf for
    a log), found from the reference: -inf for softmax, +inf for softmin, none
    for gated activations."""
    spec = pa.get_spec(name)
    if spec.kind != "vector":
        return 0.0
    for m in (-np.inf, np.inf):
        y = _floats(reference.evaluate(spec, _input(m), {}))
        if not np.isnan(y).any() and set(np.unique(y[1, 1, :2])) <= {0.0, -np.inf}:
            return m
    return 0.0


def _cotangent(shape: Tuple[int, ...]) -> np.ndarray:
    v = np.random.default_rng(11).uniform(-1, 1, size=shape)
    return v.astype(numpy_dtype("bfloat16")).astype(np.float16).astype(np.float64)


def _magnitude(spec: Any, x: np.ndarray, axis: int, shape: Tuple[int, ...]) -> np.ndarray:
    """max |x| each output (of ``shape``) depends on (finite entries; -inf masks count as 0)."""
    ax = np.where(np.isfinite(x), np.abs(x), 0.0)
    if spec.kind == "vector":
        return np.broadcast_to(ax.max(axis=axis, keepdims=True), shape)
    a, b = np.split(ax, 2, axis=axis)
    return np.maximum(a, b)


def _floats(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    return np.asarray([float(v) for v in arr.reshape(-1)], dtype=np.float64).reshape(arr.shape)


@functools.lru_cache(maxsize=None)
def _reference(name: str, pkey: Tuple[Tuple[str, Any], ...]) -> Dict[str, Any]:
    """Reference value and VJP (mpmath) at the test input (exact in every dtype)."""
    import mpmath as mp

    spec = pa.get_spec(name)
    params = spec.bind(dict(pkey))
    x = _input(_mask(name))
    y = reference.evaluate(spec, x, params)
    live = np.isfinite(_floats(y))  # masked (-inf) outputs are constants: no cotangent
    v = np.where(live, _cotangent(y.shape), 0.0)
    xm = reference.to_mp(x)
    vm = reference.to_mp(v)
    grad = np.empty(x.shape, dtype=object)
    with mp.workdps(reference.DPS + 40):
        h = mp.mpf(10) ** -40
        for idx in np.ndindex(x.shape):
            if not mp.isfinite(xm[idx]):
                grad[idx] = mp.mpf(0)  # a masked entry: no gradient
                continue
            up, down = xm.copy(), xm.copy()
            up[idx] += h
            down[idx] -= h
            fu = np.sum(
                np.where(live, np.asarray(spec.fn(up, reference.ops(), **params), dtype=object), 0) * vm
            )
            fd = np.sum(
                np.where(live, np.asarray(spec.fn(down, reference.ops(), **params), dtype=object), 0) * vm
            )
            grad[idx] = (fu - fd) / (2 * h)
    return {"x": x, "y": _floats(y), "v": v, "grad": _floats(grad)}


def _cases(test: str):
    out = []
    for name in AXIS_KINDS:
        spec = pa.get_spec(name)
        for params in param_sets(spec):
            for b in BACKENDS:
                backend = pa.get_backend(b)
                if test == "vjp" and not backend.differentiable:
                    continue
                for kernel in cpu_kernels(name, b):
                    for dtype in backend_dtypes(b):
                        out.append(
                            pytest.param(
                                name,
                                tuple(sorted(params.items())),
                                b,
                                kernel,
                                dtype,
                                id=f"{name}{param_id(params)}-{b}-{kernel}-{dtype}",
                            )
                        )
    return out


def _report(bad: np.ndarray, x: Any, got: Any, ref: Any) -> str:
    idx = np.argwhere(bad)[:6]
    rows = [f"  at {tuple(i)}: got {got[tuple(i)]!r}, reference {ref[tuple(i)]!r}" for i in idx]
    return f"{int(bad.sum())} of {bad.size} outside the contract:\n" + "\n".join(rows)


@pytest.mark.parametrize("name,pkey,backend,kernel,dtype", _cases("forward"))
def test_forward(name, pkey, backend, kernel, dtype):
    spec = pa.get_spec(name)
    params = dict(pkey)
    ref = _reference(name, pkey)
    b = pa.get_backend(backend)
    f = pa.get_function(name, backend, kernel=kernel, **params)
    y = b.to_numpy(f(b.from_numpy(ref["x"], dtype)))
    assert b.dtype_name(f(b.from_numpy(ref["x"], dtype))) == dtype
    y = np.asarray(y, dtype=np.float64)
    assert y.shape == ref["y"].shape
    mag = _magnitude(spec, ref["x"], params.get("axis", -1), y.shape)
    ok = within_contract(y, ref["y"], mag, dtype)
    assert ok.all(), _report(~ok, ref["x"], y, ref["y"])


@pytest.mark.parametrize("name,pkey,backend,kernel,dtype", _cases("vjp"))
def test_vjp(name, pkey, backend, kernel, dtype):
    spec = pa.get_spec(name)
    params = dict(pkey)
    ref = _reference(name, pkey)
    b = pa.get_backend(backend)
    f = pa.get_function(name, backend, kernel=kernel, **params)
    v = b.from_numpy(ref["v"], dtype)
    _, g = b.value_and_grad(lambda t: f(t) * v, b.from_numpy(ref["x"], dtype))
    g = np.asarray(b.to_numpy(g), dtype=np.float64)
    finite = np.isfinite(ref["x"])
    mag = _magnitude(spec, ref["x"], params.get("axis", -1), ref["x"].shape)
    if spec.kind == "gated":
        mag = np.concatenate([mag, mag], axis=params.get("axis", -1))
    ok = within_contract(g, ref["grad"], mag, dtype, grad=True) | ~finite
    assert ok.all(), _report(~ok, ref["x"], g, ref["grad"])
    assert not np.isnan(g[finite]).any()


@pytest.mark.parametrize("name", AXIS_KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_module_matches_function_and_takes_axis(name, backend):
    b = pa.get_backend(backend)
    x = b.from_numpy(_input()[:, :, :4], "float32")
    for axis in (-1, 2, 1):
        mod = pa.get_activation(name, backend, axis=axis)
        f = pa.get_function(name, backend, axis=axis)
        np.testing.assert_array_equal(b.to_numpy(mod(x)), b.to_numpy(f(x)))
        assert f"axis={axis}" in repr(mod)
    # the default axis is -1 on every backend, never the framework's implicit choice
    np.testing.assert_array_equal(
        b.to_numpy(pa.get_function(name, backend)(x)), b.to_numpy(pa.get_function(name, backend, axis=-1)(x))
    )


@pytest.mark.parametrize("name", [n for n in AXIS_KINDS if pa.get_spec(n).kind == "gated"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_gated_odd_size_is_a_clear_error(name, backend):
    b = pa.get_backend(backend)
    x = b.from_numpy(np.ones((2, 5)), "float32")
    with pytest.raises(pa.errors.InvalidInputError, match="must be even"):
        pa.get_function(name, backend)(x)


@pytest.mark.parametrize("name", AXIS_KINDS)
def test_axis_must_be_an_integer(name):
    with pytest.raises(pa.errors.InvalidParameterError, match="axis"):
        pa.get_function(name, "numpy", axis=1.5)
