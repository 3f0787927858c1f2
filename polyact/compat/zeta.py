"""zeta's ``LaplaceActivation`` on polyact (torch).

zeta (``kyegomez/zeta``) passes the Laplace activation's mu and sigma to
``forward``; this module keeps that calling convention::

    from polyact.compat.zeta import LaplaceActivation  # was: from zeta.nn import LaplaceActivation

    act = LaplaceActivation()
    y = act(x)                      # mu = 0.707107, sigma = 0.282095
    y = act(x, mu=0.5, sigma=0.3)   # per call, as in zeta
"""

from __future__ import annotations

from typing import Any, Callable, Dict

from .. import registry

_BACKEND = registry.get_backend("torch")  # a clear error when torch is not installed

import torch  # noqa: E402

__all__ = ["LaplaceActivation"]

#: zeta's defaults: sqrt(1/2) and sqrt(1/(4 pi)) rounded to six decimals
ZETA_MU = 0.707107
ZETA_SIGMA = 0.282095

_FN: Dict[str, Callable[..., Any]] = {}


def _laplace() -> Callable[..., Any]:
    fn = _FN.get("laplace")
    if fn is None:
        fn = _FN["laplace"] = registry.get_function("laplace", "torch")
    return fn


class LaplaceActivation(torch.nn.Module):
    """zeta's LaplaceActivation: polyact's ``laplace``, 0.5 (1 + erf((x - mu) / (sigma sqrt 2))),
    with mu and sigma given to ``forward`` (defaults zeta's 0.707107 and 0.282095,
    which polyact's ``laplace`` holds unrounded as sqrt(1/2) and sqrt(1/(4 pi)))."""

    def forward(self, input: torch.Tensor, mu: Any = ZETA_MU, sigma: Any = ZETA_SIGMA) -> torch.Tensor:
        return _laplace()(input, mu=mu, sigma=sigma)
