"""Clear Ballot ClearCount cast vote record export (CSV): reader and writer.

One row per ballot card. Ten fixed columns ``RowNumber, BoxID, BoxPosition, BallotID, PrecinctID, BallotStyleID,
PrecinctStyleName, ScanComputerName, Status, Remade``, then one 0/1 column per (contest, rank, choice):

* ``Choice_<n>_<m>:<Contest>:<rank>:Vote For <k>:<Choice>:<Party>`` (ClearCount's RCV layout, read by RCTab;
  ``Number of Winners <k>`` in place of ``Vote For <k>`` in newer exports);
* ``Choice_<n>_<m>:<Contest>:Vote For <k>:<Choice>:<Party>`` (the plain layout, no rank field, read by Arlo).

A contest is ranked when it has columns of rank 2 or more (or when ``contest_name`` selects it for an RCV count).
A row whose cells of one contest are all empty does not have that contest (the card's ballot style lacks it; Arlo's
Clear Ballot fixtures have such rows, RCTab's files have none); empty and 0/1 cells mixed in one contest are an
error. The 0/1 columns are read by ``pyarrow.csv`` as int8 arrays and or-ed into bit masks whole columns at a time.
docs/formats/clearballot.md has the details.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .._io import atomic_path
from ..errors import ConfigError, FormatError, UnknownIdError
from ..model import STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election
from . import _csvio, _rctab
from ._rctab import UWI_NAME

__all__ = ["NAME", "DESCRIPTION", "FIXED_COLUMNS", "sniff", "read", "write", "options_from_rctab_source"]

NAME = "clearballot"
DESCRIPTION = "Clear Ballot ClearCount cast vote record CSV (plain and RCV layouts)"

FIXED_COLUMNS = ("RowNumber", "BoxID", "BoxPosition", "BallotID", "PrecinctID", "BallotStyleID",
                 "PrecinctStyleName", "ScanComputerName", "Status", "Remade")
#: Fixed column → card attribute.
ATTRIBUTE_COLUMNS = {"ScanComputerName": "tabulator", "BoxID": "batch", "PrecinctID": "precinct",
                     "BallotStyleID": "style", "PrecinctStyleName": "precinct_portion"}
OPTIONS = ("contest_name", "undeclared_write_in_label", "candidates", "max_rankings", "encoding")
_SNIFF = b"RowNumber,BoxID,BoxPosition,BallotID"
_HEAD = re.compile(r"^Choice_(\w+?)_(\d+)$")
_RULE = re.compile(r"^\s*(Vote For|Number of Winners)\s+(\d+)\s*$", re.I)


# header --------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChoiceColumn:
    """One parsed choice-column header."""

    number: str  #: ``<n>`` of ``Choice_<n>_<m>``
    contest: str
    rank: int  #: 1 in the plain layout
    winners_rule: bool  #: ``Number of Winners <k>`` (else ``Vote For <k>``)
    k: int
    choice: str
    party: str
    ranked_layout: bool  #: the header had a rank field


def parse_choice_header(header: str) -> ChoiceColumn | None:
    """The parts of a ``Choice_…`` header, or None when it is not one.

    Fields are split on ``:``; the rule field (``Vote For k`` / ``Number of Winners k``) anchors the split, so a
    contest name may hold colons (choice names too, except in their last field, the party).
    """
    parts = header.split(":")
    head = _HEAD.match(parts[0].strip())
    if head is None or len(parts) < 5:
        return None
    j = next((i for i in range(2, len(parts) - 2) if _RULE.match(parts[i])), None)
    if j is None:
        return None
    rule = _RULE.match(parts[j])
    middle = parts[1:j]
    ranked_layout = len(middle) >= 2 and middle[-1].strip().isdigit()
    rank = int(middle[-1]) if ranked_layout else 1
    contest = ":".join(middle[:-1] if ranked_layout else middle)
    if rank < 1 or not contest:
        return None
    return ChoiceColumn(head.group(1), contest, rank, rule.group(1).lower().startswith("number"), int(rule.group(2)),
                        ":".join(parts[j + 1 : -1]), parts[-1], ranked_layout)


@dataclass
class _Plan:
    """One contest of a file: its model contest, and (file column, rank index, choice bit) of each column read."""

    contest: Contest
    columns: list[tuple[int, int, int]] = field(default_factory=list)


@dataclass
class _Options:
    contest_name: str | None = None
    undeclared_write_in_label: str | None = None
    candidates: tuple[Choice, ...] | None = None
    max_rankings: int | None = None
    encoding: str = "utf-8"


def _options(options: Mapping[str, Any]) -> _Options:
    _rctab.check_options(options, OPTIONS, "Clear Ballot")
    o = _Options(**{k: v for k, v in options.items() if k != "candidates"})
    o.candidates = _rctab.candidate_choices(options.get("candidates"), "Clear Ballot")
    if o.max_rankings == "max":
        o.max_rankings = None
    if o.max_rankings is not None and (not isinstance(o.max_rankings, int) or o.max_rankings < 1):
        raise ConfigError(f"Clear Ballot option max_rankings must be a positive integer, not {o.max_rankings!r}")
    o.undeclared_write_in_label = o.undeclared_write_in_label or None
    return o


def options_from_rctab_source(source: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]] = (),
                              rules: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword options of :func:`read` for one RCTab ``cvrFileSources`` entry of provider ``clearBallot``.

    ``contestId`` → ``contest_name`` (RCTab matches the contest name of the headers), ``undeclaredWriteInLabel`` →
    ``undeclared_write_in_label``, the config's ``candidates`` (names and aliases) → ``candidates``,
    ``rules.maxRankingsAllowed`` → ``max_rankings``. Empty strings mean "not set", as in RCTab.
    """
    return _rctab.source_options(source, candidates, rules, text={
        "contestId": "contest_name", "undeclaredWriteInLabel": "undeclared_write_in_label"})


