"""``polyact bench`` runs on a tiny size and writes what it promises (no timed assertions)."""

from __future__ import annotations

import io
import json
import math
import types

import pytest

import polyact as pa
from polyact import _calibration, bench

FRAMEWORKS = [b for b in pa.available_backends() if b in bench.FRAMEWORK_BACKENDS]
NAMES = ("relu", "mish")
SIZE = 1024


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


@pytest.fixture(autouse=True)
def _own_calibration(tmp_path, monkeypatch):
    """Every test reads and writes a calibration file of its own."""
    monkeypatch.setenv("POLYACT_CALIBRATION", str(tmp_path / "user-calibration.json"))
    _calibration.reload()
    yield
    monkeypatch.undo()
    _calibration.reload()


@pytest.mark.parametrize("backend", FRAMEWORKS)
def test_run_tiny(backend, tmp_path):
    res = bench.run(NAMES, [backend], size=SIZE, repeat=5, warmup=1, anchors=("@native", "@naive"))
    path = tmp_path / "bench.json"
    res.write_json(str(path))
    data = json.loads(path.read_text())
    for key in ("version", "measured", "machine", "frameworks", "size", "repeat", "results"):
        assert key in data
    assert data["size"] == SIZE and data["repeat"] == 5 and data["device"] == "cpu" and data["gpu"] is None
    rows = data["results"]
    for name in NAMES:
        mine = [r for r in rows if r["activation"] == name]
        kernels = {r["kernel"] for r in mine}
        assert "@naive" in kernels and "composed" in kernels, kernels
        assert sum(r["auto"] for r in mine) == 1, "exactly one row is the kernel auto picks"
        for r in mine:
            assert r["error"] is None, r
            assert r["backend"] == backend and r["dtype"] == "float32" and r["size"] == SIZE
            assert _positive(r["forward_s"]) and _positive(r["forward_backward_s"]), r
            assert r["input_bytes"] == 4 * SIZE
            if backend != "megengine":
                assert _positive(r["saved_bytes"]) or r["saved_bytes"] == 0, r
            assert _positive(r["vs_naive"]["forward"]) and _positive(r["vs_naive"]["forward_backward"])
        naive = next(r for r in mine if r["kernel"] == "@naive")
        assert naive["vs_naive"]["forward"] == pytest.approx(1.0)
    relu_native = [r for r in rows if r["activation"] == "relu" and r["kernel"] == "@native"]
    assert len(relu_native) == 1 and _positive(relu_native[0]["vs_native"]["forward_backward"])
    text = res.render_text()
    md = res.render_markdown() + res.summary_markdown()
    assert "@naive" in text and "| relu |" in md


