"""Every JAX kernel of every element-wise activation under the transformations,
in one test per activation (one shape, and one jitted computation for all its
kernels: JAX compiles per function and shape, and these checks used to be three
tests with three shapes, a fifth of the main suite's time):

- eager: ``vmap`` and ``grad`` (of the sum) give the bits of the plain call and
  of the backend's ``value_and_grad`` (an eager ``jax.vjp``);
- under ``jit``: the values, the gradient, ``vmap`` of ``grad`` per row, the
  module on a batch and ``vmap`` of it give the eager values and gradients
  within a few ULP (XLA fuses), and the values and gradients meet the contract
  against the reference (special values included);
- fused, native and compiled kernels keep exactly one input-sized residual for
  backward (composed ones at least that), and fused agrees with composed.

Stochastic activations run in evaluation mode (plain functions default to it)."""

from __future__ import annotations

import numpy as np
import pytest

import polyact

from .conftest import check_values, evaluation, make_act, make_fn, required_params

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

ELEMENTWISE = [n for n in polyact.list_activations() if polyact.get_spec(n).elementwise]
# one fixed shape (compilations are reused) that avoids the usual kinks (0, +-0.5, +-1); XS has
# the special values (and 0) in its last row
X = np.linspace(-3.7, 3.3, 32).reshape(4, 8)
XS = X.copy()
XS[3, 4:] = [np.inf, -np.inf, np.nan, 0.0]
TOL = {"rtol": 2e-5, "atol": 1e-6, "equal_nan": True}


def _fused_names():
    return [n for n in ELEMENTWISE if "fused" in polyact.kernels(n, "jax")]


