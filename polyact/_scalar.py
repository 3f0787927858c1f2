"""The primitives on plain Python numbers, with IEEE semantics.

A formula applies ops to parameters that are Python floats (``ops.expm1(-alpha)``);
every backend's Ops routes those calls here, so a scalar never raises where a
tensor would give inf or NaN (``math.exp(1000)`` raises OverflowError,
``math.log(0)`` raises ValueError). Uses ``math`` only: importing it is free.
"""

from __future__ import annotations

import math

inf, nan = math.inf, math.nan


def exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return inf


def expm1(v: float) -> float:
    try:
        return math.expm1(v)
    except OverflowError:
        return inf


def log(v: float) -> float:
    if v > 0 or v != v:
        return math.log(v)
    return -inf if v == 0 else nan


def log1p(v: float) -> float:
    if v > -1 or v != v:
        return math.log1p(v)
    return -inf if v == -1 else nan


def sqrt(v: float) -> float:
    return math.sqrt(v) if v >= 0 or v != v else nan


def tanh(v: float) -> float:
    return math.tanh(v)


def sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = exp(v)
    return e / (1.0 + e) if e == e else nan


def erf(v: float) -> float:
    return math.erf(v)


def erfc(v: float) -> float:
    return math.erfc(v)


def sin(v: float) -> float:
    return math.sin(v) if math.isfinite(v) else nan


def cos(v: float) -> float:
    return math.cos(v) if math.isfinite(v) else nan


def abs_(v: float) -> float:
    return abs(float(v))


def sign(v: float) -> float:
    return nan if v != v else float((v > 0) - (v < 0))


def isnan(v: float) -> bool:
    return v != v


def maximum(a: float, b: float) -> float:
    return nan if a != a or b != b else (a if a >= b else b)


def minimum(a: float, b: float) -> float:
    return nan if a != a or b != b else (a if a <= b else b)
