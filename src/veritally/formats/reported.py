"""Officially reported results: what the election office published, read into one small table.

Two formats are read (docs/compare.md):

* a CSV with columns ``contest``, ``choice``, ``votes`` and optionally ``precinct`` or ``batch`` (header names
  case-insensitive, other columns ignored);
* NIST SP 1500-100 v2 Election Results Reporting JSON (:mod:`veritally.formats.nist_err`).

Either becomes a :class:`Reported`: columnar rows of (contest, choice, unit, votes), where ``unit`` is a precinct or
batch name, or ``None`` for a contest-wide total. :func:`read_reported` detects the format from the suffix or the
first byte. Bad input raises an :class:`~veritally.errors.InputError` naming the file, the row and the field; a
reported file is small, but a wrong figure in it is exactly what a comparison must not paper over, so nothing is
guessed (no thousands separators, no blank cells, no duplicate rows).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from .._io import atomic_write
from ..errors import FormatError, InputError

__all__ = ["Reported", "read_reported", "read_reported_csv", "write_reported_csv", "write_nist_err_json", "UNIT_KINDS"]

#: Kinds of reporting unit a reported file may break its figures down by (the matching ``tabulate --by`` value).
UNIT_KINDS = ("precinct", "batch")

_REQUIRED = ("contest", "choice", "votes")
_INTEGER = re.compile(r"\s*[0-9]+\s*")
_EXPECTED_COLUMNS = "columns contest, choice, votes and optionally precinct or batch"


@dataclass
class Reported:
    """Reported results as rows: ``contest[i]``, ``choice[i]``, ``unit[i]`` (None = contest total), ``votes[i]``.

    ``unit_kind`` says what the units are (``"precinct"`` or ``"batch"``; None when every row is a total).
    A contest may have unit rows, total rows, or both (NIST reports usually give both); :meth:`totals` prefers the
    total rows and otherwise sums the units.
    """

    contest: list[str]
    choice: list[str]
    unit: list[str | None]
    votes: np.ndarray  #: int64, one per row
    unit_kind: str | None = None
    source: str | None = None  #: the file read, for messages
    number_elected: dict[str, int] = field(default_factory=dict)  #: seats per contest, when the file says
    notes: list[str] = field(default_factory=list)  #: what the reader left out, and why

    def __post_init__(self) -> None:
        self.votes = np.asarray(self.votes, dtype=np.int64)
        if not (len(self.contest) == len(self.choice) == len(self.unit) == len(self.votes)):
            raise ValueError("Reported columns differ in length")
        if self.unit_kind is not None and self.unit_kind not in UNIT_KINDS:
            raise ValueError(f"unit_kind must be one of {UNIT_KINDS} or None, not {self.unit_kind!r}")

    def __len__(self) -> int:
        return len(self.contest)

    def rows(self) -> Iterator[tuple[str, str, str | None, int]]:
        """(contest, choice, unit, votes) per row, in file order."""
        return zip(self.contest, self.choice, self.unit, self.votes.tolist())

    @property
    def contests(self) -> list[str]:
        """Contest names in the order they first appear."""
        return list(dict.fromkeys(self.contest))

    def units(self, contest: str | None = None) -> list[str]:
        """Unit names (of one contest, or of all) in the order they first appear."""
        return list(dict.fromkeys(u for c, u in zip(self.contest, self.unit)
                                  if u is not None and (contest is None or c == contest)))

    def totals(self) -> dict[str, dict[str, int]]:
        """contest → choice → votes: the contest's total rows when it has any, else the sum of its unit rows."""
        explicit: dict[str, dict[str, int]] = {}
        summed: dict[str, dict[str, int]] = {}
        for c, ch, u, v in self.rows():
            target = (summed if u is not None else explicit).setdefault(c, {})
            target[ch] = target.get(ch, 0) + v
        return {c: explicit[c] if c in explicit else summed.get(c, {}) for c in self.contests}

    def by_unit(self) -> dict[str, dict[str, dict[str, int]]]:
        """contest → unit → choice → votes, from the unit rows only (contests without units are absent)."""
        out: dict[str, dict[str, dict[str, int]]] = {}
        for c, ch, u, v in self.rows():
            if u is not None:
                out.setdefault(c, {}).setdefault(u, {})[ch] = v
        return out

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, str | None, int] | Mapping], unit_kind: str | None = None,
                  *, source: str | None = None) -> Reported:
        """Rows of (contest, choice, unit, votes) — or mappings with those keys — checked like a file's rows."""
        contest, choice, unit, votes = [], [], [], []
        seen: dict[tuple, int] = {}
        for i, row in enumerate(rows, start=1):
            if isinstance(row, Mapping):
                row = (row["contest"], row["choice"], row.get("unit"), row["votes"])
            c, ch, u, v = row
            key = (c, ch, u)
            if key in seen:
                raise FormatError(f"duplicate row for contest {c!r}, choice {ch!r}" + (f", unit {u!r}" if u else "")
                                  + f" (first at row {seen[key]})", file=source, record=i, field="choice")
            if int(v) != v or v < 0:
                raise FormatError(f"votes must be a non-negative integer, not {v!r}", file=source, record=i,
                                  field="votes")
            seen[key] = i
            contest.append(str(c)), choice.append(str(ch)), unit.append(None if u is None else str(u))
            votes.append(int(v))
        if unit_kind is None and any(u is not None for u in unit):
            raise ValueError("rows name units: give unit_kind ('precinct' or 'batch')")
        return cls(contest, choice, unit, np.array(votes, np.int64), unit_kind, source)

    @classmethod
    def from_count(cls, count) -> Reported:
        """The figures of a count (:class:`~veritally.tabulate.ElectionCount`), as a report would state them.

        Counted per precinct or batch, the rows are per unit (cards without the attribute are left out, as a
        report would have no unit for them); otherwise they are contest totals. Used by tests and ``synth``.
        """
        from ..tabulate.plurality import choice_totals

        kind = count.grouping if count.grouping in UNIT_KINDS else None
        rows = []
        for cc in count.contests:
            if kind is None:
                rows += [(cc.contest.name, n, None, v) for n, v in choice_totals(cc.contest, cc.total.tallies[0]).items()]
            else:
                for label, t in cc.by.items():
                    if label != "(none)":
                        rows += [(cc.contest.name, n, label, v) for n, v in choice_totals(cc.contest, t.tallies[0]).items()]
        return cls.from_rows(rows, kind)


