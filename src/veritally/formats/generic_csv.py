"""Veritally's CSV: one row per card, one column per (contest, choice); also RCTab's ``genericCsv`` layout.

Veritally's layout (docs/formats/generic_csv.md)::

    card_id,precinct,batch,Mayor: Alice,Mayor: Bob,RCV Mayor: Pat,RCV Mayor: Quinn
    1,P1,B1,1,0,1,2
    2,P1,B1,0,0,2|3,1
    3,P2,,,,0,0

``card_id`` first, then any of the card attributes (``tabulator, batch, precinct, precinct_portion, style,
counting_group, ballot``), then ``<contest>: <choice>`` columns: ``1``/``0`` (non-ranked) or the rank number
(ranked; ``2|3`` when ranked twice, ``0`` not ranked). A contest whose cells are all empty is not on the card. An
overvote whose choices are unknown is the column ``<contest>: (overvote)`` (1, or the ranks where it happened).
Rules a header cannot say are in the sidecar ``<stem>.contests.json`` that :func:`write` writes and :func:`read`
uses when present; without it they are inferred. The round trip through :func:`write` and :func:`read` is lossless.

RCTab's ``genericCsv`` layout (a header of candidate names, rank numbers in cells, one contest) is read when
``first_vote_column`` is given (:func:`options_from_rctab_source` maps an RCTab config).

Columns are read by ``pyarrow.csv`` as small integers (falling back to dictionary-encoded text when a cell holds
``2|3``); marks are or-ed into bit masks whole columns at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

from .._io import atomic_path, atomic_write
from ..errors import ConfigError, FormatError, UnknownIdError
from ..model import (CARD_ATTRIBUTES, STRING, Cards, Choice, Contest, ContestKind, ContestMarks, Election,
                     contest_from_dict, contest_to_dict, mask_dtype, popcount)
from . import _csvio, _rctab
from ._rctab import UWI_NAME

__all__ = ["NAME", "DESCRIPTION", "OVERVOTE_COLUMN", "sniff", "read", "write", "sidecar_path",
           "options_from_rctab_source"]

NAME = "csv"
DESCRIPTION = "Veritally's CSV (one row per card, a column per choice) or RCTab's generic CSV (with options)"
#: Choice label of the column of overvotes whose choices are unknown.
OVERVOTE_COLUMN = "(overvote)"
_SIDECAR_VERSION = 1
_NATIVE_OPTIONS = ("contest_name", "undeclared_write_in_label", "encoding")
_RCTAB_OPTIONS = ("first_vote_column", "first_vote_row", "id_column", "precinct_column", "batch_column",
                  "candidates", "max_rankings")
_MARK_TYPE = pa.int16()
_TEXT_TYPE = pa.dictionary(pa.int32(), pa.string())
_MAX_RANK = 64


def sidecar_path(csv_path: Path) -> Path:
    """``cvrs.csv`` → ``cvrs.contests.json``."""
    return csv_path.with_suffix(".contests.json")


def sniff(path: Path) -> bool:
    """A ``.csv`` file whose first column is ``card_id`` (RCTab-style files are read only with ``--format csv``)."""
    if not path.is_file() or path.suffix.lower() != ".csv":
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).removeprefix(b"\xef\xbb\xbf")
    except OSError:
        return False
    first = (head.split(b",", 1)[0].splitlines() or [b""])[0]
    return first.strip().strip(b'"') == b"card_id"


# options -------------------------------------------------------------------------------------------------------------
@dataclass
class _Options:
    contest_name: str | None = None
    undeclared_write_in_label: str | None = None
    encoding: str = "utf-8"
    first_vote_column: int | None = None
    first_vote_row: int = 2
    id_column: int | None = None
    precinct_column: int | None = None
    batch_column: int | None = None
    candidates: tuple[Choice, ...] | None = None
    max_rankings: int | None = None


def _options(options: Mapping[str, Any]) -> _Options:
    _rctab.check_options(options, (*_NATIVE_OPTIONS, *_RCTAB_OPTIONS), "CSV")
    o = _Options(**{k: v for k, v in options.items() if k != "candidates" and v is not None})
    o.candidates = _rctab.candidate_choices(options.get("candidates"), "CSV")
    for key in ("first_vote_column", "first_vote_row", "id_column", "precinct_column", "batch_column"):
        v = getattr(o, key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ConfigError(f"CSV option {key} must be a 1-based column/row number, not {v!r}")
    if o.first_vote_row < 2:
        raise ConfigError("CSV option first_vote_row must be 2 or more (row 1 holds the candidate names)")
    if o.max_rankings == "max":
        o.max_rankings = None
    if o.max_rankings is not None and (not isinstance(o.max_rankings, int) or o.max_rankings < 1):
        raise ConfigError(f"CSV option max_rankings must be a positive integer, not {o.max_rankings!r}")
    o.undeclared_write_in_label = o.undeclared_write_in_label or None
    if o.first_vote_column is None:
        given = sorted(k for k in _RCTAB_OPTIONS if options.get(k) is not None)
        if given:
            raise ConfigError(f"CSV option(s) {', '.join(given)} apply to RCTab's generic CSV layout; "
                              "give first_vote_column too (veritally … -o first_vote_column=N)")
    return o


def options_from_rctab_source(source: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]] = (),
                              rules: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword options of :func:`read` for one RCTab ``cvrFileSources`` entry of provider ``genericCsv``.

    ``firstVoteColumnIndex``, ``firstVoteRowIndex``, ``idColumnIndex``, ``precinctColumnIndex``,
    ``batchColumnIndex`` (1-based) → ``first_vote_column`` …; ``contestId`` → ``contest_name``;
    ``undeclaredWriteInLabel`` → ``undeclared_write_in_label``; the config's ``candidates`` (names, aliases) →
    ``candidates``; ``rules.maxRankingsAllowed`` → ``max_rankings``. Empty strings mean "not set", as in RCTab.
    """
    return _rctab.source_options(source, candidates, rules, text={
        "contestId": "contest_name", "undeclaredWriteInLabel": "undeclared_write_in_label"}, numbers={
        "firstVoteColumnIndex": "first_vote_column", "firstVoteRowIndex": "first_vote_row",
        "idColumnIndex": "id_column", "precinctColumnIndex": "precinct_column", "batchColumnIndex": "batch_column"})


