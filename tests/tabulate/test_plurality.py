from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from veritally.model import ContestKind
from veritally.tabulate import tabulate
from veritally.tabulate.plurality import decide_winners

from ..elections import council, mayor, measure, random_election, small_election


def naive_count(contest, present, masks):
    """Independent per-card reference written from the definitions in plurality.py's docstring."""
    k = len(contest.choices)
    allowed = k if contest.kind is ContestKind.APPROVAL else contest.votes_allowed
    tallies, over_cards, under, blank, cards = [0] * k, 0, 0, 0, 0
    for p, m in zip(present.tolist(), masks.tolist()):
        if not p:
            continue
        cards += 1
        flagged = bool(m >> k & 1)
        marked = [i for i in range(k) if m >> i & 1]
        if flagged or len(marked) > allowed:
            over_cards += 1
            continue
        for i in marked:
            tallies[i] += 1
        under += allowed - len(marked)
        blank += not marked
    return {"cards": cards, "tallies": tallies, "overvoted_cards": over_cards, "overvotes": over_cards * allowed,
            "undervotes": under, "blank": blank}


def figures(cc):
    t = cc.total
    return {"cards": int(t.cards[0]), "tallies": t.tallies[0].tolist(), "overvoted_cards": int(t.overvoted_cards[0]),
            "overvotes": int(t.overvotes[0]), "undervotes": int(t.undervotes[0]), "blank": int(t.blank[0])}


def test_small_election_counts_every_kind_of_mark():
    count = tabulate(small_election())
    mayor_ = count.contest("Mayor")
    assert figures(mayor_) == {"cards": 8, "tallies": [3, 1, 1], "overvoted_cards": 2, "overvotes": 2,
                               "undervotes": 1, "blank": 1}
    assert [mayor_.contest.choices[i].name for i in mayor_.winners] == ["Alice"]
    council_ = count.contest("Council")  # vote for 2; card 3 marks all three
    assert figures(council_) == {"cards": 6, "tallies": [3, 3, 2], "overvoted_cards": 1, "overvotes": 2,
                                 "undervotes": 2, "blank": 0}
    assert council_.tied == [] and sorted(council_.winners) == [0, 1]
    assert count.to_json()["contests"][0]["write_ins"] == 1


def test_threshold_of_one_half_or_less_gives_the_seat_to_the_top_passing_choice():
    from veritally.model import Choice, Contest, ContestKind

    half = Contest("m", "M", ContestKind.THRESHOLD, (Choice("y", "Yes"), Choice("n", "No")), threshold=0.5)
    assert decide_winners(half, np.array([50, 50])) == ([], [0, 1])  # both reach one half: a tie, not two winners
    assert decide_winners(half, np.array([51, 49])) == ([0], [])
    low = Contest("m", "M", ContestKind.THRESHOLD, (Choice("a", "A"), Choice("b", "B"), Choice("c", "C")),
                  threshold=0.3)
    assert decide_winners(low, np.array([40, 35, 25])) == ([0], [])
    assert decide_winners(low, np.array([0, 0, 0])) == ([], [])


def test_threshold_contest_needs_the_supermajority_share():
    count = tabulate(small_election())
    m = count.contest("Measure 1")  # Yes 4, No 1 of 5 valid votes: 80 % >= 2/3
    assert m.total.tallies[0].tolist() == [4, 1]
    assert m.winners == [0]
    assert decide_winners(measure(), np.array([2, 1])) == ([0], [])  # exactly 2/3 passes
    assert decide_winners(measure(), np.array([65, 35])) == ([], [])


def test_ties_at_the_last_seat_are_reported_not_broken():
    assert decide_winners(mayor(), np.array([5, 5, 1])) == ([], [0, 1])
    assert decide_winners(council(), np.array([7, 5, 5])) == ([0], [1, 2])
    assert decide_winners(council(), np.array([7, 7, 5])) == ([0, 1], [])


