"""Markdown sources of the generated site: one page per activation, the
catalogue, a home page for plug-in sites and the API reference pages.

Everything comes from the registry (specs, kernels, the calibration table)
and from ``polyact check`` JSON reports; nothing is written by hand here.
"""

from __future__ import annotations

import html
import json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from . import _jsonio, registry
from ._docsite_examples import BACKEND_TITLES, examples
from ._report import fmt_ulp
from .errors import PolyactError
from .spec import ActivationSpec

__all__ = [
    "ANCHORS",
    "Accuracy",
    "activation_page",
    "catalogue_page",
    "home_page",
    "kernel_table",
    "reference_pages",
]

#: the anchor libraries an activation's ``origin`` names
ANCHORS = ("torch", "jax", "keras", "megengine", "timm", "zeta", "echo")
DTYPES = ("float64", "float32", "float16", "bfloat16")
PROPERTIES = ("bounded", "monotone", "smooth")


def cell(text: Any) -> str:
    """Text made safe for a Markdown table cell."""
    return html.escape(str(text), quote=False).replace("|", "&#124;").replace("\n", " ")


def _yes_no(v: Optional[bool]) -> str:
    return "not stated" if v is None else "yes" if v else "no"


# --------------------------------------------------------------------------- accuracy
class Accuracy:
    """Worst ULPs of the kernel ``kernel="auto"`` picks, at the default parameters
    (or the first example set when a parameter is required), per activation,
    backend and dtype, read from ``polyact check --report FILE.json`` reports."""

    def __init__(self) -> None:
        self.rows: Dict[str, Dict[Tuple[str, str], Dict[str, Any]]] = {}
        self.labels: Dict[str, str] = {}
        self.sources: List[str] = []

    @classmethod
    def load(cls, paths: Iterable[str]) -> Accuracy:
        acc = cls()
        for p in paths:
            with open(p, encoding="utf-8") as fh:
                acc.add(_jsonio.restore(json.load(fh)))
            acc.sources.append(str(p))
        return acc

    def add(self, report: Mapping[str, Any]) -> None:
        """Add one report (its ``summary`` rows, else its raw entries)."""
        rows = report.get("summary")
        if rows is None:
            rows = [_entry_row(e) for e in report.get("entries", ())]
        for r in rows:
            if r is None or not _is_auto(r):
                continue
            name = r["activation"]
            label = self.labels.setdefault(name, _default_label(name, r))
            if r.get("label", name) != label:
                continue
            key = (r["backend"], r["dtype"])
            self.rows.setdefault(name, {})[key] = r

    def table(self, name: str) -> Optional[str]:
        """A Markdown table backend x dtype of ``fwd / grad`` ULPs, or None."""
        got = self.rows.get(name)
        if not got:
            return None
        dtypes = [d for d in DTYPES if any(k[1] == d for k in got)]
        backends = [b for b in registry.PUBLIC_BACKENDS if any(k[0] == b for k in got)]
        out = ["| backend | " + " | ".join(dtypes) + " |", "|---|" + "---:|" * len(dtypes)]
        for b in backends:
            cells = []
            for d in dtypes:
                r = got.get((b, d))
                if r is None:
                    cells.append("not measured" if _computes_in(b, d) else f"no {d} on {b}")
                    continue
                text = f"{_ulp(r.get('forward_ulp'))} / {_ulp(r.get('gradient_ulp'))}"
                text += f" ({r['kernel']})"
                if r.get("ok") is False:
                    text += " **fails**"
                cells.append(cell(text))
            out.append(f"| {b} | " + " | ".join(cells) + " |")
        for b in registry.PUBLIC_BACKENDS:
            if b not in backends:
                row = ("not measured" if _computes_in(b, d) else f"no {d} on {b}" for d in dtypes)
                out.append(f"| {b} | " + " | ".join(row) + " |")
        return "\n".join(out)


def _computes_in(backend: str, dtype: str) -> bool:
    """Whether ``backend`` computes in ``dtype`` (MegEngine has no float64)."""
    try:  # the backend's class declares them: no framework import
        return dtype in tuple(registry._backend_module(backend).backend.dtypes)
    except (KeyError, ImportError, AttributeError):  # unknown here: say "not measured"
        return True