# layout --------------------------------------------------------------------------------------------------------------
@dataclass
class _Group:
    """One contest of a file: the columns that feed it and what it accumulates."""

    name: str
    choices: list[Choice]
    columns: list[tuple[int, int]] = field(default_factory=list)  #: (file column, bit); bit = k: overvote flag
    contest: Contest | None = None  #: from the sidecar (rules known), else inferred after reading
    always_present: bool = False  #: RCTab's layout: every row is a ballot of the contest
    max_rank: int | None = None  #: a higher rank is a FormatError
    segments: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    ranks_seen: int = 0
    piped: bool = False  #: a cell held several ranks

    @property
    def dtype(self) -> np.dtype:
        return mask_dtype(len(self.choices))


@dataclass
class _Layout:
    headers: list[str]
    skip_rows: int
    id_col: int | None
    attr_cols: dict[str, int]
    groups: list[_Group]
    rctab: bool
    name: str | None = None  #: election name from the sidecar

    @property
    def mark_cols(self) -> list[int]:
        return [c for g in self.groups for c, _b in g.columns]


def _labels(contests: Sequence[Contest]) -> list[tuple[str, list[str]]]:
    """(contest label, choice labels) used in headers: names, or ids where names repeat."""
    names = [c.name for c in contests]
    out = []
    for c in contests:
        choice_names = [x.name for x in c.choices]
        label = c.name if names.count(c.name) == 1 else c.id
        out.append((label, [x.name if choice_names.count(x.name) == 1 else x.id for x in c.choices]))
    return out


