"""MegEngine's fused and compiled kernels and the eager fast path of the
special-value guard: what the fused Function saves, agreement with the composed
kernel (values and GradManager gradients), trace caching per shape.

Skipped where MegEngine is not installed (it needs CPython <= 3.10), except that
it fails when ``POLYACT_REQUIRE_BACKENDS`` names megengine.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import polyact as pa

_REQUIRED = "megengine" in [b.strip() for b in os.environ.get("POLYACT_REQUIRE_BACKENDS", "").split(",")]
if not _REQUIRED and importlib.util.find_spec("megengine") is None:
    pytest.skip("megengine is not installed here (it needs CPython <= 3.10)", allow_module_level=True)

# through polyact, so that NumPy's finfo tables are built before MegEngine turns on flush-to-zero
mge = pa.get_backend("megengine").fw
from megengine.autodiff import GradManager  # noqa: E402
from megengine.jit import trace  # noqa: E402

from polyact.backends import megengine as mbackend  # noqa: E402

B = pa.get_backend("megengine")
ULP = 2.0**-23
CANDIDATES = ("mish", "silu", "swish", "elu", "gelu_tanh", "softplus", "gelu", "celu", "selu")
FUSED = [n for n in CANDIDATES if "fused" in pa.kernels(n, "megengine")]
COMPILED = [n for n in CANDIDATES if "compiled" in pa.kernels(n, "megengine")]
PAIRS = [(n, "fused") for n in FUSED] + [(n, "compiled") for n in COMPILED]
IDS = [f"{n}-{k}" for n, k in PAIRS]


def t32(a):
    return B.from_numpy(np.asarray(a, dtype=np.float32), "float32")


def npy(t):
    return B.to_numpy(t).astype(np.float64)


def random_input(shape=(3, 5, 7), seed=0):
    return t32(np.random.default_rng(seed).normal(size=shape) * 4.0)


def grad_of(f, x, **params):
    """(f(x), d sum f / dx) through a GradManager."""
    xg = x.detach()
    gm = GradManager()
    gm.attach([xg])
    with gm:
        y = f(xg, **params)
        gm.backward(y.sum())
    return npy(y), npy(xg.grad)


def close(got, want, ulps, floor=1e-37):
    """Equal up to ``ulps`` float32 rounding steps of the larger magnitude (at least ``floor``)."""
    tol = ulps * ULP * np.maximum(np.maximum(np.abs(got), np.abs(want)), floor)
    assert np.all(np.abs(got - want) <= tol), np.max(np.abs(got - want) / tol)


def test_kernels_are_listed_with_their_flags():
    assert "compiled" in pa.kernels("relu", "megengine")
    for name in FUSED:
        k = pa.kernels(name, "megengine")["fused"]
        assert k.kind == "fused" and not k.onnx and not k.param_grads and k.differentiable
    for name in COMPILED:
        k = pa.kernels(name, "megengine")["compiled"]
        assert k.kind == "compiled" and k.differentiable and k.param_grads and k.compile_safe
    # one Function class and one trace cache per activation, whatever the lookup
    if FUSED:
        a, b = pa.kernels(FUSED[0], "megengine")["fused"], pa.kernels(FUSED[0], "megengine")["fused"]
        assert a.impl.function is b.impl.function


@pytest.mark.skipif(not FUSED, reason="no activation declares grad= yet")
def test_fused_saves_only_the_input():
    name = FUSED[0]
    cls = pa.kernels(name, "megengine")["fused"].impl.function
    x = random_input()
    gm = GradManager()
    gm.attach([x])
    with gm:
        fn = cls(dict(pa.get_spec(name).defaults))
        y = fn(x)
        tensors = {k: v for k, v in vars(fn).items() if isinstance(v, mge.Tensor)}
        assert tensors == {} and len(fn.saved) == 1 and fn.saved[0] is x
        gm.backward(y.sum())
    assert x.grad is not None and tuple(x.grad.shape) == tuple(x.shape)


@pytest.mark.parametrize("name,kernel", PAIRS, ids=IDS)
def test_values_and_gradients_match_composed(name, kernel):
    x = random_input()
    y0, g0 = grad_of(pa.get_function(name, "megengine", kernel="composed"), x)
    f = pa.get_function(name, "megengine", kernel=kernel)
    for _ in range(2):  # compiled: the recording call, then the replay
        close(npy(f(x)), y0, 4)
        y, g = grad_of(f, x)
        close(y, y0, 4)
        # the closed-form derivative and autodiff of the formula round differently where
        # the derivative cancels (near its zeros): steps of 1 (derivatives are O(1) here)
        close(g, g0, 16, floor=1.0)


@pytest.mark.skipif("swish" not in COMPILED, reason="swish is not registered")
def test_compiled_differentiates_tensor_parameters():
    x = random_input()
    grads = {}
    for kernel in ("composed", "compiled", "compiled"):
        beta = mge.Parameter(np.float32(1.3))
        xg = x.detach()
        gm = GradManager()
        gm.attach([xg, beta])
        with gm:
            y = pa.get_function("swish", "megengine", kernel=kernel)(xg, beta=beta)
            gm.backward(y.sum())
        grads.setdefault(kernel, []).append(float(beta.grad.numpy()))
    close(np.array(grads["compiled"]), np.array(grads["composed"] * 2), 16)


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_handles_shapes_in_a_row(name):
    impl = pa.kernels(name, "megengine")["compiled"].impl
    f = pa.get_function(name, "megengine", kernel="compiled")
    g = pa.get_function(name, "megengine", kernel="composed")
    impl.cache.clear()
    for shape in ((11,), (2, 3, 4), (11,), (2, 3, 4)):
        x = random_input(shape, seed=len(shape))
        y = f(x)
        assert tuple(y.shape) == shape
        close(npy(y), npy(g(x)), 4)
    assert len(impl.cache) == 2


def test_compiled_cache_is_bounded():
    impl = pa.kernels("relu", "megengine")["compiled"].impl
    f = pa.get_function("relu", "megengine", kernel="compiled")
    impl.cache.clear()
    for n in range(1, mbackend.COMPILED_CACHE_SIZE + 4):
        assert npy(f(t32(np.arange(n) - 1.0)))[0] == 0.0
    assert len(impl.cache) == mbackend.COMPILED_CACHE_SIZE


@pytest.mark.parametrize("name,kernel", PAIRS, ids=IDS)
def test_special_inputs_and_inside_a_trace(name, kernel):
    """Special values take the full guard; inside a user's trace the kernels run traced."""
    a = np.random.default_rng(2).normal(size=(4, 6)) * 3
    a[0, :3] = [np.inf, -np.inf, np.nan]
    x = t32(a)
    want = npy(pa.get_function(name, "megengine", kernel="composed")(x))
    f = pa.get_function(name, "megengine", kernel=kernel)
    np.testing.assert_allclose(npy(f(x)), want, rtol=4 * ULP, atol=0)
    run = trace(lambda v: f(v), symbolic=True)
    for _ in range(3):
        np.testing.assert_allclose(npy(run(x)), want, rtol=8 * ULP, atol=1e-37)


def test_guard_fast_path_matches_the_full_guard():
    """A finite input skips the guard; one special value anywhere takes it, with the same finite values."""
    f = pa.get_function("mish", "megengine", kernel="composed")
    a = np.random.default_rng(3).normal(size=64) * 5
    y_fast, g_fast = grad_of(f, t32(a))
    b = np.concatenate([a, [np.nan, np.inf]])
    y_full, g_full = grad_of(f, t32(b))
    assert np.array_equal(y_fast, y_full[:64]) and np.array_equal(g_fast, g_full[:64])
    assert np.isnan(y_full[64]) and y_full[65] == np.inf and g_full[65] == 1.0
    # a finite input whose sum overflows takes the guard and stays right
    big = t32([3e38, 3e38, -1.0])
    assert np.isfinite(npy(f(big))[:2]).all()
