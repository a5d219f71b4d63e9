"""ES&S "Cast Vote Record" exports (xlsx or csv), single- and multi-contest; and an ES&S-style CSV writer.

One row per ballot card after a header row. Layouts read (docs/formats/ess.md has the details):

* ``Cast Vote Record | Precinct | Ballot Style | <Contest> Choice 1 (<id>) … Choice N (<id>)`` (Portland, Maine);
* Minneapolis: ``Precinct | 1ST CHOICE MAYOR MINNEAPOLIS | 2ND CHOICE … | 3RD CHOICE … | COUNT``, where a row
  stands for ``COUNT`` identical ballots (expanded into that many cards, ids ``<row>-<k>``);
* NYC: ``<PARTY> <Office> Choice <n> of <m> <Jurisdiction> (<id>)`` rank columns;
* multi-contest exports: every other header is a non-ranked contest, one column per vote allowed (a header
  repeated N times is a vote-for-N contest). A contest whose cells are all blank on a row is *absent* from that
  card (not on its ballot style); ``undervote`` means present and unmarked.

Cells hold candidate names (trimmed; aliases when a candidate list is given), ``overvote`` (an overvote whose
choices are unknown), ``undervote`` (a skipped rank / no vote), write-in labels (``UWI``, ``Write-in``: undeclared
write-ins, RCTab's "Undeclared Write-ins") and, with an overvote delimiter, several candidates (``A|B``).

Reading is column-wise: rows are taken in chunks, each distinct cell text of a contest is resolved once, and the
marks of a chunk come from NumPy table look-ups, so the Python work per card is a few list look-ups.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from os import PathLike
from pathlib import Path
from typing import Any, Callable
import zipfile

import numpy as np
from python_calamine import CalamineError, CalamineWorkbook

from .._io import atomic_write
from ..builder import OVERVOTE
from ..errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from ..model import (MAX_CHOICES, STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election,
                     unique_card_check)

__all__ = ["NAME", "DESCRIPTION", "UWI_NAME", "sniff", "read", "write", "options_from_rctab_source"]

NAME = "ess"
DESCRIPTION = "ES&S Cast Vote Record export (.xlsx or .csv), single- or multi-contest"
#: Name given to undeclared write-ins (RCTab's label, so tallies compare by name).
UWI_NAME = "Undeclared Write-ins"

_CHUNK = 1 << 15
_CHOICE_BITS = OVERVOTE - 1
_SHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}

# Rank-column headers. NYC: "DEM Mayor Choice 1 of 5 Citywide (026916)"; Portland and this module's writer:
# "For Mayor Choice 1 (45)", also bare "Choice 1"; Minneapolis: "1ST CHOICE MAYOR MINNEAPOLIS", "1st Choice", "1st".
_NYC = re.compile(r"^(?P<office>.+?)\s+Choice\s+(?P<rank>\d+)\s+of\s+(?P<of>\d+)\s+(?P<juris>.+?)\s*\((?P<id>[^()]*)\)$",
                  re.I)
_CHOICE = re.compile(r"^(?:(?P<contest>.*?)\s+)?Choice\s+(?P<rank>\d+)(?:\s*\((?P<id>[^()]*)\))?$", re.I)
_ORDINAL = re.compile(r"^(?P<rank>\d+)(?:st|nd|rd|th)(?:\s+choice(?:\s+(?P<contest>.+))?)?$", re.I)
_SNIFF = re.compile(r"Cast Vote Record|\bChoice\s+\d+\b|\b\d+(?:st|nd|rd|th)\s+choice\b", re.I)

#: Header (case-insensitive) → card attribute; "id" is the card id and "count" the Minneapolis ballot count.
_ATTR_HEADERS = {
    "cast vote record": "id", "ballot #": "id", "cvr id": "id", "ballot id": "id", "record id": "id",
    "precinct": "precinct", "ballot style": "style", "tabulator": "tabulator", "batch": "batch",
    "precinct portion": "precinct_portion", "precinct split": "precinct_portion", "counting group": "counting_group",
    "count": "count",
}
#: Writer: attribute → header, in column order (precinct and style are always written, like ES&S).
_WRITE_ATTRS = {"precinct": "Precinct", "style": "Ballot Style", "tabulator": "Tabulator", "batch": "Batch",
                "precinct_portion": "Precinct Portion", "counting_group": "Counting Group"}


# options ----------------------------------------------------------------------------------------------------------
@dataclass
class _Options:
    contest_name: str | None = None
    first_vote_column: int | None = None
    first_vote_row: int = 2
    id_column: int | None = None
    precinct_column: int | None = None
    batch_column: int | None = None
    overvote_delimiter: str | None = "|"
    overvote_label: str | None = "overvote"
    skipped_rank_label: str | None = "undervote"
    undeclared_write_in_label: tuple[str, ...] = ("UWI", "Write-in")
    treat_blank_as_undeclared_write_in: bool = False
    max_rankings: int | None = None
    candidates: tuple[Choice, ...] | None = None
    encoding: str = "utf-8-sig"


def _options(options: Mapping[str, Any]) -> _Options:
    known = set(_Options.__dataclass_fields__)
    unknown = set(options) - known
    if unknown:
        raise ConfigError(f"unknown ES&S option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    o = _Options(**{k: v for k, v in options.items() if k != "undeclared_write_in_label" and k != "candidates"})
    for key in ("first_vote_column", "first_vote_row", "id_column", "precinct_column", "batch_column"):
        v = getattr(o, key)
        if v is not None and (not isinstance(v, int) or v < 1):
            raise ConfigError(f"ES&S option {key} must be a 1-based column/row number, not {v!r}")
    if o.max_rankings == "max":
        o.max_rankings = None
    if o.max_rankings is not None and (not isinstance(o.max_rankings, int) or o.max_rankings < 1):
        raise ConfigError(f"ES&S option max_rankings must be a positive integer or 'max', not {o.max_rankings!r}")
    label = options.get("undeclared_write_in_label", o.undeclared_write_in_label)
    o.undeclared_write_in_label = (label,) if isinstance(label, str) else tuple(label or ())
    if "candidates" in options and options["candidates"] is not None:
        o.candidates = tuple(_candidate(c) for c in options["candidates"])
    return o


def _candidate(c: Any) -> Choice:
    if isinstance(c, Choice):
        return c
    if isinstance(c, str):
        return Choice(c, c)
    if isinstance(c, Mapping):
        return Choice(c["name"], c["name"], aliases=tuple(a for a in c.get("aliases", ()) if a))
    name, aliases = c
    return Choice(name, name, aliases=tuple(aliases))


def options_from_rctab_source(source: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]] = (),
                              rules: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword options of :func:`read` for one RCTab ``cvrFileSources`` entry of provider ``ess``.

    Maps ``firstVoteColumnIndex``, ``firstVoteRowIndex``, ``idColumnIndex``, ``precinctColumnIndex``,
    ``batchColumnIndex``, ``overvoteDelimiter``, ``overvoteLabel``, ``skippedRankLabel`` (older ``undervoteLabel``),
    ``undeclaredWriteInLabel``, ``treatBlankAsUndeclaredWriteIn`` (in the source or, in older configs, the rules),
    the config's ``candidates`` (names and aliases; ``excluded`` is a counting matter, not the reader's) and
    ``rules.maxRankingsAllowed``. Empty strings mean "not set", as in RCTab: an empty label disables that token.
    """
    rules = rules or {}
    opts: dict[str, Any] = {}
    for key, opt in (("firstVoteColumnIndex", "first_vote_column"), ("firstVoteRowIndex", "first_vote_row"),
                     ("idColumnIndex", "id_column"), ("precinctColumnIndex", "precinct_column"),
                     ("batchColumnIndex", "batch_column")):
        value = source.get(key)
        if value not in (None, ""):
            try:
                opts[opt] = int(value)
            except (TypeError, ValueError):
                raise ConfigError(f"RCTab cvrFileSources {key} must be a number, not {value!r}") from None
    opts["overvote_delimiter"] = source.get("overvoteDelimiter") or None
    opts["overvote_label"] = source.get("overvoteLabel") or None
    opts["skipped_rank_label"] = source.get("skippedRankLabel") or source.get("undervoteLabel") or None
    opts["undeclared_write_in_label"] = source.get("undeclaredWriteInLabel") or None
    opts["treat_blank_as_undeclared_write_in"] = bool(source.get("treatBlankAsUndeclaredWriteIn")
                                                      or rules.get("treatBlankAsUndeclaredWriteIn"))
    max_rankings = rules.get("maxRankingsAllowed")
    if max_rankings not in (None, "", "max"):
        try:
            opts["max_rankings"] = int(max_rankings)
        except (TypeError, ValueError):
            raise ConfigError(f"RCTab rules maxRankingsAllowed must be a number or 'max', not {max_rankings!r}") from None
    if candidates:
        opts["candidates"] = [{"name": c["name"], "aliases": list(c.get("aliases") or ())} for c in candidates]
    return opts