def _read_sidecar(path: Path) -> tuple[str | None, list[Contest]] | None:
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        data = orjson.loads(side.read_bytes())
        if isinstance(data, dict):
            version = data.get("version", _SIDECAR_VERSION)
            if version != _SIDECAR_VERSION:
                raise FormatError(f"unsupported sidecar version {version!r}", file=side, field="version",
                                  expected=str(_SIDECAR_VERSION))
            return data.get("name"), [contest_from_dict(c) for c in data["contests"]]
        return None, [contest_from_dict(c) for c in data]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"unreadable contests sidecar ({type(exc).__name__}: {exc})", file=side,
                          expected="a list of contests as written by `veritally convert --to csv`") from None
    except OSError as exc:
        raise FormatError(f"cannot read the contests sidecar: {exc}", file=side) from None


def _native_layout(headers: list[str], path: Path, o: _Options) -> _Layout:
    attr_cols: dict[str, int] = {}
    marks: list[int] = []
    for i, h in enumerate(headers[1:], start=1):
        if h in CARD_ATTRIBUTES:
            if h in attr_cols:
                raise FormatError(f"column {h!r} appears twice", file=path, record=1, field=h)
            attr_cols[h] = i
        elif ":" in h:
            marks.append(i)
        else:
            raise FormatError("unknown column", file=path, record=1, field=h,
                              expected="card_id, " + ", ".join(CARD_ATTRIBUTES) + " or '<contest>: <choice>'")
    side = _read_sidecar(path)
    groups = _sidecar_groups(headers, marks, side[1], path) if side else _inferred_groups(headers, marks, path, o)
    if o.contest_name is not None:
        keep = [g for g in groups if g.name == o.contest_name] or [
            g for g in groups if g.name.casefold() == o.contest_name.casefold()]
        if not keep:
            raise UnknownIdError(f"no contest named {o.contest_name!r}", file=path, record=1,
                                 expected="one of " + ", ".join(repr(g.name) for g in groups))
        groups = keep[:1]
    return _Layout(headers, 1, 0, attr_cols, groups, False, side[0] if side else None)


def _split(header: str) -> tuple[str, str]:
    """``<contest>: <choice>`` split at the last colon (contest names hold colons more often than choice names)."""
    contest, choice = header.rsplit(":", 1)
    return contest.strip(), choice.strip()


def _sidecar_groups(headers: list[str], marks: list[int], contests: list[Contest], path: Path) -> list[_Group]:
    exact: dict[str, tuple[int, int]] = {}
    loose: dict[tuple[str, str], tuple[int, int]] = {}  # hand-edited headers: spaces around the colon may differ
    for k, (label, choice_labels) in enumerate(_labels(contests)):
        for b, choice in enumerate([*choice_labels, OVERVOTE_COLUMN]):
            exact.setdefault(f"{label}: {choice}", (k, b))
            loose.setdefault(_split(f"{label}: {choice}"), (k, b))
    groups = [_Group(c.name, list(c.choices), contest=c, max_rank=c.ranks or 1) for c in contests]
    seen: set[tuple[int, int]] = set()
    for i in marks:
        target = exact.get(headers[i]) or loose.get(_split(headers[i]))
        if target is None:
            raise FormatError("column not in the contests sidecar", file=path, record=1, field=headers[i],
                              expected=f"a contest and choice of {sidecar_path(path).name}")
        if target in seen:
            raise FormatError("column appears twice", file=path, record=1, field=headers[i])
        seen.add(target)
        groups[target[0]].columns.append((i, target[1]))
    for k, (g, (label, choice_labels)) in enumerate(zip(groups, _labels(contests))):
        missing = [c for b, c in enumerate(choice_labels) if (k, b) not in seen]
        if missing:
            raise FormatError(f"no column for choice {missing[0]!r} of contest {g.name!r}", file=path, record=1,
                              expected=f"a column '{label}: {missing[0]}', as {sidecar_path(path).name} lists")
    return groups


