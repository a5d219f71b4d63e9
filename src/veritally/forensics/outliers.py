"""Outliers against history: each unit's result set against what its previous-election result predicts (notes §1.7).

Model (an overdispersed binomial fitted robustly, in the spirit of Wand et al. 2001, "The Butterfly Did It", APSR
95(4), and Mebane & Sekhon 2004, AJPS 48(2)): unit i has y_i successes out of m_i trials (the leader's votes out of
valid votes, or ballots out of registered voters), with

    logit π_i = β₀ + β₁ · logit(s_i) [+ β₂ · c_i …],   E y_i = m_i π_i,
    Var y_i = φ m_i π_i (1 − π_i) (1 + (m_i − 1) ρ),

s_i the unit's previous share (empirical logit (y + ½)/(m + 1) so that 0 % and 100 % stay finite) and c_i further
covariates. The variance is the beta-binomial's: swings that differ from unit to unit add variance in proportion to
m², not m, so a quasi-binomial φ alone would flag the largest units by their size; ρ is chosen so that the
residuals' size no longer grows with the unit's (rank correlation zero). The Pearson residuals
r_i = (y_i − m_i π_i)/√(m_i π_i (1 − π_i)(1 + (m_i − 1)ρ)) are fitted by
``scipy.optimize.least_squares`` with a robust loss (``soft_l1`` by default, or ``huber``), so that a few stuffed
units cannot drag the line to themselves; the dispersion φ is estimated robustly as (1.4826 · MAD(r))², the
standardised residuals are z_i = r_i/√φ, the two-sided p-values 2Φ(−|z_i|), and units are flagged by
Benjamini–Hochberg across all units at rate q. The global p-value reported is Simes's, min_i m p_(i)/i (the smallest
BH q-value), valid for the hypothesis that no unit is an outlier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import brentq, least_squares
from scipy.special import expit, logit

from ..errors import ConfigError
from ._types import Finding
from .fdr import bh_adjust

__all__ = ["HistoryFit", "fit_history", "history_finding"]

CAVEAT = (
    "A unit far from what its previous result predicts is a question for auditors, never a verdict of fraud: "
    "boundaries redrawn between elections, new candidates or issues, a closed factory or a new housing estate all "
    "move a unit legitimately, and the model assumes one swing for every unit."
)


@dataclass(frozen=True)
class HistoryFit:
    """The fitted model and per-unit results (arrays over the units used)."""

    used: np.ndarray  # (n,) bool over the input units: enough trials now and before
    coefficients: np.ndarray  # β
    dispersion: float  # φ
    rho: float  # ρ: extra-binomial variance growing with the unit's size
    expected: np.ndarray  # π̂ per used unit
    z: np.ndarray  # standardised residuals
    p: np.ndarray  # two-sided p-values
    q: np.ndarray  # BH q-values
    loss: str


def _empirical_logit(successes: np.ndarray, trials: np.ndarray) -> np.ndarray:
    return logit((successes + 0.5) / (trials + 1.0))


def fit_history(successes: np.ndarray, trials: np.ndarray, previous_successes: np.ndarray,
                previous_trials: np.ndarray, *, covariates: np.ndarray | None = None, loss: str = "soft_l1",
                min_trials: int = 20) -> HistoryFit:
    """Fit the model of the module docstring; units with fewer than ``min_trials`` trials now or before are left
    out (``used``)."""
    if loss not in ("soft_l1", "huber", "linear", "cauchy", "arctan"):
        raise ConfigError(f"unknown robust loss {loss!r}")
    y = np.asarray(successes, dtype=np.float64)
    m = np.asarray(trials, dtype=np.float64)
    y0 = np.asarray(previous_successes, dtype=np.float64)
    m0 = np.asarray(previous_trials, dtype=np.float64)
    used = (m >= min_trials) & (m0 >= min_trials) & (y >= 0) & (y <= m) & (y0 >= 0) & (y0 <= m0)
    if covariates is not None:
        extra = np.asarray(covariates, dtype=np.float64).reshape(y.size, -1)
        used &= np.all(np.isfinite(extra), axis=1)
    if used.sum() < 10:
        raise ConfigError(f"the history model needs at least 10 units matched with enough votes, not {int(used.sum())}")
    columns = [np.ones(int(used.sum())), _empirical_logit(y0[used], m0[used])]
    if covariates is not None:
        columns.extend(extra[used].T)
    design = np.column_stack(columns)
    y, m = y[used], m[used]

    def pearson(beta: np.ndarray, rho: float) -> np.ndarray:
        pi = np.clip(expit(design @ beta), 1e-9, 1 - 1e-9)
        return (y - m * pi) / np.sqrt(m * pi * (1 - pi) * (1 + (m - 1) * rho))

    def jacobian(beta: np.ndarray, rho: float) -> np.ndarray:
        # d r / d β for r = (y − mπ)/√(c mπ(1−π)), c = 1 + (m − 1)ρ, with dπ/dη = π(1−π).
        pi = np.clip(expit(design @ beta), 1e-9, 1 - 1e-9)
        v = m * pi * (1 - pi) * (1 + (m - 1) * rho)
        dv_dpi = m * (1 - 2 * pi) * (1 + (m - 1) * rho)
        dr_dpi = -m / np.sqrt(v) - (y - m * pi) * dv_dpi / (2 * v**1.5)
        return (dr_dpi * pi * (1 - pi))[:, None] * design

    # Start from least squares on the empirical logits, then a plain fit to set the scale of the robust loss.
    start = np.linalg.lstsq(design, _empirical_logit(y, m), rcond=None)[0]
    rho = 0.0
    beta = least_squares(pearson, start, jac=jacobian, args=(rho,), method="trf").x
    log_m = np.log(m)
    for _ in range(3):
        rho = _intraclass(pearson(beta, 0.0), m, log_m)
        scale = 1.4826 * float(np.median(np.abs(pearson(beta, rho))))
        beta = least_squares(pearson, beta, jac=jacobian, args=(rho,), loss=loss, f_scale=max(scale, 1e-6),
                             method="trf").x
    residual = pearson(beta, rho)
    dispersion = max(1.4826 * float(np.median(np.abs(residual))), 1e-12) ** 2
    z = residual / np.sqrt(dispersion)
    p = 2 * stats.norm.sf(np.abs(z))
    return HistoryFit(used=used, coefficients=beta, dispersion=dispersion, rho=rho, expected=expit(design @ beta),
                      z=z, p=p, q=bh_adjust(p), loss=loss)


def _rank_correlation(a: np.ndarray, b_ranks: np.ndarray) -> float:
    a_ranks = np.empty(a.size)
    a_ranks[np.argsort(a, kind="stable")] = np.arange(a.size)
    return float(np.corrcoef(a_ranks, b_ranks)[0, 1])


def _intraclass(raw: np.ndarray, m: np.ndarray, log_m: np.ndarray) -> float:
    """The ρ of Var y = φ m π(1 − π)(1 + (m − 1)ρ) at which the size of the residuals no longer grows with the
    unit's size (rank correlation of |r| with m is zero), or 0 when it does not grow at all. Ranks make the
    choice insensitive to the few outliers the fit is looking for."""
    m_ranks = np.empty(m.size)
    m_ranks[np.argsort(log_m, kind="stable")] = np.arange(m.size)
    size = np.abs(raw)

    def trend(rho: float) -> float:
        return _rank_correlation(size / np.sqrt(1 + (m - 1) * rho), m_ranks)

    if trend(0.0) <= 0:
        return 0.0
    if trend(1.0) >= 0:
        return 1.0
    return float(brentq(trend, 0.0, 1.0, xtol=1e-6))


def history_finding(unit: np.ndarray, fit: HistoryFit, *, scope: str, fdr_q: float = 0.05,
                    what: str) -> Finding:
    """The fit as one Finding: flagged units (BH at ``fdr_q``), Simes's global p-value, the fit's coefficients."""
    units = np.asarray(unit)[fit.used]
    flagged_mask = fit.q <= fdr_q
    order = np.argsort(-np.abs(fit.z))[:20]
    n = units.size
    return Finding(
        name="history_outlier", scope=scope, statistic=float(flagged_mask.sum()), effect=float(flagged_mask.mean()),
        p_value=float(np.nanmin(fit.q)) if n else None, interval=None,
        flagged_units=tuple(units[flagged_mask].tolist()), caveat=CAVEAT,
        details={"n": n, "modelled": what, "coefficients": fit.coefficients.tolist(), "dispersion": fit.dispersion,
                 "rho": fit.rho,
                 "loss": fit.loss, "fdr_q": fdr_q,
                 "multiple_testing": f"Benjamini–Hochberg over {n} units at q={fdr_q}",
                 "statistic_is": "units flagged", "effect_is": "share of units flagged",
                 "p_value_is": "Simes's global p-value (the smallest BH q-value)",
                 "largest_residuals": [{"unit": str(units[i]), "z": float(fit.z[i]), "q": float(fit.q[i])}
                                       for i in order]})