# cells and rows ---------------------------------------------------------------------------------------------------
def _text(v: Any) -> str:
    """A cell as text: spreadsheet numbers that are whole print without ".0" (ids, counts, NYC candidacy ids)."""
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if v is None:
        return ""
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    return str(v)


def _is_sheet(path: Path) -> bool:
    if path.suffix.lower() in _SHEET_SUFFIXES:
        return True
    if path.suffix.lower() in (".csv", ".txt"):
        return False
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def _sheet_rows(path: Path) -> Iterator[list]:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)  # RCTab reads the first sheet too
        workbook.close()
    except (CalamineError, OSError, ValueError, IndexError) as exc:
        raise FormatError(f"unreadable spreadsheet ({type(exc).__name__}: {exc})", file=path,
                          expected="an .xlsx workbook (truncated or corrupt?)") from None
    # calamine pads leading empty rows but starts columns at the first used one: pad them back
    pad = [""] * (sheet.start[1] if sheet.start else 0)
    for row in sheet.iter_rows():
        yield pad + row if pad else row


def _csv_rows(path: Path, encoding: str) -> Iterator[list]:
    try:
        with open(path, newline="", encoding=encoding) as fh:
            yield from csv.reader(fh, strict=True)
    except UnicodeDecodeError as exc:
        raise FormatError(f"not {encoding} text ({exc.reason} at byte {exc.start})", file=path,
                          expected="UTF-8 CSV, or give encoding=") from None
    except csv.Error as exc:
        raise FormatError(f"malformed CSV: {exc}", file=path) from None


