"""``polyact check``: run the consistency engine outside pytest and report it.

:func:`run_check` turns a selection (activations, backends, kernels, dtypes,
input classes) into :func:`polyact.check.iter_cases`, runs every case through
:func:`polyact.check.run_case` (the function the test suite uses), optionally
adds the frameworks' raw ops (:mod:`polyact._anchors`), and aggregates the
results into one :class:`polyact.check.Cell` per (activation and parameters,
backend, kernel, dtype). :class:`Report` renders the matrix as text, Markdown or
a standalone HTML page, and travels as JSON (``polyact.demo --peer``; ``polyact
check --report FILE.json`` adds a flat ``"summary"`` of the cells for the docs).

Cell marks: ``!`` breaks the contract (exit status 1); ``x`` breaks it, but
informationally (a framework anchor, or a native kernel that ``kernel="auto"``
never picks because of exactly that); ``*`` one of polyact's own kernels misses
its accuracy goal (NUMERICS.md; reported, not a failure).
"""

from __future__ import annotations

import html
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple

import numpy as np

from . import _jsonio, registry
from ._anchors import ANCHOR, anchor_name, has_anchor, run_anchor_case
from ._inputs import GRID_CLASSES, HALF
from ._numerics import goal
from .check import WHATS, Case, Cell, Result, backend_dtypes, iter_cases, param_id, param_sets, run_case

__all__ = ["DTYPE_ORDER", "Entry", "Progress", "Report", "run_check"]

DTYPE_ORDER = ("float64", "float32", "float16", "bfloat16")
BACKEND_ORDER = ("numpy", "torch", "jax", "megengine")
OWN_KINDS = ("composed", "fused")
AUTO = "auto"  # --kernel auto: the kernel kernel="auto" picks  # polyact's own kernels: measured against the GOALS

LEGEND = (
    "cells: worst error in ULPs, forward/gradient ('-': no gradient; 'inf': NaN or inf where the value "
    "is finite)",
    "  !  breaks the contract (exit status 1)",
    "  x  breaks the contract, informational: a framework anchor, or a native kernel kernel='auto' never picks",
    "  *  misses polyact's accuracy goal (NUMERICS.md; reported, not a failure)",
)


