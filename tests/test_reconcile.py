"""Reconciliation identities: the Russian 2018 protocols as data/PROVENANCE.md reports them, Delaware's total rows
and mode columns, and each identity broken on purpose."""

from __future__ import annotations

import json

import numpy as np
import pytest

from veritally.formats import openelections, protocol
from veritally.reconcile import STATEMENTS, reconcile

from ._shared import SHARED, need

RU2018 = SHARED / "data" / "kobak_ru2018_president_uik.csv.zip"
DE2016 = SHARED / "data" / "openelections_20161108__de__general__precinct.csv"


@pytest.fixture(scope="module")
def ru():
    return reconcile(protocol.read(need(RU2018)))


def test_russia_2018_identities_as_provenance_reports_them(ru):
    # PROVENANCE.md: in boxes = valid + invalid, received = issued + cancelled + lost - not accounted, and
    # Σ candidates = valid hold at 97,699/97,699; in boxes > issued at 6 stations; issued > registered at 0
    for identity in ("R1", "R3a", "R3b"):
        check = ru.check(identity)
        assert (check.checked, check.holding) == (97_699, 97_699), identity
    assert ru.check("R4b").checked - ru.check("R4b").holding == 6
    assert ru.check("R4a").holding == 97_699 and not ru.check("R4a").violations
    assert ru.check("R5b").holds and not ru.holds


def test_russia_2018_aggregates(ru):
    r3a = ru.check("R3a")
    assert (r3a.left_total, r3a.right_total) == (73_578_992, 72_787_734 + 791_258)
    assert ru.check("R3b").left_total == 72_787_734
    assert (ru.check("R4a").left_total, ru.check("R4a").right_total) == (73_629_581, 109_008_428)


def test_russia_2018_violations_list_unit_and_amounts(ru):
    bad = ru.check("R4b").violations
    assert len(bad) == 6 and len({v.unit for v in bad}) == 6
    for v in bad:
        assert v.amounts["in_boxes"] > v.amounts["issued"] and v.amounts["difference"] > 0
        assert v.unit.count(" / ") == 2 and v.contest == "2018"
    doc = ru.to_json()
    assert doc["violations_total"] == 6 and doc["violations"][0]["statement"] == STATEMENTS["R4b"]


def test_delaware_2016_totals_and_modes_hold():
    rec = reconcile(openelections.read(need(DE2016)))
    assert rec.holds
    assert rec.check("R5a").checked == 291 and rec.check("R6").checked == 7_153
    assert rec.check("R1").skipped  # no protocol lines in a US file


def test_a_tampered_unit_breaks_the_total_and_the_mode_sum(tmp_path):
    lines = need(DE2016).read_text().splitlines()
    assert lines[1] == "New Castle,01-01,President,,DEMOCRATIC,Clinton H,636,43,679"
    lines[1] = "New Castle,01-01,President,,DEMOCRATIC,Clinton H,636,43,689"
    path = tmp_path / "tampered.csv"
    path.write_text("\n".join(lines) + "\n")
    rec = reconcile(openelections.read(path))
    (r5,) = rec.check("R5a").violations
    assert (r5.contest, r5.amounts["reported"], r5.amounts["sum_of_units"]) == ("President", 235_603, 235_613)
    assert "Clinton H" in r5.detail
    (r6,) = rec.check("R6").violations
    assert r6.unit == "New Castle / 01-01" and (r6.amounts["all_modes"], r6.amounts["sum_of_modes"]) == (689, 679)


def test_duplicate_keys_and_negative_under_votes(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("county,precinct,office,district,party,candidate,votes\nKent,1,Governor,,D,Ann,5\n"
                    "Kent,2,Governor,,D,Ann,3\nKent,1,Governor,,D,Ann,5\nKent,2,Governor,,,Under Votes,-1\n")
    rec = reconcile(openelections.read(path))
    (dup,) = rec.check("R5b").violations
    assert dup.unit == "Kent / 1" and dup.contest == "Governor" and "lines 2, 4" in dup.detail
    (neg,) = rec.check("N").violations
    assert neg.unit == "Kent / 2" and neg.amounts["votes"] == -1


HEADER = "uik,voters,received,early,day,outside,cancelled,portable,stationary,invalid,valid,lost,unaccounted,A,B\n"
GOOD = [1, 100, 80, 0, 55, 5, 20, 5, 55, 2, 58, 0, 0, 30, 28]


def stations(tmp_path, *rows):
    data = tmp_path / "p.csv"
    data.write_text(HEADER + "".join(",".join(map(str, r)) + "\n" for r in rows))
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"unit": "uik", "fields": {
        "registered": "voters", "received": "received", "issued_early": "early", "issued_on_day": "day",
        "issued_outside": "outside", "cancelled": "cancelled", "in_portable": "portable",
        "in_stationary": "stationary", "invalid": "invalid", "valid": "valid", "lost": "lost",
        "unaccounted": "unaccounted"}, "contest": "P"}))
    return reconcile(protocol.read(data, mapping=mapping))


