"""Shape of the turnout and vote-share distributions: skewness, kurtosis, Hartigan's dip test, the turnout–share
correlation and the Sobyanin slope (notes §1.6; the Election Forensics Toolkit's ``Skew``, ``Kurt``, ``DipT``,
``Correlation`` and ``Sobyanin``, kkalininMI/EFToolkit: R/BasicElectionForensics.R).

Stuffing ballots for one candidate raises turnout and that candidate's share together, so the share distribution
gains a long right tail (skewness, kurtosis), a second mode (dip test), and share climbs with turnout (correlation,
slope). Each is a pure function of per-unit fractions.

* Skewness g₁ = m₃/m₂^{3/2} and kurtosis b₂ = m₄/m₂² (moment estimators, as R's ``moments`` package; normal: 0
  and 3). Their intervals come from the nonparametric delta method: the empirical influence function of each
  statistic, whose variance over the units estimates the statistic's (the infinitesimal jackknife, the large-sample
  limit of the Toolkit's bootstrap, at O(n) cost). Their p-values test the normal values with D'Agostino's and
  Anscombe–Glynn's tests, which hold their size at moderate n where a z on the delta-method s.e. does not.
* Dip test: Hartigan & Hartigan (1985), Ann. Statist. 13(1):70–84, via the ``diptest`` package (p-value from its
  table of the dip's null distribution under the uniform, the least favourable unimodal law).
* Correlation: Pearson's r with the Fisher-z interval; p-value of the t-test of r = 0.
* Sobyanin slope: OLS slope β of leader share on turnout with a heteroskedasticity-robust (HC1) interval. The
  Toolkit's Sobyanin–Sukhovolsky measure β − mean share is the effect. ``details`` also give the slope of the
  leader's votes per registered voter on turnout, which cannot exceed 1 unless votes move from other candidates
  (each extra ballot adds at most one vote for the leader).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from ..errors import ConfigError
from ._types import Finding

__all__ = ["moments_with_influence", "skewness", "kurtosis", "dip_test", "turnout_share_correlation",
           "sobyanin_slope"]

_DIP_TABLE_MAX_N = 72_000  # the diptest package's table of the dip's null distribution stops here

CAVEAT_SHAPE = (
    "Skewed, heavy-tailed or multimodal turnout and shares are what stuffing produces, but also what a country of "
    "different regions produces: a flag is a question for auditors, never a verdict of fraud. Compare regions "
    "separately (Kobak: Crimea alone makes Russia 2018 bimodal); with tens of thousands of units even a harmless "
    "departure from the normal is significant, so read the effect size."
)
CAVEAT_TURNOUT = (
    "Share rising with turnout is what stuffing produces, but differential turnout does it legitimately (a "
    "candidate's voters may simply turn out more), and so does mixing regions; Deckert et al. warn the regression "
    "is meaningful only in otherwise homogeneous data. A flag is a question for auditors, never a verdict of fraud."
)


def _fractions(x: np.ndarray, minimum: int, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < minimum:
        raise ConfigError(f"{what} needs at least {minimum} units with a finite value, not {x.size}")
    return x


def moments_with_influence(x: np.ndarray) -> tuple[float, float, float, float]:
    """(g₁, se(g₁), b₂, se(b₂)): skewness and kurtosis with delta-method standard errors from their influence
    functions IF_g₁(x) = [d³ − m₃ − 3 m₂ d]/m₂^{3/2} − (3/2) g₁ (d² − m₂)/m₂ and
    IF_b₂(x) = [d⁴ − m₄ − 4 m₃ d]/m₂² − 2 b₂ (d² − m₂)/m₂, d = x − mean."""
    d = x - x.mean()
    d2 = d * d
    m2, m3, m4 = d2.mean(), (d2 * d).mean(), (d2 * d2).mean()
    if m2 <= 0:
        return 0.0, float("nan"), float("nan"), float("nan")
    g1 = m3 / m2**1.5
    b2 = m4 / m2**2
    influence_g1 = (d2 * d - m3 - 3 * m2 * d) / m2**1.5 - 1.5 * g1 * (d2 - m2) / m2
    influence_b2 = (d2 * d2 - m4 - 4 * m3 * d) / m2**2 - 2 * b2 * (d2 - m2) / m2
    n = x.size
    return float(g1), float(influence_g1.std() / np.sqrt(n)), float(b2), float(influence_b2.std() / np.sqrt(n))


def _moment_finding(name: str, scope: str, estimate: float, se: float, null: float, n: int, level: float,
                    test) -> Finding:
    z_crit = stats.norm.ppf((1 + level) / 2)
    result = test  # a SciPy test result: statistic, pvalue
    return Finding(name=name, scope=scope, statistic=estimate, effect=estimate - null,
                   p_value=float(result.pvalue), interval=(estimate - z_crit * se, estimate + z_crit * se),
                   flagged_units=(), caveat=CAVEAT_SHAPE,
                   details={"n": n, "null": null, "se": se, "z": float(result.statistic),
                            "interval_is": f"{level:.0%} normal interval, delta-method (influence-function) s.e.",
                            "p_value_is": _MOMENT_TESTS[name]})


# The interval describes the data whatever their law; the p-value tests the normal law's value, by the tests that
# are accurate at moderate n (b₂'s sampling law stays skewed long after the delta method would have it normal).
_MOMENT_TESTS = {"skewness": "D'Agostino's test of normal skewness (scipy.stats.skewtest)",
                 "kurtosis": "Anscombe–Glynn test of normal kurtosis (scipy.stats.kurtosistest)"}


def skewness(x: np.ndarray, *, scope: str, level: float = 0.95) -> Finding:
    """Skewness of per-unit fractions (normal: 0)."""
    x = _fractions(x, 20, "skewness")
    g1, se, _, _ = moments_with_influence(x)
    return _moment_finding("skewness", scope, g1, se, 0.0, x.size, level, stats.skewtest(x))


def kurtosis(x: np.ndarray, *, scope: str, level: float = 0.95) -> Finding:
    """Kurtosis b₂ of per-unit fractions (normal: 3)."""
    x = _fractions(x, 20, "kurtosis")
    _, _, b2, se = moments_with_influence(x)
    return _moment_finding("kurtosis", scope, b2, se, 3.0, x.size, level, stats.kurtosistest(x))


def dip_test(x: np.ndarray, *, scope: str) -> Finding:
    """Hartigan's dip statistic and p-value (``diptest``, tabulated null)."""
    import diptest

    x = _fractions(x, 10, "the dip test")
    with warnings.catch_warnings():
        # Above 72,000 units the package extrapolates its table, and says so; details say it instead.
        warnings.simplefilter("ignore", UserWarning)
        dip, p = diptest.diptest(np.sort(x), sort_x=False)
    note = "interpolated from the diptest package's table of critical values"
    if x.size > _DIP_TABLE_MAX_N:
        note += f" (tabulated up to n = {_DIP_TABLE_MAX_N:,}; beyond, the largest n's values are used)"
    return Finding(name="dip_test", scope=scope, statistic=float(dip), effect=float(dip), p_value=float(p),
                   interval=None, flagged_units=(), caveat=CAVEAT_SHAPE,
                   details={"n": int(x.size), "null": "unimodal", "p_value_is": note})