def _entry_row(e: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    c = e.get("cell") or {}
    if e.get("kind") == "anchor" or not c:
        return None
    return {
        "activation": c["name"],
        "label": e.get("label", c["name"]),
        "backend": c["backend"],
        "kernel": c["kernel"],
        "auto": bool(e.get("auto")),
        "dtype": c["dtype"],
        "forward_ulp": c.get("forward_ulp"),
        "gradient_ulp": c.get("gradient_ulp"),
        "ok": bool(c.get("forward_ok", True) and c.get("gradient_ok", True)) and not e.get("errors"),
    }


def _is_auto(r: Mapping[str, Any]) -> bool:
    a = r.get("auto")
    return a is True or (isinstance(a, str) and a == r.get("kernel")) or r.get("kernel") == "auto"


def _default_label(name: str, r: Mapping[str, Any]) -> str:
    """The label of the default parameter set: the bare name, unless a parameter
    is required (then the first label reported)."""
    try:
        spec = registry.get_spec(name)
    except PolyactError:
        return str(r.get("label", name))
    if any(p.required for p in spec.params.values()):
        return str(r.get("label", name))
    return name


def _ulp(v: Any) -> str:
    """A JSON ULP figure as ``polyact check`` prints it."""
    return fmt_ulp(None if v is None else float(v))


# --------------------------------------------------------------------------- kernels
def _static_auto(spec: ActivationSpec, backend: str, names: Sequence[str]) -> Optional[str]:
    """What ``kernel="auto"`` would pick for float32 on a backend that is not
    loaded here: the calibration table's first eligible kernel, else the
    fallback order."""
    from . import _calibration
    from .selection import AUTO_ORDER

    if spec.kind == "structural":
        return None
    ranking = _calibration.ranking(backend, "float32", spec.name) or []
    for k in (*ranking, *AUTO_ORDER):
        if k in names:
            return k
    return names[0] if names else None


def _backend_loaded(backend: str) -> bool:
    """Whether the backend can be used here (its framework installed and importable)."""
    try:
        registry.get_backend(backend)
    except Exception:  # not installed, or a broken install: listed statically
        return False
    return True


def kernel_table(spec: ActivationSpec) -> Tuple[str, List[str]]:
    """A Markdown table of the kernels per backend and the one ``auto`` picks
    (float32, CPU, default parameters), and notes on how some were judged."""
    rows = ["| backend | kernels | `auto` picks (float32) |", "|---|---|---|"]
    notes: List[str] = []
    params: Dict[str, Any] = {}
    if any(p.required for p in spec.params.values()) and spec.examples:
        params = {k: v for k, v in spec.examples[0].items() if k in spec.params}
    for b in registry.PUBLIC_BACKENDS:
        shown: List[str] = []
        auto: Optional[str] = None
        if _backend_loaded(b):
            try:
                table = registry.kernels(spec.name, b)
                if spec.kind != "structural":
                    auto = registry.auto_kernel(spec.name, b, "float32", **params)
            except (PolyactError, ValueError, TypeError) as exc:
                rows.append(f"| {b} | unavailable: {cell(exc)} | |")
                continue
            bound = spec.bind(params) if not any(p.required for p in spec.params.values()) or params else {}
            for kname, k in table.items():
                text = f"`{kname}`"
                if not k.eligible_for(bound):
                    text += " (not auto)"
                elif k.devices:
                    text += f" ({'/'.join(k.devices)} only)"
                shown.append(text)
        else:
            names = []
            for k in registry._static_kernels(spec, b):
                kname = k.split(" ", 1)[0]
                shown.append(f"`{kname}`" + (" (not auto)" if "not auto" in k else ""))
                if "not auto" not in k:
                    names.append(kname)
            auto = _static_auto(spec, b, names)
            notes.append(
                f"{BACKEND_TITLES[b]} is not installed where these docs were built: its kernels are "
                "judged from the spec and `auto` from the shipped calibration table."
            )
        pick = f"`{auto}`" if auto else "n/a (structural: the formula with its sub-layers)"
        rows.append(f"| {b} | {', '.join(shown)} | {pick} |")
    return "\n".join(rows), notes


# --------------------------------------------------------------------------- pages
def _fmt_default(p: Any) -> str:
    return "required" if p.required else f"`{p.default!r}`"


def _params_table(spec: ActivationSpec) -> str:
    rows = [
        "| parameter | default | domain | trainable | description |",
        "|---|---|---|---|---|",
    ]
    for k, p in spec.params.items():
        trainable = "yes" + (" (one per channel)" if p.per_channel else "") if p.trainable else "no"
        if p.per_channel and not p.trainable:
            trainable = "no (one per channel)"
        rows.append(f"| `{k}` | {_fmt_default(p)} | {cell(p.domain)} | {trainable} | {cell(p.doc)} |")
    return "\n".join(rows)


def _reference(r: Any) -> str:
    title = f"[{cell(r.title)}]({r.url})" if r.url else f"*{cell(r.title)}*"
    bits = [title]
    if r.authors:
        bits.append(cell(r.authors))
    if r.year:
        bits.append(str(r.year))
    if r.arxiv:
        bits.append(f"arXiv:{r.arxiv}")
    return "- " + ", ".join(bits)


def provider(spec: ActivationSpec) -> str:
    """``"polyact"`` for built-ins, else the module that registered the formula."""
    if spec.name in registry._builtin:
        return "polyact"
    return str(getattr(spec.fn, "__module__", None) or "a user module")


def _origin(spec: ActivationSpec) -> List[str]:
    from ._anchors import anchor_name

    out = ["| " + " | ".join(ANCHORS) + " |", "|" + ":---:|" * len(ANCHORS)]
    out.append("| " + " | ".join("yes" if a in spec.origin else "-" for a in ANCHORS) + " |")
    others = [o for o in spec.origin if o not in ANCHORS]
    lines = ["", *out, ""]
    if others:
        lines += [f"Also: {', '.join(cell(o) for o in others)}.", ""]
    ops = []
    for b in registry.PUBLIC_BACKENDS:
        if b in spec.native:
            op = anchor_name(spec, b)
            ops.append(f"{b} (`{op}`)" if "." in op else b)
    if ops:
        lines += ["A framework op backs the `native` kernel on: " + ", ".join(ops) + ".", ""]
    return lines


def _deviations(spec: ActivationSpec) -> List[str]:
    out = []
    for b, nat in spec.native.items():
        if callable(nat.eligible):
            why = f": {nat.note}" if nat.note else ""
            out.append(f"- **{b}** native op: used by `auto` only for some parameter values{cell(why)}")
        elif not nat.eligible:
            why = nat.note or "it breaks the numerical contract"
            out.append(f"- **{b}** native op, never picked by `auto`: {cell(why)}")
    out += [f"- {n}" for n in spec.notes]
    return out


def _plot_params(spec: ActivationSpec) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """(parameters of the main curve, variants) for the page's plot: the defaults
    and up to three example sets (sets that only move the axis are left out)."""
    sets = [dict(e) for e in spec.examples if set(e) - {"axis"}]
    base: Dict[str, Any] = {}
    if any(p.required for p in spec.params.values()) and sets:
        base = sets.pop(0)
    return base, sets[:3]


def activation_page(
    spec: ActivationSpec,
    *,
    plot: Optional[str],
    plot_note: str,
    accuracy: Accuracy,
) -> str:
    """The Markdown page of one activation."""
    lines = [f"# {spec.name}", ""]
    if spec.summary:
        lines += [cell(spec.summary), ""]
    if spec.formula:
        lines += ["$$", spec.formula.strip(), "$$", ""]
    else:
        lines += ["*No formula declared on the spec.*", ""]
    facts = [
        f"**kind** {spec.kind}",
        *(f"**{p}** {_yes_no(getattr(spec, p))}" for p in PROPERTIES),
        f"**accuracy group** {spec.accuracy}",
        f"**provided by** `{provider(spec)}`",
    ]
    lines += [" · ".join(facts), ""]
    if spec.aliases:
        lines += ["**Aliases:** " + ", ".join(f"`{a}`" for a in spec.aliases), ""]
    lines += ["## Parameters", ""]
    if spec.params:
        lines += [_params_table(spec), ""]
        if spec.per_channel:
            lines += [
                "Per-channel parameters hold one value per channel: build with `num_channels=C` and "
                "`channel_axis` (default 1 on NumPy, PyTorch and MegEngine, -1 on JAX).",
                "",
            ]
    else:
        lines += ["None.", ""]
    if spec.init_doc:
        lines += [f"**Initialisation:** {cell(spec.init_doc)}", ""]
    if spec.kinks:
        lines += ["**Derivative at the kinks** (the convention every kernel follows):", ""]
        for k in spec.kinks:
            lines.append(f"- f'({cell(k.at)}) = {cell(k.grad)}" + (f" ({cell(k.note)})" if k.note else ""))
        lines.append("")
    lines += ["## Plot", ""]
    if plot:
        lines += [f"![{spec.name}: f (solid) and f' (dashed)](../plots/{plot})", ""]
        caption = "f solid, f' dashed"
        base, variants = _plot_params(spec)
        if base:
            caption += " at " + ", ".join(f"{k}={v!r}" for k, v in base.items())
        elif not any(p.required for p in spec.params.values()):
            caption += " at the default parameters"
        if variants:
            caption += "; with " + "; ".join(", ".join(f"{k}={v!r}" for k, v in s.items()) for s in variants)
        lines += [f"*{cell(caption)}.{(' ' + cell(plot_note)) if plot_note else ''}*", ""]
    else:
        lines += [f"*No plot: {cell(plot_note)}*", ""]
    lines += ["## Kernels", ""]
    table, notes = kernel_table(spec)
    lines += [table, ""]
    lines += [f"*{n}*" for n in dict.fromkeys(notes)]
    lines += [
        "",
        '`auto` is what `kernel="auto"` (the default) picks for float32 inputs on the CPU at the '
        "default parameters; see the guide on kernels.",
        "",
    ]
    lines += ["## Accuracy", ""]
    acc = accuracy.table(spec.name) if spec.elementwise else None
    if acc:
        label = accuracy.labels.get(spec.name, spec.name)
        at = "the default parameters" if label == spec.name else f"`{label}`"
        lines += [
            "Worst error over every input class, in ULPs (forward / gradient), of the kernel "
            f"`auto` picks at {at}, measured by `polyact check` against the mpmath reference "
            "(`-`: no gradient, NumPy is forward-only; **fails**: breaks the numerical contract):",
            "",
            acc,
            "",
        ]
    elif not spec.elementwise:
        lines += [
            f"Not measured by `polyact check`: a {spec.kind} activation is checked by the test suite "
            "instead of the element-wise matrix.",
            "",
        ]
    else:
        lines += ["Not measured (build the docs with `--accuracy REPORT.json` from `polyact check`).", ""]
    lines += ["## Origin", *_origin(spec)]
    dev = _deviations(spec)
    if dev:
        lines += ["## Deviations and notes", "", *dev, ""]
    if spec.references:
        lines += ["## References", "", *(_reference(r) for r in spec.references), ""]
    lines += ["## Examples", ""]
    for b, code in examples(spec).items():
        lines += [f'=== "{BACKEND_TITLES[b]}"', "", "    ```python"]
        lines += [("    " + ln) if ln else "" for ln in code.splitlines()]
        lines += ["    ```", ""]
    lines += [
        f"`polyact show {spec.name}` prints this summary in a terminal; "
        f"`polyact plot {spec.name}` draws the plot.",
        "",
    ]
    return "\n".join(lines)


def _params_summary(spec: ActivationSpec) -> str:
    if not spec.params:
        return "-"
    return ", ".join(f"{k}{'*' if p.trainable else ''}" for k, p in spec.params.items())


def catalogue_page(specs: Sequence[ActivationSpec], thumbs: Mapping[str, str]) -> str:
    """The catalogue: one row per activation, filtered by ``assets/catalogue.js``."""
    kinds = sorted({s.kind for s in specs})
    out = [
        "# Catalogue",
        "",
        f"{len(specs)} activations. Parameters marked * are trainable. Every activation runs on "
        "every backend (NumPy, PyTorch, JAX, MegEngine); *native* lists where a framework op "
        "backs a kernel.",
        "",
        '<div class="pa-filters" markdown="0">',
        '<label>kind <select id="pa-kind"><option value="">all</option>'
        + "".join(f'<option value="{k}">{k}</option>' for k in kinds)
        + "</select></label>",
        *(f'<label><input type="checkbox" data-prop="{p}"> {p}</label>' for p in (*PROPERTIES, "trainable")),
        '<label>name <input type="search" id="pa-text" placeholder="filter"></label>',
        '<span id="pa-count"></span>',
        "</div>",
        "",
        '<table class="pa-catalogue">',
        "<thead><tr><th>plot</th><th>name</th><th>kind</th><th>parameters</th><th>native</th>"
        "<th>properties</th></tr></thead>",
        "<tbody>",
    ]
    for s in specs:
        props = [p for p in PROPERTIES if getattr(s, p)]
        trainable = bool(s.trainable)
        if trainable:
            props.append("trainable")
        data = {
            "kind": s.kind,
            "bounded": str(bool(s.bounded)).lower(),
            "monotone": str(bool(s.monotone)).lower(),
            "smooth": str(bool(s.smooth)).lower(),
            "trainable": str(trainable).lower(),
            "names": " ".join((s.name, *s.aliases)).lower(),
        }
        attrs = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
        thumb = thumbs.get(s.name)
        # raw HTML: the catalogue page is catalogue/index.html (use_directory_urls)
        img = f'<img src="../plots/{thumb}" alt="{s.name}" width="120" loading="lazy">' if thumb else ""
        native = ", ".join(b for b in registry.PUBLIC_BACKENDS if b in s.native) or "-"
        out.append(
            f"<tr {attrs}><td>{img}</td>"
            f'<td><a href="../activations/{s.name}/"><code>{s.name}</code></a><br>'
            f"<small>{html.escape(s.summary)}</small></td>"
            f"<td>{s.kind}</td><td>{html.escape(_params_summary(s))}</td><td>{native}</td>"
            f"<td>{', '.join(props) or '-'}</td></tr>"
        )
    out += ["</tbody>", "</table>", ""]
    return "\n".join(out)


def home_page(specs: Sequence[ActivationSpec], title: str) -> str:
    """A minimal home page (sites without a hand-written guide: plug-ins)."""
    lines = [
        f"# {title}",
        "",
        f"{len(specs)} activation{'s' if len(specs) != 1 else ''} documented from the polyact registry "
        "(generated by `polyact docs`). See the [catalogue](catalogue.md).",
        "",
    ]
    for s in specs:
        lines.append(f"- [{s.name}](activations/{s.name}.md): {cell(s.summary)}")
    lines.append("")
    return "\n".join(lines)


#: API reference pages: file -> (title, intro, [(heading, ":::" target, members)])
REFERENCE: Tuple[Tuple[str, str, str, Tuple[Tuple[str, str, Tuple[str, ...]], ...]], ...] = (
    (
        "registry.md",
        "Activations and backends",
        "Building activations, listing and registering them, kernels and their selection.",
        (
            ("Building", "polyact", ("get_activation", "get_function", "apply", "to_config", "from_config")),
            (
                "Finding",
                "polyact",
                (
                    "list_activations",
                    "get_spec",
                    "describe",
                    "list_backends",
                    "available_backends",
                    "get_backend",
                ),
            ),
            (
                "Registering",
                "polyact",
                (
                    "register_activation",
                    "register_kernel",
                    "unregister_activation",
                    "load_plugins",
                    "PluginWarning",
                ),
            ),
            ("Kernels", "polyact", ("kernels", "auto_kernel", "use_kernel")),
        ),
    ),
    (
        "spec.md",
        "Specs",
        "The data an activation is declared with.",
        (
            (
                "Spec",
                "polyact",
                ("ActivationSpec", "Param", "Kink", "Reference", "Native", "Layer", "Kernel", "REQUIRED"),
            ),
            (
                "Domains",
                "polyact",
                ("Domain", "Interval", "real", "positive", "nonnegative", "nonzero", "integer_at_least"),
            ),
        ),
    ),
    (
        "errors.md",
        "Errors",
        "Every error polyact raises derives from `PolyactError`.",
        (
            (
                "Errors",
                "polyact",
                (
                    "PolyactError",
                    "ActivationError",
                    "UnknownActivationError",
                    "UnknownBackendError",
                    "UnknownKernelError",
                    "UnknownParameterError",
                    "InvalidParameterError",
                    "InvalidInputError",
                    "BackendNotInstalledError",
                    "DuplicateRegistrationError",
                ),
            ),
        ),
    ),
    (
        "tools.md",
        "Plots and docs",
        "The modules behind `polyact plot` and `polyact docs`.",
        (
            ("Plots", "polyact.plot", ("figure", "save", "slice_note")),
            ("Docs site", "polyact.docsite", ("build", "main")),
        ),
    ),
)


def reference_pages() -> Dict[str, str]:
    """``reference/*.md`` sources (mkdocstrings directives) by file name."""
    import importlib.util

    pages: Dict[str, str] = {"index.md": ""}
    index = ["# API reference", "", "The public API of `polyact`, from its docstrings.", ""]
    for fname, title, intro, sections in REFERENCE:
        lines = [f"# {title}", "", intro, ""]
        for heading, target, members in sections:
            if target != "polyact" and importlib.util.find_spec(target) is None:
                continue
            lines += [f"## {heading}", ""]
            for m in members:
                lines += [f"::: {target}.{m}", ""]
        pages[fname] = "\n".join(lines)
        index.append(f"- [{title}]({fname}): {intro}")
    pages["index.md"] = "\n".join([*index, ""])
    return pages
