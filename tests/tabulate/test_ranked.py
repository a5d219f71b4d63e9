"""RCTab's voter-error rules, one scenario each (rules: notes/tabulation.md §1.2, Tabulator.computeTalliesForRound)."""

from __future__ import annotations

import numpy as np
import pytest

from veritally.tabulate.ranked import Inactive, OvervoteRule, allocate, first_round

from ..elections import rcv, small_election

FLAG = 1 << 4  # overvote flag of a 4-choice contest
A, B, C, U = 1, 2, 4, 8
ALL = {0, 1, 2, 3}


def where(ranks, continuing=ALL, **rules):
    return allocate(np.array(ranks, np.uint8), continuing, overvote_flag=FLAG, **rules)


def test_first_continuing_candidate_gets_the_ballot():
    assert where([B, A, 0]) == 1
    assert where([B, A, 0], continuing={0, 2}) == 0


def test_no_rankings_and_running_out_of_rankings_are_different_categories():
    assert where([0, 0, 0]) is Inactive.NO_RANKINGS
    assert where([B, 0, 0], continuing={0}) is Inactive.EXHAUSTED


def test_skipped_ranks_beyond_the_allowance_exhaust():
    assert where([0, A, 0], max_skipped=0) is Inactive.SKIPPED
    assert where([0, A, 0], max_skipped=1) == 0
    assert where([B, 0, 0, A], continuing={0}, max_skipped=1) is Inactive.SKIPPED
    assert where([B, 0, 0, A], continuing={0}, max_skipped=2) == 0
    assert where([0, 0, 0, A], max_skipped=None) == 0


def test_overvote_rules():
    assert where([A | B, C]) is Inactive.OVERVOTE
    assert where([A | B, C], overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK) == 2
    rule = OvervoteRule.EXHAUST_IF_MULTIPLE_CONTINUING
    assert where([A | B, C], overvote_rule=rule) is Inactive.OVERVOTE
    assert where([A | B, C], continuing={1, 2}, overvote_rule=rule) == 1
    assert where([A | B, C], continuing={2}, overvote_rule=rule) == 2


def test_labelled_overvote_cannot_be_resolved_and_at_the_last_rank_is_exhausted():
    assert where([FLAG, A]) is Inactive.OVERVOTE
    assert where([FLAG, A], overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK) == 0
    assert where([B, FLAG], continuing={0}, overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK) is Inactive.EXHAUSTED
    assert where([FLAG, A], overvote_rule=OvervoteRule.EXHAUST_IF_MULTIPLE_CONTINUING) is Inactive.OVERVOTE


def test_skipped_overvote_still_counts_as_a_seen_rank():
    assert where([A | B, 0, C], overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK, max_skipped=1) == 2
    assert where([A | B, 0, 0, C], overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK, max_skipped=1) \
        is Inactive.SKIPPED


def test_duplicate_rankings_exhaust_only_when_the_rule_says_so():
    assert where([B, B, A], continuing={0}, exhaust_on_duplicate=True) is Inactive.REPEATED
    assert where([B, B, A], continuing={0}) == 0


def test_first_round_of_the_small_election():
    e = small_election()
    i = e.contest_index("RCV Mayor")
    r1 = first_round(e.contests[i], e.cards.marks[i])
    # cards 1,2: Pat, Quinn; 3: overvote; 4: nothing; 5: UWI; 6: labelled overvote
    assert r1.tallies[0].tolist() == [1, 1, 0, 1]
    assert r1.inactive[Inactive.OVERVOTE][0] == 2 and r1.inactive[Inactive.NO_RANKINGS][0] == 1
    assert r1.cards[0] == 6
    skip = first_round(e.contests[i], e.cards.marks[i], overvote_rule=OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK)
    assert skip.tallies[0].tolist() == [2, 1, 1, 1]  # card 3 goes to Riley, card 6 to Pat


@pytest.mark.parametrize("excluded, expected", [((), [1, 1, 0, 1]), ((0,), [0, 2, 0, 1])])
def test_excluded_candidates_are_passed_over(excluded, expected):
    e = small_election()
    i = e.contest_index("RCV Mayor")
    assert first_round(rcv(), e.cards.marks[i], excluded=excluded).tallies[0].tolist() == expected
