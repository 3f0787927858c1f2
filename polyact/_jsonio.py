"""JSON files every parser reads: non-finite numbers as strings.

Python's ``json`` writes ``Infinity`` and ``NaN``, which are not JSON (a
browser's ``JSON.parse`` rejects them). Reports and benchmark results write
``"inf"``, ``"-inf"`` and ``"nan"`` instead; :func:`restore` turns them back
into floats when polyact reads its own files.
"""

from __future__ import annotations

import json
import math
from typing import IO, Any

_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def encode(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``"inf"``, ``"-inf"`` or ``"nan"``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode(v) for v in obj]
    return obj


def restore(obj: Any) -> Any:
    """The inverse of :func:`encode`: ``"inf"``, ``"-inf"``, ``"nan"`` back to floats."""
    if isinstance(obj, str):
        return _NON_FINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [restore(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int = 1) -> str:
    """Strict JSON text of ``obj`` (:func:`encode` first)."""
    return json.dumps(encode(obj), indent=indent, allow_nan=False)


def dump(obj: Any, fh: IO[str], indent: int = 1) -> None:
    fh.write(dumps(obj, indent) + "\n")
