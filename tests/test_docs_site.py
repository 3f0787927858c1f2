"""The built documentation site (``make test-docs``): a page and a plot for every
registered activation, every one listed in the catalogue, and a formula rendered
as math by KaTeX in a real headless Chromium (Debian's ``chromium``).

Collected only when ``POLYACT_DOCS_SITE`` names a site built by ``polyact docs``
(the folder holding ``mkdocs.yml``, ``docs/`` and ``site/``; see conftest.py).
Under ``CI=true`` a missing Chromium fails instead of skipping.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import polyact

ROOT = Path(os.environ.get("POLYACT_DOCS_SITE", "build/docs"))
SITE = ROOT / "site"
SHOTS = Path(os.environ.get("POLYACT_DOCS_SHOTS", "build/docs-check"))
NAMES = polyact.list_activations()


def _chromium() -> str:
    for c in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(c)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("no Chromium: `bash scripts/setup_env.sh docs` installs Debian's chromium")
    pytest.skip("no Chromium here (bash scripts/setup_env.sh docs installs it)")


def test_site_was_built() -> None:
    assert (SITE / "index.html").is_file(), f"no site in {SITE}: run `make docs` (or polyact docs)"


@pytest.mark.parametrize("name", NAMES)
def test_every_activation_has_a_page_and_a_plot(name: str) -> None:
    page = SITE / "activations" / name / "index.html"
    assert page.is_file(), f"no page for {name}"
    html = page.read_text(encoding="utf-8")
    spec = polyact.get_spec(name)
    assert name in html
    # the formula is on the page as math for KaTeX (arithmatex's generic wrapper)
    assert 'class="arithmatex"' in html, f"{name}: no math on the page"
    plots = re.findall(r'src="([^"]*plots/[^"]+\.(?:svg|png))"', html)
    assert plots, f"{name}: the page shows no plot"
    for src in plots:
        target = (page.parent / src).resolve()
        assert target.is_file() and target.stat().st_size > 500, f"{name}: plot {src} missing or empty"
    for p in spec.params:
        assert p in html, f"{name}: parameter {p} not on its page"


def test_catalogue_lists_every_activation() -> None:
    html = (SITE / "catalogue" / "index.html").read_text(encoding="utf-8")
    for name in NAMES:
        assert re.search(rf'href="[^"]*activations/{re.escape(name)}/"', html), f"{name} not in the catalogue"


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The site over http on a free localhost port (Chromium runs KaTeX's scripts
    as it would for a reader; file:// pages load no fonts across folders)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _render(url: str, shot: Path) -> Tuple[str, Path]:
    """The DOM after the page's scripts ran, and a screenshot, from headless Chromium."""
    chromium = _chromium()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=10000",
        "--window-size=1200,1400",
    ]
    shot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        common = [chromium, *flags, f"--user-data-dir={profile}"]
        dom = subprocess.run(
            [*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
        ).stdout
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, *flags, f"--user-data-dir={profile}", f"--screenshot={shot}", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return dom, shot


def test_formula_renders_as_math_in_chromium(served: str) -> None:
    """KaTeX turned mish's formula into math: rendered ``.katex`` markup with
    MathML inside, no KaTeX error, and the TeX source no longer shown raw."""
    dom, shot = _render(f"{served}/activations/mish/", SHOTS / "mish.png")
    assert shot.is_file() and shot.stat().st_size > 10_000, "no screenshot"
    assert "katex-error" not in dom, "KaTeX reported an error"
    rendered = re.findall(r'<span class="katex-display">', dom) + re.findall(r'<span class="katex">', dom)
    assert rendered, f"no rendered math on the page (screenshot: {shot})"
    assert "<math" in dom and "tanh" in dom, "the rendered math lacks the formula"
    # arithmatex's delimiters are gone once KaTeX has replaced the source
    body = dom.split("<article", 1)[-1]
    assert "\\(" not in body and "\\[" not in body, f"raw TeX left on the page (screenshot: {shot})"