# reading ----------------------------------------------------------------------------------------------------------

def read_reported(path: str | PathLike[str]) -> Reported:
    """Read reported results: NIST SP 1500-100 JSON (``.json`` or a file starting with ``{``) or the CSV."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file" if not p.exists() else "not a file", file=p)
    if _is_json(p):
        from .nist_err import read_nist_err

        return read_nist_err(p)
    return read_reported_csv(p)


def _is_json(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return True
    if suffix in (".csv", ".tsv", ".txt"):
        return False
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] == b"{"


def read_reported_csv(path: str | PathLike[str]) -> Reported:
    """Read the reported-results CSV (tab-separated when the suffix is ``.tsv``); see docs/compare.md."""
    p = Path(path)
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            return _parse_csv(csv.reader(fh, delimiter=delimiter, strict=True), p)
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=p,
                          expected="a UTF-8 CSV file") from None
    except csv.Error as exc:
        raise FormatError(f"malformed CSV: {exc}", file=p) from None


def _parse_csv(reader: Iterator[list[str]], path: Path) -> Reported:
    header = None
    for header in reader:
        if any(cell.strip() for cell in header):
            break
    else:
        raise FormatError("empty file", file=path, expected=_EXPECTED_COLUMNS)
    line = reader.line_num  # type: ignore[attr-defined]
    names = [h.strip().casefold() for h in header]
    col: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in col and n in (*_REQUIRED, *UNIT_KINDS):
            raise FormatError(f"column {n!r} appears twice", file=path, record=line, field=n)
        col.setdefault(n, i)
    for n in _REQUIRED:
        if n not in col:
            raise FormatError(f"missing column {n!r} (header: {', '.join(h.strip() for h in header)})", file=path,
                              record=line, field=n, expected=_EXPECTED_COLUMNS)
    kinds = [k for k in UNIT_KINDS if k in col]
    if len(kinds) > 1:
        raise FormatError("both 'precinct' and 'batch' columns; give one kind of unit per file", file=path,
                          record=line, field="batch", expected=_EXPECTED_COLUMNS)
    unit_kind = kinds[0] if kinds else None
    ic, ich, iv = col["contest"], col["choice"], col["votes"]
    iu = col[unit_kind] if unit_kind else None
    width = max(ic, ich, iv, -1 if iu is None else iu) + 1
    contest: list[str] = []
    choice: list[str] = []
    unit: list[str | None] = []
    votes: list[int] = []
    seen: dict[tuple[str, str, str | None], int] = {}
    for row in reader:
        line = reader.line_num  # type: ignore[attr-defined]
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) < width:
            raise FormatError(f"row has {len(row)} fields, the header {len(header)}", file=path, record=line,
                              field=names[len(row)] if len(row) < len(names) else None)
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            # most often an unquoted thousands separator ("1,234"): reading "1" would be silently wrong
            raise FormatError(f"row has {len(row)} fields, the header {len(header)} (unquoted comma?)", file=path,
                              record=line, field=None)
        c, ch = row[ic].strip(), row[ich].strip()
        u = row[iu].strip() if iu is not None else None
        for value, name in ((c, "contest"), (ch, "choice"), (u, unit_kind)):
            if value == "":
                raise FormatError(f"empty {name}", file=path, record=line, field=name)
        text = row[iv]
        if not _INTEGER.fullmatch(text):
            what = "negative" if text.strip().startswith("-") else "not a whole number"
            raise FormatError(f"votes {text.strip()!r} is {what}", file=path, record=line, field="votes",
                              expected="a non-negative whole number without separators")
        key = (c, ch, u)
        first = seen.get(key)
        if first is not None:
            raise FormatError(f"duplicate row for contest {c!r}, choice {ch!r}"
                              + (f", {unit_kind} {u!r}" if u is not None else "") + f" (first at line {first})",
                              file=path, record=line, field="choice",
                              expected=f"one row per contest, choice{' and ' + unit_kind if unit_kind else ''}")
        seen[key] = line
        contest.append(c)
        choice.append(ch)
        unit.append(u)
        votes.append(int(text))
    if not contest:
        raise FormatError("no result rows after the header", file=path, expected="rows of " + _EXPECTED_COLUMNS)
    return Reported(contest, choice, unit, np.array(votes, np.int64), unit_kind, str(path))


# writing ----------------------------------------------------------------------------------------------------------

def _as_reported(results, unit_kind: str | None) -> Reported:
    if isinstance(results, Reported):
        return results
    if hasattr(results, "contests") and hasattr(results, "grouping"):  # an ElectionCount
        return Reported.from_count(results)
    return Reported.from_rows(results, unit_kind)


def write_reported_csv(results, path: str | PathLike[str], unit_kind: str | None = None) -> Path:
    """Write reported results as the CSV :func:`read_reported_csv` reads (atomically); returns the path.

    ``results`` is a :class:`Reported`, an :class:`~veritally.tabulate.ElectionCount`, or rows of (contest,
    choice, unit, votes) with ``unit_kind`` naming the units. A report with both unit and total rows is written
    with its unit rows only (the totals are their sums).
    """
    rep = _as_reported(results, unit_kind)
    kind = rep.unit_kind
    has_units = kind is not None and any(u is not None for u in rep.unit)
    with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["contest", "choice", kind, "votes"] if has_units else ["contest", "choice", "votes"])
        for c, ch, u, v in rep.rows():
            if has_units and u is not None:
                w.writerow([c, ch, u, v])
            elif not has_units:
                w.writerow([c, ch, v])
    return Path(path)


def write_nist_err_json(results, path: str | PathLike[str], unit_kind: str | None = None, **options) -> Path:
    """Write reported results as NIST SP 1500-100 v2 JSON; see :func:`veritally.formats.nist_err.write_nist_err`."""
    from .nist_err import write_nist_err

    return write_nist_err(_as_reported(results, unit_kind), path, **options)
