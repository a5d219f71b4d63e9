"""MEDSL precinct returns: Delaware 2018's known totals and mode split, TOTAL versus mode rows, stats rows, FIPS as
text, the zip read in place, and clear errors on bad input."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest

from veritally.errors import FormatError
from veritally.formats import medsl
from veritally.results import PSEUDO, UNALLOCATED, VOTE, detect_results_format

from .._shared import SHARED, need

DE2018 = SHARED / "data" / "medsl_2018-de-precinct-general.zip"
HEADER = ("precinct,office,party_detailed,party_simplified,mode,votes,county_name,county_fips,jurisdiction_name,"
          "jurisdiction_fips,candidate,district,magnitude,dataverse,year,stage,state,special,writein,state_po,"
          "state_fips,state_cen,state_ic,date,readme_check\n")


def row(precinct="P1", office="US SENATE", party="DEMOCRAT", mode="TOTAL", votes="10", county="AUTAUGA",
        fips="01001", candidate="ANN", district="STATEWIDE", magnitude="1", writein="FALSE", special="FALSE",
        stage="GEN") -> str:
    return (f"{precinct},{office},{party},{party},{mode},{votes},{county},{fips},{county},{fips},{candidate},"
            f"{district},{magnitude},SENATE,2020,{stage},ALABAMA,{special},{writein},AL,01,41,63,2020-11-03,FALSE\n")


def write(tmp_path, *rows: str, name: str = "medsl.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def de2018():
    return medsl.read(need(DE2018))


def test_delaware_2018_senate_matches_the_certified_totals(de2018):
    # Wikipedia via data/PROVENANCE.md: Carper 217,385, Arlett 137,127; Theodoropoulos 4,170, Frost 3,910;
    # write-ins 7 + 4 + 3
    senate = de2018.totals()["US SENATE"]
    assert senate["THOMAS R CARPER"] == 217_385 and senate["ROBERT B ARLETT"] == 137_127
    assert senate["DEMITRI G THEODOROPOULOS"] == 4_170 and senate["NADINE M FROST"] == 3_910
    assert sorted(v for k, v in senate.items() if k in ("PETER TODD FARINA", "MATTHEW WATER STOUT",
                                                         "BARRY EVELAND")) == [3, 4, 7]


def test_delaware_2018_mode_split(de2018):
    carper = (de2018.choice == de2018.choices.index("THOMAS R CARPER")) & (de2018.kind == VOTE)
    by_mode = {de2018.modes[m]: int(de2018.votes[carper & (de2018.mode == m)].sum()) for m in range(1, 3)}
    assert by_mode == {"machine": 205_830, "absentee": 11_555}


def test_countywide_write_ins_are_counted_but_are_not_units(de2018):
    # 437 precinct labels: 436 precincts and the county-wide write-ins (COUNTYWIDE, in Kent and Sussex)
    assert de2018.n_units == 436
    assert (de2018.kind == UNALLOCATED).sum() == 15
    units = de2018.to_unit_results("U.S. Senate")
    assert len(units.unit) == 436 and "COUNTYWIDE" not in " ".join(map(str, units.unit))
    with zipfile.ZipFile(need(DE2018)) as z, z.open(z.namelist()[0]) as fh:
        countywide = sum(int(r["votes"]) for r in csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8"))
                         if r["precinct"] == "COUNTYWIDE" and r["office"] == "US SENATE")
    assert countywide == 3
    assert int(units.votes.sum()) == sum(de2018.totals()["US SENATE"].values()) - countywide


def test_fips_are_text_and_the_zip_is_detected(de2018):
    assert detect_results_format(need(DE2018)) == "medsl"
    assert set(de2018.unit_attributes["county_fips"]) == {"10001", "10003", "10005"}
    assert de2018.source.endswith(":2018-de-precinct-general.csv")
    assert de2018.votes_allowed["US SENATE"] == 1


def test_leading_zero_fips_survive(tmp_path):
    res = medsl.read(write(tmp_path, row()))
    assert res.unit_attributes["county_fips"].tolist() == ["01001"]
    assert str(res.unit_ids[0]) == "AUTAUGA / P1"


def test_total_rows_are_never_added_on_top_of_mode_rows(tmp_path):
    res = medsl.read(write(tmp_path, row(mode="ABSENTEE", votes="3"), row(mode="ELECTION DAY", votes="7"),
                           row(mode="TOTAL", votes="10"), row(candidate="BOB", party="REPUBLICAN", mode="ABSENTEE",
                                                              votes="4")))
    assert res.totals() == {"US SENATE": {"ANN": 10, "BOB": 4}}
    assert res.modes == ("", "absentee", "election_day")


def test_stats_rows_are_kept_apart(tmp_path):
    res = medsl.read(write(
        tmp_path, row(), row(candidate="REGISTERED VOTERS", party="", magnitude="0", office="REGISTERED VOTERS",
                             votes="50"),
        row(candidate="OVERVOTES", party="", votes="2"), row(candidate="STATS", party="", magnitude="0", votes="55.5"),
        row(candidate="BALLOTS CAST", party="", magnitude="0", office="BALLOTS CAST", votes="12.0")))
    assert res.totals() == {"US SENATE": {"ANN": 10}}
    assert res.protocol["registered"].tolist() == [50] and res.protocol["ballots_cast"].tolist() == [12]
    assert (res.kind == PSEUDO).sum() == 3  # the percentage stats row is skipped
    assert any("percentages" in n for n in res.notes)
    units = res.to_unit_results("US SENATE")
    assert units.registered.tolist() == [50] and units.ballots.tolist() == [12]


def test_contest_names_districts_specials_and_stages(tmp_path):
    res = medsl.read(write(tmp_path, row(office="STATE SENATE", district="004"), row(office="US HOUSE",
                                                                                   district="000"),
                           row(special="TRUE"), row(stage="PRI", office="GOVERNOR")))
    assert res.contest_names() == ["STATE SENATE, district 004 (GEN)", "US HOUSE (GEN)", "US SENATE (special) (GEN)",
                                   "GOVERNOR (PRI)"]


def test_local_offices_are_contests_per_county(de2018):
    names = de2018.contest_names()
    assert {"RECORDER OF DEEDS (KENT)", "RECORDER OF DEEDS (NEW CASTLE)", "RECORDER OF DEEDS (SUSSEX)",
            "COUNTY COUNCIL, district 004 (NEW CASTLE)", "COUNTY COUNCIL, district 004 (SUSSEX)"} <= set(names)
    assert "STATE HOUSE, district 011" in names  # a state district across two counties stays one contest
    kent = de2018.to_unit_results("RECORDER OF DEEDS (KENT)")
    assert set(kent.region.tolist()) == {"KENT"}


def test_jurisdictions_unlike_counties_enter_the_unit_id(tmp_path):
    res = medsl.read(write(tmp_path, row().replace("AUTAUGA,01001,AUTAUGA", "AUTAUGA,01001,PRATTVILLE")))
    assert str(res.unit_ids[0]) == "AUTAUGA / PRATTVILLE / P1"


def test_zip_with_two_csvs_is_refused(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.csv", HEADER + row())
        z.writestr("b.csv", HEADER + row())
    with pytest.raises(FormatError, match="holds 2 data files"):
        medsl.read(path)


@pytest.mark.parametrize("cells, field, words", [
    ({"votes": "12.5"}, "votes", "'12.5' is not a whole number"),
    ({"votes": "-1"}, "votes", "'-1' is negative"),
    ({"votes": "n/a"}, "votes", "not a whole number"),
    ({"mode": ""}, "mode", "empty mode"),
    ({"precinct": ""}, "precinct", "empty precinct"),
])
def test_bad_cells_name_the_line_and_field(tmp_path, cells, field, words):
    with pytest.raises(FormatError) as err:
        medsl.read(write(tmp_path, row(), row(**cells)))
    assert err.value.record == 3 and err.value.field == field and words in str(err.value)


def test_missing_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("precinct,office,candidate,votes,county_fips\nP1,X,ANN,3,01001\n")
    with pytest.raises(FormatError, match="missing column 'mode'"):
        medsl.read(path)


def test_units_are_in_file_order(tmp_path):
    res = medsl.read(write(tmp_path, row(precinct="Z9"), row(precinct="A1", votes="4")))
    units = res.to_unit_results("US SENATE")
    assert [str(u) for u in units.unit] == ["AUTAUGA / Z9", "AUTAUGA / A1"]
    assert np.asarray(units.votes).ravel().tolist() == [10, 4]