def _pairs(turnout: np.ndarray, share: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(turnout, dtype=np.float64)
    v = np.asarray(share, dtype=np.float64)
    if t.shape != v.shape:
        raise ConfigError("turnout and share must have the same length")
    keep = np.isfinite(t) & np.isfinite(v)
    if keep.sum() < 10:
        raise ConfigError(f"turnout against share needs at least 10 units, not {int(keep.sum())}")
    return t[keep], v[keep]


def turnout_share_correlation(turnout: np.ndarray, share: np.ndarray, *, scope: str,
                              level: float = 0.95) -> Finding:
    """Pearson r(turnout, share) with the Fisher-z interval; the Toolkit's |r| > 0.4 rule is in ``details``."""
    t, v = _pairs(turnout, share)
    n = t.size
    r = float(np.corrcoef(t, v)[0, 1]) if t.std() > 0 and v.std() > 0 else 0.0
    r_c = min(max(r, -0.999999), 0.999999)
    half = stats.norm.ppf((1 + level) / 2) / np.sqrt(n - 3)
    interval = (float(np.tanh(np.arctanh(r_c) - half)), float(np.tanh(np.arctanh(r_c) + half)))
    t_stat = r_c * np.sqrt((n - 2) / (1 - r_c**2))
    return Finding(name="turnout_share_correlation", scope=scope, statistic=r, effect=r,
                   p_value=float(2 * stats.t.sf(abs(t_stat), n - 2)), interval=interval, flagged_units=(),
                   caveat=CAVEAT_TURNOUT,
                   details={"n": n, "toolkit_rule_abs_r_over_0_4": abs(r) > 0.4,
                            "interval_is": f"{level:.0%} Fisher-z interval"})


def _ols_hc1(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(intercept, slope, HC1 s.e. of the slope) of y on x."""
    n = x.size
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0:
        return float(y.mean()), 0.0, float("nan")
    slope = float(xc @ (y - y.mean())) / sxx
    intercept = float(y.mean() - slope * x.mean())
    residual = y - intercept - slope * x
    variance = float((xc * xc) @ (residual * residual)) / sxx**2 * n / (n - 2)
    return intercept, slope, float(np.sqrt(variance))


def sobyanin_slope(turnout: np.ndarray, share: np.ndarray, *, scope: str, level: float = 0.95) -> Finding:
    """Slope of leader share on turnout (per unit, fractions) with an HC1 interval and the p-value of slope = 0;
    effect = slope − mean share (the Toolkit's Sobyanin–Sukhovolsky measure)."""
    t, v = _pairs(turnout, share)
    n = t.size
    intercept, slope, se = _ols_hc1(t, v)
    _, votes_slope, votes_se = _ols_hc1(t, t * v)  # leader votes per registered voter on turnout
    crit = stats.t.ppf((1 + level) / 2, n - 2)
    z = slope / se if se > 0 else float("nan")
    return Finding(name="sobyanin_slope", scope=scope, statistic=slope, effect=slope - float(v.mean()),
                   p_value=float(2 * stats.t.sf(abs(z), n - 2)) if np.isfinite(z) else None,
                   interval=(slope - crit * se, slope + crit * se), flagged_units=(), caveat=CAVEAT_TURNOUT,
                   details={"n": n, "intercept": intercept, "se_hc1": se, "mean_share": float(v.mean()),
                            "effect_is": "slope − mean share (Sobyanin–Sukhovolsky measure of the Toolkit)",
                            "votes_per_registered_slope": votes_slope,
                            "votes_per_registered_interval": (votes_slope - crit * votes_se,
                                                              votes_slope + crit * votes_se),
                            "votes_per_registered_slope_over_1": bool(votes_slope - crit * votes_se > 1.0),
                            "interval_is": f"{level:.0%} interval, HC1 robust s.e."})
