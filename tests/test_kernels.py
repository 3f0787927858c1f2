"""Kernels and their selection: the kernel kinds every element-wise activation
has, capability flags, ``kernel="auto"`` (calibration table, fallback order,
trainable parameters, export mode), ``use_kernel`` scopes (nesting, threads,
asyncio tasks), ``POLYACT_KERNEL``, the memory fused kernels save, and every
torch kernel under ``torch.compile(fullgraph=True)``. Values are checked by the
consistency matrix (tests/test_reference.py) for every kernel."""

from __future__ import annotations

import asyncio
import json
import threading

import numpy as np
import pytest

import polyact as pa
from polyact import check, selection

from .conftest import BACKENDS

if "torch" not in BACKENDS:
    pytest.skip("torch backend not under test in this environment", allow_module_level=True)

import torch

ELEMENTWISE = [n for n in pa.list_activations() if pa.get_spec(n).elementwise]


@pytest.fixture
def no_calibration(monkeypatch):
    monkeypatch.setattr(
        selection, "_ranking", lambda backend, dtype, name, large=False, device=None, grad=False: None
    )
    monkeypatch.delenv("POLYACT_KERNEL", raising=False)


@pytest.fixture
def spy(monkeypatch):
    """A user kernel on torch mish that counts its calls."""
    monkeypatch.delenv("POLYACT_KERNEL", raising=False)
    calls = []

    def impl(x):
        calls.append(1)
        return torch.nn.functional.mish(x)

    pa.register_kernel("mish", "torch", "spy", impl, override=True)
    yield calls
    pa.registry._kernels.pop(("mish", "torch"), None)
    pa.registry._auto_cache.clear()  # selectors built while "spy" was registered
    pa.registry._build_cache.clear()


# ----------------------------------------------------------------- kinds and flags
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_elementwise_activation_has_fused_and_compiled_kernels(name):
    table = pa.kernels(name, "torch")
    assert {"composed", "fused", "compiled"} <= set(table)
    fused, composed = table["fused"], table["composed"]
    assert fused.kind == "fused" and not fused.onnx and not fused.param_grads and fused.differentiable
    assert composed.onnx and composed.param_grads and composed.compile_safe
    assert table["compiled"].kind == "compiled" and not table["compiled"].onnx


def test_flags_read_as_words():
    assert "onnx" in pa.kernels("mish", "torch")["composed"].flags()
    assert "onnx" not in pa.kernels("mish", "torch")["fused"].flags()


# ----------------------------------------------------------------- auto
def test_auto_fallback_order_without_calibration(no_calibration):
    assert pa.auto_kernel("mish", "torch") == "native"  # meets the contract
    assert pa.auto_kernel("celu", "torch") == "fused"  # torch's celu does not
    assert pa.auto_kernel("gelu", "torch") == "native"  # torch's gelu does up to a bound
    assert pa.auto_kernel("aria2", "torch") == "fused"  # no native op
    assert pa.auto_kernel("mish", "numpy") == "fast"  # no fused kernel on NumPy


def test_auto_follows_the_calibration_ranking(monkeypatch):
    monkeypatch.delenv("POLYACT_KERNEL", raising=False)
    monkeypatch.setattr(
        selection,
        "_ranking",
        lambda b, d, n, large=False, device=None, grad=False: (
            ("compiled", "composed") if d == "float64" else None
        ),
    )
    assert pa.auto_kernel("aria2", "torch", "float64") in ("compiled", "composed")
    assert pa.auto_kernel("aria2", "torch", "float32") == "fused"
    monkeypatch.setattr(
        selection, "_ranking", lambda b, d, n, large=False, device=None, grad=False: ("native", "composed")
    )
    assert (
        pa.auto_kernel("celu", "torch") == "composed"
    )  # a ranked kernel that breaks the contract is skipped