def _rows(path: Path, opts: _Options) -> Iterator[list]:
    return _sheet_rows(path) if _is_sheet(path) else _csv_rows(path, opts.encoding)


# layout -------------------------------------------------------------------------------------------------------------
def _classify(header: str) -> tuple[str, Any]:
    """``("attr", key)``, ``("rank", (contest name or None, rank, column id or None))``, ``("vote", name)`` or
    ``("none", None)`` for a blank header."""
    h = " ".join(header.split())
    if not h:
        return "none", None
    attr = _ATTR_HEADERS.get(h.casefold())
    if attr:
        return "attr", attr
    if m := _NYC.match(h):
        return "rank", (f"{m['office']} {m['juris']}", int(m["rank"]), m["id"])
    if m := _CHOICE.match(h):
        return "rank", (m["contest"] or None, int(m["rank"]), m["id"])
    if m := _ORDINAL.match(h):
        return "rank", (m["contest"] or None, int(m["rank"]), None)
    return "vote", h


@dataclass
class _Group:
    name: str | None
    ranked: bool
    columns: list[int] = field(default_factory=list)
    ids: list[str | None] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)


def _groups(headers: list[str], path: Path) -> tuple[dict[str, int], list[_Group]]:
    """Attribute columns and contest column groups found in a header row."""
    attrs: dict[str, int] = {}
    groups: dict[tuple[bool, str | None], _Group] = {}
    for col, header in enumerate(headers):
        kind, what = _classify(header)
        if kind == "attr":
            if what in attrs:
                raise FormatError(f"two {what} columns", file=path, record=1, field=header)
            attrs[what] = col
        elif kind == "rank":
            name, rank, column_id = what
            g = groups.setdefault((True, name), _Group(name, True))
            g.columns.append(col), g.ids.append(column_id), g.ranks.append(rank)
        elif kind == "vote":
            groups.setdefault((False, what), _Group(what, False)).columns.append(col)
    for g in groups.values():
        if g.ranked:
            order = np.argsort(g.ranks, kind="stable")
            g.columns = [g.columns[i] for i in order]
            g.ranks = [g.ranks[i] for i in order]
            if g.ranks != list(range(1, len(g.ranks) + 1)):
                raise FormatError(f"ranks {g.ranks} of contest {g.name or '(unnamed)'!r} are not 1, 2, …",
                                  file=path, record=1, field=headers[g.columns[0]], expected="one column per rank")
    return attrs, sorted(groups.values(), key=lambda g: g.columns[0])


@dataclass
class _Layout:
    headers: list[str]
    width: int
    id_col: int | None
    count_col: int | None
    attrs: dict[str, int]
    contests: list[tuple[_ContestState, list[int], list[int]]]  # state, columns read, columns past max_rankings
    multi: bool


# contests -----------------------------------------------------------------------------------------------------------
class _Encoder:
    """Dictionary-encodes raw cells: each distinct raw value is resolved once; rows get table codes."""

    def __init__(self, resolve: Callable[[Any, tuple, int], Any]) -> None:
        self.index: dict[Any, int] = {}
        self.values: list[Any] = []
        self.resolve = resolve
        self._tables: tuple[int, tuple[np.ndarray, ...]] = (-1, ())

    def codes(self, cells: Sequence[Any], where: tuple) -> np.ndarray:
        get = self.index.get
        codes = [get(v, -1) for v in cells]
        if -1 in codes:
            for i, c in enumerate(codes):
                if c < 0:
                    v = cells[i]
                    c = self.index.get(v, -1)
                    if c < 0:
                        c = len(self.values)
                        self.values.append(self.resolve(v, where, i))
                        self.index[v] = c
                    codes[i] = c
        return np.asarray(codes, np.intp)

    def tables(self, *dtypes: type) -> tuple[np.ndarray, ...]:
        if self._tables[0] != len(self.values):
            cols = list(zip(*self.values)) if len(dtypes) > 1 else [self.values]
            self._tables = (len(self.values), tuple(np.array(c, dt) for c, dt in zip(cols, dtypes)))
        return self._tables[1]


