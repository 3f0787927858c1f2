"""The drop-in facades: Echo's classes (t_ops on torch, m_ops on MegEngine) and
zeta's LaplaceActivation, checked against the canonical activations or, where
the facade reproduces Echo's documented deviation, against Echo's formula.

The examples of Echo's documentation pages (github.com/digantamisra98/Echo-Docs,
echoai.activation/megengine.md and pytorch.md: one code line per class, which
refers to ``echoAI.Activation.<ops>.<Class>``) and of zeta's LaplaceActivation
page (kyegomez/zeta, docs/zeta/nn/modules/laplaceactivation.md) run below with
only their import line changed. Tests exist only for the backends this
environment tests (conftest.BACKENDS), so nothing is skipped there.
"""

from __future__ import annotations

import importlib
import inspect
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import polyact as pa

from .conftest import BACKENDS

FACADES = {"torch": "polyact.compat.echo.t_ops", "megengine": "polyact.compat.echo.m_ops"}
ECHO_BACKENDS = [b for b in BACKENDS if b in FACADES]


def only_on(backend):
    """Define the test only where ``backend`` is under test (nothing to skip elsewhere)."""
    return lambda test: test if backend in BACKENDS else None


@pytest.fixture(autouse=True, scope="module")
def _private_registration():
    """polyact.compat.echo registers Echo's x-less Aria2 as ``_echo_aria2``; drop
    it again after this module so later test modules see the built-ins only."""
    try:
        pa.get_spec("_echo_aria2")
        before = True
    except pa.UnknownActivationError:
        before = False
    yield
    if not before:
        try:
            pa.unregister_activation("_echo_aria2")
        except pa.UnknownActivationError:
            pass


def _facade(backend):
    return importlib.import_module(FACADES[backend])


def _run(backend, module, x, dtype="float32"):
    be = pa.get_backend(backend)
    return np.asarray(be.to_numpy(module(be.from_numpy(x, dtype))), dtype=np.float64)


