"""Where the shared conformance material lives (../shared beside the project root), and a skip helper."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
RCTAB = SHARED / "conformance" / "rctab"
NIST_CDF = SHARED / "conformance" / "nist-cdf"


def need(path: Path) -> Path:
    """``path``, or skip the test with a clear reason when the shared folder is absent (as on a user's machine)."""
    if not path.exists():
        pytest.skip(f"shared conformance material not found: {path} (CI and developers have ../shared)")
    return path
