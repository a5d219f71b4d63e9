"""CSV machinery shared by the Clear Ballot and Veritally CSV readers (:mod:`.clearballot`, :mod:`.generic_csv`).

The header rows are read with the :mod:`csv` module (a few lines); the data with ``pyarrow.csv`` in blocks, typed
in C (mark columns as small integers, text columns as strings). Arrow's errors name neither the row nor the header,
so on an error the file is scanned again with the :mod:`csv` module to find the first offending row and cell: the
slow path is only ever taken to write a precise message.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DuplicateCardError, FormatError
from ..model import STRING, Categorical, unique_card_check

_BLOCK = 1 << 22  # 4 MiB of text per Arrow block: ~10k-70k rows, a few MiB of columns at a time
_ARROW_COLUMN = re.compile(r"In CSV column #(\d+)")


def read_head(path: Path, rows: int, encoding: str = "utf-8") -> list[list[str]]:
    """The first ``rows`` CSV records (fewer if the file is shorter); FormatError for an empty or undecodable file."""
    try:
        with open(path, newline="", encoding=encoding) as fh:
            head = list(islice(csv.reader(fh, strict=True), rows))
    except (UnicodeDecodeError, csv.Error, LookupError) as exc:
        raise FormatError(f"unreadable CSV ({exc})", file=path, record=1,
                          expected=f"a {encoding} CSV file, or give encoding=") from None
    except OSError as exc:
        raise FormatError(f"cannot read the file: {exc}", file=path) from None
    if not head:
        raise FormatError("empty file", file=path, expected="a header row")
    if head[0] and head[0][0].startswith("\ufeff"):  # byte-order mark written by Excel
        head[0][0] = head[0][0][1:]
    return head


class Unconvertible(Exception):
    """A cell Arrow could not convert to its column's type (raised by :func:`batches` with ``locate=False``)."""