def _canonical(name, **params):
    f = pa.get_function(name, "numpy", **params)
    return lambda x: np.asarray(f(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _close(got, want, rtol=2e-5, atol=2e-6):
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


X = np.concatenate([np.linspace(-6.0, 6.0, 23), [-1.0, 0.0, 0.5, 2.0, 3.0]]).reshape(4, 7)
IN_FEATURES = X.shape[-1]
IN_CHANNELS = 3
X_NCHW = np.random.default_rng(7).normal(size=(2, IN_CHANNELS, 5, 5))


# --------------------------------------------------------------------------- imports
def test_compat_packages_import_no_framework():
    code = textwrap.dedent(
        """
        import sys
        import polyact, polyact.compat, polyact.compat.echo
        from polyact.compat import echo as echoAI
        assert echoAI.Activation is echoAI
        echoAI.swish_plan(eswish=True)
        loaded = [m for m in ("torch", "jax", "megengine") if m in sys.modules]
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- Echo's pages
# (code on the page, the input, the expected values): Echo's formula as the page
# writes it, or the canonical activation where the two agree
MEGENGINE_PAGE = [
    ("echoAI.Activation.m_ops.Mish()", X, lambda x: x * np.tanh(_softplus(x))),
    (
        "echoAI.Activation.m_ops.Swish(eswish = False, swish = True, beta = 1.735, flatten = False)",
        X,
        lambda x: x * _sigmoid(1.0 * x),  # the trainable beta_1 starts at 1
    ),
    ("echoAI.Activation.m_ops.Aria2(beta = 0.5, alpha = 1.0)", X, lambda x: (1.0 + np.exp(-0.5 * x)) ** -1.0),
    (
        "echoAI.Activation.m_ops.Elish(hard = False)",
        X,
        lambda x: np.where(x >= 0, x * _sigmoid(x), np.expm1(np.minimum(x, 0)) * _sigmoid(x)),
    ),
    ("echoAI.Activation.m_ops.ISRU(alpha = 1.0, isrlu = False)", X, lambda x: x / np.sqrt(1.0 + x * x)),
    ("echoAI.Activation.m_ops.NLReLU(beta = 1.0)", X, lambda x: np.log(np.maximum(x, 0.0) + 1.0)),
    (
        "echoAI.Activation.m_ops.SoftClipping(alpha = 0.5)",
        X,
        lambda x: np.log((1.0 + np.exp(0.5 * x)) / (1.0 + np.exp(0.5 * (x - 1.0)))) / 0.5,
    ),
    ("echoAI.Activation.m_ops.SoftExponential(alpha = None)", X, lambda x: x),  # alpha starts at 0
    (
        "echoAI.Activation.m_ops.SQNL()",
        X,
        lambda x: np.where(
            x > 2, 1.0, np.where(x >= 0, x - x * x / 4, np.where(x >= -2, x + x * x / 4, -1.0))
        ),
    ),
    (
        "echoAI.Activation.m_ops.SReLU(in_features, parameters = None)",
        X,
        _canonical("srelu", num_channels=IN_FEATURES, channel_axis=-1),  # polyact's start values
    ),
    ("echoAI.Activation.m_ops.FReLU(in_channels)", X_NCHW, None),  # checked against its layers
]

TORCH_PAGE = [
    ("echoAI.Activation.t_ops.Mish()", X, MEGENGINE_PAGE[0][2]),
    (
        "echoAI.Activation.t_ops.Swish(eswish = False, swish = True, beta = 1.735, flatten = False, pfts = False)",
        X,
        MEGENGINE_PAGE[1][2],
    ),
    ("echoAI.Activation.t_ops.Aria2(beta = 0.5, alpha = 1.0)", X, MEGENGINE_PAGE[2][2]),
    ("echoAI.Activation.t_ops.Elish(hard = False)", X, MEGENGINE_PAGE[3][2]),
    ("echoAI.Activation.t_ops.ISRU(alpha = 1.0, isrlu = False)", X, MEGENGINE_PAGE[4][2]),
    ("echoAI.Activation.t_ops.NLReLU(beta = 1.0, inplace = False)", X, MEGENGINE_PAGE[5][2]),
    ("echoAI.Activation.t_ops.SoftClipping(alpha = 0.5)", X, MEGENGINE_PAGE[6][2]),
    ("echoAI.Activation.t_ops.SoftExponential(alpha = None)", X, MEGENGINE_PAGE[7][2]),
    ("echoAI.Activation.t_ops.SQNL()", X, MEGENGINE_PAGE[8][2]),
    ("echoAI.Activation.t_ops.SReLU(in_features, parameters = None)", X, MEGENGINE_PAGE[9][2]),
    ("echoAI.Activation.t_ops.Funnel(in_channels)", X_NCHW, None),
    ("echoAI.Activation.t_ops.Seagull()", X, lambda x: np.log(1.0 + x * x)),
    ("echoAI.Activation.t_ops.BReLU()", X, lambda x: _bipolar(x, axis=1)),
    ("echoAI.Activation.t_ops.Maxout()", X, lambda x: x),  # pool_size=1: one unit per group
    (
        "echoAI.Activation.t_ops.DICE(emb_size, dim = 2, epsilon = 1e-8)",
        X,  # training mode: the batch's E(x) and Var(x); alpha starts at 0
        lambda x: _sigmoid((x - x.mean(0)) / np.sqrt(x.var(0) + 1e-8)) * x,
    ),
]


def _bipolar(x, axis):
    odd = (np.arange(x.shape[axis]) % 2 == 1).reshape(
        [-1 if a == axis % x.ndim else 1 for a in range(x.ndim)]
    )
    return np.where(odd, np.minimum(x, 0.0), np.maximum(x, 0.0))


def _page_cases(page):
    return [pytest.param(code, x, want, id=code.split("(")[0].rsplit(".", 1)[1]) for code, x, want in page]


def _run_page_line(backend, code, x, want):
    # Echo's page writes echoAI.Activation.<ops>.<Class>(...); the one import line:
    from polyact.compat import echo as echoAI

    placeholders = {"in_features": IN_FEATURES, "in_channels": IN_CHANNELS, "emb_size": IN_FEATURES}
    module = eval(code, {"echoAI": echoAI, **placeholders})
    base = pa.get_backend(backend).fw
    assert isinstance(module, base.nn.Module if backend == "torch" else base.module.Module)
    got = _run(backend, module, x)  # training mode, as a module starts
    assert got.shape == x.shape
    if want is None:  # the funnel activation: max(x, BN(conv(x))) with the module's own layers
        inner = module.act
        t = _run(backend, lambda v: inner.bn(inner.conv(v)), x)
        _close(got, np.maximum(x, t))
    else:
        _close(got, want(x))


@only_on("megengine")
@pytest.mark.parametrize("code,x,want", _page_cases(MEGENGINE_PAGE))
def test_echo_megengine_page_examples(code, x, want):
    _run_page_line("megengine", code, x, want)


@only_on("torch")
@pytest.mark.parametrize("code,x,want", _page_cases(TORCH_PAGE))
def test_echo_pytorch_page_examples(code, x, want):
    _run_page_line("torch", code, x, want)


@only_on("torch")
def test_echo_snippet_example():
    """Echo's "Snippets" page (PyTorch), import line changed."""
    # import PyTorch
    import torch

    # import activation function from echoAI
    from polyact.compat.echo.t_ops import Mish  # was: from echoAI.Activation.Torch.mish import Mish

    # apply activation function
    mish = Mish()
    t = torch.tensor(0.1)
    t_mish = mish(t)

    assert t_mish.shape == () and t_mish.dtype == torch.float32
    assert math.isclose(float(t_mish), 0.1 * math.tanh(math.log1p(math.exp(0.1))), rel_tol=1e-6)


# --------------------------------------------------------------------------- signatures
M_OPS_SIGNATURES = {
    "Mish": "()",
    "Swish": "(eswish=False, swish=True, beta=1.735, flatten=False)",
    "Aria2": "(beta=0.5, alpha=1.0)",
    "Elish": "(hard=False)",
    "ISRU": "(alpha=1.0, isrlu=False)",
    "NLReLU": "(beta=1.0)",
    "SoftClipping": "(alpha=0.5)",
    "SoftExponential": "(alpha=None)",
    "SQNL": "()",
    "SReLU": "(in_features, parameters=None)",
    "FReLU": "(in_channels)",
}

T_OPS_SIGNATURES = {
    "Mish": "()",
    "Swish": "(eswish=False, swish=True, beta=1.735, flatten=False, pfts=False)",
    "Aria2": "(beta=0.5, alpha=1.0)",
    "Elish": "(hard=False)",
    "ISRU": "(alpha=1.0, isrlu=False)",
    "NLReLU": "(beta=1.0, inplace=False)",
    "SoftClipping": "(alpha=0.5)",
    "SoftExponential": "(alpha=None)",
    "SQNL": "()",
    "SReLU": "(in_features, parameters=None)",
    "Funnel": "(in_channels)",
    "ProbAct": "(num_parameters=1, init=0)",
    "Seagull": "()",
    "Sine": "(w0=1.0)",
    "BReLU": "()",
    "Maxout": "(pool_size=1)",
    "DICE": "(emb_size, dim=2, epsilon=1e-08)",
    "XUnit": "(out_channels, kernel_size=9)",
    "TanhSoft": "(alpha=0.0, beta=0.6, gamma=1.0, delta=0.0)",
    "EIS": "(alpha, beta, gamma, delta, theta)",
    "FReLU": "(in_channels)",
    "AReLU": "(alpha=0.9, beta=2.0)",
    "MPeLU": "(alpha=0.25, beta=1.0)",
    "APL": "(s=1)",
    "Snake": "(in_features, alpha=None, alpha_trainable=True)",
}


def _signature(cls):
    sig = inspect.signature(cls)
    return (
        "("
        + ", ".join(
            str(p).split(":")[0] if p.default is p.empty else f"{p.name}={p.default!r}"
            for p in sig.parameters.values()
        )
        + ")"
    )


@pytest.mark.parametrize("backend", ECHO_BACKENDS)
def test_echo_class_names_and_signatures(backend):
    mod = _facade(backend)
    expected = T_OPS_SIGNATURES if backend == "torch" else M_OPS_SIGNATURES
    assert set(mod.__all__) == set(expected)
    for name, sig in expected.items():
        assert _signature(getattr(mod, name)) == sig, name


# --------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("backend", ECHO_BACKENDS)
def test_swish_flags_in_order_of_precedence(backend):
    ops = _facade(backend)
    silu = _canonical("silu")
    _close(_run(backend, ops.Swish(swish=False), X), silu(X))
    _close(_run(backend, ops.Swish(), X), silu(X))  # trainable beta_1 = 1
    eswish = 1.735 * X * _sigmoid(X)
    _close(_run(backend, ops.Swish(eswish=True), X), eswish)
    _close(_run(backend, ops.Swish(eswish=True, flatten=True), X), eswish)
    _close(_run(backend, ops.Swish(eswish=True, beta=1.25, swish=False), X), 1.25 * X * _sigmoid(X))
    # MegEngine page: Flatten T-Swish with T = 0; the PyTorch page: the paper's T = -0.2
    t = 0.0 if backend == "megengine" else -0.2
    _close(_run(backend, ops.Swish(flatten=True), X), np.where(X >= 0, X * _sigmoid(X) + t, t))
    _close(_run(backend, ops.Swish(flatten=True), X), _canonical("flatten_t_swish", threshold=t)(X))
    # only swish=True trains (beta_1)
    names = [n for n, _ in ops.Swish().named_parameters()]
    assert len(names) == 1 and names[0].endswith("beta")
    assert not list(ops.Swish(swish=False).named_parameters())


@pytest.mark.parametrize("backend", ECHO_BACKENDS)
def test_swish_beta_and_soft_exponential_alpha_train(backend):
    ops = _facade(backend)
    be = pa.get_backend(backend)
    x = X.astype(np.float32)
    _, grads = be.param_grads(ops.Swish(), be.from_numpy(x, "float32"))
    (g,) = grads.values()
    # d/dbeta x sigmoid(beta x) at beta = 1: x^2 sigmoid'(x)
    _close(float(g), np.sum(X * X * _sigmoid(X) * _sigmoid(-X)), rtol=1e-4)
    act = ops.SoftExponential()
    assert float(be.to_numpy(act.alpha)) == 0.0
    _, grads = be.param_grads(act, be.from_numpy(x, "float32"))
    (g,) = grads.values()
    _close(float(g), np.sum(1.0 + X * X / 2.0), rtol=1e-4)  # Echo's alpha never leaves 0


@pytest.mark.parametrize("backend", ECHO_BACKENDS)
def test_aria2_is_echos_curve_not_the_papers(backend):
    ops = _facade(backend)
    for beta, alpha in ((0.5, 1.0), (1.0, 1.5), (2.0, 0.5)):
        want = (1.0 + np.exp(-beta * X)) ** -alpha
        got = _run(backend, ops.Aria2(beta=beta, alpha=alpha), X)
        _close(got, want)
        # polyact's aria2 (the paper) is x times Echo's curve
        _close(_canonical("aria2", beta=beta, alpha=alpha)(X), X * want, rtol=1e-12, atol=1e-12)
    # finite value and gradient where Echo's pow(1 + exp(-beta x), -alpha) gives NaN
    be = pa.get_backend(backend)
    xs = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=np.float32)
    y, g = be.value_and_grad(ops.Aria2(), be.from_numpy(xs, "float32"))
    assert np.all(np.isfinite(be.to_numpy(y))) and np.all(np.isfinite(be.to_numpy(g)))


@pytest.mark.parametrize("backend", ECHO_BACKENDS)
def test_elish_isru_and_friends_are_canonical(backend):
    ops = _facade(backend)
    cases = [
        (ops.Elish(hard=True), _canonical("hard_elish")),
        (ops.ISRU(alpha=0.5, isrlu=True), _canonical("isrlu", alpha=0.5)),
        (ops.ISRU(alpha=2.0), _canonical("isru", alpha=2.0)),
        (ops.NLReLU(beta=2.0), _canonical("nlrelu", beta=2.0)),
        (ops.SoftClipping(alpha=2.0), _canonical("soft_clipping", alpha=2.0)),
        (ops.SoftExponential(alpha=0.25), _canonical("soft_exponential", alpha=0.25)),
        (ops.SoftExponential(alpha=-0.25), _canonical("soft_exponential", alpha=-0.25)),
    ]
    for module, want in cases:
        _close(_run(backend, module, X), want(X))
    # Hard ELiSH with exp(x) - 1 as Echo's page writes it (Echo's code: exp(x - 1))
    _close(_canonical("hard_elish")(np.array([-0.5])), [(math.exp(-0.5) - 1.0) * 0.25])


@pytest.mark.parametrize("backend", ECHO_BACKENDS)
def test_srelu_parameters_tuple_and_feature_axis(backend):
    ops = _facade(backend)
    be = pa.get_backend(backend)
    rng = np.random.default_rng(3)
    tl = rng.uniform(-2.0, -0.5, IN_FEATURES)
    tr = rng.uniform(0.5, 2.0, IN_FEATURES)
    al = rng.uniform(0.0, 0.5, IN_FEATURES)
    ar = rng.uniform(0.5, 2.0, IN_FEATURES)
    params = tuple(be.from_numpy(v, "float32") for v in (tr, tl, ar, al))  # Echo's order
    act = ops.SReLU(IN_FEATURES, params)
    f32 = lambda v: v.astype(np.float32).astype(np.float64)
    tl, tr, al, ar = f32(tl), f32(tr), f32(al), f32(ar)
    want = np.where(X >= tr, tr + ar * (X - tr), np.where(X <= tl, tl + al * (X - tl), X))
    _close(_run(backend, act, X), want)
    _close(be.to_numpy(act.tr), tr)
    _close(be.to_numpy(act.al), al)
    names = sorted(n.rsplit(".", 1)[-1] for n, _ in act.named_parameters())
    assert names == ["a_left", "a_right", "t_left", "t_right"]
    # in_features as a trailing shape with one entry above 1: the channel axis of NCHW
    act = ops.SReLU((IN_CHANNELS, 1, 1), (1.0, -1.0, 0.5, 0.1))
    _close(
        _run(backend, act, X_NCHW),
        np.where(
            X_NCHW >= 1, 1 + 0.5 * (X_NCHW - 1), np.where(X_NCHW <= -1, -1 + 0.1 * (X_NCHW + 1), X_NCHW)
        ),
    )
    assert act.act.channel_axis == -3
    with pytest.raises(pa.ActivationError):
        ops.SReLU((2, 3))


@pytest.mark.parametrize("backend", ECHO_BACKENDS)
def test_half_precision_keeps_dtype(backend):
    ops = _facade(backend)
    be = pa.get_backend(backend)
    y = ops.Aria2()(be.from_numpy(X, "float16"))
    assert be.dtype_name(y) == "float16"
    _close(
        np.asarray(be.to_numpy(y), dtype=np.float64), (1.0 + np.exp(-0.5 * X)) ** -1.0, rtol=2e-3, atol=2e-3
    )


@only_on("torch")
def test_nlrelu_inplace():
    import torch

    from polyact.compat.echo.t_ops import NLReLU

    x = torch.tensor(X, dtype=torch.float32)
    y = NLReLU(beta=2.0, inplace=True)(x)
    assert y is x
    _close(x.double().numpy(), np.log1p(2.0 * np.maximum(X, 0.0)))


@only_on("torch")
def test_sine_and_probact():
    import torch

    from polyact.compat.echo.t_ops import ProbAct, Sine

    _close(_run("torch", Sine(), X), np.sin(X))
    _close(_run("torch", Sine(w0=30.0), X), _canonical("sine", w0=30.0)(X))
    act = ProbAct(init=0.5)
    assert float(act.act.sigma.detach()) == 0.5
    torch.manual_seed(0)
    noisy = _run("torch", act, X)  # training mode: relu(x) + 0.5 * N(0, 1)
    assert not np.allclose(noisy, np.maximum(X, 0.0))
    _close(_run("torch", act.eval(), X), np.maximum(X, 0.0))  # evaluation: no noise
    with pytest.raises(pa.ActivationError):
        ProbAct(num_parameters=4)


@only_on("torch")
def test_structural_and_axis_facades():
    import torch

    from polyact.compat.echo.t_ops import DICE, BReLU, Maxout, XUnit

    x4 = X_NCHW[:, :2]  # two channels: one group of 2
    _close(_run("torch", Maxout(pool_size=2), x4), np.maximum(x4[:, :1], x4[:, 1:]))
    _close(_run("torch", BReLU(), X_NCHW), _bipolar(X_NCHW, axis=1))
    act = XUnit(IN_CHANNELS, kernel_size=3)
    ref = pa.get_activation("xunit", "torch", in_channels=IN_CHANNELS, kernel_size=3)
    ref.load_state_dict(act.act.state_dict())
    x = torch.tensor(X_NCHW, dtype=torch.float32)
    _close(act(x).detach().double().numpy(), ref(x).detach().double().numpy(), rtol=0, atol=0)
    dice = DICE(IN_FEATURES, dim=3)
    assert "alpha" in [n.rsplit(".", 1)[-1] for n, _ in dice.named_parameters()]
    assert tuple(dice(torch.randn(2, 5, IN_FEATURES)).shape) == (2, 5, IN_FEATURES)
    with pytest.raises(pa.ActivationError):
        dice(torch.randn(2, IN_FEATURES))
    with pytest.raises(pa.ActivationError):
        DICE(IN_FEATURES, epsilon=1e-5)


@only_on("torch")
def test_torch_facades_save_and_load(tmp_path):
    import torch

    from polyact.compat.echo.t_ops import SoftExponential, Swish

    act = SoftExponential(alpha=0.5)
    path = tmp_path / "act.pt"
    torch.save(act.state_dict(), path)
    other = SoftExponential()
    other.load_state_dict(torch.load(path))
    assert float(other.alpha.detach()) == 0.5
    torch.save(Swish(eswish=True), tmp_path / "whole.pt")
    again = torch.load(tmp_path / "whole.pt", weights_only=False)
    _close(_run("torch", again, X), 1.735 * X * _sigmoid(X))


# --------------------------------------------------------------------------- zeta
@only_on("torch")
def test_zeta_laplace_page_example(capsys):
    """zeta's LaplaceActivation page, section "Example Usage", import line changed."""
    # Importing required libraries
    import torch
    import torch.nn as nn  # noqa: F401
    import torch.nn.functional as F  # noqa: F401

    from polyact.compat.zeta import LaplaceActivation  # was: from zeta.nn import LaplaceActivation

    # Defining an instance
    lap_act = LaplaceActivation()

    # Applying Laplace Activation to a tensor
    input_tensor = torch.randn(10)
    activated_tensor = lap_act(input_tensor)

    # Printing output
    print(activated_tensor)

    assert "tensor(" in capsys.readouterr().out
    x = input_tensor.double().numpy()
    zeta = np.array([0.5 * (1.0 + math.erf((v - 0.707107) / (0.282095 * math.sqrt(2.0)))) for v in x])
    _close(activated_tensor.double().numpy(), zeta)


@only_on("torch")
def test_zeta_laplace_calling_convention():
    import torch

    from polyact.compat.zeta import LaplaceActivation

    act = LaplaceActivation()
    assert isinstance(act, torch.nn.Module) and not list(act.parameters())
    sig = inspect.signature(act.forward)
    assert [p.name for p in sig.parameters.values()] == ["input", "mu", "sigma"]
    assert (sig.parameters["mu"].default, sig.parameters["sigma"].default) == (0.707107, 0.282095)
    x = torch.tensor(X, dtype=torch.float64)
    for kwargs, args in (({}, ()), ({"mu": 0.5, "sigma": 0.3}, ()), ({}, (0.5, 0.3))):
        mu, sigma = args or (kwargs.get("mu", 0.707107), kwargs.get("sigma", 0.282095))
        got = act(x, *args, **kwargs).numpy()
        _close(got, _canonical("laplace", mu=mu, sigma=sigma)(X), rtol=1e-12, atol=1e-15)
    # polyact's laplace defaults are the unrounded sqrt(1/2), sqrt(1/(4 pi))
    _close(act(x).numpy(), _canonical("laplace")(X), rtol=1e-5, atol=1e-6)
    # a gradient, and tensors for mu and sigma as in zeta
    xg = x.clone().requires_grad_(True)
    act(
        xg, mu=torch.tensor(0.25, dtype=torch.float64), sigma=torch.tensor(0.5, dtype=torch.float64)
    ).sum().backward()
    want = np.exp(-0.5 * ((X - 0.25) / 0.5) ** 2) / (0.5 * math.sqrt(2.0 * math.pi))
    _close(xg.grad.numpy(), want, rtol=1e-10, atol=1e-14)
