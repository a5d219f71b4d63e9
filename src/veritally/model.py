"""One election model for every part of Veritally.

An :class:`Election` has contests (small frozen dataclasses) and ballot *cards* stored columnar: NumPy arrays, one
entry per card, never one Python object per card.

Marks are bit masks. For a contest with ``k`` choices, bit ``i`` (``i < k``) of a card's mask is set when choice
``i`` is marked; bit ``k`` is :attr:`Contest.overvote_flag`, set when the source says "overvote" without saying
which choices were marked (ES&S ``overvote`` tokens). A mask of 0 is a blank (undervoted) contest, or, in a ranked
contest, a skipped rank. Several bits at one rank of a ranked contest are an overvote whose choices are known
(Dominion, ES&S with an overvote delimiter), which RCTab's ``exhaustIfMultipleContinuing`` rule needs. Undeclared
write-ins are a choice of their own, with ``write_in=True`` and ``undeclared=True``.

The mask dtype is the smallest unsigned integer with ``k + 1`` bits, so a contest of up to 7 choices costs one byte
per card; contests have at most :data:`MAX_CHOICES` choices.

Whether a contest appears on a card is a separate boolean array (``present``): a card without the contest is not
an undervote.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from .errors import ModelError

__all__ = [
    "MAX_CHOICES",
    "UWI_NAME",
    "CARD_ATTRIBUTES",
    "ContestKind",
    "Choice",
    "Contest",
    "ContestMarks",
    "Categorical",
    "Cards",
    "Election",
    "mask_dtype",
    "popcount",
]

#: The name of the choice that stands for undeclared write-ins (RCTab's): tallies and reports compare by name.
UWI_NAME = "Undeclared Write-ins"

#: Most choices a contest may have: 63 choice bits plus the overvote flag fit one uint64.
MAX_CHOICES = 63

#: Card attributes every reader fills where its format has them (missing values are code -1).
CARD_ATTRIBUTES = ("tabulator", "batch", "precinct", "precinct_portion", "style", "counting_group", "ballot")

STRING = np.dtypes.StringDType()


class ContestKind(StrEnum):
    """How a contest is won."""

    PLURALITY = "plurality"  #: one vote, most votes wins
    VOTE_FOR_N = "vote_for_n"  #: up to ``votes_allowed`` votes, the ``winners`` highest win
    APPROVAL = "approval"  #: any number of votes, the ``winners`` highest win
    THRESHOLD = "threshold"  #: a choice wins when its share of valid votes reaches ``threshold`` (supermajority)
    RANKED = "ranked"  #: ranked-choice (IRV / STV); counted by :mod:`veritally.tabulate.ranked`


@dataclass(frozen=True)
class Choice:
    """A candidate, ballot-measure option, or write-in line of one contest."""

    id: str
    name: str
    write_in: bool = False  #: a write-in line (qualified or not)
    undeclared: bool = False  #: an undeclared write-in (RCTab's "Undeclared Write-ins")
    aliases: tuple[str, ...] = ()  #: other names or codes the sources use for this choice
    party: str | None = None


@dataclass(frozen=True)
class Contest:
    """A contest: its rules and its choices, in ballot order."""

    id: str
    name: str
    kind: ContestKind
    choices: tuple[Choice, ...]
    winners: int = 1
    votes_allowed: int = 1
    ranks: int = 0  #: number of ranks for a ranked contest, 0 otherwise
    threshold: float | None = None  #: share of valid votes needed to win, for THRESHOLD contests
    district: str | None = None

    def __post_init__(self) -> None:
        if len(self.choices) > MAX_CHOICES:
            raise ModelError(f"contest {self.name!r} has {len(self.choices)} choices; at most {MAX_CHOICES} supported")
        if self.kind is ContestKind.RANKED and self.ranks < 1:
            raise ModelError(f"ranked contest {self.name!r} needs ranks >= 1")
        if self.kind is not ContestKind.RANKED and self.ranks:
            raise ModelError(f"contest {self.name!r} is not ranked but has ranks={self.ranks}")
        if self.kind is ContestKind.THRESHOLD and not (self.threshold and 0 < self.threshold <= 1):
            raise ModelError(f"threshold contest {self.name!r} needs 0 < threshold <= 1")
        if self.winners < 0 or self.votes_allowed < 1:
            raise ModelError(f"contest {self.name!r}: winners must be >= 0 and votes_allowed >= 1")

    @property
    def is_ranked(self) -> bool:
        return self.kind is ContestKind.RANKED

    @property
    def max_votes(self) -> int:
        """Votes a card may give: every choice in an approval contest, else ``votes_allowed``."""
        return len(self.choices) if self.kind is ContestKind.APPROVAL else self.votes_allowed

    @property
    def mask_dtype(self) -> np.dtype:
        return mask_dtype(len(self.choices))

    @property
    def overvote_flag(self) -> int:
        """Bit set when the source reports an overvote without naming the marked choices."""
        return 1 << len(self.choices)

    @property
    def choice_names(self) -> list[str]:
        return [c.name for c in self.choices]

    def choice_index(self, key: str) -> int:
        """Index of the choice whose id, name or alias is ``key``; KeyError if none."""
        lookup = self.__dict__.get("_lookup")
        if lookup is None:
            lookup = {}
            for i, c in enumerate(self.choices):
                for k in (c.id, c.name, *c.aliases):
                    lookup.setdefault(k, i)
            object.__setattr__(self, "_lookup", lookup)
        return lookup[key]

    def with_choices(self, choices: Sequence[Choice]) -> Contest:
        return replace(self, choices=tuple(choices))


def mask_dtype(n_choices: int) -> np.dtype:
    """Smallest unsigned dtype holding ``n_choices`` choice bits plus the overvote flag."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if n_choices + 1 <= np.iinfo(dt).bits:
            return np.dtype(dt)
    raise ModelError(f"{n_choices} choices exceed the {MAX_CHOICES} a contest may have")