def test_auto_reads_the_large_ranking_for_large_inputs(spy, monkeypatch):
    """Inputs of at least LARGE_FROM elements use the rankings measured on large inputs."""
    monkeypatch.setattr(
        selection,
        "_ranking",
        lambda b, d, n, large=False, device=None, grad=False: (
            ("spy", "native") if large else ("native", "spy")
        ),
    )
    big = selection.LARGE_FROM
    assert pa.auto_kernel("mish", "torch") == "native"
    assert pa.auto_kernel("mish", "torch", size=big - 1) == "native"
    assert pa.auto_kernel("mish", "torch", size=big) == "spy"
    # the runner passes the input's size: only the large call runs the large ranking's kernel
    f = pa.get_function("mish", "torch")
    x = torch.linspace(-4, 4, big)
    torch.testing.assert_close(f(x), torch.nn.functional.mish(x))
    assert spy == [1]
    torch.testing.assert_close(f(x[:8]), torch.nn.functional.mish(x[:8]))
    assert spy == [1]
    assert "spy [auto >= 4M]" in pa.describe("mish")


def test_training_rankings_for_calls_whose_gradient_is_taken(spy, tmp_path, monkeypatch):
    """A call that takes a gradient (the input or a trainable parameter requires
    grad, grad mode on) uses the training ranking where the table has one; other
    calls, and activations without one, the main ranking. A re-measure without
    a training ranking drops the old one."""
    from polyact import _calibration

    path = tmp_path / "calibration.json"
    monkeypatch.setenv("POLYACT_CALIBRATION", str(path))
    table = {
        "version": 1,
        "size": 1 << 20,
        "rankings": {"torch": {"float32": {"mish": ["native", "spy"], "silu": ["native"]}}},
        "training": {"torch": {"float32": {"mish": ["spy", "native"]}}},
    }
    _calibration.save(table, str(path))
    _calibration.reload()
    try:
        assert _calibration.ranking("torch", "float32", "mish", training=True) == ["spy", "native"]
        assert _calibration.ranking("torch", "float32", "silu", training=True) == ["native"]
        assert pa.auto_kernel("mish", "torch") == "native"
        assert pa.auto_kernel("mish", "torch", training=True) == "spy"
        assert "spy [auto training]" in pa.describe("mish")
        f = pa.get_function("mish", "torch")
        x = torch.linspace(-4, 4, 33)
        f(x)
        with torch.no_grad():
            f(x.clone().requires_grad_(True))
        assert spy == []
        xg = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(xg).sum(), xg)
        assert spy == [1]
        xn = x.clone().requires_grad_(True)
        (gn,) = torch.autograd.grad(torch.nn.functional.mish(xn).sum(), xn)
        torch.testing.assert_close(g, gn)
        _calibration.save({**table, "training": {}}, str(path))
        assert "training" not in json.loads(path.read_text())
    finally:
        monkeypatch.delenv("POLYACT_CALIBRATION")
        _calibration.reload()


def test_calibration_saves_large_tables_apart(tmp_path, monkeypatch):
    """A table measured at LARGE_FROM elements or more fills the file's large
    rankings; smaller inputs keep reading the main ones."""
    from polyact import _calibration

    path = tmp_path / "calibration.json"
    monkeypatch.setenv("POLYACT_CALIBRATION", str(path))
    small = {"version": 1, "size": 1 << 20, "rankings": {"torch": {"float32": {"silu": ["native", "fused"]}}}}
    large = {"version": 1, "size": 1 << 24, "rankings": {"torch": {"float32": {"silu": ["fused", "native"]}}}}
    _calibration.save(large, str(path))
    _calibration.save(small, str(path))
    table = json.loads(path.read_text())
    assert table["size"] == 1 << 20 and table["large"]["sources"]["torch"]["size"] == 1 << 24
    _calibration.reload()
    try:
        assert _calibration.ranking("torch", "float32", "silu") == ["native", "fused"]
        assert _calibration.ranking("torch", "float32", "silu", large=True) == ["fused", "native"]
        # an activation without large data falls back to the main ranking
        _calibration.save({**small, "rankings": {"torch": {"float32": {"elu": ["fused"]}}}}, str(path))
        assert _calibration.ranking("torch", "float32", "elu", large=True) == ["fused"]
        assert _calibration.ranking("torch", "float32", "silu", large=True) == ["fused", "native"]
        # a partial re-measure keeps the source of the rest and lists what it re-measured
        source = json.loads(path.read_text())["sources"]["torch"]
        assert source["size"] == 1 << 20 and source["updates"][-1]["activations"] == ["elu"]
    finally:
        monkeypatch.delenv("POLYACT_CALIBRATION")
        _calibration.reload()


