"""Counting: every contest of an election, in total and by precinct, batch, tabulator or counting group.

:func:`tabulate` returns an :class:`ElectionCount`; :meth:`ElectionCount.to_json` gives the documented JSON
(docs/tabulate.md). Ranked contests are reported with their first-round tallies here, and round by round
(:mod:`veritally.tabulate.rcv`) when rules are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..model import Contest, ContestKind, Election
from .plurality import ContestTally, choice_totals, count_marks, decide_winners
from .ranked import first_round

__all__ = ["tabulate", "tabulate_chunks", "ElectionCount", "ContestCount", "GROUPINGS"]

#: ``--by`` values: the card attributes a count can be grouped on.
GROUPINGS = ("precinct", "batch", "tabulator", "counting_group")


@dataclass
class ContestCount:
    """Totals of one contest, and the same figures per group label when counted ``by`` an attribute."""

    contest: Contest
    total: ContestTally
    by: dict[str, ContestTally] = field(default_factory=dict)
    rcv: dict | None = None  #: a ranked contest's round-by-round count (tabulate.rcv.count_json), when asked

    @property
    def winners(self) -> list[int]:
        return decide_winners(self.contest, self.total.tallies[0])[0] if not self.contest.is_ranked else []

    @property
    def tied(self) -> list[int]:
        return decide_winners(self.contest, self.total.tallies[0])[1] if not self.contest.is_ranked else []

    def figures(self, t: ContestTally, g: int = 0) -> dict:
        out = {
            "cards": int(t.cards[g]),
            "tallies": choice_totals(self.contest, t.tallies[g]),
            "overvotes": int(t.overvotes[g]),
            "overvoted_cards": int(t.overvoted_cards[g]),
            "undervotes": int(t.undervotes[g]),
            "blank": int(t.blank[g]),
            "write_ins": int(sum(int(v) for c, v in zip(self.contest.choices, t.tallies[g]) if c.write_in)),
        }
        return out

    def to_json(self) -> dict:
        c = self.contest
        names = c.choice_names
        out = {
            "name": c.name,
            "id": c.id,
            "kind": str(c.kind),
            "votes_allowed": c.max_votes,
            "number_of_winners": c.winners,
            **self.figures(self.total),
            "winners": [names[i] for i in self.winners],
            "tied": [names[i] for i in self.tied],
        }
        if c.is_ranked:
            out["ranks"] = c.ranks
            if self.rcv is None:
                out["note"] = "ranked contest: tallies are first-round (first valid ranking of each ballot)"
            else:
                out["note"] = "ranked contest: tallies are first-round; rcv holds the round-by-round count"
                out["winners"] = list(self.rcv["winners"])
                out["rcv"] = self.rcv
        if c.kind is ContestKind.THRESHOLD:
            out["threshold"] = c.threshold
        if self.by:
            out["by"] = {label: self.figures(t) for label, t in self.by.items()}
        return out


@dataclass
class ElectionCount:
    """The count of every contest of an election."""

    name: str
    cards: int
    contests: list[ContestCount]
    grouping: str | None = None

    def contest(self, key: str) -> ContestCount:
        for cc in self.contests:
            if key in (cc.contest.name, cc.contest.id):
                return cc
        raise KeyError(key)

    def to_json(self) -> dict:
        out = {"election": self.name, "cards": self.cards, "contests": [c.to_json() for c in self.contests]}
        if self.grouping:
            out["by"] = self.grouping
        return out


def _ranked_tally(contest: Contest, marks, groups, n_groups) -> ContestTally:
    r1 = first_round(contest, marks, groups=groups, n_groups=n_groups)
    from .ranked import Inactive

    blank = r1.inactive[Inactive.NO_RANKINGS]
    over = r1.inactive[Inactive.OVERVOTE]
    return ContestTally(r1.cards, r1.tallies, over, over, r1.cards - r1.tallies.sum(axis=1) - over, blank)


def _count_one(election: Election, indices: Sequence[int], by: str | None) -> tuple[list[ContestTally], list[str]]:
    if by is None:
        groups, labels = None, ["*"]
    else:
        cat = election.cards.attribute(by)
        labels = [*cat.labels.tolist(), "(none)"]
        groups = np.where(cat.codes < 0, len(labels) - 1, cat.codes)
    out = []
    for i in indices:
        contest, marks = election.contests[i], election.cards.marks[i]
        counter = _ranked_tally if contest.is_ranked else count_marks
        out.append(counter(contest, marks, groups, len(labels)))
    return out, labels


def _find(election: Election, key: str) -> int:
    try:
        return election.contest_index(key)
    except KeyError:
        names = ", ".join(repr(c.name) for c in election.contests)
        raise ConfigError(f"no contest named {key!r}; the CVRs have: {names}") from None


def tabulate(election: Election, contests: Sequence[str] | None = None, by: str | None = None) -> ElectionCount:
    """Count ``contests`` (names or ids; default all) of ``election``, optionally per ``by`` group."""
    return tabulate_chunks([election], contests, by)


def tabulate_chunks(chunks: Iterable[Election], contests: Sequence[str] | None = None,
                    by: str | None = None) -> ElectionCount:
    """Count an election given as consecutive chunks of cards (e.g. Parquet row groups), summing as it goes.

    Group labels are merged across chunks by name (each chunk may encode them differently).
    """
    if by is not None and by not in GROUPINGS:
        raise ConfigError(f"cannot count by {by!r}; choose one of {', '.join(GROUPINGS)}")
    sums: list[ContestTally] = []
    label_index: dict[str, int] = {}
    n_cards = 0
    first: Election | None = None
    indices: list[int] = []
    for chunk in chunks:
        if first is None:
            first = chunk
            indices = list(range(len(chunk.contests))) if not contests else [_find(chunk, k) for k in contests]
        n_cards += chunk.n_cards
        tallies, labels = _count_one(chunk, indices, by)
        rows = np.array([label_index.setdefault(label, len(label_index)) for label in labels], np.int64)
        size = len(label_index)
        for j, t in enumerate(tallies):
            if j == len(sums):
                sums.append(_zeros_like(t, size))
            sums[j] = _grow(sums[j], size)
            for acc, part in zip(sums[j].arrays(), t.arrays()):
                np.add.at(acc, rows, part)
    if first is None:
        raise ValueError("no cards to count")
    labels = list(label_index)
    counts = []
    for j, i in enumerate(indices):
        total = sums[j].total()
        by_label: dict[str, ContestTally] = {}
        if by is not None:
            for g in sorted(range(len(labels)), key=labels.__getitem__):
                if sums[j].cards[g]:
                    by_label[labels[g]] = ContestTally(*(a[g : g + 1] for a in sums[j].arrays()))
        counts.append(ContestCount(first.contests[i], total, by_label))
    return ElectionCount(first.name, n_cards, counts, by)


def _zeros_like(t: ContestTally, rows: int) -> ContestTally:
    return ContestTally(*(np.zeros((rows,) + a.shape[1:], np.int64) for a in t.arrays()))


def _grow(t: ContestTally, rows: int) -> ContestTally:
    have = t.cards.shape[0]
    if have == rows:
        return t
    return ContestTally(*(np.concatenate([a, np.zeros((rows - have,) + a.shape[1:], np.int64)])
                          for a in t.arrays()))
