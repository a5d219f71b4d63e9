"""Kaplan's classical tests of a nonnegative population mean: Kaplan–Markov, Kaplan–Wald, Kaplan–Kolmogorov.

Stark, P.B. (2009) "Risk-limiting post-election audits: P-values from common probability inequalities", *IEEE
Trans. Inf. Forensics Security* 4:1005–1014; Stark (2010) "Super-simple simultaneous single-ballot risk-limiting
audits", EVT/WOTE'10 (Kaplan–Markov for comparison audits). Each tests H0: the population mean is ≤ t, and
returns (p, p-history) exactly as SHANGRLA's ``NonnegMean`` (@9d5db92).
With ``random_order=True`` the p-value may stop at the best point of the sequence (optional stopping is valid
for draws in random order); with ``False`` only the end of the sample counts.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ._sequence import RiskResult, as_sample, null_means

__all__ = ["kaplan_markov", "kaplan_wald", "kaplan_kolmogorov"]


def _p(history: np.ndarray, *, random_order: bool) -> float | np.ndarray:
    p = np.min(history, axis=-1) if random_order else history[..., -1]
    p = np.minimum(1.0, p)
    return float(p) if np.ndim(p) == 0 else p


def _nonnegative(x: np.ndarray, name: str) -> None:
    if np.any(x < 0):
        raise ConfigError(f"{name}: {int(np.sum(x < 0))} negative values in a sample from a nonnegative population")


def kaplan_markov(x, *, g: float = 0.1, t: float = 0.5, random_order: bool = True) -> RiskResult:
    """Kaplan–Markov: p_j = Π_{i≤j} (t + g)/(x_i + g) (Markov's inequality applied to the running product).

    ``g`` ≥ 0 pads the draws so that a zero (e.g. a 2-vote overstatement) does not end the audit. For draws with
    replacement (or conservatively, a large population); SHANGRLA's ``kaplan_markov``.
    """
    x = as_sample(x, N=math.inf)
    _nonnegative(x, "kaplan_markov")
    with np.errstate(divide="ignore"):
        history = np.cumprod((t + g) / (x + g), axis=-1)
    return RiskResult(p_value=_p(history, random_order=random_order), p_history=np.minimum(history, 1.0))


def kaplan_wald(x, *, g: float = 0.1, t: float = 0.5, random_order: bool = True) -> RiskResult:
    """Kaplan–Wald: T_j = Π_{i≤j} ((1 − g) x_i/t + g), p = 1/max T_j, for g ∈ [0, 1] (SHANGRLA's ``kaplan_wald``)."""
    if not 0 <= g <= 1:
        raise ConfigError(f"kaplan_wald: g={g}, but g must be between 0 and 1")
    x = as_sample(x, N=math.inf)
    _nonnegative(x, "kaplan_wald")
    terms = np.cumprod((1 - g) * x / t + g, axis=-1)
    with np.errstate(divide="ignore"):
        inverse = 1.0 / terms
    return RiskResult(p_value=_p(inverse, random_order=random_order), p_history=np.minimum(inverse, 1.0))


def kaplan_kolmogorov(x, *, N: float = math.inf, t: float = 0.5, g: float = 0.0,
                      random_order: bool = True) -> RiskResult:
    """Kaplan–Kolmogorov, with or without replacement: T_j = Π (x_i + g)/m_i with m_i the null mean of the
    padded population left before draw i (``null_means`` with t + g); p = 1/max T_j (SHANGRLA's
    ``kaplan_kolmogorov``). A negative null mean makes the term infinite (the null is surely false)."""
    x = as_sample(x, N=N)
    _nonnegative(x, "kaplan_kolmogorov")
    _, _, _, m = null_means(x + g, N=N, t=t + g)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = np.cumprod((x + g) / m, axis=-1)
    terms[np.broadcast_to(m < 0, terms.shape)] = np.inf
    terms[np.isnan(terms)] = 1.0  # 0/0: a null mean of 0 left and a zero drawn says nothing
    with np.errstate(divide="ignore"):
        inverse = 1.0 / terms
    return RiskResult(p_value=_p(inverse, random_order=random_order), p_history=np.minimum(inverse, 1.0))
