"""torch object conventions: modules, parameters, state_dict, in-place, dtypes, structural."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest

import polyact as pa

from .conftest import BACKENDS, make_act

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
    assert pa.auto_kernel("gelu", "torch") != "native"  # native breaks the contract
    assert pa.get_activation("gelu", backend="torch", kernel="native").kernel == "native"


def test_cross_parameter_check_skips_traced_values():
    """srelu's t_left < t_right check applies to numbers, not to tensors being differentiated."""
    f = pa.get_function("srelu", backend="torch")
    t = torch.tensor(2.0, requires_grad=True)
    y = f(torch.tensor([1.0, 3.0]), t_right=t)
    (g,) = torch.autograd.grad(y.sum(), t)
    assert g.item() == 0.0  # a_right = 1: d/dt_right (t + 1*(x - t)) = 0


@pytest.mark.parametrize("name,params", [("mish", {}), ("aria2", {}), ("srelu", {"num_channels": 4})])
def test_modules_compile_without_graph_breaks(name, params):
    m = make_act(name, backend="torch", **params)
    compiled = torch.compile(m, fullgraph=True)
    x = torch.randn(8, 4) * 5
    assert torch.allclose(compiled(x), m(x), rtol=1e-6, atol=1e-7)


def test_probact_sigma_gradient_is_the_summed_noise_torch():
    m = pa.get_activation("probact", "torch", sigma=0.5, seed=1)
    x = torch.linspace(-2, 2, 101)
    y = m(x)
    y.sum().backward()
    noise = (y.detach() - torch.relu(x)) / 0.5
    torch.testing.assert_close(m.sigma.grad, noise.sum(), rtol=1e-5, atol=1e-4)
