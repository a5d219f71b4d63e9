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

Reading is column-wise (:mod:`veritally.formats._ess_read`): xlsx through python-calamine, CSV through
``pyarrow.csv``; each distinct cell text of a contest is resolved once and marks come from NumPy table look-ups.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from ..errors import ConfigError, FormatError
from ..model import Choice, Contest, ContestKind, Election
from . import _rctab
from ._ess_read import SHEET_SUFFIXES, UWI_NAME, Acc, Options, build, classify, read_file

__all__ = ["NAME", "DESCRIPTION", "UWI_NAME", "sniff", "read", "write", "options_from_rctab_source"]

NAME = "ess"
DESCRIPTION = "ES&S Cast Vote Record export (.xlsx or .csv), single- or multi-contest"

_CHUNK = 1 << 15
_SNIFF = re.compile(r"Cast Vote Record|\bChoice\s+\d+\b|\b\d+(?:st|nd|rd|th)\s+choice\b", re.I)
#: Writer: attribute → header, in column order (precinct and style are always written, like ES&S).
_WRITE_ATTRS = {"precinct": "Precinct", "style": "Ballot Style", "tabulator": "Tabulator", "batch": "Batch",
                "precinct_portion": "Precinct Portion", "counting_group": "Counting Group"}


# options --------------------------------------------------------------------------------------------------------------
def _options(options: Mapping[str, Any]) -> Options:
    known = set(Options.__dataclass_fields__)
    unknown = set(options) - known
    if unknown:
        raise ConfigError(f"unknown ES&S option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    o = Options(**{k: v for k, v in options.items() if k != "undeclared_write_in_label" and k != "candidates"})
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
    if options.get("candidates") is not None:
        o.candidates = _rctab.candidate_choices(options["candidates"], "ES&S")
    return o


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
    opts = _rctab.source_options(source, candidates, rules, numbers={
        "firstVoteColumnIndex": "first_vote_column", "firstVoteRowIndex": "first_vote_row",
        "idColumnIndex": "id_column", "precinctColumnIndex": "precinct_column", "batchColumnIndex": "batch_column"})
    # an empty label disables that token (None), unlike an absent option, which keeps the reader's default
    opts["overvote_delimiter"] = source.get("overvoteDelimiter") or None
    opts["overvote_label"] = source.get("overvoteLabel") or None
    opts["skipped_rank_label"] = source.get("skippedRankLabel") or source.get("undervoteLabel") or None
    opts["undeclared_write_in_label"] = source.get("undeclaredWriteInLabel") or None
    opts["treat_blank_as_undeclared_write_in"] = bool(source.get("treatBlankAsUndeclaredWriteIn")
                                                      or rules.get("treatBlankAsUndeclaredWriteIn"))
    opts["rctab_empty_rows"] = True  # RCTab counts an empty <row> element as a ballot ranking no one
    return opts



# reading --------------------------------------------------------------------------------------------------------------
def _expand_paths(paths: Sequence[Path]) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():  # a folder of exports (NYC publishes one workbook per part)
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in SHEET_SUFFIXES | {".csv"})
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
    acc = Acc(opts, files[0].stem, len(files) > 1)
    for path in files:
        read_file(path, acc)
    return build(acc, {"format": NAME})


# sniffing -------------------------------------------------------------------------------------------------------------
def _looks_ess(headers: Sequence[str]) -> bool:
    kinds = [classify(h) for h in headers]
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


# writing --------------------------------------------------------------------------------------------------------------
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
        if "\n" in c.name or "\r" in c.name or not _is_write_in_line(c) and (not c.name.strip() or "|" in c.name
                                 or c.name.strip() in ("overvote", "undervote", "UWI", "Write-in")):
            raise ConfigError(f"choice {c.name!r} of contest {contest.name!r} cannot be written as an ES&S cell")
    name = " ".join(contest.name.split())
    if contest.is_ranked:
        back = classify(f"{name} Choice 1 ({contest.id})")
        if back != ("rank", (name or None, 1, contest.id)):
            raise ConfigError(f"ranked contest {contest.name!r} (id {contest.id!r}) cannot be written as ES&S headers")
    elif classify(name) != ("vote", name):
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
