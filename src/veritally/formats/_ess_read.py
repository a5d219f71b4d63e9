"""Reading machinery of the ES&S format (:mod:`veritally.formats.ess`): sources, header layouts, column-wise marks.

Rows come in batches: xlsx rows from calamine (Python values), CSV from ``pyarrow.csv`` (Arrow columns, each
dictionary-encoded in C). Every distinct cell text of a contest is resolved once by an :class:`_Encoder` (name →
choice bit, labels, delimiter), and the marks of a batch are NumPy table look-ups: no Python work per CSV cell, one
dict look-up per xlsx cell.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from lxml import etree
from python_calamine import CalamineError, CalamineWorkbook

from ..builder import OVERVOTE
from ..errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from ..model import (MAX_CHOICES, STRING, UWI_NAME, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks,
                     Election, unique_card_check)
SHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
_CHUNK = 1 << 15
_CHOICE_BITS = OVERVOTE - 1

# Rank-column headers. NYC: "DEM Mayor Choice 1 of 5 Citywide (026916)"; Portland and this module's writer:
# "For Mayor Choice 1 (45)", also bare "Choice 1"; Minneapolis: "1ST CHOICE MAYOR MINNEAPOLIS", "1st Choice", "1st".
_NYC = re.compile(
    r"^(?P<office>.+?)\s+Choice\s+(?P<rank>\d+)\s+of\s+(?P<of>\d+)\s+(?P<juris>.+?)\s*\((?P<id>[^()]*)\)$", re.I)
_CHOICE = re.compile(r"^(?:(?P<contest>.*?)\s+)?Choice\s+(?P<rank>\d+)(?:\s*\((?P<id>[^()]*)\))?$", re.I)
_ORDINAL = re.compile(r"^(?P<rank>\d+)(?:st|nd|rd|th)(?:\s+choice(?:\s+(?P<contest>.+))?)?$", re.I)

#: Header (case-insensitive) → card attribute; "id" is the card id and "count" the Minneapolis ballot count.
ATTR_HEADERS = {
    "cast vote record": "id", "ballot #": "id", "cvr id": "id", "ballot id": "id", "record id": "id",
    "precinct": "precinct", "ballot style": "style", "tabulator": "tabulator", "batch": "batch",
    "precinct portion": "precinct_portion", "precinct split": "precinct_portion", "counting group": "counting_group",
    "count": "count",
}


@dataclass
class Options:
    """:func:`veritally.formats.ess.read`'s options, checked (see its docstring)."""

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
    encoding: str = "utf-8"
    #: count every ``<row>`` element of an xlsx sheet after the header as a ballot, the empty ones as ballots
    #: ranking no one — what RCTab's SAX reader does (it sees the element, with no cells); off, empty rows are skipped
    rctab_empty_rows: bool = False


def text(v: Any) -> str:
    """A cell as text: spreadsheet numbers that are whole print without ".0" (ids, counts, NYC candidacy ids)."""
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    return "" if v is None else str(v)


def norm_header(v: Any) -> str:
    return " ".join(text(v).split())


# sources: a header and batches of (row numbers, columns) --------------------------------------------------------------
@dataclass
class Encoded:
    """One CSV column of a batch, dictionary-encoded by Arrow: the cells are ``uniques[indices]``."""

    uniques: list[str]
    indices: np.ndarray


class _RowBatch:
    """xlsx rows (Python values), transposed to columns."""

    def __init__(self, rows: list[list]) -> None:
        self.cols = list(zip(*rows))

    def cells(self, i: int) -> Sequence[Any]:
        return self.cols[i]

    def texts(self, i: int) -> np.ndarray:
        return np.array([text(v).strip() for v in self.cols[i]], STRING)


class _ArrowBatch:
    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch

    def cells(self, i: int) -> Encoded:
        d = pc.dictionary_encode(self.batch.column(i))
        return Encoded(d.dictionary.to_pylist(), d.indices.to_numpy(zero_copy_only=False))

    def texts(self, i: int) -> np.ndarray:
        return np.strings.strip(self.batch.column(i).to_numpy(zero_copy_only=False).astype(STRING))


def is_sheet(path: Path) -> bool:
    if path.suffix.lower() in SHEET_SUFFIXES:
        return True
    if path.suffix.lower() in (".csv", ".txt"):
        return False
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d+)"')


