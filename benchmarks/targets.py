"""Measure polyact's performance targets on this environment's backends.

Runs ``polyact.bench`` on a fixed set of activations (16M float32 elements by
default) plus the overhead figures, and prints one line per target and backend
with the measured figure and PASS or MISS. MegEngine lives in its own
environment: run this script there too::

    .venv/bin/python benchmarks/targets.py                 # torch and JAX
    .venv-megengine/bin/python benchmarks/targets.py       # MegEngine
    .venv/bin/python benchmarks/targets.py --size 1M --json targets.json -v

Figures are medians (``--repeat`` runs after ``--warmup``); they are never
assertions of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import polyact as pa
from polyact import bench

#: activations with a native op on torch and JAX (most on MegEngine too)
WITH_NATIVE = ("relu", "gelu", "silu", "mish", "softplus")
#: the composed formulas whose compiled kernel is compared with the native op
COMPILED_VS_NATIVE = ("mish", "silu", "gelu")
#: activations no framework has an op for
WITHOUT_NATIVE = ("quick_gelu", "elish", "mila")
KERNELS = ("auto", "native", "composed", "fused", "compiled", "cpp")

Line = Tuple[str, str, Optional[float], Optional[bool], str]  # target, backend, figure, ok, detail


def _rows(res: Any) -> Dict[Tuple[str, str], Dict[str, Any]]:
    """(backend, activation) -> {kernel: row, "auto": row}."""
    out: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for r in res.rows:
        if r.error:
            continue
        d = out.setdefault((r.backend, r.activation), {})
        d[r.kernel] = r
        if r.auto:
            d["auto"] = r
        if r.auto_training:
            d["auto+"] = r
    return out


def _pick(d: Dict[str, Any], key: str) -> Any:
    """The auto row for the figure ``key``: forward+backward calls take a
    gradient, and use the training pick where it differs."""
    return d.get("auto+", d["auto"]) if key == "forward_backward_s" else d["auto"]


def _worst(items: Sequence[Tuple[float, str]], higher_is_worse: bool = True) -> Tuple[Optional[float], str]:
    if not items:
        return None, "no data"
    v, what = (max if higher_is_worse else min)(items, key=lambda t: t[0])
    return v, what


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None or b <= 0 else a / b


def targets(res: Any, backends: Sequence[str]) -> List[Line]:
    rows = _rows(res)
    lines: List[Line] = []
    for b in backends:
        # 1. auto within 1.05x of the native op, forward and forward+backward
        items = []
        for n in WITH_NATIVE:
            d = rows.get((b, n), {})
            auto, nat = d.get("auto"), d.get("@native")
            native_kernel = pa.kernels(n, b).get("native")
            if auto is None or nat is None or native_kernel is None:
                continue
            if not native_kernel.eligible_for(pa.get_spec(n).defaults):
                continue  # the framework op does not meet the contract: no target
            for key, label in (("forward_s", "fwd"), ("forward_backward_s", "fwd+bwd")):
                r = _ratio(getattr(_pick(d, key), key), getattr(nat, key))
                if r is not None:
                    items.append((r, f"{n} {label}, auto={_pick(d, key).kernel}"))
        v, what = _worst(items)
        lines.append(("auto / native op <= 1.05", b, v, None if v is None else v <= 1.05, f"worst: {what}"))
        if b == "megengine":
            # 4. composite activations at least 1.5x faster than the naive composition
            items = []
            for n in (*WITH_NATIVE, *WITHOUT_NATIVE):
                if b in pa.get_spec(n).native:
                    continue
                d = rows.get((b, n), {})
                auto, naive = d.get("auto"), d.get("@naive")
                if auto is None or naive is None:
                    continue
                for key, label in (("forward_s", "fwd"), ("forward_backward_s", "fwd+bwd")):
                    s = _ratio(getattr(naive, key), getattr(_pick(d, key), key))
                    if s is not None:
                        items.append((s, f"{n} {label}, auto={_pick(d, key).kernel}"))
            v, what = _worst(items, higher_is_worse=False)
            lines.append(
                ("naive / auto >= 1.5 (composites)", b, v, None if v is None else v >= 1.5, f"worst: {what}")
            )
        # 2a. the compiled kernel of a composed formula within 1.25x of the native op
        items = []
        for n in COMPILED_VS_NATIVE:
            d = rows.get((b, n), {})
            comp = d.get("compiled") or d.get("@compile")
            nat = d.get("@native")
            if comp is None or nat is None:
                continue
            for key, label in (("forward_s", "fwd"), ("forward_backward_s", "fwd+bwd")):
                r = _ratio(getattr(comp, key), getattr(nat, key))
                if r is not None:
                    items.append((r, f"{n} {label} ({comp.kernel})"))
        v, what = _worst(items)
        lines.append(
            ("compiled / native op <= 1.25", b, v, None if v is None else v <= 1.25, f"worst: {what}")
        )
        if b == "megengine":
            # 2a, for the formula compiled by a C++ compiler (MegEngine's cpp kernel) rather than traced
            items = []
            for n in COMPILED_VS_NATIVE:
                d = rows.get((b, n), {})
                cpp, nat = d.get("cpp"), d.get("@native")
                for key, label in (("forward_s", "fwd"), ("forward_backward_s", "fwd+bwd")):
                    r = _ratio(getattr(cpp, key, None), getattr(nat, key, None))
                    if r is not None:
                        items.append((r, f"{n} {label} (cpp)"))
            v, what = _worst(items)
            lines.append(
                ("cpp / native op <= 1.25", b, v, None if v is None else v <= 1.25, f"worst: {what}")
            )
        if b in ("torch", "jax"):
            # 2b. without a native op: auto forward+backward at most 0.5x the naive eager composition
            items = []
            for n in WITHOUT_NATIVE:
                d = rows.get((b, n), {})
                auto, naive = d.get("auto+", d.get("auto")), d.get("@naive")
                r = _ratio(
                    auto.forward_backward_s if auto else None, naive.forward_backward_s if naive else None
                )
                if r is not None:
                    items.append((r, f"{n}, auto={_pick(d, key).kernel}"))  # type: ignore[union-attr]
            v, what = _worst(items)
            lines.append(
                (
                    "auto f+b / naive f+b <= 0.5 (no native)",
                    b,
                    v,
                    None if v is None else v <= 0.5,
                    f"worst: {what}",
                )
            )
            # 3. fused kernels save exactly one input-sized tensor and are no slower than composed
            saved, speed = [], []
            for n in (*WITH_NATIVE, *WITHOUT_NATIVE):
                d = rows.get((b, n), {})
                fused, comp = d.get("fused"), d.get("composed")
                if fused is None:
                    continue
                if fused.saved_inputs is not None:
                    off = abs(fused.saved_inputs - 1.0)
                    more = f", composed {comp.saved_inputs:.1f}x" if comp and comp.saved_inputs else ""
                    saved.append((off, f"{n}: fused saves {fused.saved_inputs:.2f}x input{more}"))
                r = _ratio(fused.forward_backward_s, comp.forward_backward_s if comp else None)
                if r is not None:
                    speed.append((r, n))
            v, what = _worst(saved)
            lines.append(
                (
                    "fused saves 1 input (|saved/input - 1|)",
                    b,
                    v,
                    None if v is None else v < 1e-9,
                    f"worst: {what}",
                )
            )
            v, what = _worst(speed)
            lines.append(
                ("fused f+b / composed f+b <= 1", b, v, None if v is None else v <= 1.0, f"worst: {what}")
            )
    return lines


def overhead_lines(o: Dict[str, Any]) -> List[Line]:
    imp = o["import"]["import_added_ms"]
    lines: List[Line] = [("import polyact ms <= 50", "-", imp, imp <= 50, "over a bare interpreter")]
    for b, d in o["backends"].items():
        g, m = d["get_activation_us"], d["module_overhead_us"]
        lines.append(("get_activation us <= 20", b, g, g <= 20, f"{o['activation']}, after the first call"))
        lines.append(
            (
                "module call overhead us <= 5",
                b,
                m,
                m <= 5,
                f"module {d['module_call_us']:.1f} us vs kernel "
                f"'{d['kernel']}' impl {d['kernel_call_us']:.1f} us",
            )
        )
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=bench.parse_size, default=1 << 24, help="elements (default 16M)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--backend", action="append", help="default: every installed framework")
    p.add_argument("--json", metavar="FILE", help="write the rows and the target lines as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the bench report as Markdown")
    p.add_argument("--no-overhead", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="also print the bench table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    backends = args.backend or [b for b in pa.available_backends() if b in bench.FRAMEWORK_BACKENDS]
    backends = [pa.get_backend(b).name for b in backends]
    if "megengine" in backends:
        bench._quiet_megengine()
    names = [n for n in dict.fromkeys((*WITH_NATIVE, *WITHOUT_NATIVE)) if n in pa.list_activations()]
    res = bench.run(
        names,
        backends,
        kernels=KERNELS,
        size=args.size,
        repeat=args.repeat,
        warmup=args.warmup,
        progress=not args.quiet,
    )
    if args.verbose:
        print(res.render_text())
    lines = targets(res, backends)
    o = None
    if not args.no_overhead:
        o = bench.overhead(backends)
        lines += overhead_lines(o)
    print(f"targets on {res.meta['machine']}, {args.size:,} float32 elements, median of {args.repeat}:")
    for target, b, v, ok, detail in lines:
        verdict = "n/a " if ok is None else ("PASS" if ok else "MISS")
        fig = "-" if v is None else f"{v:.3f}"
        print(f"{verdict} {b:10s} {target:42s} {fig:>9s}  {detail}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "bench": res.to_json(),
                    "overhead": o,
                    "targets": [
                        {"target": t, "backend": b, "figure": v, "pass": ok, "detail": d}
                        for t, b, v, ok, d in lines
                    ],
                },
                fh,
                indent=1,
            )
    if args.markdown:
        res.write_markdown(args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