class _ContestState:
    """One contest across files: its choices as discovered (or given) and its marks, segment by segment."""

    def __init__(self, cid: str, name: str, ranked: bool, slots: int, opts: _Options,
                 candidates: tuple[Choice, ...] | None) -> None:
        self.id, self.name, self.ranked, self.slots, self.opts = cid, name, ranked, slots, opts
        self.fixed = candidates is not None
        self.choices: list[Choice] = list(candidates or ())
        self.bits = {k: i for i, c in reversed(list(enumerate(self.choices))) for k in (c.id, c.name, *c.aliases)}
        self.encoder = _Encoder(self._resolve)
        self.segments: list[tuple[int, np.ndarray, np.ndarray]] = []

    def _bit(self, name: str, where: tuple, i: int) -> int:
        index = self.bits.get(name)
        if index is None:
            if self.fixed and name != UWI_NAME:
                raise UnknownIdError(f"unknown candidate {name!r} in contest {self.name!r}", file=where[0],
                                     record=int(where[1][i]), field=where[2],
                                     expected="one of " + ", ".join(repr(c.name) for c in self.choices[:8])
                                     + (" …" if len(self.choices) > 8 else ""))
            if len(self.choices) >= MAX_CHOICES:
                raise FormatError(f"contest {self.name!r} has more than {MAX_CHOICES} choices", file=where[0],
                                  record=int(where[1][i]), field=where[2])
            uwi = name == UWI_NAME
            label = next(iter(self.opts.undeclared_write_in_label), "UWI")
            self.choices.append(Choice(label, UWI_NAME, write_in=True, undeclared=True) if uwi else Choice(name, name))
            index = self.bits[name] = len(self.choices) - 1
        return 1 << index

    def _resolve(self, raw: Any, where: tuple, i: int) -> tuple[int, bool]:
        """(mask, cell is blank) of one distinct cell text."""
        o = self.opts
        text = _text(raw).strip()
        if not text:
            return (self._bit(UWI_NAME, where, i) if o.treat_blank_as_undeclared_write_in else 0), True
        parts = [text]
        if o.overvote_delimiter and o.overvote_delimiter in text:
            parts = [p.strip() for p in text.split(o.overvote_delimiter)]
            if any(not p or p == o.skipped_rank_label for p in parts):
                raise FormatError(f"cell {text!r} split by {o.overvote_delimiter!r} has a blank or skipped part",
                                  file=where[0], record=int(where[1][i]), field=where[2],
                                  expected="candidate names on both sides of the delimiter")
        mask = 0
        for p in parts:
            if p == o.skipped_rank_label:
                continue
            if p == o.overvote_label:
                mask |= OVERVOTE
            elif p in o.undeclared_write_in_label:
                mask |= self._bit(UWI_NAME, where, i)
            else:
                mask |= self._bit(p, where, i)
        return mask, False

    def contest(self) -> Contest:
        if self.ranked:
            return Contest(self.id, self.name, ContestKind.RANKED, tuple(self.choices), ranks=self.slots)
        kind = ContestKind.PLURALITY if self.slots == 1 else ContestKind.VOTE_FOR_N
        return Contest(self.id, self.name, kind, tuple(self.choices), winners=self.slots, votes_allowed=self.slots)


@dataclass
class _Acc:
    """Everything read so far, across files."""

    opts: _Options
    default_name: str
    prefix_ids: bool
    contests: dict[str, _ContestState] = field(default_factory=dict)
    attrs: dict[str, tuple[_Encoder, dict[str, int], list[tuple[int, np.ndarray]]]] = field(default_factory=dict)
    ids: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    files: list[tuple[int, Path, str]] = field(default_factory=list)  # (first card, file, id header)
    n: int = 0

    def attribute(self, key: str) -> tuple[_Encoder, dict[str, int], list]:
        if key not in self.attrs:
            labels: dict[str, int] = {}

            def resolve(raw: Any, _where: tuple, _i: int) -> int:
                text = _text(raw).strip()
                return labels.setdefault(text, len(labels)) if text else -1

            self.attrs[key] = (_Encoder(resolve), labels, [])
        return self.attrs[key]