def _xml_row_numbers(path: Path) -> set[int] | None:
    """Row numbers of the ``<row>`` elements of an xlsx workbook's first sheet (None: not an xlsx zip)."""
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as zf:
            book = etree.fromstring(zf.read("xl/workbook.xml"))
            first = book.find(f"{main}sheets/{main}sheet")
            rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            target = next(r.get("Target") for r in rels if r.get("Id") == first.get(f"{rel_ns}id"))
            name = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            # a regular expression over the bytes, not an XML parse: only the row numbers are needed, and the
            # sheet of 80,000 ballots takes 0.05 s this way against 0.5 s through lxml
            return {int(m) for m in _ROW_NUMBER.findall(zf.read(name))}
    except (KeyError, StopIteration, AttributeError, ValueError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return None


def _sheet_source(path: Path, first_row: int, rctab_rows: bool = False) -> tuple[
        list[str], int, Iterator[tuple[np.ndarray, Any]]]:
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)  # RCTab reads the first sheet too
        workbook.close()
    except (CalamineError, OSError, ValueError, IndexError) as exc:
        raise FormatError(f"unreadable spreadsheet ({type(exc).__name__}: {exc})", file=path,
                          expected="an .xlsx workbook (truncated or corrupt?)") from None
    pad = [""] * (sheet.start[1] if sheet.start else 0)  # calamine starts rows at the first used column
    rows = (pad + row for row in sheet.iter_rows()) if pad else iter(sheet.iter_rows())
    head = list(islice(rows, first_row - 1))
    headers = [norm_header(h) for h in head[first_row - 2]] if first_row > 1 and len(head) == first_row - 1 else []
    width = len(headers) or (sheet.width + len(pad) if sheet.start else 0)
    offset = sheet.start[0] if sheet.start else 0  # calamine's rows start at the first used row
    keep = _xml_row_numbers(path) if rctab_rows else None
    if keep is not None:
        keep = {r - offset for r in keep}
    return headers, width, _sheet_batches(rows, first_row, width, path, keep)


def _sheet_batches(rows: Iterator[list], number: int, width: int, path: Path,
                   keep_rows: set[int] | None = None) -> Iterator[tuple[np.ndarray, Any]]:
    """Batches of rows. All-blank rows are skipped, unless their number is in ``keep_rows`` (RCTab's empty
    ``<row>`` elements), which also adds the kept rows past the sheet's last used one."""
    last = number - 1
    while block := list(islice(rows, _CHUNK)):
        numbers = np.arange(number, number + len(block))
        number += len(block)
        last = number - 1
        if not all(map(any, block)):
            keep = [j for j, row in enumerate(block) if any(row) or (keep_rows is not None and int(numbers[j])
                                                                      in keep_rows)]
            numbers, block = numbers[keep], [block[j] for j in keep]
        if set(map(len, block)) - {width}:  # only when the header row is narrower than the sheet
            for j, row in enumerate(block):
                if any(row[width:]):
                    raise FormatError("a cell right of the last header column", file=path, record=int(numbers[j]),
                                      expected="every column headed")
            block = [(row + [""] * width)[:width] for row in block]
        if block:
            yield numbers, _RowBatch(block)
    if keep_rows is not None:
        tail = sorted(r for r in keep_rows if r > last)
        if tail:
            yield np.array(tail), _RowBatch([[""] * width for _ in tail])


def _csv_source(path: Path, opts: Options) -> tuple[list[str], int, Iterator[tuple[np.ndarray, Any]]]:
    first_row = opts.first_vote_row
    try:  # the header with the csv module (a few lines), the data with Arrow
        with open(path, newline="", encoding=opts.encoding) as fh:
            head = list(islice(csv.reader(fh), first_row))
    except (UnicodeDecodeError, csv.Error, LookupError) as exc:
        raise FormatError(f"unreadable CSV ({exc})", file=path,
                          expected=f"{opts.encoding} CSV, or give encoding=") from None
    if head and head[0] and head[0][0].startswith("\ufeff"):
        head[0][0] = head[0][0][1:]
    headers = [norm_header(h) for h in head[first_row - 2]] if first_row > 1 and len(head) >= first_row - 1 else []
    width = len(headers) or (len(head[first_row - 1]) if len(head) >= first_row else 0)
    return headers, width, _csv_batches(path, opts, width)