def test_shipped_calibration_names_only_existing_kernels():
    from polyact import _calibration

    table = _calibration.load()
    keys = set()
    for section in (table, table.get("large", {})):
        for key, per_dtype in section.get("rankings", {}).items():
            keys.add(key)
            backend = key.split(":")[0]  # "torch:cuda": torch's kernels measured on a GPU
            if backend not in BACKENDS:
                continue
            for name_kernels in per_dtype.values():
                for name, ranked in name_kernels.items():
                    assert set(ranked) <= set(pa.kernels(name, backend)), (key, name, ranked)
    assert {"torch", "torch:cuda"} <= keys


def test_calibration_ranks_each_device_apart(tmp_path, monkeypatch):
    """A GPU's rankings live under "backend:device": CUDA tensors read them, CPU
    tensors never do, and a device without rankings falls back to the fixed
    order (not to the CPU's measurements). Saving them leaves the table's
    description (a CPU machine's) alone."""
    from polyact import _calibration

    path = tmp_path / "calibration.json"
    monkeypatch.setenv("POLYACT_CALIBRATION", str(path))
    monkeypatch.delenv("POLYACT_KERNEL", raising=False)
    cpu = {
        "version": 1,
        "size": 1 << 20,
        "machine": "cpu box",
        "rankings": {"torch": {"float32": {"mish": ["fused"]}}},
    }
    gpu = {
        "version": 1,
        "size": 1 << 20,
        "machine": "gpu box",
        "rankings": {"torch:cuda": {"float32": {"mish": ["composed"]}}},
    }
    _calibration.save(cpu, str(path))
    _calibration.save(gpu, str(path))
    table = json.loads(path.read_text())
    assert table["machine"] == "cpu box" and table["sources"]["torch:cuda"]["machine"] == "gpu box"
    _calibration.reload()
    try:
        assert (
            _calibration.device_key("torch", "cuda") == "torch:cuda" == _calibration.device_key("torch:cuda")
        )
        assert _calibration.device_key("torch", "cpu") == "torch" == _calibration.device_key("torch", None)
        assert _calibration.ranking("torch", "float32", "mish") == ["fused"]
        assert _calibration.ranking("torch", "float32", "mish", device="cuda") == ["composed"]
        assert _calibration.ranking("torch", "float32", "mish", device="cuda", large=True) == ["composed"]
        assert _calibration.ranking("torch", "float32", "silu", device="cuda") is None
        assert pa.auto_kernel("mish", "torch", "float32", "cpu") == "fused"
        assert pa.auto_kernel("mish", "torch", "float32", "cuda") == "composed"
        assert pa.auto_kernel("silu", "torch", "float32", "cuda") == "native"  # no data: the fixed order
        assert "composed [auto on cuda]" in pa.describe("mish")
    finally:
        monkeypatch.delenv("POLYACT_CALIBRATION")
        _calibration.reload()


def test_auto_resolves_per_dtype_and_remembers(no_calibration):
    f = pa.get_function("aria2", "torch")
    x = torch.linspace(-3, 3, 7)
    for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        y = f(x.to(dt))
        assert y.dtype == dt
        ref = pa.get_function("aria2", "torch", kernel="composed")(x.to(dt))
        torch.testing.assert_close(y, ref)


