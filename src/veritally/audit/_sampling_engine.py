"""The engine behind :mod:`veritally.audit.sampling`: hash every id once, keep only the smallest tickets.

SHA-256 of each id is the whole cost of consistent sampling (about 0.45 µs per id through :mod:`hashlib`, which is
C); everything else is done on NumPy arrays of digests. A *source* says which bytes are hashed for items
``start..stop`` (Rivest's ``sha256_hex(seed) + str(id)``, Arlo's ballot tuples, Veritally's card encoding); a
*key function* maps a block of digests to an unsigned 64-bit order key that is a prefix of the exact ticket order:
``key(a) < key(b)`` implies ``ticket(a) < ticket(b)``. The scan keeps, chunk by chunk, every item whose key is at
most the ``keep``-th smallest key seen so far (ties included, so nothing that might belong to the answer is ever
dropped); the caller then orders those few survivors by their exact tickets. Memory is O(keep + chunk) for the
candidates plus 8 bytes per item for the duplicate check, never one decimal string per item.

Large inputs are split into contiguous ranges scanned by worker processes (``fork``, so a list of ten million ids
is not pickled; other platforms pickle each range). Merging per-range candidates is exact because ticket order is
total. Duplicate ids are found from the first 8 bytes of each digest, sorted per range and searched across ranges;
a repeated 8-byte value is confirmed or cleared with the full digests before anything is reported.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DuplicateCardError

__all__ = ["Source", "Candidates", "digests", "rivest_keys", "prefix_keys", "smallest", "all_prefix_keys",
           "worker_count", "find_duplicates"]

CHUNK = 1 << 15  #: ids hashed per block: big enough for NumPy to amortise, small enough to stay in cache
PER_WORKER = 250_000  #: below this many ids per process, forking costs more than it saves
MAX_WORKERS = 8

_SHA256 = hashlib.sha256


Segments = list[tuple[bytes, Iterable[bytes]]]  #: (common prefix, the rest of each message) pairs


def digests(segments: Segments) -> bytes:
    """SHA-256 of each message ``prefix + rest``, concatenated (32 bytes each).

    The prefix is hashed once per segment and its state copied for each message: under OpenSSL 3 a fresh
    ``hashlib.sha256()`` looks the algorithm up again (about 340 ns a call, against 290 ns for copy, update, digest).
    """
    out: list[bytes] = []
    append = out.append
    for prefix, rests in segments:
        fresh = _SHA256(prefix).copy
        for rest in rests:
            h = fresh()
            h.update(rest)
            append(h.digest())
    return b"".join(out)


class Source:
    """Items to hash: ``size`` of them, the exact bytes of items ``start..stop`` (as segments sharing a prefix),
    and how to name item ``i``."""

    size: int

    def segments(self, start: int, stop: int) -> Segments:  # pragma: no cover - interface
        raise NotImplementedError

    def message(self, index: int) -> bytes:
        """The bytes hashed for item ``index``."""
        for prefix, rests in self.segments(index, index + 1):
            for rest in rests:
                return prefix + rest
        raise IndexError(index)  # pragma: no cover

    def part(self, start: int, stop: int) -> Source:  # pragma: no cover - interface
        """Items ``start..stop`` as a source of their own (pickled to worker processes where fork is missing)."""
        raise NotImplementedError

    def describe(self, index: int) -> str:  # pragma: no cover - interface
        raise NotImplementedError


# order keys -----------------------------------------------------------------------------------------------------
# Rivest's ticket is "0." followed by the decimal digits of the 256-bit digest H, lowest first. Its first 9 digits
# are H mod 10^9 written backwards. H mod 10^9 comes from the Chinese remainder theorem: H mod 2^9 is the low bits,
# H mod 5^9 = sum_j limb_j * (2^(32(7-j)) mod 5^9) over the eight 32-bit limbs (each product < 2^53, the sum
# < 2^56, so uint64 never overflows), reduced once.
_FIVE9 = 5**9
_LIMB_WEIGHTS = np.array([pow(2, 32 * (7 - j), _FIVE9) for j in range(8)], dtype=np.uint64)
_INV_FIVE9 = pow(_FIVE9, -1, 512)
_REVERSED3 = np.array([int(f"{i:03d}"[::-1]) for i in range(1000)], dtype=np.uint64)
RIVEST_KEY_DIGITS = 9


def rivest_keys(buf: bytes, digits: int = RIVEST_KEY_DIGITS) -> np.ndarray:
    """The first ``digits`` (1..9) decimal digits of each Rivest ticket as a number, for digests ``buf``.

    Every ticket has at least 64 digits, so these are always real digits; comparing the keys as numbers compares
    the tickets' prefixes as strings. Fewer digits only make ties likelier (the tests use that to force them).
    """
    limbs = np.frombuffer(buf, dtype=">u4").reshape(-1, 8)
    mod5 = (limbs.astype(np.uint64) @ _LIMB_WEIGHTS) % np.uint64(_FIVE9)
    mod2 = limbs[:, 7].astype(np.uint64) & np.uint64(511)
    lift = ((mod2 - mod5) * np.uint64(_INV_FIVE9)) & np.uint64(511)  # wraps mod 2^64, exact mod 2^9
    low9 = mod5 + np.uint64(_FIVE9) * lift  # H mod 10^9
    thousand = np.uint64(1000)
    key = (_REVERSED3[low9 % thousand] * np.uint64(1_000_000) + _REVERSED3[(low9 // thousand) % thousand] * thousand
           + _REVERSED3[low9 // np.uint64(1_000_000)])
    if digits < RIVEST_KEY_DIGITS:
        key //= np.uint64(10 ** (RIVEST_KEY_DIGITS - digits))
    return key


def prefix_keys(buf: bytes, bits: int = 64) -> np.ndarray:
    """The first ``bits`` (1..64) bits of each digest, big-endian: the order of tickets that are the digest itself."""
    key = np.frombuffer(buf, dtype=">u8")[::4].astype(np.uint64)
    if bits < 64:
        key >>= np.uint64(64 - bits)
    return key


# the scan -------------------------------------------------------------------------------------------------------
@dataclass
class Candidates:
    """Items that may belong to the ``keep`` smallest tickets: order keys, global indices, 32-byte digests."""

    keys: np.ndarray
    index: np.ndarray
    digest: np.ndarray  #: (m, 32) uint8

    @classmethod
    def empty(cls) -> Candidates:
        return cls(np.empty(0, np.uint64), np.empty(0, np.int64), np.empty((0, 32), np.uint8))

    @classmethod
    def concat(cls, parts: Iterable[Candidates]) -> Candidates:
        parts = list(parts)
        return cls(np.concatenate([p.keys for p in parts]), np.concatenate([p.index for p in parts]),
                   np.concatenate([p.digest for p in parts]))

    def pruned(self, keep: int | None) -> tuple[Candidates, np.uint64 | None]:
        """The items whose key is at most the ``keep``-th smallest (ties kept), and that key (None: fewer items)."""
        if keep is None or self.keys.size < keep:
            return self, None
        kth = np.partition(self.keys, keep - 1)[keep - 1]
        if self.keys.size == keep:
            return self, kth
        mask = self.keys <= kth
        return Candidates(self.keys[mask], self.index[mask], self.digest[mask]), kth


def _scan_smallest(source: Source, start: int, stop: int, base: int, key_fn: Callable[[bytes], np.ndarray],
                   keep: int | None) -> tuple[Candidates, np.ndarray]:
    """Scan items ``start..stop``: the candidates for the ``keep`` smallest keys (all items when ``keep`` is None)
    and the sorted 8-byte digest prefixes of every item (for the duplicate check). ``base`` turns positions in
    ``source`` into global indices."""
    prefixes = np.empty(stop - start, dtype=np.uint64)
    best = Candidates.empty()
    threshold = None
    for a in range(start, stop, CHUNK):
        b = min(stop, a + CHUNK)
        buf = digests(source.segments(a, b))
        prefixes[a - start:b - start] = np.frombuffer(buf, dtype=">u8")[::4]
        keys = key_fn(buf)
        chosen = np.arange(b - a) if threshold is None else np.flatnonzero(keys <= threshold)
        if chosen.size:
            block = np.frombuffer(buf, dtype=np.uint8).reshape(-1, 32)
            best = Candidates.concat([best, Candidates(keys[chosen], base + a + chosen.astype(np.int64),
                                                       block[chosen])])
            best, threshold = best.pruned(keep)
    prefixes.sort()
    return best, prefixes


def _scan_keys(source: Source, start: int, stop: int, base: int, key_fn: Callable[[bytes], np.ndarray]
               ) -> np.ndarray:
    """The order key of every item ``start..stop``, in item order."""
    out = np.empty(stop - start, dtype=np.uint64)
    for a in range(start, stop, CHUNK):
        b = min(stop, a + CHUNK)
        out[a - start:b - start] = key_fn(digests(source.segments(a, b)))
    return out


# processes ------------------------------------------------------------------------------------------------------
_REGISTERED: dict[int, Source] = {}  # sources seen by forked workers without pickling
_TOKENS = itertools.count()


def worker_count(requested: int | None, n: int) -> int:
    """Processes to use for ``n`` items: ``requested`` (at most one per item), or by default one per available CPU
    (at most 8) once each gets at least :data:`PER_WORKER` items."""
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise ConfigError(f"workers must be a positive integer or None, not {requested!r}")
        return max(1, min(requested, n))
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS, n // PER_WORKER))


def _task(token: int | None, source: Source | None, start: int, stop: int, base: int, fn: Callable, args: tuple):
    return fn(_REGISTERED[token] if source is None else source, start, stop, base, *args)


def _run(source: Source, fn: Callable, args: tuple, workers: int | None) -> list:
    """``fn(source, start, stop, base, *args)`` over contiguous ranges covering the source, in range order."""
    n = source.size
    count = worker_count(workers, n)
    if multiprocessing.current_process().daemon:  # e.g. inside a multiprocessing.Pool worker: no children allowed
        count = 1
    if count == 1:
        return [fn(source, 0, n, 0, *args)]
    bounds = [n * i // count for i in range(count + 1)]
    ranges = list(zip(bounds[:-1], bounds[1:]))
    if "fork" in multiprocessing.get_all_start_methods():
        token = next(_TOKENS)
        _REGISTERED[token] = source
        try:
            with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork")) as pool:
                futures = [pool.submit(_task, token, None, a, b, 0, fn, args) for a, b in ranges]
                return [f.result() for f in futures]
        finally:
            del _REGISTERED[token]
    with ProcessPoolExecutor(count) as pool:  # pragma: no cover - platforms without fork
        futures = [pool.submit(_task, None, source.part(a, b), 0, b - a, a, fn, args) for a, b in ranges]
        return [f.result() for f in futures]


def smallest(source: Source, key_fn: Callable[[bytes], np.ndarray], keep: int | None,
             workers: int | None = None) -> Candidates:
    """Every item whose order key is at most the ``keep``-th smallest (all items if ``keep`` is None), after
    checking that no two items hash alike (:class:`~veritally.errors.DuplicateCardError` otherwise)."""
    parts = _run(source, _scan_smallest, (key_fn, keep), workers)
    find_duplicates(source, [p for _, p in parts])
    best, _ = Candidates.concat(c for c, _ in parts).pruned(keep)
    return best


def all_prefix_keys(source: Source, workers: int | None = None) -> np.ndarray:
    """The 64-bit digest prefix of every item, in item order (for a full ticket order). The caller sorts them and
    passes the sorted keys to :func:`find_duplicates` (one sort serves both)."""
    return np.concatenate(_run(source, _scan_keys, (prefix_keys,), workers))


# duplicates -----------------------------------------------------------------------------------------------------
def find_duplicates(source: Source, sorted_parts: list[np.ndarray]) -> None:
    """Raise :class:`DuplicateCardError` if two items hash alike; ``sorted_parts`` are the sorted 8-byte digest
    prefixes of disjoint ranges covering the source. Equal prefixes are only suspects: the full digests decide."""
    suspects = []
    for i, part in enumerate(sorted_parts):
        suspects.append(part[1:][part[1:] == part[:-1]])
        for earlier in sorted_parts[:i]:
            if earlier.size and part.size:
                at = np.minimum(np.searchsorted(earlier, part), earlier.size - 1)
                suspects.append(part[earlier[at] == part])
    values = np.unique(np.concatenate(suspects)) if suspects else np.empty(0, np.uint64)
    if values.size:
        _confirm(source, values)


def _confirm(source: Source, values: np.ndarray) -> None:
    """Rehash the source to find the items whose prefix is in ``values``; report the first pair of equal digests."""
    where: dict[bytes, int] = {}
    for a in range(0, source.size, CHUNK):
        b = min(source.size, a + CHUNK)
        buf = digests(source.segments(a, b))
        for local in np.flatnonzero(np.isin(np.frombuffer(buf, dtype=">u8")[::4], values)):
            digest = buf[32 * local:32 * local + 32]
            index = a + int(local)
            if digest in where:
                first = where[digest]
                raise DuplicateCardError(
                    f"{source.describe(first)} and {source.describe(index)} are the same id (they hash alike), so "
                    "one ballot would get two tickets", record=index, expected="every id once")
            where[digest] = index
