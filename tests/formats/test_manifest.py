"""Ballot manifests: Arlo's CSV read with precise errors, and reconciled batch by batch against the CVRs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from veritally.errors import FormatError, InputError, ManifestMismatch
from veritally.formats.manifest import BatchCards, check_cvrs, read_manifest, reconcile
from veritally.synth import generate, write_synthetic

from ..elections import small_election


def write(tmp_path, text, name="manifest.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_arlo_hybrid_manifest_with_every_column(tmp_path):
    m = read_manifest(write(tmp_path, "Container,Tabulator,Batch Name,Number of Ballots,CVR\n"
                                      "Box 1,T1,B1,200,Y\nBox 1,T2,B1,150,n\n\nBox 2,T2,B2,0,yes\n"))
    assert m.batch == ["B1", "B1", "B2"] and m.tabulator == ["T1", "T2", "T2"]
    assert m.ballots.tolist() == [200, 150, 0] and m.total == 350
    assert m.cvr.tolist() == [True, False, True]
    assert m.rows == [2, 3, 5]  # the blank line is skipped, rows keep their file numbers


def test_minimal_manifest_headers_match_case_insensitively(tmp_path):
    m = read_manifest(write(tmp_path, "\ufeffbatch name , NUMBER OF BALLOTS,Notes\nB1,10,x\n"))
    assert m.batch == ["B1"] and m.tabulator is None and m.cvr is None and m.container is None


@pytest.mark.parametrize("text, record, field, words", [
    ("Batch Name,Number of Ballots\nB1,1,000\n", 2, None, "cells"),
    ("Batch Name,Number of Ballots\nB1,12.5\n", 2, "Number of Ballots", "not a number"),
    ("Batch Name,Number of Ballots\nB1,-3\n", 2, "Number of Ballots", "not a number"),
    ("Batch Name,Number of Ballots\n,3\n", 2, "Batch Name", "empty"),
    ("Tabulator,Batch Name,Number of Ballots\nT1,B1,3\nT1,B1,4\n", 3, "Batch Name", "twice"),
    ("Batch Name,Number of Ballots,CVR\nB1,3,maybe\n", 2, "CVR", "Y or N"),
    ("Batch,Ballots,Batch Name\nB1,3,B1\n", 1, "Batch Name", "two columns"),
])
def test_bad_manifest_rows_name_row_and_field(tmp_path, text, record, field, words):
    path = write(tmp_path, text)
    with pytest.raises(FormatError) as err:
        read_manifest(path)
    assert err.value.record == record and err.value.field == field and words in str(err.value)
    assert str(path) in str(err.value)


def test_missing_required_column_and_missing_file(tmp_path):
    with pytest.raises(FormatError, match="no Number of Ballots column"):
        read_manifest(write(tmp_path, "Container,Batch Name\nA,B1\n"))
    with pytest.raises(FormatError, match="empty file"):
        read_manifest(write(tmp_path, ""))
    with pytest.raises(InputError, match="no such file"):
        read_manifest(tmp_path / "absent.csv")


def test_same_batch_name_on_two_tabulators_is_two_batches(tmp_path):
    m = read_manifest(write(tmp_path, "Tabulator,Batch Name,Number of Ballots\n1,7,3\n2,7,4\n"))
    assert len(m) == 2


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "county"
    write_synthetic(out, seed="manifest", n_cards=3000, fmt="parquet")
    return out, list(generate("manifest", 3000))


def test_synthetic_manifest_reconciles_with_its_cvrs(county):
    out, chunks = county
    batches = BatchCards()
    for c in chunks:
        batches.add(c)
    result = check_cvrs(read_manifest(out / "manifest.csv"), batches)
    assert result.agree and result.matched == result.batches and result.cvr_cards == result.manifest_ballots == 3000


def test_count_mismatch_names_the_row_and_the_counts(county, tmp_path):
    out, chunks = county
    lines = (out / "manifest.csv").read_text().splitlines()
    name, tab = lines[3].split(",")[2], lines[3].split(",")[1]
    cells = lines[3].split(",")
    cells[3] = str(int(cells[3]) + 1)
    lines[3] = ",".join(cells)
    path = write(tmp_path, "\n".join(lines) + "\n")
    batches = BatchCards()
    for c in chunks:
        batches.add(c)
    result = reconcile(read_manifest(path), batches)
    assert len(result.differences) == 1
    d = result.differences[0]
    assert (d.batch, d.tabulator, d.manifest_ballots - d.cvr_cards, d.row) == (name, tab, 1, 4)
    with pytest.raises(ManifestMismatch) as err:
        check_cvrs(read_manifest(path), batches)
    assert err.value.record == 4 and err.value.field == "Number of Ballots" and name in str(err.value)


def test_batches_missing_on_either_side_are_differences(tmp_path):
    e = small_election()  # batches B1 (3 cards), B2 (4 cards), and one card without a batch
    path = write(tmp_path, "Batch Name,Number of Ballots\nB1,3\nB9,5\n")
    result = reconcile(read_manifest(path), e)
    assert {(d.batch, d.manifest_ballots, d.cvr_cards) for d in result.differences} == {("B9", 5, None),
                                                                                         ("B2", None, 4)}
    assert result.cards_without_batch == 1 and not result.agree
    with pytest.raises(ManifestMismatch, match="B9"):
        check_cvrs(read_manifest(path), e)


def test_cards_without_a_batch_cannot_be_accounted_for(tmp_path):
    e = small_election()
    path = write(tmp_path, "Batch Name,Number of Ballots\nB1,3\nB2,4\n")
    with pytest.raises(ManifestMismatch, match="1 CVR card"):
        check_cvrs(read_manifest(path), e)
    with_batch = e.take(e.cards.attribute("batch").codes >= 0)
    assert check_cvrs(read_manifest(path), with_batch).agree


def test_dominion_style_batch_numbers_match_tabulator_dash_batch(tmp_path):
    e = small_election()
    e = e.take(e.cards.attribute("batch").codes >= 0)
    cat = e.cards.attribute("batch")
    cat.labels = np.array(["101-1", "101-2"], dtype=cat.labels.dtype)
    path = write(tmp_path, "Tabulator,Batch Name,Number of Ballots\n101,1,3\n101,2,4\n")
    assert check_cvrs(read_manifest(path), e).agree


def run(*args):
    return subprocess.run([sys.executable, "-m", "veritally", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_cli_tabulate_and_compare_check_the_manifest(county, tmp_path):
    out, _ = county
    cvrs = out / "cvrs" / "cvrs.parquet"
    good = run("tabulate", cvrs, "--manifest", out / "manifest.csv", "--json", tmp_path / "c.json")
    assert good.returncode == 0, good.stderr
    assert json.loads((tmp_path / "c.json").read_text())["manifest"]["agree"] is True
    lines = (out / "manifest.csv").read_text().splitlines()
    bad = write(tmp_path, "\n".join(lines[:-1]) + "\n")  # the last batch left out of the manifest
    res = run("tabulate", cvrs, "--manifest", bad)
    assert res.returncode == 2 and "does not list" in res.stderr and "Traceback" not in res.stderr
    res = run("compare", cvrs, out / "reported.csv", "--manifest", bad)
    assert res.returncode == 2 and "does not list" in res.stderr
    assert run("compare", cvrs, out / "reported.csv", "--manifest", out / "manifest.csv").returncode == 0


def _cards(batches, tabulators):
    """An election of one plurality contest whose cards carry the given batch and tabulator labels."""
    from veritally.builder import ElectionBuilder
    from veritally.model import Choice, Contest, ContestKind

    b = ElectionBuilder("batches")
    k = b.add_contest(Contest("c", "C", ContestKind.PLURALITY, (Choice("a", "A"),)))
    for i, (batch, tab) in enumerate(zip(batches, tabulators)):
        b.add_card(str(i), {k: 1}, {"batch": batch, "tabulator": tab})
    return b.build()


def test_one_batch_number_on_two_tabulators_is_two_batches_in_the_cvrs_too(tmp_path):
    e = _cards(["1"] * 5, ["TA", "TA", "TA", "TB", "TB"])
    wrong = write(tmp_path, "Tabulator,Batch Name,Number of Ballots\nTA,1,5\n", "wrong.csv")
    result = reconcile(read_manifest(wrong), e)
    assert {(d.tabulator, d.batch, d.manifest_ballots, d.cvr_cards, d.problem) for d in result.differences} == {
        ("TA", "1", 5, 3, "count"), ("TB", "1", None, 2, "not_in_manifest")}
    right = write(tmp_path, "Tabulator,Batch Name,Number of Ballots\nTA,1,3\nTB,1,2\n", "right.csv")
    assert check_cvrs(read_manifest(right), e).agree
    # without a Tabulator column the name stands for the batch on every tabulator
    untabulated = write(tmp_path, "Batch Name,Number of Ballots\n1,5\n", "names.csv")
    assert check_cvrs(read_manifest(untabulated), e).agree


def test_hybrid_manifest_batches_without_cvrs_need_no_cards_and_must_have_none(tmp_path):
    e = _cards(["1", "1", "2"], ["T", "T", "T"])
    path = write(tmp_path, "Tabulator,Batch Name,Number of Ballots,CVR\nT,1,2,Y\nT,2,1,Y\nT,3,40,N\n")
    result = check_cvrs(read_manifest(path), e)
    assert result.agree and result.ballots_without_cvrs == 40 and result.matched == 2
    bad = write(tmp_path, "Tabulator,Batch Name,Number of Ballots,CVR\nT,1,2,Y\nT,2,1,N\n", "bad.csv")
    with pytest.raises(ManifestMismatch, match="marked as having no CVRs") as err:
        check_cvrs(read_manifest(bad), e)
    assert err.value.record == 3 and err.value.field == "CVR"
