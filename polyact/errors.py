"""Exception types raised by polyact.

Every error polyact raises derives from :class:`PolyactError`. Each one also
derives from the built-in exception a Python user would expect to catch: an
unknown name is a ``KeyError`` *and* a ``ValueError``, an integer tensor is a
``TypeError``, a backend that is not installed is an ``ImportError``.
"""

from __future__ import annotations

__all__ = [
    "ActivationError",
    "BackendNotInstalledError",
    "DuplicateRegistrationError",
    "InvalidInputError",
    "InvalidParameterError",
    "PolyactError",
    "UnknownActivationError",
    "UnknownBackendError",
    "UnknownKernelError",
    "UnknownParameterError",
]


class PolyactError(Exception):
    """Root of every exception raised by polyact."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""


class ActivationError(PolyactError, ValueError):
    """A value is not acceptable (bad parameter, bad registration, ...)."""


class UnknownActivationError(ActivationError, KeyError):
    """No activation is registered under this name (both KeyError and ValueError)."""


class UnknownBackendError(ActivationError, KeyError):
    """The backend name is not one polyact knows."""


class UnknownKernelError(ActivationError, KeyError):
    """The kernel name is not registered for this activation and backend."""


class BackendNotInstalledError(PolyactError, ImportError):
    """The backend is known but its framework cannot be imported here."""


class InvalidParameterError(ActivationError):
    """A parameter value lies outside its domain."""


class UnknownParameterError(PolyactError, TypeError):
    """A keyword argument names no parameter of the activation."""


class DuplicateRegistrationError(ActivationError):
    """A name or kernel is already registered and ``override=False``."""


class InvalidInputError(PolyactError, TypeError):
    """The input tensor cannot be used (integer dtype, wrong framework, ...)."""