def _plan(headers: Sequence[str], path: Path, o: _Options) -> tuple[dict[str, int], list[_Plan]]:
    """Fixed column positions and the contests of a header row."""
    fixed: dict[str, int] = {}
    groups: dict[str, list[tuple[int, ChoiceColumn]]] = {}
    for i, h in enumerate(headers):
        if h in FIXED_COLUMNS:
            if h in fixed:
                raise FormatError(f"column {h!r} appears twice", file=path, record=1, field=h)
            fixed[h] = i
            continue
        parsed = parse_choice_header(h)
        if parsed is None:
            raise FormatError("unknown column", file=path, record=1, field=h,
                              expected="Clear Ballot's fixed columns or Choice_<n>_<m>:<Contest>:[<rank>:]"
                                       "Vote For <k>:<Choice>:<Party>")
        groups.setdefault(parsed.contest, []).append((i, parsed))
    if "BallotID" not in fixed and not {"BoxID", "BoxPosition"} <= set(fixed):
        raise FormatError("no BallotID column (nor BoxID and BoxPosition) to identify cards", file=path, record=1,
                          expected=",".join(FIXED_COLUMNS))
    if o.contest_name is not None:
        name = o.contest_name if o.contest_name in groups else next(
            (g for g in groups if g.casefold() == o.contest_name.casefold()), None)
        if name is None:
            raise UnknownIdError(f"no contest named {o.contest_name!r}", file=path, record=1,
                                 expected="one of " + ", ".join(repr(g) for g in groups))
        groups = {name: groups[name]}
    return fixed, [_contest_plan(name, cols, path, o, ranked=o.contest_name is not None)
                   for name, cols in groups.items()]


