"""The command line as a user runs it: exit statuses, JSON outputs, one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
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


def test_python_module_entry_point_prints_help():
    res = run("--help")
    assert res.returncode == 0 and "tabulate" in res.stdout


def test_synth_writes_the_four_outputs(tmp_path):
    out = tmp_path / "county"
    res = run("synth", out, "--seed", "7", "--cards", "1500", "--format", "csv", "--plant", "drop-batch")
    assert res.returncode == 0, res.stderr
    assert {p.name for p in out.iterdir()} == {"cvrs", "paper", "manifest.csv", "reported.csv", "truth.json"}
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
    # the risk-limiting audit: clean contests confirm; the contest whose reported winner is wrong is counted by hand
    truth = json.loads((out / "election" / "truth.json").read_text())
    audit = demo["audit"]
    assert audit["as_expected"] and audit["bundle_verified"]
    by_name = {c["name"]: c for c in audit["status"]["contests"]}
    planted = by_name[demo["planted"]["contest"]]
    true_winners = next(c["winners"] for c in truth["contests"] if c["name"] == planted["name"])
    assert planted["state"] == "full_hand_count" and planted["hand_count"]["winners"] == true_winners
    assert planted["reported_winners"] != true_winners
    others = [c for c in by_name.values() if c is not planted]
    assert others and all(c["state"] == "confirmed" and c["p_value"] <= 0.05 for c in others)
    # a second run replaces the first one's files
    assert run("demo", "--cards", "5000", cwd=tmp_path).returncode == 0
    assert json.loads((out / "demo.json").read_text())["cards"] == 5000


def test_names_with_square_brackets_are_shown_literally(tmp_path):
    from veritally.builder import ElectionBuilder
    from veritally.model import Choice, Contest, ContestKind

    b = ElectionBuilder("[bold]County[/bold]")
    k = b.add_contest(Contest("c", "Race [/b]", ContestKind.PLURALITY, (Choice("a", "Ann [/b]"), Choice("b", "[red]Bo"))))
    b.add_card("1", {k: 1})
    b.add_card("2", {k: 1})
    path = tmp_path / "[x].parquet"
    write_cvrs(b.build(), path, "parquet")
    res = run("tabulate", path)
    assert res.returncode == 0, res.stderr
    assert "Ann [/b]" in res.stdout and "[red]Bo" in res.stdout and "Race [/b]" in res.stdout


def test_an_unwritable_output_is_exit_2_not_a_traceback(cvr_file, tmp_path):
    res = run("tabulate", cvr_file, "--json", tmp_path)  # a folder where a file should go
    assert res.returncode == 2 and "Traceback" not in res.stderr and str(tmp_path) in res.stderr


def test_cvrs_without_cards_are_exit_2_in_every_format(tmp_path):
    e = small_election()
    none = e.take(np.zeros(e.n_cards, bool))
    for fmt, name in (("parquet", "e.parquet"), ("csv", "e.csv"), ("dominion", "export")):
        path = tmp_path / name
        write_cvrs(none, path, fmt)
        res = run("tabulate", path, "--format", fmt)
        assert res.returncode == 2 and "no cards" in res.stderr, (fmt, res.stderr)


def test_compare_takes_a_count_json_whatever_its_key_order(cvr_file, tmp_path):
    count = tmp_path / "count.json"
    assert run("tabulate", cvr_file, "--json", count).returncode == 0
    data = json.loads(count.read_text())
    sorted_count = tmp_path / "sorted.json"
    sorted_count.write_text(json.dumps(data, sort_keys=True))
    reported = tmp_path / "reported.csv"
    reported.write_text("contest,choice,votes\nMayor,Alice,3\nMayor,Bob,1\nMayor,Write-in,1\n")
    res = run("compare", sorted_count, reported)
    assert res.returncode == 0, res.stderr


def test_a_contest_with_too_many_choices_names_the_file(tmp_path):
    header = "card_id," + ",".join(f"Mayor: C{i}" for i in range(64))
    path = tmp_path / "wide.csv"
    path.write_text(header + "\n1," + ",".join(["1"] + ["0"] * 63) + "\n")
    res = run("tabulate", path)
    assert res.returncode == 2 and "wide.csv" in res.stderr and "63" in res.stderr


def test_demo_leaves_a_folder_it_did_not_make_alone(tmp_path):
    (tmp_path / "veritally-demo" / "election").mkdir(parents=True)
    (tmp_path / "veritally-demo" / "election" / "precious.txt").write_text("keep me")
    res = run("demo", "--cards", "2000", cwd=tmp_path)
    assert res.returncode == 2 and "not a previous demo" in res.stderr
    assert (tmp_path / "veritally-demo" / "election" / "precious.txt").read_text() == "keep me"


def test_reader_options_from_the_command_line_read_rctabs_csv_layout(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("Id,Lettuce,Broccoli,Cucumber\n1,1,2,\n2,2,1,3\n3,1,,\n")
    out = tmp_path / "count.json"
    res = run("tabulate", path, "--format", "csv", "-o", "first_vote_column=2", "-o", "id_column=1", "--json", out)
    assert res.returncode == 0, res.stderr
    (contest,) = json.loads(out.read_text())["contests"]
    assert contest["tallies"] == {"Lettuce": 2, "Broccoli": 1, "Cucumber": 0} and contest["kind"] == "ranked"
    plain = run("tabulate", path, "--format", "csv")
    assert plain.returncode == 2 and "-o first_vote_column=N" in plain.stderr
    bad = run("tabulate", path, "--format", "csv", "-o", "first_vote_column")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    unknown = run("tabulate", path, "--format", "csv", "-o", "colour=blue")
    assert unknown.returncode == 2 and "colour" in unknown.stderr
