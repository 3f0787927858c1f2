"""Generated shape, layout, dtype-policy and autodiff tests: every activation x
backend x kernel (NUMERICS.md "Shapes and layouts", "Checks").

- 0-d, empty and odd-sized inputs keep their shape and dtype; odd sizes (vector
  tails) meet the contract against the reference;
- transposed, strided and expanded (stride 0) views give the same bits as the
  contiguous computation (JAX and MegEngine have no strides: their transposes
  and slices);
- integer and bool inputs raise a TypeError that says to cast to a float dtype;
- torch in-place kernels: same storage, same values as out-of-place, a clear
  error on a leaf that requires grad; ``inplace=True`` refused where there is no
  in-place kernel;
- float64 finite-difference gradient checks (second order for smooth
  activations) on torch and JAX (JAX kernels under jit, grad and vmap:
  tests/test_kernels_jax.py).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Tuple

import numpy as np
import pytest

import polyact as pa
from polyact._numerics import numpy_dtype, within_contract
from polyact._refcache import reference
from polyact.check import backend_dtypes, param_id, param_sets

from .conftest import BACKENDS, check_values, cpu_kernels, evaluation, make_act, make_fn, required_params

ELEMENTWISE = [n for n in pa.list_activations() if pa.get_spec(n).elementwise]

#: Genuine contract failures found by these tests: (test, case id) -> what goes
#: wrong. Each becomes a strict xfail (remove the entry once fixed).
KNOWN_FAILURES: Dict[Tuple[str, str], str] = {}


def _case(test: str, case_id: str, *values: Any) -> Any:
    why = KNOWN_FAILURES.get((test, case_id))
    marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
    return pytest.param(*values, id=case_id, marks=marks)


def _kernel_cases(test: str, backends: List[str] = BACKENDS) -> List[Any]:
    return [
        _case(test, f"{name}-{backend}-{kname}", name, backend, kname)
        for name in ELEMENTWISE
        for backend in backends
        for kname in cpu_kernels(name, backend)
    ]


def _pool(n: int, seed: int = 5) -> np.ndarray:
    """float64 values: N(0, 4^2) with a few special values."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 4.0, n)
    if n >= 16:
        x[[3, 7, 11, 13]] = [np.inf, -np.inf, np.nan, 0.0]
    return x


def _bits(a: Any) -> bytes:
    return np.ascontiguousarray(np.asarray(a)).tobytes()


# --------------------------------------------------------------------------- views
def _views(backend: str, base: np.ndarray, dtype: str) -> Dict[str, Any]:
    """Non-contiguous (or, without strides, rearranged) versions of ``base`` (2-D)."""
    be = pa.get_backend(backend)
    t = be.from_numpy(base, dtype)
    row = be.from_numpy(base[:1], dtype)
    flat = be.from_numpy(base.reshape(-1), dtype)
    if backend == "torch":
        return {
            "transposed": t.t(),
            "strided": flat[::2],
            "strided-2d": t[:, ::2],
            "expanded": row.expand(base.shape[0], base.shape[1]),
        }
    if backend == "numpy":
        return {
            "transposed": t.T,
            "strided": flat[::2],
            "strided-2d": t[:, ::2],
            "expanded": np.broadcast_to(row, base.shape),
        }
    if backend == "jax":
        return {"transposed": t.T, "strided": flat[::2], "strided-2d": t[:, ::2]}
    if backend == "megengine":
        return {"transposed": t.transpose(1, 0), "strided": flat[::2], "strided-2d": t[:, ::2]}
    raise AssertionError(f"no views for backend {backend}")


def _contiguous(backend: str, v: Any) -> Any:
    be = pa.get_backend(backend)
    if backend == "torch":
        return v.contiguous()
    if backend == "numpy":
        return np.ascontiguousarray(v)
    return be.from_numpy(np.asarray(be.to_numpy(v)), be.dtype_name(v))  # a fresh array of the same values


