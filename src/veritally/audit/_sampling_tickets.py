"""Ticket arithmetic for :mod:`veritally.audit.sampling`: Rivest's decimal tickets and Veritally's card encoding.

Rivest (2018), *Consistent Sampling with Replacement* (arXiv:1808.10016), as implemented by his
``consistent_sampler`` (and the VotingWorks fork Arlo uses):

* a ticket is a decimal fraction written as text, ``"0.d1d2d3…"``, and tickets are ordered **as strings**;
* the first ticket of an id is ``uniform(sha256_hex(str(seed)) + str(id))`` where ``uniform(text)`` is "0." followed
  by the decimal digits of ``int(SHA-256(UTF-8(text)))``, zero-padded to at least 64 digits and then **reversed**
  (low-order digits first, because the high-order digits of a 256-bit number are biased);
* the next ticket after ``x`` keeps ``x``'s leading run of 9s and appends ``uniform(x + ":" + str(i))`` without its
  "0.", for i = 1, 2, … until the result is larger than ``x + "0"`` (so it is uniform on (x, 1));
* printed tickets are truncated to ``digits`` significant digits after that leading run of 9s.

Veritally's own encoding (docs/sampling.md) is meant to be re-implemented by observers in any language: the
bytes hashed are spelled out, nothing depends on Python's ``repr``, and a ticket is the SHA-256 digest read as a
256-bit binary fraction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from fractions import Fraction
from numbers import Integral

from ..errors import ConfigError, InputError

__all__ = [
    "rivest_uniform",
    "rivest_uniform_of_digest",
    "rivest_first_ticket",
    "rivest_next_ticket",
    "rivest_trim",
    "rivest_seed_hash",
    "SEPARATOR",
    "check_position",
    "check_text",
    "ballot_id_text",
    "ballot_id_bytes",
    "card_message",
    "next_card_ticket",
    "ticket_hex",
    "position_suffixes",
]

_TICKET_TEXT = re.compile(r"0\.[0-9]*")


# Rivest -----------------------------------------------------------------------------------------------------------
def rivest_uniform_of_digest(digest: bytes) -> str:
    """Rivest's ticket text for a SHA-256 digest: "0." + the digest's decimal digits, padded to 64, reversed."""
    return "0." + format(int.from_bytes(digest, "big"), "064d")[::-1]


def rivest_uniform(text: str) -> str:
    """Rivest's ``sha256_uniform``: the ticket text of SHA-256 of the UTF-8 bytes of ``text``."""
    return rivest_uniform_of_digest(hashlib.sha256(text.encode("utf-8")).digest())


def rivest_seed_hash(seed: object) -> str:
    """The 64 hex digits Rivest's sampler prepends to every id: SHA-256 of ``str(seed)``."""
    return hashlib.sha256(str(seed).encode("utf-8")).hexdigest()


def rivest_first_ticket(id: object, seed: object) -> str:
    """The generation-1 ticket of ``id``: ``uniform(sha256_hex(str(seed)) + str(id))``, full precision."""
    return rivest_uniform(rivest_seed_hash(seed) + str(id))


def _leading_nines_end(x: str) -> int:
    """Index just past the run of 9s that starts after "0." in ``x + "0"`` (the first digit below 9)."""
    fraction = x[2:]
    return 2 + len(fraction) - len(fraction.lstrip("9"))


def _check_ticket(x: str) -> None:
    if not isinstance(x, str) or not _TICKET_TEXT.fullmatch(x):
        raise ConfigError(f"a ticket is text of the form '0.ddd…', not {x!r}")


def rivest_next_ticket(x: str) -> str:
    """The next ticket after ``x`` (Rivest's ``next_fraction``): uniform on (x, 1), a function of ``x`` alone.

    Keep the leading 9s of ``x``'s fraction, then append the digits of ``uniform(x + ":" + str(i))`` for
    i = 1, 2, …, stopping at the first result that compares (as text) above ``x + "0"``.
    """
    _check_ticket(x)
    padded = x + "0"  # so that an all-9s fraction still has a first non-9 digit
    head = padded[:_leading_nines_end(padded)]
    i = 0
    while True:
        i += 1
        y = head + rivest_uniform(f"{x}:{i}")[2:]
        if y > padded:
            return y


def rivest_trim(x: str, digits: int) -> str:
    """``x`` truncated (not rounded) to ``digits`` digits after its leading run of 9s (Rivest's ``trim``)."""
    _check_ticket(x)
    return x[:_leading_nines_end(x + "0") + digits]


