"""OpenElections precinct CSV: the Delaware files' known totals, every column variant, pseudo-rows and total rows,
and a clear error for each kind of bad input."""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest

from veritally.errors import FormatError
from veritally.formats import openelections
from veritally.results import PSEUDO, TOTAL, VOTE, detect_results_format

from .._shared import SHARED, need

DE2016 = SHARED / "data" / "openelections_20161108__de__general__precinct.csv"
MEDSL2018 = SHARED / "data" / "medsl_2018-de-precinct-general.zip"


def write(tmp_path, text: str, name: str = "oe.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def de2016():
    return openelections.read(need(DE2016))


# Delaware 2016 (the shared file) ------------------------------------------------------------------------------------

def test_delaware_2016_president_matches_the_certified_totals(de2016):
    # Wikipedia infobox (via data/PROVENANCE.md): Clinton 235,603, Trump 185,127; Johnson 14,757, Stein 6,103
    assert de2016.totals()["President"] == {"Clinton H": 235_603, "Trump D": 185_127, "Stein J": 6_103,
                                            "Johnson G": 14_757}


def test_delaware_total_rows_are_recognised_not_summed(de2016):
    # the file's statewide "Total" rows are labelled county Sussex; summing every row would double the state
    with open(need(DE2016), newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["office"] == "President"]
    naive = sum(int(r["votes"]) for r in rows if r["candidate"] == "Clinton H")
    assert naive == 2 * 235_603
    assert de2016.reported_totals()["President"]["Clinton H"] == 235_603
    assert de2016.kind_counts()["total"] == 97 * 3  # 97 total rows, each with votes, election_day and absentee
    units = de2016.to_unit_results("President")
    assert len(units.unit) == 432 and not any("Total" in str(u) for u in units.unit)


def test_delaware_county_sums(de2016):
    # PROVENANCE.md county sums without the Total rows
    units = de2016.to_unit_results("President")
    clinton, trump = units.choice.index("Clinton H"), units.choice.index("Trump D")
    by_county = {c: (int(units.votes[units.region == c, clinton].sum()), int(units.votes[units.region == c, trump]
                                                                             .sum()))
                 for c in ("New Castle", "Kent", "Sussex")}
    assert by_county == {"New Castle": (162_919, 85_525), "Kent": (33_351, 36_991), "Sussex": (39_333, 62_611)}


def test_delaware_modes_are_kept_apart(de2016):
    assert de2016.modes == ("", "election_day", "absentee")
    f = de2016.figures
    both = f.has_all & f.has_modes
    assert both.sum() == 7_153 and (f.all_sum[both] == f.modes_sum[both]).all()


def test_detected_as_openelections():
    assert detect_results_format(need(DE2016)) == "openelections"


def test_delaware_2018_senate_in_the_openelections_2018_layout(tmp_path):
    """The 2018 OpenElections file is not in ../shared: this writes its layout (county, election_district, office,
    district, party, candidate, election_day, absentee, votes, plus statewide Total rows labelled Sussex) from the
    MEDSL figures, so the check is the reader on that layout, not an independent source."""
    with zipfile.ZipFile(need(MEDSL2018)) as z, z.open(z.namelist()[0]) as fh:
        medsl = [r for r in csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8")) if r["office"] == "US SENATE"
                 and r["precinct"] != "COUNTYWIDE"]
    cells: dict[tuple, dict[str, int]] = {}
    for r in medsl:
        key = (r["county_name"].title(), r["precinct"], r["party_detailed"], r["candidate"])
        cells.setdefault(key, {})[r["mode"]] = cells.get(key, {}).get(r["mode"], 0) + int(r["votes"])
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["county", "election_district", "office", "district", "party", "candidate", "election_day",
                "absentee", "votes"])
    state: dict[tuple, list[int]] = {}
    for (county, district, party, cand), modes in cells.items():
        day, absentee = modes.get("MACHINE", 0), modes.get("ABSENTEE", 0)
        w.writerow([county, district, "U.S. Senate", "", party, cand, day, absentee, day + absentee])
        acc = state.setdefault((party, cand), [0, 0])
        acc[0] += day
        acc[1] += absentee
    for (party, cand), (day, absentee) in state.items():
        w.writerow(["Sussex", "Total", "U.S. Senate", "", party, cand, day, absentee, day + absentee])
    res = openelections.read(write(tmp_path, out.getvalue(), "20181106__de__general__precinct.csv"))
    senate = res.totals()["U.S. Senate"]
    assert senate["THOMAS R CARPER"] == 217_385 and senate["ROBERT B ARLETT"] == 137_127
    assert res.reported_totals()["U.S. Senate"] == senate
    day = res.mode == res.modes.index("election_day")
    carper = (res.choice == res.choices.index("THOMAS R CARPER")) & (res.kind == VOTE)
    assert res.votes[carper & day].sum() == 205_830  # machine = election day (PROVENANCE.md)
    assert len(res.to_unit_results("U.S. Senate").unit) == 436


