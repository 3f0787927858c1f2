"""What the two code generators (the ``triton`` kernel on torch, the ``cpp``
kernel on MegEngine) share: the traced value (:class:`_Expr`, whose operators
ask a dialect's trace for code: ``_triton._Trace``, and the C++ one derived
from it), the kernel variants, the parameter and noise loads bound to a trace,
the check of a traced result, whether a spec can be generated at all, and the
channel layout of per-channel parameters.

A dialect says how its generated code loads things (:class:`Loads`); the rest is
the same for both. Imports no framework.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple

from ..errors import ActivationError
from ..spec import ActivationSpec

__all__ = ["Loads", "Variant", "bind_params", "channel_layout", "check_result", "expressible", "variants"]


class _NeedsValue(Exception):
    """The formula needs a parameter's value in Python (it is traced again with the values)."""


class _Expr:
    """A traced value: the name of a variable of the generated kernel. Its
    operators ask the trace ``tr`` (the dialect) for the code.

    ``block``: depends on the input (a block of elements) rather than on the
    parameters only (a scalar); ``boolean``: a comparison's result."""

    __slots__ = ("block", "boolean", "name", "tr")
    __array_ufunc__ = None  # NumPy scalars defer to the reflected operators

    def __init__(self, tr: Any, name: str, block: bool, boolean: bool = False) -> None:
        self.tr, self.name, self.block, self.boolean = tr, name, block, boolean

    def _bin(self, op: str, a: Any, b: Any, boolean: bool = False) -> Any:
        if not (isinstance(a, _Expr) or _number(a)) or not (isinstance(b, _Expr) or _number(b)):
            return NotImplemented
        return self.tr.binary(op, a, b, boolean)

    def __add__(self, o: Any) -> Any:
        return self._bin("+", self, o)

    def __radd__(self, o: Any) -> Any:
        return self._bin("+", o, self)

    def __sub__(self, o: Any) -> Any:
        return self._bin("-", self, o)

    def __rsub__(self, o: Any) -> Any:
        return self._bin("-", o, self)

    def __mul__(self, o: Any) -> Any:
        return self._bin("*", self, o)

    def __rmul__(self, o: Any) -> Any:
        return self._bin("*", o, self)

    def __truediv__(self, o: Any) -> Any:
        return self.tr.divide(self, o)

    def __rtruediv__(self, o: Any) -> Any:
        return self.tr.divide(o, self)

    def __pow__(self, o: Any) -> Any:
        return self.tr.power(self, o)

    def __rpow__(self, o: Any) -> Any:
        return self.tr.power(o, self)

    def __neg__(self) -> Any:
        return self.tr.op(f"-{self.name}", (self,))  # the same in every dialect

    def __pos__(self) -> Any:
        return self

    def __abs__(self) -> Any:
        return self.tr.absolute(self)

    def __lt__(self, o: Any) -> Any:
        return self._bin("<", self, o, True)

    def __le__(self, o: Any) -> Any:
        return self._bin("<=", self, o, True)

    def __gt__(self, o: Any) -> Any:
        return self._bin(">", self, o, True)

    def __ge__(self, o: Any) -> Any:
        return self._bin(">=", self, o, True)

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return self._bin("==", self, o, True)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return self._bin("!=", self, o, True)

    def __and__(self, o: Any) -> Any:
        return self._bin("&", self, o, True)

    __rand__ = __and__

    def __or__(self, o: Any) -> Any:
        return self._bin("|", self, o, True)

    __ror__ = __or__

    def __xor__(self, o: Any) -> Any:
        return self._bin("^", self, o, True)

    __rxor__ = __xor__

    def __invert__(self) -> Any:
        return self.tr.invert(self)

    __hash__ = object.__hash__

    def _value(self, *_: Any) -> Any:
        raise _NeedsValue(self.name)

    __bool__ = __float__ = __int__ = __index__ = __round__ = _value  # type: ignore[assignment]


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Real)


class Variant(NamedTuple):
    """What a kernel reads besides ``x``: parameters per channel (gathered along
    the channel axis, ``ch = (i // INNER) % C``, the k-th parameter at
    ``P[k * C + ch]``) or scalars (``P[k]``), and the noise of a stochastic
    activation in training mode (``NZ``, shaped like ``x``)."""

    channel: bool = False
    noise: bool = False


