"""torch object conventions: modules, parameters, state_dict, in-place, dtypes, structural."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import polyact as pa

from .conftest import BACKENDS, make_act, required_params

if "torch" not in BACKENDS:
    pytest.skip("torch backend not under test in this environment", allow_module_level=True)

import torch
from torch import nn


def test_fresh_module_per_lookup_with_repr():
    a = pa.get_activation("leaky_relu", backend="torch", negative_slope=0.1)
    b = pa.get_activation("leaky_relu", backend="torch", negative_slope=0.1)
    assert isinstance(a, nn.Module) and a is not b
    assert repr(a) == "LeakyRelu(negative_slope=0.1)"
    assert torch.equal(a(torch.tensor([-1.0, 2.0])), torch.tensor([-0.1, 2.0]))


def test_trainable_parameters_and_state_dict_round_trip():
    m = pa.get_activation("srelu", backend="torch", num_channels=4)
    names = dict(m.named_parameters())
    assert set(names) == {"t_left", "a_left", "t_right", "a_right"}
    assert all(isinstance(p, nn.Parameter) and p.shape == (4,) for p in names.values())
    with torch.no_grad():
        m.t_right.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    m2 = pa.get_activation("srelu", backend="torch", num_channels=4)
    m2.load_state_dict(m.state_dict())
    x = torch.randn(5, 4, 3) * 4
    assert torch.equal(m(x), m2(x))
    buf = io.BytesIO()
    torch.save(m, buf)
    buf.seek(0)
    m3 = torch.load(buf, weights_only=False)
    assert torch.equal(m3(x), m(x))
    assert torch.equal(pickle.loads(pickle.dumps(m))(x), m(x))


def test_training_step_moves_a_trainable_parameter():
    m = pa.get_activation("soft_exponential", backend="torch")
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x = torch.linspace(-2, 2, 9)
    loss = (m(x) - torch.exp(x)).pow(2).mean()
    loss.backward()
    assert m.alpha.grad is not None and m.alpha.grad.item() != 0.0
    opt.step()
    assert m.alpha.item() > 0.0  # moves toward exp


def test_channel_axis_is_explicit():
    last = pa.get_activation(
        "srelu", backend="torch", num_channels=3, channel_axis=-1, t_right=[1.0, 2.0, 3.0], a_right=0.0
    )
    y = last(torch.full((2, 5, 3), 10.0))
    assert torch.equal(y[0, 0], torch.tensor([1.0, 2.0, 3.0]))
    nchw = pa.get_activation("srelu", backend="torch", num_channels=3, t_right=[1.0, 2.0, 3.0], a_right=0.0)
    y = nchw(torch.full((2, 3, 4, 4), 10.0))
    assert torch.equal(y[0, :, 0, 0], torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(pa.InvalidInputError, match="3 channels but the input has 5"):
        nchw(torch.ones(2, 5, 4))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computed_in_float32(dtype):
    x = torch.linspace(-20, 20, 101).to(dtype)
    for name in ("mish", "gelu", "soft_clipping", "elish"):
        y = make_act(name, backend="torch")(x)
        assert y.dtype == dtype
        expected = make_act(name, backend="torch")(x.float()).to(dtype)
        assert torch.equal(y, expected), name


def test_funnel_relu_structural():
    m = pa.get_activation("funnel_relu", backend="torch", in_channels=4, seed=0)
    assert isinstance(m.conv, nn.Conv2d) and m.conv.groups == 4 and m.conv.kernel_size == (3, 3)
    assert isinstance(m.bn, nn.BatchNorm2d)
    x = torch.randn(2, 4, 6, 6)
    y = m(x)
    assert y.shape == x.shape and bool((y >= x).all())
    m.eval()
    t = m.bn(m.conv(x))
    assert torch.equal(m(x), torch.where(t > x, t, x))
    m2 = pa.get_activation("funnel_relu", backend="torch", in_channels=4, seed=1).eval()
    m2.load_state_dict(m.state_dict())
    assert torch.equal(m2(x), m(x))
    # the NumPy backend reproduces it from the same state
    npm = pa.get_activation("funnel_relu", backend="numpy", in_channels=4)
    npm.load_state_dict({k: v.numpy() for k, v in m.state_dict().items()})
    np.testing.assert_allclose(npm(x.numpy()), m(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_function_form_takes_trainable_values_as_tensors():
    f = pa.get_function("swish", backend="torch")
    beta = torch.tensor(1.5, requires_grad=True)
    x = torch.linspace(-2, 2, 5, dtype=torch.float64)
    y = f(x, beta=beta)
    (g,) = torch.autograd.grad(y.sum(), beta)
    expected = (x * x * torch.sigmoid(1.5 * x) * torch.sigmoid(-1.5 * x)).sum()
    assert torch.allclose(g.double(), expected)


def test_native_kernel_is_auto_where_eligible():
    assert pa.get_activation("mish", backend="torch").kernel == "auto"
    assert pa.auto_kernel("mish", "torch") in ("native", "fused", "fast", "composed", "compiled")
    assert pa.auto_kernel("celu", "torch") != "native"  # native breaks the contract
    assert pa.get_activation("celu", backend="torch", kernel="native").kernel == "native"


def test_cross_parameter_check_skips_traced_values():
    """srelu's t_left < t_right check applies to numbers, not to tensors being differentiated."""
    f = pa.get_function("srelu", backend="torch")
    t = torch.tensor(2.0, requires_grad=True)
    y = f(torch.tensor([1.0, 3.0]), t_right=t)
    (g,) = torch.autograd.grad(y.sum(), t)
    assert g.item() == 0.0  # a_right = 1: d/dt_right (t + 1*(x - t)) = 0