def _contest_plan(name: str, cols: list[tuple[int, ChoiceColumn]], path: Path, o: _Options, ranked: bool) -> _Plan:
    ranks = max(c.rank for _i, c in cols)
    if o.max_rankings is not None and ranks > o.max_rankings:
        i, c = next((i, c) for i, c in cols if c.rank > o.max_rankings)
        raise FormatError(f"rank {c.rank} exceeds the {o.max_rankings} rankings allowed", file=path, record=1,
                          field=_column_field(c, i), expected=f"ranks 1 to {o.max_rankings}")
    seen: dict[tuple[int, str], int] = {}
    names: dict[str, ChoiceColumn] = {}  # choice name → its lowest-rank column (first seen on ties)
    for i, c in cols:
        if (c.rank, c.choice) in seen:
            raise FormatError(f"contest {name!r} has two columns for {c.choice!r} at rank {c.rank}", file=path,
                              record=1, field=_column_field(c, i))
        seen[(c.rank, c.choice)] = i
        if c.choice not in names or c.rank < names[c.choice].rank:
            names[c.choice] = c
    choices, bit_of = _choices(name, names, cols, path, o)
    first = cols[0][1]
    k = max(first.k, 1)
    if ranked or ranks > 1:
        contest = Contest(name, name, ContestKind.RANKED, tuple(choices), winners=k if first.winners_rule else 1,
                          ranks=ranks)
    else:
        contest = Contest(name, name, ContestKind.PLURALITY if k == 1 else ContestKind.VOTE_FOR_N, tuple(choices),
                          winners=k, votes_allowed=k)
    return _Plan(contest, [(i, c.rank - 1, bit_of[c.choice]) for i, c in cols])


def _column_field(c: ChoiceColumn, i: int) -> str:
    return f"column {i + 1} ({c.contest}: rank {c.rank}: {c.choice})"


def _choices(contest: str, names: dict[str, ChoiceColumn], cols: list[tuple[int, ChoiceColumn]], path: Path,
             o: _Options) -> tuple[list[Choice], dict[str, int]]:
    """The contest's choices (file order, or the candidate list's order) and each file name's bit."""
    uwi = o.undeclared_write_in_label

    def party(c: ChoiceColumn) -> str | None:
        return c.party or None

    if o.candidates is None:
        choices = []
        for name, c in names.items():
            if uwi is not None and name == uwi:
                choices.append(Choice(c.number, UWI_NAME, write_in=True, undeclared=True, aliases=(name,),
                                      party=party(c)))
            else:
                choices.append(Choice(c.number, name, write_in=_rctab.looks_write_in(name),
                                      undeclared=name == UWI_NAME, party=party(c)))
        return choices, {name: i for i, name in enumerate(names)}
    lookup = _rctab.candidate_lookup(o.candidates)
    found: dict[int, ChoiceColumn] = {}
    uwi_column = None
    for name, c in names.items():
        if uwi is not None and name == uwi:
            uwi_column = c
            continue
        pos = lookup.get(name, lookup.get(name.strip()))
        if pos is None:
            i = next(i for i, col in cols if col is c)
            raise UnknownIdError(f"choice {name!r} of contest {contest!r} is not in the candidate list", file=path,
                                 record=1, field=_column_field(c, i),
                                 expected="one of " + ", ".join(repr(x.name) for x in o.candidates[:8]))
        found[pos] = c
    choices = []
    for pos, cand in enumerate(o.candidates):
        c = found.get(pos)
        if c is None:  # a candidate of the list without a column: a choice no card marks (RCTab lists it with 0)
            choices.append(cand)
            continue
        aliases = tuple(dict.fromkeys((*cand.aliases, *([c.choice] if c.choice != cand.name else []))))
        choices.append(Choice(c.number, cand.name, write_in=cand.write_in or _rctab.looks_write_in(cand.name),
                              undeclared=cand.undeclared, aliases=aliases, party=party(c)))
    bit_of = {c.choice: pos for pos, c in found.items()}
    if uwi_column is not None:
        bit_of[uwi_column.choice] = len(choices)
        choices.append(Choice(uwi_column.number, UWI_NAME, write_in=True, undeclared=True, aliases=(uwi,),
                              party=party(uwi_column)))
    return choices, bit_of


# reading -------------------------------------------------------------------------------------------------------------
def sniff(path: Path) -> bool:
    """A file whose header starts ``RowNumber,BoxID,BoxPosition,BallotID`` (quoted or not)."""
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SNIFF) + 64)
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").replace(b'"', b"").startswith(_SNIFF)


