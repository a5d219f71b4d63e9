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