def _contest_state(acc: _Acc, g: _Group | None, ranked: bool, columns: list[int], slots: int,
                   path: Path, headers: list[str], candidates: tuple[Choice, ...] | None,
                   name: str | None = None) -> _ContestState:
    name = name or (g.name if g and g.name else None) or acc.opts.contest_name or acc.default_name
    ids = {i for i in (g.ids if g else []) if i}
    # ES&S numbers every rank column; one id shared by all ranks (this module's writer) is the contest's id
    cid = ids.pop() if len(ids) == 1 and g and all(g.ids) else name
    state = acc.contests.get(cid)
    if state is None:
        state = acc.contests[cid] = _ContestState(cid, name, ranked, slots, acc.opts, candidates)
    elif (state.ranked, state.slots) != (ranked, slots):
        raise FormatError(f"contest {name!r} has {slots} {'rank' if ranked else 'vote'} columns here but "
                          f"{state.slots} in an earlier file", file=path, record=1, field=headers[columns[0]])
    return state


def _layout(headers: list[str], width: int, path: Path, acc: _Acc) -> _Layout:
    o = acc.opts
    attrs, groups = _groups(headers, path) if headers else ({}, [])
    count_col = attrs.pop("count", None)
    if o.first_vote_column is not None:  # RCTab-style: one ranked contest from a given column
        fixed = {o.id_column, o.precinct_column, o.batch_column} - {None}
        first = o.first_vote_column - 1
        if first >= width:
            raise FormatError(f"first vote column {o.first_vote_column} is past the last column ({width})", file=path)
        g = next((g for g in groups if g.ranked and first in g.columns), None)
        cols = []
        for col in range(first, width):
            if col + 1 in fixed or col == count_col or g is not None and col not in g.columns:
                break
            cols.append(col)
        if not cols:
            raise FormatError(f"no rank columns from column {o.first_vote_column}", file=path,
                              field=headers[first] if headers else None)
        keep = cols[: o.max_rankings] if o.max_rankings else cols
        state = _contest_state(acc, g, True, keep, len(keep), path, headers, o.candidates, o.contest_name)
        explicit = {"precinct": o.precinct_column, "batch": o.batch_column}
        attrs = {k: v - 1 for k, v in explicit.items() if v is not None}
        id_col = None if o.id_column is None else o.id_column - 1
        return _Layout(headers, width, id_col, count_col, attrs, [(state, keep, cols[len(keep):])], False)
    if not headers:
        raise FormatError("no header row to infer the layout from", file=path,
                          expected="a header row, or first_vote_column=")
    if o.contest_name:
        wanted = o.contest_name.casefold()
        chosen = [g for g in groups if g.name is None or g.name.casefold() == wanted]
        if not chosen:
            raise FormatError(f"no contest named {o.contest_name!r}", file=path, record=1,
                              expected="one of " + ", ".join(repr(g.name) for g in groups))
        groups = chosen[:1]
    if o.candidates is not None and len(groups) > 1:
        raise ConfigError("a candidate list applies to one contest: give contest_name= too")
    contests = []
    for g in groups:
        keep = g.columns[: o.max_rankings] if g.ranked and o.max_rankings else g.columns
        state = _contest_state(acc, g, g.ranked, keep, len(keep), path, headers, o.candidates)
        contests.append((state, keep, g.columns[len(keep):]))
    id_col = attrs.pop("id", None)
    return _Layout(headers, width, id_col, count_col, attrs, contests, len(contests) > 1)


# reading ------------------------------------------------------------------------------------------------------------
def _chunks(rows: Iterator[list], first_row: int, width: int, path: Path) -> Iterator[tuple[np.ndarray, list]]:
    """(row numbers, rows) in chunks; all-blank rows skipped (RCTab never sees them); short rows are an error."""
    number = first_row
    while True:
        block = list(islice(rows, _CHUNK))
        if not block:
            return
        numbers, kept = [], []
        for row in block:
            if len(row) != width:
                if len(row) > width and any(_text(v).strip() for v in row[width:]):
                    raise FormatError(f"row has {len(row)} cells, the header {width}", file=path, record=number,
                                      expected="no data right of the last header")
                if len(row) < width and any(_text(v).strip() for v in row):
                    raise FormatError(f"row has {len(row)} cells, the header {width} (truncated file?)",
                                      file=path, record=number, expected=f"{width} cells")
                row = (row + [""] * width)[:width]
            if any(row):
                numbers.append(number)
                kept.append(row)
            number += 1
        if kept:
            yield np.array(numbers, np.int64), kept


