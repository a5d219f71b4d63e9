"""SUITE hybrid audits against Arlo's test values (arlo_suite.json)."""

from __future__ import annotations

import pytest

from veritally.audit.contest import ReportedContest
from veritally.audit.suite import (ComparisonStratum, Misstatements, PollingStratum, comparison_stratum_p_value,
                                   fisher_combined_p_value, polling_stratum_p_value, suite_risk, suite_sample_size)

from ._vectors import cases, vectors


def test_every_arlo_suite_case_is_used():
    data = vectors("arlo_suite.json")
    assert data["all_rerun_ok"] and len(data["cases"]) == 14
    used = sum(len(cases("arlo_suite.json", p)) for p in ("BallotPollingStratum", "SUITE Fisher", "suite.get_sample_size",
                                                           "BallotComparisonStratum"))
    assert used == 14


@pytest.mark.parametrize("case", cases("arlo_suite.json", "BallotPollingStratum.compute_pvalue"),
                         ids=lambda c: f"{c['vote_totals']}-{c['sample']['sample']}")
def test_polling_stratum_matches_arlo(case):
    sample = case["sample"]["sample"]["round1"]
    stratum = PollingStratum(case["num_ballots"], case["vote_totals"], sample, case["sample"]["sample_size"])
    p = polling_stratum_p_value(stratum, case["reported_margin"], "winner", "loser", case["null_lambda"])
    assert p == pytest.approx(case["rerun_p"], rel=1e-9)


@pytest.mark.parametrize("case", cases("arlo_suite.json", "BallotComparisonStratum.compute_pvalue"),
                         ids=lambda c: str(c["vote_totals"]))
def test_comparison_stratum_matches_arlo(case):
    totals = case["vote_totals"]
    margin = totals["winner"] - totals["loser"]
    for key, misstatement in (("no_discrepancies", Misstatements()), ("one_vote_over", Misstatements(o1=1)),
                              ("two_vote_over", Misstatements(o2=1))):
        stratum = ComparisonStratum(case["num_ballots"], totals, {("winner", "loser"): misstatement},
                                    case["sample_size"])
        p = comparison_stratum_p_value(stratum, margin, "winner", "loser", case["null_lambda"])
        assert p == pytest.approx(case["rerun_p"][key], rel=1e-9), key


def _fisher_case():
    (case,) = cases("arlo_suite.json", "SUITE Fisher combination")
    contest = ReportedContest("c", {"winner": 5300, "loser": 5100}, 11000)
    cvr = case["cvr_stratum"]
    comparison = ComparisonStratum(cvr["num_ballots"], cvr["vote_totals"], {("winner", "loser"): Misstatements()},
                                   cvr["sample_size"])
    no_cvr = case["no_cvr_stratum"]
    polling = PollingStratum(no_cvr["num_ballots"], no_cvr["vote_totals"], no_cvr["sample"], no_cvr["sample_size"])
    return case, contest, comparison, polling


def test_fisher_combination_matches_arlo_and_corla18():
    case, contest, comparison, polling = _fisher_case()
    margin = contest.tally["winner"] - contest.tally["loser"]
    assert comparison_stratum_p_value(comparison, margin, "winner", "loser", 0.3) == pytest.approx(
        case["expected"]["cvr_p_at_lambda_0.3"], rel=1e-9)
    assert polling_stratum_p_value(polling, margin, "winner", "loser", 0.7) == pytest.approx(
        case["expected"]["no_cvr_p_at_lambda_0.7"], rel=1e-9)
    combined = fisher_combined_p_value(0.05, contest, polling, comparison, "winner", "loser")
    assert combined == pytest.approx(case["rerun"]["combined"], rel=1e-9)
    p, confirmed = suite_risk(contest, polling, comparison, 5)
    assert p == pytest.approx(case["expected"]["combined_p_risk_limit_5pct"], rel=1e-9)
    assert confirmed is case["expected"]["confirmed"]


def test_sample_size_matches_arlo():
    (case,) = cases("arlo_suite.json", "suite.get_sample_size")
    contest = ReportedContest("c", {"winner": 1011000, "loser": 989000}, 2000000)
    cvr, no_cvr = case["cvr_stratum"], case["no_cvr_stratum"]
    size = suite_sample_size(contest, PollingStratum(no_cvr["num_ballots"], no_cvr["vote_totals"]),
                             ComparisonStratum(cvr["num_ballots"], cvr["vote_totals"]), case["risk_limit_pct"])
    assert size == (case["expected"]["cvr"], case["expected"]["non_cvr"])


def test_a_fully_counted_stratum_leaves_the_other_stratum_to_carry_the_margin():
    contest = ReportedContest("c", {"w": 600, "l": 400}, 1000)
    comparison = ComparisonStratum(900, {"w": 540, "l": 360}, {}, 30)
    # the no-CVR stratum counted as reported (60–40): the CVRs must not overstate by 180 + 20 = 200 = λV, λ = 1
    counted_as_reported = PollingStratum(100, {"w": 60, "l": 40}, {"w": 60, "l": 40}, 100)
    p, _ = suite_risk(contest, counted_as_reported, comparison, 5)
    assert p == pytest.approx(comparison_stratum_p_value(comparison, 200, "w", "l", 1))
    # counted 40–60 instead: the CVR stratum's reported margin of 180 must now hold all but 20 of itself
    counted_worse = PollingStratum(100, {"w": 60, "l": 40}, {"w": 40, "l": 60}, 100)
    p_worse, _ = suite_risk(contest, counted_worse, comparison, 5)
    assert p_worse == pytest.approx(comparison_stratum_p_value(comparison, 200, "w", "l", 160 / 200))
    assert p_worse > p


def test_a_counted_stratum_that_reverses_the_outcome_is_never_confirmed():
    # reviewer's case: the no-CVR stratum, reported 150–50 for w, is counted 50–150; 30 clean CVR draws
    contest = ReportedContest("c", {"w": 600, "l": 400}, 1200)
    polling = PollingStratum(200, {"w": 150, "l": 50}, {"w": 50, "l": 150}, 200)
    comparison = ComparisonStratum(1000, {"w": 450, "l": 350}, {}, 30)
    p, confirmed = suite_risk(contest, polling, comparison, 5)
    assert p == 1.0 and not confirmed  # 100 − 100 = 0: the CVR margin alone only ties
    # and a CVR stratum compared in full with 300 two-vote overstatements loses its margin outright
    found = ComparisonStratum(1000, {"w": 450, "l": 350}, {("w", "l"): Misstatements(o2=300)}, 1000)
    sampled = PollingStratum(200, {"w": 150, "l": 50}, {"w": 10, "l": 2}, 20)
    p, confirmed = suite_risk(contest, sampled, found, 5, comparison_counted=True)
    assert p == 1.0 and not confirmed
