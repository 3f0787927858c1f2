"""The documentation site generator (polyact.docsite): page sources from the
registry, plots, the catalogue, accuracy from check reports, runnable examples,
and a strict MkDocs build of a small site with a custom activation."""

from __future__ import annotations

import contextlib
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Iterator

import pytest

import polyact as pa
from polyact import docsite
from polyact._docsite_pages import Accuracy, _computes_in

from .conftest import BACKENDS

if "numpy" not in BACKENDS:  # the site is built in the main environment (mkdocs, matplotlib)
    pytest.skip("the docs site is built by the main environment", allow_module_level=True)

NAMES = ["mish", "softplus", "prelu", "swiglu"]
CUSTOM = '''
import polyact as pa

@pa.register_activation(
    "docsite_test_act",
    params={"beta": pa.Param(1.5, domain=pa.positive, doc="steepness")},
    formula=r"x \\tanh(e^{\\beta x})",
    references=(pa.Reference("A test activation", arxiv="2101.00001", authors="Nobody", year=2021),),
)
def docsite_test_act(x, ops, beta):
    """A test activation: x tanh(exp(beta x))."""
    return x * ops.tanh(ops.exp(beta * x))
'''


@pytest.fixture(scope="module")
def katex(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in KaTeX release folder (the generator only copies it)."""
    d = tmp_path_factory.mktemp("katex")
    for f in docsite.KATEX_FILES:
        (d / f).parent.mkdir(parents=True, exist_ok=True)
        (d / f).write_text("/* katex stand-in */\n")
    (d / "fonts").mkdir()
    (d / "fonts" / "KaTeX_Main-Regular.woff2").write_bytes(b"\0")
    return d


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory, katex: Path) -> Path:
    out = tmp_path_factory.mktemp("site") / "out"
    summary = docsite.build(out, names=NAMES, katex_dir=katex, run_mkdocs=False)
    assert summary["pages"] == summary["plots"] == len(NAMES)
    assert summary["site"] is None
    return out / "docs"


@pytest.fixture
def custom_module(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "docsite_custom.py"
    path.write_text(CUSTOM)
    try:
        yield path
    finally:
        with contextlib.suppress(pa.UnknownActivationError):
            pa.unregister_activation("docsite_test_act")


def _page(docs: Path, name: str) -> str:
    return (docs / "activations" / f"{name}.md").read_text(encoding="utf-8")


def _examples(page: str) -> Dict[str, str]:
    """The code of each example tab on a page."""
    out = {}
    for title, body in re.findall(r'=== "([^"]+)"\n\n    ```python\n(.*?)\n    ```', page, re.S):
        out[title] = "\n".join(line[4:] for line in body.splitlines())
    return out


# --------------------------------------------------------------------------- pages
@pytest.mark.parametrize("name", NAMES)
def test_page_content_comes_from_the_spec(sources: Path, name: str) -> None:
    spec = pa.get_spec(name)
    page = _page(sources, name)
    assert page.startswith(f"# {name}\n")
    assert f"$$\n{spec.formula.strip()}\n$$" in page
    for k, p in spec.params.items():
        assert re.search(rf"\| `{k}` \| `{re.escape(repr(p.default))}` \|", page), k
    for a in spec.aliases:
        assert f"`{a}`" in page
    for r in spec.references:
        if r.arxiv:
            assert f"(https://arxiv.org/abs/{r.arxiv})" in page
    for o in spec.origin:
        assert o in page
    assert f"![{name}: f (solid) and f' (dashed)](../plots/{name}.svg)" in page
    # kernels per backend with the auto pick of the backends installed here
    for b in ("numpy", "torch", "jax", "megengine"):
        assert re.search(rf"^\| {b} \| .*`composed`", page, re.M), b
    auto = pa.auto_kernel(name, "numpy")
    assert re.search(rf"^\| numpy \| .* \| `{auto}` \|$", page, re.M)
    assert set(_examples(page)) == {"NumPy", "PyTorch", "JAX", "MegEngine"}


@pytest.mark.parametrize("name", NAMES)
def test_plots_are_valid_svg(sources: Path, name: str) -> None:
    for f in (f"{name}.svg", f"{name}-thumb.svg"):
        path = sources / "plots" / f
        assert path.stat().st_size > 500
        assert ET.parse(path).getroot().tag.endswith("svg")


def test_deviations_and_notes(sources: Path) -> None:
    page = _page(sources, "prelu")
    spec = pa.get_spec("prelu")
    assert "## Deviations and notes" in page
    assert "**megengine** native op, never picked by `auto`" in page
    for n in spec.notes:
        assert n.split(";")[0] in page


def test_catalogue_lists_and_filters(sources: Path) -> None:
    text = (sources / "catalogue.md").read_text(encoding="utf-8")
    rows = re.findall(r"<tr data-[^>]*>", text)
    assert len(rows) == len(NAMES)
    for name in NAMES:
        spec = pa.get_spec(name)
        assert f'href="../activations/{name}/"' in text
        assert f'src="../plots/{name}-thumb.svg"' in text
        assert f'data-kind="{spec.kind}"' in text
    assert 'data-trainable="true"' in text  # prelu
    assert 'id="pa-kind"' in text and 'data-prop="monotone"' in text
    js = (sources / "assets" / "catalogue.js").read_text(encoding="utf-8")
    assert "data-prop" in js and "pa-kind" in js
    assert (sources / "assets" / "katex" / "katex.min.js").is_file()
    assert "renderMathInElement" in (sources / "assets" / "katex-init.js").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["mish", "prelu", "swiglu"])
def test_page_examples_run(sources: Path, name: str) -> None:
    """The NumPy, PyTorch and JAX examples run as printed on the page."""
    code = _examples(_page(sources, name))
    for title in ("NumPy", "PyTorch", "JAX"):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code[title], f"<{name} {title}>", "exec"), {"__name__": "example"})


# --------------------------------------------------------------------------- accuracy
def _summary_row(backend: str, dtype: str, fwd: float, grad: object, **kw: object) -> dict:
    row = {
        "activation": "mish",
        "label": "mish",
        "params": {},
        "backend": backend,
        "kernel": "fused",
        "auto": True,
        "dtype": dtype,
        "forward_ulp": fwd,
        "gradient_ulp": grad,
        "ok": True,
    }
    row.update(kw)
    return row


def test_accuracy_from_check_reports(tmp_path: Path) -> None:
    report = {
        "entries": [],
        "summary": [
            _summary_row("torch", "float32", 2.0, 17.0),
            _summary_row("torch", "float64", 0.4, None),
            _summary_row("torch", "float32", 99.0, 99.0, kernel="composed", auto=False),
            _summary_row("jax", "float32", 3.0, 5.0, ok=False),
            _summary_row("jax", "float32", 7.0, 7.0, label="mish(x=1)"),
        ],
    }
    entries = {  # the raw form (no summary): a megengine cell
        "entries": [
            {
                "label": "mish",
                "kind": "fused",
                "auto": True,
                "cell": {
                    "name": "mish",
                    "backend": "megengine",
                    "kernel": "fused",
                    "dtype": "float32",
                    "forward_ulp": 4.0,
                    "gradient_ulp": 6.0,
                    "forward_ok": True,
                    "gradient_ok": True,
                },
            }
        ]
    }
    paths = []
    for i, r in enumerate((report, entries)):
        paths.append(tmp_path / f"r{i}.json")
        paths[-1].write_text(json.dumps(r))
    table = Accuracy.load(map(str, paths)).table("mish")
    assert table is not None
    assert "| torch | <1 / - (fused) | 2 / 17 (fused) |" in table.replace("&lt;", "<")
    # float64 on JAX depends on jax_enable_x64 in this process (the suite turns it on with JAX)
    jax64 = "not measured" if _computes_in("jax", "float64") else "no float64 on jax"
    assert f"| jax | {jax64} | 3 / 5 (fused) **fails** |" in table
    assert "| megengine | no float64 on megengine | 4 / 6 (fused) |" in table
    assert "| numpy | not measured | not measured |" in table
    assert Accuracy().table("mish") is None


# --------------------------------------------------------------------------- builds
def test_strict_build_with_a_custom_module(tmp_path: Path, katex: Path, custom_module: Path) -> None:
    out = tmp_path / "site"
    guide = tmp_path / "guide"
    (guide / "guide").mkdir(parents=True)
    (guide / "index.md").write_text("# Home\n\nSee the [catalogue](catalogue.md).\n")
    (guide / "guide" / "02-later.md").write_text("# Later\n\nText.\n")
    (guide / "guide" / "01-first.md").write_text("# First\n\nSee [mish](../activations/mish.md).\n")
    names = ["mish", "prelu", "swiglu"]
    argv = ["--out", str(out), "--katex", str(katex), "--guide", str(guide), "--module", str(custom_module)]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert docsite.main([*argv, *names]) == 0
    assert "4 pages, 4 plots" in printed.getvalue()
    site = out / "site"
    catalogue = (site / "catalogue" / "index.html").read_text(encoding="utf-8")
    for name in [*names, "docsite_test_act"]:
        page = site / "activations" / name / "index.html"
        assert page.is_file(), name
        assert f'href="../activations/{name}/"' in catalogue
    html = (site / "activations" / "docsite_test_act" / "index.html").read_text(encoding="utf-8")
    assert 'class="arithmatex"' in html and "https://arxiv.org/abs/2101.00001" in html
    assert "docsite_custom" in html  # provided by the user module
    assert (site / "reference" / "registry" / "index.html").is_file()
    yml = (out / "mkdocs.yml").read_text(encoding="utf-8")
    assert yml.index("guide/01-first.md") < yml.index("guide/02-later.md")
    assert "http" not in "".join(line for line in yml.splitlines() if "javascript" in line or "css" in line)


def test_plugin_site_documents_only_the_plugin(tmp_path: Path, katex: Path, custom_module: Path) -> None:
    summary = docsite.build(tmp_path / "out", modules=[str(custom_module)], katex_dir=katex, run_mkdocs=False)
    assert summary["names"] == ["docsite_test_act"]
    docs = tmp_path / "out" / "docs"
    assert not (docs / "reference").exists()
    assert "[docsite_test_act](activations/docsite_test_act.md)" in (docs / "index.md").read_text()


def test_generated_yaml_reads_back(tmp_path: Path) -> None:
    import yaml  # installed with mkdocs (the docs tools are part of the main environment)

    config = docsite._mkdocs_config(
        't: "x"', [{"Home": "index.md"}, {"A": [{"b c": "b.md"}]}], True, True, True
    )
    assert yaml.safe_load("\n".join(docsite._yaml(config))) == config


def test_usage_errors(tmp_path: Path, katex: Path) -> None:
    with pytest.raises(docsite.DocsiteError, match="not a KaTeX release"):
        docsite.build(tmp_path / "a", names=["relu"], katex_dir=tmp_path)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(docsite.DocsiteError, match="not written by polyact docs"):
        docsite.build(taken, names=["relu"], katex_dir=katex, run_mkdocs=False)
    assert (taken / "notes.txt").read_text() == "mine"
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert docsite.main(["--out", str(tmp_path / "b"), "--accuracy", str(tmp_path / "none.json")]) == 2
    assert "no such file" in err.getvalue()


def test_doctests_and_roles_in_docstrings_render_as_code() -> None:
    import markdown

    text = (
        "Use :func:`get_activation` or :class:`~polyact.spec.Kernel`.\n\n>>> import polyact\n>>> 1 + 1\n2\n"
    )
    html = markdown.Markdown(extensions=["polyact._docsite_md", "fenced_code"]).convert(text)
    assert "<code>get_activation</code>" in html and "<code>Kernel</code>" in html
    assert "<pre><code" in html and "&gt;&gt;&gt; 1 + 1\n2" in html