def _read_file(path: Path, acc: _Acc) -> None:
    o = acc.opts
    rows = _rows(path, o)
    headers: list[str] = []
    first_row = o.first_vote_row
    for number, row in enumerate(islice(rows, first_row - 1), start=1):
        if number == first_row - 1:
            headers = [" ".join(_text(h).split()) for h in row]
    if first_row > 1 and not headers:
        raise FormatError("empty file: no header row", file=path, expected=f"a header in row {first_row - 1}")
    width = len(headers)
    if not width:  # no header: the width of the first data row
        peek = next(rows, None)
        if peek is None:
            raise FormatError("empty file", file=path)
        width = len(peek)
        rows = _prepend(peek, rows)
    layout = _layout(headers, width, path, acc)
    id_header = headers[layout.id_col] if headers and layout.id_col is not None else "card id"
    acc.files.append((acc.n, path, id_header))
    for numbers, block in _chunks(rows, first_row, width, path):
        _read_chunk(numbers, block, layout, path, acc)


def _prepend(first: list, rest: Iterator[list]) -> Iterator[list]:
    yield first
    yield from rest


def _read_chunk(numbers: np.ndarray, block: list, layout: _Layout, path: Path, acc: _Acc) -> None:
    cols = list(zip(*block))
    header = lambda c: layout.headers[c] if layout.headers else f"column {c + 1}"  # noqa: E731
    repeat = None
    if layout.count_col is not None:
        counts = np.array([_count(v, path, int(r), header(layout.count_col)) if type(v) is not float or v != 1.0
                           else 1 for v, r in zip(cols[layout.count_col], numbers)], np.int64)
        if np.any(counts != 1):
            repeat = counts
    if layout.id_col is not None:
        ids = [_text(v).strip() for v in cols[layout.id_col]]
        if "" in ids:
            raise FormatError("blank card id", file=path, record=int(numbers[ids.index("")]),
                              field=header(layout.id_col), expected="a Cast Vote Record number on every row")
        card_ids = np.array(ids, STRING)
    else:
        card_ids = numbers.astype(STRING)
        if acc.prefix_ids:
            card_ids = np.strings.add(f"{path.name}:", card_ids)
    if layout.count_col is not None:
        reps = np.ones(len(numbers), np.int64) if repeat is None else repeat
        card_ids = np.repeat(card_ids, reps)
        k = np.arange(len(card_ids)) - np.repeat(np.cumsum(reps) - reps, reps) + 1
        card_ids = np.strings.add(np.strings.add(card_ids, "-"), k.astype(STRING))
    expand = (lambda a: np.repeat(a, repeat, axis=0)) if repeat is not None else (lambda a: a)  # noqa: E731
    start = acc.n
    acc.ids.append(card_ids)
    acc.rows.append(expand(numbers))
    for key, col in layout.attrs.items():
        encoder, _labels, segments = acc.attribute(key)
        codes = encoder.codes(cols[col], (path, numbers, header(col)))
        (table,) = encoder.tables(np.int32)
        segments.append((start, expand(table[codes])))
    for state, keep, over in layout.contests:
        enc = state.encoder
        masks, blanks = [], []
        for col in keep + over:
            codes = enc.codes(cols[col], (path, numbers, header(col)))
            mask_table, blank_table = enc.tables(np.uint64, bool)
            masks.append(mask_table[codes])
            blanks.append(blank_table[codes])
        for j, col in enumerate(over):  # ranks past max_rankings must be unmarked
            bad = np.flatnonzero((masks[len(keep) + j] != 0) & ~blanks[len(keep) + j])
            if len(bad):
                raise FormatError(f"rank {len(keep) + j + 1} is marked but at most {len(keep)} rankings are allowed",
                                  file=path, record=int(numbers[bad[0]]), field=header(col),
                                  expected=f"max_rankings >= {len(keep) + j + 1}, or a blank/skipped cell")
        m = np.stack(masks[: len(keep)], axis=1)
        present = ~np.logical_and.reduce(np.stack(blanks[: len(keep)], axis=1), axis=1) if layout.multi \
            else np.ones(len(numbers), bool)
        m = m if state.ranked else np.bitwise_or.reduce(m, axis=1)
        m[~present] = 0
        state.segments.append((start, expand(present), expand(m)))
    acc.n += len(card_ids)


def _count(v: Any, path: Path, row: int, header: str) -> int:
    text = _text(v).strip()
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 1:
        raise FormatError(f"ballot count {text!r} is not a positive whole number", file=path, record=row,
                          field=header, expected="COUNT >= 1")
    return count


def _assemble(segments: list, n: int, shape: tuple, dtype: type, fill: int = 0) -> np.ndarray:
    out = np.full((n, *shape), fill, dtype)
    for start, values in segments:
        out[start : start + len(values)] = values
    return out