# --------------------------------------------------------------------------- progress
class Progress:
    """A one-line text progress bar on a stream (stderr), redrawn at most 10 times a second."""

    def __init__(self, total: int, enabled: bool = True, stream: Optional[TextIO] = None, width: int = 30):
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.width = width
        self._last = 0.0
        self._shown = 0

    def update(self, done: int, text: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        fill = int(self.width * done / self.total)
        line = f"[{'#' * fill}{'.' * (self.width - fill)}] {done}/{self.total} {text}"
        pad = max(self._shown - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._shown = len(line)

    def close(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0


# --------------------------------------------------------------------------- entries
@dataclass
class Entry:
    """One cell of the matrix and what the report needs to know about it."""

    cell: Cell
    label: str  # activation and parameters: "softplus(beta=2)"
    kind: str  # kernel kind: native, composed, custom, anchor
    auto: bool = False  # kernel="auto" picks this kernel
    counts: bool = True  # a contract failure here fails the run
    note: str = ""  # the anchor's op, or why a native kernel is not auto
    errors: List[str] = field(default_factory=list)  # exceptions raised by cases
    params: Dict[str, Any] = field(default_factory=dict)  # the activation's parameters in this cell

    @property
    def ok(self) -> bool:
        return self.cell.ok and not self.errors

    @property
    def failing(self) -> bool:
        """A contract failure that fails the run."""
        return self.counts and not self.ok

    @property
    def misses_goal(self) -> bool:
        return self.kind in OWN_KINDS and self.ok and not self.cell.meets_goal

    @property
    def mark(self) -> str:
        if not self.ok:
            return "!" if self.counts else "x"
        return "*" if self.misses_goal else ""

    @property
    def kernel_label(self) -> str:
        if self.kind == ANCHOR:
            return f"anchor {self.note}" if self.note else ANCHOR
        return self.cell.kernel + (" [auto]" if self.auto else "")

    def text(self) -> str:
        """``fwd/grad`` worst ULPs and the mark."""
        if self.errors and self.cell.cases == 0:
            return "error!" if self.counts else "error x"
        body = f"{fmt_ulp(self.shown_ulp('forward'))}/{fmt_ulp(self.shown_ulp('gradient'))}"
        if self.errors:
            body += " error"
        return body + self.mark

    def shown_ulp(self, what: str) -> Optional[float]:
        """The worst error of forward or gradient values over the finite inputs, NaN
        or inf results included (``Cell`` leaves non-finite errors out of its worst
        ULP). Failures at +-inf and NaN inputs show in the mark and the details."""
        c = self.cell
        v = c.forward_ulp if what == "forward" else c.gradient_ulp
        if v is None:
            return None
        bad = [r[5] for r in c.worst if r[0] == what and math.isfinite(r[2])]
        return max([v, *bad])

    def worst(self, k: int = 5) -> List[Tuple[str, str, float, float, float, float]]:
        """Up to ``k`` worst failing inputs per forward/gradient, one per x: finite
        inputs first, largest error first, then smallest |x| (where the failure starts)."""
        seen = set()
        count: Dict[str, int] = {}
        out = []
        rows = sorted(
            self.cell.worst,
            key=lambda r: (
                r[0] != "forward",
                not math.isfinite(r[2]),  # finite inputs first: +-inf and NaN are conventions
                -r[5] if not math.isnan(r[5]) else -math.inf,
                abs(r[2]),
            ),
        )
        for r in rows:
            key = (r[0], repr(r[2]))
            if key in seen or count.get(r[0], 0) >= k:
                continue
            seen.add(key)
            count[r[0]] = count.get(r[0], 0) + 1
            out.append(r)
        return out

    def to_json(self) -> Dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "cell"}
        d["cell"] = self.cell.as_dict()
        return d

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> Entry:
        d = dict(d)
        c = dict(d.pop("cell"))
        c["worst"] = [tuple(w) for w in c.get("worst", [])]
        return cls(cell=Cell(**c), **d)


def fmt_ulp(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if math.isnan(v) or math.isinf(v):
        return "inf"
    if v == 0:
        return "0"
    if v < 1:
        return "<1"
    return f"{v:.0f}" if v < 1e5 else f"{v:.1e}".replace("e+0", "e").replace("e+", "e")


def fmt_num(v: float) -> str:
    return repr(float(v))


# --------------------------------------------------------------------------- the report
@dataclass
class Report:
    """The aggregated cells of one check run."""

    entries: List[Entry] = field(default_factory=list)
    command: str = ""
    seconds: float = 0.0

    @property
    def dtypes(self) -> List[str]:
        have = {e.cell.dtype for e in self.entries}
        return [d for d in DTYPE_ORDER if d in have]

    @property
    def cases(self) -> int:
        return sum(e.cell.cases for e in self.entries)

    def rows(self) -> List[Tuple[Tuple[str, str, str], Dict[str, Entry]]]:
        """(label, backend, kernel label) -> {dtype: entry}, in run order."""
        out: Dict[Tuple[str, str, str], Dict[str, Entry]] = {}
        for e in self.entries:
            out.setdefault((e.label, e.cell.backend, e.kernel_label), {})[e.cell.dtype] = e
        return list(out.items())

    @property
    def failures(self) -> List[Entry]:
        return [e for e in self.entries if e.failing]

    @property
    def informational(self) -> List[Entry]:
        return [e for e in self.entries if not e.ok and not e.counts]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    def extend(self, other: Report) -> None:
        """Add another run's cells (the demo's peer interpreter), skipping cells already here."""
        have = {_key(e) for e in self.entries}
        self.entries.extend(e for e in other.entries if _key(e) not in have)
        self.seconds += other.seconds

    def worst_per_dtype(self) -> Dict[str, Tuple[float, Optional[float]]]:
        """Worst forward and gradient ULPs per dtype of the kernels whose failures count
        (anchors and native kernels that auto never picks excluded)."""
        out: Dict[str, Tuple[float, Optional[float]]] = {}
        for d in self.dtypes:
            own = [e for e in self.entries if e.cell.dtype == d and e.counts]
            if not own:
                continue
            grads = [g for g in (e.shown_ulp("gradient") for e in own) if g is not None]
            out[d] = (max(e.shown_ulp("forward") or 0.0 for e in own), max(grads) if grads else None)
        return out

    def summary(self) -> str:
        own = [e for e in self.entries if e.kind != ANCHOR]
        anchors = len(self.entries) - len(own)
        goal_miss = sum(e.misses_goal for e in own)
        worst = ", ".join(f"{d} {fmt_ulp(f)}/{fmt_ulp(g)}" for d, (f, g) in self.worst_per_dtype().items())
        parts = [
            f"{len(own)} cell{'s' if len(own) != 1 else ''} ({self.cases} cases) run",
            f"{len(self.failures)} contract failure{'s' if len(self.failures) != 1 else ''}",
        ]
        if anchors:
            parts.append(f"{anchors} anchor cells")
        if self.informational:
            parts.append(f"{len(self.informational)} informational failures")
        if goal_miss:
            parts.append(f"{goal_miss} below the accuracy goal")
        line = "; ".join(parts)
        if worst:
            line += f"; worst ulp (fwd/grad) per dtype: {worst}"
        return line + (f" [{self.seconds:.1f} s]" if self.seconds else "")

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> Dict[str, Any]:
        return {
            "entries": [e.to_json() for e in self.entries],
            "command": self.command,
            "seconds": self.seconds,
        }

    def summary_rows(self) -> List[Dict[str, Any]]:
        """One flat record per cell: activation, label, params, backend, kernel,
        auto, dtype, forward_ulp, gradient_ulp (worst over the input classes, as
        :meth:`Entry.shown_ulp`; None: no gradient) and ok."""
        return [
            {
                "activation": e.cell.name,
                "label": e.label,
                "params": dict(e.params),
                "backend": e.cell.backend,
                "kernel": e.cell.kernel,
                "auto": e.auto,
                "dtype": e.cell.dtype,
                "forward_ulp": e.shown_ulp("forward"),
                "gradient_ulp": e.shown_ulp("gradient"),
                "ok": e.ok,
            }
            for e in self.entries
        ]

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> Report:
        d = _jsonio.restore(d)
        return cls([Entry.from_json(e) for e in d["entries"]], d.get("command", ""), d.get("seconds", 0.0))

    # ------------------------------------------------------------------ text
    def table_lines(self) -> List[str]:
        head = ["activation", "backend", "kernel", *self.dtypes]
        body = []
        for (label, backend, kernel), cells in self.rows():
            body.append(
                [label, backend, kernel, *(cells[d].text() if d in cells else "" for d in self.dtypes)]
            )
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]

        def line(r: Sequence[str]) -> str:
            left = [f"{v:<{w}}" for v, w in zip(r[:3], widths[:3])]
            right = [f"{v:>{w}}" for v, w in zip(r[3:], widths[3:])]
            return "  ".join(left + right).rstrip()

        return [line(head), line(["-" * w for w in widths]), *(line(r) for r in body)]

    def detail_lines(self, entries: Sequence[Entry], k: int) -> List[str]:
        out = []
        for e in entries:
            c = e.cell
            out.append(f"{e.label} {c.backend} {e.kernel_label} {c.dtype}{_why(e)}:")
            out.extend(f"    {msg}" for msg in e.errors)
            for what, cls, x, y, ref, err in e.worst(k):
                out.append(
                    f"    {what:8s} {cls:12s} x={fmt_num(x):>24s}  value={fmt_num(y):>24s}  "
                    f"ref={fmt_num(ref):>24s}  {fmt_ulp(err):>7s} ulp"
                )
        return out

    def render_text(self, worst: int = 5, details: bool = True) -> str:
        lines = self.table_lines()
        lines.append("")
        lines.extend(LEGEND)
        if details and self.failures:
            lines += ["", "Contract failures (worst inputs):", *self.detail_lines(self.failures, worst)]
        if details and self.informational:
            lines += [
                "",
                "Informational failures (framework anchors, native kernels auto never picks):",
                *self.detail_lines(self.informational, worst),
            ]
        lines += ["", self.summary()]
        return "\n".join(lines)

    # ------------------------------------------------------------------ Markdown
    def failure_sections(
        self, worst: int
    ) -> List[Tuple[str, List[Tuple[str, List[str], List[Tuple[str, ...]]]]]]:
        """``[(title, [(heading, messages, worst-input rows as text)])]`` for the
        contract and the informational failures, for every renderer."""
        out = []
        for title, entries in (
            ("Contract failures", self.failures),
            (
                "Informational failures (framework anchors, native kernels auto never picks)",
                self.informational,
            ),
        ):
            if not entries:
                continue
            sections = []
            for e in entries:
                c = e.cell
                heading = f"{e.label} {c.backend} {e.kernel_label} {c.dtype}{_why(e)}"
                rows = [
                    (what, cls, fmt_num(x), fmt_num(y), fmt_num(ref), fmt_ulp(err))
                    for what, cls, x, y, ref, err in e.worst(worst)
                ]
                sections.append((heading, list(e.errors), rows))
            out.append((title, sections))
        return out

    def render_markdown(self, worst: int = 5) -> str:
        dts = self.dtypes
        out = ["# polyact check", ""]
        if self.command:
            out += [f"`{self.command}`", ""]
        out += [self.summary(), "", *(f"    {line}" for line in LEGEND), ""]
        out.append("| activation | backend | kernel | " + " | ".join(dts) + " |")
        out.append("|---|---|---|" + "---:|" * len(dts))
        for (label, backend, kernel), cells in self.rows():
            vals = [_md(cells[d].text()) if d in cells else "" for d in dts]
            out.append(f"| {_md(label)} | {backend} | {_md(kernel)} | " + " | ".join(vals) + " |")
        for title, sections in self.failure_sections(worst):
            out += ["", f"## {title}"]
            for heading, errors, rows in sections:
                out += ["", f"### {_md(heading)}", ""]
                out.extend(f"- {_md(m)}" for m in errors)
                if rows:
                    out += [
                        "| what | inputs | x | value | reference | ulp |",
                        "|---|---|---:|---:|---:|---:|",
                    ]
                    out.extend(f"| {' | '.join(r)} |" for r in rows)
        return "\n".join(out) + "\n"

    # ------------------------------------------------------------------ HTML
    def render_html(self, worst: int = 5) -> str:
        dts = self.dtypes
        esc = html.escape
        h = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8"><title>polyact check</title>',
            "<style>",
            "body{font-family:system-ui,sans-serif;margin:2em;color:#222}",
            "table{border-collapse:collapse;margin:1em 0}",
            "th,td{border:1px solid #ccc;padding:3px 8px;font-size:14px}",
            "td.n{text-align:right;font-family:ui-monospace,monospace}",
            "td.fail{background:#f8c9c9;font-weight:bold}td.info{background:#eee;color:#777}",
            "td.goal{background:#fdf0c2}th{background:#f4f4f4}code{font-size:13px}",
            "</style></head><body>",
            "<h1>polyact check</h1>",
        ]
        if self.command:
            h.append(f"<p><code>{esc(self.command)}</code></p>")
        h += [f"<p>{esc(self.summary())}</p>", "<pre>" + esc("\n".join(LEGEND)) + "</pre>", "<table>"]
        h.append(
            "<tr><th>activation</th><th>backend</th><th>kernel</th>"
            + "".join(f"<th>{d}</th>" for d in dts)
            + "</tr>"
        )
        for (label, backend, kernel), cells in self.rows():
            tds = []
            for d in dts:
                e = cells.get(d)
                if e is None:
                    tds.append('<td class="n"></td>')
                    continue
                cls = {"!": "fail", "x": "info", "*": "goal"}.get(e.mark, "")
                if e.errors and not e.mark:
                    cls = "fail" if e.counts else "info"
                tds.append(f'<td class="n {cls}">{esc(e.text())}</td>')
            h.append(
                f"<tr><td>{esc(label)}</td><td>{esc(backend)}</td><td>{esc(kernel)}</td>{''.join(tds)}</tr>"
            )
        h.append("</table>")
        for title, sections in self.failure_sections(worst):
            h.append(f"<h2>{esc(title)}</h2>")
            for heading, errors, rows in sections:
                h.append(f"<h3>{esc(heading)}</h3>")
                if errors:
                    h.append("<ul>" + "".join(f"<li>{esc(m)}</li>" for m in errors) + "</ul>")
                if rows:
                    h.append(
                        "<table><tr><th>what</th><th>inputs</th><th>x</th><th>value</th>"
                        "<th>reference</th><th>ulp</th></tr>"
                    )
                    for r in rows:
                        tds = [f"<td>{esc(v)}</td>" for v in r[:2]] + [
                            f"<td class='n'>{esc(v)}</td>" for v in r[2:]
                        ]
                        h.append("<tr>" + "".join(tds) + "</tr>")
                    h.append("</table>")
        h.append("</body></html>")
        return "\n".join(h) + "\n"

    def write(self, path: str, worst: int = 5) -> None:
        """Write the report as Markdown (``.md``), standalone HTML (``.html``) or
        JSON (``.json``: :meth:`to_json` plus ``"summary"``, :meth:`summary_rows`;
        non-finite numbers as the strings ``"inf"``, ``"-inf"``, ``"nan"``, so that any
        JSON parser reads it; :meth:`from_json` turns them back)."""
        fmt = report_format(path)
        if fmt == "json":
            text = _jsonio.dumps({**self.to_json(), "summary": self.summary_rows()}) + "\n"
        elif fmt == "html":
            text = self.render_html(worst)
        else:
            text = self.render_markdown(worst)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def report_format(path: str) -> Optional[str]:
    """``"markdown"``, ``"html"`` or ``"json"`` from a file name, None when none of them."""
    low = path.lower()
    if low.endswith(".json"):
        return "json"
    if low.endswith((".md", ".markdown")):
        return "markdown"
    if low.endswith((".html", ".htm")):
        return "html"
    return None


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("*", "\\*")


def _why(e: Entry) -> str:
    if e.kind == ANCHOR or not e.note:
        return ""
    return f" (not auto: {e.note})"


def _key(e: Entry) -> Tuple[str, str, str, str]:
    return (e.label, e.cell.backend, e.kernel_label, e.cell.dtype)


# --------------------------------------------------------------------------- running
def _anchor_cases(
    spec: Any,
    ptuple: Tuple[Tuple[str, Any], ...],
    backend: str,
    dtypes: Optional[Iterable[str]],
    classes: Optional[Iterable[str]],
    whats: Sequence[str],
) -> List[Case]:
    b = registry.get_backend(backend)
    wanted = set(dtypes) if dtypes is not None else None
    out = []
    for dtype in backend_dtypes(backend):
        if wanted is not None and dtype not in wanted:
            continue
        for cls in list(classes) if classes is not None else [*GRID_CLASSES, "exhaustive"]:
            if cls == "exhaustive" and dtype not in HALF:
                continue
            if cls == "kinks" and not spec.kinks:
                continue
            for what in whats:
                if what == "gradient" and not b.differentiable:
                    continue
                out.append(Case(spec.name, backend, ANCHOR, dtype, cls, what, ptuple))
    return out


def plan(
    names: Optional[Sequence[str]] = None,
    backends: Optional[Sequence[str]] = None,
    kernels: Optional[Sequence[str]] = None,
    dtypes: Optional[Sequence[str]] = None,
    classes: Optional[Sequence[str]] = None,
    *,
    anchors: bool = False,
    all_params: bool = True,
    whats: Sequence[str] = WHATS,
) -> List[Case]:
    """Every case to run, grouped by (activation, parameters, backend): polyact's
    kernels from :func:`polyact.check.iter_cases`, then the anchor's cases."""
    names = list(names) if names is not None else registry.list_activations()
    backends = list(backends) if backends is not None else registry.available_backends()
    own_kernels = None if kernels is None else [k for k in kernels if k != ANCHOR]
    want_auto = own_kernels is not None and AUTO in own_kernels
    named = None if own_kernels is None else [k for k in own_kernels if k != AUTO]
    groups: Dict[Tuple[str, Tuple[Tuple[str, Any], ...], str], List[Case]] = {}
    if own_kernels is None or own_kernels:
        selection = None if want_auto else named
        for c in iter_cases(names, backends, selection, dtypes, classes, whats, all_params=all_params):
            if (
                want_auto
                and c.kernel not in (named or ())
                and c.kernel != auto_kernel(c.name, c.backend, c.params)
            ):
                continue
            groups.setdefault((c.name, c.params, c.backend), []).append(c)
    out: List[Case] = []
    for name in names:
        spec = registry.get_spec(name)
        if not spec.elementwise:
            continue
        # --defaults: the defaults, or the spec's first example when a parameter is required
        for params in param_sets(spec) if all_params else param_sets(spec)[:1]:
            ptuple = tuple(sorted(params.items()))
            for backend in backends:
                out.extend(groups.get((spec.name, ptuple, backend), []))
                if anchors and has_anchor(spec, backend):
                    out.extend(_anchor_cases(spec, ptuple, backend, dtypes, classes, whats))
    return out


def auto_kernel(name: str, backend: str, params: Tuple[Tuple[str, Any], ...] = ()) -> str:
    """The kernel ``kernel="auto"`` picks for an activation on a backend at these parameters."""
    return registry.auto_kernel(name, backend, **dict(params))


def _new_entry(case: Case) -> Entry:
    spec = registry.get_spec(case.name)
    params = case.param_dict
    label = spec.name + param_id(params)
    cell = Cell(
        spec.name,
        case.backend,
        case.kernel,
        case.dtype,
        goal_forward=goal(spec.accuracy, case.dtype),
        goal_gradient=goal(spec.accuracy, case.dtype, grad=True),
    )
    if case.kernel == ANCHOR:
        return Entry(
            cell, label, ANCHOR, counts=False, note=anchor_name(spec, case.backend), params=dict(params)
        )
    bound = spec.bind(params)
    kernel = registry.kernels(spec.name, case.backend)[case.kernel]
    auto = auto_kernel(spec.name, case.backend, case.params) == case.kernel
    eligible = kernel.eligible_for(bound)
    note = "" if eligible else (kernel.note or "not eligible for kernel='auto'")
    # a kernel declared ineligible because it breaks the contract is reported, not failed
    counts = eligible or kernel.kind != "native"
    return Entry(cell, label, kernel.kind, auto=auto, counts=counts, note=note, params=dict(params))


def run_check(
    names: Optional[Sequence[str]] = None,
    backends: Optional[Sequence[str]] = None,
    kernels: Optional[Sequence[str]] = None,
    dtypes: Optional[Sequence[str]] = None,
    classes: Optional[Sequence[str]] = None,
    *,
    anchors: bool = False,
    all_params: bool = True,
    strict: bool = False,
    progress: Optional[Progress] = None,
    command: str = "",
    on_case: Optional[Callable[[Case, Optional[Result]], None]] = None,
) -> Report:
    """Run every selected case and aggregate the results per cell.

    ``None`` selects everything (every registered activation, every installed
    backend, every kernel, dtype and input class). ``strict=True`` counts the
    failures of native kernels that ``kernel="auto"`` never picks as failures.
    """
    t0 = time.monotonic()
    cases = plan(names, backends, kernels, dtypes, classes, anchors=anchors, all_params=all_params)
    entries: Dict[Tuple[str, Tuple[Tuple[str, Any], ...], str, str, str], Entry] = {}
    if progress is not None:
        progress.total = max(len(cases), 1)
    for i, case in enumerate(cases):
        key = (case.name, case.params, case.backend, case.kernel, case.dtype)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _new_entry(case)
            if strict and entry.kind != ANCHOR:
                entry.counts = True
        if progress is not None:
            progress.update(i, f"{entry.label} {case.backend} {case.kernel} {case.dtype}")
        result: Optional[Result] = None
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                result = run_anchor_case(case) if case.kernel == ANCHOR else run_case(case)
        except Exception as exc:  # a kernel that raises is a failure of its cell, not of the run
            msg = f"{case.cls} {case.what}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            entry.errors.append(msg)
            if case.what == "gradient":
                entry.cell.gradient_ok = False
            else:
                entry.cell.forward_ok = False
        if result is not None:
            entry.cell.add(result)
            if not (result.dtype_ok and result.shape_ok):
                entry.errors.append(f"{case.cls} {case.what}: {result.note}")
        if on_case is not None:
            on_case(case, result)
    if progress is not None:
        progress.update(len(cases), "done", force=True)
        progress.close()
    return Report(list(entries.values()), command=command, seconds=time.monotonic() - t0)


def jax_compile_cache() -> None:
    """Point JAX's persistent compilation cache next to the reference cache (unless
    the user configured one, or ``POLYACT_CACHE_DIR=off``): a check compiles every
    op once per input shape, and a second run then skips XLA compilation."""
    from ._refcache import cache_dir

    root = cache_dir()
    if root is None:
        return
    import jax

    try:
        if jax.config.jax_compilation_cache_dir:
            return
        jax.config.update("jax_compilation_cache_dir", str(root / "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    except (AttributeError, ValueError):  # an older or newer JAX without these options
        pass
