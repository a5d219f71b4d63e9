"""Reported results: the CSV and NIST SP 1500-100 v2 JSON readers and writers, and their errors on bad input."""

from __future__ import annotations

import copy
import json

import pytest

from veritally.errors import FormatError, InputError, UnknownIdError
from veritally.formats.reported import Reported, read_reported, write_nist_err_json, write_reported_csv
from veritally.tabulate import tabulate

from .._shared import NIST_CDF, need
from ..elections import small_election

ERR_SCHEMA = NIST_CDF / "NIST_V2_election_results_reporting.schema.json"


def validate_err(doc: dict) -> None:
    """Validate ``doc`` against the shared NIST SP 1500-100 v2 JSON schema (draft-04)."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) validates NIST reports")
    schema = json.loads(need(ERR_SCHEMA).read_text())
    jsonschema.Draft4Validator(schema).validate(doc)


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# CSV --------------------------------------------------------------------------------------------------------------

def test_csv_per_precinct_round_trips_a_count(tmp_path):
    count = tabulate(small_election(), by="precinct")
    path = write_reported_csv(count, tmp_path / "reported.csv")
    rep = read_reported(path)
    assert rep.unit_kind == "precinct" and rep.source == str(path)
    assert rep.units() == ["P1", "P2"]
    assert rep.totals()["Mayor"] == {"Alice": 3, "Bob": 1, "Write-in": 1}
    assert rep.by_unit()["Mayor"]["P1"] == {"Alice": 2, "Bob": 1, "Write-in": 0}
    assert list(rep.rows())[:2] == [("Mayor", "Alice", "P1", 2), ("Mayor", "Bob", "P1", 1)]


def test_csv_totals_only_has_no_unit_kind(tmp_path):
    path = write_reported_csv(tabulate(small_election()), tmp_path / "r.csv")
    rep = read_reported(path)
    assert rep.unit_kind is None and rep.units() == [] and rep.by_unit() == {}
    assert rep.totals()["Council"] == {"Xavier": 3, "Yolanda": 3, "Zed": 2}
    assert path.read_text().splitlines()[0] == "contest,choice,votes"


def test_csv_header_is_case_insensitive_extra_columns_ignored_bom_allowed(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("\ufeffParty, CONTEST ,Choice,Batch,Votes\nD,Mayor,Ann,B-1, 12 \nR,Mayor,Ben,B-1,3\n\n"
                     .encode("utf-8"))
    rep = read_reported(path)
    assert rep.unit_kind == "batch"
    assert list(rep.rows()) == [("Mayor", "Ann", "B-1", 12), ("Mayor", "Ben", "B-1", 3)]


def test_csv_tab_separated_by_suffix(tmp_path):
    rep = read_reported(write(tmp_path / "r.tsv", "contest\tchoice\tvotes\nMayor\tAnn\t7\n"))
    assert list(rep.rows()) == [("Mayor", "Ann", None, 7)]


@pytest.mark.parametrize("text, record, field, words", [
    ("contest,choice\nMayor,Ann\n", 1, "votes", "missing column 'votes'"),
    ("contest,votes,precinct\nMayor,3,P1\n", 1, "choice", "missing column 'choice'"),
    ("contest,choice,votes\nMayor,Ann,12\nMayor,Ben,1.5\n", 3, "votes", "not a whole number"),
    ("contest,choice,votes\nMayor,Ann,1,234\n", 2, None, "row has 4 fields, the header 3"),
    ('contest,choice,votes\nMayor,Ann,"1,234"\n', 2, "votes", "not a whole number"),
    ("contest,choice,votes\nMayor,Ann,-4\n", 2, "votes", "negative"),
    ("contest,choice,votes\nMayor,Ann,\n", 2, "votes", "not a whole number"),
    ("contest,choice,precinct,votes\nMayor,Ann,P1,3\nMayor,Ben,P1,3\nMayor,Ann,P1,4\n", 4, "choice",
     "duplicate row for contest 'Mayor', choice 'Ann', precinct 'P1' (first at line 2)"),
    ("contest,choice,precinct,votes\nMayor,Ann,,3\n", 2, "precinct", "empty precinct"),
    ("contest,choice,votes\n,Ann,3\n", 2, "contest", "empty contest"),
    ("contest,choice,precinct,votes\nMayor,Ann\n", 2, "precinct", "row has 2 fields"),
    ("contest,choice,precinct,batch,votes\nMayor,Ann,P1,B1,3\n", 1, "batch", "both 'precinct' and 'batch'"),
    ("contest,choice,votes,votes\nMayor,Ann,3,3\n", 1, "votes", "appears twice"),
])
def test_csv_bad_rows_name_file_row_and_field(tmp_path, text, record, field, words):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(FormatError) as info:
        read_reported(path)
    err = info.value
    assert (err.file, err.record, err.field) == (str(path), record, field)
    if words:
        assert words in str(err)
    assert str(path) in str(err) and f"record {record}" in str(err)


@pytest.mark.parametrize("text", ["", "\n\n", "contest,choice,votes\n", "contest,choice,votes\n\n"])
def test_csv_empty_file_or_header_only_is_an_error(tmp_path, text):
    with pytest.raises(FormatError, match="empty file|no result rows"):
        read_reported(write(tmp_path / "empty.csv", text))


def test_csv_binary_or_missing_file(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b"contest,choice,votes\n\xff\xfe,\x00,3\n")
    with pytest.raises(FormatError, match="not UTF-8|malformed CSV"):
        read_reported(path)
    with pytest.raises(InputError, match="no such file"):
        read_reported(tmp_path / "nope.csv")


def test_rows_given_in_code_are_checked_like_a_file():
    with pytest.raises(FormatError, match="duplicate row"):
        Reported.from_rows([("M", "A", None, 1), ("M", "A", None, 2)])
    with pytest.raises(FormatError, match="non-negative integer"):
        Reported.from_rows([("M", "A", None, -1)])
    with pytest.raises(ValueError, match="unit_kind"):
        Reported.from_rows([("M", "A", "P1", 1)])
    rep = Reported.from_rows([{"contest": "M", "choice": "A", "unit": "P1", "votes": 2},
                              {"contest": "M", "choice": "A", "unit": None, "votes": 5}], "precinct")
    assert rep.totals() == {"M": {"A": 5}}  # explicit total rows win over the sum of the units
    assert rep.by_unit() == {"M": {"P1": {"A": 2}}}


# NIST SP 1500-100 v2 JSON -------------------------------------------------------------------------------------------

def text(s: str) -> dict:
    return {"@type": "ElectionResults.InternationalizedText",
            "Text": [{"@type": "ElectionResults.LanguageString", "Content": s, "Language": "en"}]}


def vc(count, gpunit, type_="total", **extra) -> dict:
    return {"@type": "ElectionResults.VoteCounts", "Count": count, "GpUnitId": gpunit, "Type": type_, **extra}


def unit(gid: str, type_: str, name: str | None = None) -> dict:
    out = {"@type": "ElectionResults.ReportingUnit", "@id": gid, "Type": type_}
    if name:
        out["Name"] = text(name)
    return out


def small_report() -> dict:
    """A precinct-level report written by hand per the v2 schema.

    Mayor: Ann/Ben per precinct with vote types (no 'total' in P1: election-day + absentee-mail summed; 'total' in
    P2, which wins over its parts) and a county total; a write-in line; a tabulator (device) count to be ignored.
    Measure A: a ballot measure with county totals only. RCV Mayor: rounds 1 and 2; only round 1 is read.
    """
    return {
        "@type": "ElectionResults.ElectionReport", "Format": "precinct-level",
        "GeneratedDate": "2026-11-04T06:00:00Z", "Issuer": "Example County", "IssuerAbbreviation": "EC",
        "SequenceStart": 1, "SequenceEnd": 1, "Status": "unofficial-complete", "VendorApplicationId": "hand",
        "GpUnit": [unit("county", "county", "Example County"), unit("p1", "precinct", "Precinct 1"),
                   unit("p2", "precinct"),
                   {"@type": "ElectionResults.ReportingDevice", "@id": "tab-1"}],
        "Election": [{
            "@type": "ElectionResults.Election", "ElectionScopeId": "county", "Name": text("General 2026"),
            "StartDate": "2026-11-03", "EndDate": "2026-11-03", "Type": "general",
            "Candidate": [{"@type": "ElectionResults.Candidate", "@id": "c-ann", "BallotName": text("Ann Lee")},
                          {"@type": "ElectionResults.Candidate", "@id": "c-ben", "BallotName": text("Ben Ortiz")},
                          {"@type": "ElectionResults.Candidate", "@id": "c-pat", "BallotName": text("Pat")},
                          {"@type": "ElectionResults.Candidate", "@id": "c-quinn", "BallotName": text("Quinn")}],
            "Contest": [
                {"@type": "ElectionResults.CandidateContest", "@id": "k-mayor", "Name": "Mayor",
                 "ElectionDistrictId": "county", "VotesAllowed": 1, "NumberElected": 1,
                 "ContestSelection": [
                     {"@type": "ElectionResults.CandidateSelection", "@id": "s-ann", "CandidateIds": ["c-ann"],
                      "VoteCounts": [vc(70, "county"), vc(30, "p1", "election-day"), vc(10, "p1", "absentee-mail"),
                                     vc(30, "p2"), vc(25, "p2", "election-day"), vc(40, "tab-1")]},
                     {"@type": "ElectionResults.CandidateSelection", "@id": "s-ben", "CandidateIds": ["c-ben"],
                      "VoteCounts": [vc(55, "county"), vc(20, "p1", "election-day"), vc(5, "p1", "absentee-mail"),
                                     vc(30, "p2")]},
                     {"@type": "ElectionResults.CandidateSelection", "@id": "s-wi", "IsWriteIn": True,
                      "VoteCounts": [vc(2, "county"), vc(2, "p1"), vc(0, "p2")]}]},
                {"@type": "ElectionResults.BallotMeasureContest", "@id": "k-a", "Name": "Measure A",
                 "ElectionDistrictId": "county",
                 "ContestSelection": [
                     {"@type": "ElectionResults.BallotMeasureSelection", "@id": "s-yes", "Selection": text("Yes"),
                      "VoteCounts": [vc(80, "county")]},
                     {"@type": "ElectionResults.BallotMeasureSelection", "@id": "s-no", "Selection": text("No"),
                      "VoteCounts": [vc(41.0, "county")]}]},
                {"@type": "ElectionResults.CandidateContest", "@id": "k-rcv", "Name": "RCV Mayor",
                 "ElectionDistrictId": "county", "VotesAllowed": 1, "VoteVariation": "rcv",
                 "ContestSelection": [
                     {"@type": "ElectionResults.CandidateSelection", "@id": "s-pat", "CandidateIds": ["c-pat"],
                      "VoteCounts": [vc(60, "county", Round=1), vc(75, "county", Round=2)]},
                     {"@type": "ElectionResults.CandidateSelection", "@id": "s-quinn", "CandidateIds": ["c-quinn"],
                      "VoteCounts": [vc(50, "county", Round=1), vc(52, "county", Round=2)]}]},
            ]}],
    }


def test_nist_report_written_by_hand_is_schema_valid():
    validate_err(small_report())


def test_nist_report_written_by_hand_is_read(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(small_report()))
    rep = read_reported(path)
    assert rep.unit_kind == "precinct"
    assert rep.units() == ["Precinct 1", "p2"]  # a unit without a Name is named by its @id
    assert rep.by_unit()["Mayor"] == {"Precinct 1": {"Ann Lee": 40, "Ben Ortiz": 25, "Write-in": 2},
                                      "p2": {"Ann Lee": 30, "Ben Ortiz": 30, "Write-in": 0}}
    totals = rep.totals()
    assert totals["Mayor"] == {"Ann Lee": 70, "Ben Ortiz": 55, "Write-in": 2}  # the county counts
    assert totals["Measure A"] == {"Yes": 80, "No": 41}
    assert totals["RCV Mayor"] == {"Pat": 60, "Quinn": 50}  # round 1 only
    assert rep.number_elected == {"Mayor": 1}
    assert any("reporting device" in n for n in rep.notes)


def test_nist_report_detected_by_content_without_suffix(tmp_path):
    path = tmp_path / "results"
    path.write_text(json.dumps(small_report()))
    assert read_reported(path).totals()["Measure A"] == {"Yes": 80, "No": 41}


def test_nist_writer_output_is_schema_valid(tmp_path):
    for by in ("batch", None):
        path = write_nist_err_json(tabulate(small_election(), by=by), tmp_path / "err.json",
                                   ballot_measures=["Measure 1"], ranked=["RCV Mayor"])
        validate_err(json.loads(path.read_text()))


def test_nist_writer_output_reads_back(tmp_path):
    count = tabulate(small_election(), by="batch")
    path = write_nist_err_json(count, tmp_path / "err.json", ballot_measures=["Measure 1"], ranked=["RCV Mayor"])
    rep = read_reported(path)
    source = Reported.from_count(count)
    assert rep.unit_kind == "batch"
    assert rep.by_unit() == source.by_unit()
    assert rep.totals() == source.totals()  # the county totals written are the sums of the batches


def test_nist_rcv_contest_without_rounds_is_left_out_with_a_note(tmp_path):
    doc = small_report()
    for sel in doc["Election"][0]["Contest"][2]["ContestSelection"]:
        sel["VoteCounts"] = [vc(60, "county")]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    rep = read_reported(path)
    assert "RCV Mayor" not in rep.contests
    assert any("RCV Mayor" in n and "Round" in n for n in rep.notes)


def bad_report(tmp_path, change) -> tuple:
    doc = copy.deepcopy(small_report())
    change(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path


MAYOR = "Election[0].Contest[0]"


@pytest.mark.parametrize("change, error, record, field", [
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][1]["VoteCounts"][0].update(GpUnitId="p9"),
     UnknownIdError, f"{MAYOR}.ContestSelection[1].VoteCounts[0]", "GpUnitId"),
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][0].update(CandidateIds=["c-nobody"]),
     UnknownIdError, f"{MAYOR}.ContestSelection[0]", "CandidateIds"),
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][0]["VoteCounts"][1].update(Count=-3),
     FormatError, f"{MAYOR}.ContestSelection[0].VoteCounts[1]", "Count"),
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][0]["VoteCounts"][1].update(Count=2.5),
     FormatError, f"{MAYOR}.ContestSelection[0].VoteCounts[1]", "Count"),
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][0]["VoteCounts"][1].update(Count="30"),
     FormatError, f"{MAYOR}.ContestSelection[0].VoteCounts[1]", "Count"),
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][0]["VoteCounts"].append(vc(1, "p2")),
     FormatError, f"{MAYOR}.ContestSelection[0].VoteCounts[6]", "Count"),
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][1].update(CandidateIds=["c-ann"]),
     FormatError, f"{MAYOR}.ContestSelection[1]", "CandidateIds"),
    (lambda d: d["Election"][0]["Contest"][0].pop("Name"), FormatError, MAYOR, "Name"),
    (lambda d: d.update({"@type": "CVR.CastVoteRecordReport"}), FormatError, "(top level)", "@type"),
    (lambda d: d["GpUnit"].append(unit("p1", "precinct")), FormatError, "GpUnit[4]", "@id"),
    (lambda d: d["Election"][0]["Contest"].__setitem__(slice(None), []), FormatError, "(top level)", "Election"),
])
def test_nist_bad_input_names_file_record_and_field(tmp_path, change, error, record, field):
    path = bad_report(tmp_path, change)
    with pytest.raises(error) as info:
        read_reported(path)
    assert (info.value.file, info.value.record, info.value.field) == (str(path), record, field)


def test_nist_malformed_or_truncated_json(tmp_path):
    text_ = json.dumps(small_report())
    path = write(tmp_path / "cut.json", text_[: len(text_) // 2])
    with pytest.raises(FormatError, match="malformed JSON") as info:
        read_reported(path)
    assert info.value.file == str(path)
    with pytest.raises(FormatError):
        read_reported(write(tmp_path / "list.json", "[1, 2]"))


def test_nist_counts_at_several_areas_without_a_district_are_ambiguous(tmp_path):
    def change(d):
        d["GpUnit"].append(unit("city", "city", "City"))
        contest = d["Election"][0]["Contest"][1]
        contest["ElectionDistrictId"] = "school-district"
        d["Election"][0]["ElectionScopeId"] = "state"
        contest["ContestSelection"][0]["VoteCounts"].append(vc(20, "city"))

    with pytest.raises(FormatError, match="cannot tell which is the total") as info:
        read_reported(bad_report(tmp_path, change))
    assert info.value.record == "Election[0].Contest[1]"
