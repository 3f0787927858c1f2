"""MegEngine object conventions: modules, parameters, GradManager training,
state_dict, dtypes (float16/bfloat16 computed in float32 and rounded once),
0-d and empty shapes, structural funnel, errors, and the natives' deviations.

Skipped where MegEngine is not installed (it needs CPython <= 3.10), except that
it fails when ``POLYACT_REQUIRE_BACKENDS`` names megengine (CI sets it in the
MegEngine environment).
"""

from __future__ import annotations

import importlib.util
import io
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import polyact as pa
from polyact.ops import PRIMITIVES

from .conftest import evaluation, make_act, make_fn, required_params

_REQUIRED = "megengine" in [b.strip() for b in os.environ.get("POLYACT_REQUIRE_BACKENDS", "").split(",")]
if not _REQUIRED and importlib.util.find_spec("megengine") is None:
    pytest.skip("megengine is not installed here (it needs CPython <= 3.10)", allow_module_level=True)

# through polyact, so that NumPy's finfo tables are built before MegEngine turns
# on flush-to-zero (a missing MegEngine raises here and fails the run when required)
mge = pa.get_backend("megengine").fw
import megengine.functional as F  # noqa: E402
import megengine.module as M  # noqa: E402
from megengine.autodiff import GradManager  # noqa: E402

from polyact.backends import megengine as mbackend  # noqa: E402

B = pa.get_backend("megengine")
ELEMENTWISE = [n for n in pa.list_activations() if pa.get_spec(n).elementwise]
KERNELS = [(n, k) for n in ELEMENTWISE for k in pa.kernels(n, "megengine")]
NATIVES = [n for n in ELEMENTWISE if "native" in pa.kernels(n, "megengine")]
X49 = np.linspace(-6.0, 6.0, 49).astype(np.float32)


def t32(a):
    return B.from_numpy(np.asarray(a, dtype=np.float32), "float32")


def npy(t):
    return B.to_numpy(t).astype(np.float64)


def grad_of(f, x):
    y, g = B.value_and_grad(f, x)
    return npy(y), npy(g)


def bf16_rne(a):
    """float32 -> nearest bfloat16 (ties to even), as float32; independent of the backend."""
    a = np.asarray(a, dtype=np.float32)
    bits = a.view(np.uint32).astype(np.uint64)
    r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    out = r.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), np.float32(np.nan), out)


# --------------------------------------------------------------------------- backend basics
def test_backend_attributes():
    assert B.name == "megengine" and B.framework == "megengine"
    assert "megengine==1.13.0" in B.install and "3.10" in B.install
    assert B.default_channel_axis == 1
    assert set(B.dtypes) == {"float16", "bfloat16", "float32"} and "float64" not in B.dtypes