def _inferred_groups(headers: list[str], marks: list[int], path: Path, o: _Options) -> list[_Group]:
    groups: dict[str, _Group] = {}
    for i in marks:
        contest, choice = _split(headers[i])
        g = groups.setdefault(contest, _Group(contest, []))
        if choice == OVERVOTE_COLUMN:
            g.columns.append((i, -1))  # the flag bit is known once all choices are
            continue
        if any(c.name == choice for c in g.choices):
            raise FormatError("column appears twice", file=path, record=1, field=headers[i])
        undeclared = choice == UWI_NAME or choice == o.undeclared_write_in_label
        g.columns.append((i, len(g.choices)))
        g.choices.append(Choice(choice, UWI_NAME if undeclared else choice, write_in=undeclared or
                                _rctab.looks_write_in(choice), undeclared=undeclared,
                                aliases=(choice,) if undeclared and choice != UWI_NAME else ()))
    for g in groups.values():
        g.columns = [(i, len(g.choices) if b < 0 else b) for i, b in g.columns]
    return list(groups.values())


def _rctab_layout(headers: list[str], path: Path, o: _Options) -> _Layout:
    width = len(headers)
    first = o.first_vote_column - 1  # type: ignore[operator]
    for key in ("first_vote_column", "id_column", "precinct_column", "batch_column"):
        v = getattr(o, key)
        if v is not None and v > width:
            raise ConfigError(f"CSV option {key}={v}, but {path} has {width} columns")
    names = headers[first:]
    for i, name in enumerate(names, start=first):
        if not name.strip():
            raise FormatError("empty candidate name", file=path, record=1, field=f"column {i + 1}",
                              expected="a candidate name above every rank column")
    uwi = o.undeclared_write_in_label
    bits: list[int] = []
    if o.candidates is None:
        choices: list[Choice] = []
        for name in names:
            bits.append(len(choices))
            choices.append(Choice(name, UWI_NAME, write_in=True, undeclared=True, aliases=(name,)) if name == uwi
                           else Choice(name, name, write_in=_rctab.looks_write_in(name)))
    else:
        lookup = _rctab.candidate_lookup(o.candidates)
        choices = list(o.candidates)
        for i, name in enumerate(names, start=first):
            if name == uwi:
                bits.append(len(choices))
                choices.append(Choice(name, UWI_NAME, write_in=True, undeclared=True, aliases=(name,)))
                continue
            pos = lookup.get(name, lookup.get(name.strip()))
            if pos is None:
                raise UnknownIdError(f"candidate {name!r} is not in the candidate list", file=path, record=1,
                                     field=f"column {i + 1}",
                                     expected="one of " + ", ".join(repr(c.name) for c in o.candidates[:8]))
            bits.append(pos)
    name = o.contest_name or path.stem
    group = _Group(name, choices, [(first + k, b) for k, b in enumerate(bits)], always_present=True,
                   max_rank=o.max_rankings)
    attr_cols = {key: col - 1 for key, col in (("precinct", o.precinct_column), ("batch", o.batch_column)) if col}
    return _Layout(headers, o.first_vote_row - 1, None if o.id_column is None else o.id_column - 1, attr_cols,
                   [group], True)


