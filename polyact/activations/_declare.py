"""``declare``: the decorator the catalogue modules use to register a built-in."""

from __future__ import annotations

from typing import Any, Callable

from ..registry import register_activation
from ..spec import Param


def declare(name: str, **fields: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(x, ops, **params)`` as built-in activation ``name``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        params = {k: v if isinstance(v, Param) else Param(v) for k, v in fields.pop("params", {}).items()}
        return register_activation(name, fn, params=params, _builtin=True, **fields)

    return deco
