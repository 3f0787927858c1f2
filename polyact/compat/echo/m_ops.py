"""Echo's MegEngine activations (``echoAI.Activation.m_ops``) on polyact.

Each class has the name and constructor signature of Echo's MegEngine page and is
a ``megengine.module.Module`` wrapping the polyact module it stands for (the
``act`` attribute), with trainable ``megengine.Parameter``\\ s where Echo has
them. Echo's own ``m_ops`` does not import (catalogue D-22); these classes run.

>>> from polyact.compat.echo.m_ops import Mish  # was: from echoAI.Activation.m_ops import Mish
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ... import registry
from . import (
    Plan,
    aria2_plan,
    elish_plan,
    isru_plan,
    soft_exponential_plan,
    srelu_plan,
    swish_plan,
)

_BACKEND = registry.get_backend("megengine")  # a clear error when MegEngine is not installed

import megengine.module as M  # noqa: E402

__all__ = [
    "SQNL",
    "ISRU",
    "Aria2",
    "Elish",
    "FReLU",
    "Mish",
    "NLReLU",
    "SReLU",
    "SoftClipping",
    "SoftExponential",
    "Swish",
]


class _EchoModule(M.Module):
    """A MegEngine module that runs one polyact activation, ``self.act``."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.act = registry.get_activation(plan.name, "megengine", **plan.params, **plan.options)

    def forward(self, input: Any) -> Any:
        return self.act(input)


class Mish(_EchoModule):
    """Echo's Mish: polyact's ``mish``, x * tanh(softplus(x))."""

    def __init__(self) -> None:
        super().__init__(Plan("mish", {}, {}))


class Swish(_EchoModule):
    """Echo's Swish family; the flags pick, in this order: ``eswish`` (E-swish,
    beta * x * sigmoid(x), polyact's ``e_swish`` with Echo's beta = 1.735),
    ``flatten`` (Echo's Flatten T-Swish with T = 0, i.e. clip(x * sigmoid(x), 0):
    polyact's ``flatten_t_swish`` at threshold=0, whereas its default, the paper's,
    is T = -0.2), ``swish`` (x * sigmoid(beta1 x) with a trainable beta1 starting
    at 1: polyact's ``swish_beta``; Echo draws it from N(0, 1)); all False: SiLU."""

    def __init__(
        self, eswish: bool = False, swish: bool = True, beta: float = 1.735, flatten: bool = False
    ) -> None:
        super().__init__(swish_plan(eswish, swish, beta, flatten, flatten_threshold=0.0))


class Aria2(_EchoModule):
    """Echo's Aria2 as Echo documents and computes it: (1 + exp(-beta x))^(-alpha),
    WITHOUT the paper's factor x, so it is a generalised sigmoid in (0, 1) and not
    polyact's ``aria2`` (x * (1 + exp(-beta x))^(-alpha), the ARiA paper's form)."""

    def __init__(self, beta: float = 0.5, alpha: float = 1.0) -> None:
        super().__init__(aria2_plan(beta, alpha))


class Elish(_EchoModule):
    """Echo's ELiSH (polyact's ``elish``), or Hard ELiSH with ``hard=True``
    (polyact's ``hard_elish``, with exp(x) - 1 as Echo's page writes it)."""

    def __init__(self, hard: bool = False) -> None:
        super().__init__(elish_plan(hard))


class ISRU(_EchoModule):
    """Echo's ISRU x / sqrt(1 + alpha x^2) (polyact's ``isru``), or ISRLU with
    ``isrlu=True`` (polyact's ``isrlu``)."""

    def __init__(self, alpha: float = 1.0, isrlu: bool = False) -> None:
        super().__init__(isru_plan(alpha, isrlu))


class NLReLU(_EchoModule):
    """Echo's NLReLU: polyact's ``nlrelu``, log(1 + beta * max(0, x))."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__(Plan("nlrelu", {"beta": beta}, {}))


class SoftClipping(_EchoModule):
    """Echo's Soft Clipping: polyact's ``soft_clipping`` (finite for every x)."""

    def __init__(self, alpha: float = 0.5) -> None:
        super().__init__(Plan("soft_clipping", {"alpha": alpha}, {}))


class SoftExponential(_EchoModule):
    """Echo's Soft Exponential with a trainable alpha (0 when None): polyact's
    ``soft_exponential``, the paper's formula as Echo's code has it (Echo's page
    misprints two branches); alpha trains from 0, which Echo's never does."""

    def __init__(self, alpha: Optional[float] = None) -> None:
        super().__init__(soft_exponential_plan(alpha))

    @property
    def alpha(self) -> Any:
        return self.act.alpha


class SQNL(_EchoModule):
    """Echo's SQNL: polyact's ``sqnl``."""

    def __init__(self) -> None:
        super().__init__(Plan("sqnl", {}, {}))


class SReLU(_EchoModule):
    """Echo's SReLU with one trainable (t_r, t_l, a_r, a_l) per feature of the last
    axis: polyact's ``srelu``, t + a (x - t) outside [t_l, t_r] as the paper and
    Echo's page write it (Echo's code uses x + t). ``parameters`` (t_r, t_l, a_r,
    a_l) are copied; without them polyact's deterministic start (t_l = 0,
    a_l = 0.2, t_r = 1, a_r = 1) replaces Echo's N(0, 1) draws."""

    def __init__(self, in_features: Any, parameters: Optional[Sequence[Any]] = None) -> None:
        super().__init__(srelu_plan(in_features, parameters))

    tr = property(lambda self: self.act.t_right)
    tl = property(lambda self: self.act.t_left)
    ar = property(lambda self: self.act.a_right)
    al = property(lambda self: self.act.a_left)


class FReLU(_EchoModule):
    """Echo's MegEngine FReLU, the funnel activation max(x, BN(depthwise 3x3
    conv(x))) on NCHW input: polyact's ``funnel_relu``."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(Plan("funnel_relu", {"in_channels": in_channels}, {}))