@pytest.mark.parametrize("name,backend,kernel", _kernel_cases("test_views_give_contiguous_bits"))
def test_views_give_contiguous_bits(name, backend, kernel):
    be = pa.get_backend(backend)
    f = make_fn(name, backend, kernel=kernel)
    base = _pool(6 * 11).reshape(6, 11)  # flat[::2] has 33 elements, an odd size tested below
    # JAX compiles every op for every shape, and neither JAX nor MegEngine has strides (their
    # views are new arrays, and half precision runs in float32 on both): float32 only there
    for dtype in ("float32",) if backend in ("jax", "megengine") else backend_dtypes(backend):
        for layout, v in _views(backend, base, dtype).items():
            y = f(v)
            expected = f(_contiguous(backend, v))
            assert tuple(y.shape) == tuple(v.shape), (layout, dtype)
            assert be.dtype_name(y) == dtype, (layout, dtype)
            assert _bits(be.to_numpy(y)) == _bits(be.to_numpy(expected)), (layout, dtype)


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name,backend,kernel", _kernel_cases("test_zero_d_and_empty"))
def test_zero_d_and_empty(name, backend, kernel):
    """0-d inputs give 0-d results of the input's dtype (a NumPy scalar counts as
    0-d; a Python float does not), with values within the contract; (0,) and
    (1, 0, 3) keep their shape and dtype."""
    spec = pa.get_spec(name)
    be = pa.get_backend(backend)
    f = make_fn(name, backend, kernel=kernel)
    kern = cpu_kernels(name, backend)[kernel]
    for dtype in backend_dtypes(backend):
        for shape in ((0,), (1, 0, 3)):
            y = f(be.from_numpy(np.zeros(shape), dtype))
            assert tuple(y.shape) == shape and be.dtype_name(y) == dtype, (shape, dtype)
        values = np.asarray([-1.75, 0.5, 3.0, np.inf, np.nan, 0.0, -30.0], dtype=numpy_dtype(dtype))
        got = []
        for v in values:
            y = f(be.from_numpy(np.asarray(v), dtype))
            assert hasattr(y, "shape") and hasattr(y, "dtype"), (
                f"{dtype} 0-d input {v!r} gave {type(y)}: {y!r}"
            )
            assert tuple(y.shape) == () and be.dtype_name(y) == dtype, (v, dtype)
            got.append(float(np.asarray(be.to_numpy(y), dtype=np.float64)))
        check_values(spec, kern, got, values, dtype)


ODD_SIZES = (1, 3, 7, 15, 17, 33, 1025)


@pytest.mark.parametrize("name,backend,kernel", _kernel_cases("test_odd_sizes"))
def test_odd_sizes(name, backend, kernel):
    """Sizes that leave vector tails: shape and dtype kept, every value within the
    contract (float32)."""
    spec = pa.get_spec(name)
    be = pa.get_backend(backend)
    f = make_fn(name, backend, kernel=kernel)
    kern = cpu_kernels(name, backend)[kernel]
    pool = _pool(61).astype(np.float32)  # 61 distinct values cycled: one reference per value
    x = np.resize(pool, max(ODD_SIZES))
    ref = np.resize(reference(spec, required_params(spec.name), pool, "float32", "value"), x.size)
    for n in ODD_SIZES:
        y = f(be.from_numpy(x[:n], "float32"))
        assert tuple(y.shape) == (n,) and be.dtype_name(y) == "float32", n
        if not kern.eligible_for(spec.bind(required_params(spec.name))):
            continue  # a native kernel known to break the contract (reported by the matrix)
        got = np.asarray(be.to_numpy(y), dtype=np.float64)
        ok = within_contract(got, ref[:n], x[:n].astype(np.float64), "float32")
        assert ok.all(), f"n={n}: x={x[:n][~ok][:4]} got={got[~ok][:4]} ref={ref[:n][~ok][:4]}"


# --------------------------------------------------------------------------- integer policy
def _integer_inputs(backend: str) -> List[Any]:
    if backend == "numpy":
        return [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int64), np.array([True, False]), 3]
    if backend == "torch":
        import torch

        return [torch.arange(3, dtype=torch.int32), torch.arange(3), torch.tensor([True, False])]
    if backend == "jax":
        import jax.numpy as jnp

        return [jnp.arange(3, dtype=jnp.int32), jnp.arange(3, dtype=jnp.int64), jnp.array([True, False])]
    if backend == "megengine":
        import megengine as mge

        return [mge.tensor(np.arange(3, dtype=np.int32)), mge.tensor(np.array([True, False]))]
    raise AssertionError(backend)


@pytest.mark.quick
@pytest.mark.parametrize("name,backend,kernel", _kernel_cases("test_integer_and_bool_inputs_raise"))
def test_integer_and_bool_inputs_raise(name, backend, kernel):
    spec = pa.get_spec(name)
    f = make_fn(name, backend, kernel=kernel)
    calls = [f]
    if not spec.trainable or cpu_kernels(name, backend)[kernel].param_grads:
        # (a module with trainable parameters refuses a kernel without their gradients)
        extra = {"num_channels": 3} if spec.per_channel else {}
        calls.append(evaluation(make_act(name, backend, kernel=kernel, **extra)))
    for x in _integer_inputs(backend):
        for call in calls:
            with pytest.raises(TypeError, match="float") as info:
                call(x)
            assert "cast" in str(info.value).lower(), str(info.value)


# --------------------------------------------------------------------------- torch in-place
def _inplace_cases() -> List[Any]:
    if "torch" not in BACKENDS:
        return []
    out = []
    for name in ELEMENTWISE:
        for kname, kernel in cpu_kernels(name, "torch").items():
            if kernel.inplace is not None:
                for dtype in backend_dtypes("torch"):
                    out.append(_case("test_torch_inplace", f"{name}-{kname}-{dtype}", name, kname, dtype))
    return out


def _no_inplace_cases() -> List[Any]:
    if "torch" not in BACKENDS:
        return []
    return [
        _case("test_torch_inplace_refused", f"{name}-{kname}", name, kname)
        for name in ELEMENTWISE
        for kname, kernel in cpu_kernels(name, "torch").items()
        if kernel.inplace is None
    ]


