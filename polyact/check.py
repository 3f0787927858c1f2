"""The consistency engine: every activation x backend x kernel x dtype x input
class, forward and gradient, against the mpmath reference rounded once to the
dtype (NUMERICS.md). The generated test suite and ``polyact check`` both run
their cases through :func:`run_case`, so they cannot disagree.

>>> from polyact import check
>>> r = check.run_case(check.Case("mish", "numpy", "composed", "float32", "normal", "forward"))
>>> r.passed, r.worst_ulp <= 8
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import registry
from ._inputs import GRID_CLASSES, HALF, away_from_kinks, input_set
from ._numerics import FORMATS, goal, ulp_error, within_contract
from ._refcache import reference, reference_at_zero

__all__ = [
    "WHATS",
    "Case",
    "Cell",
    "Result",
    "backend_dtypes",
    "iter_cases",
    "measure",
    "param_id",
    "param_sets",
    "read_as_zero",
    "run_case",
]

WHATS = ("forward", "gradient")


def param_sets(spec: Any) -> Tuple[Dict[str, Any], ...]:
    """The defaults and the spec's example parameter sets (only the examples when
    a parameter is required: there are no defaults to test)."""
    examples = tuple(dict(e) for e in spec.examples)
    if any(p.required for p in spec.params.values()):
        if not examples:
            raise ValueError(f"{spec.name} has required parameters: declare examples=({{...}},) to test it")
        return examples
    return ({}, *examples)


def param_id(params: Mapping[str, Any]) -> str:
    if not params:
        return ""
    body = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    return f"({body})"


def backend_dtypes(backend: str) -> Tuple[str, ...]:
    """The float dtypes a backend computes in, widest first."""
    b = registry.get_backend(backend)
    order = ("float64", "float32", "float16", "bfloat16")
    return tuple(d for d in order if d in tuple(b.dtypes))


@dataclass(frozen=True)
class Case:
    """One cell of the matrix on one input class, forward or gradient."""

    name: str
    backend: str
    kernel: str
    dtype: str
    cls: str
    what: str = "forward"
    params: Tuple[Tuple[str, Any], ...] = ()

    @property
    def param_dict(self) -> Dict[str, Any]:
        return dict(self.params)

    @property
    def id(self) -> str:
        return f"{self.name}{param_id(self.param_dict)}-{self.backend}-{self.kernel}-{self.dtype}-{self.cls}"


@dataclass
class Result:
    """The outcome of a case: inputs, values, references, ULP errors, verdicts."""

    case: Case
    x: np.ndarray
    y: np.ndarray
    ref: np.ndarray
    ok: np.ndarray
    err: np.ndarray
    dtype_ok: bool = True
    shape_ok: bool = True
    note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.ok.all()) and self.dtype_ok and self.shape_ok

    @property
    def worst_ulp(self) -> float:
        """The largest ULP error over the finite inputs (special values are pass/fail)."""
        fin = np.isfinite(self.x) & np.isfinite(self.err)
        return float(self.err[fin].max()) if fin.any() else (0.0 if self.ok.all() else float("inf"))

    def failures(self, k: int = 8) -> List[Tuple[float, float, float, float]]:
        """The ``k`` worst failing inputs as (x, value, reference, error in ulp)."""
        bad = np.flatnonzero(~self.ok)
        order = bad[np.argsort(-self.err[bad], kind="stable")][:k]
        return [(float(self.x[i]), float(self.y[i]), float(self.ref[i]), float(self.err[i])) for i in order]

    def message(self, k: int = 8) -> str:
        c = self.case
        head = []
        if not self.dtype_ok:
            head.append(f"result dtype differs from the input's ({c.dtype}): {self.note}")
        if not self.shape_ok:
            head.append(f"result shape differs from the input's: {self.note}")
        what = "gradients" if c.what == "gradient" else "values"
        nbad = int((~self.ok).sum())
        if nbad:
            head.append(f"{c.id}: {nbad} of {self.ok.size} {what} outside the {c.dtype} contract; worst:")
            for x, y, r, e in self.failures(k):
                head.append(f"  x={x!r:>24}  got={y!r:>24}  ref={r!r:>24}  err={e:.3g} ulp")
        return "\n".join(head)


def case_inputs(spec: Any, params: Mapping[str, Any], cls: str, dtype: str) -> np.ndarray:
    kinks = [at for at, _ in spec.kink_points(spec.bind(dict(params)))] if cls == "kinks" else ()
    return input_set(cls, dtype, kinks)


def _kernel_name(spec: Any, backend: str, kernel: str, params: Mapping[str, Any]) -> str:
    if kernel != "auto":
        return kernel
    return registry.auto_kernel(spec.name, backend, **dict(params))


#: backends whose eager ops are prepared once per shape (JAX compiles them,
#: MegEngine caches them): their inputs are padded
#: to a few bucket sizes so that every case and activation reuses the compiled ops
_BUCKETED = ("jax", "megengine")


def _bucketed(x: np.ndarray) -> np.ndarray:
    """``x`` padded with ones to the next power of two (at least 1024); the
    functions are element-wise, so the padding changes nothing but the shape."""
    n = max(1024, 1 << max(0, int(x.size - 1).bit_length()))
    if n == x.size:
        return x
    return np.concatenate([x.reshape(-1), np.ones(n - x.size, dtype=x.dtype)])


def read_as_zero(
    spec: Any,
    params: Optional[Mapping[str, Any]],
    x: np.ndarray,
    y: np.ndarray,
    ref: np.ndarray,
    dtype: str,
    what: str,
) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """For a backend that reads subnormal inputs as zero (XLA and MegEngine on
    CPU): where ``y``, its results at ``x`` (``what``: ``"value"`` or
    ``"grad"``), is within the contract of the reference at the zero of the
    input's sign, and ``ref`` (the reference at ``x``) with those references
    filled in at the subnormal inputs (None, and no such entry, when ``x`` has no
    subnormal)."""
    with np.errstate(invalid="ignore"):  # NaN payloads of 16-bit types
        xf = np.asarray(x).astype(np.float64)
    sub = (xf != 0) & (np.abs(xf) < FORMATS[dtype].tiny)
    if not sub.any():
        return np.zeros(np.shape(y), dtype=bool), None
    ref0 = reference_at_zero(spec, params, x, ref, sub, dtype, what)
    x0 = np.where(sub, np.copysign(0.0, xf), xf)
    return sub & within_contract(y, ref0, x0, dtype, grad=what == "grad"), ref0


def run_case(case: Case, fn: Optional[Callable[[Any], Any]] = None) -> Result:
    """Evaluate one case against the reference (see the module docstring).

    ``fn`` replaces the case's kernel (``polyact check --anchors`` passes a
    framework's raw op); by default it is ``get_function(name, backend, kernel)``."""
    spec = registry.get_spec(case.name)
    params = case.param_dict
    b = registry.get_backend(case.backend)
    f = fn if fn is not None else registry.get_function(spec.name, case.backend, kernel=case.kernel, **params)
    x = case_inputs(spec, params, case.cls, case.dtype)
    xp = _bucketed(x) if case.backend in _BUCKETED else x
    xt = b.from_numpy(xp, case.dtype)
    if case.what == "gradient":
        _, out = b.value_and_grad(f, xt)
    else:
        out = f(xt)
    got_dtype = b.dtype_name(out)
    got_shape = tuple(out.shape)
    if got_shape == xp.shape:
        got_shape = x.shape
    with np.errstate(invalid="ignore", over="ignore"):  # NaN payloads of 16-bit types
        y = np.asarray(b.to_numpy(out)).astype(np.float64).reshape(-1)[: x.size]
        xf = x.astype(np.float64)
    if case.what == "gradient":
        keep = away_from_kinks(xf, spec.kink_points(spec.bind(params)))
        ref = reference(spec, params, x, case.dtype, "grad")
    else:
        keep = np.ones(xf.shape, dtype=bool)
        ref = reference(spec, params, x, case.dtype, "value")
    if y.shape != xf.shape:  # a broken op (shape not kept): compare what can be compared
        y = np.resize(y, xf.shape) if y.size else np.full(xf.shape, np.nan)
    grad = case.what == "gradient"
    ok = within_contract(y, ref, xf, case.dtype, grad=grad)
    err = ulp_error(y, ref, case.dtype)
    if getattr(b, "flushes_subnormal_inputs", False):
        # XLA and MegEngine on CPU run with denormals-are-zero: a subnormal input is
        # a signed zero there, and is measured as one where the result is its value
        as_zero, ref0 = read_as_zero(spec, params, x, y, ref, case.dtype, "grad" if grad else "value")
        if ref0 is not None:
            ok |= as_zero
            with np.errstate(invalid="ignore"):
                err = np.where(as_zero, np.fmin(err, ulp_error(y, ref0, case.dtype)), err)
    xf, y, ref, ok, err = xf[keep], y[keep], ref[keep], ok[keep], err[keep]
    return Result(
        case,
        xf,
        y,
        ref,
        ok,
        err,
        dtype_ok=got_dtype == case.dtype,
        shape_ok=got_shape == x.shape,
        note=f"got {got_dtype} {got_shape} for {case.dtype} {x.shape}",
    )


