"""MegEngine's fused, compiled and cpp kernels and the eager fast path of the
special-value guard: what the fused Function saves, agreement with the composed
kernel (values and GradManager gradients), trace caching per shape, the cpp
kernel's inputs (views, broadcast cotangents) and builds.

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
CPP = [n for n in CANDIDATES if "cpp" in pa.kernels(n, "megengine")]
PAIRS = [(n, "fused") for n in FUSED] + [(n, "compiled") for n in COMPILED] + [(n, "cpp") for n in CPP]
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


def truth(name, x):
    """float64 (values, derivatives) of ``name`` at the float32 tensor ``x``: the cpp
    kernel computes in double and rounds once, closer than the float32 kernels."""
    spec, ops = pa.get_spec(name), pa.get_backend("numpy").ops
    a = npy(x)
    p = dict(spec.defaults)
    return np.asarray(spec.fn(a, ops, **p), np.float64), np.asarray(spec.grad(a, ops, **p), np.float64)


@pytest.mark.parametrize("name,kernel", PAIRS, ids=IDS)
def test_values_and_gradients_match_composed(name, kernel):
    x = random_input()
    if kernel == "cpp":
        y0, g0 = truth(name, x)
        f = pa.get_function(name, "megengine", kernel=kernel)
        y, g = grad_of(f, x)
        close(y, y0, 1)  # one rounding of a double
        close(g, g0, 1, floor=2.0**-20)
        return
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
    eager = want
    if kernel == "cpp":  # one rounding of a double, compared with the truth (traced: the formula)
        eager = np.asarray(pa.get_function(name, "numpy")(npy(x)), np.float64)
    np.testing.assert_allclose(npy(f(x)), eager, rtol=4 * ULP, atol=0)
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


# --------------------------------------------------------------------------- cpp
def test_cpp_reads_views_and_broadcast_cotangents():
    """MegEngine hands a custom op a view's storage as if contiguous: the kernel copies first."""
    from megengine import functional as F

    f = pa.get_function("mish", "megengine", kernel="cpp")
    ref = pa.get_function("mish", "megengine", kernel="cpp")  # applied to contiguous copies
    a = np.random.default_rng(5).normal(size=(300, 400)).astype(np.float32) * 3
    x = t32(a)
    views = {
        "transpose": lambda t: t.transpose(1, 0),
        "slice": lambda t: t[::2, 1:],
        "broadcast": lambda t: F.broadcast_to(t[:1], (300, 400)),
    }
    for name, view in views.items():
        for _ in range(3):  # a missed copy or wait shows as different garbage per call
            assert np.array_equal(npy(f(view(x))), npy(ref(t32(npy(view(x)))))), name
            _, g = grad_of(lambda v: f(view(v)), x)  # sum(): a broadcast cotangent
            _, want = grad_of(lambda v: ref(view(v)) * t32(np.ones(npy(view(x)).shape)), x)
            assert np.array_equal(g, want), name


def test_cpp_user_activation_is_built_once(tmp_path, monkeypatch):
    """A registered activation gets a cpp kernel; its library is built once and cached on disk."""
    from polyact.backends import _megengine_cpp as cpp

    monkeypatch.setenv("POLYACT_CACHE_DIR", str(tmp_path))
    name = "test_cpp_cube_plus"

    def fn(x, ops, k):
        return x * x * x + k * x

    def grad(x, ops, k):
        return 3.0 * x * x + k

    pa.register_activation(name, fn, grad=grad, params={"k": 0.5}, override=True)
    try:
        f = pa.get_function(name, "megengine", kernel="cpp", k=2.0)
        a = np.linspace(-3, 3, 97)
        np.testing.assert_allclose(npy(f(t32(a))), a**3 + 2.0 * a, rtol=2 * ULP, atol=1e-6)
        _, g = grad_of(f, t32(a))
        np.testing.assert_allclose(g, 3.0 * a * a + 2.0, rtol=2 * ULP, atol=1e-6)
        built = sorted(p.name for p in (tmp_path / "megengine-cpp").glob("*.so"))
        assert len(built) == 1
        # other parameter values use the same library (they are an input of the op)
        g2 = pa.get_function(name, "megengine", kernel="cpp", k=-1.0)
        np.testing.assert_allclose(npy(g2(t32(a))), a**3 - a, rtol=2 * ULP, atol=1e-6)
        assert sorted(p.name for p in (tmp_path / "megengine-cpp").glob("*.so")) == built
        assert cpp.kernel_source(pa.get_spec(name)).source.count("CUSTOM_OP_REG_BEGIN") == 2
    finally:
        pa.unregister_activation(name)


def test_cpp_without_a_compiler(monkeypatch):
    """No C++ compiler: auto never picks the kernel; asking for it says what is missing."""
    from polyact.backends import _megengine_cpp as cpp

    name = "test_cpp_no_compiler"
    pa.register_activation(name, lambda x, ops: x * 0.25, grad=lambda x, ops: 0.25 + 0.0 * x, override=True)
    try:
        monkeypatch.setitem(cpp._AVAILABLE, "ok", False)
        kernel = pa.kernels(name, "megengine")["cpp"]
        assert not kernel.supports("float32")
        with pytest.raises(pa.ActivationError, match="C\\+\\+ compiler"):
            pa.get_function(name, "megengine", kernel="cpp")(t32([1.0, 2.0]))
        assert npy(pa.get_function(name, "megengine")(t32([4.0])))[0] == 1.0
    finally:
        pa.unregister_activation(name)