def batches(path: Path, headers: Sequence[str], types: Mapping[int, pa.DataType], skip_rows: int, *,
            include: Sequence[int] | None = None, encoding: str = "utf-8",
            expected: Callable[[int], str] = lambda _c: "a number", locate: bool = True) -> Iterator[
                tuple[int, pa.RecordBatch]]:
    """Data rows after ``skip_rows`` header rows, as (ordinal of the batch's first data row, Arrow batch).

    Empty lines are skipped (as RCTab's CSV parser does); a row of empty cells (``,,,``) is a row. Ordinals count
    data rows from 0; :func:`row_number` turns one into the file's row number for a message. Column ``i`` of the
    file is the batch's column ``c<i>``; ``include`` (positions) limits the columns converted. ``types`` maps
    column positions to Arrow types (others are strings, empty text kept as ""); empty cells of typed columns are
    null. A row with another number of cells than ``headers``, or a cell that is not of its column's type, is a
    :class:`FormatError` naming the row, the column and what ``expected(column)`` says; with ``locate=False`` a
    cell that is not of its type raises :class:`Unconvertible` at once (the caller reads the file another way).
    """
    width = len(headers)
    names = [f"c{i}" for i in range(width)]
    wanted = list(range(width)) if include is None else list(include)
    column_types = {names[i]: types.get(i, pa.string()) for i in wanted}
    text_columns = [names[i] for i in wanted if i not in types]
    ordinal = 0
    arrow_encoding = "utf8" if encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig") else encoding
    try:
        reader = pacsv.open_csv(
            path,
            # a block must hold the header rows Arrow skips (a wide Clear Ballot header is tens of KiB)
            read_options=pacsv.ReadOptions(skip_rows=skip_rows, column_names=names, encoding=arrow_encoding,
                                           block_size=max(_BLOCK, 4 * skip_rows * len(",".join(headers).encode())),
                                           use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types=column_types, null_values=[""],
                                                 include_columns=[names[i] for i in wanted],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
        last = None
        for batch in reader:
            if batch.num_rows:
                last = batch
                yield ordinal, batch
                ordinal += batch.num_rows
        # an unterminated quote swallows the rest of the file into one text cell, and Arrow accepts it
        if last is not None and text_columns:
            tail = [last.column(name)[last.num_rows - 1].as_py() for name in text_columns]
            if any("\n" in v or "\r" in v for v in tail if v):
                raise FormatError("the last row holds a line break: an unterminated quote?", file=path,
                                  record=row_number(path, skip_rows, ordinal - 1, encoding),
                                  expected="a complete CSV file")
    except pa.ArrowInvalid as exc:
        if not locate and "conversion error" in str(exc):
            raise Unconvertible(str(exc)) from None
        raise locate_error(path, headers, types, skip_rows, str(exc), encoding, expected) from None
    except (OSError, LookupError) as exc:
        raise FormatError(f"unreadable CSV: {exc}", file=path) from None


def row_number(path: Path, skip_rows: int, ordinal: int, encoding: str = "utf-8") -> int:
    """The file row (1-based CSV record, blank lines counted) of data row ``ordinal`` (scans: messages only)."""
    seen = -1
    with open(path, newline="", encoding=encoding, errors="replace") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if number > skip_rows and row:
                seen += 1
                if seen == ordinal:
                    return number
    return skip_rows + 1 + ordinal


def locate_error(path: Path, headers: Sequence[str], types: Mapping[int, pa.DataType], skip_rows: int, message: str,
                 encoding: str, expected: Callable[[int], str]) -> FormatError:
    """A FormatError naming the row and column of an Arrow parse or conversion error (scans the file again)."""
    width = len(headers)
    m = _ARROW_COLUMN.search(message)
    bad_column = int(m.group(1)) if m else None
    number = skip_rows
    try:
        with open(path, newline="", encoding=encoding, errors="replace") as fh:
            for number, row in enumerate(csv.reader(fh, strict=True), start=1):
                if number <= skip_rows or not row:
                    continue
                if len(row) != width:
                    return FormatError(f"row has {len(row)} cells, the header {width} (truncated file?)", file=path,
                                       record=number, expected=f"{width} cells on every row")
                columns = [bad_column] if bad_column is not None else list(types)
                for c in columns:
                    if c in types and not _fits(row[c], types[c]):
                        return FormatError(f"cell {row[c]!r} is not {expected(c)}", file=path, record=number,
                                           field=headers[c], expected=expected(c))
    except csv.Error as exc:
        return FormatError(f"malformed CSV ({exc}); truncated file?", file=path, record=number + 1,
                           expected="a complete CSV file")
    return FormatError(f"malformed CSV: {message}", file=path)


def _fits(cell: str, dtype: pa.DataType) -> bool:
    if cell == "":
        return True
    try:
        value = int(cell)
    except ValueError:
        return False
    info = np.iinfo(dtype.to_pandas_dtype())
    return info.min <= value <= info.max and cell.strip() == cell


def int_values(col: pa.Array, fill: int) -> np.ndarray:
    """An integer Arrow column as NumPy, nulls replaced by ``fill`` (straight from the buffers, no copy per cell)."""
    n = len(col)
    values = np.frombuffer(col.buffers()[1], dtype=col.type.to_pandas_dtype())[col.offset : col.offset + n]
    if col.null_count == 0:
        return values
    return np.where(col.is_null().to_numpy(zero_copy_only=False), fill, values).astype(values.dtype)


def texts(col: pa.Array) -> np.ndarray:
    """A string Arrow column as a NumPy StringDType array."""
    return col.to_numpy(zero_copy_only=False).astype(STRING)


class TextColumn:
    """Accumulates a text column over batches; :meth:`categorical` dictionary-encodes it once ("" → missing)."""

    def __init__(self) -> None:
        self.chunks: list[pa.Array] = []

    def add(self, col: pa.Array) -> None:
        self.chunks.append(col)

    def pad(self, n: int) -> None:
        """``n`` cards without a value."""
        if n:
            self.chunks.append(pa.array(np.full(n, "", object), pa.string()))

    def categorical(self) -> Categorical:
        if not self.chunks:
            return Categorical.empty(0)
        encoded = pa.chunked_array(self.chunks, pa.string()).combine_chunks().dictionary_encode()
        labels = encoded.dictionary.to_numpy(zero_copy_only=False)
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
        empty = np.flatnonzero(labels == "")
        if len(empty):  # drop the "" label: its cards have no value
            e = int(empty[0])
            codes = np.where(codes == e, -1, np.where(codes > e, codes - 1, codes)).astype(np.int32)
            labels = np.delete(labels, e)
        return Categorical(codes, labels.astype(STRING))


def check_unique(card_id: np.ndarray, files: Sequence[tuple[int, Path]], skip_rows: Sequence[int], field: str,
                 encoding: str = "utf-8") -> None:
    """DuplicateCardError naming both rows (and files) of the first repeated card id.

    ``files`` holds (index of its first card, path) per file, ``skip_rows`` the header rows of each file.
    """
    dup = unique_card_check(card_id)
    if not len(dup):
        return
    starts = [start for start, _p in files]

    def where(i: int) -> tuple[Path, int]:
        k = int(np.searchsorted(starts, i, "right")) - 1
        start, path = files[k]
        return path, row_number(path, skip_rows[k], i - start, encoding)

    (p1, r1), (p2, r2) = (where(int(i)) for i in dup)
    raise DuplicateCardError(f"card id {card_id[dup[1]]!s} appears twice (first at {p1}, row {r1})", file=p2,
                             record=r2, field=field, expected="each card id once")
