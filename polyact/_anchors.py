"""The frameworks' own ops ("anchors") measured against the same references as
polyact's kernels, for ``polyact check --anchors``.

An anchor is the raw op a spec declares in ``spec.native[backend]``, called
directly: no polyact runner, so no float32 computation for half precision and
no special-value guard. It shows where a framework op is less accurate than
polyact's kernels; its verdicts are informational.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Dict, Optional

from . import registry
from .check import Case, Result, run_case

__all__ = ["ANCHOR", "anchor_function", "anchor_name", "has_anchor", "run_anchor_case"]

#: the kernel name anchors get in cases and tables
ANCHOR = "anchor"

_FRAMEWORK = {"torch": "torch", "jax": "jax", "megengine": "megengine"}
_names: Dict[Any, str] = {}


def has_anchor(spec: Any, backend: str) -> bool:
    """Whether ``spec`` declares a framework op on ``backend`` that can be called raw
    (elementwise activations only: per-channel parameters need the runner's shaping)."""
    return spec.kind == "elementwise" and spec.native.get(backend) is not None


def anchor_name(spec: Any, backend: str) -> str:
    """The framework op behind the anchor, read from the ``Native`` lambda's source
    (``torch.nn.functional.mish``); ``"<backend> native op"`` when it cannot be read."""
    native = spec.native.get(backend)
    if native is None:
        return ""
    key = (native.fn, backend)
    hit = _names.get(key)
    if hit is not None:
        return hit
    name = f"{backend} native op"
    try:
        src = inspect.getsource(native.fn)
    except (OSError, TypeError):
        src = ""
    m = re.search(r"lambda\s+(\w+)\s*,[^:]*:(.*)", src, re.S)
    if m:
        fw, body = m.group(1), m.group(2)
        calls = re.findall(rf"(?<![\w.]){re.escape(fw)}((?:\.\w+)+)\s*\(", body)
        if calls:
            name = _FRAMEWORK.get(backend, backend) + calls[0]
    _names[key] = name
    return name


def anchor_function(spec: Any, backend: str, params: Dict[str, Any]) -> Callable[[Any], Any]:
    """``f(x)``: the raw framework op at these parameter values."""
    b = registry.get_backend(backend)
    fw = b.fw
    fn = spec.native[backend].fn
    bound = spec.bind(dict(params))

    def f(x: Any) -> Any:
        return fn(fw, x, **bound)

    return f


def run_anchor_case(case: Case) -> Result:
    """Evaluate the raw framework op of one case (``case.kernel == "anchor"``) against
    the reference, through :func:`polyact.check.run_case`."""
    spec = registry.get_spec(case.name)
    return run_case(case, anchor_function(spec, case.backend, case.param_dict))


def anchor_note(spec: Any, backend: str) -> Optional[str]:
    native = spec.native.get(backend)
    return native.note if native is not None and native.note else None