@pytest.mark.parametrize("name", ["eis", "sine", "squareplus", "tanhsoft"])
def test_cpp_is_auto_only_at_defaults_where_the_formula_reads_values(name, monkeypatch):
    """These formulas read their parameters' values in Python: one library per set of
    values. auto uses the kernel at the defaults (in the built-in bundle) only, so new
    values never make a first call wait for the compiler."""
    from polyact import selection

    monkeypatch.delenv("POLYACT_KERNEL", raising=False)
    monkeypatch.setattr(
        selection, "_ranking", lambda b, d, n, large=False, device=None, grad=False: ("cpp", "composed")
    )
    spec = pa.get_spec(name)
    kernel = pa.kernels(name, "megengine")["cpp"]
    other = {k: float(v) * 0.5 + 0.25 for k, v in spec.defaults.items() if k in spec.params}
    assert kernel.eligible_for(spec.bind({})) and not kernel.eligible_for(spec.bind(other))
    assert pa.auto_kernel(name, "megengine") == ("cpp" if kernel.supports("float32") else "composed")
    assert pa.auto_kernel(name, "megengine", **other) == "composed"
    # by name it still runs, values and all
    x = t32(np.linspace(-3, 3, 13))
    got = npy(pa.get_function(name, "megengine", kernel="cpp", **other)(x))
    want = npy(pa.get_function(name, "megengine", kernel="composed", **other)(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_cpp_stays_auto_for_any_value_where_the_formula_does_not_read_them():
    spec = pa.get_spec("elu")
    kernel = pa.kernels("elu", "megengine")["cpp"]
    assert kernel.eligible_for(spec.bind({"alpha": 0.3}))


def test_cpp_carries_the_guard_in_its_loop(monkeypatch):
    """Eager cpp calls take no runner guard (no extra pass, no host read): the loop
    gives the limits at +-inf and NaN at NaN, values and gradients, with scalar
    and per-channel parameters; inside a trace the runner's guard still runs."""

    def no_guard(*a, **k):
        raise AssertionError("the runner's guard ran")

    real = B._guarded
    monkeypatch.setattr(B, "_guarded", no_guard)
    x = t32([-np.inf, -1.0, 0.0, 2.0, np.inf, np.nan])
    y, g = grad_of(pa.get_function("silu", "megengine", kernel="cpp"), x)
    assert y[0] == 0.0 and y[4] == np.inf and np.isnan(y[5]) and y[3] > 1.76
    assert g[0] == 0.0 and g[4] == 1.0 and np.isnan(g[5]) and g[2] == 0.5
    # elu's limits depend on alpha: read from the value given
    y, g = grad_of(pa.get_function("elu", "megengine", kernel="cpp", alpha=0.5), x)
    assert y[0] == -0.5 and y[4] == np.inf and np.isnan(y[5])
    assert g[0] == 0.0 and g[4] == 1.0 and np.isnan(g[5])
    # per-channel values: the limits are unknown, NaN is special and +-inf go through the formula
    f = pa.get_function("mpelu", "megengine", kernel="cpp", alpha=[0.5, 2.0], channel_axis=0)
    xc = t32([[-np.inf, np.nan, 1.0], [-np.inf, np.inf, -1.0]])
    want = pa.get_function("mpelu", "numpy", alpha=[0.5, 2.0], channel_axis=0)(npy(xc))
    got = npy(f(xc))
    np.testing.assert_allclose(got, want, rtol=4 * ULP)
    assert got[0, 0] == -0.5 and got[1, 0] == -2.0 and np.isnan(got[0, 1])
    # a large input (blocks of 4096 on two threads): specials at block edges and in the tail
    a = np.random.default_rng(7).normal(size=200_003).astype(np.float32) * 4
    at = [0, 4095, 4096, 8191, 100_001, 131_072, 200_002]
    a[at] = [np.nan, -np.inf, np.inf, np.nan, -np.inf, np.inf, np.nan]
    y, g = grad_of(pa.get_function("silu", "megengine", kernel="cpp"), t32(a))
    np.testing.assert_array_equal(y[at], [np.nan, 0.0, np.inf, np.nan, 0.0, np.inf, np.nan])
    np.testing.assert_array_equal(g[at], [np.nan, 0.0, 1.0, np.nan, 0.0, 1.0, np.nan])
    fin = np.isfinite(a)
    want = pa.get_function("silu", "numpy")(a[fin].astype(np.float64))
    np.testing.assert_allclose(y[fin], want, rtol=4 * ULP, atol=1e-37)
    calls = []
    monkeypatch.setattr(B, "_guarded", lambda *a: calls.append(1) or real(*a))
    f = pa.get_function("silu", "megengine", kernel="cpp")
    run = trace(lambda v: f(v), symbolic=True)
    for _ in range(2):
        y = npy(run(x))
        assert y[0] == 0.0 and y[4] == np.inf and np.isnan(y[5])
    assert calls


def test_cpp_keeps_the_sign_of_a_zero_parameter():
    """0.0 and -0.0 are equal keys in a dict: the parameter cache keeps them apart."""
    x = t32([-1.0, 1.0])
    for slope, neg in ((0.0, True), (-0.0, False), (0.0, True)):
        y = B.to_numpy(pa.get_function("leaky_relu", "megengine", kernel="cpp", negative_slope=slope)(x))
        assert bool(np.signbit(y[0])) is neg, slope