def test_cli_json_and_markdown(tmp_path):
    backend = "jax" if "jax" in FRAMEWORKS else FRAMEWORKS[0]  # jax.jit compiles in a fraction of a second
    js, md = tmp_path / "b.json", tmp_path / "b.md"
    out, err = io.StringIO(), io.StringIO()
    argv = ["relu", "--backend", backend, "--size", "1K", "--repeat", "5", "--quiet"]
    code = bench.bench_main([*argv, "--json", str(js), "--markdown", str(md)], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert "@compile" in out.getvalue() and err.getvalue() == ""
    rows = json.loads(js.read_text())["results"]
    assert {r["kernel"] for r in rows} >= {"@naive", "@native", "@compile", "composed"}
    assert all(r["error"] is None and _positive(r["forward_s"]) for r in rows), rows
    assert md.read_text().startswith("# polyact bench")


def test_cli_dispatch_and_usage_errors(capsys):
    from polyact import cli

    assert cli.main(["bench", "relu", "--repeat", "0"]) == 2
    assert "--repeat" in capsys.readouterr().err
    assert cli.main(["bench", "no_such_activation", "--quiet"]) == 2
    assert cli.main(["bench", "relu", "--output", "x.json"]) == 2
    if "megengine" not in pa.available_backends():
        assert cli.main(["bench", "relu", "--backend", "megengine", "--quiet"]) == 2
        assert "megengine" in capsys.readouterr().err


def _sees_a_gpu(backend: str) -> bool:
    fw = pa.get_backend(backend).fw
    if backend == "torch":
        return bool(fw.cuda.is_available())
    if backend == "jax":
        return any(d.platform == "gpu" for d in fw.devices())
    return False


@pytest.mark.parametrize("backend", FRAMEWORKS)
def test_device_option(backend, capsys):
    """``--device cuda`` measures on the GPU where the framework has one (torch
    adds its triton kernels there); without one, or on a backend bench runs on
    the CPU only, it is a usage error that says why."""
    argv = [
        "bench",
        "relu",
        "--backend",
        backend,
        "--size",
        "1K",
        "--repeat",
        "5",
        "--quiet",
        "--device",
        "cuda",
    ]
    from polyact import cli

    if not _sees_a_gpu(backend):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert "--device cuda" in err and backend in err.lower(), err
        with pytest.raises(ValueError, match="--device cuda"):
            bench.run(["relu"], [backend], size=SIZE, repeat=1, warmup=0, device="cuda")
    else:
        res = bench.run(
            ["relu"], [backend], size=SIZE, repeat=5, warmup=1, device="cuda", anchors=("@native",)
        )
        assert res.meta["device"] == "cuda"
        assert all(r.error is None and _positive(r.forward_s) for r in res.rows), res.rows
        if backend == "torch":
            assert res.meta["gpu"] and "triton" in {r.kernel for r in res.rows}
        assert " on cuda" in res.render_text()
    with pytest.raises(ValueError, match="device must be one of cpu, cuda"):
        bench.run(["relu"], [backend], size=SIZE, repeat=1, warmup=0, device="tpu")
    assert cli.main(["bench", "relu", "--overhead", "--device", "cuda"]) == 2
    assert "--overhead" in capsys.readouterr().err


@pytest.mark.parametrize("backend", FRAMEWORKS)
def test_calibrate_tiny(backend, tmp_path, monkeypatch):
    path = tmp_path / "calibration.json"
    out = io.StringIO()
    argv = [*NAMES, "--calibrate", "--backend", backend, "--size", "1024", "--repeat", "5", "--quiet"]
    assert bench.bench_main([*argv, "--output", str(path)], stdout=out) == 0
    table = json.loads(path.read_text())
    assert table["version"] == 1 and table["size"] == SIZE and table["metric"] == "fwd+bwd median"
    assert table["measured"] and table["machine"]
    ranked = table["rankings"][backend]["float32"]
    for name in NAMES:
        spec = pa.get_spec(name)
        eligible = {
            k
            for k, kern in bench.runnable_kernels(name, backend, "float32").items()
            if kern.eligible_for(spec.defaults)
        }
        assert ranked[name] and set(ranked[name]) <= eligible, (ranked[name], eligible)
    # the loader reads it from $POLYACT_CALIBRATION
    monkeypatch.setenv("POLYACT_CALIBRATION", str(path))
    _calibration.reload()
    assert _calibration.ranking(backend, "float32", "relu") == ranked["relu"]
    assert _calibration.ranking(backend, "float32", "no_such") is None
    # a second backend's rankings merge into the same file
    _calibration.save({"version": 1, "rankings": {"other": {"float32": {"relu": ["composed"]}}}}, str(path))
    assert _calibration.ranking(backend, "float32", "relu") == ranked["relu"]
    assert _calibration.ranking("other", "float32", "relu") == ["composed"]


def test_calibration_keeps_native_unless_beaten_both_ways(monkeypatch):
    """A kernel displaces the framework's op only when NATIVE_MARGIN faster forward and forward+backward."""

    def row(kernel, kind, fwd, fb, act="relu"):
        return bench.Row(act, "torch", "float32", 1024, kernel, kind, forward_s=fwd, forward_backward_s=fb)

    rows = [
        row("native", "native", 1.0, 1.0),
        row("cpp", "custom", 2.0, 0.5),  # faster with its backward, slower alone
        row("fused", "fused", 0.8, 0.85),  # faster both ways
        row("composed", "composed", 0.95, 0.95),  # within the margin
        row("native", "native", 1.0, 1.0, "silu"),
        row("fused", "fused", 0.5, 0.5, "silu"),
    ]
    fake = types.SimpleNamespace(rows=rows, meta={"measured": "now", "machine": "here", "frameworks": {}})
    monkeypatch.setattr(bench, "run", lambda *a, **k: fake)
    table = bench.calibrate(["relu", "silu"], ["torch"])
    ranked = table["rankings"]["torch"]["float32"]
    assert ranked["relu"] == ["fused", "native", "cpp", "composed"]
    assert ranked["silu"] == ["fused", "native"]
    # calls that take a gradient: a win forward+backward is enough (kept where it differs)
    assert table["training"] == {"torch": {"float32": {"relu": ["cpp", "fused", "native", "composed"]}}}


def test_calibration_falls_back_to_shipped(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYACT_CALIBRATION", str(tmp_path / "missing.json"))
    table = _calibration.reload()
    assert table["version"] == 1 and isinstance(table["rankings"], dict)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv("POLYACT_CALIBRATION", str(bad))
    with pytest.warns(RuntimeWarning, match="ignoring the calibration file"):
        table = _calibration.reload()
    assert isinstance(table["rankings"], dict)


def test_import_does_not_load_bench_or_calibration():
    import subprocess
    import sys

    code = "import sys, polyact; print('polyact.bench' in sys.modules, 'polyact._calibration' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]


def _raw_exp(fw, backend):
    """The framework's own exp."""
    if backend == "torch":
        return fw.exp
    if backend == "jax":
        return fw.numpy.exp
    return fw.functional.exp


@pytest.mark.parametrize("backend", FRAMEWORKS)
def test_naive_ops_are_textbook(backend):
    import numpy as np

    b = pa.get_backend(backend)
    ops = bench.naive_ops(backend)
    x = b.from_numpy(np.array([-2.0, 0.5, 100.0], dtype=np.float32), "float32")
    sp = b.to_numpy(ops.softplus(x))  # literal log(1 + exp(x)): overflows at 100
    assert sp[0] == pytest.approx(np.log1p(np.exp(-2.0)), rel=1e-5) and np.isinf(sp[2])
    w = b.to_numpy(ops.where(x > 1.0, ops.log(x - 1.0), x))  # mask multiplication: NaN leaks through
    assert np.isnan(w[0]) and np.isnan(w[1]) and w[2] == pytest.approx(math.log(99.0), rel=1e-5)
    assert b.to_numpy(ops.expm1(x))[1] == pytest.approx(math.expm1(0.5), rel=1e-5)
    assert type(ops).__mro__[1] is type(b.ops)
    # exp is the framework's own, as Echo calls it (MegEngine's saturates; polyact's ops.exp does not)
    big = b.from_numpy(np.linspace(80.0, 89.0, 33, dtype=np.float32), "float32")
    np.testing.assert_array_equal(b.to_numpy(ops.exp(big)), b.to_numpy(_raw_exp(b.fw, backend)(big)))


def test_overhead_fields():
    backend = FRAMEWORKS[0]
    o = bench.overhead([backend], "relu", calls=5, samples=1, imports=1)
    assert o["import"]["with_import_ms"] > 0 and o["import"]["import_in_process_ms"] > 0
    d = o["backends"][pa.get_backend(backend).name]
    assert (
        _positive(d["get_activation_us"])
        and _positive(d["module_call_us"])
        and _positive(d["kernel_call_us"])
    )
    assert "import polyact" in bench.render_overhead(o)


def test_parse_size():
    assert bench.parse_size("1024") == 1024
    assert bench.parse_size("16M") == 1 << 24
    assert bench.parse_size("64k") == 65536
    assert bench.parse_size("2**10") == 1024