def test_objects_share_a_selector_until_the_kernels_or_the_calibration_change(no_calibration):
    from polyact import _calibration, registry

    spec, b = pa.get_spec("mish"), pa.get_backend("torch")

    def shared(**params):
        return registry._select(spec, b, "auto", False, spec.bind(params), shared=True)

    first = shared()
    assert shared() is first and first.pick("float32").name == "native"
    # modules built alike share the selector and the runner (get_activation's hot path)
    m1, m2 = pa.get_activation("mish", "torch"), pa.get_activation("mish", "torch")
    assert m1._run is m2._run
    calls = []

    def impl(x):
        calls.append(1)
        return torch.nn.functional.mish(x)

    pa.register_kernel("mish", "torch", "preferred_spy", impl, auto=True)
    try:
        assert shared() is not first and shared().pick("float32").name == "preferred_spy"
        pa.get_activation("mish", "torch")(torch.linspace(-2, 2, 5))
        assert calls == [1]
        m1(torch.linspace(-2, 2, 5))  # built before: keeps the kernel it had
        assert calls == [1]
    finally:
        pa.registry._kernels.pop(("mish", "torch"), None)
        pa.registry._preferred.pop(("mish", "torch"), None)
        pa.registry._auto_cache.clear()
    before = shared()
    _calibration.reload()  # a new table: selectors start over
    assert shared() is not before
    # per-channel lists and tensors are not shared: each object gets its own
    assert registry._auto_key(spec, "torch", False, {"a": [0.1, 0.2]}) is None
    assert registry._auto_key(spec, "torch", False, {"a": torch.tensor(0.1)}) is None
    assert registry._auto_key(spec, "torch", False, {"a": 1}) != registry._auto_key(
        spec, "torch", False, {"a": 1.0}
    )


def test_trainable_modules_never_get_kernels_without_parameter_gradients(no_calibration):
    m = pa.get_activation("soft_exponential", "torch")  # alpha trainable
    assert pa.auto_kernel("soft_exponential", "torch", trainable=True) == "composed"
    x = torch.linspace(-2, 2, 9)
    m(x).sum().backward()
    assert m.alpha.grad is not None and m.alpha.grad.item() != 0.0
    with pytest.raises(pa.ActivationError, match="does not differentiate the trainable"):
        pa.get_activation("soft_exponential", "torch", kernel="fused")


def test_function_with_a_differentiated_parameter_avoids_fused(no_calibration):
    f = pa.get_function("soft_exponential", "torch")
    a = torch.tensor(0.5, requires_grad=True)
    y = f(torch.linspace(-1, 1, 5), alpha=a)
    (g,) = torch.autograd.grad(y.sum(), a)
    assert g.item() != 0.0


# ----------------------------------------------------------------- scopes and env
def test_use_kernel_scopes_nest_and_explicit_kernels_win(spy):
    act = pa.get_activation("mish", "torch")
    x = torch.randn(4)
    act(x)
    assert not spy
    with pa.use_kernel("spy"):
        act(x)
        assert len(spy) == 1
        with pa.use_kernel("composed"):
            act(x)
        assert len(spy) == 1
        act(x)
        assert len(spy) == 2
        pa.get_activation("mish", "torch", kernel="native")(x)  # explicit: not the scope's
        assert len(spy) == 2
        pa.get_activation("aria2", "torch")(x)  # has no "spy": auto as usual
    act(x)
    assert len(spy) == 2


def test_use_kernel_for_one_backend_only(spy):
    with pa.use_kernel("spy", backend="jax"):
        pa.get_activation("mish", "torch")(torch.randn(3))
    assert not spy
    with pa.use_kernel("spy", backend="torch"):
        pa.get_activation("mish", "torch")(torch.randn(3))
    assert spy


def test_use_kernel_is_thread_and_task_local(spy):
    act = pa.get_activation("mish", "torch")
    x = torch.randn(3)
    with pa.use_kernel("spy"):
        t = threading.Thread(target=act, args=(x,))  # a new thread starts outside the scope
        t.start()
        t.join()
    assert not spy

    async def run(kernel):
        with pa.use_kernel(kernel):
            await asyncio.sleep(0)
            act(x)
            await asyncio.sleep(0)
            act(x)

    async def both():
        await asyncio.gather(run("spy"), run("composed"))

    asyncio.run(both())
    assert len(spy) == 2