def read(paths: Sequence[Path] | str | PathLike[str], **options: Any) -> Election:
    """Read Clear Ballot CVR CSV files (same columns in each) as one election.

    Options (RCTab's ``cvrFileSources`` names in brackets; :func:`options_from_rctab_source` maps a config):
    ``contest_name`` [contestId] (read only this contest, as a ranked contest, as RCTab does),
    ``undeclared_write_in_label`` [undeclaredWriteInLabel] (the choice of that name is RCTab's "Undeclared
    Write-ins"), ``candidates`` (names, ``(name, aliases)`` pairs, ``{"name", "aliases"}`` dicts or Choices; a choice
    column not in the list is an UnknownIdError, a listed candidate without a column a choice nobody marked),
    ``max_rankings`` [rules.maxRankingsAllowed] (a higher rank column is a FormatError) and ``encoding``.
    """
    o = _options(options)
    files = [Path(paths)] if isinstance(paths, (str, PathLike)) else [Path(p) for p in paths]
    if not files:
        raise FormatError("no Clear Ballot files given")
    plans: list[_Plan] | None = None
    ids: list[np.ndarray] = []
    attrs: dict[str, _csvio.TextColumn] = {}
    parts: list[list[tuple[np.ndarray, np.ndarray]]] = []
    starts: list[tuple[int, Path]] = []
    n = 0
    for path in files:
        headers = _csvio.read_head(path, 1, o.encoding)[0]
        fixed, file_plans = _plan(headers, path, o)
        if plans is None:
            plans = file_plans
            parts = [[] for _ in plans]
        elif [p.contest for p in file_plans] != [p.contest for p in plans]:
            raise FormatError("the file's contests or choices differ from the first file's", file=path, record=1,
                              expected=f"the columns of {files[0]}")
        starts.append((n, path))
        present_attrs = {a: fixed[c] for c, a in ATTRIBUTE_COLUMNS.items() if c in fixed}
        for key in present_attrs:
            if key not in attrs:  # cards of earlier files without the column have no value
                attrs[key] = _csvio.TextColumn()
                attrs[key].pad(n)
        got = _read_file(path, headers, fixed, file_plans, o, ids, parts)
        for key, col in attrs.items():
            if key in present_attrs:
                col.chunks.extend(got.attrs(present_attrs[key]))
            else:
                col.pad(got.n)
        n += got.n
    assert plans is not None
    card_id = np.concatenate(ids) if ids else np.array([], STRING)
    _csvio.check_unique(card_id, starts, [1] * len(starts), "BallotID", o.encoding)
    marks = []
    for plan, segs in zip(plans, parts):
        present = np.concatenate([p for p, _m in segs]) if segs else np.zeros(0, bool)
        masks = np.concatenate([m for _p, m in segs]) if segs else np.zeros(
            (0, plan.contest.ranks) if plan.contest.is_ranked else 0, plan.contest.mask_dtype)
        marks.append(ContestMarks(present, masks))
    # the fixed columns are always there; an attribute no card has a value for is left out
    attributes = {key: cat for key, cat in ((k, col.categorical()) for k, col in attrs.items()) if len(cat.labels)}
    meta = {"format": NAME, "files": "\n".join(str(f) for f in files)}
    return Election(files[0].stem, tuple(p.contest for p in plans), Cards(card_id, attributes, marks), meta)


class _FileRead:
    """Cards read from one file, and its attribute columns (Arrow string chunks by column position)."""

    def __init__(self) -> None:
        self.n = 0
        self.columns: dict[int, list[pa.Array]] = {}

    def attrs(self, col: int) -> list[pa.Array]:
        return self.columns.get(col, [])


