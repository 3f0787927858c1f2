"""``python -m polyact``: the same as the ``polyact`` command."""

from .cli import main

raise SystemExit(main())
