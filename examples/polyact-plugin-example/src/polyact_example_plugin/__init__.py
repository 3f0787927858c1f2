"""An example polyact plug-in: the Smooth ReLU (SmeLU) activation.

polyact calls :func:`register` once, the first time it lists its activations or
misses a name (entry-point group ``polyact.plugins``, see ``pyproject.toml``).
After that, ``smelu`` works on every backend polyact supports, is covered by
``polyact check`` and gets a page in ``polyact docs``.
"""

from __future__ import annotations

import polyact as pa

__all__ = ["NAMES", "register"]

#: the activations this plug-in adds
NAMES = ("smelu",)

_REFERENCE = pa.Reference(
    "Smooth activations and reproducibility in deep networks",
    "2010.09931",
    "Shamir, Lin & Coviello",
    2020,
)


def _smelu(x, ops, beta):
    """Smooth ReLU: 0 below -beta, (x + beta)^2 / (4 beta) on [-beta, beta], x above beta."""
    # clamp x into [-beta, beta] with `where` (a NaN input stays NaN), so that the
    # quadratic branch never sees a large x: no overflow, no inf * 0 in a gradient
    xm = ops.where(x < -beta, -beta, ops.where(x > beta, beta, x))
    u = xm + beta  # in [0, 2 beta]
    t = u / (2.0 * beta)  # in [0, 1]: the derivative on the quadratic part
    return ops.where(x > beta, x, 0.5 * u * t)  # u * t / 2 = (x + beta)^2 / (4 beta), never overflows


def _smelu_grad(x, ops, beta):
    """0 below -beta, (x + beta) / (2 beta) on [-beta, beta], 1 above beta."""
    xm = ops.where(x < -beta, -beta, ops.where(x > beta, beta, x))
    return (xm + beta) / (2.0 * beta)


def register() -> None:
    """Register this plug-in's activations (idempotent)."""
    try:
        pa.get_spec("smelu")
        return  # registered already (polyact calls this once; a second call changes nothing)
    except pa.UnknownActivationError:
        pass
    pa.register_activation(
        "smelu",
        _smelu,
        params={
            "beta": pa.Param(1.0, domain=pa.positive, doc="half-width of the quadratic region around 0"),
        },
        aliases=("smooth_relu",),
        formula=(
            r"\begin{cases} 0 & x \le -\beta \\ \frac{(x + \beta)^2}{4\beta} & |x| \le \beta"
            r" \\ x & x \ge \beta \end{cases}"
        ),
        summary="Smooth ReLU: a ReLU whose corner is replaced by a quadratic of half-width beta.",
        grad=_smelu_grad,
        examples=({"beta": 0.5}, {"beta": 3.0}),
        bounded=False,
        monotone=True,
        smooth=False,  # continuously differentiable; the second derivative jumps at +-beta
        references=(_REFERENCE,),
        notes=("Added by the polyact-example-plugin package (an example of a plug-in).",),
    )
