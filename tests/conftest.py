"""Test configuration: which backends run here, and what must be present.

``POLYACT_TEST_BACKENDS=numpy,torch`` selects backends explicitly (default: the
installed ones among numpy, torch, jax, megengine). ``POLYACT_REQUIRE_BACKENDS``
lists backends that must be installed: a missing one fails the run (``make
test`` and CI set it, so a backend that cannot be set up is never skipped).
"""

from __future__ import annotations

import os
import warnings

import pytest

import polyact

os.environ.setdefault("POLYACT_NO_PLUGINS", "0")


def _split(var: str) -> list:
    return [b.strip() for b in os.environ.get(var, "").split(",") if b.strip()]


REQUIRED = _split("POLYACT_REQUIRE_BACKENDS")
_explicit = _split("POLYACT_TEST_BACKENDS")
INSTALLED = polyact.available_backends()
BACKENDS = [b for b in (_explicit or INSTALLED) if b in INSTALLED or b in REQUIRED]

if "jax" in BACKENDS:
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 in the matrix; dtypes are explicit

if "megengine" in BACKENDS:
    import logging

    logging.getLogger("megengine").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="megengine")


# backend-specific test files run only in the environment that tests that backend
collect_ignore = [f"test_backend_{b}.py" for b in ("torch", "jax", "megengine") if b not in BACKENDS]

# cross-backend agreement compares the dumps every environment wrote (make
# test-cross): collected only when POLYACT_CROSS_DIR says where they are
if not os.environ.get("POLYACT_CROSS_DIR"):
    collect_ignore.append("test_cross_backend.py")

# the built documentation site (make test-docs): collected only when
# POLYACT_DOCS_SITE says where polyact docs built it
if not os.environ.get("POLYACT_DOCS_SITE"):
    collect_ignore.append("test_docs_site.py")


def backend_params(differentiable_only: bool = False) -> list:
    out = []
    for b in BACKENDS:
        if differentiable_only and b == "numpy":
            continue
        out.append(b)
    return out


def pytest_report_header(config: pytest.Config) -> str:
    return f"polyact backends under test: {', '.join(BACKENDS) or 'none'} (required: {', '.join(REQUIRED) or 'none'})"


def evaluation(obj):
    """``obj`` in evaluation mode when its activation is stochastic (torch,
    MegEngine and nnx modules start in training mode, with noise); generic tests
    compare objects with the deterministic plain function."""
    spec = getattr(obj, "spec", None)
    if getattr(spec, "noise", None) is not None and hasattr(obj, "eval"):
        obj.eval()
    return obj


def required_params(name):
    """The first example parameter set of an activation with required parameters
    (it has no defaults to build with), else nothing."""
    spec = polyact.get_spec(name)
    if any(p.required for p in spec.params.values()):
        return dict(spec.examples[0])
    return {}


def make_fn(name, backend, **kwargs):
    """``get_function`` with the required parameters filled in from the examples."""
    return polyact.get_function(name, backend, **{**required_params(name), **kwargs})


def make_act(name, backend, **kwargs):
    """``get_activation`` with the required parameters filled in from the examples,
    in evaluation mode (see :func:`evaluation`)."""
    return evaluation(polyact.get_activation(name, backend, **{**required_params(name), **kwargs}))


def cpu_kernels(name, backend):
    """``polyact.kernels(name, backend)`` as the generated suites use them: the
    consistency matrix's kernels, without GPU-only ones (tests/test_triton.py
    runs the Triton kernel in Triton's interpreter) and torch's inductor-compiled
    one (seconds of compiling per activation and shape: tests/test_compiled.py)."""
    from polyact.check import _in_default_matrix

    return {k: v for k, v in polyact.kernels(name, backend).items() if _in_default_matrix(v, backend)}


def check_values(spec, kern, y, x, dtype, what="value", params=None) -> None:
    """``y`` (the values or, for ``what="grad"``, the derivatives of kernel ``kern``
    at ``x``) within the contract of the reference, the derivatives away from the
    kinks. Kernels not eligible for auto are known to break the contract (the
    consistency matrix reports them) and are only run."""
    import numpy as np

    from polyact._inputs import away_from_kinks
    from polyact._numerics import within_contract
    from polyact._refcache import reference

    params = {**required_params(spec.name), **(params or {})}
    if not kern.eligible_for(spec.bind(params)):
        return
    xf = np.asarray(x, dtype=np.float64).reshape(-1)
    got = np.asarray(y, dtype=np.float64).reshape(-1)
    ref = reference(spec, params, np.asarray(x).reshape(-1), dtype, what)
    keep = away_from_kinks(xf, spec.kink_points(spec.bind(params))) if what == "grad" else xf == xf
    keep |= np.isnan(xf)
    ok = within_contract(got[keep], ref[keep], xf[keep], dtype, grad=what == "grad")
    assert ok.all(), (
        f"{what} ({dtype}): x={xf[keep][~ok][:4]} got={got[keep][~ok][:4]} ref={ref[keep][~ok][:4]}"
    )
