"""The documentation site, generated from the registry (``polyact docs``).

:func:`build` writes an MkDocs (Material) project and builds it::

    out_dir/mkdocs.yml
    out_dir/docs/        index.md and the guide (copied), catalogue.md,
                         activations/NAME.md, plots/NAME.svg, plots/NAME-thumb.svg,
                         reference/*.md (mkdocstrings), assets/ (KaTeX, scripts)
    out_dir/site/        the built HTML (``mkdocs build --strict``)

Every activation page comes from its spec (formula, parameters, kernels per
backend, origin, deviations, references, examples) and from ``polyact check
--report FILE.json`` reports (accuracy), so the docs cannot disagree with the
code. Formulas are rendered by a local copy of KaTeX: nothing is loaded from
the network when the site is built or read.

The project's own site::

    polyact docs --out build/docs --guide docs --katex build/vendor/katex \\
        --accuracy build/check-main.json --accuracy build/check-megengine.json

A plug-in's site (its package installed, or its module imported)::

    polyact docs --out mydocs --module my_pkg
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import registry
from .errors import PolyactError

__all__ = ["DocsiteError", "build", "main"]

MARKER = ".polyact-docsite"
#: the KaTeX files the site needs (fonts/ is copied whole)
KATEX_FILES = ("katex.min.js", "katex.min.css", "contrib/auto-render.min.js")
#: guide pages are ordered by a leading number, else by these words in their names
GUIDE_ORDER = (
    "index",
    "getting",
    "start",
    "install",
    "quick",
    "param",
    "trainab",
    "custom",
    "plugin",
    "plug-in",
    "kernel",
    "numeric",
    "consisten",
    "check",
    "accura",
    "bench",
    "migration",
)
GENERATED = ("activations", "plots", "reference", "assets", "catalogue.md")

KATEX_INIT = r"""// Renders the arithmatex math of each page with the site's own KaTeX.
(function () {
  function render() {
    if (typeof renderMathInElement !== "function") return;
    var nodes = document.querySelectorAll(".arithmatex");
    for (var i = 0; i < nodes.length; i++) {
      renderMathInElement(nodes[i], {
        delimiters: [
          { left: "\\(", right: "\\)", display: false },
          { left: "\\[", right: "\\]", display: true },
        ],
        throwOnError: false,
      });
    }
  }
  if (typeof document$ !== "undefined" && document$.subscribe) {
    document$.subscribe(render); // Material: every page, instant navigation included
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", render);
  } else {
    render();
  }
})();
"""

CATALOGUE_JS = r"""// The catalogue's filters: kind, properties and a name search, on data attributes.
(function () {
  function setup() {
    var table = document.querySelector("table.pa-catalogue");
    if (!table || table.dataset.paReady) return;
    table.dataset.paReady = "1";
    var kind = document.getElementById("pa-kind");
    var text = document.getElementById("pa-text");
    var count = document.getElementById("pa-count");
    var boxes = document.querySelectorAll("input[data-prop]");
    var rows = table.querySelectorAll("tbody tr");
    function apply() {
      var shown = 0;
      var words = (text && text.value ? text.value : "").toLowerCase().trim();
      for (var i = 0; i < rows.length; i++) {
        var r = rows[i];
        var ok = !kind || !kind.value || r.dataset.kind === kind.value;
        for (var j = 0; j < boxes.length && ok; j++) {
          if (boxes[j].checked && r.dataset[boxes[j].dataset.prop] !== "true") ok = false;
        }
        if (ok && words) ok = (r.dataset.names || "").indexOf(words) >= 0;
        r.style.display = ok ? "" : "none";
        if (ok) shown++;
      }
      if (count) count.textContent = shown + " of " + rows.length + " shown";
    }
    if (kind) kind.addEventListener("change", apply);
    if (text) text.addEventListener("input", apply);
    for (var k = 0; k < boxes.length; k++) boxes[k].addEventListener("change", apply);
    apply();
  }
  if (typeof document$ !== "undefined" && document$.subscribe) {
    document$.subscribe(setup);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
"""

EXTRA_CSS = """/* polyact docs: catalogue filters and thumbnails */
.pa-filters { display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; align-items: center; margin: 0.8rem 0; }
.pa-filters select, .pa-filters input[type=search] { border: 1px solid #999; padding: 0 0.3rem; }
#pa-count { opacity: 0.7; }
table.pa-catalogue img { max-width: 120px; height: auto; }
.arithmatex { overflow-x: auto; }
"""


class DocsiteError(PolyactError):
    """The site could not be generated or built (the message says why)."""


# --------------------------------------------------------------------------- YAML
def _yaml(obj: Any, indent: int = 0) -> List[str]:
    """A small YAML writer for mappings, lists and scalars (strings as JSON,
    which YAML reads)."""
    pad = "  " * indent
    out: List[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = k if re.fullmatch(r"[A-Za-z_][\w.\-]*", k) else json.dumps(k)
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{key}:")
                out += _yaml(v, indent + 1)
            else:
                out.append(f"{pad}{key}: {_scalar(v)}")
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                inner = _yaml(v, indent + 1)
                out.append(f"{pad}- {inner[0].lstrip()}")
                out += inner[1:]
            else:
                out.append(f"{pad}- {_scalar(v)}")
    else:
        out.append(pad + _scalar(obj))
    return out


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(str(v))


# --------------------------------------------------------------------------- guide
def _title(path: Path) -> str:
    """The first ``# heading`` of a Markdown file, else its name made readable."""
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return re.sub(r"\s*\{[^}]*\}\s*$", "", line[2:]).strip()
    except (OSError, UnicodeDecodeError):
        pass
    stem = re.sub(r"^\d+[-_ ]*", "", path.stem)
    return stem.replace("-", " ").replace("_", " ").capitalize() or path.stem


def _guide_key(rel: str) -> Tuple[int, int, str]:
    base = rel.rsplit("/", 1)[-1].lower()
    m = re.match(r"(\d+)", base)
    if base == "index.md":
        return (-1, 0, rel)
    if m:
        return (0, int(m.group(1)), rel)
    for i, word in enumerate(GUIDE_ORDER):
        if word in base:
            return (1, i, rel)
    return (2, 0, rel)


def _guide_nav(docs: Path, files: Sequence[str]) -> List[Any]:
    """Nav entries for the copied guide's Markdown files (``index.md`` excluded):
    ``guide/`` first, then the other pages, each group in guide order."""
    pages = [f for f in files if f.endswith(".md") and f != "index.md"]
    in_guide = sorted((f for f in pages if f.startswith("guide/")), key=_guide_key)
    others = sorted((f for f in pages if not f.startswith("guide/")), key=_guide_key)
    return [{_title(docs / f): f} for f in (*in_guide, *others)]


def _copy_guide(guide: Path, docs: Path) -> List[str]:
    """Copy the guide folder into the sources; returns the files copied
    (relative, '/'-separated). Generated names may not be taken by the guide."""
    copied = []
    for src in sorted(guide.rglob("*")):
        rel = src.relative_to(guide).as_posix()
        if src.is_dir() or any(part.startswith(".") for part in src.relative_to(guide).parts):
            continue
        if rel.split("/", 1)[0] in GENERATED:
            raise DocsiteError(f"the guide folder {guide} has {rel}, a name the generator writes itself")
        dest = docs / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        copied.append(rel)
    return copied


# --------------------------------------------------------------------------- KaTeX
def _katex_dir(katex_dir: Optional[Union[str, Path]]) -> Optional[Path]:
    """The KaTeX release folder to copy, or None when there is none (the caller
    decides whether that is an error)."""
    cand = Path(katex_dir) if katex_dir is not None else Path.cwd() / "build" / "vendor" / "katex"
    missing = [f for f in KATEX_FILES if not (cand / f).is_file()]
    if not missing and (cand / "fonts").is_dir():
        return cand
    if katex_dir is not None:
        what = ", ".join(missing) or "fonts/"
        raise DocsiteError(f"--katex {katex_dir}: not a KaTeX release folder (missing {what})")
    return None


def _copy_katex(src: Path, dest: Path) -> None:
    for f in KATEX_FILES:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / f, dest / f)
    shutil.copytree(src / "fonts", dest / "fonts", dirs_exist_ok=True)


# --------------------------------------------------------------------------- selection
@contextlib.contextmanager
def _neutral_selection() -> Iterator[None]:
    """Kernel choices as shipped: the package's calibration table, no
    ``POLYACT_KERNEL`` override (a user's settings do not leak into the docs)."""
    from . import _calibration

    saved = {k: os.environ.get(k) for k in ("POLYACT_CALIBRATION", "POLYACT_KERNEL")}
    os.environ["POLYACT_CALIBRATION"] = _calibration.SHIPPED
    os.environ.pop("POLYACT_KERNEL", None)
    _calibration.reload()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _calibration.reload()


def _select_names(names: Optional[Sequence[str]], modules: Sequence[str], only_plugins: bool) -> List[str]:
    from .cli import _UsageError, load_module

    registry.get_spec("relu")  # the built-ins are registered before any module
    builtin = set(registry._builtin)
    added: List[str] = []
    for m in modules:
        try:
            added += load_module(m)
        except _UsageError as exc:
            raise DocsiteError(str(exc)) from None
    if names:
        out = []
        for n in [*names, *added]:
            canonical = registry.get_spec(n).name
            if canonical not in out:
                out.append(canonical)
        return out
    every = registry.list_activations()
    if only_plugins or modules:
        plugins = [n for n in every if n not in builtin]
        if not plugins:
            raise DocsiteError("no activation outside polyact's built-ins is registered (plug-ins, --module)")
        return plugins
    return every


# --------------------------------------------------------------------------- build
def _prepare(out: Path) -> Tuple[Path, Path]:
    docs, site = out / "docs", out / "site"
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise DocsiteError(f"{out} exists and was not written by polyact docs; choose an empty or new folder")
    for p in (docs, site):
        if p.exists():
            shutil.rmtree(p)
    docs.mkdir(parents=True)
    (out / MARKER).write_text("generated by polyact docs; docs/ and site/ are rewritten\n", encoding="utf-8")
    return docs, site


def _plots(specs: Sequence[Any], plots: Path, errors: List[str]) -> Tuple[Dict[str, str], Dict[str, str]]:
    """Write the page plot and thumbnail of every spec; returns their file names."""
    from . import plot
    from ._docsite_pages import _plot_params

    pages: Dict[str, str] = {}
    thumbs: Dict[str, str] = {}
    plots.mkdir(parents=True, exist_ok=True)
    for s in specs:
        base, variants = _plot_params(s)
        try:
            plot.save(s.name, plots / f"{s.name}.svg", params=base or None, variants=variants)
            pages[s.name] = f"{s.name}.svg"
            plot.save(s.name, plots / f"{s.name}-thumb.svg", params=base or None, thumbnail=True)
            thumbs[s.name] = f"{s.name}-thumb.svg"
        except PolyactError as exc:
            if "matplotlib" in str(exc):
                raise DocsiteError(str(exc)) from None
            errors.append(f"plot of {s.name}: {exc}")
        except Exception as exc:  # a plot must not hide the other pages' problems
            errors.append(f"plot of {s.name}: {type(exc).__name__}: {exc}")
    return pages, thumbs


def _mkdocs_config(
    site_name: str, nav: List[Any], katex: bool, reference: bool, strict: bool
) -> Dict[str, Any]:
    root = str(Path(__file__).resolve().parent.parent)
    config: Dict[str, Any] = {
        "site_name": site_name,
        "site_description": "Activation functions on NumPy, PyTorch, JAX and MegEngine, generated by polyact docs",
        "docs_dir": "docs",
        "site_dir": "site",
        "use_directory_urls": True,
        "strict": strict,
        "theme": {
            "name": "material",
            "font": False,  # no Google Fonts: the site loads nothing from the network
            "features": ["navigation.sections", "navigation.top", "content.code.copy", "content.tabs.link"],
            "palette": {"primary": "indigo", "accent": "indigo"},
        },
        "markdown_extensions": [
            "tables",
            "admonition",
            "attr_list",
            "md_in_html",
            "pymdownx.details",
            "pymdownx.superfences",
            {"pymdownx.tabbed": {"alternate_style": True}},
            {"pymdownx.highlight": {"anchor_linenums": False}},
            {"pymdownx.arithmatex": {"generic": True}},
            {"toc": {"permalink": True}},
            "polyact._docsite_md",
        ],
        "extra_css": ["assets/polyact.css"],
        "extra_javascript": ["assets/catalogue.js"],
        "plugins": ["search"],
        "nav": nav,
    }
    if katex:
        config["extra_css"] = ["assets/katex/katex.min.css", *config["extra_css"]]
        config["extra_javascript"] = [
            "assets/katex/katex.min.js",
            "assets/katex/contrib/auto-render.min.js",
            "assets/katex-init.js",
            *config["extra_javascript"],
        ]
    if reference:
        config["plugins"].append(
            {
                "mkdocstrings": {
                    "default_handler": "python",
                    "handlers": {
                        "python": {
                            "paths": [root],
                            "options": {
                                "docstring_style": "google",
                                "show_root_heading": True,
                                "show_root_full_path": False,
                                "show_source": False,
                                "show_signature_annotations": True,
                                "separate_signature": True,
                                "heading_level": 3,
                                "members_order": "source",
                                "filters": ["!^_"],
                                "docstring_options": {"warn_unknown_params": False},
                            },
                        }
                    },
                }
            }
        )
    return config


def _run_mkdocs(out: Path, site: Path, strict: bool) -> Tuple[float, List[str]]:
    config, site = (out / "mkdocs.yml").resolve(), site.resolve()  # -d is read relative to the config
    cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config), "-d", str(site)]
    if strict:
        cmd.insert(4, "--strict")
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.setdefault("NO_MKDOCS_2_WARNING", "1")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    output = (proc.stdout + proc.stderr).strip()
    warnings = [ln for ln in output.splitlines() if ln.startswith(("WARNING", "ERROR"))]
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-40:])
        raise DocsiteError(f"mkdocs build failed (exit status {proc.returncode}):\n{tail}")
    return seconds, warnings