# reading -------------------------------------------------------------------------------------------------------------
def read(paths: Sequence[Path] | str | PathLike[str], **options: Any) -> Election:
    """Read Veritally CSV files (same columns in each), or RCTab generic CSV files, as one election.

    Veritally's layout takes ``contest_name`` (read only that contest), ``undeclared_write_in_label`` (without a
    sidecar: that choice is RCTab's "Undeclared Write-ins") and ``encoding``. RCTab's layout is read when
    ``first_vote_column`` [firstVoteColumnIndex] is given, with ``first_vote_row`` [firstVoteRowIndex, default 2;
    row 1 holds the candidate names], ``id_column``, ``precinct_column``, ``batch_column`` [idColumnIndex, …;
    1-based], ``contest_name`` (default: the file name), ``candidates`` (names, ``(name, aliases)`` pairs,
    ``{"name", "aliases"}`` dicts or Choices; other header names are an UnknownIdError), ``undeclared_write_in_label``
    and ``max_rankings`` (a higher rank is a FormatError). :func:`options_from_rctab_source` maps a config.
    """
    o = _options(options)
    files = [Path(paths)] if isinstance(paths, (str, PathLike)) else [Path(p) for p in paths]
    if not files:
        raise FormatError("no CSV files given")
    layout: _Layout | None = None
    ids: list[np.ndarray] = []
    attrs: dict[str, _csvio.TextColumn] = {}
    starts: list[tuple[int, Path]] = []
    skips: list[int] = []
    n = 0
    for path in files:
        head = _csvio.read_head(path, 1, o.encoding)
        headers = head[0]
        if o.first_vote_column is not None:
            file_layout = _rctab_layout(headers, path, o)
        elif headers[0].strip() == "card_id":
            file_layout = _native_layout(headers, path, o)
        else:
            raise FormatError("not a Veritally CSV: the first column is not card_id", file=path, record=1,
                              field=headers[0], expected="card_id; for RCTab's generic CSV layout give "
                                                         "--format csv -o first_vote_column=N")
        if layout is None:
            layout = file_layout
            attrs = {key: _csvio.TextColumn() for key in layout.attr_cols}
        elif headers != layout.headers:
            raise FormatError("the file's columns differ from the first file's", file=path, record=1,
                              expected=f"the header of {files[0]}")
        starts.append((n, path))
        skips.append(layout.skip_rows)
        n += _read_file(path, layout, o, len(files) > 1, ids, attrs)
    assert layout is not None
    card_id = np.concatenate(ids) if ids else np.array([], STRING)
    id_field = layout.headers[layout.id_col] if layout.id_col is not None else "row"
    _csvio.check_unique(card_id, starts, skips, id_field, o.encoding)
    contests, marks = [], []
    for g in layout.groups:
        contest, m = _finish(g, n)
        contests.append(contest)
        marks.append(m)
    meta = {"format": NAME, "files": "\n".join(str(f) for f in files)}
    if layout.rctab:
        meta["layout"] = "rctab genericCsv"
    elif any(g.contest is None for g in layout.groups):
        meta["rules"] = f"inferred from the marks (no {sidecar_path(files[0]).name})"
    return Election(layout.name or files[0].stem, tuple(contests),
                    Cards(card_id, {k: c.categorical() for k, c in attrs.items()}, marks), meta)


def _read_file(path: Path, layout: _Layout, o: _Options, prefix_ids: bool, ids: list[np.ndarray],
               attrs: dict[str, _csvio.TextColumn]) -> int:
    """Read one file's rows into ``ids``, ``attrs`` and the groups' segments; the number of cards."""
    include = sorted({*layout.mark_cols, *layout.attr_cols.values(),
                      *([layout.id_col] if layout.id_col is not None else [])})
    # small integers first; text (dictionary-encoded) when a cell holds "2|3" or is not a number at all
    saved = (len(ids), {k: len(c.chunks) for k, c in attrs.items()},
             [(len(g.segments), g.ranks_seen, g.piped) for g in layout.groups])
    try:
        return _read_rows(path, layout, o, {c: _MARK_TYPE for c in layout.mark_cols}, include, prefix_ids, ids,
                          attrs, locate=False)
    except _csvio.Unconvertible:
        del ids[saved[0]:]
        for k, c in attrs.items():
            del c.chunks[saved[1][k]:]
        for g, (segments, ranks_seen, piped) in zip(layout.groups, saved[2]):
            del g.segments[segments:]
            g.ranks_seen, g.piped = ranks_seen, piped
    return _read_rows(path, layout, o, {c: _TEXT_TYPE for c in layout.mark_cols}, include, prefix_ids, ids, attrs,
                      locate=True)


