"""Reading a published-results CSV as Arrow string columns, and its count columns as int64, with exact messages.

Used by the OpenElections, MEDSL and polling-station protocol readers (:mod:`veritally.formats.openelections`,
:mod:`~veritally.formats.medsl`, :mod:`~veritally.formats.protocol`). A file may be a plain CSV or a ``.zip``
holding one CSV, read in place (never unpacked to disk). The data are parsed by ``pyarrow.csv`` in C with every
column as text; counts are then converted column-wise (``pc.cast``), so no Python runs per cell. Only when
something is wrong is the file scanned again with the :mod:`csv` module, to name the exact line and field: the slow
path is taken only to write a precise message.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import FormatError, InputError

__all__ = ["CsvTable", "read_csv_table", "peek_header", "parse_counts", "csv_member"]

_WHOLE = r"^[0-9]+(\.0*)?$"  # "12" or "12.0": MEDSL's Texas file writes counts as floats
_SIGNED_WHOLE = r"^-?[0-9]+(\.0*)?$"
_CSV_SUFFIXES = (".csv", ".txt", ".tsv")


def csv_member(path: Path, archive: zipfile.ZipFile) -> str:
    """The one CSV inside ``archive`` (a FormatError naming them when there are none or several)."""
    names = [n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
    csvs = [n for n in names if n.lower().endswith(_CSV_SUFFIXES)] or names
    if len(csvs) != 1:
        raise FormatError(f"the zip holds {len(csvs)} data files ({', '.join(csvs[:5]) or 'none'})", file=path,
                          expected="a zip holding exactly one CSV file")
    return csvs[0]


def _raw_bytes(path: Path, limit: int | None = None) -> tuple[bytes, str]:
    """The CSV's bytes (the first ``limit`` bytes only, when given) and the label messages use for it."""
    if not path.exists():
        raise InputError("no such file", file=path)
    if not path.is_file():
        raise InputError("not a file", file=path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                member = csv_member(path, archive)
                with archive.open(member) as fh:
                    return (fh.read() if limit is None else fh.read(limit)), f"{path}:{member}"
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
            raise FormatError(f"unreadable zip ({exc})", file=path, expected="a zip holding one CSV") from None
    with open(path, "rb") as fh:
        return (fh.read() if limit is None else fh.read(limit)), str(path)


def peek_header(path: Path, encoding: str = "utf-8", delimiter: str = ",") -> list[str]:
    """The header row of a CSV (or of the CSV in a zip), read from its first 64 KiB; [] when it cannot be read.

    For format detection only: it never raises on a malformed file (the reader will, with a proper message).
    """
    try:
        head, _ = _raw_bytes(Path(path), 1 << 16)
    except InputError:
        return []
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    try:
        return next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error:
        return []


@dataclass
class CsvTable:
    """A CSV read whole: its header and its data rows as Arrow string columns ``c0``, ``c1``…"""

    path: Path  #: the file given (a CSV or a zip)
    label: str  #: how messages name it (``archive.zip:member.csv`` for a zip)
    header: list[str]  #: the header cells as written (byte-order mark removed)
    table: pa.Table  #: one string column per header cell, empty cells as ""
    data: bytes = field(repr=False)  #: the UTF-8 text, kept to locate a row for a message
    header_lines: int = 1  #: physical lines the header takes
    delimiter: str = ","
    blank_lines: int = 0  #: blank lines before the header (dropped from ``data``)
    _lines: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    def column(self, i: int) -> pa.ChunkedArray:
        return self.table.column(i)

    def line(self, ordinal: int) -> int:
        """The file's line number (1 = the header's first line) of data row ``ordinal`` (0-based)."""
        return int(self.lines()[ordinal])

    def lines(self) -> np.ndarray:
        """Line numbers of every data row. Direct arithmetic when each row is one line (the usual case, checked by
        counting newlines); otherwise one scan with the csv module, which knows quoted newlines and blank lines."""
        if self._lines is None:
            newlines = self.data.count(b"\n") + (0 if self.data.endswith(b"\n") else 1)
            if newlines == self.header_lines + self.n_rows:
                first = self.header_lines + 1 + self.blank_lines
                self._lines = np.arange(first, first + self.n_rows, dtype=np.int64)
            else:
                reader = csv.reader(io.StringIO(self.data.decode("utf-8")), delimiter=self.delimiter)
                found: list[int] = []
                start = 0
                for row in reader:
                    if reader.line_num > self.header_lines and row:  # Arrow skips empty lines too
                        found.append(start + 1 + self.blank_lines)
                    start = reader.line_num
                self._lines = np.array(found[: self.n_rows], dtype=np.int64)
        return self._lines


def _is_utf8(encoding: str) -> bool:
    return encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")


def _not_text(raw: bytes, encoding: str, label: str, what: str) -> FormatError | None:
    """The FormatError for bytes that are not text in ``encoding`` (with the line of the first bad byte)."""
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return FormatError(f"not {encoding} text ({exc.reason} at byte {exc.start})", file=label, record=line,
                           expected=f"{what} in {encoding}")
    except LookupError:
        return FormatError(f"unknown text encoding {encoding!r}", file=label, field="encoding")
    return None


def _header(data: bytes, delimiter: str, label: str, skipped: int) -> tuple[list[str], int]:
    """The header record and the lines it takes, parsed from as few leading bytes as hold it."""
    size = 1 << 16
    while True:
        head = data[:size].decode("utf-8", errors="ignore")  # a cut may split the last character only
        reader = csv.reader(io.StringIO(head), delimiter=delimiter)
        try:
            header = next(reader)
        except csv.Error as exc:
            if size < len(data):
                size *= 4
                continue
            raise FormatError(f"malformed CSV header: {exc}", file=label, record=1 + skipped) from None
        if size >= len(data) or reader.line_num < head.count("\n"):
            return header, reader.line_num
        size *= 4  # the header may run past the bytes read: read more


def read_csv_table(path: str | Path, *, encoding: str = "utf-8", delimiter: str = ",",
                   what: str = "a results CSV") -> CsvTable:
    """Read a CSV, or the one CSV inside a ``.zip``, with every column as text.

    Raises a :class:`FormatError` naming the file (and line) for an empty file, a file that is not text in
    ``encoding``, a header without data rows, or a row with another number of fields than the header. UTF-8 is
    checked by Arrow as it converts (the bytes are never decoded into one Python string), other encodings are
    decoded and handed to Arrow as UTF-8.
    """
    p = Path(path)
    raw, label = _raw_bytes(p)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if _is_utf8(encoding):
        data = raw
    else:
        problem = _not_text(raw, encoding, label, what)
        if problem is not None:
            raise problem
        data = raw.decode(encoding).encode()
    del raw
    if not data or data.isspace():
        raise FormatError("empty file", file=label, expected=f"{what} with a header row")
    blank = len(data) - len(data.lstrip(b"\r\n"))
    skipped = data.count(b"\n", 0, blank)
    if blank:  # blank lines before the header: dropped, and counted back into line numbers
        data = data[blank:]
    header, header_lines = _header(data, delimiter, label, skipped)
    names = [f"c{i}" for i in range(len(header))]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(skip_rows=header_lines, column_names=names, use_threads=False,
                                           block_size=1 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        problem = _not_text(data, "utf-8", label, what)
        if problem is not None:
            if skipped and problem.record is not None:
                problem.record = int(problem.record) + skipped
                problem.args = (str(problem),)
            raise problem from None
        raise _locate_structure_error(data.decode("utf-8"), label, header, delimiter, exc, skipped) from None
    if table.num_rows == 0:
        raise FormatError("no data rows after the header", file=label, record=header_lines + skipped,
                          expected=f"{what} with at least one data row")
    return CsvTable(p, label, header, table, data, header_lines, delimiter, skipped)


def _locate_structure_error(text: str, label: str, header: list[str], delimiter: str, exc: Exception,
                            skipped: int) -> FormatError:
    """Arrow's parse errors name no line: find the first row whose field count differs from the header's."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            if reader.line_num == 1 or not row:
                continue
            if len(row) != len(header):
                hint = " (an unquoted comma in a name or a number?)" if len(row) > len(header) else ""
                return FormatError(f"row has {len(row)} fields, the header {len(header)}{hint}", file=label,
                                   record=reader.line_num + skipped, expected=f"{len(header)} fields as in the header")
    except csv.Error as err:
        return FormatError(f"malformed CSV: {err}", file=label, record=reader.line_num + skipped)
    return FormatError(f"malformed CSV: {exc}", file=label)


def parse_counts(tab: CsvTable, column: int, *, name: str | None = None, allow_negative: np.ndarray | None = None,
                 skip: np.ndarray | None = None, what: str = "votes") -> np.ndarray:
    """Column ``column`` as int64 counts: whole, non-negative numbers ("12" or "12.0"; surrounding blanks allowed).

    ``allow_negative`` (bool per row) lets some rows be negative (OpenElections' under-vote rows); ``skip`` (bool per
    row) marks rows not to convert (their value is 0). Anything else — an empty cell, text, a fraction, a negative
    count — is a :class:`FormatError` naming the file, the line and the field. The fast path is one ``pc.cast``.
    """
    col = tab.column(column)
    field_name = name if name is not None else tab.header[column].strip()
    if skip is None and allow_negative is None:
        try:
            out = pc.cast(col, pa.int64()).to_numpy()
            if len(out) and out.min() < 0:
                _raise_bad(tab, column, field_name, int(np.argmax(out < 0)), what)
            return out
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # blanks, "12.0" or bad cells: the careful path below
    text = pc.utf8_trim_whitespace(col)
    ok = pc.match_substring_regex(text, _WHOLE)
    if allow_negative is not None:
        ok = pc.or_(ok, pc.and_(pa.array(allow_negative), pc.match_substring_regex(text, _SIGNED_WHOLE)))
    if skip is not None:
        ok = pc.or_(ok, pa.array(skip))
    ok_np = ok.to_numpy(zero_copy_only=False) if isinstance(ok, pa.Array) else ok.combine_chunks().to_numpy(
        zero_copy_only=False)
    if not ok_np.all():
        _raise_bad(tab, column, field_name, int(np.argmin(ok_np)), what)
    cleaned = pc.replace_substring_regex(text, r"\.0*$", "")
    if skip is not None:
        cleaned = pc.if_else(pa.array(skip), "0", cleaned)
    try:
        return pc.cast(cleaned, pa.int64()).to_numpy()
    except pa.ArrowInvalid:
        values = cleaned.to_numpy(zero_copy_only=False)
        big = next(i for i, v in enumerate(values) if len(v.lstrip("-")) >= 19)
        raise FormatError(f"{what} {values[big]!r} is too large", file=tab.label, record=tab.line(big),
                          field=field_name, expected="a count below 9,223,372,036,854,775,807") from None


def _raise_bad(tab: CsvTable, column: int, field_name: str, ordinal: int, what: str) -> None:
    value = tab.column(column)[ordinal].as_py().strip()
    if value == "":
        problem = f"empty {what}"
    elif value.startswith("-") and value[1:].replace(".", "", 1).isdigit():
        problem = f"{what} {value!r} is negative"
    else:
        problem = f"{what} {value!r} is not a whole number"
    raise FormatError(problem, file=tab.label, record=tab.line(ordinal), field=field_name,
                      expected="a non-negative whole number without separators")


def strings(tab: CsvTable, column: int, strip: bool = True) -> pa.Array:
    """Column ``column`` as one Arrow string array (whitespace trimmed unless ``strip`` is false)."""
    col = tab.column(column).combine_chunks()
    return pc.utf8_trim_whitespace(col) if strip else col


def header_index(header: Sequence[str]) -> dict[str, int]:
    """Lower-cased, trimmed header name → first position."""
    out: dict[str, int] = {}
    for i, h in enumerate(header):
        out.setdefault(h.strip().lower(), i)
    return out
