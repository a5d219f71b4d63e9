"""An audit's state as plain arrays, and everything computed from it — the same code for the live audit (loaded
from its database) and for ``verify`` (loaded from an export bundle), so an observer re-derives exactly what the
audit computed.

Cards: the ballot manifest's batches in order, positions 1…ballots in each; card i is the i-th of that list.
A card's ballot id is ``jurisdiction/tabulator/batch/position`` with ``%`` and ``/`` in a name written ``%25`` and
``%2F`` (docs/audit.md). CVRs are linked to cards by (jurisdiction, tabulator, batch) and their order within the
batch (the first CVR of a batch is position 1), as vendors number a batch's records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import orjson

from ..errors import ConfigError, InputError, ManifestMismatch
from ..model import Election, popcount
from .contest import ReportedContest

__all__ = ["AuditSettings", "Cards", "ContestSpec", "Reading", "ballot_id", "parse_ballot_id", "STATUSES",
           "link_cvrs", "contest_votes", "require_cvr_split"]

#: Readings of a contest on a card other than votes (Arlo's interpretations).
STATUSES = ("BLANK", "NOT_ON_BALLOT", "CANT_AGREE", "NOT_FOUND")
AUDIT_TYPES = ("polling", "comparison", "batch", "hybrid", "oneaudit")
METHODS = {"polling": ("bravo", "alpha"), "comparison": ("supersimple", "alpha"), "batch": ("macro",),
           "hybrid": ("suite",), "oneaudit": ("alpha",)}


@dataclass(frozen=True)
class AuditSettings:
    audit_type: str
    method: str
    risk_limit: float
    seed: str
    card_style: bool = False  # comparison audits: each contest sampled from the cards whose CVR lists it


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("/", "%2F")


def _unescape(text: str) -> str:
    return text.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")


def ballot_id(jurisdiction: str, tabulator: str, batch: str, position: int) -> str:
    """``jurisdiction/tabulator/batch/position`` (``%`` → ``%25``, ``/`` → ``%2F`` inside names)."""
    return f"{_escape(jurisdiction)}/{_escape(tabulator)}/{_escape(batch)}/{position}"


def parse_ballot_id(text: str) -> tuple[str, str, str, int]:
    parts = text.split("/")
    if len(parts) != 4 or not parts[3].isdigit():
        raise ValueError(text)
    return _unescape(parts[0]), _unescape(parts[1]), _unescape(parts[2]), int(parts[3])


@dataclass
class Cards:
    """Every card of the manifests, columnar (batch-major): batch index and position per card, plus the batches."""

    jurisdiction: list[str]  # per batch
    container: list[str | None]
    tabulator: list[str]
    batch: list[str]
    ballots: np.ndarray  # per batch
    cvr: np.ndarray | None = None  # per batch: the manifest's CVR column (hybrid audits), None without one
    offsets: np.ndarray = field(init=False)  # first card of each batch

    def __post_init__(self) -> None:
        self.ballots = np.asarray(self.ballots, np.int64)
        if self.cvr is not None:
            self.cvr = np.asarray(self.cvr, bool)
        self.offsets = np.concatenate([[0], np.cumsum(self.ballots)[:-1]]).astype(np.int64)

    @property
    def total(self) -> int:
        return int(self.ballots.sum())

    def batch_of(self, cards: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, np.asarray(cards, np.int64), side="right") - 1

    def position_of(self, cards: np.ndarray) -> np.ndarray:
        cards = np.asarray(cards, np.int64)
        return cards - self.offsets[self.batch_of(cards)] + 1

    def columns(self) -> dict[str, np.ndarray]:
        """The four sampling columns of every card (jurisdiction, tabulator, batch, position)."""
        rows = np.repeat(np.arange(len(self.batch)), self.ballots)
        positions = np.arange(self.total, dtype=np.int64) - np.repeat(self.offsets, self.ballots) + 1
        as_text = np.dtypes.StringDType()
        return {"jurisdiction": np.array(self.jurisdiction, dtype=as_text)[rows],
                "tabulator": np.array(self.tabulator, dtype=as_text)[rows],
                "batch": np.array(self.batch, dtype=as_text)[rows], "position": positions}

    def batch_index(self) -> dict[tuple[str, str, str], int]:
        return {(j, t, b): i for i, (j, t, b) in enumerate(zip(self.jurisdiction, self.tabulator, self.batch))}

    def card_index(self, jurisdiction: str, tabulator: str, batch: str, position: int,
                   index: Mapping[tuple[str, str, str], int]) -> int | None:
        row = index.get((jurisdiction, tabulator, batch))
        if row is None or not 1 <= position <= self.ballots[row]:
            return None
        return int(self.offsets[row] + position - 1)

    def ballot_ids(self, cards: Sequence[int]) -> list[str]:
        cards = np.asarray(cards, np.int64)
        rows, positions = self.batch_of(cards), self.position_of(cards)
        return [ballot_id(self.jurisdiction[r], self.tabulator[r], self.batch[r], int(p))
                for r, p in zip(rows.tolist(), positions.tolist())]


@dataclass(frozen=True)
class ContestSpec:
    """A contest under audit: its reported tally and outcome, and whether it is targeted."""

    name: str
    targeted: bool
    reported: ReportedContest
    choices: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    """An audit board's reading of one contest on one card: votes per choice, or a status (STATUSES)."""

    votes: Mapping[str, int] | None = None
    status: str | None = None

    def to_json(self) -> dict:
        return {"status": self.status} if self.status else {"choices": dict(sorted((self.votes or {}).items()))}

    def to_text(self) -> str:
        """Canonical JSON text (keys sorted): two equal readings have equal text, whatever the order of marks."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS).decode()

    @classmethod
    def from_json(cls, data: Mapping) -> Reading:
        return cls(status=data["status"]) if data.get("status") else cls(votes=dict(data.get("choices", {})))

    @classmethod
    def from_text(cls, text: str) -> Reading:
        return cls.from_json(orjson.loads(text))


def link_cvrs(cards: Cards, jurisdiction: str, election: Election, *, allow_gaps: bool = False,
              source: str | None = None, without_cvrs: np.ndarray | None = None) -> np.ndarray:
    """For each CVR of ``election`` (one jurisdiction), the card it records; ManifestMismatch when a batch has
    more CVRs than the manifest has ballots, or (unless ``allow_gaps``) fewer. Batches flagged in
    ``without_cvrs`` (hybrid audits: the manifest's CVR=N batches) must have no CVR and need none."""
    index = cards.batch_index()
    tab = election.cards.attribute("tabulator").values()
    bat = election.cards.attribute("batch").values()
    n = election.n_cards
    keys = [(jurisdiction, t or "", b or "") for t, b in zip(tab, bat)]
    if any(k not in index for k in keys):
        # manifests without a tabulator column identify a batch by its name alone
        plain = {(j, b): i for (j, t, b), i in index.items() if t == ""}
        resolved = []
        for k, (t, b) in zip(keys, zip(tab, bat)):
            if k in index:
                resolved.append(index[k])
            elif (jurisdiction, b or "") in plain:
                resolved.append(plain[(jurisdiction, b or "")])
            else:
                raise ManifestMismatch(f"a CVR's batch {b!r} (tabulator {t!r}) is not in {jurisdiction}'s manifest",
                                       file=source, record=str(election.cards.card_id[len(resolved)]),
                                       field="batch", expected="every CVR batch listed in the manifest")
        rows = np.array(resolved, np.int64)
    else:
        rows = np.array([index[k] for k in keys], np.int64)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    starts = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n) - starts
    counts = np.bincount(rows, minlength=len(cards.batch))
    for r in np.flatnonzero(counts > cards.ballots).tolist():
        raise ManifestMismatch(f"batch {cards.batch[r]} (tabulator {cards.tabulator[r]!r}) has {counts[r]} CVRs but "
                               f"the manifest lists {cards.ballots[r]} ballots", file=source, field="Number of Ballots",
                               expected="no more CVRs than ballots in a batch")
    in_scope = np.array([j == jurisdiction for j in cards.jurisdiction])
    if without_cvrs is not None:
        for r in np.flatnonzero(without_cvrs & (counts > 0)).tolist():
            raise ManifestMismatch(f"batch {cards.batch[r]} (tabulator {cards.tabulator[r]!r}) is marked CVR=N in the "
                                   f"manifest but has {counts[r]} CVRs", file=source, field="CVR",
                                   expected="CVRs only for batches marked CVR=Y")
        in_scope &= ~np.asarray(without_cvrs, bool)
    short = np.flatnonzero(in_scope & (counts < cards.ballots))
    if short.size and not allow_gaps:
        r = int(short[0])
        raise ManifestMismatch(f"batch {cards.batch[r]} (tabulator {cards.tabulator[r]!r}) has {counts[r]} CVRs but the "
                               f"manifest lists {cards.ballots[r]} ballots ({short.size} batches disagree; add the "
                               "missing CVRs, or --allow-gaps to audit the missing cards as phantoms)",
                               file=source, field="Number of Ballots", expected="as many CVRs as ballots in each batch")
    return cards.offsets[rows] + rank