def test_import_polyact_does_not_import_megengine():
    code = (
        "import sys, polyact as pa; pa.get_backend('megengine'); pa.list_activations('megengine'); "
        "pa.describe('gelu'); assert 'megengine' not in sys.modules, 'megengine imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_owns_tensor_and_parameter_and_apply_infers_backend():
    assert B.owns(mge.tensor([1.0])) and B.owns(mge.Parameter(1.0))
    assert not B.owns(np.ones(2)) and not B.owns(1.0)
    y = pa.apply("leaky_relu", t32([-2.0, 3.0]), negative_slope=0.5)
    assert isinstance(y, mge.Tensor) and npy(y).tolist() == [-1.0, 3.0]


def test_dtype_conversions():
    x = np.array([1.5, -2.25, 3.1])
    assert B.dtype_name(B.from_numpy(x)) == "float32"  # MegEngine has no float64
    for dt in ("float32", "float16", "bfloat16"):
        t = B.from_numpy(x, dt)
        assert B.dtype_name(t) == dt
        assert B.to_numpy(t).dtype == (np.float16 if dt == "float16" else np.float32)
    assert npy(B.from_numpy(x, "bfloat16")).tolist() == [1.5, -2.25, 3.09375]
    # float64 -> bfloat16 is rounded once (no double rounding through float32)
    tie64 = 1.0 + 2.0**-8 + 2.0**-30  # just above a bfloat16 tie; float32 would make it a tie
    assert npy(B.from_numpy([tie64], "bfloat16"))[0] == 1.0 + 2.0**-7
    assert B.dtype_name(B.from_numpy(np.array([1, 2], np.int64))) == "int32"
    assert B.dtype_name(B.from_numpy(np.array([True]))) == "bool"
    with pytest.raises(pa.InvalidInputError, match="no float64"):
        B.from_numpy(x, "float64")


# --------------------------------------------------------------------------- ops
def test_every_primitive_takes_tensors_and_python_numbers():
    ops = B.ops
    x = t32([0.25, 0.5])
    for name in PRIMITIVES:
        fn = getattr(ops, name)
        if name == "where":
            assert npy(fn(x > 0.3, x, 0.0)).tolist() == [0.0, 0.5]
            assert npy(fn(x > 0.3, 1.0, x)).tolist() == [0.25, 1.0]
            assert npy(fn(x > 0.3, 1.0, 2.0)).tolist() == [2.0, 1.0]
            assert fn(True, 1.0, x) == 1.0 and fn(False, 1.0, 2.0) == 2.0
            continue
        args = (x, 0.3) if name in ("maximum", "minimum") else (x,)
        out = fn(*args)
        assert isinstance(out, mge.Tensor), name
        sargs = (0.25, 0.3) if name in ("maximum", "minimum") else (0.25,)
        s = fn(*sargs)
        assert isinstance(s, (bool, int, float)) and not isinstance(s, mge.Tensor), name
        assert float(s) == pytest.approx(float(npy(out)[0]) if name != "isnan" else 0.0, rel=1e-6), name
    assert npy(ops.maximum(t32([1.0, 5.0]), t32([3.0, 2.0]))).tolist() == [3.0, 5.0]  # elementwise, not F.max
    assert npy(ops.minimum(0.0, t32([-1.0, 2.0]))).tolist() == [-1.0, 0.0]
    assert ops.exp(1000.0) == math.inf and math.isnan(ops.sign(math.nan))


def test_sigmoid_is_stable_with_the_right_gradient():
    ops = B.ops
    x = np.array([-1000.0, -20.0, 0.0, 20.0, 40.0, 1000.0], np.float32)
    from scipy.special import expit

    y, g = grad_of(ops.sigmoid, t32(x))
    xd = x.astype(np.float64)
    np.testing.assert_allclose(y, expit(xd), rtol=1e-6)
    np.testing.assert_allclose(g, expit(xd) * expit(-xd), rtol=1e-5)  # s(x) s(-x), no cancellation
    assert g[3] > 0 and g[4] > 0  # F.sigmoid's y*(1-y) gives 0 here
    y, g = grad_of(ops.sigmoid, t32([np.nan]))
    assert np.isnan(y).all() and np.isnan(g).all()


def test_erf_erfc_through_elemwise_with_exact_gradient():
    from scipy import special

    x = np.linspace(-4, 4, 17).astype(np.float32)
    for name, ref, sign in (("erf", special.erf, 1.0), ("erfc", special.erfc, -1.0)):
        y, g = grad_of(getattr(B.ops, name), t32(x))
        np.testing.assert_allclose(y, ref(x.astype(np.float64)), rtol=3e-6, atol=1e-7)
        np.testing.assert_allclose(
            g, sign * 2.0 / math.sqrt(math.pi) * np.exp(-(x.astype(np.float64) ** 2)), rtol=3e-6, atol=1e-30
        )


def test_sign_abs_softplus_special_values():
    ops = B.ops
    x = t32([np.nan, -np.inf, -2.0, 0.0, 3.0, np.inf])
    assert np.array_equal(npy(ops.sign(x)), [np.nan, -1, -1, 0, 1, 1], equal_nan=True)  # F.sign(NaN) is 0
    y, g = grad_of(ops.abs, x)
    assert np.array_equal(y, [np.nan, np.inf, 2, 0, 3, np.inf], equal_nan=True)
    assert np.array_equal(g, [np.nan, -1, -1, 0, 1, 1], equal_nan=True)  # F.abs' gradient is -1 at 0 and NaN
    y, g = grad_of(ops.softplus, t32([0.0, -1000.0, 1000.0, np.nan]))
    assert g[0] == 0.5 and y[1] == 0.0 and y[2] == 1000.0 and g[1] == 0.0 and g[2] == 1.0
    assert np.isnan(y[3]) and np.isnan(g[3])


def test_where_gradient_of_broadcast_operands_is_reduced():
    """F.where leaves a broadcast operand's gradient at the output's shape; ops.where does not."""
    p = mge.Parameter(np.float32(0.5))
    x = t32(np.linspace(-1, 1, 6))
    gm = GradManager().attach([p])
    with gm:
        y = B.ops.where(x > 0, p, x) + B.ops.where(p > 0, p, 0.0) * x
        gm.backward(y, F.ones_like(y))
    assert p.grad.shape == ()
    assert float(p.grad.numpy()) == pytest.approx(3.0 + float(x.numpy().sum()))


def test_half_rounding_is_to_nearest_even():
    """MegEngine's astype('float16') rounds ties away from zero; the demotion fixes ties."""
    allh = np.arange(65536, dtype=np.uint16).view(np.float16)
    fin = np.unique(allh[np.isfinite(allh)].astype(np.float64))
    mids = ((fin[:-1] + fin[1:]) / 2).astype(np.float32)
    rng = np.random.default_rng(0)
    vals = np.concatenate(
        [mids, rng.uniform(-7e4, 7e4, 20000).astype(np.float32), [np.inf, -np.inf, np.nan]]
    ).astype(np.float32)
    got = mbackend._round_to_half(mge, t32(vals)).numpy()
    with np.errstate(over="ignore"):
        want = vals.astype(np.float16)
    assert np.array_equal(got, want, equal_nan=True)
    _, g = grad_of(lambda v: mbackend._round_to_half(mge, v), t32(mids[:100]))
    assert np.all(g == 1.0)


# --------------------------------------------------------------------------- values and gradients
def _numpy_f64(name, **params):
    f = make_fn(name, "numpy", **params)
    return lambda x: np.asarray(f(np.asarray(x, dtype=np.float64)), dtype=np.float64)


@pytest.mark.parametrize("name,kernel", KERNELS, ids=[f"{n}-{k}" for n, k in KERNELS])
def test_values_match_numpy_float64(name, kernel):
    ref = _numpy_f64(name)(X49)
    f = make_fn(name, "megengine", kernel=kernel)
    np.testing.assert_allclose(npy(f(t32(X49))), ref, rtol=1e-5, atol=1e-6)
    m = (
        evaluation(make_act(name, "megengine", kernel=kernel))
        if not pa.get_spec(name).trainable or pa.kernels(name, "megengine")[kernel].param_grads
        else None
    )
    if m is not None:
        assert isinstance(m, M.Module)
        np.testing.assert_allclose(npy(m(t32(X49))), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kernel", KERNELS, ids=[f"{n}-{k}" for n, k in KERNELS])
def test_gradients_match_finite_differences(name, kernel):
    spec = pa.get_spec(name)
    f64 = _numpy_f64(name)
    x = X49.astype(np.float64)
    h = 1e-6 * np.maximum(1.0, np.abs(x))
    right = (f64(x + h) - f64(x)) / h
    left = (f64(x) - f64(x - h)) / h
    fd = (f64(x + h) - f64(x - h)) / (2 * h)
    keep = np.abs(right - left) < 1e-4 * np.maximum(1.0, np.abs(fd))  # away from kinks
    keep &= np.isfinite(fd)  # inside the domain (log1mexp: x > 0)
    for at, _ in spec.kink_points(spec.bind(required_params(name))):
        keep &= np.abs(x - at) > 1e-3
    assert keep.sum() > 20
    _, g = grad_of(make_fn(name, "megengine", kernel=kernel), t32(X49))
    np.testing.assert_allclose(g[keep], fd[keep], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,kernel", KERNELS, ids=[f"{n}-{k}" for n, k in KERNELS])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_computed_in_float32_and_rounded_once(name, kernel, dtype):
    """Every float16 bit pattern (every bfloat16 one) in, the float32 result rounded once out."""
    if dtype == "float16":
        xs = np.arange(65536, dtype=np.uint16).view(np.float16)
    else:
        xs = (np.arange(65536, dtype=np.uint32) << 16).view(np.float32)
    f = make_fn(name, "megengine", kernel=kernel)
    y = f(B.from_numpy(xs, dtype))
    assert B.dtype_name(y) == dtype and tuple(y.shape) == xs.shape
    y32 = B.to_numpy(f(t32(xs.astype(np.float32))))
    with np.errstate(over="ignore", invalid="ignore"):
        want = y32.astype(np.float16).astype(np.float32) if dtype == "float16" else bf16_rne(y32)
    assert np.array_equal(B.to_numpy(y).astype(np.float32), want, equal_nan=True)
    _, g = B.value_and_grad(f, B.from_numpy(xs[:512], dtype))
    assert B.dtype_name(g) == dtype


@pytest.mark.parametrize("shape", [(), (0,), (1, 0, 3), (3, 1, 2)])
@pytest.mark.parametrize("name", ["relu", "mish", "soft_exponential", "srelu", "sqnl"])
def test_shapes_preserved_with_gradients(name, shape):
    x = t32(np.full(shape, 0.7))
    for obj in (make_fn(name, "megengine"), make_act(name, "megengine")):
        y, g = B.value_and_grad(obj, x)
        assert tuple(y.shape) == shape and tuple(g.shape) == shape


def test_value_and_grad_leaves_the_input_alone():
    x = t32([1.0, -2.0])
    _, g = B.value_and_grad(pa.get_function("silu", "megengine"), x)
    assert x.grad is None and npy(g).shape == (2,)


def test_works_under_jit_trace():
    """Traced (eager-recorded and symbolic) calls replay, special inputs included,
    and agree with eager calls up to the last bits graph optimisation may change."""
    from megengine.jit import trace

    f = pa.get_function("gelu_tanh", "megengine")
    act = pa.get_activation("srelu", "megengine", num_channels=3)
    a = np.random.default_rng(0).normal(size=(2, 3, 4)) * 3
    a[0, 0, :3] = [np.inf, -np.inf, np.nan]
    x = t32(a)
    expected = npy(f(x) + act(x))
    assert np.isnan(expected[0, 0, 2]) and np.isposinf(expected[0, 0, 0])
    for symbolic in (False, True):

        @trace(symbolic=symbolic)
        def run(v):
            return f(v) + act(v)

        for _ in range(3):
            np.testing.assert_allclose(npy(run(x)), expected, rtol=4 * 2.0**-23, atol=0)


def test_gradient_under_jit_trace():
    from megengine.jit import trace

    f = pa.get_function("mish", "megengine")
    x = t32([-np.inf, -3.0, 0.5, 20.0, np.inf, np.nan])

    @trace(symbolic=False)
    def step(v):
        gm = mge.autodiff.GradManager()
        gm.attach([v])
        with gm:
            y = f(v)
            gm.backward(y.sum())
        return v.grad

    from polyact.backends import reference

    want = np.array([float(d) for d in reference.derivative(pa.get_spec("mish"), npy(x).astype(np.float64))])
    assert want[0] == 0 and want[4] == 1 and np.isnan(want[5])
    for _ in range(3):
        v = t32(npy(x))
        np.testing.assert_allclose(npy(step(v)), want, rtol=8 * 2.0**-23, atol=1e-30)


# --------------------------------------------------------------------------- modules
def test_fresh_module_per_lookup_with_repr():
    a = pa.get_activation("leaky_relu", backend="megengine", negative_slope=0.1)
    b = pa.get_activation("leaky_relu", backend="megengine", negative_slope=0.1)
    assert isinstance(a, M.Module) and a is not b and type(a) is type(b)
    assert repr(a) == "LeakyRelu(negative_slope=0.1)"
    assert npy(a(t32([-1.0, 2.0]))).tolist() == [np.float32(-0.1), 2.0]
    assert (
        repr(pa.get_activation("srelu", "megengine", num_channels=4))
        == "Srelu(num_channels=4, channel_axis=1)"
    )
    assert repr(pa.get_activation("gelu", "megengine")) == "Gelu()"


def test_module_base_state_is_what_megengine_init_makes():
    """Modules copy MegEngine's ``Module.__init__`` attributes instead of running
    it (it is most of a lookup's time): the same attributes and values as a
    module built the ordinary way, and no list or dict shared between modules."""

    class Plain(M.Module):
        def forward(self, x):
            return x

    ref = Plain().__dict__
    a = pa.get_activation("srelu", backend="megengine", num_channels=3)
    b = pa.get_activation("srelu", backend="megengine", num_channels=3)
    for k, v in ref.items():
        got = a.__dict__[k]
        if k == "_modules":  # and then polyact's own dict attributes
            got = [m for m in got if m not in ("_fixed", "polyact_config")]
        assert type(got) is type(v) and got == v, k
        if isinstance(v, (list, dict)):
            assert a.__dict__[k] is not b.__dict__[k] and a.__dict__[k] is not v, k
    calls = []
    a.register_forward_hook(lambda m, i, o: calls.append(m))
    b(t32(np.ones((2, 3, 4))))
    assert calls == []
    a(t32(np.ones((2, 3, 4))))
    assert calls == [a]
    # parameters are still named and found by MegEngine's bookkeeping
    seq = M.Sequential(M.Linear(3, 3), a)
    assert {n for n, _ in seq.named_parameters()} >= {"1." + k for k in pa.get_spec("srelu").trainable}


@pytest.mark.parametrize("n", [8, mbackend.HOST_CHECK_MAX, mbackend.HOST_CHECK_MAX + 1])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_eager_finiteness_check_on_host_and_device(n, dtype):
    """Small eager inputs are checked for finiteness on the host, larger ones by
    a reduction: both take the guard for one special value anywhere (first,
    last), and run the kernel bare when all are finite."""
    base = np.linspace(-4.0, 4.0, n).astype(np.float32)
    f = pa.get_function("silu", "megengine", kernel="composed")
    want = base / (1.0 + np.exp(-base.astype(np.float64)))
    for pos, special, limit in [(0, np.nan, np.nan), (n - 1, np.inf, np.inf), (n // 2, -np.inf, 0.0)]:
        x = base.copy()
        x[pos] = special
        t = B.from_numpy(x, dtype)
        t32_ = t.astype("float32") if dtype != "float32" else t  # as the runner hands it over
        assert B._finite_eager(t32_, n <= mbackend.HOST_CHECK_MAX) is False
        y = npy(f(t))
        assert np.isnan(y[pos]) if np.isnan(limit) else y[pos] == limit, (pos, y[pos])
        keep = np.arange(n) != pos
        np.testing.assert_allclose(y[keep], want[keep], rtol=1e-2 if dtype != "float32" else 1e-6, atol=1e-6)
    assert B._finite_eager(t32(base), n <= mbackend.HOST_CHECK_MAX) is True
    np.testing.assert_allclose(npy(f(t32(base))), want, rtol=1e-6, atol=1e-7)


def test_trainable_parameters_are_megengine_parameters():
    se = pa.get_activation("soft_exponential", "megengine", alpha=0.3)
    ((name, p),) = list(se.named_parameters())
    assert (
        name == "alpha"
        and isinstance(p, mge.Parameter)
        and p.shape == ()
        and float(p.numpy()) == pytest.approx(0.3)
    )
    sr = pa.get_activation("srelu", "megengine", num_channels=3)
    shapes = {k: tuple(v.shape) for k, v in sr.named_parameters()}
    assert shapes == {"t_left": (3,), "a_left": (3,), "t_right": (3,), "a_right": (3,)}
    assert list(pa.get_activation("leaky_relu", "megengine").parameters()) == []


def test_soft_exponential_alpha_gradient_at_zero():
    x = np.random.default_rng(0).uniform(-4, 4, 24).astype(np.float32)
    act = pa.get_activation("soft_exponential", "megengine")
    y, grads = B.param_grads(act, t32(x))
    np.testing.assert_allclose(npy(y), x, rtol=1e-6)
    np.testing.assert_allclose(grads["alpha"], np.sum(1.0 + x.astype(np.float64) ** 2 / 2.0), rtol=1e-5)
    assert grads["alpha"].shape == () and grads["alpha"].dtype == np.float64


def test_gradmanager_and_sgd_train_alpha():
    m = pa.get_activation("soft_exponential", "megengine")
    gm = GradManager().attach(m.parameters())
    opt = mge.optimizer.SGD(m.parameters(), lr=0.05)
    x = t32(np.linspace(-2, 2, 9))
    for _ in range(3):
        with gm:
            loss = ((m(x) - F.exp(x)) ** 2).mean()
            gm.backward(loss)
        assert m.alpha.grad is not None and float(m.alpha.grad.numpy()) != 0.0
        opt.step()
        opt.clear_grad()
    assert float(m.alpha.numpy()) > 0.0 and m.alpha.shape == ()  # moves toward exp, stays 0-d
    # a 0-d input does not give the 0-d parameter a (1,)-shaped gradient
    with gm:
        y = m(t32(0.5))
        gm.backward(y)
    assert y.shape == () and m.alpha.grad.shape == ()


def test_srelu_per_channel_gradients_nchw():
    x = np.random.default_rng(1).uniform(-3, 3, size=(4, 3, 5, 5)).astype(np.float32)
    act = pa.get_activation("srelu", "megengine", num_channels=3)
    y, grads = B.param_grads(act, t32(x))
    assert tuple(y.shape) == x.shape
    xd = x.astype(np.float64)
    tl, al, tr, ar = 0.0, 0.2, 1.0, 1.0  # defaults
    left, right = xd <= tl, xd >= tr
    expected = {
        "t_left": np.where(left, 1.0 - al, 0.0).sum(axis=(0, 2, 3)),
        "a_left": np.where(left, xd - tl, 0.0).sum(axis=(0, 2, 3)),
        "t_right": np.where(right, 1.0 - ar, 0.0).sum(axis=(0, 2, 3)),
        "a_right": np.where(right, xd - tr, 0.0).sum(axis=(0, 2, 3)),
    }
    for k, v in expected.items():
        assert grads[k].shape == (3,)
        np.testing.assert_allclose(grads[k], v, rtol=1e-5, atol=1e-5, err_msg=k)


def test_channel_axis_is_explicit():
    kw = dict(num_channels=3, t_right=[1.0, 2.0, 3.0], a_right=0.0)
    last = pa.get_activation("srelu", "megengine", channel_axis=-1, **kw)
    y = last(t32(np.full((2, 5, 3), 10.0)))
    assert npy(y)[0, 0].tolist() == [1.0, 2.0, 3.0]
    nchw = pa.get_activation("srelu", "megengine", **kw)
    assert npy(nchw(t32(np.full((2, 3, 4, 4), 10.0))))[0, :, 0, 0].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(pa.InvalidInputError, match="3 channels but the input has 5"):
        nchw(t32(np.ones((2, 5, 4))))


def test_state_dict_round_trip_and_pickle():
    m = pa.get_activation("srelu", "megengine", num_channels=4)
    state = m.state_dict()
    assert {k: v.shape for k, v in state.items()} == dict.fromkeys(
        ("a_left", "a_right", "t_left", "t_right"), (4,)
    )
    state["t_right"] = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    m.load_state_dict(state)
    m2 = pa.get_activation("srelu", "megengine", num_channels=4)
    m2.load_state_dict(m.state_dict())
    x = t32(np.random.default_rng(3).normal(size=(5, 4, 3)) * 4)
    assert np.array_equal(npy(m2(x)), npy(m(x)))
    assert np.array_equal(npy(pickle.loads(pickle.dumps(m))(x)), npy(m(x)))
    buf = io.BytesIO()
    mge.save(m, buf)
    buf.seek(0)
    assert np.array_equal(npy(mge.load(buf)(x)), npy(m(x)))
    se = pa.get_activation("soft_exponential", "megengine", alpha=0.25)
    se2 = pa.get_activation("soft_exponential", "megengine")
    se2.load_state_dict(se.state_dict())
    assert float(se2.alpha.numpy()) == pytest.approx(0.25) and se2.alpha.shape == ()


def test_function_form_takes_trainable_values_as_tensors():
    f = pa.get_function("swish", "megengine")
    beta = mge.Parameter(np.float32(1.5))
    x = np.linspace(-2, 2, 5).astype(np.float32)
    gm = GradManager().attach([beta])
    with gm:
        y = f(t32(x), beta=beta)
        gm.backward(y.sum())
    xd = x.astype(np.float64)
    s = 1.0 / (1.0 + np.exp(-1.5 * xd))
    assert float(beta.grad.numpy()) == pytest.approx(float((xd * xd * s * (1 - s)).sum()), rel=1e-5)


# --------------------------------------------------------------------------- structural
def _torch_layout_state(c, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "conv.weight": rng.normal(size=(c, 1, 3, 3)),
        "conv.bias": rng.normal(size=c),
        "bn.weight": rng.uniform(0.5, 1.5, c),
        "bn.bias": rng.normal(size=c),
        "bn.running_mean": rng.normal(size=c) * 0.1,
        "bn.running_var": rng.uniform(0.5, 2.0, c),
        "bn.num_batches_tracked": np.array(7),
    }


def test_funnel_relu_matches_numpy_from_torch_layout_weights():
    c = 4
    state = _torch_layout_state(c)
    m = pa.get_activation("funnel_relu", "megengine", in_channels=c)
    assert isinstance(m.conv, M.Conv2d) and m.conv.groups == c and isinstance(m.bn, M.BatchNorm2d)
    assert tuple(m.conv.weight.shape) == (c, 1, 1, 3, 3) and tuple(m.conv.bias.shape) == (1, c, 1, 1)
    mbackend.load_torch_state(m, state)
    back = mbackend.torch_state(m)
    assert set(back) == set(state) - {"bn.num_batches_tracked"}
    for k, v in back.items():
        assert v.shape == np.shape(state[k])
        np.testing.assert_allclose(v, state[k], rtol=1e-6)
    ref = pa.get_activation("funnel_relu", "numpy", in_channels=c)
    ref.load_state_dict(state)
    x = np.random.default_rng(1).normal(size=(2, c, 7, 6)).astype(np.float32)
    m.eval()
    y = m(t32(x))
    assert tuple(y.shape) == x.shape
    np.testing.assert_allclose(npy(y), ref(x), rtol=1e-5, atol=1e-5)
    assert bool((npy(y) >= x).all())
    # half precision in, same dtype out, within float16 rounding of the float32 result
    yh = m(B.from_numpy(x, "float16"))
    assert B.dtype_name(yh) == "float16"
    y32 = npy(m(t32(x.astype(np.float16).astype(np.float32))))
    assert np.array_equal(B.to_numpy(yh), y32.astype(np.float16))
    # channels last
    mh = pa.get_activation("funnel_relu", "megengine", in_channels=c, channel_axis=-1)
    mh.load_torch_state(state)
    mh.eval()
    np.testing.assert_allclose(
        npy(mh(t32(np.moveaxis(x, 1, -1)))), np.moveaxis(ref(x), 1, -1), rtol=1e-5, atol=1e-5
    )


def test_funnel_relu_batch_norm_momentum_follows_torch():
    """MegEngine's momentum weighs the running value (0.9), torch's the batch (0.1): same update."""
    c = 3
    state = _torch_layout_state(c, seed=2)
    m = pa.get_activation("funnel_relu", "megengine", in_channels=c)
    assert m.bn.momentum == pytest.approx(0.9)
    m.load_torch_state(state)
    ref = pa.get_activation("funnel_relu", "numpy", in_channels=c)
    ref.load_state_dict(state)
    m.train()
    ref.train()
    x = np.random.default_rng(4).normal(1.0, 2.0, size=(3, c, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(npy(m(t32(x))), ref(x), rtol=1e-5, atol=1e-5)
    got, want = mbackend.torch_state(m), ref.state_dict()
    for k in ("bn.running_mean", "bn.running_var"):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_funnel_relu_trains_and_pickles():
    m = pa.get_activation("funnel_relu", "megengine", in_channels=2, seed=0)
    x = t32(np.random.default_rng(5).normal(size=(2, 2, 4, 4)))
    _, grads = B.param_grads(m, x)
    assert set(grads) == {"conv.weight", "conv.bias", "bn.weight", "bn.bias"}
    assert any(np.abs(g).sum() > 0 for g in grads.values())
    m.eval()
    m2 = pickle.loads(pickle.dumps(m))
    assert np.array_equal(npy(m2(x)), npy(m(x)))
    assert "FunnelRelu" in repr(m) and "in_channels=2" in repr(m)
    with pytest.raises(pa.ActivationError, match="4-D"):
        m(t32(np.ones((2, 2, 4))))
    with pytest.raises(pa.ActivationError, match="unexpected state"):
        m.load_torch_state({**_torch_layout_state(2), "bn.extra": np.ones(2)})
    with pytest.raises(pa.ActivationError, match="structural"):
        pa.get_function("funnel_relu", "megengine", in_channels=2)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_integer_and_bool_inputs_raise_typeerror(dtype):
    x = B.from_numpy(np.array([1, 0, 1]).astype(dtype))
    for obj in (
        pa.get_activation("relu", "megengine"),
        pa.get_function("gelu", "megengine"),
        pa.get_activation("funnel_relu", "megengine", in_channels=1),
    ):
        with pytest.raises(TypeError, match=r"[Cc]ast"):
            obj(x)
    with pytest.raises(pa.InvalidInputError, match="floating"):
        pa.get_activation("srelu", "megengine")(x)


def test_numpy_array_to_megengine_module_names_the_right_backend():
    m = pa.get_activation("mish", "megengine")
    with pytest.raises(pa.InvalidInputError, match="numpy") as info:
        m(np.ones(3, np.float32))
    assert "backend='numpy'" in str(info.value)
    with pytest.raises(pa.InvalidInputError, match="megengine tensor"):
        m(1.0)
    with pytest.raises(pa.ActivationError, match="in-place"):
        pa.get_activation("relu", "megengine", inplace=True)


# --------------------------------------------------------------------------- natives
SPECIALS = np.array([-1000.0, -6.0, -1.0, 0.5, 3.0, 1000.0], np.float32)


@pytest.mark.parametrize("name", NATIVES)
def test_native_agrees_with_composed(name):
    kern = pa.kernels(name, "megengine")
    x = np.concatenate([X49, SPECIALS])
    yn, gn = grad_of(make_fn(name, "megengine", kernel="native"), t32(x))
    yc, gc = grad_of(make_fn(name, "megengine", kernel="composed"), t32(x))
    assert kern["native"].kind == "native"
    np.testing.assert_allclose(yn, yc, rtol=2e-6, atol=1e-6)
    spec = pa.get_spec(name)
    keep = np.ones(x.shape, dtype=bool)  # kinks are checked below
    for at, _ in [(0.0, None), *spec.kink_points(spec.bind(required_params(name)))]:
        keep &= x != at
    np.testing.assert_allclose(gn[keep], gc[keep], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NATIVES)
def test_composed_meets_the_conventions(name):
    """Each kink's declared derivative; NaN in -> NaN out; at +-1000 what the
    reference says (finite where it is finite)."""
    spec = pa.get_spec(name)
    params = spec.bind(required_params(name))
    f = make_fn(name, "megengine", kernel="composed")
    kinks = spec.kink_points(params)
    y, g = grad_of(f, t32([*(at for at, _ in kinks), np.nan, 1000.0, -1000.0]))
    for i, (_, d) in enumerate(kinks):
        assert g[i] == np.float32(d), (i, g[i], d)
    n = len(kinks)
    assert np.isnan(y[n])
    from polyact.backends import reference as refb

    want = np.array([float(v) for v in refb.evaluate(spec, np.array([1000.0, -1000.0]), params)])
    assert np.array_equal(np.isfinite(y[n + 1 :]), np.isfinite(want))


def _xfail(reason):
    return pytest.mark.xfail(strict=True, reason=reason)


def test_native_relu_propagates_nan():
    """MegEngine's relu returns 0 for NaN; the special-value guard gives NaN."""
    y = pa.get_function("relu", "megengine", kernel="native")(t32([np.nan]))
    assert np.isnan(npy(y)).all()


@_xfail("MegEngine's native leaky_relu (Elemwise PRELU) puts x = 0 on the identity branch: gradient 1")
def test_native_leaky_relu_kink_gradient_is_the_slope():
    _, g = grad_of(
        pa.get_function("leaky_relu", "megengine", kernel="native", negative_slope=0.2), t32([0.0])
    )
    assert g[0] == np.float32(0.2)


@_xfail("MegEngine's native sigmoid gradient is y*(1-y): 0 for x >= 17 (true 4.1e-8 at x = 17)")
def test_native_sigmoid_gradient_in_the_saturated_tail():
    x = np.array([17.0, 20.0, 30.0], np.float32)
    _, g = grad_of(pa.get_function("sigmoid", "megengine", kernel="native"), t32(x))
    xd = x.astype(np.float64)
    np.testing.assert_allclose(g, np.exp(-xd) / (1 + np.exp(-xd)) ** 2, rtol=1e-3)


@_xfail("MegEngine's native gelu cancels in the negative tail: 4% off at x = -5, 0 for x <= -6")
def test_native_gelu_negative_tail():
    from scipy import special

    x = np.array([-5.0, -6.0, -8.0], np.float32)
    y = npy(pa.get_function("gelu", "megengine", kernel="native")(t32(x)))
    xd = x.astype(np.float64)
    np.testing.assert_allclose(y, 0.5 * xd * special.erfc(-xd / np.sqrt(2)), rtol=1e-3)


def test_composed_gelu_and_sigmoid_keep_the_tails():
    from scipy import special

    x = np.array([-5.0, -6.0, -8.0], np.float32)
    xd = x.astype(np.float64)
    y = npy(pa.get_function("gelu", "megengine", kernel="composed")(t32(x)))
    np.testing.assert_allclose(y, 0.5 * xd * special.erfc(-xd / np.sqrt(2)), rtol=1e-5)
    x = np.array([17.0, 20.0, 30.0], np.float32)
    _, g = grad_of(pa.get_function("sigmoid", "megengine", kernel="composed"), t32(x))
    xd = x.astype(np.float64)
    np.testing.assert_allclose(g, np.exp(-xd) / (1 + np.exp(-xd)) ** 2, rtol=1e-5)


def test_layouts_give_the_same_values():
    m = pa.get_activation("mish", "megengine", kernel="composed")
    base = np.random.default_rng(6).normal(size=(6, 7)).astype(np.float32) * 3
    t = t32(base)
    for x in (F.transpose(t, (1, 0)), t[:, ::2], F.broadcast_to(t32(base[:1]), (6, 7)), t[::-1]):
        y = m(x)
        assert tuple(y.shape) == tuple(x.shape)
        assert np.array_equal(npy(y), npy(m(t32(x.numpy()))))
        assert np.array_equal(npy(m(x)), npy(y))  # deterministic


def test_load_state_dict_accepts_float64_and_torch_layout():
    m = pa.get_activation("srelu", "megengine", num_channels=2)
    m.load_state_dict({k: np.asarray(v, np.float64) + 0.5 for k, v in m.state_dict().items()})
    assert m.t_left.dtype == np.float32 and npy(m.t_left).tolist() == [0.5, 0.5]
    f = pa.get_activation("funnel_relu", "megengine", in_channels=3)
    state = _torch_layout_state(3)
    f.load_state_dict(state)  # float64, torch layout, with num_batches_tracked
    np.testing.assert_allclose(mbackend.torch_state(f)["conv.weight"], state["conv.weight"], rtol=1e-6)
    with pytest.raises(pa.ActivationError, match="missing"):
        f.load_torch_state({"conv.weight": state["conv.weight"]})


def test_numpy_keeps_subnormals_after_megengine_runs():
    """Importing MegEngine (and starting its runtime) turns on flush-to-zero and
    denormals-are-zero in the importing thread; the backend restores the thread's
    mode, so NumPy there keeps IEEE subnormals (references computed in this
    process depend on it). MegEngine's own kernels still treat a subnormal input
    as zero, which the backend declares."""
    f = pa.get_function("log1mexp", "megengine")
    sub = np.array([1e-40, -3e-39], dtype=np.float32)
    y = npy(f(t32(np.abs(sub))))  # the kernel sees 0: log(1 - e^-0) = -inf
    assert np.all(sub.astype(np.float64) != 0.0)  # DAZ would read them as 0
    assert np.all(sub * np.float32(1.0) == sub)  # FTZ would write 0
    assert np.float64(1e-310) * 1.0 == 1e-310
    assert np.all(y == -np.inf), y
    assert B.flushes_subnormal_inputs


def test_set_plain_leaves_tensors_in_tuples_to_megengine():
    """A dict of plain values (tuples of numbers included) is recorded without
    MegEngine's walk; a tuple holding a tensor goes through ``__setattr__``, so
    that MegEngine still finds the tensor."""
    from polyact.backends import _megengine_modules as mm

    class Holder(M.Module):
        def forward(self, x):
            return x

    plain, held, ref = Holder(), Holder(), Holder()
    mm.set_plain(plain, "cfg", {"a": 1.5, "dims": (1, (2, 3.0)), "name": "x"})
    assert plain.cfg["dims"] == (1, (2, 3.0)) and "cfg" in plain._modules
    t, u = t32([1.0, 2.0]), t32([1.0, 2.0])
    mm.set_plain(held, "cfg", {"pair": (t, 3.0)})
    ref.cfg = {"pair": (u, 3.0)}
    assert [k for k, _ in held.named_tensors()] == [k for k, _ in ref.named_tensors()] == ["cfg.pair.0"]
    assert (t._short_name, t._name) == (u._short_name, u._name) and u._name  # named, as MegEngine names