# positions -------------------------------------------------------------------------------------------------------
SUFFIX_TABLE_MAX = 1 << 20  # positions above this are formatted one by one instead of tabled


def position_suffixes(positions: Sequence[int], table: list[bytes], template: bytes = b"%d)") -> list[bytes]:
    """``template % p`` for each int position p (``b"7)"`` for 7): looked up in ``table`` (grown on demand), since
    the same positions recur in every batch; formatted one by one when some are negative or very large."""
    low, top = min(positions), max(positions)
    if low < 0 or top > SUFFIX_TABLE_MAX:
        return list(map(template.__mod__, positions))
    if top >= len(table):
        table.extend(template % p for p in range(len(table), top + 1))
    return list(map(table.__getitem__, positions))


# Veritally --------------------------------------------------------------------------------------------------------
SEPARATOR = "\x1f"  #: ASCII unit separator, between fields; no field may contain a control character
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_text(value: object, field: str, record: int | str | None = None) -> str:
    """``value`` if it is text without control characters (U+0000–U+001F, U+007F), else an InputError."""
    if not isinstance(value, str):
        raise InputError(f"{field} must be text, not {type(value).__name__}", record=record, field=field,
                         expected="a string")
    bad = _CONTROL.search(value)
    if bad:
        raise InputError(f"{field} {value!r} contains the control character U+{ord(bad.group()):04X}",
                         record=record, field=field, expected="text without control characters")
    return value


def check_position(value: object, record: int | str | None = None) -> int:
    """``value`` as a Python int if it is a non-negative integer (not a bool), else an InputError."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise InputError(f"ballot position {value!r} is not a non-negative integer", record=record,
                         field="position", expected="a whole number such as 1, 2, 3")
    return int(value)


def ballot_id_text(jurisdiction: str, tabulator: str | None, batch: str, position: int) -> str:
    """A card's id as Veritally hashes it: ``jurisdiction ␟ tabulator ␟ batch ␟ position`` (␟ = U+001F).

    Text fields are used exactly as given (no trimming, no Unicode normalisation); an absent tabulator is the
    empty string; the position is written in decimal ASCII without leading zeros.
    """
    fields = [check_text(jurisdiction, "jurisdiction"), check_text("" if tabulator is None else tabulator,
                                                                    "tabulator"),
              check_text(batch, "batch"), str(check_position(position))]
    if not fields[2]:
        raise InputError("a batch name must not be empty", field="batch", expected="the batch's name")
    return SEPARATOR.join(fields)


def ballot_id_bytes(jurisdiction: str, tabulator: str | None, batch: str, position: int) -> bytes:
    """The UTF-8 bytes of :func:`ballot_id_text`: what follows ``seed ␟`` in the hashed message."""
    return ballot_id_text(jurisdiction, tabulator, batch, position).encode("utf-8")


def card_message(seed: str, card: str, generation: int = 1) -> bytes:
    """The bytes hashed for a card's ``generation``-th ticket: ``seed ␟ card`` (generation 1) or
    ``seed ␟ card ␟ generation`` (decimal, generation ≥ 2)."""
    text = f"{seed}{SEPARATOR}{card}" if generation == 1 else f"{seed}{SEPARATOR}{card}{SEPARATOR}{generation}"
    return text.encode("utf-8")


_TWO256 = 1 << 256


def next_card_ticket(seed: str, card: str, generation: int, rest: int) -> tuple[Fraction, int]:
    """The ticket of generation ``generation + 1``, given ``rest`` = 2^(256·g)·(1 − ticket_g).

    ``u = SHA-256(seed ␟ card ␟ g+1) / 2^256`` and ``ticket_{g+1} = ticket_g + (1 − ticket_g)·u``, i.e.
    ``1 − ticket_{g+1} = (1 − ticket_g)(1 − u)``: uniform on (ticket_g, 1), exact in binary. Returns the new ticket
    and its ``rest``.
    """
    h = int.from_bytes(hashlib.sha256(card_message(seed, card, generation + 1)).digest(), "big")
    rest = rest * (_TWO256 - h)
    return 1 - Fraction(rest, 1 << (256 * (generation + 1))), rest


def ticket_hex(rest: int, generation: int) -> str:
    """A generation-``g`` ticket as its exact binary fraction in hex: 64·g digits (generation 1: the digest)."""
    width = 64 * generation
    return format((1 << (4 * width)) - rest, f"0{width}x")
