"""The ALPHA supermartingale test and its estimators of the alternative mean.

Stark, P.B. (2023) "ALPHA: Audit that Learns from Previously Hand-Audited Ballots", *Annals of Applied
Statistics* 17(1):641–679. Tests H0: the mean of a population of N values in [0, u] is ≤ t, from draws in random
order, with replacement (N = inf) or without (finite N). After draw j the martingale is

    T_j = Π_{i≤j} ( x_i η_i/m_i + (u − x_i)(u − η_i)/(u − m_i) ) / u,

where m_i is the null mean of what remains before draw i (see ``_sequence.null_means``) and η_i ∈ (m_i, u] is an
estimate of the true mean from the draws before i only (so T is a nonnegative supermartingale under H0). The
p-value is min(1, 1/max_j T_j) (Ville's inequality). With N = inf, a fixed η and x ∈ {0, ½, 1} this is BRAVO.

Same values as SHANGRLA's ``NonnegMean(test=alpha_mart, estim=…)`` (pbstark/SHANGRLA @9d5db92) for the same
inputs; the estimators are passed by name or as a function ``estim(x, *, N, t, u, eta) -> η`` array.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError
from ._sequence import EPS, RiskResult, as_sample, finish_martingale, null_means

__all__ = ["alpha_mart", "fixed_alternative_mean", "shrink_trunc", "optimal_comparison", "ESTIMATORS"]


def fixed_alternative_mean(x: np.ndarray, *, N: float = math.inf, t: float = 0.5, u: float = 1.0,
                           eta: float | None = None, **_: object) -> np.ndarray:
    """η_j for a fixed alternative that the original population mean is ``eta``.

    η_j = (N η − S_j)/(N − j + 1) without replacement, η with replacement (SHANGRLA ``fixed_alternative_mean``).
    ``eta`` defaults to t + (u − t)/2, the default of SHANGRLA's ``NonnegMean`` constructed without an estimator
    (named explicitly, SHANGRLA's estimator would default to u(1 − ε)).
    """
    eta = t + (u - t) / 2 if eta is None else eta
    return null_means(np.asarray(x, dtype=float), N=N, t=eta)[3]


def _running_variance(x: np.ndarray) -> np.ndarray:
    """Population variance of the first j draws, for every j (what Welford's method gives, vectorized)."""
    shifted = x - x[..., :1]  # the variance is shift-invariant; shifting by the first draw limits cancellation
    j = np.arange(1, x.shape[-1] + 1, dtype=float)
    mean = np.cumsum(shifted, axis=-1) / j
    return np.maximum(np.cumsum(shifted * shifted, axis=-1) / j - mean * mean, 0.0)


def shrink_trunc(x: np.ndarray, *, N: float = math.inf, t: float = 0.5, u: float = 1.0, eta: float | None = None,
                 c: float | None = None, d: float = 100.0, f: float = 0.0, minsd: float = 1e-6,
                 **_: object) -> np.ndarray:
    """The shrink-truncate estimator of ALPHA §2.5.2 (SHANGRLA ``shrink_trunc``).

    The running mean is shrunk towards ``eta`` (weight ``d`` against one draw), then towards ``u`` (weight
    ``f``/sd_j), and truncated into [m_j + e_j, u(1−ε) − e_j] with e_j = c/√(d + j − 1):

        η_j = ( [(d η + S_j)/(d + j − 1) + f u/sd_j] / (1 + f/sd_j) ∨ (m_j(1+ε) + e_j) ) ∧ (u(1−ε) − e_j),

    with sd_1 = sd_2 = 1 and sd_j = max(minsd, sd of the first j−1 draws). Defaults as SHANGRLA: η = u(1−ε),
    c = (η − t)/2 − ε (halved as SHANGRLA does when the bounds would cross), d = 100, f = 0, minsd = 1e-6.
    """
    eta = u * (1 - EPS) if eta is None else eta
    c = (eta - t) / 2 - EPS if c is None else c
    if u - c < t + c:
        new_c = (u - c) / 2
        warnings.warn(f"shrink_trunc: c={c} is too large; using {new_c}", stacklevel=2)
        c = new_c
    x = np.asarray(x, dtype=float)
    before, _, j, m = null_means(x, N=N, t=t)
    sd = np.sqrt(_running_variance(x))
    sd = np.concatenate([np.ones(x.shape[:-1] + (1,)), np.maximum(sd, minsd)[..., :-1]], axis=-1)
    if x.shape[-1] > 1:
        sd[..., 1] = 1.0
    weighted = ((d * eta + before) / (d + j - 1) + u * f / sd) / (1 + f / sd)
    tol = c / np.sqrt(d + j - 1)
    return np.minimum(u * (1 - EPS) - tol, np.maximum(weighted, m * (1 + EPS) + tol))


def optimal_comparison(x: np.ndarray, *, u: float = 1.0, error_rate_2: float = 1e-5, **_: object) -> np.ndarray:
    """η for card-level comparison audits that is optimal if only 2-vote overstatements occur (rate p2).

    η = (1 − u(1 − p2))/(2 − 2u) + u(1 − p2) − ½, where u = 2/(2 − v) is the overstatement assorter's upper
    bound (SHANGRLA ``optimal_comparison``; ALPHA §2.5.3). A constant, broadcast to the sample's shape.
    """
    if u <= 1:
        raise ConfigError(f"optimal_comparison is for comparison audits, where u = 2/(2 − v) > 1; u = {u}")
    value = (1 - u * (1 - error_rate_2)) / (2 - 2 * u) + u * (1 - error_rate_2) - 0.5
    return np.full(np.shape(x), value)


ESTIMATORS: dict[str, Callable[..., np.ndarray]] = {
    "fixed_alternative_mean": fixed_alternative_mean,
    "shrink_trunc": shrink_trunc,
    "optimal_comparison": optimal_comparison,
}


def alpha_mart(x, *, N: float = math.inf, t: float = 0.5, u: float = 1.0,
               estim: str | Callable[..., np.ndarray] = "shrink_trunc", eta: float | None = None,
               c: float | None = None, d: float = 100.0, f: float = 0.0, minsd: float = 1e-6,
               error_rate_2: float = 1e-5) -> RiskResult:
    """ALPHA p-value and p-value history for H0: mean ≤ t, values in [0, u] (Stark 2023, eq. 8–10).

    ``x``: draws in the order sampled (1-D), or one simulated audit per row (2-D). ``N``: population size
    (inf = sampling with replacement). ``estim``: ``"shrink_trunc"`` (with ``eta, c, d, f, minsd``),
    ``"fixed_alternative_mean"`` (with ``eta``; default t + (u−t)/2), ``"optimal_comparison"`` (with
    ``error_rate_2``), or a function of the sample returning η_j. **The draws must be in random order.**
    """
    x = as_sample(x, N=N)
    if u <= 0 or not (0 <= t <= u):
        raise ConfigError(f"alpha_mart needs 0 <= t <= u and u > 0, not t={t}, u={u}")
    estimator = ESTIMATORS.get(estim) if isinstance(estim, str) else estim
    if estimator is None:
        raise ConfigError(f"unknown ALPHA estimator {estim!r}; expected one of {sorted(ESTIMATORS)} or a function")
    # an estimate outside [0, u] could make a factor negative; the built-in estimators never leave it
    eta_j = np.clip(estimator(x, N=N, t=t, u=u, eta=eta, c=c, d=d, f=f, minsd=minsd, error_rate_2=error_rate_2),
                    0.0, u)
    _, total, _, m = null_means(x, N=N, t=t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = np.cumprod((x * eta_j / m + (u - x) * (u - eta_j) / (u - m)) / u, axis=-1)
    return finish_martingale(terms, m, total, N=N, t=t, u=u)
