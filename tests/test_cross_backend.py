"""Cross-backend agreement (NUMERICS.md, Checks): every pair of backends and
kernels agrees on the same inputs within the sum of their contract bounds, NaN
masks equal, forward and backward.

MegEngine lives in its own environment, so each environment first dumps its
values and gradients with ``python -m polyact._crossdump DIR --backend B``
and this module compares the dumps in ``$POLYACT_CROSS_DIR`` (default
``build/cross``; ``make test-cross`` does both). It is collected only when
``POLYACT_CROSS_DIR`` is set (see conftest.py). A missing dump skips outside CI
and fails under ``CI=true``.

One rule beyond the bounds: a subnormal input may read as zero on either side,
its value and its NaN-ness (XLA and MegEngine on CPU run with denormals-are-zero;
see :func:`at_zero`).
Known disagreements are strict xfails listed in ``DIVERGENCES``.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import pytest

import polyact
from polyact._crossdump import params_key, split_key
from polyact._numerics import CONTRACT, FORMATS, ulp, ulp_error
from polyact.check import param_id, param_sets

#: the backends whose dumps must be there (under CI=true a missing one fails)
EXPECTED = ("numpy", "torch", "jax", "megengine")
ORDER = {b: i for i, b in enumerate(EXPECTED)}
CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parents[1]


def cross_dir() -> Path:
    """``$POLYACT_CROSS_DIR`` (default ``build/cross``), relative to the working
    directory, else to the repository root."""
    p = Path(os.environ.get("POLYACT_CROSS_DIR") or "build/cross")
    if p.is_absolute() or p.exists():
        return p
    return ROOT / p


def missing(what: str) -> None:
    """Skip outside CI, fail under CI=true (no backend is skipped under CI)."""
    if CI:
        pytest.fail(f"{what} (CI=true: a missing backend is a failure; run `make test-cross`)")
    pytest.skip(f"{what}; run `make test-cross`")


# --------------------------------------------------------------------------- bounds
def bound(
    y: np.ndarray, x: np.ndarray, dtype: str, *, grad: bool = False, absolute: bool = True
) -> np.ndarray:
    """One side's contract bound n*ulp(y) + a*eps*max(1, |x|) (twice for gradients),
    ``y`` standing in for the reference; ``absolute=False`` drops the second term."""
    tol = CONTRACT[dtype]
    scale = 2.0 if grad else 1.0
    with np.errstate(all="ignore"):
        b = tol.ulps * ulp(y, dtype)
        if absolute:
            b = b + tol.abs_eps * FORMATS[dtype].eps * np.maximum(1.0, np.abs(x))
    return scale * b


def pair_bound(
    y1: np.ndarray, y2: np.ndarray, x: np.ndarray, dtype: str, *, grad: bool = False
) -> np.ndarray:
    """Mask of the elements where two results agree: |y1 - y2| <= bound(y1) + bound(y2).

    Both NaN or both the same infinity agree; NaN against a number never does.
    At +-inf inputs the absolute term (infinite there) is dropped, and where
    either result is infinite they must be equal."""
    y1 = np.asarray(y1, dtype=np.float64)
    y2 = np.asarray(y2, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        diff = np.abs(y1 - y2)
        ok = diff <= bound(y1, x, dtype, grad=grad) + bound(y2, x, dtype, grad=grad)
        near = diff <= bound(y1, x, dtype, grad=grad, absolute=False) + bound(
            y2, x, dtype, grad=grad, absolute=False
        )
    exact = (y1 == y2) | (np.isnan(y1) & np.isnan(y2))
    at_inf = np.isinf(x)
    either_inf = np.isinf(y1) | np.isinf(y2)
    return np.where(at_inf, exact | (near & ~either_inf), ok | exact)


def ulp_diff(y1: np.ndarray, y2: np.ndarray, dtype: str) -> np.ndarray:
    """|y1 - y2| in ULPs of the larger magnitude (inf where one is NaN or infinite)."""
    y1 = np.asarray(y1, dtype=np.float64)
    y2 = np.asarray(y2, dtype=np.float64)
    ref = np.where(np.abs(y1) >= np.abs(y2), y1, y2)
    other = np.where(np.abs(y1) >= np.abs(y2), y2, y1)
    return ulp_error(other, ref, dtype)


# --------------------------------------------------------------------------- dumps
class Entry(NamedTuple):
    backend: str
    kernel: str
    x: np.ndarray
    y: np.ndarray
    g: Optional[np.ndarray]

    @property
    def side(self) -> str:
        return f"{self.backend}:{self.kernel}"


Group = Tuple[str, str, str]  # (activation, params JSON, dtype)


def load(directory: Path) -> Tuple[Dict[str, Dict[str, Any]], Dict[Group, List[Entry]], List[str]]:
    """Manifests per backend, entries per (activation, params, dtype), files present."""
    manifests: Dict[str, Dict[str, Any]] = {}
    raw: Dict[Tuple[str, str, str, str, str], Dict[str, np.ndarray]] = {}
    present: List[str] = []
    if not directory.is_dir():
        return manifests, {}, present
    for npz in sorted(directory.glob("*.npz")):
        backend = npz.stem
        present.append(backend)
        js = npz.with_suffix(".json")
        manifests[backend] = json.loads(js.read_text()) if js.exists() else {}
        with np.load(npz) as data:
            for key in data.files:
                name, params, kernel, dtype, part = split_key(key)
                raw.setdefault((name, params, dtype, backend, kernel), {})[part] = np.asarray(data[key])
    groups: Dict[Group, List[Entry]] = {}
    for (name, params, dtype, backend, kernel), parts in raw.items():
        if "x" not in parts or "y" not in parts:
            continue
        entry = Entry(backend, kernel, parts["x"], parts["y"], parts.get("g"))
        groups.setdefault((name, params, dtype), []).append(entry)
    for entries in groups.values():
        entries.sort(
            key=lambda e: (ORDER.get(e.backend, len(ORDER)), e.backend, e.kernel != "native", e.kernel)
        )
    return manifests, groups, present


DIR = cross_dir()
MANIFESTS, GROUPS, PRESENT = load(DIR)


# --------------------------------------------------------------------------- known divergences
#: Genuine disagreements between kernels, found by this test: each turns the
#: matching pairs into ``xfail(strict=True)``. Keys: activation, side
#: ("backend:kernel", the odd one out), optionally params (dict), dtype (str or
#: tuple) and agrees_with (sides that share the behaviour: pairs of the odd one
#: with them still agree) and what ("gradients": only pairs that both have
#: gradients disagree), strict (False for what shows on some CPUs only); ``reason`` says
#: what goes wrong.
DIVERGENCES: List[Dict[str, Any]] = [
    dict(
        activation="gelu_tanh",
        what="gradients",
        side="jax:native",
        dtype=("float64", "float32", "bfloat16"),
        reason="JAX's native tanh gelu has NaN gradients once x^3 overflows (|x| >= 1e20 in "
        "float32) and cancels (1 + tanh(u)) in the float64 negative tail (-3.4e-14 at x = -7.29 "
        "where the gradient is -8.1e-16). (torch's op, also NaN there, runs up to |x| = 1e12 and "
        "the formula beyond.)",
    ),
    dict(
        activation="leaky_relu",
        what="gradients",
        side="jax:native",
        agrees_with=("megengine:native",),
        reason="jax.nn.leaky_relu and MegEngine's leaky_relu put x = 0 on the identity branch: "
        "gradient 1 at the kink, not the slope",
    ),
    dict(
        activation="softplus",
        params={"beta": 2.0},
        side="jax:native",
        agrees_with=("megengine:native",),
        dtype=("float64", "float32", "bfloat16"),
        reason="native softplus(beta*x)/beta overflows to inf at x = max once beta*x does "
        "(JAX and MegEngine; not auto for beta > 1)",
    ),
]


def _divergence(name: str, params: str, dtype: str, a: str, b: str, grads: bool) -> Optional[Dict[str, Any]]:
    """The entry of ``DIVERGENCES`` a pair is expected to break (``grads``: both
    sides have gradients), or None."""
    for d in DIVERGENCES:
        if d["activation"] != name:
            continue
        if d.get("what") == "gradients" and not grads:
            continue
        if "params" in d and params_key(d["params"]) != params:
            continue
        dt = d.get("dtype")
        if dt is not None and dtype not in ((dt,) if isinstance(dt, str) else dt):
            continue
        same = set(d.get("agrees_with", ())) | {d["side"]}
        if (a in same) != (b in same):
            return d
    return None


def _not_auto(name: str, params: str, side: str) -> Optional[str]:
    """Why a native kernel is not eligible for ``kernel="auto"`` with these
    parameters (its spec records how it breaks the contract), else None."""
    backend, _, kernel = side.partition(":")
    spec = polyact.get_spec(name)
    nat = spec.native.get(backend) if kernel == "native" else None
    if nat is None:
        return None
    eligible = nat.eligible(spec.bind(json.loads(params))) if callable(nat.eligible) else nat.eligible
    return None if eligible else f"{side} is not eligible for kernel='auto': {nat.note}"


def group_id(name: str, params: str, dtype: str) -> str:
    return f"{name}{param_id(json.loads(params))}"


def pair_cases() -> List[Any]:
    out = []
    for (name, params, dtype), entries in sorted(GROUPS.items()):
        for e1, e2 in itertools.combinations(entries, 2):
            cid = f"{group_id(name, params, dtype)}-{e1.side}-{e2.side}-{dtype}"
            grads = e1.g is not None and e2.g is not None
            d = _divergence(name, params, dtype, e1.side, e2.side, grads)
            marks = [pytest.mark.xfail(strict=d.get("strict", True), reason=d["reason"])] if d else []
            if not marks:
                not_auto = _not_auto(name, params, e1.side) or _not_auto(name, params, e2.side)
                if not_auto:  # documented to break the contract somewhere, not necessarily here
                    marks = [pytest.mark.xfail(strict=False, reason=not_auto)]
            out.append(pytest.param(name, params, dtype, e1.side, e2.side, id=cid, marks=marks))
    return out


PAIRS = pair_cases()


def describe(
    what: str,
    x: np.ndarray,
    v1: np.ndarray,
    v2: np.ndarray,
    bad: np.ndarray,
    dtype: str,
    s1: str,
    s2: str,
    k: int = 10,
) -> List[str]:
    idx = np.flatnonzero(bad)
    err = ulp_diff(v1, v2, dtype)
    order = idx[np.argsort(-err[idx], kind="stable")][:k]
    lines = [f"{what}: {idx.size} of {x.size} disagree; worst:"]
    for i in order:
        lines.append(
            f"  x={float(x[i])!r:>24}  {s1}={float(v1[i])!r:>24}  {s2}={float(v2[i])!r:>24}  "
            f"diff={float(err[i]):.3g} ulp"
        )
    return lines


def at_zero(x: np.ndarray, v: np.ndarray, dtype: str) -> Tuple[np.ndarray, np.ndarray]:
    """(mask of the subnormal inputs, each one's result at the zero of its sign).

    XLA and MegEngine on CPU treat subnormal inputs as zero (denormals-are-zero),
    so next to a kink at 0 their gradient is the kink's convention (relu'(1e-45)
    = 0 in JAX, 1 in torch). NUMERICS.md already forgives flushed subnormal
    results; here a result at a subnormal input may also be the result at 0."""
    with np.errstate(invalid="ignore"):
        sub = (x != 0) & (np.abs(x) < FORMATS[dtype].tiny)
    zeros = np.flatnonzero(x == 0)
    out = np.full(x.shape, np.nan)
    if not sub.any() or not zeros.size:
        return np.zeros(x.shape, dtype=bool), out
    neg = np.signbit(x)
    for i in np.flatnonzero(sub):
        same = zeros[neg[zeros] == neg[i]]
        out[i] = v[(same if same.size else zeros)[0]]
    return sub, out


def agree(v1: np.ndarray, v2: np.ndarray, x: np.ndarray, dtype: str, grad: bool) -> np.ndarray:
    """pair_bound, with subnormal inputs allowed to read as zero on either side."""
    ok = pair_bound(v1, v2, x, dtype, grad=grad)
    sub, z2 = at_zero(x, v2, dtype)
    if sub.any():
        _, z1 = at_zero(x, v1, dtype)
        daz = pair_bound(v1, z2, x, dtype, grad=grad) | pair_bound(z1, v2, x, dtype, grad=grad)
        ok = ok | (sub & daz)
    return ok


def nan_at_zero(x: np.ndarray, v1: np.ndarray, v2: np.ndarray, dtype: str) -> np.ndarray:
    """Subnormal inputs where one side's NaN-ness is the other's at the zero of
    the same sign (log1mexp(-1e-45): NaN outside the domain, -inf where the input
    reads as -0)."""
    sub, z2 = at_zero(x, v2, dtype)
    if not sub.any():
        return sub
    _, z1 = at_zero(x, v1, dtype)
    return sub & ((np.isnan(v1) == np.isnan(z2)) | (np.isnan(z1) == np.isnan(v2)))


def compare(e1: Entry, e2: Entry, dtype: str) -> List[str]:
    """Messages describing every disagreement between two entries (empty: they agree)."""
    msgs: List[str] = []
    if e1.x.shape != e2.x.shape or not np.array_equal(e1.x, e2.x, equal_nan=True):
        return [f"the inputs differ: {e1.side} has {e1.x.size}, {e2.side} has {e2.x.size} (stale dump?)"]
    x = e1.x
    checks = [("values", e1.y, e2.y, False)]
    if e1.g is not None and e2.g is not None:
        checks.append(("gradients", e1.g, e2.g, True))
    for what, v1, v2, grad in checks:
        nan1, nan2 = np.isnan(v1), np.isnan(v2)
        nan_differ = (nan1 != nan2) & ~nan_at_zero(x, v1, v2, dtype)
        if nan_differ.any():
            msgs += describe(f"{what}: NaN masks differ", x, v1, v2, nan_differ, dtype, e1.side, e2.side)
        ok = agree(v1, v2, x, dtype, grad) | (nan1 != nan2)  # NaN mismatches reported above
        if not ok.all():
            msgs += describe(
                f"{what} beyond the sum of both {dtype} bounds", x, v1, v2, ~ok, dtype, e1.side, e2.side
            )
    return msgs


def entry(name: str, params: str, dtype: str, side: str) -> Entry:
    for e in GROUPS[(name, params, dtype)]:
        if e.side == side:
            return e
    raise KeyError(side)


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("backend", EXPECTED)
def test_dump_present(backend: str) -> None:
    """Every expected backend has dumped (skip outside CI, fail under CI=true)."""
    if not DIR.is_dir():
        missing(f"no cross-backend dumps: {DIR} does not exist")
    if backend not in PRESENT:
        missing(f"no dump of the {backend!r} backend in {DIR}")


@pytest.mark.parametrize("backend", EXPECTED)
def test_dump_complete(backend: str) -> None:
    """A dump has every non-structural activation and parameter set in each of
    its dtypes, and its manifest records no errors."""
    if backend not in PRESENT:
        missing(f"no dump of the {backend!r} backend in {DIR}")
    manifest = MANIFESTS.get(backend, {})
    assert manifest, f"{backend}.json (the manifest) is missing from {DIR}"
    errors = manifest.get("errors", {})
    assert not errors, f"the {backend} dump recorded errors:\n" + "\n".join(
        f"  {k}: {v}" for k, v in errors.items()
    )
    have = {(n, p, d) for (n, p, d), es in GROUPS.items() if any(e.backend == backend for e in es)}
    want = {
        (name, params_key(params), dtype)
        for name in polyact.list_activations()
        if polyact.get_spec(name).elementwise
        for params in param_sets(polyact.get_spec(name))
        for dtype in manifest.get("dtypes", ())
    }
    lacking = sorted(want - have)
    assert not lacking, f"the {backend} dump lacks {len(lacking)} entries (stale?), e.g. {lacking[:5]}"


@pytest.mark.parametrize(("name", "params", "dtype", "side1", "side2"), PAIRS)
def test_agree(name: str, params: str, dtype: str, side1: str, side2: str) -> None:
    """Two kernels (of two backends, or of one) agree within the sum of their bounds."""
    e1, e2 = entry(name, params, dtype, side1), entry(name, params, dtype, side2)
    msgs = compare(e1, e2, dtype)
    if msgs:
        head = f"{group_id(name, params, dtype)} {dtype}: {side1} and {side2} disagree"
        pytest.fail("\n".join([head, *msgs]), pytrace=False)


def test_pairs_generated() -> None:
    """There is something to compare (skip outside CI when nothing was dumped)."""
    if not PAIRS:
        missing(f"no pairs to compare in {DIR}")