def build(
    out_dir: Union[str, Path],
    *,
    names: Optional[Sequence[str]] = None,
    modules: Sequence[str] = (),
    accuracy: Sequence[Union[str, Path]] = (),
    guide_dir: Optional[Union[str, Path]] = None,
    katex_dir: Optional[Union[str, Path]] = None,
    run_mkdocs: bool = True,
    strict: bool = True,
    only_plugins: bool = False,
    site_name: Optional[str] = None,
    api_reference: Optional[bool] = None,
) -> Dict[str, Any]:
    """Generate the site's sources into ``out_dir`` and (``run_mkdocs``) build it.

    ``names``: the activations to document (default: every registered one, or
    only those outside polyact's built-ins when ``modules`` are given or
    ``only_plugins``); ``modules``: modules or ``.py`` files to import first
    (they register activations); ``accuracy``: ``polyact check --report``
    JSON files; ``guide_dir``: hand-written pages to copy (``index.md``,
    ``guide/*.md``, ...); ``katex_dir``: a KaTeX release (default
    ``build/vendor/katex``; required when ``strict``); ``api_reference``: the
    mkdocstrings pages (default: unless only plug-ins are documented).
    ``strict`` builds fail on any MkDocs warning, plot failure or missing KaTeX.

    Returns a summary: ``pages``, ``plots``, ``names``, ``seconds`` (total),
    ``generate_seconds``, ``mkdocs_seconds``, ``docs`` and ``site`` paths,
    ``warnings``.
    """
    from ._docsite_pages import Accuracy, activation_page, catalogue_page, home_page, reference_pages

    t0 = time.perf_counter()
    out = Path(out_dir)
    katex = _katex_dir(katex_dir)
    warnings: List[str] = []
    if katex is None:
        if strict:
            raise DocsiteError(
                "KaTeX not found at build/vendor/katex: pass katex_dir / --katex DIR (a KaTeX release "
                "with katex.min.js, katex.min.css, fonts/, contrib/auto-render.min.js; "
                "in polyact's repository `bash scripts/setup_env.sh docs` fetches it; elsewhere `npm pack "
                "katex@0.16.22 && tar xzf katex-0.16.22.tgz` gives it as package/dist). The site never "
                "loads it from a CDN."
            )
        warnings.append("no KaTeX: formulas are shown as TeX source")
    guide = Path(guide_dir) if guide_dir is not None else None
    if guide is not None and not guide.is_dir():
        raise DocsiteError(f"--guide {guide_dir}: no such folder")
    acc = Accuracy.load(str(p) for p in accuracy) if accuracy else Accuracy()
    selected = _select_names(names, modules, only_plugins)
    specs = [registry.get_spec(n) for n in selected]
    plugins_only = all(n not in registry._builtin for n in selected)
    reference = (not plugins_only) if api_reference is None else api_reference
    docs, site = _prepare(out)

    with _neutral_selection():
        errors: List[str] = []
        plot_files, thumbs = _plots(specs, docs / "plots", errors)
        if errors and strict:
            raise DocsiteError("plots failed:\n" + "\n".join(errors))
        warnings += errors
        from .plot import slice_note

        (docs / "activations").mkdir()
        for s in specs:
            note = (
                slice_note(s.name)
                if s.name in plot_files
                else "the plot could not be drawn (see the build log)"
            )
            page = activation_page(s, plot=plot_files.get(s.name), plot_note=note, accuracy=acc)
            (docs / "activations" / f"{s.name}.md").write_text(page, encoding="utf-8")

    copied = _copy_guide(guide, docs) if guide is not None else []
    title = site_name or ("polyact" if not plugins_only else "polyact activations")
    if "index.md" not in copied:
        (docs / "index.md").write_text(home_page(specs, title), encoding="utf-8")
    (docs / "catalogue.md").write_text(catalogue_page(specs, thumbs), encoding="utf-8")
    assets = docs / "assets"
    assets.mkdir(exist_ok=True)
    (assets / "catalogue.js").write_text(CATALOGUE_JS, encoding="utf-8")
    (assets / "polyact.css").write_text(EXTRA_CSS, encoding="utf-8")
    if katex is not None:
        _copy_katex(katex, assets / "katex")
        (assets / "katex-init.js").write_text(KATEX_INIT, encoding="utf-8")

    nav: List[Any] = [{"Home": "index.md"}]
    guide_nav = _guide_nav(docs, copied)
    if guide_nav:
        nav.append({"Guide": guide_nav})
    nav.append({"Catalogue": "catalogue.md"})
    nav.append({"Activations": [{s.name: f"activations/{s.name}.md"} for s in specs]})
    if reference:
        (docs / "reference").mkdir()
        ref_nav: List[Any] = []
        for fname, text in reference_pages().items():
            (docs / "reference" / fname).write_text(text, encoding="utf-8")
            ref_title = "Overview" if fname == "index.md" else _title(docs / "reference" / fname)
            ref_nav.append({ref_title: f"reference/{fname}"})
        nav.append({"API reference": ref_nav})
    config = _mkdocs_config(title, nav, katex is not None, reference, strict)
    (out / "mkdocs.yml").write_text(
        "# generated by polyact docs: edit the registry or the guide, not this file\n"
        + "\n".join(_yaml(config))
        + "\n",
        encoding="utf-8",
    )
    generate_seconds = time.perf_counter() - t0
    mkdocs_seconds = 0.0
    if run_mkdocs:
        mkdocs_seconds, mk_warnings = _run_mkdocs(out, site, strict)
        warnings += mk_warnings
    return {
        "pages": len(specs),
        "plots": len(plot_files),
        "thumbnails": len(thumbs),
        "names": [s.name for s in specs],
        "docs": str(docs),
        "site": str(site) if run_mkdocs else None,
        "generate_seconds": round(generate_seconds, 2),
        "mkdocs_seconds": round(mkdocs_seconds, 2),
        "seconds": round(time.perf_counter() - t0, 2),
        "warnings": warnings,
    }