def _read_rows(path: Path, layout: _Layout, o: _Options, types: dict[int, pa.DataType], include: list[int],
               prefix_ids: bool, ids: list[np.ndarray], attrs: dict[str, _csvio.TextColumn], locate: bool) -> int:
    count = 0
    for ordinal, batch in _csvio.batches(path, layout.headers, types, layout.skip_rows, include=include,
                                         encoding=o.encoding, expected=lambda _c: "a rank number", locate=locate):
        _read_batch(path, layout, o, ordinal, batch, prefix_ids, ids, attrs)
        count += batch.num_rows
    return count


def _read_batch(path: Path, layout: _Layout, o: _Options, ordinal: int, batch: pa.RecordBatch, prefix_ids: bool,
                ids: list[np.ndarray], attrs: dict[str, _csvio.TextColumn]) -> None:
    m = batch.num_rows

    def row(i: int) -> int:
        return _csvio.row_number(path, layout.skip_rows, ordinal + i, o.encoding)

    if layout.id_col is not None:
        card_ids = _csvio.texts(batch.column(f"c{layout.id_col}"))
        blank = np.flatnonzero(np.strings.strip(card_ids) == "")
        if len(blank):
            raise FormatError("blank card id", file=path, record=row(int(blank[0])),
                              field=layout.headers[layout.id_col], expected="a card id on every row")
    else:  # RCTab's layout without an id column: the row number (and file name when there are several files)
        card_ids = np.arange(layout.skip_rows + 1 + ordinal, layout.skip_rows + 1 + ordinal + m).astype(STRING)
        if prefix_ids:
            card_ids = np.strings.add(f"{path.name}:", card_ids)
    ids.append(card_ids)
    for key, col in layout.attr_cols.items():
        attrs[key].add(batch.column(f"c{col}"))
    for g in layout.groups:
        _group_batch(g, batch, path, layout.headers, row)


def _decode(col: pa.Array, path: Path, header: str, row) -> tuple[np.ndarray, np.ndarray]:
    """(filled, rank bits) of one mark column: bit r set when the cell names rank r + 1."""
    if pa.types.is_dictionary(col.type):
        words = col.dictionary.to_pylist()
        table = np.zeros(len(words) + 1, np.uint64)
        filled_table = np.zeros(len(words) + 1, bool)
        codes = col.indices.fill_null(len(words)).to_numpy(zero_copy_only=False)
        for k, word in enumerate(words):
            bits = _parse_cell(word)
            if bits is None:
                bad = int(np.flatnonzero(codes == k)[0])
                raise FormatError(f"cell {word!r} is not a rank number", file=path, record=row(bad), field=header,
                                  expected="0, 1, a rank number, ranks joined by '|' (2|3), or empty")
            table[k], filled_table[k] = bits, word.strip() != ""
        return filled_table[codes], table[codes]
    values = _csvio.int_values(col, 0)
    bad = np.flatnonzero((values < 0) | (values > _MAX_RANK))
    if len(bad):
        raise FormatError(f"cell {int(values[bad[0]])} is not a rank number", file=path, record=row(int(bad[0])),
                          field=header, expected=f"0 to {_MAX_RANK}, or empty")
    filled = col.is_valid().to_numpy(zero_copy_only=False) if col.null_count else np.ones(len(col), bool)
    shifted = np.left_shift(np.uint64(1), np.maximum(values, 1).astype(np.uint64) - np.uint64(1))
    return filled, np.where(values > 0, shifted, np.uint64(0))


def _parse_cell(word: str) -> int | None:
    """Rank bits of a cell ("" and "0": none; "2": rank 2; "1|3"), None if it is not one."""
    word = word.strip()
    if word in ("", "0"):
        return 0
    bits = 0
    for part in word.split("|"):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= _MAX_RANK:
            return None
        bits |= 1 << (int(part) - 1)
    return bits