def _csv_batches(path: Path, opts: Options, width: int) -> Iterator[tuple[np.ndarray, Any]]:
    if not width:
        return
    names = [f"c{i}" for i in range(width)]
    encoding = "utf8" if opts.encoding.replace("-", "").lower() in ("utf8", "utf8sig") else opts.encoding
    number = opts.first_vote_row
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=opts.first_vote_row - 1, column_names=names, encoding=encoding,
                                           block_size=1 << 20, use_threads=False),  # bigger blocks: more memory
            # empty lines stay rows (then dropped as blank) so that row numbers match the file's
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
        last = None
        for batch in reader:
            numbers = np.arange(number, number + batch.num_rows)
            number += batch.num_rows
            last = batch if batch.num_rows else last
            blank = np.logical_and.reduce([pc.equal(c, "").to_numpy(zero_copy_only=False) for c in batch.columns])
            if blank.any():
                batch, numbers = batch.filter(pa.array(~blank)), numbers[~blank]
            if batch.num_rows:
                yield numbers, _ArrowBatch(batch)
        # an unterminated quote swallows the rest of the file into the last cell, and Arrow accepts it
        if last is not None and any(isinstance(v, str) and ("\n" in v or "\r" in v)
                                    for v in last.slice(last.num_rows - 1).to_pylist()[0].values()):
            raise FormatError("the last row holds a line break: an unterminated quote?", file=path,
                              record=number - 1, expected="a complete CSV file")
        _check_tail(path, opts)
    except pa.ArrowInvalid as exc:
        row = _bad_row(path, opts, width)
        if row is not None:
            raise FormatError(f"row has {row[1]} cells, the header {width} (truncated file?)", file=path,
                              record=row[0], expected=f"{width} cells on every row") from None
        raise FormatError(f"malformed CSV: {exc}", file=path) from None
    except (OSError, LookupError) as exc:
        raise FormatError(f"unreadable CSV: {exc}", file=path) from None


def _check_tail(path: Path, opts: Options) -> None:
    """A file cut inside a quoted last field parses in Arrow as a shorter value; the csv module (strict) refuses it.

    Exports end with a newline, so only a file that does not is re-read (the usual sign of truncation).
    """
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        if fh.tell() == 0:
            return
        fh.seek(-1, 2)
        if fh.read(1) == b"\n":
            return
    try:
        with open(path, newline="", encoding=opts.encoding, errors="replace") as fh:
            for _row in csv.reader(fh, strict=True):
                pass
    except csv.Error as exc:
        raise FormatError(f"malformed CSV at its end ({exc}); truncated file?", file=path,
                          expected="a complete CSV file") from None


def _bad_row(path: Path, opts: Options, width: int) -> tuple[int, int] | None:
    """(row number, cells) of the first row Arrow refused, found again with the csv module (error path only)."""
    try:
        with open(path, newline="", encoding=opts.encoding, errors="replace") as fh:
            for number, row in enumerate(csv.reader(fh), start=1):
                if number >= opts.first_vote_row and row and len(row) != width:
                    return number, len(row)
    except csv.Error:
        return None
    return None


def source(path: Path, opts: Options) -> tuple[list[str], int, Iterator[tuple[np.ndarray, Any]]]:
    """``(headers, width, batches)`` of one file; the header row is the row above ``first_vote_row``."""
    headers, width, batches = (_sheet_source(path, opts.first_vote_row, opts.rctab_empty_rows) if is_sheet(path)
                               else _csv_source(path, opts))
    if opts.first_vote_row > 1 and not headers:
        raise FormatError("empty file: no header row", file=path, expected=f"a header in row {opts.first_vote_row - 1}")
    return headers, width, batches


# layout ---------------------------------------------------------------------------------------------------------------
def classify(header: str) -> tuple[str, Any]:
    """``("attr", key)``, ``("rank", (contest name or None, rank, column id or None))``, ``("vote", name)`` or
    ``("none", None)`` for a blank header."""
    h = " ".join(header.split())
    if not h:
        return "none", None
    attr = ATTR_HEADERS.get(h.casefold())
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
    """Attribute columns and contest column groups of a header row."""
    attrs: dict[str, int] = {}
    groups: dict[tuple[bool, str | None], _Group] = {}
    for col, header in enumerate(headers):
        kind, what = classify(header)
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
            g.columns, g.ranks = [g.columns[i] for i in order], [g.ranks[i] for i in order]
            if g.ranks != list(range(1, len(g.ranks) + 1)):
                raise FormatError(f"ranks {g.ranks} of contest {g.name or '(unnamed)'!r} are not 1, 2, …",
                                  file=path, record=1, field=headers[g.columns[0]], expected="one column per rank")
    return attrs, sorted(groups.values(), key=lambda g: g.columns[0])


