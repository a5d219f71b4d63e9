"""False-discovery-rate control across many p-values: Benjamini–Hochberg and Benjamini–Yekutieli.

Forensics tests thousands of units (and a battery of tests on each contest); at 5 % per test, hundreds of clean units
would be "flagged" by chance alone (notes §1.9). These adjustments turn raw p-values into q-values whose rejection set
keeps the expected share of false flags at or below ``q``.

* Benjamini & Hochberg (1995), "Controlling the false discovery rate", JRSS B 57(1):289–300: sort the m p-values,
  q_(i) = min_{j ≥ i} min(1, m p_(j) / j). Valid for independent or positively dependent (PRDS) p-values.
* Benjamini & Yekutieli (2001), "The control of the false discovery rate in multiple testing under dependency",
  Ann. Statist. 29(4):1165–1188: the same with m replaced by m·c(m), c(m) = Σ_{i=1..m} 1/i. Valid under any
  dependence, at the price of power.

Both agree with :func:`scipy.stats.false_discovery_control` (a test checks it). Unlike SciPy's, these accept NaN
(a test that could not be computed): NaN p-values are left out of m and come back as NaN.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

__all__ = ["bh_adjust", "by_adjust", "fdr_adjust", "fdr_reject"]


def _step_up(p: np.ndarray, factor_of_m) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise ConfigError("p-values must lie in [0, 1]")
    values = p[finite]
    m = values.size
    if m == 0:
        return out
    order = np.argsort(values, kind="stable")
    ranks = np.arange(1, m + 1, dtype=np.float64)
    scaled = values[order] * (factor_of_m(m) / ranks)
    # The running minimum from the largest p down makes the q-values monotone in p (the "step-up" of BH).
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    back = np.empty(m)
    back[order] = adjusted
    out[finite] = back
    return out


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values of ``p`` (NaN stays NaN and does not count in m)."""
    return _step_up(p, lambda m: float(m))


def by_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Yekutieli q-values of ``p``: BH with m·Σ_{i≤m} 1/i, valid under arbitrary dependence."""
    return _step_up(p, lambda m: m * float(np.sum(1.0 / np.arange(1, m + 1))))


def fdr_adjust(p: np.ndarray, method: str = "bh") -> np.ndarray:
    """q-values by ``method`` ``"bh"`` or ``"by"``."""
    if method == "bh":
        return bh_adjust(p)
    if method == "by":
        return by_adjust(p)
    raise ConfigError(f"unknown FDR method {method!r} (expected 'bh' or 'by')")


def fdr_reject(p: np.ndarray, q: float = 0.05, method: str = "bh") -> np.ndarray:
    """Boolean mask of the hypotheses rejected at false-discovery rate ``q`` (NaN p-values are never rejected)."""
    if not 0 < q < 1:
        raise ConfigError(f"the false-discovery rate q must lie strictly between 0 and 1, not {q}")
    adjusted = fdr_adjust(p, method)
    return np.isfinite(adjusted) & (adjusted <= q)
