"""``veritally results check`` as a user runs it: findings.json on the shared data, the previous election, and every
kind of bad input as exit status 2 with a one-line message (never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ._shared import SHARED, need

DATA = SHARED / "data"
RU2018 = DATA / "kobak_ru2018_president_uik.csv.zip"
DE2016 = DATA / "openelections_20161108__de__general__precinct.csv"
MEDSL2018 = DATA / "medsl_2018-de-precinct-general.zip"
# data/PROVENANCE.md
SHA256 = {RU2018.name: "0ecfa337c877a2db52c99460307ea153b9e3a33810811685a1e92e8154287176",
          DE2016.name: "01c56273d92e3177042741845fe9c5011f7199fa192342115d1cce8ed93cd425",
          MEDSL2018.name: "ff4de03384843c29996cc7b3df0fa25abc852b735d56dace90576f650f02a694"}
TEST_KEYS = {"contest", "name", "scope", "statistic", "effect", "p_value", "interval", "flagged_units", "caveat"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "veritally", "results", "check", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def one_line_error(res) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    return res.stderr


def test_delaware_2016_with_the_2018_senate_as_previous(tmp_path):
    out = tmp_path / "out"
    res = run(need(DE2016), "--out", out, "--contest", "President", "--previous", need(MEDSL2018),
              "--previous-contest", "US SENATE", "--mc-replicates", 200)
    assert res.returncode == 0, res.stderr  # every identity holds
    doc = json.loads((out / "findings.json").read_text())
    assert doc["totals"]["President"] == {"Clinton H": 235_603, "Trump D": 185_127, "Stein J": 6_103,
                                          "Johnson G": 14_757}
    assert doc["reported_totals"]["President"] == doc["totals"]["President"]
    assert doc["reconciliation"]["holds"] and doc["reconciliation"]["violations"] == []
    assert {i["role"]: i["sha256"] for i in doc["inputs"]} == {"results": SHA256[DE2016.name],
                                                                "previous": SHA256[MEDSL2018.name]}
    (cf,) = doc["forensics"]
    assert cf["contest"] == "President" and cf["units"] == 432
    # the OpenElections ids "New Castle / 01-01" meet MEDSL's "NEW CASTLE / 01-01"
    assert cf["previous"]["contest"] == "US SENATE" and cf["previous"]["match"]["matched"] == 432
    assert doc["tests"] and all(TEST_KEYS <= set(t) for t in doc["tests"])
    assert {t["contest"] for t in doc["tests"]} == {"President"}
    assert cf["plots"] and all((out / p).is_file() for p in cf["plots"])
    assert any(p.endswith(".svg") for p in cf["plots"]) and any(p.endswith(".png") for p in cf["plots"])
    assert "never a verdict of fraud" in res.stdout and "Clinton H" in res.stdout


def test_russia_2018_findings(tmp_path):
    out = tmp_path / "ru"
    res = run(need(RU2018), "--out", out, "--mc-replicates", 100)
    assert res.returncode == 1, res.stderr  # six stations with more ballots in the boxes than issued
    doc = json.loads((out / "findings.json").read_text())
    totals = {name.split()[0]: v for name, v in doc["totals"]["2018"].items()}
    assert totals["Путин"] == 56_430_712 and totals["Бабурин"] == 479_013
    assert doc["protocol_totals"]["registered"] == 109_008_428
    rec = doc["reconciliation"]
    assert rec["violations_total"] == 6 and {v["identity"] for v in rec["violations"]} == {"R4b"}
    checks = {c["identity"]: c for c in rec["checks"]}
    assert all(checks[i]["checked"] == checks[i]["holding"] == 97_699 for i in ("R1", "R3a", "R3b", "R4a"))
    assert doc["inputs"][0]["sha256"] == SHA256[RU2018.name]
    overall = next(t for t in doc["tests"] if t["name"] == "integer_percent" and t["scope"] == "all units")
    for key in ("observed", "expected", "excess", "mc_sd"):
        assert set(overall[key]) >= {"turnout_or_leader", "turnout_only", "leader_only"}
    assert (out / "plots").is_dir() and doc["forensics"][0]["plots_dir"] == "plots"
    assert "6 violation(s)" in res.stdout and "questions for auditors" in res.stdout


def test_duplicate_keys_are_a_reconciliation_finding(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("county,precinct,office,district,party,candidate,votes\nKent,1,Governor,,D,Ann,5\n"
                    "Kent,2,Governor,,D,Ann,3\nKent,1,Governor,,D,Ann,5\n")
    res = run(path, "--out", tmp_path / "o", "--mc-replicates", 10)
    assert res.returncode == 1, res.stderr
    rec = json.loads((tmp_path / "o" / "findings.json").read_text())["reconciliation"]
    (v,) = rec["violations"]
    assert v["identity"] == "R5b" and v["unit"] == "Kent / 1" and "lines 2, 4" in v["detail"]


STATIONS = "station,voters,issued,in box,invalid,valid,Ann,Bob\n1,100,60,60,2,58,30,28\n2,120,70,70,0,70,50,20\n"
MAPPING = {"unit": "station", "fields": {"registered": "voters", "issued": "issued", "in_boxes": "in box",
                                         "invalid": "invalid", "valid": "valid"}}


def protocol_files(tmp_path, text=STATIONS, mapping=None):
    data = tmp_path / "stations.csv"
    data.write_text(text)
    spec = tmp_path / "map.json"
    spec.write_text(json.dumps(MAPPING if mapping is None else mapping))
    return data, spec


def test_wrong_column_mapping(tmp_path):
    data, spec = protocol_files(tmp_path, mapping={**MAPPING, "fields": {**MAPPING["fields"],
                                                                          "valid": "Valid ballots"}})
    err = one_line_error(run(data, "--mapping", spec, "--out", tmp_path / "o"))
    assert "map.json" in err and "fields.valid" in err and "'Valid ballots' is not in the header" in err


def test_a_mapping_whose_lines_are_swapped_is_a_reconciliation_finding(tmp_path):
    data, spec = protocol_files(tmp_path, mapping={**MAPPING, "fields": {**MAPPING["fields"], "valid": "invalid",
                                                                          "invalid": "valid"}})
    res = run(data, "--mapping", spec, "--out", tmp_path / "o", "--mc-replicates", 10)
    assert res.returncode == 1, res.stderr
    rec = json.loads((tmp_path / "o" / "findings.json").read_text())["reconciliation"]
    assert {v["identity"] for v in rec["violations"]} == {"R3b"}


@pytest.mark.parametrize("cell, words", [("sixty", "'sixty' is not a whole number"), ("-60", "'-60' is negative")])
def test_bad_counts(tmp_path, cell, words):
    data, spec = protocol_files(tmp_path, STATIONS.replace("2,120,70", f"2,120,{cell}"))
    err = one_line_error(run(data, "--mapping", spec, "--out", tmp_path / "o"))
    assert "stations.csv" in err and "record 3" in err and "field 'issued'" in err and words in err


def test_negative_votes_in_openelections(tmp_path):
    path = tmp_path / "neg.csv"
    path.write_text("county,precinct,office,district,party,candidate,votes\nKent,1,Governor,,D,Ann,-5\n")
    err = one_line_error(run(path, "--out", tmp_path / "o"))
    assert "neg.csv" in err and "record 2" in err and "field 'votes'" in err and "negative" in err


@pytest.mark.parametrize("text, words", [("", "empty file"),
                                         ("county,precinct,office,district,party,candidate,votes\n", "no data rows"),
                                         ("a,b\n1,2\n", "cannot tell the results format")])
def test_empty_and_unrecognised_files(tmp_path, text, words):
    path = tmp_path / "results.csv"
    path.write_text(text)
    args = [path, "--out", tmp_path / "o"] + (["--format", "openelections"] if "rows" in words or "empty" in
                                              words else [])
    err = one_line_error(run(*args))
    assert "results.csv" in err and words in err
    assert not (tmp_path / "o" / "findings.json").exists()


def test_bad_options(tmp_path):
    assert "no such file" in one_line_error(run(tmp_path / "absent.csv", "--out", tmp_path / "o"))
    err = one_line_error(run(need(DE2016), "--out", tmp_path / "o", "--contest", "Sheriff"))
    assert "no contest 'Sheriff'" in err and "President" in err
    assert "apply to the protocol format" in one_line_error(run(need(DE2016), "--out", tmp_path / "o", "--preset",
                                                                "ru-cik", "--format", "openelections"))
    assert "the ru-cik preset needs columns region, tik and uik" in one_line_error(
        run(need(DE2016), "--out", tmp_path / "o", "--preset", "ru-cik"))
    data, spec = protocol_files(tmp_path)
    assert "not both" in one_line_error(run(data, "--out", tmp_path / "o", "--preset", "ru-cik", "--mapping", spec))
    res = run(need(DE2016), "--out", tmp_path / "o", "--format", "html")
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_nist_err_json_is_detected_and_checked(tmp_path):
    from veritally.formats.reported import Reported, write_nist_err_json

    rows = [("Mayor", name, f"P{i}", 40 + 7 * i + (13 if name == "Ann" else 0)) for i in range(30)
            for name in ("Ann", "Bob")]
    path = write_nist_err_json(Reported.from_rows(rows, "precinct"), tmp_path / "results.json")
    res = run(path, "--out", tmp_path / "o", "--mc-replicates", 10)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "o" / "findings.json").read_text())
    assert doc["results"]["format"] == "nist-err" and doc["results"]["units"] == 30
    ann = sum(40 + 7 * i + 13 for i in range(30))
    assert doc["totals"] == {"Mayor": {"Ann": ann, "Bob": ann - 13 * 30}} == doc["reported_totals"]
    assert doc["reconciliation"]["holds"] and doc["forensics"][0]["leader"] == "Ann"