def _read_file(path: Path, headers: Sequence[str], fixed: Mapping[str, int], plans: Sequence[_Plan], o: _Options,
               ids: list[np.ndarray], parts: list[list[tuple[np.ndarray, np.ndarray]]]) -> _FileRead:
    types = {i: pa.int8() for plan in plans for i, _r, _b in plan.columns}
    attr_cols = [fixed[c] for c in ATTRIBUTE_COLUMNS if c in fixed]
    id_cols = [fixed[c] for c in ("BallotID", "BoxID", "BoxPosition") if c in fixed]
    out = _FileRead()
    out.columns = {c: [] for c in attr_cols}
    for ordinal, batch in _csvio.batches(path, headers, types, 1, include=sorted({*types, *attr_cols, *id_cols}),
                                         encoding=o.encoding, expected=lambda _c: "0 or 1"):
        ids.append(_card_ids(batch, fixed, path, ordinal, o))
        for c in attr_cols:
            out.columns[c].append(batch.column(f"c{c}"))
        for plan, segs in zip(plans, parts):
            segs.append(_marks(batch, plan, path, headers, ordinal, o))
        out.n += batch.num_rows
    return out


def _card_ids(batch: pa.RecordBatch, fixed: Mapping[str, int], path: Path, ordinal: int, o: _Options) -> np.ndarray:
    """BallotID, or ``BoxID-BoxPosition`` where it is empty."""
    def col(name: str) -> np.ndarray:
        return _csvio.texts(batch.column(f"c{fixed[name]}")) if name in fixed else np.full(batch.num_rows, "", STRING)

    ids = col("BallotID")
    blank = ids == ""
    if blank.any():
        box, pos = col("BoxID"), col("BoxPosition")
        ids = np.where(blank, np.strings.add(np.strings.add(box, "-"), pos), ids)
        missing = np.flatnonzero(blank & ((box == "") | (pos == "")))
        if len(missing):
            raise FormatError("no card id: BallotID is empty and so is BoxID or BoxPosition", file=path,
                              record=_csvio.row_number(path, 1, ordinal + int(missing[0]), o.encoding),
                              field="BallotID", expected="a BallotID, or a BoxID and BoxPosition")
    return ids


def _marks(batch: pa.RecordBatch, plan: _Plan, path: Path, headers: Sequence[str], ordinal: int,
           o: _Options) -> tuple[np.ndarray, np.ndarray]:
    """(present, masks) of one contest on a batch of rows: whole int8 columns shifted into place and or-ed."""
    c = plan.contest
    m = batch.num_rows
    dtype = c.mask_dtype
    masks = np.zeros((m, c.ranks or 1), dtype)
    any_cell = np.zeros(m, bool)
    all_cells = np.ones(m, bool)
    for col, r, bit in plan.columns:
        arr = batch.column(f"c{col}")
        values = _csvio.int_values(arr, 0)
        if arr.null_count:
            filled = arr.is_valid().to_numpy(zero_copy_only=False)
            any_cell |= filled
            all_cells &= filled
        else:
            any_cell[:] = True
        bad = np.flatnonzero(values.view(np.uint8) > 1)
        if len(bad):
            raise FormatError(f"cell {int(values[bad[0]])} is not 0 or 1", file=path,
                              record=_csvio.row_number(path, 1, ordinal + int(bad[0]), o.encoding),
                              field=headers[col], expected="0 or 1 (or empty when the contest is not on the card)")
        masks[:, r] |= values.astype(dtype) << dtype.type(bit)
    mixed = np.flatnonzero(any_cell & ~all_cells)
    if len(mixed):
        i = int(mixed[0])
        empty = next(col for col, _r, _b in plan.columns if not batch.column(f"c{col}").is_valid()[i].as_py())
        raise FormatError(f"contest {c.name!r} has empty and 0/1 cells on one card", file=path,
                          record=_csvio.row_number(path, 1, ordinal + i, o.encoding), field=headers[empty],
                          expected="all cells of a contest empty (not on the card) or all 0/1")
    return any_cell, (masks if c.is_ranked else masks[:, 0])


# writing -------------------------------------------------------------------------------------------------------------
def _text(cat: Categorical) -> pa.Array:
    indices = pa.array(cat.codes, mask=cat.codes < 0, type=pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(cat.labels, type=pa.string())).dictionary_decode()


def _box_positions(batch: Categorical) -> np.ndarray:
    """1-based position of each card within its batch (BoxID), in card order; cards without a batch form one."""
    codes = batch.codes
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    positions = np.empty(len(codes), np.int64)
    positions[order] = np.arange(len(codes)) - group_start + 1
    return positions


