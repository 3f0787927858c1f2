"""polyact.plot and ``polyact plot``: every registered activation draws (f, f',
a thumbnail) and the drawn values are the NumPy backend's; x ranges follow kinks
and domains; files are PNG or SVG, byte for byte reproducible; usage errors exit
2 naming the parameter; without matplotlib the error says how to install it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, Iterator, List

import numpy as np
import pytest

import polyact
from polyact import cli, registry

NAMES = polyact.list_activations()


@pytest.fixture(scope="module")
def plot() -> Any:
    pytest.importorskip("matplotlib")
    from polyact import plot

    return plot


def lines(fig: Any) -> Dict[str, Any]:
    """The figure's curves by gid (``f:i``, ``df:i``)."""
    return {ln.get_gid(): ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid()}


def expected(name: str, x: np.ndarray, params: Dict[str, Any]) -> np.ndarray:
    """f at x computed here, through the public API, along the slice the plot documents."""
    spec = registry.get_spec(name)
    if spec.elementwise or spec.kind == "stochastic":
        return np.asarray(polyact.get_function(name, "numpy", **params)(x), dtype=np.float64)
    if spec.kind == "structural":
        params = {**params, spec.channels_param: 1}
        m = polyact.get_activation(name, "numpy", seed=0, **params)
        nd = spec.input_ndims[0]
        return np.asarray(m(x.reshape((-1,) + (1,) * (nd - 1))), dtype=np.float64).reshape(-1)
    f = polyact.get_function(name, "numpy", **params)
    if name == "bipolar_relu":
        return f(np.stack([x, x], -1))[:, 1]
    if name == "maxout":
        return f(np.stack([x, x / 2], -1))[:, 0]
    if spec.kind == "gated":
        return f(np.stack([x, x], -1))[:, 0]
    return f(np.stack([x, np.zeros_like(x)], -1))[:, 0]  # vector: first output of [x, 0]


def required_params(name: str) -> Dict[str, Any]:
    """What the plot uses for required parameters: the first example that has them."""
    spec = registry.get_spec(name)
    out: Dict[str, Any] = {}
    for k, p in spec.params.items():
        if p.required and k != spec.channels_param:
            out.update(next(e for e in spec.examples if k in e))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_every_activation_plots_numpy_values(plot: Any, name: str) -> None:
    fig = plot.figure(name)
    ln = lines(fig)
    assert {"f:0", "df:0"} <= set(ln), f"{name}: no f or f' line"
    x = np.asarray(ln["f:0"].get_xdata(), dtype=np.float64)
    y = np.asarray(ln["f:0"].get_ydata(), dtype=np.float64)
    assert 400 <= x.size <= 1010 and np.all(np.diff(x) > 0)
    assert np.isfinite(y).mean() > 0.9, f"{name}: mostly undefined over {x[0]}..{x[-1]}"
    with np.errstate(all="ignore"):
        want = expected(name, x, required_params(name))
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-300, equal_nan=True)
    dy = np.asarray(ln["df:0"].get_ydata(), dtype=np.float64)
    assert dy.shape == x.shape and np.isfinite(dy).any()
    assert bool(plot.slice_note(name)) == (registry.get_spec(name).kind not in ("elementwise", "per_channel"))
    thumb = plot.figure(name, thumbnail=True)
    tl = lines(thumb)
    assert set(tl) == {"f:0"}, f"{name}: thumbnail has f only"
    assert tuple(thumb.get_size_inches()) == pytest.approx((1.6, 1.0))
    assert not thumb.axes[0].axison and thumb.axes[0].get_legend() is None
    assert not [t for t in thumb.texts if t.get_text()]


def test_derivative_is_f_prime(plot: Any) -> None:
    """The dashed line is f' (closed form where the spec has one, else a central difference)."""
    for name in ("silu", "softmax", "swiglu"):
        ln = lines(plot.figure(name))
        x, y, dy = (np.asarray(a, dtype=np.float64) for a in (*ln["f:0"].get_data(), ln["df:0"].get_ydata()))
        mid = 0.5 * (x[1:] + x[:-1])
        slope = np.diff(y) / np.diff(x)
        np.testing.assert_allclose(np.interp(mid, x, dy), slope, atol=2e-3 * max(1.0, np.abs(dy).max()))


def test_variants_and_labels(plot: Any) -> None:
    fig = plot.figure("softplus", params={"beta": 1.5}, variants=[{"beta": 4.0}, {"beta": 0.5}])
    ln = lines(fig)
    assert {f"f:{i}" for i in range(3)} <= set(ln) and {f"df:{i}" for i in range(3)} <= set(ln)
    x = np.asarray(ln["f:1"].get_xdata())
    np.testing.assert_allclose(ln["f:1"].get_ydata(), polyact.get_function("softplus", "numpy", beta=4.0)(x))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["beta=1.5", "beta=4", "beta=0.5"]
    assert "beta=1.5" in fig.axes[0].get_title()
    only_f = lines(plot.figure("softplus", derivative=False))
    assert set(only_f) == {"f:0"}


