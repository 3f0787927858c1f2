"""Floating-point formats, correct rounding of reference values, ULP errors and
the tolerance table of the numerical contract (NUMERICS.md)."""

from __future__ import annotations

from typing import Any, Dict, NamedTuple

import numpy as np


class Format(NamedTuple):
    bits: int  # significand bits including the implicit one
    emin: int  # exponent of the smallest normal number
    emax: int  # exponent of the largest finite number

    @property
    def eps(self) -> float:
        return 2.0 ** (1 - self.bits)

    @property
    def max(self) -> float:
        return (2.0 - 2.0 ** (1 - self.bits)) * 2.0**self.emax

    @property
    def tiny(self) -> float:  # smallest normal
        return 2.0**self.emin

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.emin - self.bits + 1)


FORMATS: Dict[str, Format] = {
    "float64": Format(53, -1022, 1023),
    "float32": Format(24, -126, 127),
    "float16": Format(11, -14, 15),
    "bfloat16": Format(8, -126, 127),
}


def numpy_dtype(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


def round_mpf(v: Any, dtype: str) -> float:
    """Round one mpmath number to ``dtype`` once (nearest, ties to even), as a float.

    Complex values (a formula evaluated outside its real domain) become NaN.
    """
    import mpmath

    if isinstance(v, mpmath.mpc):
        v = v.real if v.imag == 0 else mpmath.nan
    if not isinstance(v, mpmath.mpf):
        v = mpmath.mpf(v)
    if mpmath.isnan(v):
        return float("nan")
    if mpmath.isinf(v):
        return float(v)
    if v == 0:
        return 0.0
    fmt = FORMATS[dtype]
    _, e = mpmath.frexp(v)  # v = m * 2**e, 0.5 <= |m| < 1
    exp = max(int(e) - 1, fmt.emin)
    quantum = mpmath.ldexp(1, exp - fmt.bits + 1)
    r = mpmath.nint(v / quantum) * quantum  # nint rounds half to even
    if abs(r) > fmt.max:
        return float("inf") if r > 0 else float("-inf")
    return float(r)


def round_array(values: Any, dtype: str) -> np.ndarray:
    """An object array of mpmath numbers rounded once to ``dtype`` (returned as that dtype)."""
    flat = [round_mpf(v, dtype) for v in np.asarray(values, dtype=object).reshape(-1)]
    out = np.asarray(flat, dtype=np.float64).reshape(np.shape(values))
    return out.astype(numpy_dtype(dtype))


def ulp(ref: Any, dtype: str) -> np.ndarray:
    """The unit in the last place of ``ref`` in ``dtype`` (subnormal floor included)."""
    fmt = FORMATS[dtype]
    r = np.abs(np.asarray(ref, dtype=np.float64))
    with np.errstate(all="ignore"):
        _, e = np.frexp(np.where(np.isfinite(r) & (r > 0), r, 1.0))
    exp = np.maximum(e - 1, fmt.emin)
    return np.ldexp(1.0, exp - fmt.bits + 1)


def ulp_error(y: Any, ref: Any, dtype: str) -> np.ndarray:
    """|y - ref| in ULPs of ``ref``; 0 where both are equal (same inf or both NaN),
    inf where exactly one is NaN or they are different infinities.

    The unit has a floor at the smallest normal number of ``dtype``: a subnormal
    result flushed to zero (XLA and MegEngine on CPU flush subnormals) counts as
    under one unit instead of millions of subnormal steps."""
    y = np.asarray(y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    with np.errstate(all="ignore"):
        err = np.abs(y - ref) / np.maximum(ulp(ref, dtype), FORMATS[dtype].tiny)
    same = (y == ref) | (np.isnan(y) & np.isnan(ref))
    err = np.where(same, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


class Tolerance(NamedTuple):
    ulps: float  # n: allowed error in ULPs of the reference
    abs_eps: float  # a: allowed absolute error in units of eps(dtype) * max(1, |x|)


#: The contract every kernel meets: |y - ref| <= n*ulp(ref) + a*eps*max(1, |x|).
#: Gradients get twice the forward bound. polyact's own kernels aim far tighter
#: (NUMERICS.md's goals), which `polyact check` reports.
CONTRACT: Dict[str, Tolerance] = {
    "float64": Tolerance(64, 4),
    "float32": Tolerance(32, 4),
    "float16": Tolerance(2, 2),
    "bfloat16": Tolerance(2, 2),
}


#: NUMERICS.md's accuracy goals for polyact's own (composed, fused) kernels, in
#: ULPs per group and dtype; gradients get twice these. Reported by ``polyact
#: check``, never enforced: the enforced bound is CONTRACT.
GOALS: Dict[str, Dict[str, float]] = {
    "exact": {"float64": 0, "float32": 0, "float16": 0, "bfloat16": 0},  # piecewise linear
    "transcendental": {"float64": 8, "float32": 4, "float16": 1, "bfloat16": 1},  # one transcendental
    "composition": {"float64": 16, "float32": 8, "float16": 2, "bfloat16": 2},
}
GROUPS = tuple(GOALS)


def goal(group: str, dtype: str, *, grad: bool = False) -> float:
    """The ULP goal of an accuracy group (``ActivationSpec.accuracy``) in ``dtype``."""
    return GOALS[group][dtype] * (2 if grad else 1)


def within_contract(y: Any, ref: Any, x: Any, dtype: str, *, grad: bool = False) -> np.ndarray:
    """Boolean mask of the elements that meet the contract.

    At non-finite inputs the result must be NaN for NaN and the limit at +-inf:
    exactly where the limit is infinite, within the ULP part of the bound where
    it is finite, anything where the function has no limit (reference NaN)."""
    tol = CONTRACT[dtype]
    scale = 2.0 if grad else 1.0
    fmt = FORMATS[dtype]
    y = np.asarray(y, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        bound = scale * (tol.ulps * ulp(ref, dtype) + tol.abs_eps * fmt.eps * np.maximum(1.0, np.abs(x)))
        ok = np.abs(y - ref) <= bound
        near_limit = np.abs(y - ref) <= scale * tol.ulps * ulp(ref, dtype)  # a finite limit at +-inf
    exact = (y == ref) | (np.isnan(y) & np.isnan(ref))
    at_inf = np.isinf(x)
    no_limit = at_inf & np.isnan(ref)
    finite_limit = at_inf & np.isfinite(ref) & near_limit
    return np.where(np.isfinite(x), ok | exact, exact | no_limit | finite_limit)
