"""The backend-agnostic description of an activation.

An :class:`ActivationSpec` is data plus one formula, ``fn(x, ops, **params)``,
written once against the :mod:`polyact.ops` namespace. Backends turn it into
native functions and modules; the mpmath reference evaluates the same formula
at high precision.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

from .errors import InvalidParameterError, UnknownParameterError

__all__ = [
    "REQUIRED",
    "ActivationSpec",
    "Domain",
    "Interval",
    "Kink",
    "Layer",
    "Native",
    "Param",
    "Reference",
    "axis_index",
    "integer_at_least",
    "nonnegative",
    "nonzero",
    "positive",
    "real",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Marks a parameter without a default: the user must pass it.
REQUIRED: Any = _Required()


# --------------------------------------------------------------------------- domains
@dataclass(frozen=True)
class Domain:
    """A set of admissible values: a predicate and its description."""

    contains: Callable[[float], bool]
    text: str
    #: values are integers (an axis, a count): kept as Python ints, never cast
    integral: bool = False

    def __str__(self) -> str:
        return self.text


def Interval(
    lo: float = -math.inf, hi: float = math.inf, *, lo_closed: bool = True, hi_closed: bool = True
) -> Domain:
    """The real interval between ``lo`` and ``hi`` (closed ends by default)."""

    def contains(v: float) -> bool:
        above = v >= lo if lo_closed else v > lo
        below = v <= hi if hi_closed else v < hi
        return bool(above and below)

    left = "[" if lo_closed and math.isfinite(lo) else "("
    right = "]" if hi_closed and math.isfinite(hi) else ")"
    return Domain(contains, f"{left}{lo:g}, {hi:g}{right}")


real = Domain(lambda v: math.isfinite(v), "any finite real number")
positive = Domain(lambda v: math.isfinite(v) and v > 0, "a finite real number > 0")
nonnegative = Domain(lambda v: math.isfinite(v) and v >= 0, "a finite real number >= 0")
nonzero = Domain(lambda v: math.isfinite(v) and v != 0, "a finite real number != 0")


def integer_at_least(n: int) -> Domain:
    """Integers ``>= n`` (booleans excluded)."""
    return Domain(
        lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= n,
        f"an integer >= {n}",
        integral=True,
    )


#: an axis index: any integer, negative ones counting from the end
axis_index = Domain(
    lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "an integer axis (negative counts from the end)",
    integral=True,
)


# --------------------------------------------------------------------------- pieces
@dataclass(frozen=True)
class Param:
    """One parameter of an activation.

    Args:
        default: the value used when the user passes none (``REQUIRED`` for none).
        domain: admissible values, checked when an activation is built.
        trainable: becomes a framework parameter (``nn.Parameter``, ``nnx.Param``,
            ``megengine.Parameter``) on the backends that train.
        per_channel: one value per channel, shape ``(num_channels,)``, broadcast
            along an explicit ``channel_axis``; otherwise a scalar.
        doc: one line for the docs.
    """

    default: Any = REQUIRED
    domain: Domain = real
    trainable: bool = False
    per_channel: bool = False
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Kink:
    """A point where the derivative jumps, and the derivative polyact returns there.

    ``at`` and ``grad`` are numbers, names of parameters whose value they take,
    or arithmetic expressions of the parameters (``"(lower + upper) / 2"``).
    """

    at: Union[float, str]
    grad: Union[float, str]
    note: str = ""


@dataclass(frozen=True)
class Reference:
    """A paper: title and arXiv identifier (or another citation)."""

    title: str
    arxiv: Optional[str] = None
    authors: str = ""
    year: Optional[int] = None

    @property
    def url(self) -> Optional[str]:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else None

    def __str__(self) -> str:
        who = f"{self.authors}, " if self.authors else ""
        when = f" ({self.year})" if self.year else ""
        where = f", arXiv:{self.arxiv}" if self.arxiv else ""
        return f"{who}{self.title}{when}{where}"


@dataclass(frozen=True)
class Native:
    """A framework's own op for an activation on one backend.

    ``fn(fw, x, **params)`` receives the framework's top-level module (``torch``,
    ``jax``, ``megengine``) so that the spec imports nothing. ``inplace`` is the
    in-place variant (torch), ``eligible=False`` keeps it out of ``kernel="auto"``
    because it breaks the numerical contract (``note`` says how); a callable
    ``eligible(params) -> bool`` does so only for some parameter values.
    ``onnx=False`` when the framework's ONNX export of the op fails or breaks
    the contract (the export mode then picks another kernel). ``bound``: the op
    meets the contract for inputs with ``|x| <= bound`` only (it overflows
    beyond). On a backend that can check that cheaply (torch: eager CPU
    tensors) a call whose whole input is within the bound runs the op as it
    is, any other the op within the bound and the formula beyond; elsewhere
    such an op is not eligible for ``auto``.
    """

    fn: Callable[..., Any]
    inplace: Optional[Callable[..., Any]] = None
    eligible: Union[bool, Callable[[Mapping[str, Any]], bool]] = True
    note: str = ""
    onnx: bool = True
    bound: Optional[float] = None


@dataclass(frozen=True)
class Layer:
    """A sub-layer of a structural activation (built natively by every backend).

    Kinds every backend provides: ``"depthwise_conv2d"`` (options ``kernel_size``,
    ``padding``, ``bias``) and ``"batch_norm"`` (options ``eps``, ``momentum``).
    An option given as a string names a parameter whose value it takes.
    """

    kind: str
    options: Tuple[Tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, **options: Any) -> Layer:
        return cls(kind, tuple(sorted(options.items())))

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.options).get(key, default)


KINDS = ("elementwise", "per_channel", "structural", "vector", "gated", "stochastic")
#: kinds computed value by value (the special-value guard, limits and the
#: element-wise consistency matrix apply to them; a stochastic activation is
#: element-wise in evaluation mode, where it has no noise)
ELEMENTWISE_KINDS = ("elementwise", "per_channel", "stochastic")
#: distributions a stochastic activation's noise may come from
NOISES = ("uniform", "normal")
ACCURACY_GROUPS = ("exact", "transcendental", "composition")


# --------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class ActivationSpec:
    """Everything polyact knows about one activation.

    Args:
        name: canonical name (``snake_case``).
        fn: the formula, ``fn(x, ops, **params)``; for structural activations
            ``fn(x, ops, **layers)`` where each layer is a callable.
        params: parameter name -> :class:`Param`.
        aliases: other names that resolve to this activation.
        formula: LaTeX of the function.
        summary: one line.
        kind: ``"elementwise"``, ``"per_channel"`` or ``"structural"`` (derived
            from the parameters and layers when omitted); ``"vector"`` for a
            function along an axis (softmax: each output depends on the whole
            slice) and ``"gated"`` for one that splits its input in two halves
            along an axis. Both declare an explicit ``axis`` parameter.
            ``"stochastic"`` when ``noise`` is set.
        input_ndims: for structural activations, the input ranks accepted
            (4: images; 2 and 3: features, optionally with a sequence axis).
        channel_axis: for structural activations, the default channel axis
            when it is not the backend's (e.g. -1 for features last).
        noise: ``"uniform"`` (on [0, 1)) or ``"normal"`` (standard): the
            activation is stochastic. Its formula takes ``noise=None``, a
            tensor of such draws shaped like ``x`` in training mode and None
            in evaluation mode (where it must be deterministic).
        grad: closed-form derivative ``grad(x, ops, **params)`` (df/dx,
            element-wise): fused kernels compute their backward from it and
            ``tests/test_grads.py`` checks it against the reference derivative.
        fast: an optional cheaper formula of the same function,
            ``fast(x, ops, **params)``, for backends without a fused op (e.g.
            mish as ``x * n / (n + 2)``, ``n = e^x (e^x + 2)``). It becomes the
            ``fast`` kernel on every backend and the forward of the fused kernels,
            so the consistency matrix proves it equal to the reference.
        kinks: derivative conventions at non-smooth points.
        bounded, monotone, smooth: properties (``None`` = not stated).
        references: papers.
        origin: anchor libraries that provide it (echo, zeta, torch, jax, ...).
        notes: deviations from anchors and other remarks shown by ``describe``.
        native: backend name -> :class:`Native` (or a bare callable).
        layers: sub-layers of a structural activation.
        channels_param: for structural activations, the parameter giving the
            number of channels.
        check: cross-parameter validation, ``check(params) -> error text or None``.
        init_doc: how trainable parameters are initialised, for the docs.
        examples: non-default parameter sets that tests and docs sweep besides
            the defaults.
        accuracy: the accuracy group of NUMERICS.md whose ULP goals polyact's
            own kernels aim for: ``"exact"`` (piecewise linear),
            ``"transcendental"`` (one transcendental function) or
            ``"composition"`` (the default).
    """

    name: str
    fn: Callable[..., Any]
    params: Mapping[str, Param] = field(default_factory=dict)
    aliases: Tuple[str, ...] = ()
    formula: str = ""
    summary: str = ""
    kind: str = ""
    grad: Optional[Callable[..., Any]] = None
    fast: Optional[Callable[..., Any]] = None
    kinks: Tuple[Kink, ...] = ()
    bounded: Optional[bool] = None
    monotone: Optional[bool] = None
    smooth: Optional[bool] = None
    references: Tuple[Reference, ...] = ()
    origin: Tuple[str, ...] = ()
    notes: Tuple[str, ...] = ()
    native: Mapping[str, Any] = field(default_factory=dict)
    layers: Mapping[str, Layer] = field(default_factory=dict)
    channels_param: Optional[str] = None
    check: Optional[Callable[[Mapping[str, Any]], Optional[str]]] = None
    init_doc: str = ""
    examples: Tuple[Mapping[str, Any], ...] = ()
    accuracy: str = "composition"
    noise: Optional[str] = None
    input_ndims: Tuple[int, ...] = (4,)
    channel_axis: Optional[int] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "aliases", tuple(self.aliases))
        native = {k: v if isinstance(v, Native) else Native(v) for k, v in self.native.items()}
        object.__setattr__(self, "native", native)
        if not self.kind:
            if self.layers:
                kind = "structural"
            elif self.noise is not None:
                kind = "stochastic"
            elif any(p.per_channel for p in self.params.values()):
                kind = "per_channel"
            else:
                kind = "elementwise"
            object.__setattr__(self, "kind", kind)
        if self.accuracy not in ACCURACY_GROUPS:
            raise ValueError(
                f"accuracy must be one of {ACCURACY_GROUPS}. Received: accuracy={self.accuracy!r}"
            )
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}. Received: kind={self.kind!r}")
        if self.noise is not None and self.noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}. Received: noise={self.noise!r}")
        if self.kind in ("vector", "gated") and "axis" not in self.params:
            raise ValueError(f"a {self.kind} activation declares an explicit 'axis' parameter ({self.name})")
        if not self.summary and self.fn.__doc__:
            object.__setattr__(self, "summary", self.fn.__doc__.strip().splitlines()[0])

    # ------------------------------------------------------------------ helpers
    # A spec is immutable once declared, so what is derived from it is worked out
    # once and kept in the instance's ``__dict__`` (``get_activation`` is on the
    # hot path of model construction). Not dataclass fields: equality, ``repr``
    # and ``dataclasses.replace`` ignore them.
    def _memo(self, key: Any, make: Callable[[], Any]) -> Any:
        memo = self.__dict__.get("_derived")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_derived", memo)
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = make()
            return value

    @property
    def trainable(self) -> Tuple[str, ...]:
        """Names of the trainable parameters."""
        return self._memo("trainable", lambda: tuple(k for k, p in self.params.items() if p.trainable))

    @property
    def elementwise(self) -> bool:
        """Computed value by value (``elementwise`` or ``per_channel`` kinds)."""
        return self.kind in ELEMENTWISE_KINDS

    @property
    def per_channel(self) -> bool:
        return self._memo("per_channel", lambda: any(p.per_channel for p in self.params.values()))

    @property
    def defaults(self) -> dict:
        """The default values of the parameters that have one (a new dict)."""
        return dict(
            self._memo("defaults", lambda: {k: p.default for k, p in self.params.items() if not p.required})
        )

    def bind(self, given: Mapping[str, Any], *, partial: bool = False) -> dict:
        """Validate ``given`` against the parameters and fill in the defaults.

        Raises :class:`UnknownParameterError` for a name that is not a parameter
        and :class:`InvalidParameterError` for a value outside its domain, or
        for a missing required parameter. With ``partial=True`` only the given
        names are checked and returned.
        """
        unknown = [k for k in given if k not in self.params]
        if unknown:
            known = ", ".join(self.params) or "none"
            raise UnknownParameterError(
                f"{self.name}() got unknown parameter(s) {', '.join(map(repr, unknown))}. "
                f"Its parameters are: {known}."
            )
        out = {} if partial else self.defaults
        for k, v in given.items():
            out[k] = self._check_value(k, v)
        if not partial:
            missing = [k for k, p in self.params.items() if p.required and k not in out]
            if missing:
                raise InvalidParameterError(
                    f"{self.name}() requires parameter(s) {', '.join(map(repr, missing))} (no default)."
                )
            concrete = all(_concrete_values(v) is not None for v in out.values())
            if self.check is not None and concrete:  # traced values are the framework's business
                problem = self.check(out)
                if problem:
                    raise InvalidParameterError(f"{self.name}(): {problem}")
        return out

    def _check_value(self, key: str, value: Any) -> Any:
        p = self.params[key]
        values = _concrete_values(value)
        if values is None:
            if hasattr(value, "shape") and hasattr(value, "dtype"):
                return value  # a framework tensor or tracer: passed through unchecked
            raise InvalidParameterError(
                f"{self.name}(): parameter {key!r} must be {p.domain}. Received: {key}={value!r}"
            )
        if len(values) > 1 and not p.per_channel:
            raise InvalidParameterError(
                f"{self.name}(): parameter {key!r} is a scalar, got {len(values)} values. "
                f"Received: {key}={value!r}"
            )
        for v in values:
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not p.domain.contains(v):
                raise InvalidParameterError(
                    f"{self.name}(): parameter {key!r} must be {p.domain}. Received: {key}={value!r}"
                )
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            return float(value)
        return value

    def docstring(self, backend: str = "torch") -> str:
        """A Google-style docstring generated from the spec: summary, formula,
        parameters, kinks, references, notes and an example."""
        return self._memo(("docstring", backend), lambda: self._make_docstring(backend))

    def _make_docstring(self, backend: str) -> str:
        lines = [self.summary or self.name, ""]
        if self.formula:
            lines += ["Computes:", "", ".. math::", "", f"    {self.formula}", ""]
        if self.params:
            lines.append("Args:")
            for k, p in self.params.items():
                bits = [p.doc.rstrip(".") + "." if p.doc else ""]
                bits.append("Required." if p.required else f"Default: {p.default!r}.")
                bits.append(f"Domain: {p.domain}.")
                if p.trainable:
                    bits.append("Trainable" + (" (one per channel)." if p.per_channel else "."))
                lines.append(f"    {k}: {' '.join(b for b in bits if b)}")
            lines.append("")
        if self.kinks:
            lines.append("Kink conventions:")
            lines += [f"    f'({k.at}) = {k.grad}" + (f" ({k.note})" if k.note else "") for k in self.kinks]
            lines.append("")
        if self.init_doc:
            lines += ["Initialisation:", f"    {self.init_doc}", ""]
        if self.references:
            lines.append("References:")
            lines += [f"    {r}" + (f" <{r.url}>" if r.url else "") for r in self.references]
            lines.append("")
        if self.notes:
            lines.append("Notes:")
            lines += [f"    {n}" for n in self.notes]
            lines.append("")
        example = ", ".join(f"{k}={p.default!r}" for k, p in self.params.items() if not p.required)
        needed = ", ".join(
            f"{k}={16 if 'integer' in str(p.domain) else 1.0}" for k, p in self.params.items() if p.required
        )
        channels = "num_channels=16" if self.per_channel else ""
        args = ", ".join(a for a in (needed, example, channels) if a)
        lines += [
            "Example:",
            "    >>> import polyact as pa",
            f'    >>> act = pa.get_activation("{self.name}", backend="{backend}"{", " + args if args else ""})',
        ]
        return "\n".join(lines)

    def kink_points(self, params: Mapping[str, Any]) -> list:
        """``[(x, derivative)]`` for the kinks with the given parameter values."""
        out = []
        for k in self.kinks:
            out.append((_param_value(k.at, params), _param_value(k.grad, params)))
        return out


def _param_value(v: Union[float, str], params: Mapping[str, Any]) -> float:
    """A number, or an arithmetic expression of the parameters (a name alone,
    or e.g. ``"(lower + upper) / 2"``)."""
    if not isinstance(v, str):
        return float(v)
    if v in params:
        return float(params[v])
    return float(eval(v, {"__builtins__": {}}, {k: float(params[k]) for k in params}))


def _concrete_values(value: Any) -> Optional[Sequence[Any]]:
    """The Python numbers inside ``value``, or None when it is a framework tensor."""
    if isinstance(value, numbers.Number):
        return [value]
    if isinstance(value, (list, tuple)):
        flat: list = []
        for v in value:
            inner = _concrete_values(v)
            if inner is None:
                return None
            flat.extend(inner)
        return flat
    if type(value).__module__ == "numpy":  # ndarray or numpy scalar
        import numpy as np

        arr = np.asarray(value)
        if arr.dtype.kind in "iuf":
            return [x.item() for x in arr.reshape(-1)]
        return list(arr.reshape(-1).tolist())
    return None


# --------------------------------------------------------------------------- kernels
@dataclass(frozen=True)
class Kernel:
    """One implementation of one activation on one backend.

    ``impl(x, **params)`` receives a floating tensor in the compute dtype
    (half precision already promoted to float32) and parameters that broadcast
    against it; the backend handles dtype checks, promotion and rounding back.

    ``kind``: ``native`` (the framework's op), ``composed`` (the formula through
    the backend's ops), ``fast`` (the spec's cheaper formula), ``fused`` (a
    custom gradient that saves only the input and recomputes the closed-form
    derivative in backward), ``compiled`` (the formula through the backend's
    compiler), ``triton`` or ``custom`` (registered by a user or plug-in).

    Capability flags: ``differentiable`` (has a gradient), ``inplace`` (an
    in-place variant ``inplace(x, **params)`` exists), ``eligible`` (may be
    chosen by ``kernel="auto"``; False when it breaks the numerical contract,
    ``note`` says how), ``dtypes`` (None = every floating dtype of the backend),
    ``onnx`` (exports to ONNX: the export mode picks only such kernels),
    ``compile_safe`` (traces under ``torch.compile(fullgraph=True)`` /
    ``jax.jit`` / ``megengine.jit.trace``), ``param_grads`` (differentiates
    trainable tensor parameters too; natives and fused kernels do not),
    ``devices`` (None = every device; ``("cuda",)`` for a GPU-only kernel) and
    ``available`` (a check run before ``auto`` picks it, e.g. a compiler).
    """

    name: str
    backend: str
    kind: str
    impl: Callable[..., Any]
    differentiable: bool = True
    inplace: Optional[Callable[..., Any]] = None
    eligible: Union[bool, Callable[[Mapping[str, Any]], bool]] = True
    dtypes: Optional[Tuple[str, ...]] = None
    note: str = ""
    onnx: bool = True
    compile_safe: bool = True
    param_grads: bool = True
    devices: Optional[Tuple[str, ...]] = None
    available: Optional[Callable[[], bool]] = None

    def eligible_for(self, params: Mapping[str, Any]) -> bool:
        """Whether ``kernel="auto"`` may pick this kernel for these parameters."""
        return bool(self.eligible(params) if callable(self.eligible) else self.eligible)

    def supports(self, dtype: str, device: Optional[str] = None) -> bool:
        """Whether the kernel runs on tensors of ``dtype`` on ``device`` here."""
        if self.dtypes is not None and dtype not in self.dtypes:
            return False
        if self.devices is not None and device is not None and device not in self.devices:
            return False
        return self.available is None or bool(self.available())

    def flags(self) -> Tuple[str, ...]:
        """The capability flags that hold, as words (for ``describe`` and docs)."""
        out = [
            w
            for w, on in (
                ("differentiable", self.differentiable),
                ("onnx", self.onnx),
                ("compile-safe", self.compile_safe),
                ("in-place", self.inplace is not None),
                ("param-grads", self.param_grads),
            )
            if on
        ]
        if self.devices:
            out.append("devices=" + "/".join(self.devices))
        if self.dtypes:
            out.append("dtypes=" + "/".join(self.dtypes))
        return tuple(out)
