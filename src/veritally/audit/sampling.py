"""Reproducible samplers for risk-limiting audits: Rivest's consistent sampler (and Arlo's use of it), Rivest's 2011
counter-mode sampler (ColoradoRLA), and Veritally's own language-neutral card sampler. docs/sampling.md explains
each, with a plain reference implementation of Veritally's.

An RLA is only as trustworthy as its sample: anyone holding the published seed and ballot manifest must be able to
re-derive it. Three families are here:

* :func:`consistent_sample` is bit-identical (tickets, order, generations) to Rivest's
  ``consistent_sampler.sampler(ids, seed, take=…, with_replacement=…, drop=…, output="tuple", digits=…)``
  (Rivest 2018, arXiv:1808.10016); :func:`arlo_draw_sample` to Arlo's ``sampler.draw_sample``, which hashes each
  ballot as Python's ``str((batch_key, position))``. Both hash each id once and keep only the smallest tickets
  (:mod:`._sampling_engine`), several processes at once for large manifests.
* :func:`counter_mode_sample` is Rivest's 2011 ``sampler.py``: draw i is
  ``low + int(SHA-256(seed + "," + str(i))) mod (high − low + 1)``.
* :func:`veritally_sample` uses an encoding an observer can re-implement in any language (no Python ``repr``):
  the card ``(jurisdiction, tabulator, batch, position)`` is hashed as ``seed ␟ jurisdiction ␟ tabulator ␟ batch ␟
  position`` in UTF-8 (␟ = U+001F), and the ticket is that SHA-256 digest read as a binary fraction.

Batch sampling proportional to error bounds (:func:`ppeb_sample`) and card-style-aware sampling across contests
(:func:`consistent_sample_contests`) live in :mod:`._sampling_batches` and are re-exported here.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
import operator
from operator import itemgetter

import numpy as np

from ..errors import ConfigError, InputError
from . import _sampling_engine as engine
from ._sampling_batches import ContestSample, PpebDraw, consistent_sample_contests, ppeb_sample
from ._sampling_tickets import (
    SEPARATOR,
    ballot_id_bytes,
    ballot_id_text,
    card_message,
    check_position,
    check_text,
    next_card_ticket,
    rivest_first_ticket,
    rivest_next_ticket,
    rivest_seed_hash,
    rivest_trim,
    rivest_uniform,
    rivest_uniform_of_digest,
    ticket_hex,
)

__all__ = [
    "Draw", "consistent_sample", "arlo_draw_sample", "ARLO_DIGITS",
    "rivest_uniform", "rivest_first_ticket", "rivest_next_ticket", "rivest_trim",
    "counter_mode_sample",
    "CardColumns", "CardDraw", "ballot_id_text", "ballot_id_bytes", "veritally_sample", "veritally_ticket_order",
    "SEPARATOR",
    "PpebDraw", "ppeb_sample", "ContestSample", "consistent_sample_contests",
]

ARLO_DIGITS = 18  #: ticket digits Arlo keeps (``sampler.draw_sample`` calls the sampler with ``digits=18``)


@dataclass(frozen=True, slots=True)
class Draw:
    """One draw of Rivest's consistent sampler: its ticket (trimmed as asked), the id drawn, and how many times
    that id has been drawn so far including this one (always 1 without replacement)."""

    ticket: str
    id: object
    generation: int


# checks -----------------------------------------------------------------------------------------------------------
def _count(value: object, name: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer{' or None' if allow_none else ''}, not {value!r}")
    return int(value)


def _check_draw_options(n: int, take: int | None, drop: int, with_replacement: bool) -> int:
    """How many of the smallest first tickets can matter (``drop + take``, at most ``n``); ConfigError on nonsense."""
    if not isinstance(with_replacement, bool):
        raise ConfigError(f"with_replacement must be True or False, not {with_replacement!r}")
    if n == 0:
        raise InputError("there is nothing to sample: the list of ids is empty", expected="at least one id")
    if take is None:
        if with_replacement:
            raise ConfigError("sampling with replacement never runs out: give take, the number of draws")
        if drop > n:
            raise ConfigError(f"cannot drop {drop:,} draws from {n:,} ids without replacement")
        return n
    if not with_replacement and drop + take > n:
        raise ConfigError(f"cannot draw {drop + take:,} ({drop:,} dropped + {take:,} taken) from {n:,} ids without "
                          "replacement")
    return min(n, drop + take)


def _as_sequence(ids: Iterable[object]) -> Sequence[object]:
    return ids if isinstance(ids, (list, tuple, range, np.ndarray)) else list(ids)


# Rivest / Arlo sources ----------------------------------------------------------------------------------------------
_SUFFIX_TABLE_MAX = 1 << 20  # positions above this are formatted one by one instead of tabled
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def _suffixes(positions: Sequence[int], table: list[bytes], template: bytes = b"%d)") -> list[bytes]:
    """``template % p`` for each int position p (``b"7)"`` for 7): looked up in ``table`` (grown on demand), since
    the same positions recur in every batch; formatted one by one when some are negative or very large."""
    low, top = min(positions), max(positions)
    if low < 0 or top > _SUFFIX_TABLE_MAX:
        return list(map(template.__mod__, positions))
    if top >= len(table):
        table.extend(template % p for p in range(len(table), top + 1))
    return list(map(table.__getitem__, positions))


class _RivestIds(engine.Source):
    """Rivest's ids: the bytes hashed for id x are UTF-8 of ``sha256_hex(str(seed)) + str(x)``."""

    def __init__(self, ids: Sequence[object], seed_hash: str) -> None:
        self.ids, self.seed_hash, self.size = ids, seed_hash, len(ids)
        self.prefix = seed_hash.encode()
        self._table: list[bytes] = []

    def segments(self, start: int, stop: int) -> engine.Segments:
        chunk = self.ids[start:stop]
        try:
            runs = self._tuple_runs(chunk)
            return runs if runs is not None else [(self.prefix, list(map(str.encode, map(str, chunk))))]
        except UnicodeEncodeError:
            for i, x in enumerate(chunk):
                try:
                    str(x).encode("utf-8")
                except UnicodeEncodeError as err:
                    raise InputError(f"id {x!r} cannot be written in UTF-8 ({err.reason})", record=start + i,
                                     expected="text without lone surrogates") from None
            raise  # pragma: no cover - the seed encodes (it is hex)

    def _tuple_runs(self, chunk: Sequence[object]) -> engine.Segments | None:
        """Arlo-style ids ``(key, position)`` in runs sharing one key object, as segments: one prefix
        ``seed_hash + "(" + repr(key) + ", "`` per run and ``b"7)"`` per id, which is ``str((key, 7))`` exactly
        (a 2-tuple's text is its items' reprs) at half the cost of ``str()``. None when the chunk is anything else,
        or when keys do not repeat in runs."""
        if type(chunk) is not list or not chunk or set(map(type, chunk)) != {tuple} or set(map(len, chunk)) != {2}:
            return None
        keys = list(map(_FIRST, chunk))
        positions = list(map(_SECOND, chunk))
        if set(map(type, positions)) != {int}:
            return None
        identity = np.fromiter(map(id, keys), dtype=np.uint64, count=len(keys))  # same object, same repr
        cuts = (np.flatnonzero(identity[1:] != identity[:-1]) + 1).tolist()
        if len(cuts) > len(chunk) // 8:
            return None
        bounds = [0, *cuts, len(chunk)]
        return [(f"{self.seed_hash}({keys[a]!r}, ".encode(), _suffixes(positions[a:b], self._table))
                for a, b in zip(bounds[:-1], bounds[1:])]

    def part(self, start: int, stop: int) -> _RivestIds:
        return _RivestIds(self.ids[start:stop], self.seed_hash)

    def describe(self, index: int) -> str:
        return f"ids[{index}] ({self.ids[index]!r})"

    def item(self, index: int) -> object:
        return self.ids[index]


