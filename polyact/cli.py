"""The ``polyact`` command: ``list``, ``show``, ``check``, ``bench``, ``plot`` and ``demo``.

``polyact list [--backend B]`` prints the registered activations;
``polyact show NAME`` prints its formula, parameters, kinks, references and
kernels per backend; ``polyact check [NAMES...]`` runs the consistency checks
of the test suite outside pytest and prints the accuracy matrix (exit status 1
on a contract failure, 2 on a usage error); ``polyact bench [NAMES...]`` times the kernels
against the anchors (:mod:`polyact.bench`); ``polyact plot NAME`` draws f
(and f') to a PNG or SVG file (:mod:`polyact.plot`); ``polyact demo`` runs the
end-to-end show.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shlex
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

from . import registry
from .errors import PolyactError

__all__ = ["check_main", "load_module", "main", "plot_main"]

CHECK_HELP = """\
Run the checks of the test suite (every activation x backend x kernel x dtype x input
class, forward and gradient, against the mpmath reference) and print the matrix of
worst errors in ULPs. Exit status: 0 all cells meet the contract, 1 a contract
failure, 2 a usage error.
"""

#: names each --module registered when it was first imported (re-imports register nothing)
_MODULE_NAMES: Dict[str, List[str]] = {}


class _UsageError(Exception):
    pass


def load_module(target: str) -> List[str]:
    """Import ``target`` (``pkg.mod`` or a path to a ``.py`` file) and return the
    canonical names of the activations it registered."""
    path = os.path.abspath(target) if target.endswith(".py") or os.sep in target else None
    key = path or target
    before = set(registry.list_activations())
    cached = _MODULE_NAMES.get(key)
    if cached is not None and all(n in before for n in cached):
        return list(cached)  # imported before, and what it registered is still there
    if path is not None:
        if not os.path.isfile(path):
            raise _UsageError(f"--module {target}: no such file")
        modname = "polyact_user_" + "".join(
            ch if ch.isalnum() else "_" for ch in os.path.splitext(os.path.basename(path))[0]
        )
        spec = importlib.util.spec_from_file_location(modname, path)
        if spec is None or spec.loader is None:
            raise _UsageError(f"--module {target}: cannot import this file")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(modname, None)
            raise
    elif cached is not None and target in sys.modules:  # its activations were unregistered since
        mod = importlib.reload(sys.modules[target])
    else:
        try:
            mod = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name is None or not target.startswith(exc.name):
                raise
            if os.getcwd() in sys.path:
                raise _UsageError(f"--module {target}: no module named {exc.name!r}") from None
            sys.path.insert(0, os.getcwd())  # `polyact check --module mymod` from the project dir
            try:
                mod = importlib.import_module(target)
            except ModuleNotFoundError as exc2:
                raise _UsageError(f"--module {target}: no module named {exc2.name!r}") from None
    added = [n for n in registry.list_activations() if n not in before]
    if not added:  # imported before (by someone else): the specs whose formula lives there
        added = [
            n
            for n in registry.list_activations()
            if getattr(registry.get_spec(n).fn, "__module__", None) == mod.__name__
        ]
    _MODULE_NAMES[key] = added
    return list(added)


def _check_parser() -> argparse.ArgumentParser:
    from ._numerics import FORMATS

    p = argparse.ArgumentParser(
        prog="polyact check",
        description=CHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="activations to check (default: all)")
    p.add_argument(
        "--backend", action="append", metavar="B", help="a backend (repeatable; default: every installed one)"
    )
    p.add_argument(
        "--kernel",
        action="append",
        metavar="K",
        help="a kernel name, 'auto' (the one kernel='auto' picks) or 'anchor' (repeatable; default: all)",
    )
    p.add_argument(
        "--dtype",
        action="append",
        choices=list(FORMATS),
        metavar="D",
        help="float64, float32, float16 or bfloat16 (repeatable; default: all)",
    )
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="C",
        help="an input class: normal, small, kinks, boundaries, cancellation, large, extremal, "
        "exhaustive (repeatable; default: all)",
    )
    p.add_argument(
        "--module",
        action="append",
        default=[],
        metavar="PKG.MOD",
        help="import a module (or a .py file) that registers activations; without NAMES only "
        "those are checked",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="also write the report to FILE.md, FILE.html or FILE.json (JSON: every cell, and a flat "
        "'summary' of worst ULPs per activation, backend, kernel and dtype)",
    )
    p.add_argument(
        "--anchors",
        action="store_true",
        help="add the frameworks' own ops, called raw, as informational 'anchor' rows",
    )
    p.add_argument(
        "--defaults", action="store_true", help="only the default parameters (not the spec's examples)"
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="native kernels that kernel='auto' never picks also fail the run when they break the contract",
    )
    p.add_argument("--worst", type=int, default=5, metavar="N", help="worst inputs shown per failing cell")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _enable_jax_x64() -> None:
    import jax

    jax.config.update("jax_enable_x64", True)


def _quiet_megengine() -> None:
    import logging
    import warnings

    logging.getLogger("megengine").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="megengine")


def start_command(
    parser: argparse.ArgumentParser,
    argv: Optional[Sequence[str]],
    stdout: Optional[TextIO],
    stderr: Optional[TextIO],
) -> Tuple[Optional[argparse.Namespace], int, TextIO, TextIO]:
    """A subcommand's parsed arguments and output streams; the arguments are None
    (with argparse's exit status) when argparse has already answered: a usage
    error (2) or ``--help`` (0)."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return None, int(exc.code or 0), out, err
    return args, 0, out, err


def check_main(
    argv: Optional[Sequence[str]] = None, *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None
) -> int:
    """``polyact check``: returns the exit status (0 ok, 1 contract failure, 2 usage error)."""
    from . import _report

    argv = list(sys.argv[1:] if argv is None else argv)  # the report names the command
    args, status, out, err = start_command(_check_parser(), argv, stdout, stderr)
    if args is None:
        return status
    try:
        if args.report and _report.report_format(args.report) is None:
            raise _UsageError(f"--report {args.report}: the file name must end in .md, .html or .json")
        if args.worst < 0:
            raise _UsageError("--worst must be >= 0")
        from_modules: List[str] = []
        for m in args.module:
            from_modules.extend(load_module(m))
        if args.names:
            names: Optional[List[str]] = []
            for n in args.names:
                canonical = registry.get_spec(n).name  # unknown names raise, with suggestions
                if canonical not in names:
                    names.append(canonical)
        elif args.module:
            if not from_modules:
                raise _UsageError(f"--module {', '.join(args.module)} registered no activation")
            names = from_modules
        else:
            names = None
        if args.backend:
            backends: List[str] = []
            for b in args.backend:
                key = registry.get_backend(b).name  # unknown or missing backends raise
                if key not in backends:
                    backends.append(key)
        else:
            backends = registry.available_backends()
        if args.classes:
            from ._inputs import CLASSES

            bad = [c for c in args.classes if c not in CLASSES]
            if bad:
                raise _UsageError(f"unknown input class {bad[0]!r}; known: {', '.join(CLASSES)}")
        if "jax" in backends:
            _report.jax_compile_cache()
            if args.dtype is None or "float64" in args.dtype:
                _enable_jax_x64()
        if "megengine" in backends:
            _quiet_megengine()
        if names is not None:
            skipped = [n for n in names if not registry.get_spec(n).elementwise]
            for n in skipped:
                print(
                    f"polyact check: {n} is a {registry.get_spec(n).kind} activation; the element-wise "
                    "matrix does not apply (its consistency tests are in the test suite: "
                    "tests/test_axis_kinds.py, tests/test_structural.py)",
                    file=err,
                )
        kernels = args.kernel
        anchors = args.anchors or bool(kernels and "anchor" in kernels)
        if kernels:
            _check_kernels(names, backends, kernels)
        command = "polyact check " + " ".join(shlex.quote(a) for a in argv)
        progress = _report.Progress(0, enabled=not args.no_progress and err.isatty(), stream=err)
        report = _report.run_check(
            names,
            backends,
            kernels,
            args.dtype,
            args.classes,
            anchors=anchors,
            all_params=not args.defaults,
            strict=args.strict,
            progress=progress,
            command=command,
        )
    except (PolyactError, _UsageError) as exc:
        print(f"polyact check: {exc}", file=err)
        return 2
    if not report.entries:
        print("polyact check: nothing to check for this selection", file=err)
        return 2
    print(report.render_text(worst=args.worst), file=out)
    if args.report:
        report.write(args.report, worst=args.worst)
        print(f"report written to {args.report}", file=out)
    return report.exit_code


def _check_kernels(names: Optional[List[str]], backends: List[str], kernels: List[str]) -> None:
    known = {"anchor", "auto"}
    for n in names if names is not None else registry.list_activations():
        spec = registry.get_spec(n)
        if not spec.elementwise:
            continue
        for b in backends:
            known.update(registry.kernels(spec.name, b))
    bad = [k for k in kernels if k not in known]
    if bad:
        raise _UsageError(f"no kernel {bad[0]!r} in this selection; kernels here: {', '.join(sorted(known))}")


# --------------------------------------------------------------------------- polyact plot
def _plot_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="polyact plot",
        description="Plot an activation (NumPy backend, matplotlib) to a PNG or SVG file. Vector, gated and "
        "structural activations are plotted along a 1-D slice that the figure's caption describes.",
    )
    p.add_argument("name", metavar="NAME", help="an activation (name or alias)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a parameter value (repeatable; a number, or true/false)",
    )
    p.add_argument("--derivative", action="store_true", help="also draw f' (dashed)")
    p.add_argument("--out", metavar="FILE", help="FILE.png or FILE.svg (default: NAME.png here)")
    p.add_argument(
        "--module", action="append", default=[], metavar="PKG.MOD", help="import a module that registers more"
    )
    return p