if "torch" in BACKENDS:

    @pytest.mark.parametrize("name,kernel,dtype", _inplace_cases())
    def test_torch_inplace(name, kernel, dtype):
        """Same storage, same values as out-of-place (special values included), the
        same gradients through a non-leaf, and an error on a leaf requiring grad."""
        import torch

        be = pa.get_backend("torch")
        m = make_act(name, "torch", kernel=kernel, inplace=True)
        assert "inplace=True" in repr(m)
        plain = make_act(name, "torch", kernel=kernel)
        x = be.from_numpy(_pool(64), dtype)
        expected = plain(x.clone())
        ptr = x.data_ptr()
        y = m(x)
        assert y.data_ptr() == ptr and x.data_ptr() == ptr
        assert y.dtype == expected.dtype and y.shape == expected.shape
        got, want = be.to_numpy(x).astype(np.float64), be.to_numpy(expected).astype(np.float64)
        assert np.array_equal(got, want, equal_nan=True), np.flatnonzero(
            ~((got == want) | (np.isnan(got) & np.isnan(want)))
        )
        if dtype in ("float32", "float64"):
            a = torch.linspace(-3.0, 3.0, 13, dtype=getattr(torch, dtype), requires_grad=True)
            (g_inplace,) = torch.autograd.grad(m(a * 1.0).sum(), a)
            (g_plain,) = torch.autograd.grad(plain(a * 1.0).sum(), a)
            assert torch.equal(g_inplace, g_plain)
        leaf = torch.ones(3, dtype=getattr(torch, dtype), requires_grad=True)
        with pytest.raises((RuntimeError, pa.PolyactError), match=r"(?i)leaf|in-place|inplace"):
            m(leaf)

    @pytest.mark.quick
    @pytest.mark.parametrize("name,kernel", _no_inplace_cases())
    def test_torch_inplace_refused(name, kernel):
        # (or, for trainable parameters, no parameter gradients: refused first)
        with pytest.raises(
            pa.ActivationError, match=r"no in-place kernel|does not differentiate the trainable"
        ):
            make_act(name, "torch", kernel=kernel, inplace=True)


# --------------------------------------------------------------------------- gradient checks
def _smooth_points(spec: pa.ActivationSpec, params: Mapping[str, Any], n: int = 12) -> np.ndarray:
    """``n`` float64 points in [-4, 4] at least 0.05 away from every kink and inside
    the domain (the function is finite at the point and 0.05 either side); always
    ``n`` of them, so that JAX compiles each op for one shape."""
    x = np.linspace(-4.0, 4.0, 61) + 0.0371
    kinks = [at for at, _ in spec.kink_points(spec.bind(dict(params)))]
    for at in kinks:
        x = x[np.abs(x - at) > 0.05]
    ok = np.ones(x.shape, bool)
    for shift in (-0.05, 0.0, 0.05):
        ok &= np.isfinite(reference(spec, params, x + shift, "float64", "value"))
    x = x[ok]
    assert x.size >= n, f"too few smooth points for {spec.name}{param_id(dict(params))}"
    return x[np.linspace(0, x.size - 1, n).astype(int)]


def _grad_cases(test: str, backend: str) -> List[Any]:
    if backend not in BACKENDS:
        return []
    out = []
    for name in ELEMENTWISE:
        spec = pa.get_spec(name)
        for params in param_sets(spec):
            for kname in cpu_kernels(name, backend):
                cid = f"{name}{param_id(params)}-{kname}"
                out.append(_case(test, cid, name, params, kname))
    return out


if "torch" in BACKENDS:

    @pytest.mark.parametrize("name,params,kernel", _grad_cases("test_torch_gradcheck", "torch"))
    def test_torch_gradcheck(name, params, kernel):
        """float64 finite differences agree with autograd (and second order where
        the spec declares the function smooth)."""
        import torch

        spec = pa.get_spec(name)
        f = make_fn(name, "torch", kernel=kernel, **params)
        x = torch.tensor(_smooth_points(spec, params), dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(f, (x,))
        if spec.smooth:
            assert torch.autograd.gradgradcheck(f, (x,))


if "jax" in BACKENDS:

    @pytest.mark.parametrize("name,params,kernel", _grad_cases("test_jax_check_grads", "jax"))
    def test_jax_check_grads(name, params, kernel):
        import jax.numpy as jnp
        from jax.test_util import check_grads

        spec = pa.get_spec(name)
        f = make_fn(name, "jax", kernel=kernel, **params)
        x = jnp.asarray(_smooth_points(spec, params), dtype=jnp.float64)
        # Second order for smooth functions, except for the compiled kernel: it is
        # jax.jit of the composed formula, so its derivatives of every order are
        # JAX's of the same jaxpr that the composed kernel's second-order check
        # covers, and each order is a compilation for each of JAX's passes (12 of
        # them at order 2, three quarters of this test's time).
        order = 2 if spec.smooth and cpu_kernels(name, "jax")[kernel].kind != "compiled" else 1
        # check_grads perturbs with NumPy arrays; polyact's JAX functions take JAX arrays only
        check_grads(lambda v: f(jnp.asarray(v)), (x,), order=order, modes=["rev"])
