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

import numpy as np

from . import registry
from ._inputs import away_from_kinks
from ._numerics import ulp_error, within_contract
from ._refcache import reference
from .check import Case, Result, case_inputs

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
    the reference, exactly as :func:`polyact.check.run_case` does for polyact's kernels."""
    spec = registry.get_spec(case.name)
    params = case.param_dict
    b = registry.get_backend(case.backend)
    f = anchor_function(spec, case.backend, params)
    x = case_inputs(spec, params, case.cls, case.dtype)
    xt = b.from_numpy(x, case.dtype)
    if case.what == "gradient":
        _, out = b.value_and_grad(f, xt)
    else:
        out = f(xt)
    got_dtype = b.dtype_name(out)
    got_shape = tuple(out.shape)
    y = np.asarray(b.to_numpy(out)).astype(np.float64).reshape(-1)
    xf = x.astype(np.float64)
    bound = spec.bind(params)
    if case.what == "gradient":
        keep = away_from_kinks(xf, spec.kink_points(bound))
        ref = reference(spec, params, x, case.dtype, "grad")
    else:
        keep = np.ones(xf.shape, dtype=bool)
        ref = reference(spec, params, x, case.dtype, "value")
    if y.shape != xf.shape:  # a broken op: compare what can be compared
        y = np.resize(y, xf.shape) if y.size else np.full(xf.shape, np.nan)
    xf, y, ref = xf[keep], y[keep], ref[keep]
    ok = within_contract(y, ref, xf, case.dtype, grad=case.what == "gradient")
    err = ulp_error(y, ref, case.dtype)
    return Result(
        case,
        xf,
        y,
        ref,
        ok,
        err,
        dtype_ok=got_dtype == case.dtype,
        shape_ok=got_shape == x.shape,
        note=f"got {got_dtype} {got_shape} for {case.dtype} {x.shape}",
    )


def anchor_note(spec: Any, backend: str) -> Optional[str]:
    native = spec.native.get(backend)
    return native.note if native is not None and native.note else None
