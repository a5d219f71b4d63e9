"""The command line as a user runs it: exit statuses, JSON outputs, one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from veritally.formats import write_cvrs

from .elections import small_election


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "veritally", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture
def cvr_file(tmp_path):
    path = tmp_path / "small.parquet"
    write_cvrs(small_election(), path, "parquet")
    return path


def test_tabulate_writes_the_documented_json(cvr_file, tmp_path):
    out = tmp_path / "count.json"
    res = run("tabulate", cvr_file, "--by", "precinct", "--json", out)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    assert data["cards"] == 8
    mayor = next(c for c in data["contests"] if c["name"] == "Mayor")
    for key in ("name", "kind", "cards", "winners", "tallies", "overvotes", "undervotes", "blank"):
        assert key in mayor
    assert mayor["tallies"] == {"Alice": 3, "Bob": 1, "Write-in": 1}
    assert mayor["winners"] == ["Alice"]
    assert set(mayor["by"]) == {"P1", "P2"}
    assert "Alice" in res.stdout


def test_tabulate_one_contest(cvr_file, tmp_path):
    out = tmp_path / "count.json"
    assert run("tabulate", cvr_file, "--contest", "Council", "--json", out).returncode == 0
    assert [c["name"] for c in json.loads(out.read_text())["contests"]] == ["Council"]


def test_missing_file_is_exit_2_with_a_one_line_message(tmp_path):
    res = run("tabulate", tmp_path / "nope.json")
    assert res.returncode == 2
    assert "nope.json" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_unknown_contest_is_exit_2(cvr_file):
    res = run("tabulate", cvr_file, "--contest", "Sheriff")
    assert res.returncode == 2 and "Sheriff" in res.stderr and "Traceback" not in res.stderr


def test_unrecognised_file_is_exit_2(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a CVR")
    res = run("tabulate", junk)
    assert res.returncode == 2 and "junk.bin" in res.stderr and "Traceback" not in res.stderr


def test_convert_parquet_to_parquet_keeps_the_count(cvr_file, tmp_path):
    out = tmp_path / "copy.parquet"
    res = run("convert", cvr_file, out)
    assert res.returncode == 0, res.stderr
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    run("tabulate", cvr_file, "--json", a)
    run("tabulate", out, "--json", b)
    assert json.loads(a.read_text())["contests"] == json.loads(b.read_text())["contests"]


def test_usage_error_is_exit_2(tmp_path):
    res = run("tabulate", tmp_path, "--by", "planet")
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_version_of_python_module_entry_point_and_help():
    res = run("--help")
    assert res.returncode == 0 and "tabulate" in res.stdout


def test_synth_writes_the_four_outputs(tmp_path):
    out = tmp_path / "county"
    res = run("synth", out, "--seed", "7", "--cards", "1500", "--format", "csv", "--plant", "drop-batch")
    assert res.returncode == 0, res.stderr
    assert {p.name for p in out.iterdir()} == {"cvrs", "manifest.csv", "reported.csv", "truth.json"}
    truth = json.loads((out / "truth.json").read_text())
    assert truth["cards"] == 1500 and truth["planted"]["kind"] == "drop-batch"
    again = run("synth", out, "--cards", "10")
    assert again.returncode == 2 and "not an empty folder" in again.stderr and "Traceback" not in again.stderr


def test_demo_finds_the_planted_miscount(tmp_path):
    res = run("demo", "--cards", "20000", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Veritally found it." in res.stdout
    out = tmp_path / "veritally-demo"
    demo = json.loads((out / "demo.json").read_text())
    assert demo["found_planted"] is True and demo["planted"]["changes_outcome"]
    comparison = json.loads((out / "comparison.json").read_text())
    flagged = {d["contest"] for d in comparison["discrepancies"]}
    assert flagged == {demo["planted"]["contest"]}
    assert any(c["could_change_outcome"] for c in comparison["contests"])
    # a second run replaces the first one's files
    assert run("demo", "--cards", "5000", cwd=tmp_path).returncode == 0
    assert json.loads((out / "demo.json").read_text())["cards"] == 5000
