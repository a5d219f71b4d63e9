"""Betting martingale tests of a nonnegative population mean, and the bets that drive them.

Waudby-Smith, I. & Ramdas, A. (2024) "Estimating means of bounded random variables by betting", *JRSS B*
86(1):1–27; Stark (2023) ALPHA §2.3 (the same tests, parametrized by bets λ instead of alternatives η). Tests
H0: mean ≤ t for values in [0, u] from draws in random order; after draw j the gambler's wealth is

    K_j = Π_{i≤j} (1 + λ_i (x_i − m_i)),   λ_i ∈ [0, 1/m_i] chosen from the draws before i,

and p = min(1, 1/max_j K_j). Same values as SHANGRLA's ``NonnegMean(test=betting_mart, bet=…)`` (@9d5db92).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import optimize

from ..errors import ConfigError
from ._sequence import EPS, RiskResult, as_sample, finish_martingale, null_means

__all__ = ["betting_mart", "mix_betting_mart", "fixed_bet", "agrapa", "kelly_optimal", "BETS"]


def fixed_bet(x: np.ndarray, *, lam: float = 0.5, **_: object) -> np.ndarray:
    """The same bet λ on every draw (SHANGRLA ``fixed_bet``)."""
    return np.full(np.shape(x), float(lam))


def agrapa(x: np.ndarray, *, N: float = math.inf, t: float = 0.5, lam: float = 0.5,
           c_grapa_0: float = 1 - EPS, c_grapa_max: float = 1 - EPS, c_grapa_grow: float = 0.0,
           **_: object) -> np.ndarray:
    """The approximate-GRAPA bet of Waudby-Smith & Ramdas (2024) §B.3, truncated to [0, c_j/m_j].

    λ_1 = ``lam``; λ_j = 0 ∨ (μ̂_{j−1} − m_j)/(σ̂²_{j−1} + (m_j − μ̂_{j−1})²) ∧ c_j/m_j with μ̂, σ̂² the running
    mean and (population) variance of the draws so far and c_j = c_0 + (c_max − c_0)(1 − 1/(1 + c_grow √(j−1))),
    exactly as SHANGRLA's ``agrapa``.
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    j = np.arange(1, n + 1, dtype=float)
    running_mean = np.cumsum(x, axis=-1) / j
    shifted = x - x[..., :1]
    running_var = np.maximum(np.cumsum(shifted * shifted, axis=-1) / j - (np.cumsum(shifted, axis=-1) / j) ** 2, 0)
    if math.isinf(N):
        t_adj = np.full(x.shape, float(t))
    else:
        t_adj = (N * t - (np.cumsum(x, axis=-1) - x)) / (N - np.arange(n))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = (running_mean - t_adj) / (running_var + (t_adj - running_mean) ** 2)
    lam_j = np.concatenate([np.full(x.shape[:-1] + (1,), float(lam)), raw[..., :-1]], axis=-1)
    c = c_grapa_0 + (c_grapa_max - c_grapa_0) * (1 - 1 / (1 + c_grapa_grow * np.sqrt(np.arange(n))))
    return np.maximum(0.0, np.minimum(c / t_adj, lam_j))


def kelly_optimal(x: np.ndarray, *, t: float = 0.5, pop: np.ndarray | None = None, **_: object) -> np.ndarray:
    """The Kelly-optimal fixed bet for the population ``pop`` (default: the sample itself), on [0, 1/t].

    λ* solves Σ (x − t)/(1 + λ(x − t)) = 0 (maximal expected log growth); at an end of [0, 1/t] when the slope
    does not change sign (SHANGRLA ``kelly_optimal``). Only legitimate prospectively (from CVRs or a pilot).
    """
    values = np.asarray(x if pop is None else pop, dtype=float).ravel()

    def slope(lam: float) -> float:
        with np.errstate(divide="ignore"):  # a zero at λ = 1/t bets everything: wealth 0, slope −inf
            return float(np.sum((values - t) / (1 + lam * (values - t))))

    low, high = slope(0.0), slope(1 / t)
    if low > 0 and high > 0:
        lam = 1 / t
    elif low < 0 and high < 0:
        lam = 0.0
    else:
        lam = optimize.root_scalar(slope, bracket=[0, 1 / t], method="bisect").root
    return np.full(np.shape(x), lam)


BETS: dict[str, Callable[..., np.ndarray]] = {"fixed_bet": fixed_bet, "agrapa": agrapa, "kelly_optimal": kelly_optimal}


def _wealth(x: np.ndarray, lam: np.ndarray, m: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.cumprod(1 + lam * (x - m), axis=-1)


def betting_mart(x, *, N: float = math.inf, t: float = 0.5, u: float = 1.0,
                 bet: str | Callable[..., np.ndarray] = "fixed_bet", lam: float = 0.5, **bet_params) -> RiskResult:
    """Betting-martingale p-value and history for H0: mean ≤ t, values in [0, u] (draws in random order).

    ``bet``: ``"fixed_bet"`` (``lam``), ``"agrapa"`` (``lam`` as the first bet, ``c_grapa_0``, ``c_grapa_max``,
    ``c_grapa_grow``), ``"kelly_optimal"`` (``pop``), or a function of the sample returning λ_j.
    """
    x = as_sample(x, N=N)
    if not 0 < t <= u:
        raise ConfigError(f"betting_mart needs 0 < t <= u, not t={t}, u={u}")
    chooser = BETS.get(bet) if isinstance(bet, str) else bet
    if chooser is None:
        raise ConfigError(f"unknown bet {bet!r}; expected one of {sorted(BETS)} or a function")
    _, total, _, m = null_means(x, N=N, t=t)
    # a bet outside [0, 1/m_j] could make the wealth negative (and a product of negatives large): clip it
    with np.errstate(divide="ignore"):
        lam_j = np.clip(chooser(x, N=N, t=t, u=u, lam=lam, **bet_params), 0.0, np.where(m > 0, 1 / m, np.inf))
    return finish_martingale(_wealth(x, lam_j, m), m, total, N=N, t=t, u=u)


def mix_betting_mart(x, *, N: float = math.inf, t: float = 0.5, u: float = 1.0,
                     lams: Sequence[float] | np.ndarray | None = None) -> RiskResult:
    """A flat mixture of fixed-bet martingales: K_j = mean over λ in ``lams`` of Π (1 + λ(x_i − m_i)).

    ``lams`` defaults to 100 equally spaced bets on [0, 1/t] (SHANGRLA ``mix_betting_mart``). A mixture of test
    martingales is a test martingale, so the p-value 1/max K_j is valid without choosing one bet in advance.
    SHANGRLA builds each component with t = ½ whatever ``t`` is; here every component tests the same ``t``.
    """
    x = as_sample(x, N=N)
    if not 0 < t <= u:
        raise ConfigError(f"mix_betting_mart needs 0 < t <= u, not t={t}, u={u}")
    grid = np.linspace(0, 1 / t, 100) if lams is None else np.asarray(lams, dtype=float)
    if np.any(grid < 0) or np.any(grid > 1 / t):
        raise ConfigError(f"mix_betting_mart: every bet must be in [0, 1/t] = [0, {1 / t}]")
    _, _, _, m = null_means(x, N=N, t=t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        components = np.cumprod(1 + grid.reshape((-1,) + (1,) * x.ndim) * (x - m), axis=-1)
    mixture = components.mean(axis=0)
    with np.errstate(divide="ignore"):
        p = np.minimum(1.0, 1.0 / np.max(mixture, axis=-1))
        return RiskResult(p_value=float(p) if np.ndim(p) == 0 else p, p_history=np.minimum(1.0, 1.0 / mixture))
