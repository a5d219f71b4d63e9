"""Build an :class:`~veritally.model.Election` card by card, into compact buffers.

Readers parse their format and call :meth:`ElectionBuilder.add_card` once per card; the builder keeps marks in
typed ``array`` buffers (8 bytes a mark, sparse: only contests present on the card) and card ids in NumPy string
chunks, so memory grows with the columnar data, not with the source text. :meth:`ElectionBuilder.build` checks that
card ids are unique and names both records of a duplicate.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from os import PathLike

import numpy as np

from .errors import DuplicateCardError, ModelError, UnknownIdError
from .model import STRING, MAX_CHOICES, Cards, Categorical, Choice, Contest, ContestMarks, Election, unique_card_check

__all__ = ["ElectionBuilder", "OVERVOTE"]

#: Pass as (part of) a mask to say "overvote, choices not named" (ES&S ``overvote`` token). Bit 63 is never a choice
#: bit in the builder's buffers; :meth:`ElectionBuilder.build` moves it to the contest's ``overvote_flag``.
OVERVOTE = 1 << 63
_CHOICE_BITS = OVERVOTE - 1
_FLUSH = 1 << 16


class _ContestBuffer:
    __slots__ = ("contest", "cards", "masks")

    def __init__(self, contest: Contest) -> None:
        self.contest = contest
        self.cards = array("q")
        self.masks = array("Q")


class ElectionBuilder:
    """Accumulates contests and cards from one or more files of one format."""

    def __init__(self, name: str = "", meta: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.meta = dict(meta or {})
        self._contests: list[_ContestBuffer] = []
        self._by_id: dict[str, int] = {}
        self._ids: list[np.ndarray] = []
        self._pending_ids: list[str] = []
        self._attr_tables: dict[str, dict[str, int]] = {}
        self._attr_codes: dict[str, array] = {}
        self._files: list[str] = []
        self._file_of_card = array("i")
        self._record_of_card = array("q")
        self._file_code = -1
        self._record_counter = 0
        self.n_cards = 0

    # contests ---------------------------------------------------------------------------------------------------
    def add_contest(self, contest: Contest) -> int:
        """Register a contest (or return the index of the one with the same id) and return its index."""
        index = self._by_id.get(contest.id)
        if index is not None:
            return index
        self._by_id[contest.id] = len(self._contests)
        self._contests.append(_ContestBuffer(contest))
        return len(self._contests) - 1

    def contest(self, index: int) -> Contest:
        return self._contests[index].contest

    def contest_index(self, contest_id: str) -> int | None:
        return self._by_id.get(contest_id)

    @property
    def contests(self) -> list[Contest]:
        return [b.contest for b in self._contests]

    def add_choice(self, index: int, choice: Choice) -> int:
        """Append a choice discovered while reading (formats without a candidate list); returns its bit index."""
        buf = self._contests[index]
        if len(buf.contest.choices) >= MAX_CHOICES:
            raise ModelError(f"contest {buf.contest.name!r} would exceed {MAX_CHOICES} choices")
        buf.contest = buf.contest.with_choices((*buf.contest.choices, choice))
        return len(buf.contest.choices) - 1

    def replace_contest(self, index: int, contest: Contest) -> None:
        """Replace a contest's rules or names; its choices may only be extended, never reordered."""
        old = self._contests[index].contest
        if contest.choices[: len(old.choices)] != old.choices or contest.ranks != old.ranks:
            raise ModelError(f"contest {contest.name!r}: choices may only be appended")
        self._contests[index].contest = contest

    # cards --------------------------------------------------------------------------------------------------------
    def start_file(self, path: str | PathLike[str]) -> None:
        """Cards added from now on come from ``path`` (used in duplicate-card messages)."""
        self._files.append(str(path))
        self._file_code = len(self._files) - 1
        self._record_counter = 0

    def add_card(
        self,
        card_id: str,
        marks: Mapping[int, int | Sequence[int]],
        attrs: Mapping[str, str | None] | None = None,
        record: int | None = None,
    ) -> None:
        """Add one card.

        ``marks`` maps a contest index to its mask (non-ranked) or to a sequence of masks, one per rank (ranked;
        shorter sequences are padded with skipped ranks). Contests not in ``marks`` are absent from the card.
        ``record`` is the row/line/record number in the current file (defaults to the card's position in it).
        """
        n = self.n_cards
        for index, value in marks.items():
            buf = self._contests[index]
            ranks = buf.contest.ranks
            buf.cards.append(n)
            if ranks:
                values = list(value)  # type: ignore[arg-type]
                if len(values) > ranks:
                    raise ModelError(f"card {card_id}: {len(values)} ranks for contest {buf.contest.name!r} "
                                     f"of {ranks}")
                buf.masks.extend(values)
                if len(values) < ranks:
                    buf.masks.extend([0] * (ranks - len(values)))
            else:
                buf.masks.append(value)  # type: ignore[arg-type]
        if attrs:
            for key, label in attrs.items():
                codes = self._attr_codes.get(key)
                if codes is None:
                    codes = self._attr_codes[key] = array("i", [-1]) * n
                    self._attr_tables[key] = {}
                if label is None:
                    codes.append(-1)
                else:
                    table = self._attr_tables[key]
                    codes.append(table.setdefault(label, len(table)))
        for key, codes in self._attr_codes.items():
            if len(codes) == n:  # attribute not given for this card
                codes.append(-1)
        self._pending_ids.append(card_id)
        if len(self._pending_ids) >= _FLUSH:
            self._flush_ids()
        self._file_of_card.append(self._file_code)
        self._record_of_card.append(self._record_counter if record is None else record)
        self._record_counter += 1
        self.n_cards = n + 1

    def _flush_ids(self) -> None:
        if self._pending_ids:
            self._ids.append(np.array(self._pending_ids, dtype=STRING))
            self._pending_ids = []

    def where(self, card: int) -> tuple[str | None, int]:
        """(file, record) of the card at position ``card``."""
        code = self._file_of_card[card]
        return (self._files[code] if code >= 0 else None), self._record_of_card[card]

    # result -------------------------------------------------------------------------------------------------------
    def build(self, check_unique: bool = True) -> Election:
        """The election; raises :class:`DuplicateCardError` when a card id repeats."""
        self._flush_ids()
        n = self.n_cards
        card_id = np.concatenate(self._ids) if self._ids else np.array([], dtype=STRING)
        if check_unique:
            dup = unique_card_check(card_id)
            if len(dup):
                first, second = (self.where(int(i)) for i in dup)
                raise DuplicateCardError(
                    f"card id {card_id[dup[1]]!s} appears twice (first at {first[0]}, record {first[1]})",
                    file=second[0], record=second[1], field="card id", expected="each card id once")
        attributes = {
            key: Categorical(np.frombuffer(codes, np.int32).copy(), np.array(list(self._attr_tables[key]), dtype=STRING))
            for key, codes in self._attr_codes.items()
        }
        marks = []
        for buf in self._contests:
            c = buf.contest
            rows = np.frombuffer(buf.cards, np.int64) if len(buf.cards) else np.empty(0, np.int64)
            raw = np.frombuffer(buf.masks, np.uint64) if len(buf.masks) else np.empty(0, np.uint64)
            if raw.size and int(np.bitwise_or.reduce(raw & np.uint64(_CHOICE_BITS))) >> len(c.choices):
                raise ModelError(f"contest {c.name!r}: a mask sets a bit beyond its {len(c.choices)} choices")
            flagged = (raw & np.uint64(OVERVOTE)) != 0
            raw = np.where(flagged, (raw & np.uint64(_CHOICE_BITS)) | np.uint64(c.overvote_flag), raw)
            present = np.zeros(n, bool)
            present[rows] = True
            if c.ranks:
                masks = np.zeros((n, c.ranks), c.mask_dtype)
                masks[rows] = raw.reshape(-1, c.ranks).astype(c.mask_dtype)
            else:
                masks = np.zeros(n, c.mask_dtype)
                masks[rows] = raw.astype(c.mask_dtype)
            marks.append(ContestMarks(present, masks))
        meta = dict(self.meta)
        if self._files:
            meta.setdefault("files", "\n".join(self._files))
        return Election(self.name, tuple(self.contests), Cards(card_id, attributes, marks), meta)


def choice_bit(contest: Contest, key: str, *, file: str | None = None, record: object = None,
               field: str | None = None) -> int:
    """Mask bit of the choice named ``key`` in ``contest``; :class:`UnknownIdError` naming the record if none."""
    try:
        return 1 << contest.choice_index(key)
    except KeyError:
        raise UnknownIdError(f"unknown choice {key!r} in contest {contest.name!r}", file=file, record=record,
                             field=field, expected="one of " + ", ".join(repr(c.name) for c in contest.choices[:8])
                             + (" …" if len(contest.choices) > 8 else "")) from None
