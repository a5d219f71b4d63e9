from __future__ import annotations

import numpy as np
import pytest

from veritally.errors import FormatError
from veritally.formats import detect_format, read_cvrs, write_cvrs
from veritally.formats.parquet import iter_chunks
from veritally.tabulate import tabulate, tabulate_chunks

from ..elections import random_election, small_election


def assert_same_election(a, b):
    assert a.name == b.name and a.contests == b.contests
    assert a.cards.card_id.tolist() == b.cards.card_id.tolist()
    for key in set(a.cards.attributes) | set(b.cards.attributes):
        assert a.cards.attribute(key).values() == b.cards.attribute(key).values()
    for ma, mb in zip(a.cards.marks, b.cards.marks):
        assert np.array_equal(ma.present, mb.present)
        assert np.array_equal(ma.masks, mb.masks) and ma.masks.dtype == mb.masks.dtype


def test_parquet_round_trip_is_lossless(tmp_path):
    e = small_election()
    path = tmp_path / "cvrs.parquet"
    write_cvrs(e, path, "parquet")
    assert detect_format(path) == "parquet"
    assert_same_election(e, read_cvrs(path))


def test_streamed_row_groups_count_like_the_whole_file(tmp_path):
    e = random_election(np.random.default_rng(7), 500)
    path = tmp_path / "cvrs.parquet"
    from veritally.formats.parquet import write

    write(e, path, row_group_size=64)
    chunks = list(iter_chunks(path, batch_size=64))
    assert len(chunks) == 8
    assert tabulate_chunks(iter_chunks(path, 64), by="batch").to_json() == tabulate(e, by="batch").to_json()


def test_parquet_without_veritally_metadata_is_a_clear_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    with pytest.raises(FormatError, match="other.parquet.*metadata"):
        read_cvrs(path)


def test_truncated_parquet_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.parquet"
    write_cvrs(small_election(), path, "parquet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="cut.parquet"):
        read_cvrs(path, "parquet")


def _rewrite(tmp_path, name, edit):
    """small_election() as Parquet, its table passed through ``edit(table) -> table`` and written again."""
    import pyarrow.parquet as pq

    path = tmp_path / "good.parquet"
    write_cvrs(small_election(), path, "parquet")
    out = tmp_path / name
    pq.write_table(edit(pq.read_table(path)), out)
    return out


@pytest.mark.parametrize("name, edit, field", [
    ("badjson.parquet", lambda t: t.replace_schema_metadata({b"veritally": b"{not json"}), "schema metadata"),
    ("badkind.parquet", lambda t: t.replace_schema_metadata({b"veritally": t.schema.metadata[b"veritally"].replace(
        b'"plurality"', b'"bogus"', 1)}), "schema metadata"),
    ("nocolumn.parquet", lambda t: t.drop_columns(["c1"]).replace_schema_metadata(t.schema.metadata), "c1"),
])
def test_damaged_metadata_or_columns_are_format_errors_naming_the_field(tmp_path, name, edit, field):
    path = _rewrite(tmp_path, name, edit)
    for reading in (lambda: read_cvrs(path), lambda: list(iter_chunks(path))):
        with pytest.raises(FormatError) as err:
            reading()
        assert err.value.field == field and name in str(err.value)


def test_a_mask_bit_beyond_the_choices_is_refused(tmp_path):
    import pyarrow as pa

    def edit(t):
        i = t.column_names.index("c0")  # Mayor: 3 choices + the overvote flag = 4 bits
        return t.set_column(i, "c0", pa.array([0b110000] + [1] * (t.num_rows - 1), pa.uint8())).replace_schema_metadata(
            t.schema.metadata)

    path = _rewrite(tmp_path, "bits.parquet", edit)
    with pytest.raises(FormatError, match="beyond the contest's choices") as err:
        read_cvrs(path)
    assert err.value.field == "c0"


def test_the_same_card_in_two_files_is_a_duplicate_naming_both(tmp_path):
    from veritally.errors import DuplicateCardError

    e = small_election()
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_cvrs(e, a, "parquet")
    write_cvrs(e.take(np.arange(3, 8)), b, "parquet")
    with pytest.raises(DuplicateCardError) as err:
        read_cvrs([a, b])
    assert "a.parquet" in str(err.value) and err.value.file == str(b) and err.value.record == 1