def _expand_paths(paths: Sequence[Path]) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():  # a folder of exports (NYC publishes one workbook per part)
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in _SHEET_SUFFIXES | {".csv"})
            if not found:
                raise FormatError("folder holds no .xlsx or .csv files", file=p)
            out.extend(found)
        else:
            out.append(p)
    return out


def read(paths: Sequence[Path], **options: Any) -> Election:
    """Read ES&S Cast Vote Record exports (.xlsx / .csv files, or folders of them) as one election.

    Without options the layout is inferred from the header row (see the module docstring). Options (RCTab's
    ``cvrFileSources`` names in brackets; :func:`options_from_rctab_source` maps a config): ``contest_name``
    (selects one contest of a multi-contest file, or names an unnamed ranked contest), ``first_vote_column``
    [firstVoteColumnIndex, 1-based; reads one ranked contest from there, ignoring other contests],
    ``first_vote_row`` [firstVoteRowIndex, default 2; the header is the row above], ``id_column``,
    ``precinct_column``, ``batch_column`` [idColumnIndex, …], ``overvote_delimiter`` (default ``"|"``, None: off),
    ``overvote_label`` (default ``"overvote"``), ``skipped_rank_label`` (default ``"undervote"``),
    ``undeclared_write_in_label`` (a label or labels; default ``("UWI", "Write-in")``),
    ``treat_blank_as_undeclared_write_in``, ``max_rankings`` (a mark past it is a FormatError), ``candidates``
    (names, ``(name, aliases)`` pairs, ``{"name", "aliases"}`` dicts or Choices; other names are then an
    UnknownIdError) and ``encoding`` (CSV, default UTF-8).
    """
    opts = _options(options)
    files = _expand_paths([paths] if isinstance(paths, (str, PathLike)) else paths)
    if not files:
        raise FormatError("no ES&S files given")
    acc = _Acc(opts, files[0].stem, len(files) > 1)
    for path in files:
        _read_file(path, acc)
    return _build(acc)


def _build(acc: _Acc) -> Election:
    n = acc.n
    card_id = np.concatenate(acc.ids) if acc.ids else np.array([], STRING)
    dup = unique_card_check(card_id)
    if len(dup):
        rows = np.concatenate(acc.rows)
        starts = [f[0] for f in acc.files]
        (f1, r1), (f2, r2) = ((acc.files[np.searchsorted(starts, i, "right") - 1], int(rows[i])) for i in dup)
        raise DuplicateCardError(f"card id {card_id[dup[1]]!s} appears twice (first at {f1[1]}, row {r1})",
                                 file=f2[1], record=r2, field=f2[2], expected="each card id once")
    attributes = {key: Categorical(_assemble(segs, n, (), np.int32, -1), np.array(list(labels), STRING))
                  for key, (_enc, labels, segs) in acc.attrs.items()}
    contests, marks = [], []
    for state in acc.contests.values():
        contest = state.contest()
        shape = (contest.ranks,) if contest.is_ranked else ()
        present = _assemble([(s, p) for s, p, _m in state.segments], n, (), bool)
        raw = _assemble([(s, m) for s, _p, m in state.segments], n, shape, np.uint64)
        flagged = (raw & np.uint64(OVERVOTE)) != 0
        raw = np.where(flagged, (raw & np.uint64(_CHOICE_BITS)) | np.uint64(contest.overvote_flag), raw)
        contests.append(contest)
        marks.append(ContestMarks(present, raw.astype(contest.mask_dtype)))
    meta = {"format": NAME, "files": "\n".join(str(f[1]) for f in acc.files)}
    return Election(acc.default_name, tuple(contests), Cards(card_id, attributes, marks), meta)


# sniffing -----------------------------------------------------------------------------------------------------------
def _looks_ess(headers: Sequence[str]) -> bool:
    kinds = [_classify(h) for h in headers]
    return any(k == ("attr", "id") and " ".join(h.split()).casefold() == "cast vote record"
               for k, h in zip(kinds, headers)) or any(k[0] == "rank" for k in kinds)


def sniff(path: Path) -> bool:
    """An .xlsx/.csv file whose header has a "Cast Vote Record" column or ES&S-shaped rank columns."""
    try:
        if not path.is_file():
            return False
        suffix = path.suffix.lower()
        if suffix in (".csv", ".txt"):
            with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
                first = fh.read(1 << 16).splitlines()[:1]
            return bool(first) and _looks_ess(next(csv.reader(first)))
        if suffix in (".xlsx", ".xlsm"):
            # the header's strings come first in the shared-string table: a cheap look without loading the sheet
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
                part = "xl/sharedStrings.xml" if "xl/sharedStrings.xml" in names else \
                    next((n for n in sorted(names) if n.startswith("xl/worksheets/sheet")), None)
                if part is None:
                    return False
                with z.open(part) as fh:
                    head = fh.read(1 << 16).decode("utf-8", "replace")
            return bool(_SNIFF.search(head))
    except (OSError, zipfile.BadZipFile, csv.Error, StopIteration):
        return False
    return False