def _parse_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(low)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        return None


def plot_main(
    argv: Optional[Sequence[str]] = None, *, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None
) -> int:
    """``polyact plot``: returns the exit status (0 written, 1 not written, 2 usage error)."""
    args, status, out, err = start_command(_plot_parser(), argv, stdout, stderr)
    if args is None:
        return status
    try:
        for m in args.module:
            load_module(m)
        spec = registry.get_spec(args.name)  # unknown names raise, with suggestions
        params: Dict[str, Any] = {}
        for item in args.param:
            key, sep, text = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise _UsageError(f"--param {item!r}: expected K=V, e.g. --param beta=2")
            value = _parse_value(text)
            if value is None:
                raise _UsageError(f"--param {item}: {text!r} is not a number (or true/false)")
            params[key] = value
        spec.bind(params, partial=True)  # unknown names, values outside the domains: named with the range
        path = args.out or f"{spec.name}.png"
        if os.path.splitext(path)[1].lower() not in (".png", ".svg"):
            raise _UsageError(f"--out {path}: the file name must end in .png or .svg")
        from . import plot

        written = plot.save(spec.name, path, params=params or None, derivative=args.derivative)
    except (PolyactError, _UsageError) as exc:
        print(f"polyact plot: {exc}", file=err)
        return 2
    except ImportError as exc:  # matplotlib missing
        print(f"polyact plot: {exc}", file=err)
        return 1
    except OSError as exc:
        print(f"polyact plot: cannot write {path}: {exc.strerror or exc}", file=err)
        return 1
    print(str(written), file=out)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """The ``polyact`` command; returns the exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:  # `polyact check | head`: stop quietly
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1


def _main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check":
        return check_main(argv[1:])
    if argv and argv[0] == "bench":
        from .bench import bench_main

        return bench_main(argv[1:])
    if argv and argv[0] == "plot":
        return plot_main(argv[1:])
    if argv and argv[0] == "docs":  # the docs site generator (polyact.docsite)
        from .docsite import main as docs_main

        return docs_main(argv[1:])
    parser = argparse.ArgumentParser(prog="polyact", description="Activation functions on every backend.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the registered activations")
    p_list.add_argument("--backend", help="only those this backend can build")
    p_list.add_argument("--module", action="append", default=[], help="import a module that registers more")
    p_show = sub.add_parser("show", help="formula, parameters, references and kernels of one activation")
    p_show.add_argument("name")
    p_show.add_argument("--module", action="append", default=[], help="import a module that registers more")
    sub.add_parser(
        "check",
        help="accuracy of every kernel against the mpmath reference (polyact check --help)",
        add_help=False,
    )
    sub.add_parser(
        "bench",
        help="time every kernel against the frameworks' ops and a naive composition (polyact bench --help)",
        add_help=False,
    )
    sub.add_parser(
        "plot", help="plot f (and f') of one activation to PNG or SVG (polyact plot --help)", add_help=False
    )
    sub.add_parser(
        "docs", help="generate and build the documentation site (polyact docs --help)", add_help=False
    )
    sub.add_parser("demo", help="the end-to-end show on every installed backend")
    try:
        args, rest = parser.parse_known_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        for mod in getattr(args, "module", []):
            load_module(mod)
        if args.command == "list":
            for name in registry.list_activations(args.backend):
                spec = registry.get_spec(name)
                print(f"{name:20s} {spec.kind:12s} {spec.summary}")
            return 0
        if args.command == "show":
            print(registry.describe(args.name))
            return 0
        from . import demo

        return demo.main(rest)
    except (PolyactError, _UsageError) as exc:
        print(f"polyact: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
