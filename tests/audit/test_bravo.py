"""BRAVO risk and sample sizes against Arlo's own test values (arlo_bravo.json, all re-run upstream), the BRAVO
paper's ASN table (bravo_asn_table_derived.json) and rlacalc's polling risk levels (rlacalc.json)."""

from __future__ import annotations

import math

import pytest

from veritally.audit.bravo import (bravo_asn, bravo_expected_prob, bravo_quantile_sample_size, bravo_risk,
                                   bravo_sample_size_options)
from veritally.audit.contest import ReportedContest

from ._vectors import cases, vectors

META = ("ballots", "numWinners", "votesAllowed")


def contest_from(spec: dict) -> ReportedContest:
    tally = {k: v for k, v in spec.items() if k not in META}
    return ReportedContest("contest", tally, spec["ballots"], num_winners=spec.get("numWinners", 1),
                           votes_allowed=spec.get("votesAllowed", 1))


def cumulative(sample_results: dict | None) -> dict[str, int]:
    total: dict[str, int] = {}
    for round_tally in (sample_results or {}).values():
        for choice, votes in round_tally.items():
            total[choice] = total.get(choice, 0) + votes
    return total


def _decimal_float(text: str) -> float:
    return float(text.removeprefix("Decimal(").removesuffix(")"))


def test_every_arlo_bravo_case_is_used():
    data = vectors("arlo_bravo.json")
    assert data["all_rerun_ok"] and len(data["cases"]) == 49
    used = sum(len(cases("arlo_bravo.json", prefix)) for prefix in
               ("bravo.get_expected_sample_size", "bravo.bravo_sample_sizes", "bravo.expected_prob",
                "bravo.get_sample_size", "bravo.compute_risk"))
    assert used == 49


@pytest.mark.parametrize("case", cases("arlo_bravo.json", "bravo.compute_risk"), ids=lambda c: str(c["contest"])[:60])
def test_compute_risk_matches_arlo(case):
    contest = contest_from(case["contest"])
    risk = bravo_risk(contest, cumulative(case["sample_results"]), case["risk_limit_pct"])
    expected = {tuple(k.split("|")): v for k, v in case["rerun_p_values"].items()}
    assert set(risk.p_values) == set(expected)
    for pair, p in expected.items():
        assert risk.p_values[pair] == pytest.approx(p, rel=1e-9, abs=1e-300)
    assert risk.confirmed is case["rerun_confirmed"]


@pytest.mark.parametrize("case", cases("arlo_bravo.json", "bravo.get_expected_sample_size"),
                         ids=lambda c: str(c["contest"])[:60])
def test_asn_matches_arlo(case):
    contest = contest_from(case["contest"])
    sample = None if case["cumulative_sample"] == "zeros" else case["cumulative_sample"]
    assert bravo_asn(contest, sample, case["alpha"]).size == case["expected_size"]


@pytest.mark.parametrize("case", cases("arlo_bravo.json", "bravo.bravo_sample_sizes"), ids=lambda c: str(c)[40:110])
def test_lindeman_quantile_sizes_match_arlo(case):
    size = bravo_quantile_sample_size(_decimal_float(case["alpha"]), _decimal_float(case["p_w"]),
                                      _decimal_float(case["p_r"]), case["sample_w"], case["sample_r"],
                                      case["p_completion"], case["total_ballots"])
    assert size == case["expected_size"]


def test_expected_prob_matches_arlo():
    (case,) = cases("arlo_bravo.json", "bravo.expected_prob")
    prob = bravo_expected_prob(_decimal_float(case["alpha"]), _decimal_float(case["p_w"]),
                               _decimal_float(case["p_r"]), case["sample_w"], case["sample_r"], case["asn"])
    assert prob == case["expected_prob"]


@pytest.mark.parametrize("case", cases("arlo_bravo.json", "bravo.get_sample_size"), ids=lambda c: str(c["contest"])[:60])
def test_sample_size_options_match_arlo(case):
    contest = contest_from(case["contest"])
    sample = cumulative(case["sample_results"])
    options = bravo_sample_size_options(contest, sample, case["risk_limit_pct"])
    assert set(options) == set(case["expected"])
    for key, want in case["expected"].items():
        assert options[key].size == want["size"], key
        assert options[key].prob == want["prob"], key


@pytest.mark.parametrize("row", vectors("bravo_asn_table_derived.json")["rows"] if True else [],
                         ids=lambda r: f"a{r['alpha']}-m{r['margin']}")
def test_asn_reproduces_the_bravo_table(row):
    ballots = 100_000
    winner = round(ballots * row["p_w"])
    contest = ReportedContest("c", {"w": winner, "l": ballots - winner}, ballots)
    assert bravo_asn(contest, None, row["alpha"]).size == row["asn"]


@pytest.mark.parametrize("case", cases("rlacalc.json", "ballot_polling_risk_level"), ids=lambda c: c["call"][26:50])
def test_polling_risk_level_matches_rlacalc(case):
    args = [int(a) for a in case["call"].split("(", 1)[1].split(")")[0].split(",")]
    w_votes, l_votes, w_obs, l_obs = args
    expected = float(case["expected"])
    contest = ReportedContest("c", {"w": w_votes, "l": l_votes}, w_votes + l_votes + w_obs + l_obs + 1)
    if w_votes + l_votes == 0:
        assert expected == 1.0
        return
    p = bravo_risk(contest, {"w": w_obs, "l": l_obs}, 0.1).p_value
    if math.isnan(expected):
        # rlacalc's "Test overflow" doctests: its float exp overflows to NaN; T is astronomically large (a landslide
        # sample), so the risk is 0 — what Veritally gives, computing in logarithms
        assert p == 0.0
    else:
        assert p == pytest.approx(expected, rel=1e-9)


def test_overflowing_statistic_gives_zero_risk_not_nan():
    contest = ReportedContest("c", {"w": 100_000, "l": 1}, 200_000)
    risk = bravo_risk(contest, {"w": 50_000, "l": 0}, 0.1)
    assert risk.p_value == 0.0 and risk.confirmed


def test_a_sampled_vote_for_a_zero_vote_loser_contradicts_the_outcome():
    contest = ReportedContest("c", {"w": 600, "l": 0, "x": 100}, 1000)
    risk = bravo_risk(contest, {"w": 50, "l": 1}, 0.1)
    assert risk.p_values[("w", "l")] == 1.0 and not risk.confirmed
