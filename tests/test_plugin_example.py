"""The example plug-in package (examples/polyact-plugin-example) installs and works.

The package is installed with pip into a temporary folder (``--no-deps
--no-build-isolation --target``); everything that needs it runs in a child
process with that folder on ``PYTHONPATH``, so that this process's registry
never sees the plug-in. Checked: polyact discovers its entry point and lists
``smelu``, the activation runs on the backends under test with the right values
and derivative, ``POLYACT_NO_PLUGINS=1`` hides it, ``polyact check`` passes on
it, and ``python -m polyact.docsite --only-plugins`` writes its page.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from .conftest import BACKENDS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "polyact-plugin-example"
NAME = "smelu"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The plug-in installed into a temporary folder (built from a copy, so that
    no build output lands in the source tree)."""
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("setuptools is missing from this environment: pip cannot build the example plug-in")
    tmp = tmp_path_factory.mktemp("plugin")
    src = tmp / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--target",
        str(target),
        str(src),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"pip install failed:\n{r.stdout}\n{r.stderr}"
    assert any(target.glob("polyact_example_plugin-*.dist-info/entry_points.txt"))
    yield target


def _env(site: Path, **extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    env.pop("POLYACT_NO_PLUGINS", None)
    env.update(extra)
    return env


def _run(site: Path, args: list, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=_env(site, **extra), timeout=timeout
    )


# the child's program: list, build on each backend, compare values and derivatives
# with the closed form of SmeLU at beta = 0.5; prints one JSON line
_PROGRAM = r"""
import json, sys, warnings
import numpy as np
import polyact as pa
warnings.simplefilter("error", pa.PluginWarning)  # a plug-in that fails to load warns: fail instead

backends = sys.argv[1].split(",")
out = {"listed": "smelu" in pa.list_activations(), "alias": pa.get_spec("smooth_relu").name}
beta = 0.5
xs = np.array([-3.0, -0.5, -0.25, 0.0, 0.25, 0.5, 2.0])
want = np.where(xs <= -beta, 0.0, np.where(xs >= beta, xs, (xs + beta) ** 2 / (4 * beta)))
dwant = np.where(xs <= -beta, 0.0, np.where(xs >= beta, 1.0, (xs + beta) / (2 * beta)))
res = {}
if "numpy" in backends:
    f = pa.get_function("smelu", backend="numpy", beta=beta)
    res["numpy"] = [np.asarray(f(xs)).tolist(), None]
if "torch" in backends:
    import torch
    act = pa.get_activation("smelu", backend="torch", beta=beta)
    x = torch.tensor(xs, requires_grad=True)
    y = act(x)
    y.sum().backward()
    res["torch"] = [y.detach().numpy().tolist(), x.grad.numpy().tolist()]
if "jax" in backends:
    import jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    act = pa.get_activation("smelu", backend="jax", beta=beta)
    x = jnp.asarray(xs)
    res["jax"] = [np.asarray(act(x)).tolist(), np.asarray(jax.grad(lambda v: act(v).sum())(x)).tolist()]
if "megengine" in backends:
    import megengine as mge
    from megengine.autodiff import GradManager
    act = pa.get_activation("smelu", backend="megengine", beta=beta)
    x = mge.tensor(xs.astype("float32"))
    gm = GradManager()
    gm.attach([x])
    with gm:
        y = act(x)
        gm.backward(y.sum())
    res["megengine"] = [y.numpy().tolist(), x.grad.numpy().tolist()]
for b, (y, g) in res.items():
    tol = 1e-6 if b == "megengine" else 1e-12
    assert np.allclose(y, want, rtol=tol, atol=tol), (b, y)
    assert g is None or np.allclose(g, dwant, rtol=tol, atol=tol), (b, g)
out["checked"] = sorted(res)
print(json.dumps(out))
"""


def test_plugin_is_discovered_and_runs_on_every_backend(site: Path) -> None:
    r = _run(site, ["-c", _PROGRAM, ",".join(BACKENDS)])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["listed"], "the plug-in's activation is not listed"
    assert out["alias"] == NAME
    assert out["checked"] == sorted(BACKENDS)


def test_plugin_discovery_can_be_turned_off(site: Path) -> None:
    code = "import polyact as pa; print('smelu' in pa.list_activations())"
    r = _run(site, ["-c", code], POLYACT_NO_PLUGINS="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_plugin_meets_the_numerical_contract(site: Path) -> None:
    backend = "numpy" if "numpy" in BACKENDS else BACKENDS[0]
    dtype = "float32" if backend == "megengine" else "float64"
    args = ["-m", "polyact", "check", NAME, "--backend", backend, "--dtype", dtype, "--no-progress"]
    r = _run(site, args)
    assert r.returncode == 0, f"polyact check failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    assert "0 contract failures" in r.stdout


def _docsite() -> Optional[str]:
    try:
        return "polyact.docsite" if importlib.util.find_spec("polyact.docsite") is not None else None
    except ImportError:
        return None


@pytest.mark.skipif(_docsite() is None, reason="polyact.docsite is not there yet")
def test_plugin_gets_a_docs_page(site: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("the docs generator needs matplotlib (the main environment has it)")
    out = tmp_path / "docs"
    r = _run(site, ["-m", "polyact.docsite", "--out", str(out), "--only-plugins", "--no-build"])
    assert r.returncode == 0, f"polyact.docsite failed:\n{r.stdout}\n{r.stderr}"
    assert (out / "docs" / "activations" / f"{NAME}.md").is_file()
    assert not (out / "docs" / "activations" / "relu.md").exists(), "--only-plugins listed a built-in"


def test_guide_shows_the_example_as_it_is() -> None:
    """docs/guide/04-plugins.md quotes the package's two files verbatim: keep them in step."""
    guide = (EXAMPLE.parent.parent / "docs" / "guide" / "04-plugins.md").read_text(encoding="utf-8")
    for rel in ("pyproject.toml", "src/polyact_example_plugin/__init__.py"):
        text = (EXAMPLE / rel).read_text(encoding="utf-8")
        assert text in guide, f"docs/guide/04-plugins.md no longer shows {rel} as it is"