class Loads(NamedTuple):
    """A dialect's lines loading the inputs (``{i}``: the parameter's index)."""

    channel_index: str  # computes ``ch``
    channel: str  # the i-th parameter's value for this element's channel, as ``p{i}``
    scalar: str  # the i-th scalar parameter, as ``p{i}``
    noise: str  # this element's noise, as ``nz``


def variants(spec: ActivationSpec) -> List[Variant]:
    """The variants a spec's kernels are generated in."""
    out = [Variant()]
    if spec.per_channel:
        out.append(Variant(channel=True))
    if spec.noise is not None:
        out.append(Variant(noise=True))
    return out


def bind_params(
    tr: Any,
    names: Tuple[str, ...],
    values: Optional[Mapping[str, Any]],
    variant: Variant,
    loads: Loads,
) -> Tuple[Dict[str, Any], List[str], List[str]]:
    """(the formula's keyword arguments, lines run once per call, lines run per
    element) for parameters ``names``: traced loads, or the given ``values``."""
    params: Dict[str, Any] = {}
    once: List[str] = []
    each: List[str] = []
    if values is not None:
        params = {k: values[k] for k in names}
    elif variant.channel:
        each.append(loads.channel_index)
        for i, k in enumerate(names):
            params[k] = _Expr(tr, f"p{i}", True)
            each.append(loads.channel.format(i=i))
    else:
        for i, k in enumerate(names):
            params[k] = _Expr(tr, f"p{i}", False)
            once.append(loads.scalar.format(i=i))
    if variant.noise:
        params["noise"] = _Expr(tr, "nz", True)
        each.append(loads.noise)
    return params, once, each


def check_result(y: Any) -> None:
    """A formula's traced result must be a number or a traced number."""
    if isinstance(y, _Expr) and y.boolean:
        raise ActivationError("the formula returns a comparison, not a number")
    if not isinstance(y, _Expr) and not _number(y):
        raise ActivationError(f"the formula returns {type(y).__name__}, not a traced value")


def expressible(
    spec: ActivationSpec, kernel_source: Callable[..., Any], *, values_per_channel: bool
) -> Optional[str]:
    """Why ``spec`` cannot be generated by ``kernel_source(spec, values,
    variant)``, or None when it can. A formula that needs its parameters'
    values in Python is generated per set of values; for the per-channel and
    noise variants, that is a reason to refuse unless ``values_per_channel``
    (the kernel then refuses those calls when they come)."""
    if spec.grad is None:
        return "the spec has no closed-form derivative (grad=)"
    if spec.kind not in ("elementwise", "per_channel", "stochastic"):
        return f"{spec.kind} activations are not supported"
    for variant in variants(spec):
        try:
            kernel_source(spec, None, variant)
        except _NeedsValue:
            if variant.channel or variant.noise:
                if values_per_channel:
                    continue
                return "the formula needs its parameters' values in Python (per channel, or with noise)"
            try:
                kernel_source(spec, spec.defaults, variant)
            except _NeedsValue:
                pass  # required parameters without defaults: traced at the call
            except Exception as exc:  # any failure means: not expressible
                return f"the formula cannot be traced ({type(exc).__name__}: {exc})"
        except Exception as exc:
            return f"the formula cannot be traced ({type(exc).__name__}: {exc})"
    return None


def channel_layout(
    kernel: str, spec: ActivationSpec, shapes: Iterable[Tuple[int, ...]], x_shape: Tuple[int, ...]
) -> Tuple[int, int]:
    """(INNER, C) for per-channel parameters of ``shapes`` (those with more than
    one element) on an input of ``x_shape``: ``C`` values along one axis with
    ``INNER`` elements after it; (1, 1) when every parameter is a scalar."""
    found = set(shapes)
    if not found:
        return 1, 1
    shape = found.pop()
    axes = [i for i, n in enumerate(shape) if n > 1]
    ndim = len(x_shape)
    if found or len(axes) != 1 or len(shape) > ndim:
        raise ActivationError(
            f"the {kernel} kernel of {spec.name} takes scalar parameters or one value per channel along one "
            f"axis; got parameter shapes {sorted({shape, *found})}"
        )
    axis = axes[0] + ndim - len(shape)
    c = int(shape[axes[0]])
    if int(x_shape[axis]) != c:
        raise ActivationError(
            f"{spec.name}: {c} parameter values but {x_shape[axis]} channels on axis {axis}"
        )
    inner = 1
    for n in x_shape[axis + 1 :]:
        inner *= int(n)
    return inner, c