def popcount(masks: np.ndarray) -> np.ndarray:
    """Number of set bits of each mask (uint8 result)."""
    return np.bitwise_count(masks)


@dataclass
class ContestMarks:
    """The marks of one contest on every card.

    ``present[i]`` says whether the contest is on card ``i``; ``masks`` has shape ``(n_cards,)`` for a non-ranked
    contest and ``(n_cards, ranks)`` for a ranked one (column ``r`` = rank ``r + 1``). Masks of absent cards are 0.
    """

    present: np.ndarray
    masks: np.ndarray

    def take(self, index: np.ndarray) -> ContestMarks:
        return ContestMarks(self.present[index], self.masks[index])


@dataclass
class Categorical:
    """A dictionary-encoded string column: ``labels[codes[i]]``, code -1 meaning missing."""

    codes: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_values(cls, values: Sequence[str | None]) -> Categorical:
        """Dictionary-encode ``values`` (None: missing), labels in order of first appearance."""
        table: dict[str, int] = {}
        codes = np.fromiter((-1 if v is None else table.setdefault(v, len(table)) for v in values), np.int32,
                            count=len(values))
        return cls(codes, np.array(list(table), dtype=STRING))

    @classmethod
    def empty(cls, n: int) -> Categorical:
        return cls(np.full(n, -1, np.int32), np.array([], dtype=STRING))

    def values(self) -> list[str | None]:
        labels = self.labels.tolist()
        return [None if c < 0 else labels[c] for c in self.codes.tolist()]

    def take(self, index: np.ndarray) -> Categorical:
        return Categorical(self.codes[index], self.labels)


@dataclass
class Cards:
    """Ballot cards, columnar: ids, dictionary-encoded attributes, and one :class:`ContestMarks` per contest."""

    card_id: np.ndarray
    attributes: dict[str, Categorical]
    marks: list[ContestMarks]

    def __len__(self) -> int:
        return len(self.card_id)

    def attribute(self, name: str) -> Categorical:
        """An attribute column; all-missing when the source did not have it."""
        col = self.attributes.get(name)
        return col if col is not None else Categorical.empty(len(self))

    def take(self, index: np.ndarray) -> Cards:
        return Cards(self.card_id[index], {k: v.take(index) for k, v in self.attributes.items()},
                     [m.take(index) for m in self.marks])


