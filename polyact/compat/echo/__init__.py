"""Echo's activation classes on polyact: :mod:`.t_ops` (torch), :mod:`.m_ops` (MegEngine).

Echo (``digantamisra98/Echo``, package ``echoAI``) documents its activations as
``echoAI.Activation.t_ops.<Class>`` and ``echoAI.Activation.m_ops.<Class>``. The
facades keep those class names and constructor signatures; each builds the
polyact activation the Echo documentation describes (the choice is made here,
without importing a framework, so the migration guide reads the same plans).
Where Echo's documented formula differs from the paper (Aria2 without the factor
x, MegEngine's Flatten T-Swish with T = 0), the facade reproduces Echo's numbers
and its docstring says so; everywhere else it is the canonical activation.

Code written against Echo's fully qualified names runs after one import::

    from polyact.compat import echo as echoAI

    act = echoAI.Activation.m_ops.Mish()
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ... import registry
from ...errors import ActivationError, UnknownActivationError
from ...spec import Param, Reference, positive

__all__ = [
    "ECHO_ARIA2",
    "Plan",
    "aria2_plan",
    "brelu_plan",
    "dice_plan",
    "elish_plan",
    "isru_plan",
    "maxout_plan",
    "probact_plan",
    "soft_exponential_plan",
    "srelu_plan",
    "swish_plan",
    "xunit_plan",
]

#: the registry name of Echo's Aria2 (Richard's curve without the factor x)
ECHO_ARIA2 = "_echo_aria2"


def _echo_aria2(x, ops, beta, alpha):
    """Echo's Aria2: Richard's curve (1 + exp(-beta x))^(-alpha), without the paper's factor x."""
    return ops.exp(-alpha * ops.softplus(-beta * x))


def _echo_aria2_grad(x, ops, beta, alpha):
    # closed form: the curve is flat (1 - alpha e^(-beta x)) for large x, where a
    # numerical derivative of the reference would lose every digit
    return alpha * beta * ops.exp(-alpha * ops.softplus(-beta * x)) * ops.sigmoid(-beta * x)


def _register() -> None:
    """Register Echo's Aria2 as ``_echo_aria2`` (once; again after an unregister)."""
    try:
        registry.get_spec(ECHO_ARIA2)
        return  # already registered (a reload of this module)
    except UnknownActivationError:
        pass
    registry.register_activation(
        ECHO_ARIA2,
        _echo_aria2,
        params={
            "beta": Param(0.5, positive, doc="growth rate"),
            "alpha": Param(1.0, positive, doc="asymmetry exponent"),
        },
        formula=r"\left(1 + e^{-\beta x}\right)^{-\alpha}",
        grad=_echo_aria2_grad,
        examples=({"beta": 2.0, "alpha": 1.5}, {"beta": 1.0, "alpha": 0.5}),
        bounded=True,
        monotone=True,
        smooth=True,
        references=(
            Reference(
                "ARiA: Utilizing Richard's Curve for Controlling the Non-monotonicity of the "
                "Activation Function in Deep Neural Nets",
                "1805.08878",
                "Patwardhan et al.",
                2018,
            ),
        ),
        origin=("echo",),
        notes=(
            "Echo's Aria2 as Echo computes and documents it: a generalised sigmoid without the paper's "
            "factor x; polyact's aria2 follows the paper. Used by polyact.compat.echo only.",
        ),
    )


_register()


class Plan(NamedTuple):
    """The polyact activation an Echo constructor call stands for."""

    name: str
    params: Dict[str, Any]
    options: Dict[str, Any]


def _plan(name: str, options: Optional[Dict[str, Any]] = None, **params: Any) -> Plan:
    return Plan(name, params, dict(options or {}))


def swish_plan(
    eswish: bool = False,
    swish: bool = True,
    beta: float = 1.735,
    flatten: bool = False,
    pfts: bool = False,
    flatten_threshold: Optional[float] = None,
) -> Plan:
    """Echo's ``Swish`` flags, in their order of precedence: eswish, pfts, flatten,
    swish; all False is SiLU. ``flatten_threshold`` is the T of Echo's Flatten
    T-Swish where it departs from the paper's -0.2 (MegEngine: 0)."""
    if eswish:
        return _plan("e_swish", beta=beta)
    if pfts:
        return _plan("parametric_flatten_t_swish")
    if flatten:
        if flatten_threshold is None:
            return _plan("flatten_t_swish")
        return _plan("flatten_t_swish", threshold=flatten_threshold)
    if swish:
        return _plan("swish_beta", beta=1.0)
    return _plan("silu")


def aria2_plan(beta: float = 0.5, alpha: float = 1.0) -> Plan:
    """Echo's ``Aria2``: the x-less Richard's curve Echo documents."""
    _register()
    return _plan(ECHO_ARIA2, beta=beta, alpha=alpha)


def elish_plan(hard: bool = False) -> Plan:
    """Echo's ``Elish``: ELiSH, or Hard ELiSH with ``hard=True``."""
    return _plan("hard_elish" if hard else "elish")