def _np(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _bits(a) -> bytes:
    return np.ascontiguousarray(np.asarray(a)).tobytes()


def _input_sized(vjp, shape) -> int:
    """How many arrays of ``shape`` a VJP closure keeps for backward."""
    return sum(1 for leaf in jax.tree_util.tree_leaves(vjp) if getattr(leaf, "shape", None) == shape)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_kernels_under_jit_grad_vmap(name):
    """Per activation (compilations are shared): every kernel eagerly under vmap and
    grad, and under jit of grad, of vmap of grad and of vmap of a batch (see the
    module docstring)."""
    B = polyact.get_backend("jax")
    x = jnp.asarray(XS, dtype=jnp.float32)
    xb = jnp.stack([x, -x, 2 * x])
    spec = polyact.get_spec(name)
    stateless = not spec.trainable
    fns = {k: make_fn(name, "jax", kernel=k) for k in polyact.kernels(name, "jax")}
    # modules (stateless activations: a trainable one's module holds nnx parameters)
    acts = {k: evaluation(make_act(name, "jax", kernel=k)) for k in fns} if stateless else {}
    eager, residuals = {}, {}
    for k, f in fns.items():
        y, vjp = jax.vjp(f, x)
        (g,) = vjp(jnp.ones_like(y))
        residuals[k] = _input_sized(vjp, x.shape)
        assert y.shape == XS.shape and y.dtype == x.dtype and g.dtype == x.dtype, k
        # the plain call (nothing differentiated: fused skips its custom_vjp) and the backend's
        # value_and_grad give the same values; eager vmap and grad give their bits
        plain = f(x)
        np.testing.assert_allclose(_np(plain), _np(y), **TOL, err_msg=f"{k}: plain call")
        y_b, g_b = B.value_and_grad(f, x)
        np.testing.assert_allclose(_np(y_b), _np(plain), **TOL, err_msg=f"{k}: value_and_grad")
        assert _bits(jax.vmap(f)(x)) == _bits(plain), f"{k}: eager vmap"
        assert _bits(jax.grad(lambda v, f=f: jnp.sum(f(v)))(x)) == _bits(g_b), f"{k}: eager grad"
        eager[k] = (_np(plain), _np(g_b))
        finite = np.isfinite(eager[k][0]) & np.isfinite(XS)
        assert np.all(np.isfinite(eager[k][1][finite])), f"{k}: a non-finite gradient inside the domain"
        if k in acts:
            np.testing.assert_allclose(_np(acts[k](x)), eager[k][0], **TOL, err_msg=f"{k}: module")

    def transformed(v, vb):
        out = {}
        for k, f in fns.items():

            def loss(r, f=f):
                y = f(r)
                return y.sum(), y

            o = {"jit": f(v), "grad": jax.grad(lambda u, f=f: f(u).sum())(v)}
            # per row: vmap maps the value and the gradient of the sum
            o["vmap_grad"], o["vmap"] = jax.vmap(jax.grad(loss, has_aux=True))(v)
            if k in acts:
                o["batch"], o["vmap_batch"] = acts[k](vb), jax.vmap(acts[k])(vb)
            out[k] = o
        return out

    # every kernel at once: one compilation
    for k, o in jax.jit(transformed)(x, xb).items():
        y, g = eager[k]
        for key, want in (("jit", y), ("vmap", y), ("grad", g), ("vmap_grad", g)):
            assert o[key].shape == XS.shape and o[key].dtype == x.dtype, (k, key)
            np.testing.assert_allclose(_np(o[key]), want, **TOL, err_msg=f"{k}: jit {key}")
        kern, xs = polyact.kernels(name, "jax")[k], XS.astype(np.float32)
        check_values(spec, kern, o["jit"], xs, "float32")
        check_values(spec, kern, o["grad"], xs, "float32", "grad")
        if k in acts:
            np.testing.assert_allclose(_np(o["vmap_batch"]), _np(o["batch"]), **TOL, err_msg=f"{k}: batch")
            np.testing.assert_allclose(_np(o["batch"][0]), y, **TOL, err_msg=f"{k}: batch row")

    assert residuals["composed"] >= 1
    for k in ("native", "compiled", "fused"):  # under jax.checkpoint with the guard
        if k in fns:
            assert residuals[k] == 1, (k, residuals[k])
    if "fused" in fns:
        (yf, gf), (yc, gc) = eager["fused"], eager["composed"]
        np.testing.assert_allclose(yf, yc, rtol=1e-5, atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(gf, gc, rtol=1e-4, atol=1e-6, equal_nan=True)


def test_fused_and_compiled_flags():
    for name in ELEMENTWISE:
        table = polyact.kernels(name, "jax")
        assert "compiled" in table, name
        assert ("fused" in table) == (polyact.get_spec(name).grad is not None), name
        for k in ("fused", "compiled"):
            if k in table:
                assert table[k].kind == k and not table[k].onnx and table[k].compile_safe, (name, k)


def test_fused_parameter_gradients_match_composed():
    """Array parameters (trainable ones) get their cotangents through the fused kernel."""
    x = jnp.asarray(X, dtype=jnp.float32)
    for name in _fused_names():
        spec = polyact.get_spec(name)
        base = spec.bind(required_params(name))
        # trainable parameters are tensors in modules: their formulas take traced values
        keys = [k for k, v in base.items() if isinstance(v, float) and spec.params[k].trainable]
        if not keys:
            continue
        fused = make_fn(name, "jax", kernel="fused")
        composed = make_fn(name, "jax", kernel="composed")

        def both(p, fused=fused, composed=composed):
            return {
                "fused": jax.grad(lambda q: fused(x, **q).sum())(p),
                "composed": jax.grad(lambda q: composed(x, **q).sum())(p),
            }

        grads = jax.jit(both)({k: jnp.float32(base[k]) for k in keys})
        for k in keys:
            np.testing.assert_allclose(
                _np(grads["fused"][k]), _np(grads["composed"][k]), rtol=1e-4, atol=1e-5, err_msg=f"{name}.{k}"
            )


def test_new_parameter_values_and_arrays():
    """Python-number parameters give their own values; array parameters are
    traced (a new value reuses the compiled guard)."""
    x = jnp.asarray(X, dtype=jnp.float32)
    for kernel in polyact.kernels("elu", "jax"):
        f = polyact.get_function("elu", "jax", kernel=kernel)
        for a in (0.5, 2.0):
            want = np.where(X > 0, X, a * np.expm1(X))
            np.testing.assert_allclose(_np(f(x, alpha=a)), want, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(_np(f(x, alpha=jnp.float32(a))), want, rtol=1e-5, atol=1e-6)
    # special values stay the limits with traced parameters: elu(-inf) = -alpha
    f = polyact.get_function("elu", "jax", kernel="fused")
    s = jnp.asarray([-jnp.inf, jnp.inf, jnp.nan], dtype=jnp.float32)
    np.testing.assert_array_equal(_np(f(s, alpha=jnp.float32(2.0))), [-2.0, np.inf, np.nan])
    g = _np(jax.grad(lambda v: f(v, alpha=jnp.float32(2.0)).sum())(s))
    np.testing.assert_array_equal(g, [0.0, 1.0, np.nan])


def test_auto_reads_the_rankings_of_the_arrays_device(monkeypatch):
    """On a JAX with a GPU, auto reads the rankings of the device a call runs on
    ("jax:cuda" for a GPU's arrays and for traces JAX compiles for its GPU
    backend), never the CPU's for a GPU's arrays; a CPU-only JAX reads the
    CPU's."""
    from polyact import registry, selection

    b = registry.get_backend("jax")
    seen = []

    def ranking(backend, dtype, name, large=False, device=None, grad=False):
        seen.append(device)
        return ("composed",) if device == "cuda" else ("fused",)

    monkeypatch.setattr(selection, "_ranking", ranking)
    monkeypatch.delenv("POLYACT_KERNEL", raising=False)
    # shared selectors remember their picks: start with none, leave none made from this table
    registry._auto_cache.clear()
    try:
        _device_rankings(b, x=jnp.linspace(-2.0, 2.0, 8), seen=seen, monkeypatch=monkeypatch)
    finally:
        registry._auto_cache.clear()


def _device_rankings(b, x, seen, monkeypatch):
    from polyact import selection

    assert b._device_of(x) is None  # a CPU-only JAX: every array is on the CPU
    monkeypatch.setitem(b.__dict__, "_cpu_array_type", False)  # as on a JAX that has a GPU
    assert b._device_of(x) == "cpu" and b._device_of(np.ones(3)) == "cpu"
    traced = []
    jax.jit(lambda y: traced.append(b._device_of(y)) or y)(x)
    assert traced == ["cpu"]
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert b._device_of(np.ones(3)) == "cuda"  # placed on the default device
    jax.jit(lambda y: traced.append(b._device_of(y)) or y)(x)
    assert traced == ["cpu", "cuda"]

    # end to end: a function whose calls are traced for the "GPU" picks its ranking's first
    picked = []
    monkeypatch.setattr(selection.AutoKernel, "resolve", _spy_resolve(selection.AutoKernel.resolve, picked))
    f = polyact.get_function("mish", "jax")
    y = jax.jit(f)(x)
    assert picked == [("cuda", "composed")] and seen[-1] == "cuda"
    np.testing.assert_allclose(_np(y), _np(polyact.get_function("mish", "jax", kernel="composed")(x)), **TOL)
    f(x)  # an eager array on the CPU: the CPU's ranking
    assert picked[-1] == ("cpu", "fused")
    jax_line = next(s for s in polyact.describe("mish").splitlines() if s.startswith("    jax "))
    assert "composed [auto on cuda]" in jax_line, jax_line


def _spy_resolve(resolve, picked):
    def spy(self, dtype, device, *args, **kwargs):
        k = resolve(self, dtype, device, *args, **kwargs)
        picked.append((device, k.name))
        return k

    return spy
