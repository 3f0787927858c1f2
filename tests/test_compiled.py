"""torch's ``compiled`` kernel (``torch.compile`` of the formula, inductor's
generated C++) against the reference, forward and gradient, for a sample of
activations covering every primitive (``SAMPLE``; all of them with
``POLYACT_TEST_ALL_COMPILED=1``), at their defaults.

One inductor compile costs seconds, so instead of one case per input class
(the matrix's way) every activation gets ONE float32 input holding every input
class, differentiated once: one compile of the forward and backward graphs per
activation. Half precision runs the same float32 code and rounds once (the
runner does it, as for every kernel); float64 compiles are left to ``polyact
check --kernel compiled``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import polyact
from polyact import check
from polyact._inputs import GRID_CLASSES, away_from_kinks
from polyact._numerics import within_contract
from polyact._refcache import reference

from .conftest import BACKENDS

if "torch" not in BACKENDS:
    pytest.skip("torch backend not under test in this environment", allow_module_level=True)

import torch

DTYPE = "float32"


#: activations whose formulas together use every primitive inductor lowers
#: differently (exp, expm1, log, log1p, softplus, sigmoid, tanh, erf, erfc, sqrt,
#: sin, cos, division, where, parameters): one compile each keeps CI within its
#: budget. POLYACT_TEST_ALL_COMPILED=1 (or ``polyact check --kernel compiled``)
#: covers every activation.
SAMPLE = (
    "mish",
    "silu",
    "gelu",
    "gelu_tanh",
    "elu",
    "softplus",
    "log_sigmoid",
    "laplace",
    "sine",
    "squareplus",
    "isru",
    "soft_exponential",
    "hard_swish",
    "aria2",
)


def _cases():
    out = []
    every = os.environ.get("POLYACT_TEST_ALL_COMPILED", "") not in ("", "0")
    for name in polyact.list_activations():
        spec = polyact.get_spec(name)
        if not spec.elementwise or "compiled" not in polyact.kernels(name, "torch"):
            continue
        if not every and name not in SAMPLE:
            continue
        # the defaults only: inductor treats float parameters as inputs after the
        # first recompile, so other values run the same generated code
        params = check.param_sets(spec)[0]
        out.append(pytest.param(name, params, id=f"{name}{check.param_id(params)}"))
    return out


@pytest.mark.skipif(
    not polyact.kernels("relu", "torch")["compiled"].supports(DTYPE), reason="no C++ compiler"
)
@pytest.mark.parametrize(("name", "params"), _cases())
def test_compiled_kernel_meets_the_contract(name, params):
    spec = polyact.get_spec(name)
    classes = [c for c in GRID_CLASSES if c != "kinks" or spec.kinks]
    parts = [check.case_inputs(spec, params, c, DTYPE) for c in classes]
    x = np.concatenate(parts)
    b = polyact.get_backend("torch")
    f = polyact.get_function(name, "torch", kernel="compiled", **params)
    y, g = b.value_and_grad(f, b.from_numpy(x, DTYPE))
    assert y.dtype == g.dtype == torch.float32 and tuple(y.shape) == x.shape
    y, g = y.double().numpy(), g.double().numpy()
    xf = x.astype(np.float64)
    kinks = spec.kink_points(spec.bind(dict(params)))
    # references per class: the consistency matrix's cache entries
    ref_y = np.concatenate([reference(spec, params, part, DTYPE, "value") for part in parts])
    ref_g = np.concatenate([reference(spec, params, part, DTYPE, "grad") for part in parts])
    ok_y = within_contract(y, ref_y, xf, DTYPE)
    ok_g = within_contract(g, ref_g, xf, DTYPE, grad=True)
    ok_g |= ~away_from_kinks(xf, kinks)
    bad = []
    start = 0
    for cls, part in zip(classes, parts):
        sl = slice(start, start + part.size)
        start += part.size
        for what, ok, v in (("forward", ok_y, y), ("gradient", ok_g, g)):
            for i in np.flatnonzero(~ok[sl])[:3]:
                bad.append(f"{what} {cls}: x={float(xf[sl][i])!r} got={float(v[sl][i])!r}")
    assert not bad, f"{name}{check.param_id(params)} compiled:\n" + "\n".join(bad)


@pytest.mark.skipif(
    not polyact.kernels("relu", "torch")["compiled"].supports(DTYPE), reason="no C++ compiler"
)
def test_erfc_under_compile():
    """Traced erfc: in float32 the vectorisable fit (inductor's own erfc is scalar),
    within 8 ULPs of erfc of the float32 input plus 2 x^2 ULPs (the rounding of
    x^2 inside exp, as in any float32 exp(-x^2)), with the exact derivative
    -2/sqrt(pi) exp(-x^2) and the limits 2, 0 and NaN at -inf, inf and NaN; in
    float64 the exact op (the fit would be 1e9 ULPs off)."""
    import math

    ops = polyact.get_backend("torch").ops
    f = torch.compile(lambda v: ops.erfc(v), dynamic=False)
    grid = np.concatenate([np.linspace(-6.0, 10.0, 20001), [-0.0, 0.0, 1e-30, -1e-30, 9.9, 10.4, 30.0, 1e30]])
    x = torch.tensor(grid, dtype=torch.float32, requires_grad=True)
    y = f(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    xd = x.detach().double().numpy()
    ref = np.array([math.erfc(v) for v in xd])
    dref = -2.0 / math.sqrt(math.pi) * np.exp(-xd * xd)
    ulp32 = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    within = (8 + 2 * np.minimum(xd * xd, 110.0)) * ulp32 + 1e-44
    assert np.all(np.abs(y.detach().double().numpy() - ref) <= within)
    dulp = np.spacing(np.abs(dref).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(g.double().numpy() - dref) <= (2 + 2 * np.minimum(xd * xd, 110.0)) * dulp + 1e-44)
    special = f(torch.tensor([-math.inf, math.inf, math.nan]))
    assert special[0].item() == 2.0 and special[1].item() == 0.0 and math.isnan(special[2].item())
    x64 = torch.tensor(np.linspace(-6.0, 26.0, 4001))
    y64 = torch.compile(lambda v: ops.erfc(v), dynamic=False)(x64).numpy()
    ref64 = np.array([math.erfc(v) for v in x64.numpy()])
    assert np.all(np.abs(y64 - ref64) <= 4 * np.spacing(np.abs(ref64)) + 1e-320)


@pytest.mark.skipif(
    not polyact.kernels("relu", "torch")["compiled"].supports(DTYPE), reason="no C++ compiler"
)
def test_compiled_loop_reports_finiteness(monkeypatch):
    """Eager CPU calls without parameters skip the guard's separate finiteness
    pass: the compiled loop returns the flag with the values. Inputs with NaN or
    +-inf still get the limits, values and gradients (gelu: 0 and +inf, slopes 0
    and 1), through the guard."""
    import math

    import polyact.backends.torch as pt

    def no_pass(x):
        raise AssertionError("separate finiteness pass")

    monkeypatch.setattr(pt, "_finite_sum", no_pass)
    f = polyact.get_function("gelu", "torch", kernel="compiled")
    xs = [-math.inf, -3.0, 0.5, math.inf, math.nan] + [0.25] * 40
    x = torch.tensor(xs, requires_grad=True)
    y = f(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert y[0].item() == 0.0 and y[3].item() == math.inf and math.isnan(y[4].item())
    assert g[0].item() == 0.0 and g[3].item() == 1.0 and math.isnan(g[4].item())
    xf = torch.tensor([-3.0, 0.5, 0.25], requires_grad=True)
    yf = f(xf)
    (gf,) = torch.autograd.grad(yf.sum(), xf)
    want = [0.5 * v * math.erfc(-v / math.sqrt(2.0)) for v in (-3.0, 0.5, 0.25)]
    assert np.allclose(yf.detach().numpy(), want, rtol=1e-6, atol=0)
    assert np.allclose(y[[1, 2, 5]].detach().numpy(), yf.detach().numpy(), rtol=1e-6, atol=0)
    assert np.allclose(g[[1, 2, 5]].numpy(), gf.numpy(), rtol=1e-6, atol=0)
