"""Backends: one module per framework with the same contract (see ``_base``).

Backend modules are imported only when a backend is first asked for, and they
import their framework only when first used.
"""

from __future__ import annotations

#: backend name -> module implementing it
BACKEND_MODULES = {
    "numpy": "polyact.backends.numpy",
    "torch": "polyact.backends.torch",
    "jax": "polyact.backends.jax",
    "megengine": "polyact.backends.megengine",
    "reference": "polyact.backends.reference",
}
