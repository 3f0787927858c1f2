"""Echo's PyTorch activations (``echoAI.Activation.t_ops``) on polyact.

Each class has the name and constructor signature of Echo's PyTorch page and is a
``torch.nn.Module`` wrapping the polyact module it stands for (the ``act``
attribute), with trainable ``nn.Parameter``\\ s where Echo has them.

>>> from polyact.compat.echo.t_ops import Mish  # was: from echoAI.Activation.t_ops import Mish
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ... import registry
from ...errors import ActivationError
from . import (
    Plan,
    aria2_plan,
    brelu_plan,
    dice_plan,
    elish_plan,
    isru_plan,
    maxout_plan,
    probact_plan,
    soft_exponential_plan,
    srelu_plan,
    swish_plan,
    xunit_plan,
)

_BACKEND = registry.get_backend("torch")  # a clear error when torch is not installed

import torch  # noqa: E402

__all__ = [
    "APL",
    "AReLU",
    "DICE",
    "EIS",
    "SQNL",
    "ISRU",
    "Aria2",
    "BReLU",
    "Elish",
    "FReLU",
    "Funnel",
    "Maxout",
    "MPeLU",
    "Mish",
    "NLReLU",
    "ProbAct",
    "Seagull",
    "Sine",
    "SReLU",
    "Snake",
    "SoftClipping",
    "SoftExponential",
    "Swish",
    "TanhSoft",
    "XUnit",
]


class _EchoModule(torch.nn.Module):
    """A torch module that runs one polyact activation, ``self.act``."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan
        self.act = registry.get_activation(plan.name, "torch", **plan.params, **plan.options)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self.act(input)


class Mish(_EchoModule):
    """Echo's Mish: polyact's ``mish``, x * tanh(softplus(x))."""

    def __init__(self) -> None:
        super().__init__(Plan("mish", {}, {}))


class Swish(_EchoModule):
    """Echo's Swish family; the flags pick, in this order: ``eswish`` (E-swish,
    beta * x * sigmoid(x), polyact's ``e_swish`` with Echo's beta = 1.735),
    ``pfts`` (Parametric Flatten T-Swish, T trainable from -0.2), ``flatten``
    (Flatten T-Swish with T = -0.2, polyact's ``flatten_t_swish``), ``swish``
    (x * sigmoid(beta1 x) with a trainable beta1 starting at 1: polyact's
    ``swish_beta``; Echo draws it from N(0, 1)); all False: SiLU."""

    def __init__(
        self,
        eswish: bool = False,
        swish: bool = True,
        beta: float = 1.735,
        flatten: bool = False,
        pfts: bool = False,
    ) -> None:
        super().__init__(swish_plan(eswish, swish, beta, flatten, pfts))


class Aria2(_EchoModule):
    """Echo's Aria2 as Echo documents and computes it: (1 + exp(-beta x))^(-alpha),
    WITHOUT the paper's factor x, so it is a generalised sigmoid in (0, 1) and not
    polyact's ``aria2`` (x * (1 + exp(-beta x))^(-alpha), the ARiA paper's form)."""

    def __init__(self, beta: float = 0.5, alpha: float = 1.0) -> None:
        super().__init__(aria2_plan(beta, alpha))


class Elish(_EchoModule):
    """Echo's ELiSH (polyact's ``elish``), or Hard ELiSH with ``hard=True``
    (polyact's ``hard_elish``, with exp(x) - 1 as Echo's page writes it; Echo's
    code has exp(x - 1))."""

    def __init__(self, hard: bool = False) -> None:
        super().__init__(elish_plan(hard))


class ISRU(_EchoModule):
    """Echo's ISRU x / sqrt(1 + alpha x^2) (polyact's ``isru``), or ISRLU with
    ``isrlu=True`` (polyact's ``isrlu``)."""

    def __init__(self, alpha: float = 1.0, isrlu: bool = False) -> None:
        super().__init__(isru_plan(alpha, isrlu))


class NLReLU(_EchoModule):
    """Echo's NLReLU: polyact's ``nlrelu``, log(1 + beta * max(0, x)); with
    ``inplace=True`` the result is written into the input, which is returned."""

    def __init__(self, beta: float = 1.0, inplace: bool = False) -> None:
        super().__init__(Plan("nlrelu", {"beta": beta}, {}))
        self.inplace = inplace

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        out = self.act(input)
        return input.copy_(out) if self.inplace else out

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


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
    def alpha(self) -> torch.Tensor:
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


class Funnel(_EchoModule):
    """Echo's Funnel, the funnel activation max(x, BN(depthwise 3x3 conv(x))) on
    NCHW input: polyact's ``funnel_relu``."""

    def __init__(self, in_channels: int) -> None:
        super().__init__(Plan("funnel_relu", {"in_channels": in_channels}, {}))


class ProbAct(_EchoModule):
    """Echo's ProbAct relu(x) + sigma * N(0, 1) with a trainable sigma starting at
    ``init``: polyact's ``probact``, whose noise (as in the paper) is drawn in
    training mode only (Echo's also in evaluation mode). One sigma: polyact's has
    no per-feature form, so ``num_parameters`` must be 1."""

    def __init__(self, num_parameters: int = 1, init: float = 0) -> None:
        super().__init__(probact_plan(num_parameters, init))


class Seagull(_EchoModule):
    """Echo's Seagull: polyact's ``seagull``, log(1 + x^2)."""

    def __init__(self) -> None:
        super().__init__(Plan("seagull", {}, {}))


