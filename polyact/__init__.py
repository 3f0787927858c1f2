"""polyact: every activation function, declared once, on PyTorch, JAX, MegEngine and NumPy.

>>> import polyact as pa
>>> act = pa.get_activation("mish", backend="numpy")
>>> round(float(act(1.0)), 6)
0.865098

Importing polyact imports no framework; a backend imports its framework the
first time it is asked for.
"""

from __future__ import annotations

from .errors import (
    ActivationError,
    BackendNotInstalledError,
    DuplicateRegistrationError,
    InvalidInputError,
    InvalidParameterError,
    PolyactError,
    UnknownActivationError,
    UnknownBackendError,
    UnknownKernelError,
    UnknownParameterError,
)
from .registry import (
    PluginWarning,
    apply,
    auto_kernel,
    available_backends,
    describe,
    from_config,
    get_activation,
    get_backend,
    get_function,
    get_spec,
    kernels,
    list_activations,
    list_backends,
    load_plugins,
    register_activation,
    register_kernel,
    to_config,
    unregister_activation,
)
from .selection import use_kernel
from .spec import (
    REQUIRED,
    ActivationSpec,
    Domain,
    Interval,
    Kernel,
    Kink,
    Layer,
    Native,
    Param,
    Reference,
    integer_at_least,
    nonnegative,
    nonzero,
    positive,
    real,
)

__version__ = "0.1.0"

__all__ = [
    "REQUIRED",
    "ActivationError",
    "ActivationSpec",
    "BackendNotInstalledError",
    "Domain",
    "DuplicateRegistrationError",
    "Interval",
    "InvalidInputError",
    "InvalidParameterError",
    "Kernel",
    "Kink",
    "Layer",
    "Native",
    "Param",
    "PluginWarning",
    "PolyactError",
    "Reference",
    "UnknownActivationError",
    "UnknownBackendError",
    "UnknownKernelError",
    "UnknownParameterError",
    "__version__",
    "apply",
    "auto_kernel",
    "available_backends",
    "describe",
    "from_config",
    "get_activation",
    "get_backend",
    "get_function",
    "get_spec",
    "integer_at_least",
    "kernels",
    "list_activations",
    "list_backends",
    "load_plugins",
    "nonnegative",
    "nonzero",
    "positive",
    "real",
    "register_activation",
    "register_kernel",
    "to_config",
    "unregister_activation",
    "use_kernel",
]
