"""The environment provides the backends it must (make test / CI set POLYACT_REQUIRE_BACKENDS)."""

from __future__ import annotations

import numpy as np
import pytest

import polyact as pa

from .conftest import INSTALLED, REQUIRED


@pytest.mark.parametrize("backend", REQUIRED or ["numpy"])
def test_required_backend_is_installed_and_works(backend):
    assert backend in INSTALLED, f"backend {backend!r} is required here but its framework is not installed"
    be = pa.get_backend(backend)
    y = pa.get_function("relu", backend)(be.from_numpy(np.array([-1.0, 1.0]), "float32"))
    assert be.to_numpy(y).tolist() == [0.0, 1.0]