class TanhSoft(_EchoModule):
    """Echo's TanhSoft: polyact's ``tanhsoft``, tanh(alpha x + beta e^(gamma x)) ln(delta + e^x)
    (the same parameter checks: alpha <= 1, beta >= 0, gamma > 0, 0 <= delta <= 1)."""

    def __init__(self, alpha: float = 0.0, beta: float = 0.6, gamma: float = 1.0, delta: float = 0.0) -> None:
        super().__init__(Plan("tanhsoft", {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}, {}))


class EIS(_EchoModule):
    """Echo's EIS: polyact's ``eis``, x softplus(x)^alpha / (sqrt(beta + gamma x^2) + delta e^(-theta x)).
    Echo requires all five parameters; so does this class."""

    def __init__(self, alpha: float, beta: float, gamma: float, delta: float, theta: float) -> None:
        params = {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta, "theta": theta}
        super().__init__(Plan("eis", params, {}))


class FReLU(_EchoModule):
    """Echo's torch FReLU, the flexible ReLU: polyact's ``flexible_relu``, relu(x) + b
    with one trainable b (starting at 0, not Echo's N(0, 1) draw); ``in_channels`` is
    accepted and unused, as in Echo. (Echo's MegEngine FReLU is the funnel activation.)"""

    def __init__(self, in_channels: int) -> None:
        super().__init__(Plan("flexible_relu", {}, {}))


class AReLU(_EchoModule):
    """Echo's AReLU: polyact's ``arelu`` with trainable alpha and beta."""

    def __init__(self, alpha: float = 0.90, beta: float = 2.0) -> None:
        super().__init__(Plan("arelu", {"alpha": alpha, "beta": beta}, {}))


class MPeLU(_EchoModule):
    """Echo's MPeLU: polyact's ``mpelu`` with one trainable alpha and beta (Echo's
    scalars; polyact also offers them per channel)."""

    def __init__(self, alpha: float = 0.25, beta: float = 1.0) -> None:
        super().__init__(Plan("mpelu", {"alpha": alpha, "beta": beta}, {}))


class APL(_EchoModule):
    """Echo's APL with one hinge: polyact's ``apl`` with a and b shared by all units,
    as Echo's torch code has them (the paper has them per unit: polyact's
    ``apl`` with num_channels)."""

    def __init__(self, s: int = 1) -> None:
        if s != 1:
            raise ActivationError(f"polyact's apl has one hinge (s=1). Received: s={s!r}")
        super().__init__(Plan("apl", {}, {}))


class Snake(_EchoModule):
    """Echo's Snake: polyact's ``snake``, x + sin^2(a x) / a with one a per feature of
    the last axis. ``alpha=None`` starts a at 1.0 (Echo samples Exponential(0.1));
    ``alpha_trainable=False`` freezes it."""

    def __init__(self, in_features: Any, alpha: Optional[float] = None, alpha_trainable: bool = True) -> None:
        n = int(in_features if not isinstance(in_features, (tuple, list)) else in_features[-1])
        params = {} if alpha is None else {"a": float(alpha)}
        super().__init__(Plan("snake", params, {"num_channels": n, "channel_axis": -1}))
        self.act.a.requires_grad_(bool(alpha_trainable))


class Sine(_EchoModule):
    """Echo's Sine: polyact's ``sine``, sin(w0 x)."""

    def __init__(self, w0: float = 1.0) -> None:
        super().__init__(Plan("sine", {"w0": w0}, {}))


class BReLU(_EchoModule):
    """Echo's BReLU, the bipolar ReLU: relu(x_i) at even and -relu(-x_i) at odd
    unit indices i, as Echo's page writes it, along dim 1 (the units of (N, C),
    the channels of NCHW): polyact's ``bipolar_relu`` with axis=1. (Echo's code
    alternates along dim 0, the batch.)"""

    def __init__(self) -> None:
        super().__init__(brelu_plan())


class Maxout(_EchoModule):
    """Echo's Maxout: the maximum over groups of ``pool_size`` consecutive channels
    (dim 1): polyact's ``maxout`` with axis=1. Echo's default pool_size=1 is the
    identity, as in Echo; polyact's own default is 2."""

    def __init__(self, pool_size: int = 1) -> None:
        super().__init__(maxout_plan(pool_size))


class DICE(_EchoModule):
    """Echo's DICE: polyact's ``dice``, p x + alpha (1 - p) x with p = sigmoid(BN(x))
    over the last axis of (N, emb_size) (``dim=2``) or (N, L, emb_size) (``dim=3``)
    inputs; alpha trains from 0 as in the paper (Echo's stays 0)."""

    def __init__(self, emb_size: int, dim: int = 2, epsilon: float = 1e-8) -> None:
        super().__init__(dice_plan(emb_size, dim, epsilon))
        self.dim = dim

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() != self.dim:
            raise ActivationError(
                f"DICE(dim={self.dim}) expects a {self.dim}-D input, got shape {tuple(input.shape)}"
            )
        return self.act(input)


class XUnit(_EchoModule):
    """Echo's XUnit: polyact's ``xunit``, x exp(-u^2) with u = BN(depthwise k x k
    conv(ReLU(BN(x)))) on NCHW input (Echo's out_channels is the channel count)."""

    def __init__(self, out_channels: int, kernel_size: int = 9) -> None:
        super().__init__(xunit_plan(out_channels, kernel_size))
