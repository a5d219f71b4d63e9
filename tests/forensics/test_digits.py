"""Digit tests: the second-digit Benford law and the values of notes §1.2–1.3 (Russia 2018, Delaware 2016), digit
extraction against string arithmetic, calibration on counts drawn from each test's null, and detection of planted
invented numbers."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

from veritally.errors import InputError
from veritally.forensics import digits

from .._shared import SHARED, need
from ._ru2018 import CANDIDATES

DELAWARE_2016 = SHARED / "data" / "openelections_20161108__de__general__precinct.csv"


def _delaware_president(candidate: str) -> np.ndarray:
    """Votes per election district for one presidential candidate, the statewide "Total" rows dropped
    (PROVENANCE.md §2: they would double every total)."""
    with open(need(DELAWARE_2016), newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh)
                if r["office"] == "President" and r["election_district"] != "Total" and r["candidate"] == candidate]
    return np.array([int(r["votes"]) for r in rows], dtype=np.int64)


def test_second_digit_benford_law_is_the_published_table():
    # notes §1.2: .11968 .11389 .10882 .10433 .10031 .09668 .09337 .09035 .08757 .08500, mean 4.187
    published = [0.11968, 0.11389, 0.10882, 0.10433, 0.10031, 0.09668, 0.09337, 0.09035, 0.08757, 0.08500]
    assert np.round(digits.BENFORD_SECOND, 5).tolist() == published
    assert digits.BENFORD_SECOND.sum() == pytest.approx(1.0)
    assert round(digits.BENFORD_SECOND_MEAN, 3) == 4.187


@pytest.mark.parametrize(("candidate", "n", "mean", "x2"),
                         [("Putin", 97_428, 4.017, 612), ("Grudinin", 84_800, 4.032, 281)])
def test_2bl_on_russia_2018_matches_the_notes(ru2018, candidate, n, mean, x2):
    finding = digits.second_digit_benford(ru2018.votes[:, CANDIDATES.index(candidate)], scope=candidate)
    assert finding.details["n"] == n
    assert round(finding.statistic, 3) == mean
    assert round(finding.details["x2"]) == x2
    lo, hi = finding.interval
    assert lo < finding.statistic < hi and hi < digits.BENFORD_SECOND_MEAN  # Mebane's flag: CI excludes 4.187
    assert finding.details["interval_excludes_null"]


@pytest.mark.parametrize(("candidate", "n", "mean", "x2"),
                         [("Clinton H", 430, 4.098, 14.9), ("Trump D", 426, 4.432, 8.2)])
def test_2bl_on_delaware_2016_matches_the_notes(candidate, n, mean, x2):
    finding = digits.second_digit_benford(_delaware_president(candidate), scope=candidate)
    assert finding.details["n"] == n
    assert round(finding.statistic, 3) == mean
    assert round(finding.details["x2"], 1) == x2
    assert finding.p_value == pytest.approx(stats.chi2.sf(finding.details["x2"], 9))
    assert not finding.details["interval_excludes_null"] or candidate == "Trump D"


@pytest.mark.parametrize(("candidate", "all_counts", "from_100"), [("Grudinin", 98.1, 34.1), ("Putin", 10.4, 17.4)])
def test_last_digit_uniformity_on_russia_2018_matches_the_notes(ru2018, candidate, all_counts, from_100):
    counts = ru2018.votes[:, CANDIDATES.index(candidate)]
    assert round(digits.last_digit_uniform(counts, scope=candidate, min_count=0).statistic, 1) == all_counts
    assert round(digits.last_digit_uniform(counts, scope=candidate, min_count=100).statistic, 1) == from_100


def test_p05s_of_russian_turnout_matches_the_notes(ru2018):
    finding = digits.percent_last_digit_05(ru2018.received, ru2018.registered, scope="turnout")
    assert round(finding.statistic, 3) == 0.230  # notes §1.6
    assert finding.p_value < 1e-50


def test_digits_agree_with_string_arithmetic():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(0, 10**9, 5000), 10 ** np.arange(1, 18), 10 ** np.arange(1, 18) - 1])
    strings = [str(v) for v in x]
    assert digits.second_digit(x).tolist() == [int(s[1]) for s in strings if len(s) >= 2]
    last, penultimate = digits.last_digits(x)
    assert last.tolist() == [int(s[-1]) for s in strings]
    assert penultimate.tolist() == [int(s[-2]) if len(s) >= 2 else 0 for s in strings]


def _ks_uniform(p_values: np.ndarray) -> float:
    return stats.kstest(p_values, "uniform").pvalue


def test_clean_counts_give_uniform_p_values():
    rng = np.random.default_rng(2024)
    benford_p, uniform_p, mean_p, c05_p, pairs = [], [], [], [], []
    for seed in range(300):
        # log10 uniform over whole decades: the second digit of floor(x) is exactly Benford's (x ≥ 10).
        benford_counts = np.floor(10 ** rng.uniform(1, 5, 1500)).astype(np.int64)
        benford_p.append(digits.second_digit_benford(benford_counts, scope="c", replicates=20, seed=seed).p_value)
        counts = rng.integers(100, 100_000, 1500)  # last two digits exactly uniform
        uniform_p.append(digits.last_digit_uniform(counts, scope="c").p_value)
        mean_p.append(digits.last_digit_mean(counts, scope="c", replicates=20).p_value)
        c05_p.append(digits.last_digit_05(counts, scope="c", replicates=20).p_value)
        pairs.append([f.p_value for f in digits.final_pairs(counts, scope="c", replicates=20)])
    for p in (benford_p, uniform_p, mean_p):
        assert _ks_uniform(np.array(p)) > 0.001
    for p in (np.array(c05_p), np.array(pairs).ravel()):  # exact binomial tests: discrete, at most nominal size
        for alpha in (0.01, 0.05, 0.2):
            assert np.mean(p <= alpha) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / p.size)


def test_invented_numbers_are_flagged():
    rng = np.random.default_rng(7)
    counts = rng.integers(100, 5000, 3000)
    # A fabricator who avoids 0 and 5, favours 7, and rarely repeats the penultimate digit.
    invented = counts.copy()
    fake = rng.random(counts.size) < 0.3
    favoured = rng.choice(10, fake.sum(), p=[0.02, 0.12, 0.12, 0.12, 0.12, 0.02, 0.12, 0.2, 0.1, 0.06])
    invented[fake] = invented[fake] - invented[fake] % 10 + favoured
    assert digits.last_digit_uniform(invented, scope="c").p_value < 1e-10
    assert digits.last_digit_05(invented, scope="c").p_value < 1e-10
    assert digits.last_digit_uniform(counts, scope="c").p_value > 1e-3
    # Counts confined to one hundred have uniform second digits: mean 4.5, not Benford's 4.187.
    narrow = rng.integers(300, 400, 2000)
    finding = digits.second_digit_benford(narrow, scope="c")
    # The mean moves by about 0.3 (four s.e.); X², spread over nine degrees of freedom, is weaker.
    assert finding.details["interval_excludes_null"] and abs(finding.details["mean_z"]) > 3
    assert finding.p_value < 0.01


def test_too_few_counts_give_a_finding_without_numbers():
    finding = digits.last_digit_uniform(np.array([5, 12, 130]), scope="tiny")
    assert finding.statistic is None and finding.p_value is None and "needs at least" in finding.details["not_computed"]
    assert digits.second_digit_benford(np.array([3, 4]), scope="tiny").details["excluded_below_10"] == 2


def test_non_integer_or_negative_counts_are_refused():
    with pytest.raises(InputError):
        digits.second_digit(np.array([1.5, 20.0]))
    with pytest.raises(InputError):
        digits.last_digits(np.array([12, -3]))