def isru_plan(alpha: float = 1.0, isrlu: bool = False) -> Plan:
    """Echo's ``ISRU``: ISRU, or ISRLU with ``isrlu=True``."""
    return _plan("isrlu" if isrlu else "isru", alpha=alpha)


def soft_exponential_plan(alpha: Optional[float] = None) -> Plan:
    """Echo's ``SoftExponential``: a trainable alpha, 0 when None."""
    return _plan("soft_exponential", alpha=0.0 if alpha is None else float(_scalar(alpha)))


def _values(v: Any) -> np.ndarray:
    """The numbers of a list, NumPy array, torch or MegEngine tensor, as float64."""
    if hasattr(v, "detach") and hasattr(v, "cpu"):  # torch
        v = v.detach().cpu().numpy()
    elif not isinstance(v, np.ndarray) and hasattr(v, "numpy"):  # MegEngine
        v = v.numpy()
    return np.asarray(v, dtype=np.float64)


def _scalar(v: Any) -> float:
    arr = _values(v).reshape(-1)
    if arr.size != 1:
        raise ActivationError(f"expected a single number. Received: {v!r}")
    return float(arr[0])


def _feature_axis(in_features: Any) -> Tuple[int, int]:
    """(number of channels, channel axis counted from the end) for Echo's
    ``in_features``: an int (the last axis) or the trailing shape of the input
    with at most one entry above 1, e.g. ``(C, 1, 1)`` for NCHW."""
    if isinstance(in_features, (int, np.integer)) and not isinstance(in_features, bool):
        shape: Sequence[int] = (int(in_features),)
    elif isinstance(in_features, (tuple, list)) and in_features:
        shape = [int(s) for s in in_features]
    else:
        raise ActivationError(
            f"in_features must be an int or a tuple of ints. Received: in_features={in_features!r}"
        )
    if any(s < 1 for s in shape):
        raise ActivationError(f"in_features must be positive. Received: in_features={in_features!r}")
    big = [i for i, s in enumerate(shape) if s > 1]
    if len(big) > 1:
        raise ActivationError(
            "polyact's per-channel parameters run along one axis; in_features may have at most one "
            f"entry above 1. Received: in_features={in_features!r}"
        )
    i = big[0] if big else len(shape) - 1
    return shape[i], i - len(shape)


def srelu_plan(in_features: Any, parameters: Optional[Sequence[Any]] = None) -> Plan:
    """Echo's ``SReLU``: per-feature thresholds and slopes on the last axis (or the
    one axis of ``in_features`` above 1); ``parameters`` is Echo's tuple
    ``(t_right, t_left, a_right, a_left)``, copied into the module's parameters."""
    n, axis = _feature_axis(in_features)
    options = {"num_channels": n, "channel_axis": axis}
    if parameters is None:
        return _plan("srelu", options)
    if len(parameters) != 4:
        raise ActivationError(
            "parameters is Echo's tuple (t_right, t_left, a_right, a_left). "
            f"Received {len(parameters)} value(s)."
        )
    tr, tl, ar, al = (_values(p).reshape(-1).tolist() for p in parameters)
    return _plan("srelu", options, t_right=tr, t_left=tl, a_right=ar, a_left=al)


def brelu_plan() -> Plan:
    """Echo's torch ``BReLU``: the bipolar ReLU over the units (dim 1), as Echo's
    page writes it (Echo's code alternates along dim 0, the batch)."""
    return _plan("bipolar_relu", axis=1)


def maxout_plan(pool_size: int = 1) -> Plan:
    """Echo's torch ``Maxout``: groups of ``pool_size`` channels (dim 1); 1 is the identity."""
    return _plan("maxout", pool_size=pool_size, axis=1)


def dice_plan(emb_size: int, dim: int = 2, epsilon: float = 1e-8) -> Plan:
    """Echo's torch ``DICE`` on (N, emb_size) (``dim=2``) or (N, L, emb_size) (``dim=3``)."""
    if dim not in (2, 3):
        raise ActivationError(f"dim must be 2 or 3. Received: dim={dim!r}")
    if epsilon != 1e-8:
        raise ActivationError(
            f"polyact's dice normalises with eps = 1e-8 (Echo's default). Received: epsilon={epsilon!r}"
        )
    return _plan("dice", emb_size=emb_size)


def xunit_plan(out_channels: int, kernel_size: int = 9) -> Plan:
    """Echo's torch ``XUnit``: ``out_channels`` is the channel count."""
    return _plan("xunit", in_channels=out_channels, kernel_size=kernel_size)


def probact_plan(num_parameters: int = 1, init: float = 0) -> Plan:
    """Echo's torch ``ProbAct``: one trainable sigma starting at ``init``."""
    if num_parameters != 1:
        raise ActivationError(
            "polyact's probact has one trainable sigma; a sigma per feature is not available. "
            f"Received: num_parameters={num_parameters!r}"
        )
    return _plan("probact", sigma=float(init))


def __getattr__(name: str) -> Any:
    # echoAI.Activation.m_ops.Mish() works after `from polyact.compat import echo as echoAI`;
    # the backend modules are imported on first use (each imports its framework)
    if name in ("t_ops", "m_ops"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "Activation":
        return sys.modules[__name__]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