class _ArloBallots(engine.Source):
    """Arlo's ballots: ``(batch_key, position)`` for each batch of the manifest and each of its positions, hashed
    as Rivest hashes any id, i.e. ``str((batch_key, position))`` = ``"(" + repr(batch_key) + ", " + position + ")"``."""

    def __init__(self, manifest: Mapping[object, Sequence[int]], seed_hash: str) -> None:
        self.keys = list(manifest)
        self.positions = [manifest[k].tolist() if isinstance(manifest[k], np.ndarray) else manifest[k]
                          for k in self.keys]
        self.seed_hash = seed_hash
        self.starts = [0]
        for positions in self.positions:
            self.starts.append(self.starts[-1] + len(positions))
        self.size = self.starts[-1]
        self._table: list[bytes] = []

    def _batch(self, index: int) -> int:
        return bisect.bisect_right(self.starts, index) - 1

    def _checked(self, batch: int, lo: int, hi: int) -> Sequence[int]:
        """Positions ``lo..hi`` of ``batch``, checked to be non-negative ints (whole-segment checks, in C)."""
        segment = self.positions[batch][lo:hi]
        if isinstance(segment, range) and (not segment or min(segment[0], segment[-1]) >= 0):
            return segment
        if set(map(type, segment)) <= {int} and min(segment) >= 0:  # all ints, so min() cannot fail
            return segment
        return [check_position(p, record=f"batch {self.keys[batch]!r}, entry {lo + i}") for i, p in enumerate(segment)]

    def segments(self, start: int, stop: int) -> engine.Segments:
        out: engine.Segments = []
        batch = self._batch(start)
        while start < stop:
            first, end = self.starts[batch], self.starts[batch + 1]
            lo, hi = start - first, min(stop, end) - first
            if hi > lo:
                try:
                    prefix = f"{self.seed_hash}({self.keys[batch]!r}, ".encode()
                except UnicodeEncodeError as err:
                    raise InputError(f"batch key {self.keys[batch]!r} cannot be written in UTF-8 ({err.reason})",
                                     expected="text without lone surrogates") from None
                out.append((prefix, _suffixes(self._checked(batch, lo, hi), self._table)))
            start = first + hi
            batch += 1
        return out

    def part(self, start: int, stop: int) -> _ArloBallots:  # pragma: no cover - platforms without fork
        manifest: dict[object, list[int]] = {}
        for i in range(start, stop):
            key, position = self.item(i)
            manifest.setdefault(key, []).append(position)
        return _ArloBallots(manifest, self.seed_hash)

    def describe(self, index: int) -> str:
        return f"ballot {self.item(index)!r}"

    def item(self, index: int) -> tuple[object, int]:
        batch = self._batch(index)
        return self.keys[batch], int(self.positions[batch][index - self.starts[batch]])


