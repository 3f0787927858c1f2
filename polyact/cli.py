"""The ``polyact`` command: ``list``, ``show`` and ``demo``.

``polyact list [--backend B]`` prints the registered activations;
``polyact show NAME`` prints its formula, parameters, kinks, references and
kernels per backend; ``polyact demo`` runs the end-to-end show.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import registry
from .errors import PolyactError


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="polyact", description="Activation functions on every backend.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the registered activations")
    p_list.add_argument("--backend", help="only those this backend can build")
    p_list.add_argument("--module", action="append", default=[], help="import a module that registers more")
    p_show = sub.add_parser("show", help="formula, parameters, references and kernels of one activation")
    p_show.add_argument("name")
    p_show.add_argument("--module", action="append", default=[], help="import a module that registers more")
    sub.add_parser("demo", help="the end-to-end show on every installed backend")
    args, rest = parser.parse_known_args(argv)
    try:
        for mod in getattr(args, "module", []):
            __import__(mod)
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
    except PolyactError as exc:
        print(f"polyact: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