@pytest.mark.parametrize(
    "name,params,backend",
    [("mish", {}, "aot_eager"), ("aria2", {}, "aot_eager"), ("srelu", {"num_channels": 4}, "inductor")],
)
def test_modules_compile_without_graph_breaks(name, params, backend):
    """Dynamo with fullgraph (a graph break raises) and AOTAutograd's tracing;
    inductor's code generation (seconds of C++ per module) for the module with
    parameters only."""
    m = make_act(name, backend="torch", **params)
    compiled = torch.compile(m, fullgraph=True, backend=backend)
    x = torch.randn(8, 4) * 5
    assert torch.allclose(compiled(x), m(x), rtol=1e-6, atol=1e-7)


def test_probact_sigma_gradient_is_the_summed_noise_torch():
    m = pa.get_activation("probact", "torch", sigma=0.5, seed=1)
    x = torch.linspace(-2, 2, 101)
    y = m(x)
    y.sum().backward()
    noise = (y.detach() - torch.relu(x)) / 0.5
    torch.testing.assert_close(m.sigma.grad, noise.sum(), rtol=1e-5, atol=1e-4)


# ------------------------------------------------- the guard skipped where the native op is exact
NATIVES = [  # (per-channel parameters arrive shaped: the probe leaves those kernels guarded)
    n
    for n in pa.list_activations()
    if pa.get_spec(n).elementwise
    and "native" in pa.kernels(n, "torch")
    and not any(p.per_channel for p in pa.get_spec(n).params.values())
]


def _same(u, v):
    """Equal values, NaN where NaN (any NaN's bits)."""
    return torch.equal(torch.isnan(u), torch.isnan(v)) and torch.equal(
        torch.nan_to_num(u, nan=0.0), torch.nan_to_num(v, nan=0.0)
    )


def _guard_reference(name, x):
    """The native kernel behind the explicit special-value guard: values and gradient."""
    from polyact.backends.torch import backend as tb

    spec = pa.get_spec(name)
    params = spec.bind(required_params(name))
    impl = pa.kernels(name, "torch")["native"].impl
    impl = getattr(impl, "beyond", impl)  # an op correct up to a bound: the formula beyond it
    xg = x.clone().requires_grad_(True)
    y = tb._guarded(impl, xg, dict(params), tb._limits(spec, params))
    (g,) = torch.autograd.grad(y, xg, grad_outputs=torch.full_like(y, 0.5))
    return y.detach(), g


