"""The generated Triton kernel (polyact/backends/_triton.py), run in Triton's
interpreter (``TRITON_INTERPRET=1``) on CPU tensors: every element-wise
activation it can express, forward and backward, at its default and example
parameters, on the float64 and float32 grids, against the mpmath reference
with the contract of NUMERICS.md, through the torch backend's runner as
``get_function(..., kernel="triton")`` runs it. Triton reads the variable when
a kernel is built, so the fixture below sets it for this module only.

On a machine with an NVIDIA GPU, ``POLYACT_TRITON_DEVICE=cuda`` runs the same
tests compiled for the GPU (no interpreter) on CUDA tensors.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import polyact
from polyact import check
from polyact._inputs import GRID_CLASSES, away_from_kinks
from polyact._numerics import ulp_error, within_contract
from polyact._refcache import reference
from polyact.errors import ActivationError

pytest.importorskip("torch")
pytest.importorskip("triton")

from polyact.backends import _triton

DTYPES = ("float64", "float32")
#: where the tensors live: "cpu" (Triton's interpreter) or "cuda" (a GPU)
DEVICE = os.environ.get("POLYACT_TRITON_DEVICE", "cpu")


@pytest.fixture(scope="module", autouse=True)
def _interpreter():
    if DEVICE != "cpu":
        import torch

        assert torch.cuda.is_available(), f"POLYACT_TRITON_DEVICE={DEVICE} needs a GPU torch can see"
        yield
        return
    old = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    yield
    if old is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = old


def _elementwise():
    return [n for n in polyact.list_activations() if polyact.get_spec(n).elementwise]


def _cases():
    out = []
    for name in _elementwise():
        spec = polyact.get_spec(name)
        why = _triton._expressible(spec)
        for params in check.param_sets(spec):
            for dtype in DTYPES:
                marks = [pytest.mark.skip(reason=f"no triton kernel: {why}")] if why else []
                pid = f"{name}{check.param_id(params)}-{dtype}"
                out.append(pytest.param(name, params, dtype, id=pid, marks=marks))
    return out


def _function(spec, params):
    """The triton kernel behind the torch backend's runner (input checks,
    special-value guard), as ``get_function(..., kernel="triton")`` gives it."""
    b = polyact.get_backend("torch")
    kernel = _triton.triton_kernel(spec)
    return b.make_function(spec, kernel, spec.bind(dict(params)), {})


@pytest.mark.parametrize(("name", "params", "dtype"), _cases())
def test_matches_reference(name, params, dtype):
    """Values and gradients (cotangent 1) on every grid class, one forward and
    one backward launch per class, judged at the finite inputs: non-finite ones
    are the runner's special-value guard's business (checked for every kernel
    alike in the consistency matrix). The references are looked up under the
    keys the matrix (values) and tests/test_grads.py (gradients) use, so a
    whole-suite run computes each once."""
    spec = polyact.get_spec(name)
    b = polyact.get_backend("torch")
    f = _function(spec, params)
    kinks = spec.kink_points(spec.bind(dict(params)))
    failures = []
    for cls in GRID_CLASSES:
        if cls == "kinks" and not spec.kinks:
            continue
        x = check.case_inputs(spec, params, cls, dtype)
        fin = np.isfinite(x)
        if not fin.any():
            continue
        y, g = b.value_and_grad(f, b.from_numpy(x, dtype).to(DEVICE))
        assert b.dtype_name(y) == dtype and b.dtype_name(g) == dtype
        xf = x[fin]
        refs = {
            "value": reference(spec, params, x, dtype, "value")[fin],
            "grad": reference(spec, params, x, dtype, "grad")[fin],
        }
        for what, got in (("value", y), ("grad", g)):
            got = b.to_numpy(got).astype(np.float64)[fin]
            ref = refs[what]
            ok = within_contract(got, ref, xf, dtype, grad=what == "grad")
            if what == "grad":
                ok |= ~away_from_kinks(xf, kinks)
            for i in np.flatnonzero(~ok)[:4]:
                err = float(ulp_error(got[i : i + 1], ref[i : i + 1], dtype)[0])
                failures.append(
                    f"{cls} {what}: x={float(xf[i])!r} got={float(got[i])!r} ref={float(ref[i])!r} ({err:.3g} ulp)"
                )
    assert not failures, f"{name}{check.param_id(params)} {dtype}:\n" + "\n".join(failures)


def test_kernel_flags():
    k = _triton.triton_kernel(polyact.get_spec("elu"))
    assert k is not None
    assert (k.name, k.backend, k.kind, k.devices) == ("triton", "torch", "triton", ("cuda",))
    assert not k.onnx and not k.compile_safe and not k.param_grads
    assert k.supports("float32", "cuda") and not k.supports("float32", "cpu")


def test_not_expressible():
    import dataclasses

    assert _triton.triton_kernel(dataclasses.replace(polyact.get_spec("elu"), grad=None)) is None
    vector = [n for n in polyact.list_activations() if polyact.get_spec(n).kind == "vector"]
    for name in vector[:2]:
        assert _triton.triton_kernel(polyact.get_spec(name)) is None


def _same(a, b):
    import torch

    return torch.allclose(a, b, rtol=1e-13, atol=1e-300, equal_nan=True)


def _reference_kernel(b, spec):
    """The fused kernel (the same formulas, through torch ops), else the composed one."""
    kernels = b.builtin_kernels(spec)
    return kernels.get("fused") or kernels["composed"]


def test_per_channel_parameters():
    """One value per channel along the channel axis (NCHW and channels last)."""
    import torch

    b = polyact.get_backend("torch")
    for name, values in (("prelu", {"weight": [0.1, 0.25, -0.5]}), ("snake", {"a": [0.5, 1.0, 2.0]})):
        spec = polyact.get_spec(name)
        params = spec.bind(values)
        x = torch.linspace(-6.0, 6.0, 2 * 3 * 4 * 5, dtype=torch.float64, device=DEVICE).reshape(2, 3, 4, 5)
        for axis, xin in ((1, x), (-1, x.permute(0, 2, 3, 1))):
            opts = {"channel_axis": axis}
            got = b.make_function(spec, _triton.triton_kernel(spec), params, opts)
            want = b.make_function(spec, _reference_kernel(b, spec), params, opts)
            (y, g), (y0, g0) = b.value_and_grad(got, xin), b.value_and_grad(want, xin)
            assert _same(y, y0) and _same(g, g0), (name, axis)


def test_training_mode_noise():
    """A stochastic activation in training mode reads the runner's noise (same
    seed, same draws as the torch kernels); evaluation mode has none."""
    import torch

    b = polyact.get_backend("torch")
    for name in ("rrelu", "probact"):
        spec = polyact.get_spec(name)
        params = spec.bind({"sigma": 0.5} if name == "probact" else {})
        x = torch.linspace(-3.0, 3.0, 41, dtype=torch.float64, device=DEVICE)
        got = b.make_function(spec, _triton.triton_kernel(spec), params, {})
        want = b.make_function(spec, _reference_kernel(b, spec), params, {})
        for training in (False, True):
            outs = []
            for f in (got, want):
                gen = torch.Generator(device=DEVICE).manual_seed(7)
                outs.append(b.value_and_grad(lambda v, f=f, gen=gen: f(v, training=training, rng=gen), x))
            (y, g), (y0, g0) = outs
            assert _same(y, y0) and _same(g, g0), (name, training)


def test_cpu_tensor_needs_the_interpreter(monkeypatch):
    import torch

    spec = polyact.get_spec("elu")
    k = _triton.triton_kernel(spec)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ActivationError, match="needs a CUDA tensor"):
        k.impl(torch.zeros(3), alpha=1.0)


def test_parameters_one_kernel_per_spec_and_tensor_parameters():
    """Symbolic parameters: new values reuse the kernel; a 0-d tensor parameter
    works without a host round trip; half precision computes in float32."""
    import torch

    spec = polyact.get_spec("elu")
    k = _triton.triton_kernel(spec)
    x = torch.linspace(-4.0, 4.0, 33, dtype=torch.float64, device=DEVICE)
    ops = polyact.get_backend("torch").ops
    for alpha in (0.5, 2.0, torch.tensor(1.5, dtype=torch.float64, device=DEVICE)):
        y = k.impl(x, alpha=alpha)
        want = spec.fn(x, ops, alpha=alpha)
        assert torch.allclose(y, want, rtol=1e-15, atol=0.0)
    n = len(_triton._COMPILED)
    k.impl(x, alpha=3.0)
    assert len(_triton._COMPILED) == n
    yh = k.impl(x.half(), alpha=1.0)
    assert yh.dtype == torch.float16
    assert torch.equal(yh, spec.fn(x.float(), ops, alpha=1.0).half())


def test_backward_is_g_times_grad_from_the_saved_input():
    """Backward computes g * grad(x) from the input alone: every tensor saved
    for it is the input itself (or the parameter and limit tensors, not input-sized)."""
    import torch

    spec = polyact.get_spec("elu")
    k = _triton.triton_kernel(spec)
    x = torch.linspace(-3.0, 3.0, 25, dtype=torch.float64, device=DEVICE, requires_grad=True)
    g = torch.linspace(0.5, 2.0, 25, dtype=torch.float64, device=DEVICE)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = k.impl(x, alpha=1.5)
    # (besides the input: the parameter tensor and the 4 special-value limits)
    assert saved and all(t.data_ptr() == x.data_ptr() or t.numel() <= 4 for t in saved)
    (y * g).sum().backward()
    want = g * spec.grad(x.detach(), polyact.get_backend("torch").ops, alpha=1.5)
    assert torch.allclose(x.grad, want, rtol=1e-15, atol=0.0)
    assert k.impl(torch.empty(0, dtype=torch.float32, device=DEVICE)).shape == (0,)


def test_source_is_generated_from_the_formula():
    src = _triton.kernel_source(polyact.get_spec("elu"))
    assert "def fwd(" in src and "def bwd(" in src and "_L.expm1" in src and "p0 = tl.load(P + 0)" in src
    # a formula that branches on a parameter's value is traced with the values
    for name in _elementwise():
        spec = polyact.get_spec(name)
        if _triton._expressible(spec) is None and spec.params:
            try:
                _triton.kernel_source(spec)
            except _triton._NeedsValue:
                src = _triton.kernel_source(spec, spec.defaults)
                assert "tl.load(P" not in src


def test_import_does_not_import_triton():
    # (torch itself imports triton where it is installed: this checks polyact alone)
    code = (
        "import sys, polyact, polyact.backends._triton as t\n"
        "assert t.triton_kernel(polyact.get_spec('elu')) is not None\n"
        "t.kernel_source(polyact.get_spec('gelu'))\n"
        "assert 'triton' not in sys.modules, 'triton imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def _special_cases():
    out = []
    for name in _elementwise():
        spec = polyact.get_spec(name)
        if _triton._expressible(spec) is None:
            for params in check.param_sets(spec):
                out.append(pytest.param(name, params, id=f"{name}{check.param_id(params)}"))
    return out


@pytest.mark.parametrize(("name", "params"), _special_cases())
def test_special_values_inside_the_kernel(name, params):
    """The kernel applies the special-value guard itself (the runner adds none):
    the limits at -inf and +inf and NaN at NaN, values and derivatives bit for
    bit what the runner's guard gives the other kernels, in every lane."""
    import torch

    spec = polyact.get_spec(name)
    f = _function(spec, params)
    assert getattr(_triton.triton_kernel(spec).impl, "guards_specials", False)
    tb = polyact.get_backend("torch")
    for dtype in (torch.float64, torch.float32):
        got = tb._probe_specials(spec, lambda x, **_: f(x), spec.bind(dict(params)), dtype, DEVICE)
        assert got == (True, True), (dtype, got)


def test_runner_adds_no_guard_and_no_autograd_record_without_grad(monkeypatch):
    """The runner leaves the special values to the kernel (its own guard, an
    extra pass over memory, never runs), and a call that needs no gradient
    makes no autograd record."""
    import torch

    b = polyact.get_backend("torch")

    def no_guard(*a, **k):
        raise AssertionError("the runner's guard ran")

    monkeypatch.setattr(b, "_guarded", no_guard)
    f = polyact.get_function("silu", "torch", kernel="triton")
    x = torch.tensor([-float("inf"), -1.0, 0.0, 2.0, float("inf"), float("nan")], device=DEVICE)
    y = f(x)
    assert y.grad_fn is None
    assert y[0].item() == 0.0 and y[4].item() == float("inf") and torch.isnan(y[5])
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xg).sum(), xg)
    assert g[0].item() == 0.0 and g[4].item() == 1.0 and torch.isnan(g[5])