def _group_batch(g: _Group, batch: pa.RecordBatch, path: Path, headers: Sequence[str], row) -> None:
    m = batch.num_rows
    decoded = []
    present = np.ones(m, bool) if g.always_present else np.zeros(m, bool)
    seen = np.uint64(0)
    for col, bit in g.columns:
        filled, bits = _decode(batch.column(f"c{col}"), path, headers[col], row)
        if not g.always_present:
            present |= filled
        seen |= np.bitwise_or.reduce(bits) if m else np.uint64(0)
        g.piped = g.piped or bool(np.any(np.bitwise_count(bits) > 1))
        decoded.append((col, bit, bits))
    ranks = int(seen).bit_length()
    if g.max_rank is not None and ranks > g.max_rank:
        col, _b, bits = next(d for d in decoded if int(np.bitwise_or.reduce(d[2])).bit_length() > g.max_rank)
        bad = int(np.flatnonzero(bits >> np.uint64(g.max_rank))[0])
        what = "a mark (1) or 0" if g.contest is not None and not g.contest.is_ranked else f"ranks 1 to {g.max_rank}"
        raise FormatError(f"rank {int(bits[bad]).bit_length()} is more than the contest allows", file=path,
                          record=row(bad), field=headers[col], expected=what)
    g.ranks_seen = max(g.ranks_seen, ranks)
    dtype = g.dtype
    masks = np.zeros((m, max(ranks, 1)), dtype)
    for _col, bit, bits in decoded:
        for r in range(ranks):
            masks[:, r] |= ((bits >> np.uint64(r)) & np.uint64(1)).astype(dtype) << dtype.type(bit)
    g.segments.append((present, masks))


#: Without a sidecar, a contest allows k votes when at least this share of the cards marking it mark k or more
#: choices: overvotes are rarer than that (0.1-0.5 % of cards), the last vote of a vote-for-k contest commoner.
INFER_SHARE = 0.02


def _inferred_votes_allowed(masks: np.ndarray, flag: np.ndarray) -> int:
    """Votes allowed, guessed from the marks (documented in docs/formats/generic_csv.md); 1 at least."""
    marked = popcount(masks & ~flag).astype(np.int64)
    marked = marked[marked > 0]
    if not len(marked):
        return 1
    at_least = np.cumsum(np.bincount(marked)[::-1])[::-1]  # at_least[k] = cards marking k or more
    return max([k for k in range(1, len(at_least)) if at_least[k] >= INFER_SHARE * len(marked)] or [1])


def _finish(g: _Group, n: int) -> tuple[Contest, ContestMarks]:
    """The group's contest (from the sidecar, or inferred) and its marks."""
    width = max(g.ranks_seen, 1)
    present = np.concatenate([p for p, _m in g.segments]) if g.segments else np.zeros(n, bool)
    masks = np.zeros((n, width), g.dtype)
    start = 0
    for _p, seg in g.segments:
        masks[start : start + len(seg), : seg.shape[1]] = seg
        start += len(seg)
    g.segments.clear()
    contest = g.contest
    if contest is None:
        if g.always_present or g.ranks_seen > 1 or g.piped:
            contest = Contest(g.name, g.name, ContestKind.RANKED, tuple(g.choices), ranks=width)
        else:
            votes = _inferred_votes_allowed(masks[:, 0][present], np.array(1 << len(g.choices), g.dtype))
            contest = Contest(g.name, g.name, ContestKind.PLURALITY if votes == 1 else ContestKind.VOTE_FOR_N,
                              tuple(g.choices), winners=votes, votes_allowed=votes)
    if contest.is_ranked:
        if width < contest.ranks:
            masks = np.pad(masks, ((0, 0), (0, contest.ranks - width)))
        return contest, ContestMarks(present, masks)
    return contest, ContestMarks(present, masks[:, 0].copy())


