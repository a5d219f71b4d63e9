"""First-round allocation of ranked ballots, with RCTab's voter-error rules (notes/tabulation.md §1.2).

Ballots are compressed to distinct ranking patterns with weights; each pattern is walked once, so the cost is
O(patterns × ranks), not O(ballots). The full round-by-round count (elimination, surplus, tie-breaks) is built on
the same pattern walk (a later piece of work); this module gives round 1, which readers'
conformance tests compare with RCTab's expected round-1 tallies.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ..model import Contest, ContestMarks
from .patterns import pattern_counts

__all__ = ["OvervoteRule", "Inactive", "RoundOne", "first_round", "allocate"]


class OvervoteRule(StrEnum):
    """RCTab's ``overvoteRule`` values."""

    EXHAUST_IMMEDIATELY = "exhaustImmediately"
    ALWAYS_SKIP_TO_NEXT_RANK = "alwaysSkipToNextRank"
    EXHAUST_IF_MULTIPLE_CONTINUING = "exhaustIfMultipleContinuing"


class Inactive(StrEnum):
    """Why a ballot is not counted for any candidate (RCTab's inactive-ballot categories)."""

    OVERVOTE = "overvotes"
    SKIPPED = "skippedRankings"
    EXHAUSTED = "exhaustedChoices"
    REPEATED = "repeatedRankings"
    NO_RANKINGS = "didNotRankAnyCandidates"


def allocate(
    ranks: np.ndarray,
    continuing: Collection[int],
    *,
    overvote_flag: int,
    overvote_rule: OvervoteRule = OvervoteRule.EXHAUST_IMMEDIATELY,
    max_skipped: int | None = None,
    exhaust_on_duplicate: bool = False,
) -> int | Inactive:
    """Where one ranking pattern goes: a choice index among ``continuing``, or why it is inactive.

    Walks the marked ranks in order exactly as RCTab's ``Tabulator.computeTalliesForRound`` (v2.0.1) does: a gap of
    more than ``max_skipped`` ranks since the last marked rank makes the ballot inactive (skippedRankings); with
    ``exhaust_on_duplicate`` a candidate ranked twice exhausts it (repeatedRankings); an overvoted rank follows
    ``overvote_rule`` (an overvote the source only labelled, without naming choices, cannot be resolved by
    ``exhaustIfMultipleContinuing``), and an overvote skipped at the last marked rank is exhaustedChoices; the first
    continuing candidate gets the ballot; running out of ranks is exhaustedChoices, never having ranked anyone
    didNotRankAnyCandidates.
    """
    values = ranks.tolist()
    marked = [r for r, mask in enumerate(values, start=1) if mask]
    if not marked:
        return Inactive.NO_RANKINGS
    last_marked = marked[-1]
    n_bits = overvote_flag.bit_length() - 1
    last_seen = 0
    seen: set[int] = set()
    for r in marked:
        mask = values[r - 1]
        if max_skipped is not None and r - last_seen > max_skipped + 1:
            return Inactive.SKIPPED
        last_seen = r
        labelled_over = bool(mask & overvote_flag)
        # a labelled overvote is RCTab's pseudo-candidate "overvote" (index -1 here), which can repeat too
        chosen = [-1] if labelled_over else [i for i in range(n_bits) if mask >> i & 1]
        if exhaust_on_duplicate:
            if any(c in seen for c in chosen):
                return Inactive.REPEATED
            seen.update(chosen)
        if labelled_over or len(chosen) > 1:
            if overvote_rule is OvervoteRule.EXHAUST_IMMEDIATELY or labelled_over and (
                    overvote_rule is OvervoteRule.EXHAUST_IF_MULTIPLE_CONTINUING):
                return Inactive.OVERVOTE
            if overvote_rule is OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK or labelled_over:
                if r == last_marked:  # RCTab: an overvote skipped at the last ranking exhausts the choices
                    return Inactive.EXHAUSTED
                continue
            if sum(c in continuing for c in chosen) > 1:  # exhaustIfMultipleContinuing
                return Inactive.OVERVOTE
        for c in chosen:
            if c in continuing:
                return c
    return Inactive.EXHAUSTED


@dataclass
class RoundOne:
    """First-round tallies of a ranked contest (per group when arrays have a leading group axis)."""

    cards: np.ndarray  #: (G,) cards on which the contest appears
    tallies: np.ndarray  #: (G, k) first-round votes per choice
    inactive: dict[Inactive, np.ndarray]  #: (G,) inactive ballots per category


def first_round(
    contest: Contest,
    marks: ContestMarks,
    *,
    groups: np.ndarray | None = None,
    n_groups: int = 1,
    excluded: Collection[int] = (),
    overvote_rule: OvervoteRule = OvervoteRule.EXHAUST_IMMEDIATELY,
    max_skipped: int | None = None,
    exhaust_on_duplicate: bool = False,
) -> RoundOne:
    """Round-1 allocation of every ballot of a ranked contest (all non-excluded choices continuing)."""
    present = marks.present
    patterns, counts = pattern_counts(marks.masks[present], None if groups is None else groups[present], n_groups)
    k = len(contest.choices)
    continuing = set(range(k)) - set(excluded)
    tallies = np.zeros((n_groups, k), np.int64)
    inactive = {cat: np.zeros(n_groups, np.int64) for cat in Inactive}
    for p in range(len(patterns)):
        where = allocate(patterns[p], continuing, overvote_flag=contest.overvote_flag, overvote_rule=overvote_rule,
                         max_skipped=max_skipped, exhaust_on_duplicate=exhaust_on_duplicate)
        if isinstance(where, Inactive):
            inactive[where] += counts[:, p]
        else:
            tallies[:, where] += counts[:, p]
    return RoundOne(counts.sum(axis=1), tallies, inactive)