@dataclass
class Layout:
    headers: list[str]
    id_col: int | None
    count_col: int | None
    attrs: dict[str, int]
    contests: list[tuple[ContestState, list[int], list[int]]]  # state, columns read, columns past max_rankings
    multi: bool  # several contests: all-blank cells mean "not on this card"

    def header(self, col: int) -> str:
        return self.headers[col] if self.headers else f"column {col + 1}"


def layout(headers: list[str], width: int, path: Path, acc: Acc) -> Layout:
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
        state = acc.contest(g, True, len(keep), path, headers[first] if headers else "", o.candidates, o.contest_name)
        attrs = {k: v - 1 for k, v in (("precinct", o.precinct_column), ("batch", o.batch_column)) if v is not None}
        id_col = None if o.id_column is None else o.id_column - 1
        return Layout(headers, id_col, count_col, attrs, [(state, keep, cols[len(keep):])], False)
    if not headers:
        raise FormatError("no header row to infer the layout from", file=path,
                          expected="a header row, or first_vote_column=")
    if o.contest_name:
        chosen = [g for g in groups if g.name is None or g.name.casefold() == o.contest_name.casefold()]
        if not chosen:
            raise FormatError(f"no contest named {o.contest_name!r}", file=path, record=1,
                              expected="one of " + ", ".join(repr(g.name) for g in groups))
        groups = chosen[:1]
    if o.candidates is not None and len(groups) > 1:
        raise ConfigError("a candidate list applies to one contest: give contest_name= too")
    contests = []
    for g in groups:
        keep = g.columns[: o.max_rankings] if g.ranked and o.max_rankings else g.columns
        state = acc.contest(g, g.ranked, len(keep), path, headers[g.columns[0]], o.candidates)
        contests.append((state, keep, g.columns[len(keep):]))
    return Layout(headers, attrs.pop("id", None), count_col, attrs, contests, len(contests) > 1)


# cells → marks --------------------------------------------------------------------------------------------------------
class Encoder:
    """Dictionary-encodes raw cells: each distinct raw value is resolved once; rows get table codes.

    ``resolve(value, where, i)`` gives a value's entry; ``where = (file, row_of(i), header)`` lets it name the row
    of the ``i``-th cell when the value is bad.
    """

    def __init__(self, resolve: Callable[[Any, tuple, int], Any]) -> None:
        self.index: dict[Any, int] = {}
        self.values: list[Any] = []
        self.resolve = resolve
        self._tables: tuple[int, tuple[np.ndarray, ...]] = (-1, ())

    def _codes(self, cells: Sequence[Any], where: tuple) -> np.ndarray:
        codes = list(map(self.index.get, cells))
        if None in codes:
            for i, c in enumerate(codes):
                if c is None:
                    v = cells[i]
                    c = self.index.get(v)
                    if c is None:
                        c = len(self.values)
                        self.values.append(self.resolve(v, where, i))
                        self.index[v] = c
                    codes[i] = c
        return np.asarray(codes, np.intp)

    def codes(self, cells: Sequence[Any] | Encoded, numbers: np.ndarray, path: Path, header: str) -> np.ndarray:
        if isinstance(cells, Encoded):
            def row(j: int) -> int:
                return int(numbers[np.argmax(cells.indices == j)])
            return self._codes(cells.uniques, (path, row, header))[cells.indices]
        return self._codes(cells, (path, lambda i: int(numbers[i]), header))

    def tables(self, *dtypes: type) -> tuple[np.ndarray, ...]:
        if self._tables[0] != len(self.values):
            cols = list(zip(*self.values)) if len(dtypes) > 1 else [self.values]
            self._tables = (len(self.values), tuple(np.array(c, dt) for c, dt in zip(cols, dtypes)))
        return self._tables[1]


