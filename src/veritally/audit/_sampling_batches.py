"""Batch sampling proportional to error bounds (PPEB) and card-style-aware sampling across contests.

**PPEB** (Aslam, Popa & Rivest 2008; Stark 2008, "Auditing a collection of races simultaneously" / MACRO, SSRN
1443314): batch p is drawn with probability u_p / U, with replacement, where u_p bounds the error batch p could
hide. Arlo draws it with ``numpy.random.default_rng(int(sha256_hex(seed), 16)).choice(batches, n, p=u_p/U)``,
which nobody can re-derive without NumPy's PCG64 and ``Generator.choice`` internals. Veritally draws from the same
SHA-256 stream as its card sampler, with integer arithmetic an observer can repeat in any language
(docs/sampling.md):

* batches are put in the ascending order of the UTF-8 bytes of ``jurisdiction ␟ tabulator ␟ batch`` (so the order
  the list was given in does not matter);
* each weight is read as the exact rational number it is (a binary64 float is m·2^e exactly; an int or a
  :class:`~fractions.Fraction` or a decimal string as written), all are put over their least common denominator,
  giving integers W_1..W_B with cumulative sums C_1..C_B and total T = C_B;
* draw i (i = 1, 2, …) hashes ``seed ␟ "ppeb" ␟ i`` to a 256-bit integer U_i and selects the first batch j with
  ``C_j > floor(U_i · T / 2^256)``, i.e. ``U_i / 2^256 ∈ [C_{j-1}/T, C_j/T)``: probability W_j/T up to 2^-256.

Draw i depends on i alone, so a second round continues with ``start`` = the draws already made (prefix-stable).

**Several contests at once** (SHANGRLA ``CVR.consistent_sampling``; Glazer, Spertus & Stark 2021, "More style, less
work: card-style data decrease risk-limiting audit sample sizes"): walk the cards in one ticket order and take a
card when it holds a contest that still needs cards; a contest counts a card only while it still needs cards.
Contest c's own sample is therefore the first n_c cards (in ticket order) that hold c, and the whole sample is the
union of those prefixes, which is what :func:`consistent_sample_contests` computes with boolean masks, block by
block.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Rational

import numpy as np

from ..errors import ConfigError, InputError
from ._sampling_tickets import SEPARATOR, check_text

__all__ = ["PpebDraw", "ppeb_sample", "ppeb_uniform", "exact_weights", "ContestSample",
           "consistent_sample_contests"]


# PPEB ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PpebDraw:
    """One PPEB draw: its number i (1-based, the counter hashed), the batch's row in the list given, the batch id,
    the ticket (U_i as 64 hex digits: the uniform is ticket / 2^256), and how many times the batch has been drawn in
    draws 1..i."""

    draw: int
    index: int
    batch: tuple[str, str, str]
    ticket: str
    generation: int


def ppeb_uniform(seed: str, i: int) -> int:
    """U_i: SHA-256 of ``seed ␟ "ppeb" ␟ i`` (UTF-8, i in decimal) as a 256-bit integer."""
    return int.from_bytes(hashlib.sha256(f"{seed}{SEPARATOR}ppeb{SEPARATOR}{i}".encode()).digest(), "big")


def exact_weights(weights: Sequence[object]) -> list[int]:
    """The weights as integers over their least common denominator (exact: a float is the rational it stores)."""
    fractions = []
    for row, w in enumerate(weights):
        try:
            if isinstance(w, (bool, np.bool_)):
                raise TypeError
            if isinstance(w, Integral):  # NumPy integers too, as Python ints (no fixed-width overflow)
                value = Fraction(int(w))
            elif isinstance(w, Rational):
                value = Fraction(int(w.numerator), int(w.denominator))
            elif isinstance(w, str):
                value = Fraction(w)
            else:
                value = Fraction(float(w))
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"weight {w!r} is not a finite number", record=row, field="weight",
                             expected="a non-negative error bound") from None
        if value < 0:
            raise InputError(f"weight {w!r} is negative", record=row, field="weight",
                             expected="a non-negative error bound")
        fractions.append(value)
    denominator = math.lcm(*(f.denominator for f in fractions)) if fractions else 1
    return [f.numerator * (denominator // f.denominator) for f in fractions]


def ppeb_sample(batches: Sequence[tuple[str, str | None, str]], weights: Sequence[object], seed: str, n: int, *,
                start: int = 0) -> list[PpebDraw]:
    """Draws ``start+1 .. start+n`` of a PPEB sample with replacement: batch j with probability w_j / Σw.

    ``batches`` are ``(jurisdiction, tabulator, batch)`` (tabulator may be None or empty), each once; ``weights``
    their error bounds u_p (floats, ints, Fractions or decimal strings, non-negative, not all zero). The rule is in
    this module's docstring and docs/sampling.md; ``generation`` counts earlier draws of the batch from draw 1, so
    round 2 (``start`` = draws made in round 1) reports the same generations as one long draw.
    """
    check_text(seed, "seed")
    if not seed:
        raise ConfigError("the seed must not be empty")
    for name, value in (("n", n), ("start", start)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"{name} must be a non-negative integer, not {value!r}")
    if len(batches) != len(weights):
        raise InputError(f"{len(batches):,} batches but {len(weights):,} weights", expected="one weight per batch")
    if not batches:
        raise InputError("there are no batches to sample", expected="at least one batch")
    ids = []
    for row, b in enumerate(batches):
        if len(b) != 3:
            raise InputError(f"batch {b!r} is not (jurisdiction, tabulator, batch)", record=row)
        j, t, name = b
        fields = (check_text(j, "jurisdiction", row), check_text("" if t is None else t, "tabulator", row),
                  check_text(name, "batch", row))
        if not name:
            raise InputError("a batch name must not be empty", record=row, field="batch")
        ids.append(fields)
    keys = [SEPARATOR.join(f).encode() for f in ids]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    for a, b in zip(order, order[1:]):
        if keys[a] == keys[b]:
            raise InputError(f"batch {ids[b]!r} appears twice (rows {a} and {b})", record=b,
                             expected="each batch once")
    integer = exact_weights(weights)
    cumulative, total = [], 0
    for row in order:
        total += integer[row]
        cumulative.append(total)
    if total == 0:
        raise InputError("every weight is zero: no batch can hold an error, so there is nothing to sample",
                         field="weight", expected="at least one positive error bound")
    counts: dict[int, int] = {}
    draws = []
    for i in range(1, start + n + 1):
        u = ppeb_uniform(seed, i)
        row = order[bisect.bisect_right(cumulative, (u * total) >> 256)]
        counts[row] = counts.get(row, 0) + 1
        if i > start:
            draws.append(PpebDraw(i, row, ids[row], format(u, "064x"), counts[row]))
    return draws


# several contests ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContestSample:
    """Cards to retrieve for several contests at once.

    ``cards``: card indices in ticket order. ``counts``: per contest, the sampled cards that hold it (its own sample
    plus cards drawn for other contests). ``cutoff``: per contest, how far along the ticket order its own sample
    reaches: contest c's sample is the cards among ``order[:cutoff[c]]`` that hold c (exactly its size).
    """

    cards: np.ndarray
    counts: dict[str, int]
    cutoff: dict[str, int]


def consistent_sample_contests(order: Sequence[int] | np.ndarray, contains: Mapping[str, Sequence[bool] | np.ndarray],
                               sizes: Mapping[str, int]) -> ContestSample:
    """Take cards in ticket ``order`` until every contest has its sample size (SHANGRLA's consistent sampling).

    ``order``: card indices in increasing ticket order (e.g. :func:`veritally_ticket_order`; a prefix is enough if
    every contest is satisfied within it). ``contains[c]``: a boolean mask over all cards, True where card style
    data says the card holds contest c. ``sizes[c]``: contest c's sample size. A card is taken iff it is among the
    first ``sizes[c]`` cards holding some contest c.
    """
    order = np.asarray(order)
    if order.ndim != 1 or (order.size and order.dtype.kind not in "iu"):
        raise InputError("the ticket order must be a column of card indices", field="order")
    masks = {}
    n_cards = None
    for contest, mask in contains.items():
        mask = np.asarray(mask)
        if mask.dtype != np.bool_ or mask.ndim != 1:
            raise InputError(f"card style data for contest {contest!r} must be one boolean per card",
                             field=str(contest), expected="a boolean mask over the cards")
        if n_cards is not None and mask.size != n_cards:
            raise InputError(f"card style data for contest {contest!r} covers {mask.size:,} cards, not {n_cards:,}",
                             field=str(contest), expected="one mask entry per card")
        n_cards = mask.size
        masks[contest] = mask
    unknown = [c for c in sizes if c not in masks]
    if unknown:
        raise ConfigError(f"no card style data for contest(s) {', '.join(map(repr, unknown))}")
    if order.size and (order.min() < 0 or order.max() >= (n_cards or 0)):
        raise InputError(f"the ticket order names cards outside 0..{(n_cards or 0) - 1}", field="order")
    if order.size and np.bincount(order, minlength=n_cards).max() > 1:
        raise InputError("the ticket order lists a card twice", field="order", expected="each card once")
    need = {}
    for contest, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise ConfigError(f"the sample size of contest {contest!r} must be a non-negative integer, not {size!r}")
        need[contest] = int(size)
    cutoff = {c: 0 for c, k in need.items() if k == 0}
    remaining = {c: k for c, k in need.items() if k > 0}
    taken = np.zeros(order.size, dtype=bool)
    start, block = 0, max(4096, 2 * max(need.values(), default=0))
    while remaining and start < order.size:
        stop = min(order.size, start + block)
        window = order[start:stop]
        for contest in list(remaining):
            hits = np.flatnonzero(masks[contest][window])
            k = remaining[contest]
            if hits.size >= k:
                taken[start + hits[:k]] = True
                cutoff[contest] = start + int(hits[k - 1]) + 1
                del remaining[contest]
            else:
                taken[start + hits] = True
                remaining[contest] = k - hits.size
        start, block = stop, block * 2
    if remaining:
        short = ", ".join(f"{c!r} needs {need[c]:,} but only {need[c] - k:,} of the ordered cards hold it"
                          for c, k in remaining.items())
        raise ConfigError(f"sample sizes exceed the cards that hold the contest: {short}")
    cards = order[taken]
    counts = {c: int(np.count_nonzero(masks[c][cards])) for c in need}
    return ContestSample(cards, counts, cutoff)
