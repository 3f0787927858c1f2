"""Drop-in facades for code written against other activation libraries.

- :mod:`polyact.compat.echo.t_ops` (torch) and :mod:`polyact.compat.echo.m_ops`
  (MegEngine): Echo's classes, names and constructor signatures;
- :mod:`polyact.compat.zeta`: zeta's ``LaplaceActivation`` (mu and sigma as
  keyword arguments of ``forward``).

Every facade is built on polyact's registry, so it gets the same numerics,
special-value handling and kernels as ``polyact.get_activation``. Importing this
package imports no framework; each backend module imports its own.
"""

from __future__ import annotations
