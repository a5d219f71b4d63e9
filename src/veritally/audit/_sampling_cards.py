"""Veritally's own card sampler: ballot cards as four columns, hashed as ``seed ␟ jurisdiction ␟ tabulator ␟ batch
␟ position`` (UTF-8, ␟ = U+001F), tickets read from the digests as binary fractions (docs/sampling.md), found by the
engine of :mod:`._sampling_engine`. The public names are re-exported by :mod:`veritally.audit.sampling`.
"""

from __future__ import annotations

import hashlib
import heapq
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial

import numpy as np

from ..errors import ConfigError, InputError
from . import _sampling_engine as engine
from ._sampling_checks import check_seed, count, draw_window
from ._sampling_tickets import (
    SEPARATOR,
    ballot_id_text,
    card_message,
    check_text,
    next_card_ticket,
    position_suffixes,
    ticket_hex,
)

__all__ = ["CardColumns", "CardDraw", "veritally_sample", "veritally_ticket_order"]

_FIELDS = ("jurisdiction", "tabulator", "batch", "position")
_TEXT_FIELDS = _FIELDS[:3]
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CardColumns:
    """Ballot cards as four columns of equal length: jurisdiction, tabulator, batch (text) and position (ints).

    Text columns may be lists or NumPy string arrays; ``tabulator=None`` means no tabulators (empty text).
    """

    jurisdiction: Sequence[str]
    tabulator: Sequence[str] | None
    batch: Sequence[str]
    position: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.jurisdiction)
        if self.tabulator is None:
            object.__setattr__(self, "tabulator", [""] * n)
        try:
            position = np.asarray(self.position)
        except (TypeError, ValueError) as err:
            raise InputError(f"ballot positions are not integers ({err})", field="position") from None
        if position.ndim != 1 or (position.size and position.dtype.kind not in "iu"):
            raise InputError(f"ballot positions must be a column of integers, not {position.dtype} "
                             f"with shape {position.shape}", field="position", expected="whole numbers")
        if position.size and position.min() < 0:
            row = int(np.argmin(position))
            raise InputError(f"ballot position {int(position[row])} is negative", record=row, field="position",
                             expected="a non-negative integer")
        object.__setattr__(self, "position", position)
        lengths = {name: len(getattr(self, name)) for name in _FIELDS}
        if len(set(lengths.values())) != 1:
            raise InputError(f"the card columns have different lengths: {lengths}", expected="one row per card")

    @classmethod
    def of(cls, cards: CardColumns | Mapping[str, Sequence] | Sequence[Sequence]) -> CardColumns:
        """``cards`` as columns: a CardColumns, a mapping with the four field names, or four columns in order."""
        if isinstance(cards, CardColumns):
            return cards
        if isinstance(cards, Mapping):
            missing = [f for f in _FIELDS if f not in cards and f != "tabulator"]
            if missing:
                raise InputError(f"the cards lack the column(s) {', '.join(missing)}", expected=", ".join(_FIELDS))
            return cls(cards["jurisdiction"], cards.get("tabulator"), cards["batch"], cards["position"])
        if len(cards) != 4:
            raise InputError(f"cards must be four columns ({', '.join(_FIELDS)}), not {len(cards)}")
        return cls(*cards)

    def __len__(self) -> int:
        return len(self.jurisdiction)

    def row(self, index: int) -> tuple[str, str, str, int]:
        return (str(self.jurisdiction[index]), str(self.tabulator[index]), str(self.batch[index]),
                int(self.position[index]))

    def text(self, index: int) -> str:
        """Card ``index``'s id text, ``jurisdiction ␟ tabulator ␟ batch ␟ position``."""
        return ballot_id_text(*self.row(index))


@dataclass(frozen=True, slots=True)
class CardDraw:
    """One draw of Veritally's sampler: the exact ticket as a hex binary fraction (64·generation hex digits, read
    as 0.hhhh…), the card's row in the columns, the card itself, and the draw's generation."""

    ticket: str
    index: int
    card: tuple[str, str, str, int]
    generation: int


