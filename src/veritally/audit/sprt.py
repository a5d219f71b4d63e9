"""Wald's sequential probability ratio test, generalized to bounded values and to sampling without replacement.

Wald, A. (1945) "Sequential tests of statistical hypotheses", *Ann. Math. Stat.* 16:117–186; Stark (2023) ALPHA
§2.2 for the generalization: for values in [0, u], null mean t and alternative mean η,

    T_j = Π_{i≤j} ( x_i η_i/m_i + (u − x_i)(u − η_i)/(u − m_i) ) / u,

with m_i and η_i the null and alternative means of what remains before draw i (both fixed when N = inf). For
x ∈ {0, 1} and N = inf this is Wald's SPRT for a Bernoulli, and for ballot polling with x ∈ {0, ½, 1} (loser,
neither, winner) it is BRAVO (Lindeman, Stark & Yates 2012). SHANGRLA's ``wald_sprt`` multiplies the running
product a second time (``np.cumprod`` applied twice); this is the test as the papers define it.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ._sequence import RiskResult, as_sample, finish_martingale, null_means

__all__ = ["wald_sprt"]


def wald_sprt(x, *, eta: float, N: float = math.inf, t: float = 0.5, u: float = 1.0,
              random_order: bool = True) -> RiskResult:
    """SPRT p-value and history for H0: mean ≤ t against the alternative mean ``eta`` (values in [0, u])."""
    x = as_sample(x, N=N)
    if np.any((x < 0) | (x > u)):
        raise ConfigError(f"wald_sprt: data out of range [0, {u}]")
    if not (0 <= t < eta <= u):
        raise ConfigError(f"wald_sprt needs 0 <= t < eta <= u, not t={t}, eta={eta}, u={u}")
    if not math.isinf(N) and not random_order:
        raise ConfigError("wald_sprt: draws without replacement must be in random order")
    _, total, _, m = null_means(x, N=N, t=t)
    _, _, _, etas = null_means(x, N=N, t=eta)
    # without replacement the alternative left can leave [0, u]; clipped, every factor stays nonnegative with
    # expectation 1 under the null, so the product is still a test supermartingale
    etas = np.clip(etas, 0.0, u)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = np.cumprod((x * etas / m + (u - x) * (u - etas) / (u - m)) / u, axis=-1)
    result = finish_martingale(terms, m, total, N=N, t=t, u=u)
    if random_order:
        return result
    last = result.p_history[..., -1]
    return RiskResult(p_value=float(last) if np.ndim(last) == 0 else last, p_history=result.p_history)
