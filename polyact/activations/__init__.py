"""The built-in catalogue: one module per family, each activation declared once.

Importing this package registers every built-in activation.
"""

from __future__ import annotations

from . import (  # noqa: F401
    axis,
    gelu_variants,
    gelus,
    rectifiers,
    research,
    sigmoids,
    standard,
    stochastic,
    structural,
    swishes,
    trainable,
)