def iter_cases(
    names: Optional[Iterable[str]] = None,
    backends: Optional[Iterable[str]] = None,
    kernels: Optional[Iterable[str]] = None,
    dtypes: Optional[Iterable[str]] = None,
    classes: Optional[Iterable[str]] = None,
    whats: Sequence[str] = WHATS,
    *,
    all_params: bool = True,
) -> List[Case]:
    """Every case of the matrix for the given selection (None = everything).

    ``classes`` defaults to the grid classes plus ``exhaustive`` for 16-bit
    dtypes. Gradient cases exist only for differentiable backends and kernels.
    Structural activations (made of layers) have no elementwise reference and
    are tested by their own suites.
    """
    names = list(names) if names is not None else registry.list_activations()
    backends = list(backends) if backends is not None else registry.available_backends()
    wanted_k = set(kernels) if kernels is not None else None
    wanted_d = set(dtypes) if dtypes is not None else None
    out: List[Case] = []
    for name in names:
        spec = registry.get_spec(name)
        if not spec.elementwise:
            continue
        for params in param_sets(spec) if all_params else param_sets(spec)[:1]:
            ptuple = tuple(sorted(params.items()))
            for backend in backends:
                b = registry.get_backend(backend)
                for kname, kernel in registry.kernels(spec.name, backend).items():
                    if wanted_k is not None and kname not in wanted_k:
                        continue
                    if wanted_k is None and not _in_default_matrix(kernel, backend):
                        continue
                    for dtype in backend_dtypes(backend):
                        if wanted_d is not None and dtype not in wanted_d:
                            continue
                        cls_list = list(classes) if classes is not None else [*GRID_CLASSES, "exhaustive"]
                        for cls in cls_list:
                            if cls == "exhaustive" and dtype not in HALF:
                                continue
                            if cls == "kinks" and not spec.kinks:
                                continue
                            for what in whats:
                                if what == "gradient" and not (b.differentiable and kernel.differentiable):
                                    continue
                                if wanted_k is None and not _planned(kernel, dtype, cls, what):
                                    continue
                                out.append(Case(spec.name, backend, kname, dtype, cls, what, ptuple))
    return out