def changed(uik: int, **cells):
    names = HEADER.strip().split(",")
    row = list(GOOD)
    row[0] = uik
    for k, v in cells.items():
        row[names.index(k)] = v
    return row


@pytest.mark.parametrize("cells, identity, difference", [
    ({"received": 81}, "R1", 1),                      # a ballot missing between receipt and use
    ({"lost": 1, "received": 81}, None, 0),           # ... unless it is declared lost
    ({"unaccounted": 1, "received": 79}, None, 0),    # extra ballots found at receipt
    ({"invalid": 3}, "R3a", -1),
    ({"A": 31}, "R3b", 1),
    ({"voters": 59}, "R4a", 1),
    ({"stationary": 56, "valid": 59, "A": 31, "received": 80}, "R4b", 1),
])
def test_each_protocol_identity_breaks_alone(tmp_path, cells, identity, difference):
    rec = stations(tmp_path, changed(1), changed(2, **cells))
    broken = [c.identity for c in rec.checks if c.violations]
    assert broken == ([] if identity is None else [identity])
    if identity is not None:
        (v,) = rec.check(identity).violations
        assert v.unit == "2" and v.amounts["difference"] == difference


def test_a_repeated_station_is_a_duplicate_key(tmp_path):
    rec = stations(tmp_path, changed(1), changed(2), changed(2))
    (dup,) = rec.check("R5b").violations
    assert dup.unit == "2" and dup.amounts["keys"] == 2 and "lines 3, 4" in dup.detail


def test_referendum_without_a_valid_line_checks_in_boxes_against_the_choices(tmp_path):
    data = tmp_path / "ref.csv"
    data.write_text("uik,voters,issued,in boxes,invalid,YES,NO\n1,100,60,60,2,40,18\n2,100,60,60,2,40,17\n")
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"unit": "uik", "fields": {"registered": "voters", "issued": "issued",
                                                             "in_boxes": "in boxes", "invalid": "invalid"}}))
    rec = reconcile(protocol.read(data, mapping=mapping))
    (v,) = rec.check("R3c").violations
    assert v.unit == "2" and (v.amounts["in_boxes"], v.amounts["choices"], v.amounts["invalid"]) == (60, 57, 2)
    assert rec.check("R3a").skipped and np.isclose(rec.check("R3c").checked, 2)


def test_us_pseudo_rows_total_votes_ballots_cast_and_registered(tmp_path):
    path = tmp_path / "us.csv"
    path.write_text("county,precinct,office,district,party,candidate,votes\n"
                    "Kent,1,Governor,,D,Ann,50\nKent,1,Governor,,R,Bob,40\nKent,1,Governor,,,Total Votes,90\n"
                    "Kent,1,Registered Voters,,,,300\nKent,1,Ballots Cast,,,,95\n"
                    "Kent,2,Governor,,D,Ann,20\nKent,2,Governor,,R,Bob,30\nKent,2,Governor,,,Total Votes,49\n"
                    "Kent,2,Registered Voters,,,,40\nKent,2,Ballots Cast,,,,55\n")
    rec = reconcile(openelections.read(path))
    (r3d,) = rec.check("R3d").violations
    assert r3d.unit == "Kent / 2" and (r3d.amounts["choices"], r3d.amounts["total_votes"]) == (50, 49)
    (r4a,) = rec.check("R4a").violations
    assert r4a.unit == "Kent / 2" and (r4a.amounts["ballots_cast"], r4a.amounts["registered"]) == (55, 40)


def test_medsl_votes_allowed_bounds_the_choices(tmp_path):
    from veritally.formats import medsl

    header = ("precinct,office,party_detailed,mode,votes,county_name,county_fips,candidate,district,magnitude,"
              "dataverse,special,stage\n")
    rows = ["P1,STATE HOUSE,D,TOTAL,70,ESSEX,25009,ANN,001,2,STATE,FALSE,GEN",
            "P1,STATE HOUSE,R,TOTAL,60,ESSEX,25009,BOB,001,2,STATE,FALSE,GEN",
            "P1,BALLOTS CAST,,TOTAL,60,ESSEX,25009,BALLOTS CAST,,0,,FALSE,GEN",
            "P2,STATE HOUSE,D,TOTAL,70,ESSEX,25009,ANN,001,2,STATE,FALSE,GEN",
            "P2,STATE HOUSE,R,TOTAL,60,ESSEX,25009,BOB,001,2,STATE,FALSE,GEN",
            "P2,BALLOTS CAST,,TOTAL,65,ESSEX,25009,BALLOTS CAST,,0,,FALSE,GEN"]
    path = tmp_path / "m.csv"
    path.write_text(header + "\n".join(rows) + "\n")
    rec = reconcile(medsl.read(path))
    check = rec.check("R3e")
    (v,) = check.violations  # P1: 130 marks > 60 ballots × 2 seats; P2: 130 ≤ 65 × 2 holds
    assert check.checked == 2
    assert v.unit == "ESSEX / P1" and (v.amounts["choices"], v.amounts["right"]) == (130, 120)