def contest_votes(election: Election, contest_name: str, choices: Sequence[str], *,
                  zero_overvotes: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(votes (n × k) over ``choices``, present, overvoted) of one contest on every CVR of ``election``.

    An overvote (more marks than allowed, or the vendor's overvote flag) records no vote for anyone, unless
    ``zero_overvotes=False`` (what a person reading the paper sees: every marked choice)."""
    try:
        index = election.contest_index(contest_name)
    except KeyError:
        n = election.n_cards
        return np.zeros((n, len(choices)), np.int64), np.zeros(n, bool), np.zeros(n, bool)
    contest = election.contests[index]
    if contest.is_ranked:
        raise InputError(f"contest {contest_name!r} is ranked; ranked contests are audited with RAIRE assertions "
                         "(not yet in Veritally)", field="contest")
    marks = election.cards.marks[index]
    masks = marks.masks.astype(np.uint64)
    names = contest.choice_names
    votes = np.zeros((len(masks), len(choices)), np.int64)
    for j, name in enumerate(choices):
        if name in names:
            votes[:, j] = (masks >> np.uint64(names.index(name))) & np.uint64(1)
    flag = np.uint64(contest.overvote_flag)
    over = ((masks & flag) != 0) | (popcount(masks & ~flag) > contest.max_votes)
    over &= marks.present
    if zero_overvotes:
        votes[over] = 0
    return votes, marks.present.copy(), over


def require_cvr_split(cards: Cards, audit: str, *, with_column: str, both: str) -> None:
    """ConfigError unless the manifests have the CVR column and cards of both kinds (hybrid and ONEAudit audits):
    ``with_column`` says what Y/N mean, ``both`` what the audit needs of the two kinds."""
    if cards.cvr is None:
        raise ConfigError(f"a {audit} audit needs the ballot manifest's CVR column ({with_column}) in every manifest")
    with_cvrs = int(cards.ballots[cards.cvr].sum())
    if with_cvrs == 0 or with_cvrs == cards.total:
        kind = "comparison" if with_cvrs else "polling"
        raise ConfigError(f"the manifests mark {'every' if with_cvrs else 'no'} batch CVR=Y: a {audit} audit needs "
                          f"{both} (use --type {kind})")