# --------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="polyact docs",
        description="Generate the documentation site from the registry and build it with MkDocs.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="activations to document (default: all)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (mkdocs.yml, docs/, site/)")
    p.add_argument("--guide", metavar="DIR", help="hand-written pages to include (index.md, guide/*.md)")
    p.add_argument(
        "--accuracy", action="append", default=[], metavar="FILE.json", help="a polyact check --report JSON"
    )
    p.add_argument("--katex", metavar="DIR", help="a KaTeX release folder (default: build/vendor/katex)")
    p.add_argument(
        "--module", action="append", default=[], metavar="PKG.MOD", help="import a module or .py file first"
    )
    p.add_argument(
        "--only-plugins", action="store_true", help="only activations not built into polyact get pages"
    )
    p.add_argument("--site-name", metavar="TEXT", help="the site's title")
    p.add_argument("--no-build", action="store_true", help="write the sources only (no mkdocs build)")
    p.add_argument("--no-strict", action="store_true", help="warnings do not fail the build")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``polyact docs`` / ``python -m polyact.docsite``: returns the exit status
    (0 built, 1 the build failed, 2 a usage error)."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    for f in args.accuracy:
        if not os.path.isfile(f):
            print(f"polyact docs: --accuracy {f}: no such file", file=sys.stderr)
            return 2
    try:
        summary = build(
            args.out,
            names=args.names or None,
            modules=args.module,
            accuracy=args.accuracy,
            guide_dir=args.guide,
            katex_dir=args.katex,
            run_mkdocs=not args.no_build,
            strict=not args.no_strict,
            only_plugins=args.only_plugins,
            site_name=args.site_name,
        )
    except DocsiteError as exc:
        print(f"polyact docs: {exc}", file=sys.stderr)
        return 1
    except PolyactError as exc:
        print(f"polyact docs: {exc}", file=sys.stderr)
        return 2
    for w in summary["warnings"]:
        print(f"polyact docs: warning: {w}", file=sys.stderr)
    where = summary["site"] or summary["docs"]
    print(
        f"polyact docs: {summary['pages']} pages, {summary['plots']} plots in {summary['seconds']:.1f} s "
        f"(sources {summary['generate_seconds']:.1f} s, mkdocs {summary['mkdocs_seconds']:.1f} s): {where}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