def test_unknown_kernel_names_are_refused_with_suggestions(monkeypatch):
    with pytest.raises(pa.UnknownKernelError, match="Did you mean 'fused'"):
        with pa.use_kernel("fsued"):
            pass
    monkeypatch.setenv("POLYACT_KERNEL", "compield")
    with pytest.raises(pa.UnknownKernelError, match="compiled"):
        pa.get_function("aria2", "torch")(torch.randn(3))


def test_environment_variable_selects_kernel_and_export_mode(spy, monkeypatch):
    act = pa.get_activation("mish", "torch")
    monkeypatch.setenv("POLYACT_KERNEL", "spy")
    act(torch.randn(3))
    assert spy
    monkeypatch.setenv("POLYACT_KERNEL", "export")
    assert pa.auto_kernel("aria2", "torch") != "fused" or False
    with pa.use_kernel("composed"):  # a scope wins over the environment
        spy.clear()
        act(torch.randn(3))
        assert not spy


def test_export_mode_picks_only_onnx_exportable_kernels(no_calibration):
    assert pa.auto_kernel("aria2", "torch") == "fused"
    assert pa.auto_kernel("aria2", "torch", export=True) == "composed"
    with pa.use_kernel(export=True):
        with pa.use_kernel("fused"):  # not exportable: the export mode keeps its word
            k = selection.AutoKernel(
                pa.get_spec("aria2"),
                "torch",
                pa.kernels("aria2", "torch"),
                {"beta": 0.5, "alpha": 1.0},
                False,
            )
            assert k.pick("float32", "cpu").name == "composed"


def test_describe_shows_auto_pick(no_calibration):
    text = pa.describe("aria2")
    line = next(s for s in text.splitlines() if s.startswith("    torch "))
    assert "fused [auto]" in line and "compiled" in line


# ----------------------------------------------------------------- memory
def _saved(f, x):
    """(the byte sizes of the distinct storages saved for backward, f(x))."""
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = f(x)
    return sorted(seen.values()), y


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_fused_kernel_saves_only_its_input(name):
    spec = pa.get_spec(name)
    params = dict(check.param_sets(spec)[0])
    x = torch.linspace(-3, 3, 4096, dtype=torch.float32).requires_grad_(True)
    fused = pa.get_function(name, "torch", kernel="fused", **params)
    saved, y = _saved(fused, x)
    # the input itself, and at most per-channel parameter vectors (a few bytes)
    assert [n for n in saved if n >= 1024] == [x.nbytes], (
        f"{name}: fused saved {saved} for a {x.nbytes}-byte input"
    )
    (g,) = torch.autograd.grad(y.sum(), x)
    (want,) = torch.autograd.grad(pa.get_function(name, "torch", kernel="composed", **params)(x).sum(), x)
    torch.testing.assert_close(g, want, rtol=1e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("name", ["relu", "silu", "mish", "softplus", "leaky_relu", "elu"])
def test_fused_forward_is_the_native_op_where_eligible(name):
    """Eagerly, the fused kernel's forward is torch's own op where that meets the
    contract (bit for bit the native kernel's values), with the fused backward:
    only the input saved, gradients from the closed form."""
    x = torch.linspace(-6, 6, 1 << 19, dtype=torch.float32).requires_grad_(True)  # blockwise size
    fused = pa.get_function(name, "torch", kernel="fused")
    native = pa.get_function(name, "torch", kernel="native")
    saved, y = _saved(fused, x)
    assert [n for n in saved if n >= 1024] == [x.nbytes], saved
    assert torch.equal(y.detach(), native(x.detach())), name
    (g,) = torch.autograd.grad(y.sum(), x)
    (want,) = torch.autograd.grad(pa.get_function(name, "torch", kernel="composed")(x).sum(), x)
    torch.testing.assert_close(g, want, rtol=1e-4, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("name", [n for n in ELEMENTWISE if pa.get_spec(n).grad is not None])
def test_fused_kernel_blockwise_on_large_inputs(name, monkeypatch):
    """From CHUNK_MIN elements (eager, CPU) the fused kernel evaluates its forward
    and backward formulas block by block: the same values and gradients as the
    whole-tensor evaluation (tested against the reference elsewhere), specials
    included, and still only the input saved for backward."""
    from polyact.backends import torch as torch_backend

    spec = pa.get_spec(name)
    params = dict(check.param_sets(spec)[0])
    n = torch_backend.CHUNK_MIN + torch_backend.CHUNK // 3  # a partial last block
    x = torch.linspace(-12, 12, n, dtype=torch.float32)
    x[:4] = torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0])
    g = torch.linspace(0.5, 2.0, n, dtype=torch.float32)
    fused = pa.get_function(name, "torch", kernel="fused", **params)

    def run(x):
        xg = x.clone().requires_grad_(True)
        saved, y = _saved(fused, xg)
        (gx,) = torch.autograd.grad(y, xg, grad_outputs=g)
        return saved, y.detach(), gx

    saved, _, _ = run(torch.linspace(-12, 12, n, dtype=torch.float32))
    # finite input: no guard masks, only the input kept for backward
    assert [b for b in saved if b >= 1024] == [x.nbytes], f"{name}: saved {saved}"
    _, y, gx = run(x)
    monkeypatch.setattr(torch_backend, "CHUNK_MIN", 1 << 60)  # the whole-tensor evaluation
    _, y_whole, gx_whole = run(x)
    torch.testing.assert_close(y, y_whole, rtol=4e-7, atol=0, equal_nan=True)
    torch.testing.assert_close(gx, gx_whole, rtol=4e-7, atol=0, equal_nan=True)


