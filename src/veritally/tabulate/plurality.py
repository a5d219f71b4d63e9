"""Counting of non-ranked contests: plurality, vote-for-N, approval, supermajority/threshold.

Definitions (the vendors' statement-of-votes conventions, so that reported and counted figures compare):

* a card is *overvoted* in a contest when it marks more than ``votes_allowed`` choices, or the source flags it as
  an overvote; none of its marks count;
* ``overvotes`` = ``votes_allowed`` × overvoted cards (the votes lost to overvoting);
* ``undervotes`` = Σ over the other cards of (``votes_allowed`` − marks) (the votes not cast);
* ``blank`` = cards on which the contest appears with no mark at all;
* so ``cards × votes_allowed = Σ tallies + overvotes + undervotes`` for every contest and every group.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from fractions import Fraction

import numpy as np

from ..model import Contest, ContestKind, ContestMarks, popcount
from .patterns import pattern_counts

__all__ = ["ContestTally", "count_marks", "decide_winners", "choice_totals"]


@dataclass
class ContestTally:
    """Counts of one contest over all cards, or per group when arrays have a leading group axis."""

    cards: np.ndarray  #: cards on which the contest appears, shape (G,)
    tallies: np.ndarray  #: votes per choice, shape (G, k)
    overvoted_cards: np.ndarray  #: (G,)
    overvotes: np.ndarray  #: (G,)
    undervotes: np.ndarray  #: (G,)
    blank: np.ndarray  #: (G,)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The figures in field order (for code that treats them alike: sums, slices, growth)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def total(self) -> ContestTally:
        """The groups summed into one (keeps a leading axis of length 1)."""
        return ContestTally(*(a.sum(axis=0, keepdims=True) for a in self.arrays()))

    def __add__(self, other: ContestTally) -> ContestTally:
        return ContestTally(*(a + b for a, b in zip(self.arrays(), other.arrays())))


def choice_bits(patterns: np.ndarray, n_choices: int) -> np.ndarray:
    """Boolean matrix ``(P, n_choices)``: whether each pattern marks each choice."""
    shifts = np.arange(n_choices, dtype=np.uint64)
    return ((patterns.astype(np.uint64)[:, None] >> shifts) & np.uint64(1)).astype(bool)


def count_marks(
    contest: Contest, marks: ContestMarks, groups: np.ndarray | None = None, n_groups: int = 1
) -> ContestTally:
    """Count a non-ranked contest, per group when ``groups`` (codes in ``[0, n_groups)``) is given.

    Vectorized: the present cards' masks are compressed to distinct patterns (``pattern_counts``), and every figure
    is computed on the patterns.
    """
    if contest.is_ranked:
        raise ValueError(f"{contest.name!r} is ranked; use veritally.tabulate.ranked")
    present = marks.present
    sel_groups = None if groups is None else groups[present]
    patterns, counts = pattern_counts(marks.masks[present], sel_groups, n_groups)
    k = len(contest.choices)
    allowed = contest.max_votes
    n_marked = popcount(patterns).astype(np.int64)
    flagged = (patterns & patterns.dtype.type(contest.overvote_flag)) != 0
    n_marked = np.where(flagged, n_marked - 1, n_marked)
    over = flagged | (n_marked > allowed)
    valid = ~over
    bits = choice_bits(patterns, k)
    tallies = counts @ (bits & valid[:, None]).astype(np.int64)
    cards = counts.sum(axis=1)
    overvoted = counts @ over.astype(np.int64)
    undervotes = counts @ np.where(valid, allowed - n_marked, 0)
    blank = counts @ (valid & (n_marked == 0)).astype(np.int64)
    return ContestTally(cards, tallies, overvoted, overvoted * allowed, undervotes, blank)


def decide_winners(contest: Contest, tallies: np.ndarray) -> tuple[list[int], list[int]]:
    """Winners and tied choices from one contest's tallies (choice indices).

    Plurality, vote-for-N and approval: the ``winners`` highest tallies win. When the last seat's tally equals the
    best loser's, every choice with that tally is *tied* and only the choices strictly above it are winners.
    Threshold: a choice whose share of the valid votes (Σ tallies) is at least ``contest.threshold`` passes
    (compared exactly, as fractions); when more choices pass than there are seats (a threshold of one half or less),
    the seats go to the highest among them, with ties as above. Write-in lines are ordinary choices here.
    """
    tallies = np.asarray(tallies, dtype=np.int64)
    total = int(tallies.sum())
    if total == 0:
        return [], []
    candidates = list(range(len(tallies)))
    if contest.kind is ContestKind.THRESHOLD:
        share = Fraction(contest.threshold).limit_denominator(1_000_000)
        candidates = [i for i in candidates if int(tallies[i]) * share.denominator >= share.numerator * total]
    seats = min(max(contest.winners, 1) if contest.kind is ContestKind.THRESHOLD else contest.winners,
                len(candidates))
    if seats == 0:
        return [], []
    order = sorted(candidates, key=lambda i: -int(tallies[i]))
    if len(order) == seats:
        return order, []
    cut = tallies[order[seats - 1]]
    above = [i for i in order if tallies[i] > cut]
    at_cut = [i for i in order if tallies[i] == cut]
    if len(above) + len(at_cut) == seats:
        return above + at_cut, []
    return above, at_cut


def choice_totals(contest: Contest, tallies: np.ndarray) -> dict[str, int]:
    """Votes per choice *name*, in ballot order: choices sharing a name (several "Write-in" lines) are one line,
    their votes summed, as a statement of votes reports them."""
    out: dict[str, int] = {}
    for name, v in zip(contest.choice_names, np.asarray(tallies).tolist()):
        out[name] = out.get(name, 0) + int(v)
    return out
