"""Super-simple comparison audits against Arlo (arlo_supersimple.json), rlacalc (rlacalc.json) and the derived
ρ/nmin tables (stark_supersimple_derived.json)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from veritally.audit.contest import ReportedContest
from veritally.audit.supersimple import (GAMMA, comparison_discrepancies, km_expected_sample_size,
                                         km_expected_sample_size_rounded, km_p_value, nmin_from_rates, rho, supersimple_nmin,
                                         supersimple_p_value, supersimple_risk, supersimple_sample_size)
from veritally.errors import ConfigError

from ._vectors import cases, vectors
from .test_bravo import contest_from


def test_every_arlo_supersimple_case_is_used():
    data = vectors("arlo_supersimple.json")
    assert data["all_rerun_ok"] and len(data["cases"]) == 31
    assert data["constants"]["gamma"] == f"Decimal({GAMMA})"


@pytest.mark.parametrize("case", cases("arlo_supersimple.json", "supersimple.get_sample_sizes"),
                         ids=lambda c: f"{c['contest']}-{c.get('sample_results')}"[:80])
def test_sample_sizes_match_arlo(case):
    contest = contest_from(case["contest"])
    results = case.get("sample_results") or {}
    size = supersimple_sample_size(contest, case["risk_limit_pct"], sample_size=results.get("sample_size", 0),
                                   o1=results.get("1-over", 0), o2=results.get("2-over", 0))
    if "expected_sample_size" in case:
        assert contest.diluted_margin == pytest.approx(case["diluted_margin"])
        assert size == case["expected_sample_size"]
    else:
        assert size == case["expected_return"]
        assert size + results["sample_size"] == case["expected_stopping_size"]


def _risk_for(contest: ReportedContest, n: int, first_ballot_error: int, *, absent: bool = False) -> float:
    """n ballots sampled once, all clean except ballot 0 with a 1- or 2-vote overstatement on the closest pair
    (``absent``: the contest is on neither the CVRs nor the audited ballots, so nothing can disagree)."""
    choices = list(contest.tally)
    reported = np.zeros((n, len(choices)), int)
    winner = contest.winners[-1]  # the two-winner fixture's CVRs vote for winner2, the one closest to the loser
    if not absent:
        reported[:, choices.index(winner)] = 1
    audited = reported.copy()
    if not absent and first_ballot_error >= 1:
        audited[0] = 0
        if first_ballot_error == 2:
            audited[0, choices.index(contest.losers[0])] = 1
    found = comparison_discrepancies(contest, choices, reported, audited)
    return supersimple_risk(contest, found.weighted_error, None, 10)[0]


@pytest.mark.parametrize("case", [c for c in cases("arlo_supersimple.json", "supersimple.compute_risk")
                                  if "rerun_p" in c], ids=lambda c: str(c["contest"])[:60])
def test_compute_risk_matches_arlo(case):
    contest = contest_from(case["contest"])
    n = int(case["sample"].split("..ballot-")[1].split(" ")[0]) + 1
    # Arlo's fixture leaves the 10/4-of-15 contest off both the CVRs and the audited ballots it edits, so its
    # three values coincide: nothing can disagree.
    absent = len(set(case["rerun_p"].values())) == 1
    for error, key in enumerate(("no_discrepancies", "one_vote_over", "two_vote_over")):
        assert _risk_for(contest, n, error, absent=absent) == pytest.approx(case["rerun_p"][key], rel=1e-9)


def test_snapshot_case_two_one_vote_overstatements():
    (case,) = [c for c in cases("arlo_supersimple.json", "supersimple.compute_risk") if "expected_p" in c]
    contest = contest_from(case["contest"])
    choices = ["winner", "loser"]
    reported = np.zeros((18, 2), int)
    reported[:16, 0] = 1
    reported[16:, 1] = 1
    # Arlo's test edits the audited copy of ballots 0 and 1 through the same dict as their CVRs, so upstream
    # both sides read blank and its 0.1201733 is the p-value of 18 clean ballots …
    p, confirmed = supersimple_risk(contest, np.zeros(18), None, 10)
    assert p == pytest.approx(case["expected_p"], abs=case["tolerance"])
    assert confirmed is case["confirmed"]
    # … while two real 1-vote overstatements each divide it by 1 − 1/(2γ).
    audited = reported.copy()
    audited[[0, 1]] = 0
    found = comparison_discrepancies(contest, choices, reported, audited)
    assert list(found.counted_as[:3]) == [1, 1, 0]
    p_over, _ = supersimple_risk(contest, found.weighted_error, None, 10)
    assert p_over == pytest.approx(p / (1 - 1 / (2 * GAMMA)) ** 2, rel=1e-12)


def test_discrepancy_examples_match_arlo():
    (case,) = cases("arlo_supersimple.json", "supersimple.compute_discrepancies")
    a = ReportedContest("A", {"winner": 60000, "loser": 40000}, 100000)
    found = comparison_discrepancies(a, ["winner", "loser"], np.array([[1, 0], [1, 0], [0, 1]]),
                                     np.array([[0, 0], [0, 1], [1, 0]]))
    assert list(found.counted_as) == [1, 2, -2]
    np.testing.assert_allclose(found.weighted_error, [1 / 20000, 2 / 20000, -2 / 20000])
    d = ReportedContest("D", {"winner": 8000, "loser": 6000}, 15000)
    found = comparison_discrepancies(d, ["winner", "loser"], np.array([[1, 0], [1, 0], [0, 0]]),
                                     np.array([[0, 0], [1, 0], [1, 0]]), audited_missing=[False, True, False],
                                     reported_missing=[False, False, True])
    assert list(found.counted_as) == [1, 2, 2]
    np.testing.assert_allclose(found.weighted_error, [1 / 2000, 2 / 2000, 2 / 2000])
    f = ReportedContest("F", {"winner": 10, "loser": 4}, 15)
    found = comparison_discrepancies(f, ["winner", "loser"], np.array([[0, 0]]), np.array([[0, 1]]))
    assert list(found.counted_as) == [1] and found.weighted_error[0] == pytest.approx(1 / 6)
    two = ReportedContest("T", {"winner1": 600, "winner2": 300, "loser": 100}, 1000, num_winners=2)
    found = comparison_discrepancies(two, ["winner1", "winner2", "loser"], np.array([[0, 1, 0]]),
                                     np.array([[0, 0, 0]]))
    assert list(found.counted_as) == [1] and found.weighted_error[0] == pytest.approx(1 / 200)
    assert len(case["examples"]) == 8


def test_ess_overvote_and_undervote_cvrs_match_when_the_board_agrees():
    c = ReportedContest("C", {"w": 60, "l": 40}, 100)
    reported = np.zeros((4, 2), int)
    audited = np.array([[1, 1], [1, 0], [0, 0], [0, 1]])
    found = comparison_discrepancies(c, ["w", "l"], reported, audited, reported_overvote=[True, True, False, False],
                                     reported_undervote=[False, False, True, True])
    # overvote seen as an overvote: 0; overvote CVR but one vote for w: (1-1)-(1-0) = -1;
    # undervote seen as blank: 0; undervote CVR but a vote for l: (0-0)-(0-1) = 1
    assert list(found.counted_as) == [0, -1, 0, 1]


def test_understatements_are_not_credited():
    clean = supersimple_p_value(np.zeros(20), None, diluted_margin=0.2, ballots=1000)
    with_understatement = supersimple_p_value(np.r_[np.zeros(19), -1 / 200], None, diluted_margin=0.2, ballots=1000)
    assert with_understatement == clean


def test_full_hand_count_has_zero_risk():
    contest = ReportedContest("c", {"w": 6, "l": 4}, 10)
    assert supersimple_risk(contest, np.zeros(10), None, 5) == (0.0, True)


def _rlacalc_args(call: str) -> list[str]:
    return [a.strip() for a in call.split("(", 1)[1].rsplit(")", 1)[0].split(",") if a.strip()]


NH_2016 = (354040 - 337589) / (354040 + 337589 + 33234)


def _value(text: str, setup: dict) -> float:
    return float(setup.get(text, text))


@pytest.mark.parametrize("case", [c for c in vectors("rlacalc.json")["cases"] if c.get("fn", "").startswith(("KM_", "nmin", "rho"))]
                         if True else [], ids=lambda c: c["call"][:70])
def test_comparison_functions_match_rlacalc(case):
    setup = {"alpha": 0.05, "gamma": 1.03905, "margin": NH_2016}
    call = case["call"]
    fn = call.split("(")[0]
    positional = [a for a in _rlacalc_args(call) if "=" not in a]
    named = dict(a.split("=") for a in _rlacalc_args(call) if "=" in a)
    expected = case["expected"]
    if fn in ("KM_Expected_sample_size", "KM_Expected_sample_size_rounded"):
        alpha, gamma, margin, or1, or2, ur1, ur2 = (_value(a, setup) for a in positional)
        kwargs = {"round_up_1": named.get("roundUp1", "True") == "True"}
        if fn == "KM_Expected_sample_size":
            got = km_expected_sample_size(alpha, margin, or1, or2, ur1, ur2, gamma=gamma)
        else:
            got = km_expected_sample_size_rounded(alpha, margin, or1, or2, ur1, ur2, gamma=gamma, **kwargs)
        if expected == "nan":
            assert math.isnan(got)
        else:
            assert got == float(expected)
    elif fn == "KM_P_value":
        n, gamma, margin, o1, o2, u1, u2 = (_value(a, setup) for a in positional)
        assert km_p_value(int(n), margin, int(o1), int(o2), int(u1), int(u2), gamma=gamma) == pytest.approx(
            float(expected), rel=1e-12)
    elif fn == "nmin":
        kwargs = {k: float(v) for k, v in named.items()}
        got = supersimple_nmin(kwargs.pop("alpha", 0.1), kwargs.pop("margin"), int(kwargs.get("o1", 0)),
                               int(kwargs.get("o2", 0)), int(kwargs.get("u1", 0)), int(kwargs.get("u2", 0)))
        assert got == float(expected)
    elif fn == "nminFromRates":
        alpha, gamma, margin, or1, or2, ur1, ur2, *rest = (_value(a, setup) for a in positional)
        kwargs = {"round_up_1": bool(rest[0])} if rest else {}
        if expected.startswith("Traceback"):
            with pytest.raises(ConfigError, match="-6 0 0 0 must all be >= 0"):
                nmin_from_rates(alpha, margin, or1, or2, ur1, ur2, gamma=gamma, **kwargs)
        else:
            assert nmin_from_rates(alpha, margin, or1, or2, ur1, ur2, gamma=gamma, **kwargs) == float(expected)
    elif fn == "rho":
        kwargs = {k: float(v) for k, v in named.items()}
        assert rho(kwargs["alpha"], kwargs["gamma"], kwargs["lambdatol"]) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize("row", vectors("stark_supersimple_derived.json")["rho_rows"] if True else [],
                         ids=lambda r: f"{r['alpha']}-{r['gamma']}-{r['lambda']}")
def test_rho_table(row):
    assert rho(row["alpha"], row["gamma"], row["lambda"]) == pytest.approx(row["rho"], rel=1e-12)


@pytest.mark.parametrize("row", vectors("stark_supersimple_derived.json")["nmin_rows"] if True else [],
                         ids=lambda r: f"{r['alpha']}-{r['diluted_margin']}-{r['o1']}{r['o2']}{r['u1']}{r['u2']}")
def test_nmin_table(row):
    got = supersimple_nmin(row["alpha"], row["diluted_margin"], row["o1"], row["o2"], row["u1"], row["u2"],
                           gamma=row["gamma"])
    assert got == row["n"]


def test_negative_discrepancy_counts_are_rejected():
    with pytest.raises(ConfigError, match="must all be >= 0"):
        supersimple_nmin(0.05, NH_2016, -6)
