"""MACRO batch comparison against Arlo's test values (arlo_macro.json; fixture rebuilt from its description)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from veritally.audit.contest import ReportedContest
from veritally.audit.macro import macro_max_errors, macro_risk, macro_sample_size, macro_unauditable_ballots

from ._vectors import cases, vectors

CHOICES = ["winner", "loser"]
CONTESTS = {
    "A": ReportedContest("A", {"winner": 60000, "loser": 54000}, 120000),
    "B": ReportedContest("B", {"winner": 30000, "loser": 24000}, 60000),
    "C": ReportedContest("C", {"winner": 18000, "loser": 12600}, 36000),
}
_BY_TOTAL = {c.tally["winner"]: name for name, c in CONTESTS.items()}


def fixture(name: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Arlo test_macro.py's ``batches`` for one contest: (batch names, tallies, ballots, has_contest)."""
    rows = {"A": (200, 180), "B": (200, 160), "C": (200, 140)}
    names, tallies, ballots, has = [], [], [], []
    for i in range(200):
        present = {"A": True, "B": i < 100, "C": i < 30 or 100 <= i < 130}[name]
        for suffix, scale in (("", 1), (" AV", 0.5)):
            names.append(f"Batch {i}{suffix}")
            w, l = rows[name]
            tallies.append((w * scale, l * scale) if present else (0, 0))
            ballots.append(400 * scale if present else 0)
            has.append(present)
    return names, np.array(tallies, float), np.array(ballots, float), np.array(has)


def test_every_arlo_macro_case_is_used():
    data = vectors("arlo_macro.json")
    assert data["all_rerun_ok"] and len(data["cases"]) == 25


@pytest.mark.parametrize("case", cases("arlo_macro.json", "macro.compute_max_error"), ids=lambda c: c["batch"])
def test_max_error_per_batch_matches_arlo(case):
    name = _BY_TOTAL[case["contest"]["winner"]]
    names, tallies, ballots, has = fixture(name)
    u = macro_max_errors(CONTESTS[name], CHOICES, tallies, ballots, has_contest=has)
    assert u[names.index(case["batch"])] == pytest.approx(float(Decimal(case["rerun_u_p"])), rel=1e-12, abs=0)


@pytest.mark.parametrize("case", cases("arlo_macro.json", "macro.compute_U"), ids=lambda c: c["rerun_U"])
def test_total_error_bound_matches_arlo(case):
    name = _BY_TOTAL[case["contest"]["winner"]]
    _, tallies, ballots, has = fixture(name)
    total = macro_max_errors(CONTESTS[name], CHOICES, tallies, ballots, has_contest=has).sum()
    assert total == pytest.approx(float(Decimal(case["rerun_U"])), rel=1e-12)


def _audit(name: str, audited_batches: list[str], *, error_batches: tuple[str, ...] = ()):
    names, tallies, ballots, has = fixture(name)
    audited = {}
    for batch in audited_batches:
        i = names.index(batch)
        if not has[i]:
            audited[i] = None
            continue
        row = tallies[i].copy()
        if batch in error_batches and name == "A":
            row = np.array([190.0, 190.0])
        audited[i] = row
    return names, tallies, ballots, has, audited


@pytest.mark.parametrize("case", cases("arlo_macro.json", "macro.get_sample_sizes"),
                         ids=lambda c: f"{c['contest']['winner']}-{c['sample']}")
def test_sample_sizes_match_arlo(case):
    name = _BY_TOTAL[case["contest"]["winner"]]
    sampled = [] if case["sample"] == "none" else [f"Batch {i}" for i in range(4)]
    names, tallies, ballots, has, audited = _audit(name, sampled)
    draws = [names.index(b) for b in sampled]
    size = macro_sample_size(CONTESTS[name], CHOICES, tallies, ballots, draws, audited, case["risk_limit_pct"],
                             has_contest=has)
    assert size == case["expected"]


@pytest.mark.parametrize("case", cases("arlo_macro.json", "macro.compute_risk"), ids=lambda c: c["expected_p_expr"])
def test_risk_matches_arlo(case):
    name = _BY_TOTAL[case["contest"]["winner"]]
    sampled = [f"Batch {i}" for i in range(30)] + [f"Batch {i}" for i in range(100, 106)]
    errors = tuple(f"Batch {i}" for i in range(100, 106))
    names, tallies, ballots, has, audited = _audit(name, sampled, error_batches=errors)
    draws = [names.index(b) for b in sampled]
    p, confirmed = macro_risk(CONTESTS[name], CHOICES, tallies, ballots, draws, audited, case["risk_limit_pct"],
                              has_contest=has)
    assert p == pytest.approx(case["rerun_p"], rel=1e-9)
    assert p == pytest.approx(case["expected_p"], rel=1e-9)
    assert confirmed is case["confirmed"]