def _in_default_matrix(kernel: Any, backend: str) -> bool:
    """Kernels the default matrix leaves to their own suites: GPU-only ones
    (``tests/test_triton.py`` runs Triton's interpreter) and torch's compiled
    kernel (one inductor compile per activation: ``tests/test_compiled.py``
    checks every activation on one input holding every class)."""
    if kernel.devices is not None and "cpu" not in kernel.devices:
        return False
    return not (kernel.kind == "compiled" and backend == "torch")


def _planned(kernel: Any, dtype: str, cls: str, what: str) -> bool:
    """The default matrix's plan for kernels whose forward is the formula
    itself. A fused kernel's forward is the composed (or fast) kernel's, op for
    op: its forward is checked on one class, its closed-form backward on every
    class in float32 and float64 (half precision runs it in float32 and rounds
    once: two classes). A compiled kernel is checked on every class in float32
    and on two classes in the other dtypes (half precision is computed in float32)."""
    if kernel.kind == "fused":
        if what == "forward":
            return cls == "normal"
        return dtype not in HALF or cls in ("normal", "extremal")
    if kernel.kind == "compiled":
        return dtype == "float32" or cls in ("normal", "extremal")
    return True


# --------------------------------------------------------------------------- cells
@dataclass
class Cell:
    """One (activation, backend, kernel, dtype) over all its input classes."""

    name: str
    backend: str
    kernel: str
    dtype: str
    forward_ulp: float = 0.0
    gradient_ulp: Optional[float] = None  # None: no gradients on this backend/kernel
    forward_ok: bool = True
    gradient_ok: bool = True
    goal_forward: float = 0.0
    goal_gradient: float = 0.0
    cases: int = 0
    worst: List[Tuple[str, str, float, float, float, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.forward_ok and self.gradient_ok

    @property
    def meets_goal(self) -> bool:
        g = self.gradient_ulp or 0.0
        return self.forward_ulp <= self.goal_forward and g <= self.goal_gradient

    def as_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)

    def add(self, r: Result) -> None:
        self.cases += 1
        if r.case.what == "gradient":
            self.gradient_ulp = max(self.gradient_ulp or 0.0, r.worst_ulp)
            self.gradient_ok &= r.passed
        else:
            self.forward_ulp = max(self.forward_ulp, r.worst_ulp)
            self.forward_ok &= r.passed
        for x, y, ref, e in r.failures(3):
            self.worst.append((r.case.what, r.case.cls, x, y, ref, e))


def measure(
    name: str,
    backend: str,
    kernel: str = "auto",
    dtype: str = "float32",
    params: Optional[Mapping[str, Any]] = None,
    classes: Sequence[str] = ("normal", "large"),
) -> Cell:
    """Worst forward/gradient ULP error of one kernel over ``classes``."""
    spec = registry.get_spec(name)
    params = dict(params or {})
    kname = _kernel_name(spec, backend, kernel, params)
    cell = Cell(
        spec.name,
        backend,
        kname,
        dtype,
        goal_forward=goal(spec.accuracy, dtype),
        goal_gradient=goal(spec.accuracy, dtype, grad=True),
    )
    b = registry.get_backend(backend)
    k = registry.kernels(spec.name, backend)[kname]
    for cls in classes:
        if cls == "kinks" and not spec.kinks:
            continue
        for what in WHATS:
            if what == "gradient" and not (b.differentiable and k.differentiable):
                continue
            cell.add(
                run_case(Case(spec.name, backend, kname, dtype, cls, what, tuple(sorted(params.items()))))
            )
    return cell
