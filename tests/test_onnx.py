"""ONNX export of the torch modules, run in onnxruntime.

Every element-wise activation is exported with ``torch.onnx.export`` from a
module built with ``kernel="auto"``: while the exporter traces, auto picks only
kernels flagged ``onnx`` (the export mode), and the special-value guard is
traced as plain ``where`` ops. The exported graph then runs in onnxruntime on
an input with infinities, NaN and huge values, and must give the reference
values: NaN and infinities exactly, finite values within RTOL/ATOL (onnxruntime's
own ops are not held to polyact's contract, see below). A few activations also
go through the torch.export-based exporter (``dynamo=True``).
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest

import polyact as pa
from polyact import check
from polyact._numerics import ulp_error
from polyact._refcache import reference

from .conftest import BACKENDS

if "torch" not in BACKENDS:
    pytest.skip("ONNX export is a torch feature (main environment)", allow_module_level=True)

if os.environ.get("CI") == "true":  # installed by scripts/setup_env.sh: missing is a failure
    import onnx  # noqa: F401
    import onnxruntime as ort
else:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

import torch

ELEMENTWISE = [n for n in pa.list_activations() if pa.get_spec(n).kind == "elementwise"]
#: the input: the grid a user meets, the float32 extremes and the specials
X = np.concatenate(
    [
        np.linspace(-8.0, 8.0, 61),
        [-1e30, -3e38, 3e38, 1e30, -0.0, 1e-30, -1e-30, np.inf, -np.inf, np.nan],
    ]
).astype(np.float32)
#: onnxruntime computes some ONNX ops with approximations of its own (its
#: Sigmoid is 2e-4 off at x = -8, Elu and Erf-based Gelu cancel near 0 and in
#: the tail): finite values are held to this relative and absolute tolerance;
#: NaN and infinities must be exact
RTOL, ATOL = 1e-3, 1e-6


def _export(module: torch.nn.Module, x: torch.Tensor, dynamo: bool) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        if dynamo:
            program = torch.onnx.export(module, (x,), dynamo=True, verbose=False)
            return program.model_proto.SerializeToString()
        else:
            torch.onnx.export(module, (x,), buf, dynamo=False, opset_version=17)
    return buf.getvalue()


def _run(model: bytes, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _check(name: str, dynamo: bool) -> None:
    spec = pa.get_spec(name)
    params = dict(check.param_sets(spec)[0])
    module = pa.get_activation(name, backend="torch", **params).eval()
    x = torch.from_numpy(X.copy())
    got = _run(_export(module, x, dynamo), X)
    want = reference(spec, params, X.astype(np.float64), "float32")
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), (
        f"{name}: NaN at {X[np.isnan(got) != nan].tolist()} (exported {got[np.isnan(got) != nan].tolist()})"
    )
    inf = np.isinf(want)
    assert np.array_equal(got[inf], want[inf].astype(np.float32)), (
        f"{name}: at {X[inf].tolist()} exported {got[inf].tolist()}, reference {want[inf].tolist()}"
    )
    fin = ~nan & ~inf
    err = np.abs(got[fin].astype(np.float64) - want[fin]) - (RTOL * np.abs(want[fin]) + ATOL)
    worst = int(np.argmax(err))
    assert err[worst] <= 0, (
        f"{name}: at x={X[fin][worst]!r} onnxruntime gives {got[fin][worst]!r}, "
        f"reference {want[fin][worst]!r} ({ulp_error(got[fin][worst], want[fin][worst], 'float32'):.3g} ULP)"
    )


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_torchscript_export_runs_in_onnxruntime(name: str) -> None:
    _check(name, dynamo=False)


@pytest.mark.parametrize("name", ["mish", "silu", "gelu", "elish"])
def test_dynamo_export_runs_in_onnxruntime(name: str) -> None:
    _check(name, dynamo=True)


def test_export_mode_never_traces_a_custom_function() -> None:
    """aria2's auto kernel is the fused autograd.Function in eager mode; the
    exported graph holds only standard ONNX ops."""
    import onnx

    module = pa.get_activation("aria2", backend="torch")
    model = onnx.load_from_string(_export(module, torch.randn(7), dynamo=False))
    domains = {n.domain for n in model.graph.node}
    assert domains <= {"", "ai.onnx"}, domains