class _VeritallyCards(engine.Source):
    """Cards hashed as ``seed ␟ jurisdiction ␟ tabulator ␟ batch ␟ position`` (UTF-8)."""

    def __init__(self, cards: CardColumns, seed: str) -> None:
        self.cards, self.seed, self.size = cards, seed, len(cards)
        self.prefix = f"{seed}{SEPARATOR}".encode()
        self._table: list[bytes] = []

    def _checked_rows(self, columns: list[Sequence[str]], start: int) -> None:
        """Every value of the text columns is text without control characters; batch names are not empty."""
        for name, column in zip(_TEXT_FIELDS, columns):
            try:
                joined = "".join(column)  # one C-level pass finds any non-text value or control character
            except TypeError:
                joined = None
            if joined is None or _CONTROL.search(joined) or (name == "batch" and min(map(len, column)) == 0):
                for i, value in enumerate(column):
                    self._checked_field(value, name, start + i)

    @staticmethod
    def _checked_field(value: object, name: str, record: int) -> str:
        check_text(value, name, record=record)
        if name == "batch" and not value:
            raise InputError("a batch name must not be empty", record=record, field="batch")
        return value

    @staticmethod
    def _run_bounds(columns: list[Sequence[str]]) -> list[int] | None:
        """Where (jurisdiction, tabulator, batch) changes along the chunk: run boundaries, or None if the runs are
        too short to be worth a prefix each (or the values cannot be compared)."""
        n = len(columns[0])
        change = np.zeros(max(n - 1, 0), dtype=bool)
        try:
            for column in columns:
                if isinstance(column, np.ndarray):
                    change |= np.asarray(column[1:] != column[:-1], dtype=bool)
                else:
                    change |= np.fromiter(map(operator.ne, column[1:], column[:-1]), dtype=bool, count=n - 1)
        except (TypeError, ValueError):
            return None
        cuts = np.flatnonzero(change)
        if cuts.size > n // 8:
            return None
        return [0, *(cuts + 1).tolist(), n]

    def segments(self, start: int, stop: int) -> engine.Segments:
        """Runs of cards of one batch share the prefix ``seed ␟ jurisdiction ␟ tabulator ␟ batch ␟`` (hashed once,
        validated once) and differ by their position; cards in no particular order are hashed one by one."""
        if stop <= start:
            return []
        columns = [getattr(self.cards, name)[start:stop] for name in _TEXT_FIELDS]
        positions = self.cards.position[start:stop].tolist()
        bounds = self._run_bounds(columns)
        try:
            if bounds is not None:
                for name, column in zip(_TEXT_FIELDS, columns):  # within a run values are equal, not yet typed
                    if not (isinstance(column, np.ndarray) and column.dtype.kind in "UT"):
                        try:
                            "".join(column)
                        except TypeError:
                            self._checked_rows(columns, start)
                out: engine.Segments = []
                for a, b in zip(bounds[:-1], bounds[1:]):
                    fields = [self._checked_field(c[a], name, start + a) for name, c in zip(_TEXT_FIELDS, columns)]
                    prefix = SEPARATOR.join([self.seed, *fields, ""]).encode()
                    out.append((prefix, position_suffixes(positions[a:b], self._table, b"%d")))
                return out
            self._checked_rows(columns, start)
            texts = map(SEPARATOR.join, zip(*columns, map(str, positions)))
            return [(self.prefix, list(map(str.encode, texts)))]
        except UnicodeEncodeError:
            for i in range(start, stop):
                try:
                    card_message(self.seed, self.cards.text(i))
                except UnicodeEncodeError as err:
                    raise InputError(f"card {self.cards.row(i)!r} cannot be written in UTF-8 ({err.reason})",
                                     record=i, expected="text without lone surrogates") from None
            raise  # pragma: no cover

    def part(self, start: int, stop: int) -> _VeritallyCards:  # pragma: no cover - platforms without fork
        c = self.cards
        return _VeritallyCards(CardColumns(list(c.jurisdiction[start:stop]), list(c.tabulator[start:stop]),
                                           list(c.batch[start:stop]), c.position[start:stop]), self.seed)

    def describe(self, index: int) -> str:
        return f"card {index} {self.cards.row(index)!r}"