# column variants ------------------------------------------------------------------------------------------------

VARIANTS = """county,precinct,office,district,party,candidate,votes,early_voting,election_day,mail,provisional
Adams,001,President,,DEM,Ann,100,10,80,8,2
Adams,001,President,,REP,Bob,60,5,50,5,0
Adams,001,President,,,Over Votes,2,,,,
Adams,001,President,,,Under Votes,-3,,,,
Adams,001,Registered Voters,,,,400,,,,
Adams,001,Ballots Cast,,,,170,,,,
Adams,001,Straight Party,,DEM,,30,,,,
Adams,001,Turnout %,,,,42.5,,,,
Adams,002,President,,DEM,Ann,50,5,40,5,0
Adams,002,President,,REP,Bob,70,7,60,3,0
Adams,002,Registered Voters,,,,300,,,,
Adams,002,Ballots Cast,,,,125,,,,
Adams,,President,,DEM,Ann,150,15,120,13,2
Adams,,President,,REP,Bob,130,12,110,8,0
"""


def test_every_row_kind_of_a_precinct_file(tmp_path):
    res = openelections.read(write(tmp_path, VARIANTS))
    assert res.totals() == {"President": {"Ann": 150, "Bob": 130}}
    assert set(res.modes) == {"", "early_voting", "election_day", "mail", "provisional"}
    # the blank-precinct rows are Adams' county totals, not a unit
    assert [str(u) for u in res.unit_ids] == ["Adams / 001", "Adams / 002"]
    assert (res.kind == TOTAL).sum() == 2 * 5
    assert res.protocol["registered"].tolist() == [400, 300]
    assert res.protocol["ballots_cast"].tolist() == [170, 125]
    under = (res.kind == PSEUDO) & (res.choice == res.choices.index("Under Votes"))
    assert res.votes[under].tolist() == [-3] and res.unit_ids[res.unit[under]].tolist() == ["Adams / 001"]
    assert "Straight Party" in res.contests and "Straight Party" not in res.contest_names()
    assert any("percentage" in n for n in res.notes)
    units = res.to_unit_results("President")
    assert units.registered.tolist() == [400, 300] and units.ballots.tolist() == [170, 125]
    assert units.votes.tolist() == [[100, 60], [50, 70]]
    pseudo = res.kind == PSEUDO
    assert set(res.choices[c] for c in res.choice[pseudo]) == {"Over Votes", "Under Votes", "Registered Voters",
                                                                "Ballots Cast", "DEM"}


def test_election_district_and_county_level_files(tmp_path):
    res = openelections.read(write(tmp_path, "county,election_district,office,district,party,candidate,votes\n"
                                             "Kent,01-01,State Senate,5,DEM,Ann,10\nKent,01-02,State Senate,5,REP,"
                                             "Bob,12\n"))
    assert res.contest_names() == ["State Senate, district 5"]
    assert res.contest_code("state senate district 5") == res.contests.index("State Senate, district 5")
    county = openelections.read(write(tmp_path, "county,office,district,party,candidate,votes\nKent,Governor,,D,"
                                                "Ann,10\nSussex,Governor,,D,Ann,7\nTotal,Governor,,D,Ann,17\n",
                                      "county.csv"))
    assert [str(u) for u in county.unit_ids] == ["Kent", "Sussex"]
    assert county.totals() == {"Governor": {"Ann": 17}} and county.reported_totals() == {"Governor": {"Ann": 17}}


