"""Differential test: Veritally's IRV count against a second independent implementation, pref_voting's
``instant_runoff_for_truncated_linear_orders`` (Holliday & Pacuit's library of voting methods), on thousands of random
ranked elections (those of ``_random_elections``).

pref_voting's method is RCTab's singleWinnerMajority on truncated ballots: ballots with no continuing candidate are
set aside, a candidate wins on reaching ``floor(active / 2) + 1`` (its ``strict_maj_size``), otherwise the candidates
with the fewest first-place votes go. The one difference is ties: pref_voting drops every candidate tied for last
at once, RCTab breaks the tie and drops one, so elections where Veritally used a tie-break are skipped.

Each compared election checks, with pref_voting's own profile arithmetic (``remove_candidates``,
``remove_empty_rankings``, ``plurality_scores``, ``strict_maj_size``) on the ballots as pref_voting holds them:
the winner pref_voting's IRV returns; the final round's tallies (per candidate, zeros included) and exhausted
ballots; that the final round is where pref_voting stops (its leader reaches the majority) and the round before is
not. pyrankvote's differential test (``test_differential_pyrankvote``) checks every round.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pref_voting.iterative_methods import instant_runoff_for_truncated_linear_orders  # the test extra installs it
from pref_voting.profiles_with_ties import ProfileWithTies

from veritally.tabulate.rcv.engine import Count, Status, count_rcv

from ._random_elections import NAMES, RULES, SEED, draw_election, election_to_tamper_with, veritally_ballots

N_ELECTIONS = 2000  # pref_voting takes ≈ 13 ms an election (its profiles are pure Python): ≈ 26 s in all


def pref_voting_profile(order: np.ndarray) -> ProfileWithTies:
    """The ballots as a pref_voting profile: one ranking per distinct ballot (rank r + 1 for the r-th choice), with
    its count; every candidate listed, so that one nobody ranks first still has a score of 0."""
    rows, weights = np.unique(order, axis=0, return_counts=True)
    rankings = [{c: r + 1 for r, c in enumerate(row) if c >= 0} for row in rows.tolist()]
    return ProfileWithTies(rankings, rcounts=weights.tolist(), candidates=list(range(order.shape[1])))


def pref_voting_round(profile: ProfileWithTies, continuing: frozenset[int]) -> tuple[dict[int, int], int, bool]:
    """pref_voting's view of a round with ``continuing`` candidates: (first-place scores, ballots set aside, whether
    its IRV stops there because the leader holds a strict majority of the ballots still ranking someone)."""
    reduced = profile.remove_candidates([c for c in profile.candidates if c not in continuing])
    reduced.remove_empty_rankings()
    scores = {c: int(v) for c, v in reduced.plurality_scores().items()}
    stops = max(scores.values()) >= reduced.strict_maj_size() or len(scores) == 1
    return scores, int(profile.num_voters - reduced.num_voters), stops


def compare(order: np.ndarray, count: Count, stats: Counter) -> None:
    """Assert that Veritally's ``count`` of ``order`` equals pref_voting's; ``stats`` counts what was compared."""
    if any(d.by_tiebreak for ds in count.decisions.values() for d in ds):
        stats["skipped: tie-break"] += 1
        return
    stats["compared"] += 1
    profile = pref_voting_profile(order)
    winners = instant_runoff_for_truncated_linear_orders(profile)
    assert winners == count.winners, f"winner: Veritally {count.winners}, pref_voting {winners}"
    final = count.rounds[-1]
    scores, set_aside, stops = pref_voting_round(profile, frozenset(final.tallies))
    assert {c: int(v) for c, v in final.tallies.items()} == scores, \
        f"final round: Veritally {final.tallies}, pref_voting {scores}"
    assert int(final.statuses[Status.EXHAUSTED]) == set_aside, f"final round: exhausted {final.statuses}, {set_aside}"
    assert stops, "pref_voting would go on past Veritally's final round"
    if len(count.rounds) >= 2:
        assert not pref_voting_round(profile, frozenset(count.rounds[-2].tallies))[2], \
            "pref_voting would stop a round before Veritally"
    stats["3+ rounds"] += len(count.rounds) >= 3
    stats["exhausted ballots in the final round"] += set_aside > 0
    first = count.rounds[0].tallies
    stats["won from behind"] += count.winners != [max(first, key=first.__getitem__)]
    stats["final round with 3+ candidates"] += len(final.tallies) >= 3


def test_irv_equals_pref_voting_on_random_elections():
    rng = np.random.default_rng(SEED)
    stats: Counter = Counter()
    for e in range(N_ELECTIONS):
        order = draw_election(rng)
        count = count_rcv(veritally_ballots(order), NAMES[: order.shape[1]], RULES)
        try:
            compare(order, count, stats)
        except AssertionError as exc:
            raise AssertionError(f"election {e} (seed {SEED}): {exc}") from exc
    compared = stats["compared"]
    print(f"\n{N_ELECTIONS} elections: {compared} compared; {dict(stats)}")
    # the scenarios the elections must exercise, or the comparison proves little
    assert compared >= 0.7 * N_ELECTIONS, "too many elections skipped"
    assert stats["3+ rounds"] >= 0.5 * compared, "most counts should go through several transfers"
    assert stats["exhausted ballots in the final round"] >= 0.45 * compared, "exhausted ballots"
    assert stats["won from behind"] >= 0.05 * compared, "winners who trailed in round 1"
    assert stats["final round with 3+ candidates"] >= 0.2 * compared, "majorities reached before two remain"
    assert stats["skipped: tie-break"], "the skip rule was exercised"


def test_the_comparison_catches_a_wrong_count():
    """The comparison is not vacuous: a final tally off by one ballot, a count stopped a round early, or the wrong
    winner fails it."""
    order, count = election_to_tamper_with(compare)
    final = count.rounds[-1].tallies
    loser = next(c for c in final if c not in count.winners)
    final[loser] += 1
    with pytest.raises(AssertionError, match="final round"):
        compare(order, count, Counter())
    final[loser] -= 1
    last = count.rounds.pop()
    with pytest.raises(AssertionError, match="pref_voting would go on"):
        compare(order, count, Counter())
    count.rounds.append(last)
    count.winners[:] = [loser]
    with pytest.raises(AssertionError, match="winner"):
        compare(order, count, Counter())