def test_composed_mish_saves_several_tensors():
    x = torch.linspace(-3, 3, 4096).requires_grad_(True)
    saved, _ = _saved(pa.get_function("mish", "torch", kernel="composed"), x)
    assert len([n for n in saved if n >= x.nbytes]) >= 2


# ----------------------------------------------------------------- torch.compile
def _compile_cases():
    out = []
    for name in ELEMENTWISE:
        for kname, k in pa.kernels(name, "torch").items():
            # compiled is torch.compile itself (nested: test_compiled_kernel_nests_...)
            if k.devices is None and k.kind != "compiled":
                out.append(pytest.param(name, kname, id=f"{name}-{kname}"))
    return out


@pytest.fixture
def many_compiles():
    import torch._dynamo

    with torch._dynamo.config.patch(recompile_limit=100000, accumulated_recompile_limit=100000):
        yield


@pytest.mark.usefixtures("many_compiles")
@pytest.mark.parametrize(("name", "kernel"), _compile_cases())
def test_every_torch_kernel_traces_without_graph_breaks(name, kernel):
    """Dynamo's tracing (backend="eager": no code generation) with fullgraph:
    any graph break raises. Values and gradients match the eager call."""
    spec = pa.get_spec(name)
    params = dict(check.param_sets(spec)[0])
    act = pa.get_function(name, "torch", kernel=kernel, **params)  # trainable values as numbers
    compiled = torch.compile(act, fullgraph=True, backend="eager")
    x = torch.linspace(-4, 4, 33, dtype=torch.float32).requires_grad_(True)
    y = compiled(x)
    want = act(x)
    torch.testing.assert_close(y, want, rtol=1e-6, atol=1e-7, equal_nan=True)
    (g,) = torch.autograd.grad(y.sum(), x)
    (gw,) = torch.autograd.grad(want.sum(), x)
    torch.testing.assert_close(g, gw, rtol=1e-6, atol=1e-7, equal_nan=True)


def test_compiled_kernel_nests_in_torch_compile():
    act = pa.get_activation("mish", "torch", kernel="compiled")
    x = torch.randn(64)
    torch.testing.assert_close(torch.compile(act, fullgraph=True, backend="eager")(x), act(x))


def test_auto_under_torch_compile_traces_the_composed_formula():
    act = pa.get_activation("aria2", "torch")
    compiled = torch.compile(act, fullgraph=True, backend="eager")
    x = torch.randn(16)
    torch.testing.assert_close(compiled(x), act(x))


def test_numpy_inputs_still_flow():
    assert float(pa.get_function("mish", "numpy")(np.float64(1.0))) == pytest.approx(0.8650983882673103)