# writing -------------------------------------------------------------------------------------------------------------
def _rank_cells(bits: np.ndarray, absent: np.ndarray) -> pa.Array:
    """Cells of one ranked column from rank bits: the rank, ``2|3``, ``0`` (not ranked), empty (absent)."""
    if not np.any(np.bitwise_count(bits) > 1):
        rank = np.where(bits > 0, np.log2(np.maximum(bits, 1).astype(np.float64)).astype(np.int16) + 1, 0)
        return pa.array(rank.astype(np.int16), mask=absent)
    uniq, inverse = np.unique(bits, return_inverse=True)
    words = ["|".join(str(r + 1) for r in range(_MAX_RANK) if int(u) >> r & 1) or "0" for u in uniq.tolist()]
    cells = np.array(words, object)[inverse]
    return pa.array(cells, type=pa.string(), mask=absent)


def _check_writable(election: Election) -> None:
    for key in election.cards.attributes:
        if key not in CARD_ATTRIBUTES:
            raise ConfigError(f"card attribute {key!r} has no column in Veritally's CSV (it has "
                              f"{', '.join(CARD_ATTRIBUTES)})")
    if len(election.cards) and np.any(np.strings.strip(election.cards.card_id) == ""):
        raise ConfigError("a card has an empty id; Veritally's CSV needs one on every row")
    for contest, (label, choice_labels) in zip(election.contests, _labels(election.contests)):
        for text in (label, *choice_labels):
            if text != text.strip() or not text or "\n" in text or "\r" in text:
                raise ConfigError(f"contest {contest.name!r}: label {text!r} cannot be a CSV header part "
                                  "(empty, line break, or space at an end)")


def write(election: Election, out: Path) -> list[Path]:
    """Write ``out`` (Veritally's CSV) and its sidecar ``<stem>.contests.json`` (atomically); both paths returned.

    Columns: ``card_id``, the card attributes the cards have, then per contest ``<contest>: <choice>`` (contest and
    choice names, or ids where names repeat) and, when the contest has overvotes whose choices are unknown,
    ``<contest>: (overvote)``. Cells: see the module docstring.
    """
    _check_writable(election)
    cards = election.cards
    headers = ["card_id"]
    columns: list[pa.Array] = [pa.array(cards.card_id, type=pa.string())]
    for key in CARD_ATTRIBUTES:
        if key in cards.attributes:
            cat = cards.attributes[key]
            indices = pa.array(cat.codes, mask=cat.codes < 0, type=pa.int32())
            headers.append(key)
            columns.append(pa.DictionaryArray.from_arrays(indices, pa.array(cat.labels, type=pa.string()))
                           .dictionary_decode())
    for contest, marks, (label, choice_labels) in zip(election.contests, cards.marks, _labels(election.contests)):
        absent = ~marks.present
        flag_bit = len(contest.choices)
        bit_labels = list(enumerate(choice_labels))
        if np.any(marks.masks & marks.masks.dtype.type(contest.overvote_flag)):
            bit_labels.append((flag_bit, OVERVOTE_COLUMN))
        for b, choice_label in bit_labels:
            headers.append(f"{label}: {choice_label}")
            one = marks.masks.dtype.type(1)
            if contest.is_ranked:
                bits = np.zeros(len(cards), np.uint64)
                for r in range(contest.ranks):
                    bits |= ((marks.masks[:, r] >> marks.masks.dtype.type(b)) & one).astype(np.uint64) << np.uint64(r)
                columns.append(_rank_cells(bits, absent))
            else:
                columns.append(pa.array(((marks.masks >> marks.masks.dtype.type(b)) & one).astype(np.int8),
                                        mask=absent))
    if len(set(headers)) != len(headers):
        dup = next(h for h in headers if headers.count(h) > 1)
        raise ConfigError(f"two columns would be headed {dup!r}; rename a contest or choice")
    table = pa.Table.from_arrays(columns, names=headers)
    side = sidecar_path(out)
    sidecar = {"version": _SIDECAR_VERSION, "name": election.name,
               "contests": [contest_to_dict(c) for c in election.contests]}
    with atomic_path(out) as tmp:
        pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="needed"))
        with atomic_write(side, "wb") as fh:
            fh.write(orjson.dumps(sidecar, option=orjson.OPT_INDENT_2))
    return [out, side]
