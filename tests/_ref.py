"""Cached mpmath reference values and derivatives, rounded once to a dtype."""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, Tuple

import numpy as np

import polyact
from polyact._inputs import CLASSES
from polyact._numerics import round_array
from polyact.backends import reference


def params_key(params: Dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


@functools.lru_cache(maxsize=None)
def inputs(cls: str, dtype: str) -> np.ndarray:
    return CLASSES[cls](dtype)


@functools.lru_cache(maxsize=None)
def _exact(name: str, pkey: str, cls: str, dtype: str, what: str) -> Any:
    spec = polyact.get_spec(name)
    params = json.loads(pkey)
    x = inputs(cls, dtype)
    if what == "value":
        return reference.evaluate(spec, x, params)
    if what == "grad":
        return reference.derivative(spec, x, params)
    return reference.param_derivative(spec, x, params, what)


def value(name: str, params: Dict[str, Any], cls: str, dtype: str) -> np.ndarray:
    """The reference f(x) rounded once to ``dtype`` (as float64 for comparisons)."""
    return _rounded(name, params_key(params), cls, dtype, "value")


def grad(name: str, params: Dict[str, Any], cls: str, dtype: str) -> np.ndarray:
    return _rounded(name, params_key(params), cls, dtype, "grad")


def param_grad(name: str, params: Dict[str, Any], cls: str, dtype: str, key: str) -> np.ndarray:
    """d f/d key at each input, rounded to float64 (summed by the caller)."""
    return _rounded(name, params_key(params), cls, "float64", key, inputs_dtype=dtype)


@functools.lru_cache(maxsize=None)
def _rounded(name: str, pkey: str, cls: str, dtype: str, what: str, inputs_dtype: str = "") -> np.ndarray:
    exact = _exact(name, pkey, cls, inputs_dtype or dtype, what)
    return round_array(exact, dtype).astype(np.float64)


def param_sets(spec: Any) -> Tuple[Dict[str, Any], ...]:
    return ({}, *(dict(e) for e in spec.examples))
