"""``polyact check`` run in-process on tiny selections: the table, exit codes,
reports, anchors, user modules and usage errors. Runs on the first backend under
test (numpy in the main environment, megengine in the MegEngine one)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import polyact
from polyact import cli

from .conftest import BACKENDS

B = BACKENDS[0]
#: a backend with framework ops to use as anchors (numpy has none)
ANCHOR_B = next((b for b in BACKENDS if b != "numpy"), None)
NAIVE = Path(__file__).resolve().parent.parent / "examples" / "naive_softplus.py"


def run(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, str, str]:
    code = cli.main(["check", *argv, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def naive() -> Iterator[str]:
    yield str(NAIVE)
    if "naive_softplus" in polyact.list_activations():
        polyact.unregister_activation("naive_softplus")


def test_tiny_selection_passes(capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "relu", "silu", "--backend", B, "--dtype", "float32")
    assert code == 0, out + err
    lines = out.splitlines()
    assert lines[0].split() == ["activation", "backend", "kernel", "float32"]
    rows = [line.split() for line in lines if line.startswith(("relu ", "silu "))]
    assert {r[0] for r in rows} == {"relu", "silu"} and all(r[1] == B for r in rows)
    relu_auto = next(r for r in rows if r[0] == "relu" and "[auto]" in r)
    assert re.fullmatch(r"0/(0|-)", relu_auto[-1]), relu_auto  # piecewise linear: exact
    assert re.search(r"\d+ cells \(\d+ cases\) run; 0 contract failures", out)
    assert "float32" in lines[-1]  # the summary: worst ulp per dtype


def test_naive_softplus_fails_at_exp_overflow(
    capsys: pytest.CaptureFixture, naive: str, tmp_path: Path
) -> None:
    report = tmp_path / "naive.md"
    code, out, err = run(
        capsys, "--module", naive, "--backend", B, "--dtype", "float32", "--report", str(report)
    )
    assert code == 1, out + err
    assert "naive_softplus" in out and "!" in out
    xs = [float(v) for v in re.findall(r"x=\s*(\S+)", out)]
    assert any(88.7 <= x <= 89.0 for x in xs), out  # exp(x) overflows from ln(float32 max) = 88.72 on
    text = report.read_text()
    assert "| naive_softplus |" in text and "88.72" in text


@pytest.mark.parametrize("suffix", ["md", "html"])
def test_report_files(capsys: pytest.CaptureFixture, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x.{suffix}"
    code, out, _ = run(capsys, "relu", "--backend", B, "--dtype", "float32", "--report", str(path))
    assert code == 0
    assert str(path) in out
    text = path.read_text()
    if suffix == "md":
        assert "| activation | backend | kernel | float32 |" in text
        assert re.search(rf"\| relu \| {B} \| composed", text)
    else:
        assert text.startswith("<!DOCTYPE html>") and "<table>" in text and "<td>relu</td>" in text
        assert "<link" not in text and "<script" not in text and "src=" not in text  # standalone


@pytest.mark.skipif(ANCHOR_B is None, reason="no backend with framework ops under test")
def test_anchors_are_informational(capsys: pytest.CaptureFixture) -> None:
    argv = ["silu", "--backend", ANCHOR_B, "--dtype", "float32", "--kernel", "auto", "--anchors"]
    code, out, err = run(capsys, *argv, "--class", "normal", "--class", "extremal")
    assert code == 0, out + err  # the raw op's NaN at -inf does not fail the run
    table = out.split("\n\n")[0].splitlines()
    anchors = [line for line in table if line.startswith("silu") and " anchor " in line]
    assert len(anchors) == 1 and f"{ANCHOR_B}." in anchors[0] and "silu" in anchors[0].split()[3]
    assert anchors[0].endswith("x")  # breaks the contract (silu(-inf) is NaN), informationally
    assert "Informational failures" in out and "-inf" in out


def test_unknown_activation_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "mihs", "--backend", B)
    assert code == 2 and not out
    assert "Unknown activation 'mihs'" in err and "Did you mean" in err and "mish" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["relu", "--backend", "tourch"],
        ["relu", "--backend", B, "--report", "x.txt"],
        ["relu", "--backend", B, "--kernel", "nope"],
        ["relu", "--dtype", "float128"],
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture, argv: list) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and err


def test_json_report(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    """--report FILE.json: the report's to_json() (it reads back) plus a flat summary per cell."""
    import json

    from polyact._report import Report

    path = tmp_path / "x.json"
    argv = ["softplus", "--backend", B, "--dtype", "float32", "--class", "normal", "--report", str(path)]
    code, out, _ = run(capsys, *argv)
    assert code == 0 and str(path) in out

    def not_json(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    data = json.loads(path.read_text(), parse_constant=not_json)  # strict: no Infinity/NaN
    assert {"entries", "command", "seconds", "summary"} <= set(data)
    report = Report.from_json(data)
    assert len(report.entries) == len(data["summary"]) > 0
    keys = {
        "activation",
        "label",
        "params",
        "backend",
        "kernel",
        "auto",
        "dtype",
        "forward_ulp",
        "gradient_ulp",
    }
    for row in data["summary"]:
        assert set(row) == keys | {"ok"}
        assert row["activation"] == "softplus" and row["backend"] == B and row["dtype"] == "float32"
        assert row["ok"] is True and isinstance(row["forward_ulp"], float)
        assert row["gradient_ulp"] is None or isinstance(row["gradient_ulp"], float)
        body = ",".join(f"{k}={v:g}" for k, v in row["params"].items())
        assert row["label"] == "softplus" + (f"({body})" if body else "")
    assert {} in [r["params"] for r in data["summary"]]  # the defaults, and the spec's examples
    autos = {(r["label"], r["kernel"]) for r in data["summary"] if r["auto"]}
    assert len(autos) == len({r["label"] for r in data["summary"]})  # one auto kernel per parameter set


def test_json_non_finite_round_trip(tmp_path: Path) -> None:
    """Non-finite figures are written as "inf"/"-inf"/"nan" (strict JSON) and read back as floats."""
    import json
    import math

    from polyact import _jsonio
    from polyact._report import Report

    text = _jsonio.dumps({"a": [math.inf, -math.inf, 1.5], "b": {"c": math.nan}, "d": "x"})
    data = json.loads(text, parse_constant=lambda t: pytest.fail(f"{t} in {text}"))
    assert data == {"a": ["inf", "-inf", 1.5], "b": {"c": "nan"}, "d": "x"}
    back = _jsonio.restore(data)
    assert back["a"] == [math.inf, -math.inf, 1.5] and math.isnan(back["b"]["c"]) and back["d"] == "x"
    report = Report.from_json({"entries": [], "command": "c", "seconds": "inf"})
    assert report.command == "c" and report.seconds == math.inf