def _veritally_source(cards: object, seed: str) -> _VeritallyCards:
    check_text(check_seed(seed), "seed")
    if not seed:
        raise ConfigError("the seed must not be empty")
    return _VeritallyCards(CardColumns.of(cards), seed)


def veritally_sample(cards: CardColumns | Mapping[str, Sequence] | Sequence[Sequence], seed: str, take: int, *,
                     with_replacement: bool = False, workers: int | None = None,
                     _key_bits: int = 64) -> list[CardDraw]:
    """Veritally's consistent sample of ballot cards: the ``take`` smallest tickets, in increasing order.

    Card id: ``jurisdiction ␟ tabulator ␟ batch ␟ position`` (:func:`ballot_id_text`). Ticket of generation 1:
    ``u1 = SHA-256(seed ␟ card) / 2^256``. With replacement, a card drawn at generation g gets
    ``t_{g+1} = t_g + (1 − t_g)·u_{g+1}`` with ``u_{g+1} = SHA-256(seed ␟ card ␟ (g+1)) / 2^256`` (uniform on
    (t_g, 1), exact in binary). Draws are in increasing ticket order, ties (probability about 2^-256) broken by
    the card text. docs/sampling.md has a 20-line reference implementation; the tests hold this function to it.

    ``_key_bits`` (tests only) shortens the 64-bit order key the engine discards cards with, forcing ties.
    """
    source = _veritally_source(cards, seed)
    take = count(take, "take")
    keep = draw_window(source.size, take, 0, with_replacement)
    if not 1 <= _key_bits <= 64:
        raise ConfigError("key bits must be 1..64")
    found = engine.smallest(source, partial(engine.prefix_keys, bits=_key_bits), max(keep, 1), workers)
    texts = [source.cards.text(int(i)) for i in found.index]
    ranked = sorted(range(len(texts)), key=lambda r: (found.digest[r].tobytes(), texts[r]))[:keep]
    two256 = 1 << 256
    heap = []
    for r in ranked:
        h = int.from_bytes(found.digest[r].tobytes(), "big")
        heap.append((Fraction(h, two256), texts[r], 1, two256 - h, int(found.index[r])))
    if not with_replacement:
        return [CardDraw(ticket_hex(rest, g), i, source.cards.row(i), g) for _, _, g, rest, i in heap[:take]]
    draws = []
    for _ in range(take):
        ticket, text, generation, rest, index = heap[0]
        draws.append(CardDraw(ticket_hex(rest, generation), index, source.cards.row(index), generation))
        after, after_rest = next_card_ticket(seed, text, generation, rest)
        heapq.heapreplace(heap, (after, text, generation + 1, after_rest, index))
    return draws


def veritally_ticket_order(cards: CardColumns | Mapping[str, Sequence] | Sequence[Sequence], seed: str, *,
                           workers: int | None = None) -> np.ndarray:
    """Every card's row index in increasing order of its first Veritally ticket (the order
    :func:`veritally_sample` draws without replacement), for :func:`consistent_sample_contests`.

    Sorted by the first 64 bits of each digest; cards sharing those bits (about N²/2^65 pairs) are put in order by
    their full digests and card text. Memory: 16 bytes per card.
    """
    source = _veritally_source(cards, seed)
    if source.size == 0:
        raise InputError("there are no cards to order", expected="at least one card")
    keys = engine.all_prefix_keys(source, workers)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    engine.find_duplicates(source, [ordered])
    tied = np.flatnonzero(ordered[1:] == ordered[:-1])
    if tied.size:
        starts = tied[np.concatenate([[True], tied[1:] != tied[:-1] + 1])]
        for s in starts:
            e = s + 1
            while e < ordered.size and ordered[e] == ordered[s]:
                e += 1
            group = order[s:e].tolist()
            exact = {i: (hashlib.sha256(card_message(seed, source.cards.text(i))).digest(), source.cards.text(i))
                     for i in group}
            order[s:e] = sorted(group, key=exact.__getitem__)
    return order