@dataclass
class Election:
    """Contests and the cards that were cast in them."""

    name: str
    contests: tuple[Contest, ...]
    cards: Cards
    meta: dict[str, str] = field(default_factory=dict)  #: provenance: source format, files, vendor version

    def __post_init__(self) -> None:
        if len(self.cards.marks) != len(self.contests):
            raise ModelError(f"{len(self.contests)} contests but marks for {len(self.cards.marks)}")
        n = len(self.cards)
        for contest, m in zip(self.contests, self.cards.marks):
            shape = (n, contest.ranks) if contest.is_ranked else (n,)
            if m.present.shape != (n,) or m.masks.shape != shape:
                raise ModelError(f"contest {contest.name!r}: marks shape {m.masks.shape}, expected {shape}")

    @property
    def n_cards(self) -> int:
        return len(self.cards)

    def contest_index(self, key: str) -> int:
        """Index of the contest whose id or name is ``key`` (case-insensitive on names)."""
        for i, c in enumerate(self.contests):
            if key == c.id or key == c.name:
                return i
        folded = [i for i, c in enumerate(self.contests) if c.name.casefold() == key.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise KeyError(key)

    def marks(self, key: str | int) -> ContestMarks:
        return self.cards.marks[key if isinstance(key, int) else self.contest_index(key)]

    def take(self, index: np.ndarray) -> Election:
        """The same election restricted to the cards at ``index`` (bool mask or integer positions)."""
        return Election(self.name, self.contests, self.cards.take(index), dict(self.meta))

    def chunks(self, size: int) -> Iterator[Election]:
        """Consecutive slices of at most ``size`` cards (views, no copies)."""
        for start in range(0, max(self.n_cards, 1), size):
            yield self.take(slice(start, start + size))  # type: ignore[arg-type]

    def with_contests(self, contests: Iterable[Contest]) -> Election:
        """Same cards, contests replaced by ones with the same choices in the same order (rules may differ)."""
        new = tuple(contests)
        for old, c in zip(self.contests, new, strict=True):
            if len(old.choices) != len(c.choices) or old.ranks != c.ranks:
                raise ModelError(f"contest {c.name!r} changes choices or ranks")
        return Election(self.name, new, self.cards, dict(self.meta))


def unique_card_check(card_id: np.ndarray) -> np.ndarray:
    """Positions ``(first, second)`` of the first duplicated card id, or an empty array when ids are unique."""
    if len(card_id) < 2:
        return np.empty(0, np.int64)
    order = np.argsort(card_id, kind="stable")
    s = card_id[order]
    dup = np.flatnonzero(s[1:] == s[:-1])
    if len(dup) == 0:
        return np.empty(0, np.int64)
    return np.sort(order[[dup[0], dup[0] + 1]])


def contest_to_dict(contest: Contest) -> dict:
    """A contest as plain JSON-able data (lossless; :func:`contest_from_dict` inverts it)."""
    return {
        "id": contest.id,
        "name": contest.name,
        "kind": str(contest.kind),
        "winners": contest.winners,
        "votes_allowed": contest.votes_allowed,
        "ranks": contest.ranks,
        "threshold": contest.threshold,
        "district": contest.district,
        "choices": [
            {"id": c.id, "name": c.name, "write_in": c.write_in, "undeclared": c.undeclared,
             "aliases": list(c.aliases), "party": c.party}
            for c in contest.choices
        ],
    }


def contest_from_dict(data: Mapping) -> Contest:
    choices = tuple(
        Choice(id=c["id"], name=c["name"], write_in=c.get("write_in", False), undeclared=c.get("undeclared", False),
               aliases=tuple(c.get("aliases", ())), party=c.get("party"))
        for c in data["choices"]
    )
    return Contest(id=data["id"], name=data["name"], kind=ContestKind(data["kind"]), choices=choices,
                   winners=data.get("winners", 1), votes_allowed=data.get("votes_allowed", 1),
                   ranks=data.get("ranks", 0), threshold=data.get("threshold"), district=data.get("district"))