def _rivest_sample(source: _RivestIds | _ArloBallots, *, take: int | None, drop: int, with_replacement: bool,
                   digits: int, workers: int | None, key_digits: int) -> list[Draw]:
    """The draws ``drop+1 .. drop+take`` of Rivest's ticket stream over ``source``.

    The ids drawn first in the stream are those with the smallest first tickets (a later ticket of an id is larger
    than its first), so only the ``drop + take`` smallest first tickets can appear in those draws: the engine finds
    them, they are put in exact ticket order (text order of the full tickets), and the stream is replayed on them
    alone, later generations by :func:`rivest_next_ticket`.
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ConfigError(f"digits must be a non-negative integer, not {digits!r}")
    if not 1 <= key_digits <= engine.RIVEST_KEY_DIGITS:
        raise ConfigError(f"key digits must be 1..{engine.RIVEST_KEY_DIGITS}")
    keep = _check_draw_options(source.size, take, drop, with_replacement)
    found = engine.smallest(source, partial(engine.rivest_keys, digits=key_digits), max(keep, 1), workers)
    tickets = [rivest_uniform_of_digest(d.tobytes()) for d in found.digest]
    ranked = sorted(range(len(tickets)), key=tickets.__getitem__)[:keep]
    first = [(tickets[r], source.item(int(found.index[r])), 1) for r in ranked]
    if not with_replacement:
        stop = len(first) if take is None else drop + take
        return [Draw(rivest_trim(t, digits), x, g) for t, x, g in first[drop:stop]]
    heap = first  # sorted, hence a heap; entries compare as the package's Ticket tuples do
    draws = []
    for count in range(drop + take):
        ticket, x, generation = heap[0]
        heapq.heapreplace(heap, (rivest_next_ticket(ticket), x, generation + 1))
        if count >= drop:
            draws.append(Draw(rivest_trim(ticket, digits), x, generation))
    return draws


def consistent_sample(ids: Iterable[object], seed: object, *, take: int | None = None, with_replacement: bool = False,
                      drop: int = 0, digits: int = 9, workers: int | None = None, _key_digits: int = 9) -> list[Draw]:
    """Rivest's consistent sample of ``ids``: draws ``drop+1 .. drop+take`` in increasing ticket order.

    Identical to ``list(consistent_sampler.sampler(ids, seed=seed, take=take, with_replacement=with_replacement,
    drop=drop, output="tuple", digits=digits))`` (Rivest 2018; the package is the test oracle), with two deliberate
    differences: bad input raises (an empty list, ``drop + take`` more than the ids without replacement,
    ``take=None`` with replacement, negative counts), and duplicates are ids with the same ``str()`` text (which
    would get the same ticket) rather than ids equal in Python (so ``1`` and ``1.0`` are two ids here).

    Ticket of id x: ``uniform(sha256_hex(str(seed)) + str(x))``, the reversed decimal digits of the SHA-256 integer;
    a drawn id's next ticket is uniform above the last (:func:`rivest_next_ticket`). Each printed ticket keeps
    ``digits`` digits after its leading 9s. Memory is O(drop + take) plus 8 bytes per id; ``workers`` processes hash
    (default: one per CPU, up to 8, for large inputs; 1 to stay in this process).

    ``_key_digits`` (tests only) shortens the order key used to discard ids early, to force ties between keys;
    the result must not change.
    """
    ids = _as_sequence(ids)
    source = _RivestIds(ids, rivest_seed_hash(_seed(seed)))
    return _rivest_sample(source, take=_count(take, "take", allow_none=True), drop=_count(drop, "drop"),
                          with_replacement=with_replacement, digits=digits, workers=workers,
                          key_digits=_key_digits)


def arlo_draw_sample(seed: str, manifest: Mapping[object, Sequence[int]], sample_size: int, num_sampled: int = 0, *,
                     with_replacement: bool = True, workers: int | None = None) -> list[Draw]:
    """Arlo's ballot sample (``server/audit_math/sampler.py::draw_sample``), bit-identical.

    ``manifest`` maps each batch key to its ballot positions (integers), in the manifest's order; Arlo's
    production key is ``(jurisdiction_name, tabulator, batch_name)``. Ballot ids are ``(batch_key, position)``
    hashed as Python's ``str()`` of that tuple, tickets keep 18 digits, and round r continues the stream:
    ``take = sample_size + num_sampled`` then the first ``num_sampled`` draws are dropped. Ballot polling and
    comparison audits sample with replacement; the no-CVR stratum of a hybrid audit without.

    Positions must be non-negative integers and are written in decimal (a NumPy integer counts as the integer it
    holds, as Arlo's positions are plain ints).
    """
    source = _ArloBallots(manifest, rivest_seed_hash(_seed(seed)))
    return _rivest_sample(source, take=_count(sample_size, "sample_size"), drop=_count(num_sampled, "num_sampled"),
                          with_replacement=with_replacement, digits=ARLO_DIGITS, workers=workers,
                          key_digits=engine.RIVEST_KEY_DIGITS)


def _seed(seed: object) -> object:
    if seed is None:
        raise ConfigError("a seed is required (for example 20 digits from rolled dice)")
    try:
        str(seed).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ConfigError(f"the seed {seed!r} cannot be written in UTF-8 ({err.reason})") from None
    return seed


# Rivest 2011 -----------------------------------------------------------------------------------------------------
def counter_mode_sample(seed: str, n: int, low: int, high: int, *, with_replacement: bool = True) -> list[int]:
    """Rivest's 2011 SHA-256 counter-mode sampler (``sampler.py``, November 2011), as used by ColoradoRLA.

    Draw i = 1, 2, … is ``low + int(SHA-256(UTF-8(seed + "," + str(i))), 16) mod (high − low + 1)``. Without
    replacement a value already drawn is skipped (i still advances), so ``n`` must not exceed the range.
    """
    if not isinstance(seed, str):
        raise ConfigError(f"the seed is text (Rivest's sampler hashes it as typed), not {type(seed).__name__}")
    n = _count(n, "n")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"{name} must be an integer, not {value!r}")
    if not isinstance(with_replacement, bool):
        raise ConfigError(f"with_replacement must be True or False, not {with_replacement!r}")
    width = int(high) - int(low) + 1
    if width < 1:
        raise ConfigError(f"the range {low}..{high} is empty")
    if not with_replacement and n > width:
        raise ConfigError(f"cannot draw {n:,} distinct values from {low}..{high} ({width:,} values)")
    out: list[int] = []
    seen: set[int] = set()
    i = 0
    while len(out) < n:
        i += 1
        value = int(low) + int.from_bytes(hashlib.sha256(f"{seed},{i}".encode()).digest(), "big") % width
        if with_replacement or value not in seen:
            seen.add(value)
            out.append(value)
    return out


# Veritally -------------------------------------------------------------------------------------------------------
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
                    out.append((prefix, _suffixes(positions[a:b], self._table, b"%d")))
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
    check_text(_seed(seed), "seed")
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
    take = _count(take, "take")
    keep = _check_draw_options(source.size, take, 0, with_replacement)
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
