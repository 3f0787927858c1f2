"""Registry behaviour: names, aliases, errors, registration, kernels, plug-ins, threads."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import polyact as pa
from polyact import registry

from .conftest import BACKENDS


@pytest.fixture
def scratch():
    """Names registered by a test are removed afterwards."""
    names = []
    yield names
    for n in names:
        try:
            pa.unregister_activation(n)
        except pa.UnknownActivationError:
            pass


# ----------------------------------------------------------------- names
@pytest.mark.parametrize("alias", ["Leaky-ReLU", "leaky_relu", "LEAKY RELU", "leakyrelu", "LeakyReLU"])
def test_names_are_normalised(alias):
    assert pa.get_spec(alias).name == "leaky_relu"


@pytest.mark.parametrize(
    "alias,canonical",
    [
        ("gelu_new", "gelu_tanh"),
        ("GELU-pytorch-tanh", "gelu_tanh"),
        ("logistic", "sigmoid"),
        ("FTS", "flatten_t_swish"),
        ("swish_beta", "swish"),
    ],
)
def test_aliases(alias, canonical):
    assert pa.get_spec(alias).name == canonical


def test_unknown_activation_is_keyerror_and_valueerror_with_suggestions():
    with pytest.raises(pa.UnknownActivationError) as info:
        pa.get_activation("mihs", backend="numpy")
    err = info.value
    assert isinstance(err, KeyError) and isinstance(err, ValueError)
    msg = str(err)
    assert "'mihs'" in msg and "mish" in msg and "list_activations()" in msg and "numpy" in msg
    assert not msg.startswith('"')  # not KeyError's quoted repr


def test_unknown_activation_without_close_match():
    with pytest.raises(KeyError, match="Unknown activation 'zzzzzz'"):
        pa.get_spec("zzzzzz")


def test_unknown_backend():
    with pytest.raises(pa.UnknownBackendError, match="Did you mean 'torch'") as info:
        pa.get_activation("mish", backend="troch")
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    assert "numpy, torch, jax, megengine" in str(info.value)


def test_uninstalled_backend_says_how_to_install(monkeypatch):
    missing = [b for b in ("torch", "jax", "megengine") if b not in pa.available_backends()]
    if missing:
        name = missing[0]
    else:  # everything is installed here: pretend jax is not
        name = "jax"
        monkeypatch.setattr(registry, "_backends", {})
        mod = importlib.import_module("polyact.backends.jax")
        monkeypatch.setattr(mod.backend, "is_available", lambda: False)
    with pytest.raises(pa.BackendNotInstalledError, match="pip install") as info:
        pa.get_activation("mish", backend=name)
    assert isinstance(info.value, ImportError)
    assert name in str(info.value)


def test_list_activations():
    names = pa.list_activations()
    assert names == sorted(names)
    issue = {
        "mish",
        "swish",
        "e_swish",
        "silu",
        "flatten_t_swish",
        "aria2",
        "elish",
        "hard_elish",
        "isru",
        "isrlu",
        "nlrelu",
        "soft_clipping",
        "soft_exponential",
        "sqnl",
        "srelu",
        "funnel_relu",
        "laplace",
        "relu",
        "sigmoid",
        "tanh",
        "softplus",
        "gelu",
        "gelu_tanh",
        "leaky_relu",
    }
    assert issue <= set(names)
    for b in ("numpy", "torch", "jax", "megengine"):
        assert set(pa.list_activations(backend=b)) == set(names)
    with pytest.raises(pa.UnknownBackendError):
        pa.list_activations(backend="tensorflow")


def test_describe_shows_formula_params_references_and_kernels():
    text = pa.describe("aria2")
    assert "x\\,\\left(1 + e^{-\\beta x}\\right)^{-\\alpha}" in text
    assert "beta: default 0.5" in text and "alpha: default 1.0" in text
    assert "arXiv:1805.08878" in text
    assert "drops the factor x" in text
    assert "numpy      composed [auto]" in text
    g = pa.describe("gelu")  # no framework loaded: judged from the spec
    torch_line = next(line for line in g.splitlines() if line.startswith("    torch "))
    jax_line = next(
        line for line in g.replace("(not installed) ", "").splitlines() if line.startswith("    jax ")
    )
    # torch's gelu is eligible up to a bound, jax's always (auto may pick them: "native [auto],")
    assert "native" in torch_line and "native (not auto" not in torch_line
    assert jax_line.startswith("    jax        native") and "native (not auto" not in jax_line
    c = pa.describe("celu")
    torch_line = next(line for line in c.splitlines() if line.startswith("    torch "))
    assert "native (not auto" in torch_line  # torch's celu is not eligible
    if "torch" not in pa.available_backends():
        return
    pa.get_backend("torch").fw  # noqa: B018  (imports torch)
    c = pa.describe("celu")  # loaded: the real kernels and auto's pick
    torch_line = next(line for line in c.splitlines() if line.startswith("    torch "))
    assert "native (not auto" in torch_line and "[auto]" in torch_line and "fused" in torch_line


# ----------------------------------------------------------------- parameters
def test_invalid_parameter_value_names_activation_parameter_value_and_range():
    with pytest.raises(pa.InvalidParameterError) as info:
        pa.get_activation("softplus", backend="numpy", beta=-1.0)
    msg = str(info.value)
    assert "softplus" in msg and "'beta'" in msg and "-1.0" in msg and "> 0" in msg
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "1.0", True, [1.0, 2.0]])
def test_parameter_must_be_a_finite_real_scalar(bad):
    with pytest.raises(pa.InvalidParameterError, match="isru"):
        pa.get_activation("isru", backend="numpy", alpha=bad)


def test_unknown_parameter_name():
    with pytest.raises(pa.UnknownParameterError) as info:
        pa.get_activation("leaky_relu", backend="numpy", slope=0.1)
    assert isinstance(info.value, TypeError)
    assert "'slope'" in str(info.value) and "negative_slope" in str(info.value)


def test_required_parameter():
    with pytest.raises(pa.InvalidParameterError, match=r"requires parameter.*in_channels"):
        pa.get_activation("funnel_relu", backend="numpy")
    with pytest.raises(pa.InvalidParameterError, match="in_channels"):
        pa.get_activation("funnel_relu", backend="numpy", in_channels=0)


def test_srelu_thresholds_are_ordered():
    with pytest.raises(pa.InvalidParameterError, match="t_left < t_right"):
        pa.get_activation("srelu", backend="numpy", t_left=1.0, t_right=1.0)
    with pytest.raises(pa.InvalidParameterError, match="t_left < t_right"):
        pa.get_activation("srelu", backend="numpy", num_channels=3, t_left=[0.0, 0.0, 2.0], t_right=1.0)


def test_num_channels_only_for_per_channel():
    with pytest.raises(pa.ActivationError, match="num_channels does not apply"):
        pa.get_activation("mish", backend="numpy", num_channels=4)


def test_function_call_overrides_are_validated():
    f = pa.get_function("leaky_relu", backend="numpy")
    assert float(f(-2.0, negative_slope=0.5)) == -1.0
    with pytest.raises(pa.UnknownParameterError):
        f(-2.0, slope=0.5)
    with pytest.raises(pa.InvalidParameterError):
        pa.get_function("softplus", backend="numpy")(1.0, beta=0.0)


# ----------------------------------------------------------------- registration
def test_register_custom_activation_decorator_runs_everywhere(scratch):
    @pa.register_activation("my_act", params={"beta": pa.Param(1.0, domain=pa.positive)})
    def my_act(x, ops, beta):
        """x * tanh(exp(beta * x))"""
        return x * ops.tanh(ops.exp(beta * x))

    scratch.append("my_act")
    assert "my_act" in pa.list_activations()
    assert my_act.spec.summary == "x * tanh(exp(beta * x))"
    x = np.linspace(-3, 3, 13)
    expected = x * np.tanh(np.exp(0.5 * x))
    for b in BACKENDS:
        be = pa.get_backend(b)
        act = pa.get_activation("my_act", backend=b, beta=0.5)
        y = be.to_numpy(act(be.from_numpy(x, "float32")))
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_register_spec_and_duplicates(scratch):
    spec = pa.ActivationSpec(
        name="cube_root_unit", fn=lambda x, ops: ops.sign(x) * ops.abs(x) ** (1.0 / 3.0), aliases=("cru",)
    )
    pa.register_activation(spec)
    scratch.append("cube_root_unit")
    assert pa.get_spec("CRU") is spec
    with pytest.raises(pa.DuplicateRegistrationError, match="already registered"):
        pa.register_activation(spec)
    with pytest.raises(pa.DuplicateRegistrationError, match="'mish' is already registered"):
        pa.register_activation("mish", lambda x, ops: x)
    with pytest.raises(pa.DuplicateRegistrationError):  # an alias clashes with a name
        pa.register_activation(
            pa.ActivationSpec(name="other_unit", fn=lambda x, ops: x, aliases=("cube-root-unit",))
        )
    np.testing.assert_allclose(pa.apply("cru", np.array([-8.0, 27.0])), [-2.0, 3.0])


def test_override_replaces(scratch):
    pa.register_activation("twice", lambda x, ops: 2.0 * x)
    scratch.append("twice")
    assert float(pa.apply("twice", 3.0)) == 6.0
    pa.register_activation("twice", lambda x, ops: x + x + x, override=True)
    assert float(pa.apply("twice", 3.0)) == 9.0


def test_register_kernel_and_selection(scratch):
    pa.register_activation("halve", lambda x, ops: 0.5 * x)
    scratch.append("halve")
    calls = []

    def mine(x):
        calls.append(1)
        return x / 2.0

    pa.register_kernel("halve", "numpy", "mine", mine)
    assert set(pa.kernels("halve", "numpy")) == {"composed", "mine"}
    assert float(pa.get_function("halve", "numpy")(4.0)) == 2.0 and not calls  # auto ignores it
    assert float(pa.get_function("halve", "numpy", kernel="mine")(4.0)) == 2.0 and calls
    with pytest.raises(pa.DuplicateRegistrationError):
        pa.register_kernel("halve", "numpy", "mine", mine)
    with pytest.raises(pa.DuplicateRegistrationError):
        pa.register_kernel("halve", "numpy", "composed", mine)
    pa.register_kernel("halve", "numpy", "quick", lambda x: x * 0.5, auto=True)
    calls.clear()
    assert float(pa.get_function("halve", "numpy")(4.0)) == 2.0
    assert "quick [auto]" in pa.describe("halve")
    with pytest.raises(pa.UnknownKernelError, match="Available: composed, mine, quick"):
        pa.get_function("halve", "numpy", kernel="nope")


@pytest.mark.parametrize("backend", BACKENDS)
def test_auto_picks_by_input_size(backend, scratch, monkeypatch):
    """The runner hands auto the input's number of elements: from LARGE_FROM on,
    the large inputs' ranking applies (here: a user kernel ranked first only there)."""
    from polyact import selection

    monkeypatch.delenv("POLYACT_KERNEL", raising=False)
    pa.register_activation("halve", lambda x, ops: 0.5 * x)
    scratch.append("halve")
    calls = []

    def big(x):
        calls.append(1)
        return x * 0.5

    pa.register_kernel("halve", backend, "big", big)
    monkeypatch.setattr(
        selection,
        "_ranking",
        lambda b, d, n, large=False, device=None, grad=False: ("big",) if large else None,
    )
    be = pa.get_backend(backend)
    assert be._numel(be.from_numpy(np.zeros((3, 5)), "float32")) == 15
    f = pa.get_function("halve", backend)
    large = be.from_numpy(np.ones((2, selection.LARGE_FROM // 2)), "float32")
    small = be.from_numpy(np.ones((2, 4)), "float32")
    assert float(be.to_numpy(f(small)).sum()) == 4.0 and not calls
    assert float(be.to_numpy(f(large)).sum()) == selection.LARGE_FROM / 2 and calls == [1]


# ----------------------------------------------------------------- apply
def test_apply_infers_backend_from_type():
    y = pa.apply("relu", np.array([-1.0, 2.0]))
    assert isinstance(y, np.ndarray) and y.tolist() == [0.0, 2.0]
    assert float(pa.apply("leaky_relu", -1.0, negative_slope=0.5)) == -0.5
    for b in BACKENDS:
        be = pa.get_backend(b)
        x = be.from_numpy(np.array([-1.0, 2.0]), "float32")
        y = pa.apply("relu", x)
        assert be.owns(y)
        assert be.to_numpy(y).tolist() == [0.0, 2.0]
    with pytest.raises(pa.ActivationError, match="Cannot infer a backend"):
        pa.apply("relu", object())


# ----------------------------------------------------------------- inputs
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_integer_and_bool_inputs_raise_typeerror(backend, dtype):
    be = pa.get_backend(backend)
    x = be.from_numpy(np.array([1, 0, 1]).astype(dtype))
    for make in (pa.get_activation, pa.get_function):
        f = make("mish", backend=backend)
        with pytest.raises(TypeError, match="Cast it to a floating dtype"):
            f(x)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_tensor_of_another_backend(backend):
    act = pa.get_activation("relu", backend=backend)
    with pytest.raises(pa.InvalidInputError, match="backend='numpy'"):
        act(np.ones(3, dtype=np.float32))


# ----------------------------------------------------------------- plug-ins
PLUGIN_MODULE = """
import polyact

def register():
    @polyact.register_activation("plugged_unit")
    def plugged_unit(x, ops):
        return x * ops.sigmoid(2.0 * x)
"""

BROKEN_MODULE = """
def register():
    raise RuntimeError("boom")
"""

SHADOW_MODULE = """
import polyact

def register():
    polyact.register_activation("mish", lambda x, ops: x)
"""


def _plugin_dir(tmp_path, entries):
    """A fake installed distribution exposing ``entries`` as polyact.plugins."""
    for mod, src in entries.items():
        (tmp_path / f"{mod}.py").write_text(src)
    dist = tmp_path / "fake_polyact_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-polyact-plugins\nVersion: 1.0\n")
    lines = "\n".join(f"{mod} = {mod}:register" for mod in entries)
    (dist / "entry_points.txt").write_text(f"[polyact.plugins]\n{lines}\n")
    return tmp_path


def _run(code, path, env_extra=None):
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(path) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("POLYACT_NO_PLUGINS", None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=120
    )


def test_plugins_are_discovered_lazily_and_broken_ones_skipped(tmp_path):
    path = _plugin_dir(
        tmp_path,
        {"good_plugin": PLUGIN_MODULE, "broken_plugin": BROKEN_MODULE, "shadow_plugin": SHADOW_MODULE},
    )
    code = """
        import warnings, numpy as np, polyact as pa
        from polyact import registry
        assert "plugged_unit" not in registry._specs        # nothing loaded at import
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = pa.apply("plugged_unit", np.array([1.0]))    # first miss loads plug-ins
        msgs = sorted(str(x.message) for x in w)
        assert len(msgs) == 2, msgs
        assert "'broken_plugin'" in msgs[0] and "boom" in msgs[0], msgs
        assert "'shadow_plugin'" in msgs[1] and "already registered" in msgs[1], msgs
        assert abs(float(y[0]) - 1.0 / (1.0 + np.exp(-2.0))) < 1e-12
        assert pa.get_spec("mish").fn.__name__ == "mish"     # the built-in was not shadowed
        print("ok")
    """
    r = _run(code, path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_plugins_kill_switch(tmp_path):
    path = _plugin_dir(tmp_path, {"good_plugin": PLUGIN_MODULE})
    code = """
        import polyact as pa
        assert "plugged_unit" not in pa.list_activations()
        try:
            pa.get_spec("plugged_unit")
        except KeyError:
            print("off")
    """
    r = _run(code, path, {"POLYACT_NO_PLUGINS": "1"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "off"
    r = _run("import polyact as pa; print('plugged_unit' in pa.list_activations())", path)
    assert r.stdout.strip() == "True", r.stderr


# ----------------------------------------------------------------- threads
def test_eight_threads_register_and_look_up_concurrently(scratch):
    errors = []
    barrier = threading.Barrier(8)
    names = [f"thread_unit_{i}" for i in range(8)]
    scratch.extend(names)

    def work(i):
        try:
            barrier.wait()
            for j in range(25):
                if j == 5:
                    pa.register_activation(names[i], lambda x, ops, k=i: (k + 1.0) * x)
                assert pa.get_spec("mish").name == "mish"
                pa.get_function("leaky_relu", "numpy", negative_slope=0.1)
                if j > 5:
                    assert float(pa.apply(names[i], 2.0)) == 2.0 * (i + 1)
                    assert names[i] in pa.list_activations()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert set(names) <= set(pa.list_activations())


# ----------------------------------------------------------------- imports
def test_import_polyact_loads_no_framework():
    code = """
        import sys, polyact as pa
        pa.list_activations(); pa.describe("mish"); pa.get_function("mish", "numpy")(1.0); pa.available_backends()
        heavy = [m for m in ("torch", "jax", "flax", "megengine", "mpmath", "scipy") if m in sys.modules]
        print(heavy)
    """
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("[]", "['scipy']")  # the NumPy backend's erf may use SciPy


# ----------------------------------------------------------------- command line
def test_cli_list_and_show():
    from polyact import cli

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "polyact.cli", *args], capture_output=True, text=True, timeout=120
        )

    r = run("list")
    assert r.returncode == 0 and "soft_exponential" in r.stdout and "structural" in r.stdout
    r = run("show", "Leaky-ReLU")
    assert r.returncode == 0 and "negative_slope: default 0.01" in r.stdout
    r = run("show", "mihs")
    assert r.returncode == 2 and "Did you mean: mish?" in r.stderr
    assert callable(cli.main)


def test_scalar_primitives_follow_ieee_on_every_backend():
    """Formulas apply ops to Python-float parameters: no exception where a tensor gives inf/NaN."""
    import math

    for b in BACKENDS:
        ops = pa.get_backend(b).ops
        assert ops.exp(1000.0) == math.inf and ops.expm1(1000.0) == math.inf
        assert ops.log(0.0) == -math.inf and math.isnan(ops.log(-1.0))
        assert ops.log1p(-1.0) == -math.inf and math.isnan(ops.sqrt(-1.0))
        assert ops.sigmoid(-1000.0) == 0.0 and ops.sigmoid(1000.0) == 1.0
        assert math.isnan(ops.sign(float("nan"))) and ops.sign(-2.0) == -1.0
        assert isinstance(ops.expm1(-0.5), float)  # stays a Python float: no dtype promotion


def test_repeated_get_activation_builds_fresh_objects_and_follows_registrations(scratch):
    """Repeated calls reuse what they worked out (lookup, validation, kernel
    choice) but every call builds a new object, invalid values raise every
    time, 1 and 1.0 are told apart, and a registration change is seen."""
    a, b = pa.get_activation("elu", "numpy", alpha=0.5), pa.get_activation("elu", "numpy", alpha=0.5)
    assert a is not b and pa.to_config(a) == pa.to_config(b) == {"name": "elu", "alpha": 0.5}
    assert float(a(-1.0)) == float(b(-1.0)) == pytest.approx(0.5 * np.expm1(-1.0), rel=1e-15)
    assert type(pa.to_config(pa.get_activation("elu", "numpy", alpha=1))["alpha"]) is int
    assert type(pa.to_config(pa.get_activation("elu", "numpy", alpha=1.0))["alpha"]) is float
    for _ in range(2):
        with pytest.raises(pa.ActivationError, match="alpha"):
            pa.get_activation("elu", "numpy", alpha=float("nan"))
        with pytest.raises(pa.UnknownParameterError, match="no_such_parameter"):
            pa.get_activation("elu", "numpy", no_such_parameter=1.0)

    scratch.append("cached_act")
    pa.register_activation("cached_act", lambda x, ops: x * 2.0)
    assert float(pa.get_activation("cached_act", "numpy")(3.0)) == 6.0
    pa.register_activation("cached_act", lambda x, ops: x * 3.0, override=True)
    assert float(pa.get_activation("cached_act", "numpy")(3.0)) == 9.0
    pa.unregister_activation("cached_act")
    with pytest.raises(pa.UnknownActivationError):
        pa.get_activation("cached_act", "numpy")