def test_a_candidate_of_two_parties_is_two_choices(tmp_path):
    res = openelections.read(write(tmp_path, "county,precinct,office,district,party,candidate,votes\n"
                                             "Erie,1,President,,REP,Trump,10\nErie,1,President,,CON,Trump,3\n"
                                             "Erie,1,President,,DEM,Biden,12\n"))
    assert res.totals() == {"President": {"Trump (REP)": 10, "Trump (CON)": 3, "Biden": 12}}


def test_zip_is_read_in_place(tmp_path):
    path = tmp_path / "oe.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("inner.csv", VARIANTS)
    assert openelections.read(path).totals() == {"President": {"Ann": 150, "Bob": 130}}


# bad input --------------------------------------------------------------------------------------------------------

HEADER = "county,precinct,office,district,party,candidate,votes\n"


@pytest.mark.parametrize("body, line, field, words", [
    ("Kent,1,Governor,,D,Ann,ten\n", 2, "votes", "'ten' is not a whole number"),
    ("Kent,1,Governor,,D,Ann,5\nKent,2,Governor,,D,Ann,-4\n", 3, "votes", "'-4' is negative"),
    ("Kent,1,Governor,,D,Ann,2.5\n", 2, "votes", "not a whole number"),
    ("Kent,1,Governor,,D,Ann,\n", 2, "votes", "empty votes"),
    ("Kent,1,Governor,,,,4\n", 2, "candidate", "empty candidate"),
    ("Kent,1,Governor,,D,Ann,1,234\n", 2, None, "row has 8 fields"),
])
def test_bad_cells_name_the_line_and_field(tmp_path, body, line, field, words):
    with pytest.raises(FormatError) as err:
        openelections.read(write(tmp_path, HEADER + body))
    assert err.value.record == line and err.value.field == field
    assert words in str(err.value) and "oe.csv" in str(err.value)


def test_negative_under_votes_are_read_not_refused(tmp_path):
    res = openelections.read(write(tmp_path, HEADER + "Kent,1,Governor,,,Under Votes,-2\nKent,1,Governor,,D,Ann,5\n"))
    assert res.votes.min() == -2


@pytest.mark.parametrize("text, words", [
    ("", "empty file"),
    ("\n\n  \n", "empty file"),
    (HEADER, "no data rows"),
    ("county,precinct,office,party,votes\nKent,1,Governor,D,3\n", "missing column 'candidate'"),
    ("county,precinct,office,candidate\nKent,1,Governor,Ann\n", "no votes column"),
])
def test_empty_and_malformed_files(tmp_path, text, words):
    with pytest.raises(FormatError, match=words):
        openelections.read(write(tmp_path, text))


def test_blank_lines_keep_line_numbers_exact(tmp_path):
    with pytest.raises(FormatError) as err:
        openelections.read(write(tmp_path, HEADER + "Kent,1,Governor,,D,Ann,5\n\n\nKent,2,Governor,,D,Ann,x\n"))
    assert err.value.record == 5


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "Kent,1,Governor,,D,Ann\xe9,5\n").encode("latin-1"))
    with pytest.raises(FormatError, match="not utf-8 text") as err:
        openelections.read(path)
    assert err.value.record == 2


def test_units_keep_file_order(tmp_path):
    res = openelections.read(write(tmp_path, HEADER + "Kent,9,Governor,,D,Ann,5\nKent,1,Governor,,D,Ann,4\n"))
    assert [str(u) for u in res.to_unit_results("Governor").unit] == ["Kent / 9", "Kent / 1"]
    assert np.asarray(res.to_unit_results("Governor").votes).tolist() == [[5], [4]]
