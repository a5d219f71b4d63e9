"""Election forensics on published per-unit results: digit tests, integer-percent excess, the Klimek fingerprint,
distribution shape, outliers against history, and the battery that runs them all (docs/forensics.md).

Every test is a pure function on NumPy arrays returning a :class:`Finding`. A finding is a question for auditors,
never a verdict of fraud. ``run_battery`` is imported lazily so that ``from veritally.forensics import UnitResults``
does not pull in SciPy and matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._types import Finding, UnitResults

__all__ = ["UnitResults", "Finding", "run_battery"]

if TYPE_CHECKING:
    from .battery import run_battery


def __getattr__(name: str):
    if name == "run_battery":
        from .battery import run_battery

        return run_battery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