# writing ------------------------------------------------------------------------------------------------------------
def _is_write_in_line(c: Choice) -> bool:
    """Undeclared write-ins, and a write-in line named like ES&S's label, are written as ``Write-in``."""
    return c.undeclared or c.write_in and c.name.strip() in ("UWI", "Write-in", UWI_NAME)


def _tokens(contest: Contest, mask: int) -> list[str]:
    names = ["Write-in" if _is_write_in_line(c) else c.name for c in contest.choices]
    out = [names[i] for i in range(len(names)) if mask >> i & 1]
    return out + ["overvote"] if mask & contest.overvote_flag else out


def _cells(contest: Contest, mask: int, slots: int) -> list[str]:
    """The ``slots`` cells of one non-ranked mask (or one rank when slots is 1)."""
    tokens = _tokens(contest, mask)
    if not tokens:
        return ["undervote"] * slots
    if len(tokens) > slots:  # an overvote with known choices: the rest share the last cell, "|"-delimited
        tokens = tokens[: slots - 1] + ["|".join(tokens[slots - 1 :])]
    return tokens + ["undervote"] * (slots - len(tokens))


def _check_writable(contest: Contest) -> None:
    for c in contest.choices:
        if not _is_write_in_line(c) and (not c.name.strip() or "|" in c.name
                                 or c.name.strip() in ("overvote", "undervote", "UWI", "Write-in")):
            raise ConfigError(f"choice {c.name!r} of contest {contest.name!r} cannot be written as an ES&S cell")
    name = " ".join(contest.name.split())
    if contest.is_ranked:
        back = _classify(f"{name} Choice 1 ({contest.id})")
        if back != ("rank", (name or None, 1, contest.id)):
            raise ConfigError(f"ranked contest {contest.name!r} (id {contest.id!r}) cannot be written as ES&S headers")
    elif _classify(name) != ("vote", name):
        raise ConfigError(f"contest name {contest.name!r} would read back as another kind of column")


def write(election: Election, out: Path) -> list[Path]:
    """Write an ES&S-style CSV export (atomically): one row per card.

    Columns: ``Cast Vote Record``, ``Precinct``, ``Ballot Style``, then ``Tabulator``, ``Batch``, ``Precinct
    Portion``, ``Counting Group`` when the cards have them; per contest: plurality → one column headed by the
    contest name; other non-ranked kinds → ``votes_allowed`` columns (all choices for approval) with that same
    header; ranked → ``<Contest> Choice <k> (<contest id>)`` per rank. Cells: choice names, ``undervote``,
    ``overvote`` (choices unknown), ``Write-in`` (undeclared write-ins), ``A|B`` (overvote with known choices),
    blank where the contest is not on the card.
    """
    cards = election.cards
    n = len(cards)
    names = [c.name for c in election.contests]
    if len(set(names)) != len(names):
        raise ConfigError("an ES&S export needs distinct contest names")
    headers = ["Cast Vote Record"]
    columns: list[tuple[np.ndarray, np.ndarray | None]] = [(cards.card_id, None)]  # (table or ids, codes)
    for key, header in _WRITE_ATTRS.items():
        if key in cards.attributes or key in ("precinct", "style"):
            cat = cards.attribute(key)
            headers.append(header)
            columns.append((np.array([*cat.labels.tolist(), ""], object), cat.codes))
    for contest, marks in zip(election.contests, cards.marks):
        _check_writable(contest)
        if contest.is_ranked:
            per_column = [(marks.masks[:, r], 1) for r in range(contest.ranks)]
            headers += [f"{contest.name} Choice {r + 1} ({contest.id})" for r in range(contest.ranks)]
        else:
            slots = 1 if contest.kind is ContestKind.PLURALITY else (
                len(contest.choices) if contest.kind is ContestKind.APPROVAL else contest.votes_allowed)
            per_column = [(marks.masks, slots)]
            headers += [contest.name] * slots
        for masks, slots in per_column:
            uniq, inv = np.unique(masks, return_inverse=True)
            table = [_cells(contest, int(m), slots) for m in uniq.tolist()]
            inv = np.where(marks.present, inv, len(table))  # absent: blank cells
            for s in range(slots):
                columns.append((np.array([t[s] for t in table] + [""], object), inv))
    with atomic_write(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            cols = [(table[start:stop] if codes is None else table[codes[start:stop]]).tolist()
                    for table, codes in columns]
            writer.writerows(zip(*cols))
    return [out]