def _choice_numbers(contest: Contest, counter: list[int]) -> list[str]:
    """``<n>`` of each choice's columns: its id when all ids of the contest are distinct numbers, else a counter."""
    ids = [c.id for c in contest.choices]
    if all(i.isdigit() for i in ids) and len(set(ids)) == len(ids):
        return ids
    out = [str(counter[0] + k) for k in range(len(ids))]
    counter[0] += len(ids)
    return out


def write(election: Election, out: Path) -> list[Path]:
    """Write a Clear Ballot CVR CSV (atomically): the ten fixed columns, then 0/1 choice columns.

    ``BallotID`` = card id, ``BoxID`` = batch, ``BoxPosition`` = position in the batch, ``PrecinctID`` = precinct,
    ``BallotStyleID`` = style, ``PrecinctStyleName`` = precinct portion, ``ScanComputerName`` = tabulator,
    ``Status`` and ``Remade`` 0. Headers carry the rank field (``Choice_<n>_1:<Contest>:<rank>:…``) when any
    contest is ranked (RCTab needs it on every column), else the plain layout. Ranked contests say ``Number of
    Winners <w>``, others ``Vote For <votes allowed>``; cells are empty where the contest is not on the card. An
    overvote the source only labelled (choices unknown) cannot be written: ConfigError.
    """
    cards = election.cards
    n = len(cards)
    names = [c.name for c in election.contests]
    if len(set(names)) != len(names):
        raise ConfigError("a Clear Ballot file needs distinct contest names")
    ranked_layout = any(c.is_ranked for c in election.contests)
    batch = cards.attribute("batch")
    columns: list[pa.Array] = [
        pa.array(np.arange(1, n + 1)), _text(batch), pa.array(_box_positions(batch)),
        pa.array(cards.card_id, type=pa.string()), _text(cards.attribute("precinct")),
        _text(cards.attribute("style")), _text(cards.attribute("precinct_portion")),
        _text(cards.attribute("tabulator")), pa.array(np.zeros(n, np.int8)), pa.array(np.zeros(n, np.int8)),
    ]
    headers = list(FIXED_COLUMNS)
    counter = [1]
    for contest, marks in zip(election.contests, cards.marks):
        flagged = (marks.masks & marks.masks.dtype.type(contest.overvote_flag)) != 0
        labelled = np.flatnonzero((flagged.any(axis=1) if contest.is_ranked else flagged) & marks.present)
        if len(labelled):
            raise ConfigError(f"contest {contest.name!r}: card {cards.card_id[labelled[0]]!s} has an overvote whose "
                              "choices are unknown; Clear Ballot columns can only say which choices are marked")
        rule = f"Number of Winners {contest.winners}" if contest.is_ranked else f"Vote For {contest.votes_allowed}"
        numbers = _choice_numbers(contest, counter)
        absent = ~marks.present
        for r in range(contest.ranks or 1):
            level = marks.masks[:, r] if contest.is_ranked else marks.masks
            for b, (choice, number) in enumerate(zip(contest.choices, numbers)):
                rank = f"{r + 1}:" if ranked_layout else ""
                header = f"Choice_{number}_1:{contest.name}:{rank}{rule}:{choice.name}:{choice.party or ''}"
                back = parse_choice_header(header)
                if back is None or (back.contest, back.rank, back.choice, back.party) != (
                        contest.name, r + 1, choice.name, choice.party or ""):
                    raise ConfigError(f"contest {contest.name!r}, choice {choice.name!r} (party {choice.party!r}) "
                                      "cannot be written as a Clear Ballot header that reads back the same")
                headers.append(header)
                columns.append(pa.array(((level >> level.dtype.type(b)) & 1).astype(np.int8), mask=absent))
    if len(set(headers)) != len(headers):
        raise ConfigError("two choices of one contest have the same name; Clear Ballot headers would repeat")
    table = pa.Table.from_arrays(columns, names=headers)
    with atomic_path(out) as tmp:
        pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return [out]