def test_counting_by_precinct_sums_to_the_totals():
    count = tabulate(small_election(), by="precinct")
    for cc in count.contests:
        parts = list(cc.by.values())
        summed = parts[0]
        for p in parts[1:]:
            summed = summed + p
        assert summed.tallies.tolist() == cc.total.tallies.tolist()
        assert summed.cards.tolist() == cc.total.cards.tolist()
    assert set(count.contest("Mayor").by) == {"P1", "P2"}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120))
def test_vectorized_count_equals_naive_per_card_count(seed, n):
    e = random_election(np.random.default_rng(seed), n)
    count = tabulate(e)
    for contest, marks, cc in zip(e.contests, e.cards.marks, count.contests):
        if contest.is_ranked:
            continue
        assert figures(cc) == naive_count(contest, marks.present, marks.masks)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 150), by=st.sampled_from([None, "precinct", "batch"]))
def test_votes_overvotes_and_undervotes_account_for_every_allowed_vote(seed, n, by):
    e = random_election(np.random.default_rng(seed), n)
    count = tabulate(e, by=by)
    for cc in count.contests:
        if cc.contest.is_ranked:
            continue
        allowed = cc.contest.max_votes
        groups = list(cc.by.values()) if by else [cc.total]
        for t in groups:
            assert (t.cards * allowed == t.tallies.sum(axis=1) + t.overvotes + t.undervotes).all()
            assert (t.blank <= t.cards).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 100), cut=st.integers(1, 99))
def test_counting_in_chunks_equals_counting_at_once(seed, n, cut):
    from veritally.tabulate import tabulate_chunks

    e = random_election(np.random.default_rng(seed), n)
    cut = min(cut, n - 1)
    whole = tabulate(e, by="precinct").to_json()
    parts = tabulate_chunks([e.take(np.arange(cut)), e.take(np.arange(cut, n))], by="precinct").to_json()
    assert parts == whole


def wide_election(rng, n):
    """Approval, vote-for-3 and plurality contests of 10, 20 and 40 choices (masks of 16, 32 and 64 bits: every
    path of pattern_counts), random masks with overvote flags, built column-wise."""
    from veritally.model import Cards, Categorical, Choice, Contest, ContestMarks, Election

    def choices(k):
        return tuple(Choice(str(i), f"C{i}") for i in range(k))

    contests = (Contest("a", "Approval", ContestKind.APPROVAL, choices(10), winners=2),
                Contest("v", "Vote for 3", ContestKind.VOTE_FOR_N, choices(20), winners=3, votes_allowed=3),
                Contest("p", "Plurality", ContestKind.PLURALITY, choices(40)))
    marks = []
    for c in contests:
        k = len(c.choices)
        few = rng.integers(0, k, (n, 4)).astype(np.uint64)
        keep = rng.random((n, 4)) < np.array([0.9, 0.3, 0.1, 0.05])
        masks = np.bitwise_or.reduce(np.where(keep, np.uint64(1) << few, np.uint64(0)), axis=1)
        masks |= np.where(rng.random(n) < 0.02, np.uint64(1) << np.uint64(k), np.uint64(0))  # overvote flag
        marks.append(ContestMarks(rng.random(n) < 0.9, masks.astype(c.mask_dtype)))
        marks[-1].masks[~marks[-1].present] = 0
    groups = Categorical(rng.integers(0, 3, n).astype(np.int32), np.array(["P1", "P2", "P3"]))
    return Election("wide", contests, Cards(np.arange(n).astype(str), {"precinct": groups}, marks))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200))
def test_wide_contests_count_like_the_naive_count_and_account_for_every_vote(seed, n):
    e = wide_election(np.random.default_rng(seed), n)
    count = tabulate(e, by="precinct")
    for contest, marks, cc in zip(e.contests, e.cards.marks, count.contests):
        assert figures(cc) == naive_count(contest, marks.present, marks.masks)
        for t in [cc.total, *cc.by.values()]:
            assert (t.cards * contest.max_votes == t.tallies.sum(axis=1) + t.overvotes + t.undervotes).all()
    approval = count.contests[0].to_json()
    assert approval["votes_allowed"] == 10