SMALL = ReportedContest("Contest", {"winner": 200, "loser": 100, "third": 50}, 350)
THREE = ["winner", "loser", "third"]


def _small_batches(unauditable: int = 0) -> tuple[np.ndarray, np.ndarray]:
    half = unauditable / 2
    tallies = np.array([[60, 40 - half, 0], [0, 60 - half, 40], [90, 0, 10], [50, 0, 0]], float)
    return tallies, np.array([100 - half, 100 - half, 100, 50], float)


def test_pending_ballots_snapshot_matches_arlo():
    snap = vectors("arlo_macro.json")["cases"][24]["test_pending_ballots"]
    pending = ReportedContest("Contest", SMALL.tally, 350, pending_ballots=2)
    tallies, ballots = _small_batches()
    total = macro_max_errors(pending, THREE, tallies, ballots).sum()
    assert total == pytest.approx(float(Decimal(snap["U"])), rel=1e-12)
    assert total > macro_max_errors(SMALL, THREE, tallies, ballots).sum()
    assert macro_sample_size(pending, THREE, tallies, ballots, [], {}, 25) == 4
    audited = {i: tallies[i] for i in range(3)}
    p, _ = macro_risk(pending, THREE, tallies, ballots, [0, 1, 2], audited, 25)
    assert p == pytest.approx(snap["p_no_discrepancy"], rel=1e-12)
    audited[2] = tallies[2] + np.array([0, 2, 0])
    p, _ = macro_risk(pending, THREE, tallies, ballots, [0, 1, 2], audited, 25)
    assert p == pytest.approx(snap["p_one_discrepancy"], rel=1e-12)


def test_unauditable_ballots_snapshot_matches_arlo():
    snap = vectors("arlo_macro.json")["cases"][24]["test_unauditable_ballots"]
    tallies, ballots = _small_batches(1)
    clean_tallies, clean_ballots = _small_batches(0)
    assert macro_unauditable_ballots(SMALL, THREE, tallies) == 1
    assert macro_max_errors(SMALL, THREE, tallies, ballots).sum() == pytest.approx(float(Decimal(snap["U"])))
    assert macro_max_errors(SMALL, THREE, clean_tallies, clean_ballots).sum() == pytest.approx(
        float(Decimal(snap["U_without"])))
    p, _ = macro_risk(SMALL, THREE, tallies, ballots, [0, 1, 2], {i: tallies[i] for i in range(3)}, 25)
    p_clean, _ = macro_risk(SMALL, THREE, clean_tallies, clean_ballots, [0, 1, 2],
                            {i: clean_tallies[i] for i in range(3)}, 25)
    assert p == pytest.approx(snap["p"], rel=1e-5)
    assert p_clean == pytest.approx(snap["p_without"], rel=1e-12)


def test_every_batch_audited_is_a_full_hand_count():
    tallies, ballots = _small_batches()
    audited = {i: tallies[i] for i in range(4)}
    assert macro_risk(SMALL, THREE, tallies, ballots, [0, 1, 2, 3], audited, 25) == (0.0, True)


def test_combined_batches_compare_against_their_joint_tally():
    tallies, ballots = _small_batches()
    # batches 0 and 1 were reported as one; the hand count of 0 shows the pair's combined votes
    audited = {0: tallies[0] + tallies[1]}
    p_combined, _ = macro_risk(SMALL, THREE, tallies, ballots, [0], audited, 25, combined=[[0, 1]])
    p_alone, _ = macro_risk(SMALL, THREE, tallies, ballots, [0], {0: tallies[0]}, 25)
    assert p_combined == pytest.approx(p_alone)


def test_runoff_contest_adds_threshold_assertions():
    # a has 48 %: no majority, so a and b go to a runoff; "a is short of 50 %" has margin 100 − 2·48 = 4 votes,
    # tighter than any pair's (b − c = 8), so it sets the error bounds
    no_majority = ReportedContest("R", {"a": 48, "b": 30, "c": 22}, 100, subject_to_runoff=True)
    assert no_majority.winners == ("a", "b")
    tallies = np.array([[24, 15, 11], [24, 15, 11]], float)
    u_runoff = macro_max_errors(no_majority, ["a", "b", "c"], tallies, np.array([50, 50], float))
    plain = ReportedContest("R", {"a": 48, "b": 30, "c": 22}, 100, num_winners=2)
    u_plain = macro_max_errors(plain, ["a", "b", "c"], tallies, np.array([50, 50], float))
    assert np.all(u_runoff >= u_plain) and np.any(u_runoff > u_plain)
    np.testing.assert_allclose(u_runoff, ((50 - 24) - 24 + 50) / 4)