class ContestState:
    """One contest across files: its choices as discovered (or given) and its marks, segment by segment."""

    def __init__(self, cid: str, name: str, ranked: bool, slots: int, opts: Options,
                 candidates: tuple[Choice, ...] | None) -> None:
        self.id, self.name, self.ranked, self.slots, self.opts = cid, name, ranked, slots, opts
        self.fixed = candidates is not None
        self.choices: list[Choice] = list(candidates or ())
        self.bits = {k: i for i, c in reversed(list(enumerate(self.choices))) for k in (c.id, c.name, *c.aliases)}
        self.encoder = Encoder(self._resolve)
        self.segments: list[tuple[int, np.ndarray, np.ndarray]] = []

    def _bit(self, name: str, where: tuple, i: int) -> int:
        index = self.bits.get(name)
        if index is None:
            if self.fixed and name != UWI_NAME:
                raise UnknownIdError(f"unknown candidate {name!r} in contest {self.name!r}", file=where[0],
                                     record=where[1](i), field=where[2],
                                     expected="one of " + ", ".join(repr(c.name) for c in self.choices[:8])
                                     + (" …" if len(self.choices) > 8 else ""))
            if len(self.choices) >= MAX_CHOICES:
                raise FormatError(f"contest {self.name!r} has more than {MAX_CHOICES} choices", file=where[0],
                                  record=where[1](i), field=where[2])
            label = next(iter(self.opts.undeclared_write_in_label), "UWI")
            self.choices.append(Choice(label, UWI_NAME, write_in=True, undeclared=True) if name == UWI_NAME
                                else Choice(name, name))
            index = self.bits[name] = len(self.choices) - 1
        return 1 << index

    def _resolve(self, raw: Any, where: tuple, i: int) -> tuple[int, bool]:
        """(mask, cell is blank) of one distinct cell value."""
        o = self.opts
        s = text(raw).strip()
        if not s:
            return (self._bit(UWI_NAME, where, i) if o.treat_blank_as_undeclared_write_in else 0), True
        parts = [s]
        if o.overvote_delimiter and o.overvote_delimiter in s:
            parts = [p.strip() for p in s.split(o.overvote_delimiter)]
            if any(not p or p == o.skipped_rank_label for p in parts):  # RCTab refuses these too
                raise FormatError(f"cell {s!r} split by {o.overvote_delimiter!r} has a blank or skipped part",
                                  file=where[0], record=where[1](i), field=where[2],
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


def _count(raw: Any, where: tuple, i: int) -> int:
    s = text(raw).strip()
    count = int(s) if s.isdigit() else 0
    if count < 1:
        raise FormatError(f"ballot count {s!r} is not a positive whole number", file=where[0], record=where[1](i),
                          field=where[2], expected="COUNT >= 1")
    return count


@dataclass
class Acc:
    """Everything read so far, across files."""

    opts: Options
    default_name: str
    prefix_ids: bool
    contests: dict[str, ContestState] = field(default_factory=dict)
    attrs: dict[str, tuple[Encoder, dict[str, int], list]] = field(default_factory=dict)
    counts: Encoder = field(default_factory=lambda: Encoder(_count))
    ids: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    files: list[tuple[int, Path, str]] = field(default_factory=list)  # (first card, file, id header)
    n: int = 0

    def attribute(self, key: str) -> tuple[Encoder, dict[str, int], list]:
        if key not in self.attrs:
            labels: dict[str, int] = {}

            def resolve(raw: Any, _where: tuple, _i: int) -> int:
                s = text(raw).strip()
                return labels.setdefault(s, len(labels)) if s else -1

            self.attrs[key] = (Encoder(resolve), labels, [])
        return self.attrs[key]

    def contest(self, g: _Group | None, ranked: bool, slots: int, path: Path, header: str,
                candidates: tuple[Choice, ...] | None, name: str | None = None) -> ContestState:
        name = name or (g.name if g and g.name else None) or self.opts.contest_name or self.default_name
        ids = {i for i in (g.ids if g else []) if i}
        # ES&S numbers every rank column; one id shared by all ranks (this module's writer) is the contest's id
        cid = ids.pop() if len(ids) == 1 and g and all(g.ids) else name
        state = self.contests.get(cid)
        if state is None:
            state = self.contests[cid] = ContestState(cid, name, ranked, slots, self.opts, candidates)
        elif (state.ranked, state.slots) != (ranked, slots):
            raise FormatError(f"contest {name!r} has {slots} {'rank' if ranked else 'vote'} columns here but "
                              f"{state.slots} in an earlier file", file=path, record=1, field=header)
        return state


def read_file(path: Path, acc: Acc) -> None:
    headers, width, batches = source(path, acc.opts)
    lay = layout(headers, width, path, acc)
    acc.files.append((acc.n, path, lay.header(lay.id_col) if lay.id_col is not None else "card id"))
    for numbers, batch in batches:
        _read_batch(numbers, batch, lay, path, acc)


def _read_batch(numbers: np.ndarray, batch: Any, lay: Layout, path: Path, acc: Acc) -> None:
    def codes(encoder: Encoder, col: int) -> np.ndarray:
        return encoder.codes(batch.cells(col), numbers, path, lay.header(col))

    repeat = None
    if lay.count_col is not None:
        c = codes(acc.counts, lay.count_col)
        counts = acc.counts.tables(np.int64)[0][c]
        repeat = counts if np.any(counts != 1) else None
    if lay.id_col is not None:
        card_ids = batch.texts(lay.id_col)
        blank = np.flatnonzero(card_ids == "")
        if len(blank):
            raise FormatError("blank card id", file=path, record=int(numbers[blank[0]]), field=lay.header(lay.id_col),
                              expected="a Cast Vote Record number on every row")
    else:
        card_ids = numbers.astype(STRING)
        if acc.prefix_ids:
            card_ids = np.strings.add(f"{path.name}:", card_ids)
    if lay.count_col is not None:  # one card per ballot the row stands for: ids <row>-1 … <row>-COUNT
        reps = np.ones(len(numbers), np.int64) if repeat is None else repeat
        card_ids = np.repeat(card_ids, reps)
        k = np.arange(len(card_ids)) - np.repeat(np.cumsum(reps) - reps, reps) + 1
        card_ids = np.strings.add(np.strings.add(card_ids, "-"), k.astype(STRING))

    def expand(a: np.ndarray) -> np.ndarray:
        return a if repeat is None else np.repeat(a, repeat, axis=0)

    start = acc.n
    acc.ids.append(card_ids)
    acc.rows.append(expand(numbers))
    for key, col in lay.attrs.items():
        encoder, _labels, segments = acc.attribute(key)
        c = codes(encoder, col)
        segments.append((start, expand(encoder.tables(np.int32)[0][c])))
    for state, keep, over in lay.contests:
        masks, blanks = [], []
        for col in keep + over:
            c = codes(state.encoder, col)
            mask_table, blank_table = state.encoder.tables(np.uint64, bool)
            masks.append(mask_table[c])
            blanks.append(blank_table[c])
        for j, col in enumerate(over):  # ranks past max_rankings must be unmarked
            bad = np.flatnonzero((masks[len(keep) + j] != 0) & ~blanks[len(keep) + j])
            if len(bad):
                raise FormatError(f"rank {len(keep) + j + 1} is marked but at most {len(keep)} rankings are allowed",
                                  file=path, record=int(numbers[bad[0]]), field=lay.header(col),
                                  expected=f"max_rankings >= {len(keep) + j + 1}, or a blank/skipped cell")
        m = np.stack(masks[: len(keep)], axis=1)
        if lay.multi:
            present = ~np.logical_and.reduce(np.stack(blanks[: len(keep)], axis=1), axis=1)
        else:
            present = np.ones(len(numbers), bool)
        m = m if state.ranked else np.bitwise_or.reduce(m, axis=1)
        m[~present] = 0
        state.segments.append((start, expand(present), expand(m)))
    acc.n += len(card_ids)


def _assemble(segments: list, n: int, shape: tuple, dtype: type, fill: int = 0) -> np.ndarray:
    out = np.full((n, *shape), fill, dtype)
    for start, values in segments:
        out[start : start + len(values)] = values
    return out


def build(acc: Acc, meta: dict[str, str]) -> Election:
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
        state.segments.clear()
        flagged = raw >= np.uint64(OVERVOTE)  # the builder's convention: bit 63 → the contest's overvote flag
        if flagged.any():
            raw[flagged] = (raw[flagged] & np.uint64(_CHOICE_BITS)) | np.uint64(contest.overvote_flag)
        contests.append(contest)
        marks.append(ContestMarks(present, raw.astype(contest.mask_dtype)))
        del raw
    meta = {**meta, "files": "\n".join(str(f[1]) for f in acc.files)}
    return Election(acc.default_name, tuple(contests), Cards(card_id, attributes, marks), meta)
