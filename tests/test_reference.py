"""The generated consistency matrix (NUMERICS.md): every registered activation x
its parameter sets x backend x kernel x dtype (float64 where the backend has it,
float32, float16, bfloat16) x input class, forward and gradient, against the
mpmath reference rounded once to the dtype. The 16-bit dtypes also sweep every
bit pattern (class ``exhaustive``). Special values (+-inf, NaN) must equal the
limits exactly; kink gradients are the declared ones, exactly.

Cases run through :func:`polyact.check.run_case`, the engine of ``polyact
check``; ids read ``test_forward[mish-torch-composed-float16-large]``.
Known deviations of framework-native kernels (not eligible for ``auto``) are
strict xfails listed in ``known_divergences.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import polyact
from polyact import check

from . import known_divergences
from .conftest import BACKENDS

QUICK_CLASSES = ("normal", "extremal")


def _params(what):
    out = []
    for c in check.iter_cases(backends=BACKENDS, whats=(what,)):
        marks = known_divergences.xfail(c.name, c.backend, c.kernel, what, c.dtype, c.cls, c.param_dict)
        if c.cls in QUICK_CLASSES and c.dtype == "float32" and not c.params:
            marks.append(pytest.mark.quick)
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def _run(case):
    r = check.run_case(case)
    if not r.passed:
        pytest.fail(r.message(), pytrace=False)


@pytest.mark.parametrize("case", _params("forward"))
def test_forward(case):
    _run(case)


@pytest.mark.parametrize("case", _params("gradient"))
def test_gradient(case):
    _run(case)


def _kink_cases():
    out = []
    for c in check.iter_cases(backends=BACKENDS, classes=("normal",), whats=("gradient",)):
        if not polyact.get_spec(c.name).kinks:
            continue
        marks = known_divergences.xfail(c.name, c.backend, c.kernel, "kink", c.dtype, params=c.param_dict)
        out.append(pytest.param(c, id=c.id.rsplit("-", 1)[0], marks=marks))
    return out


def _representable(v: float, dtype: str) -> bool:
    from polyact._numerics import numpy_dtype

    return float(np.asarray(v, dtype=np.float64).astype(numpy_dtype(dtype)).astype(np.float64)) == v


@pytest.mark.parametrize("case", _kink_cases())
def test_kink_gradient(case):
    """At a kink the derivative is the declared one, exactly, on every backend."""
    b = polyact.get_backend(case.backend)
    spec = polyact.get_spec(case.name)
    params = case.param_dict
    f = polyact.get_function(case.name, case.backend, kernel=case.kernel, **params)
    # kinks the dtype cannot represent (talu's -0.05 in float16) fall inside a branch: not kinks there
    pts = [(at, g) for at, g in spec.kink_points(spec.bind(params)) if _representable(at, case.dtype)]
    if not pts:
        return
    x_np = np.asarray([at for at, _ in pts]).astype(case.dtype if case.dtype != "bfloat16" else "float32")
    # padded like the matrix's inputs on JAX and MegEngine, which compile (or cache) per
    # shape: the kinks then reuse the ops the matrix prepared instead of new ones per count
    x_t = b.from_numpy(check._bucketed(x_np) if case.backend in check._BUCKETED else x_np, case.dtype)
    expected = np.asarray([g for _, g in pts], dtype=np.float64)
    expected = np.asarray(b.to_numpy(b.from_numpy(expected, case.dtype))).astype(np.float64)
    _, g = b.value_and_grad(f, x_t)
    got = np.asarray(b.to_numpy(g)).astype(np.float64).reshape(-1)[: x_np.size]
    assert np.array_equal(got, expected), (
        f"kinks at {x_np.tolist()}: got {got.tolist()}, declared {expected.tolist()}"
    )
