"""The built-in catalogue: one module per family, each activation declared once.

Importing this package registers every built-in activation.
"""

from __future__ import annotations

from . import gelus, rectifiers, sigmoids, structural, swishes  # noqa: F401
