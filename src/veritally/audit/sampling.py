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
  position`` in UTF-8 (␟ = U+001F), and the ticket is that SHA-256 digest read as a binary fraction
  (:mod:`._sampling_cards`).

Batch sampling proportional to error bounds (:func:`ppeb_sample`) and card-style-aware sampling across contests
(:func:`consistent_sample_contests`) live in :mod:`._sampling_batches` and are re-exported here.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from operator import itemgetter

import numpy as np

from ..errors import ConfigError, InputError
from . import _sampling_engine as engine
from ._sampling_batches import ContestSample, PpebDraw, consistent_sample_contests, ppeb_sample
from ._sampling_cards import CardColumns, CardDraw, veritally_sample, veritally_ticket_order
from ._sampling_checks import check_seed, count, draw_window
from ._sampling_tickets import (
    SEPARATOR,
    ballot_id_bytes,
    ballot_id_text,
    check_position,
    position_suffixes,
    rivest_first_ticket,
    rivest_next_ticket,
    rivest_seed_hash,
    rivest_trim,
    rivest_uniform,
    rivest_uniform_of_digest,
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


def _as_sequence(ids: Iterable[object]) -> Sequence[object]:
    return ids if isinstance(ids, (list, tuple, range, np.ndarray)) else list(ids)


# Rivest / Arlo sources ----------------------------------------------------------------------------------------------
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


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
        return [(f"{self.seed_hash}({keys[a]!r}, ".encode(), position_suffixes(positions[a:b], self._table))
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
                out.append((prefix, position_suffixes(self._checked(batch, lo, hi), self._table)))
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
    keep = draw_window(source.size, take, drop, with_replacement)
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
    source = _RivestIds(ids, rivest_seed_hash(check_seed(seed)))
    return _rivest_sample(source, take=count(take, "take", allow_none=True), drop=count(drop, "drop"),
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
    source = _ArloBallots(manifest, rivest_seed_hash(check_seed(seed)))
    return _rivest_sample(source, take=count(sample_size, "sample_size"), drop=count(num_sampled, "num_sampled"),
                          with_replacement=with_replacement, digits=ARLO_DIGITS, workers=workers,
                          key_digits=engine.RIVEST_KEY_DIGITS)


# Rivest 2011 -----------------------------------------------------------------------------------------------------
def counter_mode_sample(seed: str, n: int, low: int, high: int, *, with_replacement: bool = True) -> list[int]:
    """Rivest's 2011 SHA-256 counter-mode sampler (``sampler.py``, November 2011), as used by ColoradoRLA.

    Draw i = 1, 2, … is ``low + int(SHA-256(UTF-8(seed + "," + str(i))), 16) mod (high − low + 1)``. Without
    replacement a value already drawn is skipped (i still advances), so ``n`` must not exceed the range.
    """
    if not isinstance(seed, str):
        raise ConfigError(f"the seed is text (Rivest's sampler hashes it as typed), not {type(seed).__name__}")
    n = count(n, "n")
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
