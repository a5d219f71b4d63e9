"""Shared pieces of the sequential tests of a nonnegative population mean (SHANGRLA's ``NonnegMean``).

Every test here takes the sample ``x`` in the order it was drawn, as a 1-D array (one audit) or a 2-D array (one
simulated audit per row; the draws run along the last axis), so that sample-size simulations and validity checks
run thousands of audits in one NumPy call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["RiskResult", "as_sample", "null_means", "finish_martingale", "EPS"]

#: Machine epsilon, as SHANGRLA uses it to keep estimates strictly inside (t, u).
EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class RiskResult:
    """A sequential test's result: the p-value and its history after each draw.

    ``p_value`` is a float for one audit, an array (one per row) for a 2-D sample. ``p_history[..., j]`` is the
    p-value after draw j+1 (meaningful as a sequence only when the draws are in random order).
    """

    p_value: float | np.ndarray
    p_history: np.ndarray

    def __iter__(self):  # lets callers write ``p, history = alpha_mart(x)`` as with SHANGRLA
        return iter((self.p_value, self.p_history))


def as_sample(x, *, N: float, name: str = "x") -> np.ndarray:
    """``x`` as a float array with at least one draw, checked against the population size ``N``."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ConfigError(f"{name}: the sample is empty")
    if arr.ndim > 2:
        raise ConfigError(f"{name}: expected a 1-D sample or a 2-D array of samples, got shape {arr.shape}")
    if not (math.isinf(N) and N > 0) and not (float(N).is_integer() and N > 0):
        raise ConfigError(f"N must be a positive integer or inf, not {N!r}")
    if arr.shape[-1] > N:
        raise ConfigError(f"{name}: the sample ({arr.shape[-1]} draws) is larger than the population (N={N})")
    return arr


def null_means(x: np.ndarray, *, N: float, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SHANGRLA's ``sjm``: running sums and the population mean left after each draw if the null holds.

    ``S_j = Σ_{i<j} x_i`` (so ``S_1 = 0``), ``S_tot = Σ x_i``, ``j = 1, 2, …``, and
    ``m_j = (N t − S_j)/(N − j + 1)`` without replacement (finite N), ``m_j = t`` with replacement (N = inf).
    Returns ``(S, S_tot, j, m)``, each broadcastable against ``x``.
    """
    csum = np.cumsum(x, axis=-1)
    total = csum[..., -1]
    before = csum - x  # sum of the draws before draw j
    j = np.arange(1, x.shape[-1] + 1, dtype=float)
    if math.isinf(N):
        m = np.full(x.shape, float(t))
    else:
        m = (N * t - before) / (N - j + 1)
    return before, total, j, m


def finish_martingale(terms: np.ndarray, m: np.ndarray, total: np.ndarray, *, N: float, t: float, u: float,
                      atol: float = 2 * EPS, rtol: float = 1e-6) -> RiskResult:
    """Turn a running product (the test martingale) into a p-value and history, with SHANGRLA's edge rules.

    Applied, in this order, to the running product exactly as ``NonnegMean.alpha_mart``/``betting_mart`` do:
    a null mean above ``u`` makes the term 0 (the null is surely true); a null mean of 0 or of ``u`` makes it 1
    (uninformative); a vanished product becomes 1; a negative null mean makes it infinite (the null is surely
    false); and if the whole sample already exceeds ``N t`` the last term is infinite. p = min(1, 1/max term).
    """
    terms = np.array(terms, dtype=float, copy=True)
    m = np.broadcast_to(m, terms.shape)
    terms[m > u] = 0.0
    terms[np.isclose(0.0, m, atol=atol)] = 1.0
    terms[np.isclose(u, m, atol=atol, rtol=rtol)] = 1.0
    terms[np.isclose(0.0, terms, atol=atol)] = 1.0
    terms[m < 0] = np.inf
    if not math.isinf(N):
        exceeded = np.asarray(total > N * t)
        last = terms[..., -1]
        terms[..., -1] = np.where(exceeded, np.inf, last)
    with np.errstate(divide="ignore"):
        history = np.minimum(1.0, 1.0 / terms)
        p = np.minimum(1.0, 1.0 / np.max(terms, axis=-1))
    return RiskResult(p_value=float(p) if np.ndim(p) == 0 else p, p_history=history)
