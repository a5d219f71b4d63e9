"""Assorters, overstatements, margins and phantoms against SHANGRLA's own tests (shangrla.json cases 24–31)."""

from __future__ import annotations

import numpy as np
import pytest

from veritally.audit.assertions import (ALL_OTHERS, ContestCards, assorter_margin, make_assertions,
                                        margins_from_tally, overstatement, overstatement_assorter,
                                        overstatement_assorter_margin, overstatement_assorter_mean,
                                        phantoms_needed, with_phantoms)
from veritally.audit.contest import ReportedContest
from veritally.errors import ConfigError

from ._vectors import vectors

CHOICES = ("Alice", "Bob", "Candy", "Dan")


def cards(*marks: str | tuple[str, ...] | None, phantom=None, has_contest=None) -> ContestCards:
    """One card per argument: a choice, a tuple of choices (overvote), "" (blank) or None (contest absent)."""
    votes = np.zeros((len(marks), len(CHOICES)), int)
    for i, mark in enumerate(marks):
        for choice in (mark if isinstance(mark, tuple) else (mark,) if mark else ()):
            votes[i, CHOICES.index(choice)] = 1
    has = np.array([m is not None for m in marks]) if has_contest is None else has_contest
    return ContestCards(CHOICES, votes, has, phantom)


def _case(index: int) -> dict:
    return vectors("shangrla.json")["cases"][index]


AVB = make_assertions(ReportedContest("AvB", {"Alice": 60, "Bob": 40}, 100))[0]


def test_overstatement_assorter_margin_and_mean_match_shangrla():
    assert overstatement_assorter_margin(0.5) == pytest.approx(_case(24)["expected"])
    for row in _case(25)["cases"]:
        got = overstatement_assorter_mean(0.5, error_rate_1=row["r1"], error_rate_2=row["r2"])
        assert got == pytest.approx(row["expected"])


def test_overstatement_assorter_values_match_shangrla():
    mvr_of = {"Alice": "Alice", "Bob": "Bob", "Candy (neither A nor B)": "Candy"}
    for row in _case(26)["cases"]:
        value = overstatement_assorter(AVB, cards(row["cvr"]), cards(mvr_of[row["mvr"]]), row["v"])
        assert value[0] == pytest.approx(row["expected"])


def test_overstatements_match_shangrla_including_style_and_phantoms():
    for row in _case(27)["cases"]:
        mvr, cvr = row["mvr"], row["cvr"]
        use_style = row.get("use_style", True)
        cvr_cards = cards("" if cvr.startswith("phantom") else cvr, phantom=np.array([cvr.startswith("phantom")]))
        if mvr == "contest AvB absent":
            mvr_cards = cards(None)
        else:
            mvr_cards = cards("" if mvr.startswith(("phantom", "blank")) else mvr,
                              phantom=np.array([mvr.startswith("phantom")]))
        assert overstatement(AVB, cvr_cards, mvr_cards, use_style=use_style)[0] == row["expected"], row


def test_plurality_assorter_values_match_shangrla():
    contest = ReportedContest("c", {"Alice": 40, "Bob": 30, "Candy": 20, "Dan": 10}, 100, num_winners=2)
    by_name = {a.name: a for a in make_assertions(contest)}
    assert set(by_name) == {"Alice v Candy", "Alice v Dan", "Bob v Candy", "Bob v Dan"}
    values = by_name["Alice v Candy"].assort(cards("Alice", "Bob", "Candy", "Dan"))
    expected = _case(28)["examples"]["Alice v Candy"]
    assert list(values) == [expected[c] for c in CHOICES]


def test_supermajority_assorter_values_match_shangrla():
    contest = ReportedContest("c", {"Alice": 70, "Bob": 20, "Candy": 10}, 100)
    (assertion,) = make_assertions(contest, "supermajority", share_to_win=2 / 3)
    assert assertion.loser == ALL_OTHERS and assertion.upper_bound == pytest.approx(0.75)
    examples = _case(29)["examples"]
    values = assertion.assort(cards("Alice", "Bob", "Dan", ("Alice", "Bob"), ("Bob", "Candy")))
    assert list(values) == pytest.approx([examples[k] for k in
                                          ("Alice", "Bob", "Dan (not a candidate)", "Alice+Bob", "Bob+Candy")])


def test_margin_from_cvrs_matches_shangrla():
    case = _case(30)
    assert assorter_margin(AVB, cards(*case["cvrs"])) == pytest.approx(case["expected_margin"])


def test_margins_from_tally_match_shangrla():
    case = _case(31)
    contest = ReportedContest("c", case["tally"], case["cards"])
    got = {a.name: margins_from_tally(a, case["tally"], case["cards"]) for a in make_assertions(contest)}
    assert got == pytest.approx(case["expected"])


def test_supermajority_margin_from_tally_is_q_times_p_over_f_minus_one():
    tally = {"Alice": 600, "Bob": 300}
    (assertion,) = make_assertions(ReportedContest("c", tally, 1000), "supermajority", share_to_win=0.55)
    # q = 0.9 of cards valid, the winner has 2/3 of the valid votes: margin = 0.9·((2/3)/0.55 − 1)
    assert margins_from_tally(assertion, tally, 1000) == pytest.approx(0.9 * ((2 / 3) / 0.55 - 1))
    ballots = cards(*(["Alice"] * 600 + ["Bob"] * 300 + [""] * 100))
    assert assorter_margin(assertion, ballots) == pytest.approx(margins_from_tally(assertion, tally, 1000))


def test_phantoms_fill_the_gap_and_assort_as_the_worst_case():
    reported = cards("Alice", "Alice", "Bob")
    padded = with_phantoms(reported, phantoms_needed(5, 3))
    assert len(padded) == 5 and list(padded.phantom) == [False, False, False, True, True]
    # a phantom CVR reads as a non-vote; its paper, never found, as a vote for the loser: o = ½ each
    not_found = ContestCards(CHOICES, padded.votes, padded.has_contest, padded.phantom)
    o = overstatement(AVB, padded, not_found)
    assert list(o) == [0, 0, 0, 0.5, 0.5]
    with pytest.raises(ConfigError, match="disagree"):
        phantoms_needed(2, 3)


def test_card_style_pool_rejects_a_cvr_without_the_contest():
    with pytest.raises(ConfigError, match="card-style"):
        overstatement(AVB, cards(None), cards("Alice"), use_style=True)


def test_oneaudit_pool_mean_replaces_the_cvr():
    o = overstatement(AVB, cards("Alice", "Bob"), cards("Bob", "Bob"), pool_mean=np.array([0.6, np.nan]))
    assert list(o) == pytest.approx([0.6 - 0.0, 0.0])
