"""Digit tests on vote counts: Mebane's second-digit Benford test (2BL) and the last-digit tests of Mebane
(LastC, C05s, P05s) and Beber & Scacco (uniformity, repeated and adjacent final pairs). Notes §1.2–1.3.

Each function takes the counts of one candidate (or the turnout counts) over the units and returns one
:class:`~veritally.forensics.Finding`. Counts are non-negative integers; digits are found by integer division, not
through strings.

First-digit Benford is deliberately absent: precincts are built to similar sizes, so a candidate's counts span one
or two orders of magnitude and their first digits follow precinct size × vote share, not Benford (docs/forensics.md).

Bootstrap intervals resample the units: for a statistic of the digits alone (a mean digit, a share of 0s and 5s) a
resample's digit counts are Multinomial(N, observed frequencies), so each replicate is one multinomial draw, not N
index draws. The interval is the *basic* bootstrap interval (2θ̂ − q_.975, 2θ̂ − q_.025), as in the Election Forensics
Toolkit (kkalininMI/EFToolkit: R/BasicElectionForensics.R, ``boot.ci(type="basic")``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import InputError
from ._types import Finding

__all__ = ["BENFORD_SECOND", "BENFORD_SECOND_MEAN", "second_digit", "last_digits", "second_digit_benford",
           "last_digit_uniform", "last_digit_mean", "last_digit_05", "percent_last_digit_05", "final_pairs"]

#: P(second digit = j), j = 0..9, under Benford's law: Σ_{k=1..9} log10(1 + 1/(10k + j)).
BENFORD_SECOND = np.log10(1.0 + 1.0 / (10.0 * np.arange(1, 10)[:, None] + np.arange(10)[None, :])).sum(axis=0)
#: Its mean, 4.187 (Mebane's reference value for the 2BL test).
BENFORD_SECOND_MEAN = float(BENFORD_SECOND @ np.arange(10))

_DIGITS = np.arange(10)
_POWERS = 10 ** np.arange(19, dtype=np.int64)

CAVEAT_2BL = (
    "A departure of second digits from Benford's law is a question for auditors, never a verdict of fraud: Mebane "
    "himself warns that strategic voting and other complications move the digits, Deckert, Myagkov & Ordeshook (2011) "
    "show fair elections that deviate and frauds that comply, and with tens of thousands of counts X² rejects "
    "trivial deviations, so read the effect size. Counts below 10 have no second digit and are excluded."
)
CAVEAT_LAST = (
    "Last digits of fairly counted votes are close to uniform only when counts span many tens; small counts skew "
    "them toward low digits, so counts below the minimum are excluded. A flag is a question for auditors, never a "
    "verdict of fraud: human-invented numbers are one cause among several, and with many candidates and regions "
    "some tests fail by chance (see the battery's multiple-testing note)."
)


def _counts(values: np.ndarray, field: str) -> np.ndarray:
    x = np.asarray(values)
    if x.dtype.kind not in "iu":
        raise InputError(f"{field} must hold integer counts, not {x.dtype}", field=field, expected="integers")
    x = x.astype(np.int64, copy=False)
    if x.size and x.min() < 0:
        raise InputError(f"{field} holds a negative count ({int(x.min())})", field=field, expected="counts ≥ 0")
    return x


def _digit_length(x: np.ndarray) -> np.ndarray:
    """Number of decimal digits of each positive integer (1 for 0..9), by comparison with powers of ten."""
    return np.searchsorted(_POWERS, x, side="right")


def second_digit(counts: np.ndarray) -> np.ndarray:
    """Second digits of the counts ≥ 10 (others dropped): (x // 10^(L−2)) mod 10 for an L-digit x."""
    x = _counts(counts, "counts")
    x = x[x >= 10]
    return (x // _POWERS[_digit_length(x) - 2]) % 10


def last_digits(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(last, penultimate) digits of the counts (penultimate 0 for one-digit counts)."""
    x = _counts(counts, "counts")
    return x % 10, (x // 10) % 10


def _basic_interval(estimate: float, replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return float(2 * estimate - hi), float(2 * estimate - lo)


def _bootstrap_digit_mean(frequencies: np.ndarray, values: np.ndarray, n: int, rng: np.random.Generator,
                          replicates: int) -> np.ndarray:
    draws = rng.multinomial(n, frequencies / frequencies.sum(), size=replicates)
    return draws @ values / n


def _pearson(observed: np.ndarray, probabilities: np.ndarray) -> tuple[float, float, float]:
    """Pearson X², its p-value (df = cells − 1) and Cramér's V = sqrt(X² / (N (cells − 1)))."""
    n = observed.sum()
    expected = n * probabilities
    x2 = float(((observed - expected) ** 2 / expected).sum())
    df = observed.size - 1
    return x2, float(stats.chi2.sf(x2, df)), float(np.sqrt(x2 / (n * df)))


def _too_few(name: str, scope: str, n: int, minimum: int, caveat: str, extra: dict | None = None) -> Finding:
    return Finding(name=name, scope=scope, statistic=None, effect=None, p_value=None, interval=None,
                   flagged_units=(), caveat=caveat,
                   details={"n": n, "not_computed": f"{n} usable counts; the test needs at least {minimum}",
                            **(extra or {})})


def second_digit_benford(counts: np.ndarray, *, scope: str, replicates: int = 1000, seed: int = 20180318,
                         min_n: int = 50, level: float = 0.95) -> Finding:
    """Mebane's 2BL test on the counts ≥ 10 of one candidate (or turnout).

    statistic = mean second digit d̄₂ (Benford: 4.187); effect = d̄₂ − 4.187; interval = basic bootstrap
    ``level`` interval of d̄₂ (``replicates`` seeded resamples); p_value = Pearson X² against
    :data:`BENFORD_SECOND` with 9 df. ``details`` adds X², Cramér's V, the digit counts and a z-test of the mean
    against Benford's own variance. Flagged (``details["interval_excludes_null"]``) when the interval excludes 4.187,
    Mebane's rule; the battery's FDR applies to the X² p-value.
    """
    x = _counts(counts, "counts")
    digits = second_digit(x)
    n = int(digits.size)
    extra = {"excluded_below_10": int((x < 10).sum()), "null_mean": BENFORD_SECOND_MEAN}
    if n < min_n:
        return _too_few("second_digit_benford", scope, n, min_n, CAVEAT_2BL, extra)
    observed = np.bincount(digits, minlength=10).astype(np.float64)
    mean = float(observed @ _DIGITS / n)
    x2, p, cramers_v = _pearson(observed, BENFORD_SECOND)
    rng = np.random.default_rng(seed)
    interval = _basic_interval(mean, _bootstrap_digit_mean(observed, _DIGITS, n, rng, replicates), level)
    null_sd = float(np.sqrt(BENFORD_SECOND @ _DIGITS**2 - BENFORD_SECOND_MEAN**2))
    z = (mean - BENFORD_SECOND_MEAN) / (null_sd / np.sqrt(n))
    return Finding(
        name="second_digit_benford", scope=scope, statistic=mean, effect=mean - BENFORD_SECOND_MEAN, p_value=p,
        interval=interval, flagged_units=(), caveat=CAVEAT_2BL,
        details={"n": n, **extra, "x2": x2, "df": 9, "cramers_v": cramers_v, "mean_z": float(z),
                 "mean_p_value": float(2 * stats.norm.sf(abs(z))),
                 "interval_excludes_null": not interval[0] <= BENFORD_SECOND_MEAN <= interval[1],
                 "digit_counts": observed.astype(int).tolist(), "expected_share": BENFORD_SECOND.tolist(),
                 "statistic_is": "mean second digit", "p_value_is": "Pearson X² against second-digit Benford, 9 df",
                 "bootstrap": f"basic, {replicates} seeded multinomial resamples, level {level}"})


def _filtered(counts: np.ndarray, min_count: int) -> tuple[np.ndarray, dict]:
    x = _counts(counts, "counts")
    keep = x >= min_count
    return x[keep], {"min_count": min_count, "excluded_below_min": int((~keep).sum())}


def last_digit_uniform(counts: np.ndarray, *, scope: str, min_count: int = 100, min_n: int = 50) -> Finding:
    """Beber & Scacco (2012): Pearson X² of the last digits of the counts ≥ ``min_count`` against the uniform
    distribution (9 df). statistic = X²; effect = Cramér's V; details hold each digit's share (0.10 expected)."""
    x, extra = _filtered(counts, min_count)
    if x.size < min_n:
        return _too_few("last_digit_uniform", scope, int(x.size), min_n, CAVEAT_LAST, extra)
    observed = np.bincount(x % 10, minlength=10).astype(np.float64)
    x2, p, v = _pearson(observed, np.full(10, 0.1))
    return Finding(name="last_digit_uniform", scope=scope, statistic=x2, effect=v, p_value=p, interval=None,
                   flagged_units=(), caveat=CAVEAT_LAST,
                   details={"n": int(x.size), **extra, "df": 9, "digit_counts": observed.astype(int).tolist(),
                            "statistic_is": "Pearson X² against uniform last digits", "effect_is": "Cramér's V"})


def last_digit_mean(counts: np.ndarray, *, scope: str, min_count: int = 100, replicates: int = 1000,
                    seed: int = 20180318, min_n: int = 50, level: float = 0.95) -> Finding:
    """Mebane's LastC: mean last digit (uniform null 4.5, variance 8.25) with a basic bootstrap interval; the
    p-value is the normal z-test of the mean against the null."""
    x, extra = _filtered(counts, min_count)
    n = int(x.size)
    if n < min_n:
        return _too_few("last_digit_mean", scope, n, min_n, CAVEAT_LAST, extra)
    observed = np.bincount(x % 10, minlength=10).astype(np.float64)
    mean = float(observed @ _DIGITS / n)
    rng = np.random.default_rng(seed)
    interval = _basic_interval(mean, _bootstrap_digit_mean(observed, _DIGITS, n, rng, replicates), level)
    z = (mean - 4.5) / np.sqrt(8.25 / n)
    return Finding(name="last_digit_mean", scope=scope, statistic=mean, effect=mean - 4.5,
                   p_value=float(2 * stats.norm.sf(abs(z))), interval=interval, flagged_units=(),
                   caveat=CAVEAT_LAST,
                   details={"n": n, **extra, "null_mean": 4.5, "z": float(z),
                            "interval_excludes_null": not interval[0] <= 4.5 <= interval[1],
                            "bootstrap": f"basic, {replicates} seeded multinomial resamples, level {level}"})


def _share_test(name: str, scope: str, hits: int, n: int, null: float, caveat: str, rng: np.random.Generator,
                replicates: int, level: float, details: dict) -> Finding:
    """A share of units against a null proportion: exact two-sided binomial p-value, basic bootstrap interval."""
    share = hits / n
    interval = _basic_interval(share, rng.binomial(n, share, size=replicates) / n, level)
    p = float(stats.binomtest(hits, n, null).pvalue)
    return Finding(name=name, scope=scope, statistic=share, effect=share - null, p_value=p, interval=interval,
                   flagged_units=(), caveat=caveat,
                   details={"n": n, "hits": hits, "null_share": null, **details,
                            "interval_excludes_null": not interval[0] <= null <= interval[1],
                            "p_value_is": "exact two-sided binomial test",
                            "bootstrap": f"basic, {replicates} seeded resamples, level {level}"})


def last_digit_05(counts: np.ndarray, *, scope: str, min_count: int = 100, replicates: int = 1000,
                  seed: int = 20180318, min_n: int = 50, level: float = 0.95) -> Finding:
    """Mebane's C05s: share of counts ≥ ``min_count`` ending in 0 or 5 (null 0.2)."""
    x, extra = _filtered(counts, min_count)
    if x.size < min_n:
        return _too_few("last_digit_05", scope, int(x.size), min_n, CAVEAT_LAST, extra)
    hits = int(np.isin(x % 10, (0, 5)).sum())
    return _share_test("last_digit_05", scope, hits, int(x.size), 0.2, CAVEAT_LAST, np.random.default_rng(seed),
                       replicates, level, extra)


def percent_last_digit_05(numerator: np.ndarray, denominator: np.ndarray, *, scope: str, replicates: int = 1000,
                          seed: int = 20180318, min_n: int = 50, level: float = 0.95) -> Finding:
    """Mebane's P05s: share of percentages 100·a/b, rounded to whole points (half to even, as R's ``round``),
    whose last digit is 0 or 5 (null 0.2). Units with b = 0 are left out; percentages above 100 are capped at
    100, as the Toolkit does."""
    a = _counts(numerator, "numerator")
    b = _counts(denominator, "denominator")
    keep = b > 0
    n = int(keep.sum())
    caveat = ("Rounded percentages ending in 0 or 5 more often than one time in five suggest figures written to a "
              "target, but where turnout or shares cluster within a few points the last digit is not uniform by "
              "itself; a flag is a question for auditors, never a verdict of fraud.")
    if n < min_n:
        return _too_few("percent_last_digit_05", scope, n, min_n, caveat)
    percent = np.minimum(np.round(100.0 * a[keep] / b[keep]), 100).astype(np.int64)
    hits = int(np.isin(percent % 10, (0, 5)).sum())
    return _share_test("percent_last_digit_05", scope, hits, n, 0.2, caveat, np.random.default_rng(seed),
                       replicates, level, {"excluded_zero_denominator": int((~keep).sum())})


def final_pairs(counts: np.ndarray, *, scope: str, min_count: int = 100, replicates: int = 1000,
                seed: int = 20180318, min_n: int = 50, level: float = 0.95) -> list[Finding]:
    """Beber & Scacco's final-pair tests on counts ≥ max(``min_count``, 10): the share whose last two digits repeat
    (null 0.10; fabricators write too few) and whose last two digits are adjacent, 0 and 9 counting as adjacent as
    in their Iran analysis (null 0.20; fabricators write too many)."""
    x, extra = _filtered(counts, max(min_count, 10))
    if x.size < min_n:
        return [_too_few(name, scope, int(x.size), min_n, CAVEAT_LAST, extra)
                for name in ("final_pair_repeated", "final_pair_adjacent")]
    last, penultimate = last_digits(x)
    gap = (last - penultimate) % 10
    rng = np.random.default_rng(seed)
    n = int(x.size)
    return [_share_test("final_pair_repeated", scope, int((gap == 0).sum()), n, 0.1, CAVEAT_LAST, rng, replicates,
                        level, extra),
            _share_test("final_pair_adjacent", scope, int(np.isin(gap, (1, 9)).sum()), n, 0.2, CAVEAT_LAST, rng,
                        replicates, level, {**extra, "adjacent_is": "last two digits differ by 1, 0 and 9 adjacent"})]