def test_x_range_follows_kinks_and_domain(plot: Any) -> None:
    def xs(name: str, **kw: Any) -> np.ndarray:
        return np.asarray(lines(plot.figure(name, **kw))["f:0"].get_xdata())

    x = xs("relu6")
    assert x[0] <= -4 and x[-1] >= 7 and 6.0 in x and 0.0 in x  # both kinks, drawn exactly
    x = xs("log1mexp")
    assert x[0] > 0 and x[0] < 0.05 and x[-1] == 5.0  # defined for x > 0 only
    x = xs("log_gamma")
    assert -1 < x[0] < -0.9  # ln Gamma(x + 1): x > -1
    x = xs("hard_tanh", params={"min_val": -9.0, "max_val": 0.5})
    assert x[0] <= -11 and -9.0 in x
    x = xs("tanh", xlim=(-2, 3))
    assert x[0] == -2 and x[-1] == 3
    with pytest.raises(ValueError):
        plot.figure("tanh", xlim=(1, 1))


def test_parameter_errors(plot: Any) -> None:
    with pytest.raises(polyact.errors.InvalidParameterError, match="beta"):
        plot.figure("softplus", params={"beta": -1.0})
    with pytest.raises(polyact.errors.UnknownParameterError, match="gamma"):
        plot.figure("softplus", variants=[{"gamma": 1.0}])
    with pytest.raises(polyact.errors.UnknownActivationError):
        plot.figure("sofplus")


def test_custom_activation_without_grad(plot: Any) -> None:
    """A user's activation (no closed-form derivative): f' by central difference."""

    def cube_tanh(x, ops, a):  # type: ignore[no-untyped-def]
        """tanh(a x^3)."""
        return ops.tanh(a * x * x * x)

    polyact.register_activation("plot_test_cube_tanh", cube_tanh, params={"a": 0.1})
    try:
        ln = lines(plot.figure("plot_test_cube_tanh", params={"a": 0.2}))
        x = np.asarray(ln["f:0"].get_xdata())
        np.testing.assert_allclose(ln["df:0"].get_ydata(), 0.6 * x**2 / np.cosh(0.2 * x**3) ** 2, atol=1e-7)
    finally:
        polyact.unregister_activation("plot_test_cube_tanh")


def test_unsliceable_activation_gets_a_placeholder(plot: Any) -> None:
    """A custom vector activation the [x, 0] slice does not fit: a figure that says why."""

    def needs_three(x, ops, axis):  # type: ignore[no-untyped-def]
        """Identity on exactly three values."""
        if x.shape[axis] != 3:
            raise ValueError("needs exactly 3 values along the axis")
        return x

    polyact.register_activation("plot_test_three", needs_three, params={"axis": -1}, kind="vector")
    try:
        for thumbnail in (False, True):
            fig = plot.figure("plot_test_three", thumbnail=thumbnail)
            assert not lines(fig) and "plot_test_three" in fig.texts[0].get_text()
        assert "needs exactly 3 values" in plot.figure("plot_test_three").texts[0].get_text()
    finally:
        polyact.unregister_activation("plot_test_three")


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_save_is_reproducible(plot: Any, tmp_path: Path, suffix: str) -> None:
    a = plot.save("gelu", tmp_path / f"a.{suffix}", variants=[{}])
    b = plot.save("gelu", tmp_path / f"b.{suffix}", variants=[{}])
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    if suffix == "svg":
        text = a.read_text()
        assert "<dc:date>" not in text
        ET.fromstring(text)
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plot.save("gelu", tmp_path / "a.pdf")


def test_import_polyact_does_not_import_matplotlib() -> None:
    code = "import sys, polyact; polyact.get_function('relu', 'numpy'); print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_missing_matplotlib(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from polyact import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot.figure("relu")
    assert cli.main(["plot", "relu", "--out", "never.png"]) == 1
    assert "pip install matplotlib" in capsys.readouterr().err


# --------------------------------------------------------------------------- the command
@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def run(capsys: pytest.CaptureFixture, *argv: str) -> List[Any]:
    code = cli.main(["plot", *argv])
    out, err = capsys.readouterr()
    return [code, out, err]


def test_cli_writes_png_and_svg(plot: Any, in_tmp: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "swish")  # an alias: the file takes the canonical name
    assert code == 0, err
    png = in_tmp / f"{registry.get_spec('swish').name}.png"
    assert out.strip() == png.name and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, err = run(capsys, "softplus", "--param", "beta=2", "--derivative", "--out", "sp.svg")
    assert code == 0, err
    root = ET.fromstring((in_tmp / "sp.svg").read_text())
    assert root.tag.endswith("svg")
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    assert {"f:0", "df:0"} <= ids
    code, _, err = run(capsys, "softplus", "--out", "only_f.svg")
    assert code == 0, err
    ids = {e.get("id") for e in ET.fromstring((in_tmp / "only_f.svg").read_text()).iter() if e.get("id")}
    assert "f:0" in ids and "df:0" not in ids


@pytest.mark.parametrize(
    "argv, words",
    [
        (["softplus", "--param", "beta=-1"], ["'beta'", "> 0"]),
        (["softplus", "--param", "gamma=1"], ["'gamma'", "beta"]),
        (["softplus", "--param", "beta"], ["K=V"]),
        (["softplus", "--param", "beta=abc"], ["beta", "not a number"]),
        (["eis", "--param", "alpha=2"], ["'alpha'", "[0, 1]"]),
        (["sofplus"], ["softplus"]),
        (["relu", "--out", "relu.pdf"], [".png or .svg"]),
    ],
)
def test_cli_usage_errors(
    in_tmp: Path, capsys: pytest.CaptureFixture, argv: List[str], words: List[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and not out
    assert err.startswith("polyact plot: ") and len(err.strip().splitlines()) == 1
    for w in words:
        assert w in err, err
    assert not list(in_tmp.iterdir())
