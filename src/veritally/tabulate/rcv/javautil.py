"""The parts of Java's standard library whose exact behaviour RCTab's results depend on, re-implemented.

RCTab (Java) breaks ties with ``java.util.Random`` seeded from the configuration, shuffles with
``Collections.shuffle``, sorts names with ``String.compareTo``, and in a few places lists candidates in the
iteration order of a ``java.util.HashMap`` or ``HashSet`` of their names (which candidate of a batch is eliminated
first in the report, the order of the CSV's candidate rows among equal tallies, which tied candidates a random
tie-break draws from). Matching RCTab bit for bit needs all four. References: the Java SE 21 API documentation of
``java.util.Random`` (the 48-bit linear congruential generator of Knuth, TAOCP vol. 2 §3.2.1), ``Collections``,
``String.hashCode``, and the OpenJDK ``HashMap`` (table sizes, ``hash()``, bucket order, order kept on resize).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence, Sequence
from typing import TypeVar

__all__ = ["JavaRandom", "shuffle", "java_string_key", "string_hash", "hash_order", "hash_set_order"]

T = TypeVar("T")
_MULTIPLIER = 0x5DEECE66D
_ADDEND = 0xB
_MASK = (1 << 48) - 1


class JavaRandom:
    """``java.util.Random``: same seed, same numbers."""

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ _MULTIPLIER) & _MASK

    def _next(self, bits: int) -> int:
        """``next(bits)`` for bits ≤ 31 (non-negative, so no int32 wrap-around to model)."""
        self._seed = (self._seed * _MULTIPLIER + _ADDEND) & _MASK
        return self._seed >> (48 - bits)

    def next_double(self) -> float:
        """``nextDouble()``: ((next(26) << 27) + next(27)) × 2^-53."""
        return ((self._next(26) << 27) + self._next(27)) * (1.0 / (1 << 53))

    def next_int(self, bound: int) -> int:
        """``nextInt(bound)`` for 0 < bound ≤ 2^31 − 1 (the rejection loop included)."""
        if bound <= 0:
            raise ValueError("bound must be positive")
        if bound & -bound == bound:  # a power of two
            return (bound * self._next(31)) >> 31
        while True:
            bits = self._next(31)
            value = bits % bound
            if bits - value + (bound - 1) < 1 << 31:  # Java's int overflow test, in exact integers
                return value


def shuffle(items: MutableSequence[T], rnd: JavaRandom) -> None:
    """``Collections.shuffle(list, rnd)`` for a random-access list, in place."""
    for i in range(len(items), 1, -1):
        j = rnd.next_int(i)
        items[i - 1], items[j] = items[j], items[i - 1]


def java_string_key(text: str) -> bytes:
    """A sort key ordering strings as ``String.compareTo`` does (by UTF-16 code units)."""
    return text.encode("utf-16-be")


def string_hash(text: str) -> int:
    """``String.hashCode()`` as a signed 32-bit int: s[0]·31^(n−1) + … + s[n−1] over UTF-16 code units."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] << 8 | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _spread(h: int) -> int:
    """``HashMap.hash``: h ^ (h >>> 16), on the unsigned 32 bits."""
    u = h & 0xFFFFFFFF
    return u ^ (u >> 16)


def _table_size_for(cap: int) -> int:
    n = 1
    while n < cap:
        n <<= 1
    return n


def hash_order(keys: Iterable[str], initial_capacity: int = 16) -> list[str]:
    """The iteration order of a ``HashMap``/``HashSet`` of strings after putting ``keys`` in this order.

    Buckets are visited in index order (hash & (capacity − 1)), each bucket's keys in insertion order; resizing
    (doubling when the size passes 3/4 of the capacity) keeps that order within a bucket, so only the final
    capacity matters. Repeated keys keep their first position. (Buckets of eight or more keys become trees in
    OpenJDK; candidate lists never come near that.)
    """
    ordered = list(dict.fromkeys(keys))
    capacity = _table_size_for(max(initial_capacity, 1))
    while len(ordered) > capacity * 3 // 4:
        capacity <<= 1
    return [k for _, _, k in sorted((_spread(string_hash(k)) & (capacity - 1), i, k) for i, k in enumerate(ordered))]


def hash_set_order(items: Sequence[str]) -> list[str]:
    """The iteration order of ``new HashSet<>(collection)`` (its constructor sizes the table for the collection)."""
    return hash_order(items, max(int(len(items) / 0.75) + 1, 16))
