"""Known deviations of framework-native kernels from the numerical contract.

Each entry turns the matching generated tests into ``xfail(strict=True)``: when
the framework fixes the deviation the test starts passing, fails as XPASS, and
the entry (and the kernel's ``eligible=False``) gets removed. Keys: activation,
backend, kernel, test (forward / gradient / kink), and optionally dtype, cls
(input class) and params (the parameter set); dtype may be a tuple; ``reason`` says what goes wrong;
``strict=False`` for a deviation that shows on some CPUs only (the case may pass elsewhere).
"""

from __future__ import annotations

from typing import Any, Optional

DIVERGENCES = [
    dict(
        activation="leaky_relu",
        backend="jax",
        kernel="native",
        test="kink",
        reason="jax.nn.leaky_relu puts x = 0 on the identity branch: gradient 1, not the slope",
    ),
    dict(
        activation="leaky_relu",
        backend="megengine",
        kernel="native",
        test="kink",
        reason="MegEngine's leaky_relu has gradient 1 at x = 0, not the slope",
    ),
    dict(
        activation="gelu_tanh",
        backend="jax",
        kernel="native",
        test="gradient",
        dtype=("float64", "float32", "bfloat16"),
        cls=("large", "exhaustive"),
        reason="jax.nn.gelu(approximate=True) has NaN gradients once x^3 overflows",
    ),
    dict(
        activation="gelu_tanh",
        backend="jax",
        kernel="native",
        test="gradient",
        dtype="float64",
        cls="normal",
        reason="jax.nn.gelu(approximate=True) computes 1 + tanh(u), which cancels in the negative tail",
    ),
    dict(
        activation="softplus",
        backend="jax",
        kernel="native",
        params={"beta": 2.0},
        test="forward",
        cls=("large", "exhaustive"),
        dtype=("float64", "float32", "bfloat16"),
        reason="softplus(beta*x)/beta overflows once beta*x does (not auto for beta > 1)",
    ),
    dict(
        activation="softplus",
        backend="megengine",
        kernel="native",
        params={"beta": 2.0},
        test="forward",
        cls=("large", "exhaustive"),
        dtype=("float32", "bfloat16"),
        reason="softplus(beta*x)/beta overflows once beta*x does (not auto for beta > 1)",
    ),
    dict(
        activation="soft_exponential",
        backend=("torch", "jax", "megengine"),
        kernel="composed",
        params={"alpha": 0.5},
        test="gradient",
        cls="exhaustive",
        dtype="bfloat16",
        reason=(
            "at x = 177 the value overflows (inf) but the derivative e^(alpha x) = 2.7e38 is finite: "
            "autograd forms (1/alpha) e^(alpha x) first and overflows float32; needs a closed-form "
            "gradient (fused kernel)"
        ),
    ),
    # --- standard.py natives that kernel="auto" never picks (eligible=False) ---
    dict(
        activation="hard_sigmoid",
        backend="torch",
        kernel="native",
        test="gradient",
        dtype="float64",
        cls=("normal", "small", "cancellation", "extremal"),
        reason="torch's hardsigmoid backward uses 1/6 rounded to float32 (0.16666667163 in float64)",
    ),
    dict(
        activation="hard_swish",
        backend="megengine",
        kernel="native",
        test="forward",
        dtype=("float32", "bfloat16"),
        cls=("large", "exhaustive"),
        reason="MegEngine's hswish overflows to inf for x near the float max (true value x)",
    ),
    dict(
        activation="hard_swish",
        backend="megengine",
        kernel="native",
        test="kink",
        reason="MegEngine's hswish has gradient -0.5 at x = -3 and 1.5 at x = 3 (not 0 and 1)",
    ),
    dict(
        activation="prelu",
        backend="megengine",
        kernel="native",
        test="kink",
        reason="MegEngine's prelu puts x = 0 on the identity branch: gradient 1, not the slope",
    ),
    dict(
        activation="exponential",
        backend="megengine",
        kernel="native",
        test=("forward", "gradient"),
        dtype=("float32", "bfloat16"),
        cls=("normal", "boundaries", "large", "exhaustive"),
        reason="MegEngine's vectorised exp saturates at 2.406e38 for x > 88.38 (finite instead of inf)",
    ),
    dict(
        activation="sparse_plus",
        backend="jax",
        kernel="native",
        test="gradient",
        dtype=("float64", "float32", "bfloat16"),
        cls=("large", "exhaustive"),
        reason="jax.nn.sparse_plus: NaN gradient at |x| near the float max ((x + 1)^2 overflows unselected)",
    ),
    dict(
        activation="sparse_sigmoid",
        backend="jax",
        kernel="native",
        test="kink",
        reason="jax.nn.sparse_sigmoid clips with jnp.clip: gradient 1/4 at x = +-1, not 0",
    ),
    dict(
        activation="squareplus",
        backend="jax",
        kernel="native",
        test=("forward", "gradient"),
        dtype=("float64", "float32", "bfloat16"),
        cls=("large", "exhaustive"),
        reason="jax.nn.squareplus forms x^2: inf for |x| > sqrt(float max)",
    ),
    dict(
        activation="squareplus",
        backend="jax",
        kernel="native",
        params={"b": 0.0},
        test="kink",
        reason="jax.nn.squareplus with b = 0 has a NaN gradient at x = 0 (sqrt'(0) * 0)",
    ),
    dict(
        activation="log1mexp",
        backend="jax",
        kernel="native",
        test="gradient",
        dtype=("float64", "float32", "float16", "bfloat16"),
        cls=("normal", "small", "boundaries", "cancellation", "large", "extremal", "exhaustive"),
        reason="jax.nn.log1mexp has finite gradients for x < 0 (outside the domain) and -inf at x = -0",
    ),
]


def entry(
    activation: str,
    backend: str,
    kernel: str,
    test: str,
    dtype: str = "",
    cls: str = "",
    params: Optional[dict] = None,
) -> Optional[dict]:
    """The divergence matching a test case, or None."""
    for d in DIVERGENCES:
        backends = d["backend"] if isinstance(d["backend"], tuple) else (d["backend"],)
        tests = d["test"] if isinstance(d["test"], tuple) else (d["test"],)
        if (
            (d["activation"], d["kernel"]) != (activation, kernel)
            or test not in tests
            or backend not in backends
        ):
            continue
        if d.get("params", params or {}) != (params or {}):
            continue
        dtypes = d.get("dtype", dtype)
        classes = d.get("cls", cls)
        if dtype in (dtypes if isinstance(dtypes, tuple) else (dtypes,)) and cls in (
            classes if isinstance(classes, tuple) else (classes,)
        ):
            return d
    return None


def xfail(*case: Any, **kw: Any) -> list:
    """The pytest marks of a generated case (:func:`entry`'s arguments): an xfail
    where a divergence matches (strict unless the entry says it shows on some
    CPUs only), else none."""
    import pytest

    d = entry(*case, **kw)
    return [pytest.mark.xfail(strict=d.get("strict", True), reason=d["reason"])] if d else []