@pytest.mark.parametrize("name", NATIVES)
def test_native_kernels_match_the_full_guard_at_special_values(name):
    """Every call of a native kernel on special inputs gives what the full guard
    gives, bit for bit, whether it runs guarded or bare (the framework op probed
    exact there): on a vector long enough for the threaded SIMD loop, forward
    with and without autograd, and the gradient."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=(1 << 16) + 7).astype(np.float32) * 6
    idx = rng.choice(a.size, 600, replace=False)
    a[idx[:200]], a[idx[200:400]], a[idx[400:]] = np.inf, -np.inf, np.nan
    x = torch.from_numpy(a)
    f = pa.get_function(name, "torch", kernel="native", **required_params(name))
    want_y, want_g = _guard_reference(name, x)
    with torch.no_grad():
        assert _same(f(x), want_y)
    xg = x.clone().requires_grad_(True)
    y = f(xg)
    (g,) = torch.autograd.grad(y, xg, grad_outputs=torch.full_like(y, 0.5))
    assert _same(y.detach(), want_y) and _same(g, want_g)


@pytest.mark.parametrize("n", [5, 33, 1 << 12, (1 << 16) + 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_eager_finiteness_check(n, dtype):
    """The eager CPU check that lets a kernel run without the guard (a sum, in
    Python for a few elements): one special value anywhere (first, last, in
    each SIMD lane and thread chunk) sends the call through the guard, which
    puts the limit there; an all-finite input runs bare and gives the
    formula's values."""
    from polyact.backends import torch as tmod

    base = torch.linspace(-4.0, 4.0, n, dtype=dtype)
    f = pa.get_function("silu", "torch", kernel="native")
    want = base * torch.sigmoid(base)
    positions = sorted({0, n - 1, n // 2, *range(min(n, 17)), *range(max(0, n - 17), n)})
    for i, pos in enumerate(positions):
        special, limit = [(float("nan"), None), (float("inf"), float("inf")), (-float("inf"), 0.0)][i % 3]
        x = base.clone()
        x[pos] = special
        assert tmod._finite_sum(x) is False, (pos, special)
        assert tmod._finite_sum(x.reshape(1, -1).t()) is False  # a strided view alike
        y = f(x)
        assert torch.isnan(y[pos]) if limit is None else y[pos] == limit, (pos, y[pos])
        keep = torch.arange(n) != pos
        torch.testing.assert_close(y[keep], want[keep])
    assert tmod._finite_sum(base) is True and tmod._finite_sum(base.requires_grad_(True)) is True
    torch.testing.assert_close(f(base.detach()), want)


def test_exact_native_ops_skip_the_guard(monkeypatch):
    """sigmoid and tanh are exact at +-inf and NaN on torch, forward and
    backward: their native kernels run bare on special inputs. relu's backward at
    NaN is 0 (the contract says NaN): bare only without autograd. silu(-inf) is
    NaN: always guarded. softplus depends on the CPU (its SIMD loop and scalar
    tail make NaNs of different signs with AVX2, not with AVX-512): it runs as
    the probe finds."""
    from polyact.backends.torch import backend as tb

    calls = []
    real = tb._guarded
    monkeypatch.setattr(tb, "_guarded", lambda *a: calls.append(1) or real(*a))
    x = torch.tensor([-float("inf"), -1.0, 0.5, float("inf"), float("nan")] * 20)

    def guarded_calls(name, grad):
        calls.clear()
        f = pa.get_function(name, "torch", kernel="native")
        xg = x.clone().requires_grad_(grad)
        y = f(xg)
        if grad:
            (g,) = torch.autograd.grad(y, xg, grad_outputs=torch.ones_like(y))
            assert torch.isnan(g[4]) and not torch.isnan(g[:4]).any()
        assert torch.isnan(y[4]) and not torch.isnan(y[:4]).any()
        return len(calls)

    for name in ("sigmoid", "tanh"):
        assert guarded_calls(name, False) == 0 and guarded_calls(name, True) == 0, name
    assert guarded_calls("relu", False) == 0 and guarded_calls("relu", True) == 1
    spec = pa.get_spec("softplus")
    fwd, bwd = tb._probe_specials(spec, tb.builtin_kernels(spec)["native"].impl, spec.bind({}), torch.float32)
    assert guarded_calls("softplus", False) == (0 if fwd else 1), fwd
    assert guarded_calls("softplus", True) == (0 if fwd and bwd else 1), (fwd, bwd)
    assert guarded_calls("silu", False) == 1 and guarded_calls("silu", True) == 1
    # the values at the specials: the limits
    y = pa.get_function("softplus", "torch", kernel="native")(x)
    assert y[0] == 0 and y[3] == float("inf")


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "hard_swish"])
def test_native_ops_correct_up_to_a_bound(name, monkeypatch):
    """torch's gelu, tanh gelu and hardswish overflow near the float maximum
    (their specs give a bound): an eager CPU input within the bound runs the op
    bare (its bits); one with an element beyond it runs the op within the bound
    and the formula beyond (finite values and gradients), also with special
    values, under autograd and for the fused kernel (whose forward keeps the
    formula)."""
    from polyact.backends import torch as tmod

    spec = pa.get_spec(name)
    bound = spec.native["torch"].bound
    assert bound is not None and pa.kernels(name, "torch")["native"].eligible
    f = pa.get_function(name, "torch", kernel="native")
    composed = pa.get_function(name, "torch", kernel="composed")
    op = spec.native["torch"].fn
    x = torch.linspace(-8.0, 8.0, 1001)
    assert torch.equal(f(x), op(torch, x))  # within: the op itself
    assert tmod._within(x, bound) and not tmod._within(x.clone().fill_(float("nan")), bound)
    guarded = []
    real = tmod.backend._guarded
    monkeypatch.setattr(tmod.backend, "_guarded", lambda *a: guarded.append(1) or real(*a))
    big = torch.cat([x, torch.tensor([3e38, -3e38, 2 * bound, float("inf"), -float("inf"), float("nan")])])
    xg = big.clone().requires_grad_(True)
    y = f(xg)
    (g,) = torch.autograd.grad(y.sum(), xg)
    assert guarded == [1]
    want_y, want_g = composed(big[-6:]), None
    xc = big[-6:].clone().requires_grad_(True)
    (want_g,) = torch.autograd.grad(composed(xc).sum(), xc)
    assert torch.equal(y[:-6].detach(), op(torch, x))  # the op's bits within the bound
    torch.testing.assert_close(y[-6:].detach(), want_y, equal_nan=True)  # the formula beyond
    assert torch.isfinite(y[-6:-3]).all() and torch.isfinite(g[:-1]).all() and torch.isnan(g[-1])
    torch.testing.assert_close(g[-6:], want_g, equal_nan=True)
    # fused keeps the formula forward (the op would overflow inside its blocks)
    fused = pa.get_function(name, "torch", kernel="fused")
    assert torch.isfinite(fused(big[-6:-3])).all()
