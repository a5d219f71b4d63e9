from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from veritally.builder import OVERVOTE, ElectionBuilder
from veritally.errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from veritally.formats import read_cvrs
from veritally.formats import ess
from veritally.model import Choice, Contest, ContestKind
from veritally.tabulate.ranked import OvervoteRule, first_round

from .._shared import RCTAB, need

# ES&S cases of RCTab's suite with an expected report (round 1 and ballot count are compared).
CASES = [
    "2013_minneapolis_mayor", "2017_minneapolis_mayor", "2015_portland_mayor", "2015_portland_mayor_codes",
    "aliases_ess_xlsx", "skip_to_next_test", "duplicate_test", "exhaust_if_multiple_continuing",
    "test_set_overvote_delimiter", "test_set_treat_blank_as_undeclared_write_in", "uwi_cannot_win_test",
    "excluded_test", "tiebreak_seed_test", "precinct_example", "batch_example", "2013_minneapolis_park",
    # further ES&S cases of the suite
    "2013_minneapolis_park_bottoms_up", "2013_minneapolis_park_hare", "continue_tabulation_test",
    "continue_until_two_threshold_freeze", "continue_until_two_with_batch_elimination_test",
    "minneapolis_multi_seat_threshold", "missing_precinct_example", "more_winners_than_candidates",
    "multi_seat_bottoms_up_with_cutoff_eliminate", "multi_seat_bottoms_up_with_dynamic_threshold",
    "multi_seat_bottoms_up_with_static_threshold", "multi_seat_uwi_test", "stop_tabulation_early_test",
    "test_set_allow_only_one_winner_per_round", "tiebreak_generate_permutation_test",
    "tiebreak_previous_round_counts_then_random_test", "tiebreak_use_permutation_in_config_test",
    "first_round_determines_threshold_test", "first_round_determines_threshold_tiebreaker_test",
]
BIG = {"2013_minneapolis_mayor", "2017_minneapolis_mayor", "2013_minneapolis_park", "2013_minneapolis_park_bottoms_up",
       "2013_minneapolis_park_hare"}
# RCTab's SAX reader counts styled-but-empty <row> elements (rows 18, 1048575, 1048576 …) as ballots with no
# rankings, and so does the reader with RCTab's options (rctab_empty_rows); the ballots with data are these many.
EMPTY_ROW_CASES = {"first_round_determines_threshold_test": 16, "first_round_determines_threshold_tiebreaker_test": 17}


def rctab_case(case: str):
    folder = need(RCTAB / case)
    config = json.loads((folder / f"{case}_config.json").read_text())
    expected = json.loads((folder / f"{case}_expected_detailed_report.json").read_text())
    return folder, config, expected


def round_one(contest, marks, rules, excluded_names=()):
    ms = rules["maxSkippedRanksAllowed"]
    excluded = [i for i, c in enumerate(contest.choices) if c.name in excluded_names]
    r1 = first_round(contest, marks, excluded=excluded, overvote_rule=OvervoteRule(rules["overvoteRule"]),
                     max_skipped=None if ms == "unlimited" else int(ms),
                     exhaust_on_duplicate=bool(rules.get("exhaustOnDuplicateCandidate")))
    return {c.name: int(v) for c, v in zip(contest.choices, r1.tallies[0]) if v}


def read_case(case):
    folder, config, expected = rctab_case(case)
    (source,) = config["cvrFileSources"]
    assert source["provider"] == "ess"
    options = ess.options_from_rctab_source(source, config["candidates"], config["rules"])
    return ess.read([folder / source["filePath"]], **options), config, expected


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in BIG else c for c in CASES])
def test_rctab_case_round_one_and_ballot_count(case):
    election, config, expected = read_case(case)
    (contest,) = election.contests
    excluded = {c["name"] for c in config["candidates"] if c.get("excluded")}
    want = {k: int(v) for k, v in expected["results"][0]["tally"].items() if int(v)}
    assert round_one(contest, election.cards.marks[0], config["rules"], excluded) == want
    assert election.n_cards == int(expected["summary"]["totalNumBallots"])


@pytest.mark.parametrize("case", sorted(EMPTY_ROW_CASES))
def test_empty_row_elements_are_ballots_only_with_rctabs_rule(case):
    folder = need(RCTAB / case)
    config = json.loads((folder / f"{case}_config.json").read_text())
    (source,) = config["cvrFileSources"]
    options = ess.options_from_rctab_source(source, config["candidates"], config["rules"])
    with_rule = ess.read([folder / source["filePath"]], **options)
    without = ess.read([folder / source["filePath"]], **{**options, "rctab_empty_rows": False})
    expected = json.loads((folder / f"{case}_expected_detailed_report.json").read_text())
    assert without.n_cards == EMPTY_ROW_CASES[case]
    assert with_rule.n_cards == int(expected["summary"]["totalNumBallots"]) > without.n_cards
    blank = with_rule.take(np.arange(without.n_cards, with_rule.n_cards))
    assert not blank.cards.marks[0].masks.any()  # the three empty rows rank no one


@pytest.mark.slow
def test_minneapolis_rows_carry_precinct_and_count_ids():
    election, _config, _expected = read_case("2013_minneapolis_mayor")
    precinct = election.cards.attribute("precinct")
    assert election.cards.card_id[:2].tolist() == ["2-1", "3-1"]  # spreadsheet row, ballot 1 of COUNT
    assert precinct.values()[:2] == ["MINNEAPOLIS W-7 P-10", "MINNEAPOLIS W-10 P-06"]
    assert len(precinct.labels) > 100
    uwi = [c for c in election.contests[0].choices if c.undeclared]
    assert [(c.id, c.name, c.write_in) for c in uwi] == [("UWI", ess.UWI_NAME, True)]


def test_batch_column_and_aliased_codes():
    election, _c, _e = read_case("batch_example")
    assert election.cards.attribute("batch").values()[0] == "MINNEAPOLIS W-10 P-02"
    election, _c, _e = read_case("2015_portland_mayor_codes")
    contest = election.contests[0]
    assert contest.choices[contest.choice_index("MFB")].name == "Brennan, Michael F."  # codes map to names
    assert contest.ranks == 15


def test_overvote_delimiter_gives_known_choices():
    election, _c, _e = read_case("exhaust_if_multiple_continuing")
    contest = election.contests[0]
    a, d = contest.choice_index("A"), contest.choice_index("D")
    assert election.cards.marks[0].masks[0, 0] == (1 << a) | (1 << d)


def test_rctab_xlsx_renderings_of_cdf_test_sets_count_like_the_cdf_expectation():
    """test_set_N ship an .xlsx beside the CDF json their config reads; read it by header (names A-D → aliases)."""
    cases = sorted(need(RCTAB).glob("test_set_[0-7]_*/*_cvr.xlsx"))
    assert len(cases) >= 6
    for xlsx in cases:
        case = xlsx.parent.name
        _folder, config, expected = rctab_case(case)
        candidates = [{"name": c["name"], "aliases": [c["name"].split()[1]]} for c in config["candidates"]]
        election = ess.read([xlsx], candidates=candidates)
        want = {k: int(v) for k, v in expected["results"][0]["tally"].items() if int(v)}
        assert round_one(election.contests[0], election.cards.marks[0], config["rules"]) == want, case
        assert election.n_cards == int(expected["summary"]["totalNumBallots"]), case


def test_portland_layout_is_inferred_from_the_header():
    path = need(RCTAB / "2015_portland_mayor" / "2015_portland_mayor_cvr.xlsx")
    election = ess.read([path])
    (contest,) = election.contests
    assert (contest.name, contest.kind, contest.ranks) == ("For Mayor", ContestKind.RANKED, 15)
    assert election.cards.card_id[:2].tolist() == ["1", "2"]  # the Cast Vote Record column
    assert election.cards.attribute("style").values()[0] == "D Cliff and GDI"
    assert "Haadoow, Hamza A." in contest.choice_names  # trimmed
    assert ess.sniff(path)


# options -------------------------------------------------------------------------------------------------------------
def test_options_from_rctab_source_maps_every_key():
    source = {"provider": "ess", "filePath": "x.xlsx", "firstVoteColumnIndex": "4", "firstVoteRowIndex": 2,
              "idColumnIndex": "1", "precinctColumnIndex": "2", "batchColumnIndex": "", "overvoteDelimiter": "",
              "overvoteLabel": "overvote", "undervoteLabel": "undervote", "undeclaredWriteInLabel": "",
              "treatBlankAsUndeclaredWriteIn": False}
    candidates = [{"name": "A", "aliases": ["a1"], "excluded": True}, {"name": "B"}]
    opts = ess.options_from_rctab_source(source, candidates, {"maxRankingsAllowed": "15",
                                                              "treatBlankAsUndeclaredWriteIn": True})
    assert opts == {"first_vote_column": 4, "first_vote_row": 2, "id_column": 1, "precinct_column": 2,
                    "overvote_delimiter": None, "overvote_label": "overvote", "skipped_rank_label": "undervote",
                    "undeclared_write_in_label": None, "treat_blank_as_undeclared_write_in": True,
                    "max_rankings": 15, "rctab_empty_rows": True,
                    "candidates": [{"name": "A", "aliases": ["a1"]}, {"name": "B", "aliases": []}]}
    assert "max_rankings" not in ess.options_from_rctab_source({}, (), {"maxRankingsAllowed": "max"})
    with pytest.raises(ConfigError, match="firstVoteColumnIndex"):
        ess.options_from_rctab_source({"firstVoteColumnIndex": "B"})
    with pytest.raises(ConfigError, match="maxRankingsAllowed"):
        ess.options_from_rctab_source({}, (), {"maxRankingsAllowed": "lots"})


def test_unknown_or_bad_options_are_config_errors(tmp_path):
    path = write_csv(tmp_path / "a.csv", ["Cast Vote Record,Choice 1", "1,A"])
    with pytest.raises(ConfigError, match="frist_vote_column"):
        ess.read([path], frist_vote_column=2)
    with pytest.raises(ConfigError, match="first_vote_column"):
        ess.read([path], first_vote_column=0)
    with pytest.raises(ConfigError, match="candidates"):
        ess.read([path], candidates=[{"nom": "A"}])
    with pytest.raises(ConfigError, match="max_rankings"):
        ess.read([path], max_rankings="three")


# synthetic layouts ---------------------------------------------------------------------------------------------------
def write_csv(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_multi_contest_blank_is_absent_undervote_is_present(tmp_path):
    path = write_csv(tmp_path / "multi.csv", [
        "Cast Vote Record,Precinct,Ballot Style,Mayor,Council,Council,RCV Choice 1 (9),RCV Choice 2 (9)",
        "1,P1,S1,Alice,Xavier,Yolanda,Pat,Quinn",
        "2,P1,S1,undervote,Xavier,undervote,undervote,Pat",
        "3,P2,S2,overvote,,,overvote,undervote",
        "4,P2,S2,Write-in,overvote,overvote,Pat|Quinn,",
    ])
    e = ess.read([path])
    mayor, council, rcv = e.contests
    assert (mayor.kind, council.kind, council.votes_allowed, rcv.kind, rcv.id, rcv.ranks) == \
        (ContestKind.PLURALITY, ContestKind.VOTE_FOR_N, 2, ContestKind.RANKED, "9", 2)
    m, c, r = e.cards.marks
    assert m.present.tolist() == [True] * 4
    assert m.masks.tolist() == [1, 0, mayor.overvote_flag, 1 << mayor.choice_index(ess.UWI_NAME)]
    assert mayor.choices[mayor.choice_index(ess.UWI_NAME)].undeclared
    assert c.present.tolist() == [True, True, False, True]  # card 3: not on its ballot style
    assert c.masks.tolist() == [0b11, 0b01, 0, council.overvote_flag]
    assert r.masks.tolist() == [[1, 2], [0, 1], [rcv.overvote_flag, 0], [0b11, 0]]
    assert e.cards.attribute("style").values() == ["S1", "S1", "S2", "S2"]


def test_nyc_headers_and_numeric_candidacy_ids(tmp_path):
    path = write_csv(tmp_path / "nyc.csv", [
        "Cast Vote Record,Precinct,DEM Mayor Choice 1 of 3 Citywide (026916),"
        "DEM Mayor Choice 2 of 3 Citywide (026917),DEM Mayor Choice 3 of 3 Citywide (026918)",
        "101,AD 65,12345,undervote,Write-in",
        "102,AD 65,23456,12345,undervote",
    ])
    (contest,) = ess.read([path]).contests
    assert (contest.name, contest.ranks) == ("DEM Mayor Citywide", 3)
    assert sorted(contest.choice_names) == ["12345", "23456", ess.UWI_NAME]


def test_minneapolis_count_expands_rows_into_ballots(tmp_path):
    path = write_csv(tmp_path / "mpls.csv", [
        "Precinct,1ST CHOICE MAYOR MINNEAPOLIS,2ND CHOICE MAYOR MINNEAPOLIS,COUNT",
        "W-1 P-1,BETSY HODGES,MARK ANDREW,3",
        "W-1 P-2,MARK ANDREW,undervote,1",
    ])
    e = ess.read([path])
    assert e.contests[0].name == "MAYOR MINNEAPOLIS"
    assert e.cards.card_id.tolist() == ["2-1", "2-2", "2-3", "3-1"]
    assert e.cards.attribute("precinct").values() == ["W-1 P-1"] * 3 + ["W-1 P-2"]
    assert e.cards.marks[0].masks.tolist() == [[1, 2]] * 3 + [[2, 0]]


def test_offset_xlsx_is_read_in_place(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate([["Cast Vote Record", "Choice 1", "Choice 2"], [7, "B", "A"], [8, "A", None]], start=1):
        for c, v in enumerate(row, start=3):  # data starts in column C
            ws.cell(r, c, v)
    wb.save(tmp_path / "offset.xlsx")
    e = ess.read([tmp_path / "offset.xlsx"], first_vote_column=4, id_column=3)
    assert e.cards.card_id.tolist() == ["7", "8"]
    assert e.contests[0].choice_names == ["B", "A"]
    assert e.cards.marks[0].masks.tolist() == [[1, 2], [2, 0]]
    assert ess.sniff(tmp_path / "offset.xlsx")


def test_several_files_are_one_election_with_file_prefixed_ids(tmp_path):
    a = write_csv(tmp_path / "a.csv", ["Precinct,1st Choice,2nd Choice", "P1,A,B"])
    b = write_csv(tmp_path / "b.csv", ["Precinct,1st Choice,2nd Choice", "P2,B,undervote"])
    e = read_cvrs([a, b], "ess")
    assert e.cards.card_id.tolist() == ["a.csv:2", "b.csv:2"]
    assert len(e.contests) == 1 and e.contests[0].choice_names == ["A", "B"]
    assert e.meta["format"] == "ess"


def test_contest_name_selects_one_contest(tmp_path):
    path = write_csv(tmp_path / "m.csv", ["Cast Vote Record,Mayor,Sheriff", "1,A,X"])
    e = ess.read([path], contest_name="sheriff", candidates=["X", "Y"])
    assert [c.name for c in e.contests] == ["Sheriff"] and e.contests[0].choice_names == ["X", "Y"]
    with pytest.raises(FormatError, match="no contest named 'Judge'"):
        ess.read([path], contest_name="Judge")
    with pytest.raises(ConfigError, match="contest_name"):
        ess.read([path], candidates=["X"])


def test_title_rows_folders_and_encodings(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "part1.csv").write_bytes("Report title\nCast Vote Record,Choice 1\n1,Jos\u00e9\n".encode("cp1252"))
    (folder / "part2.csv").write_bytes("Report title\nCast Vote Record,Choice 1\n2,Ann\n".encode("cp1252"))
    e = ess.read([folder], first_vote_row=3, encoding="cp1252", contest_name="Mayor")
    assert e.cards.card_id.tolist() == ["1", "2"]
    assert (e.contests[0].name, e.contests[0].choice_names) == ("Mayor", ["Jos\u00e9", "Ann"])
    with pytest.raises(FormatError, match="part1.csv"):
        ess.read([folder], first_vote_row=3)  # not UTF-8


def test_file_without_header_needs_the_columns(tmp_path):
    path = write_csv(tmp_path / "nh.csv", ["1,A,B", "2,B,undervote"])
    e = ess.read([path], first_vote_row=1, first_vote_column=2, id_column=1, contest_name="Mayor")
    assert (e.contests[0].name, e.cards.card_id.tolist()) == ("Mayor", ["1", "2"])
    assert e.cards.marks[0].masks.tolist() == [[1, 2], [2, 0]]
    with pytest.raises(FormatError, match="no header row to infer the layout"):
        ess.read([path], first_vote_row=1)


# bad input -----------------------------------------------------------------------------------------------------------
def test_marks_past_max_rankings_are_an_error(tmp_path):
    """RCTab's max_ranking_enforcement case (a generic-CSV file there), in ES&S shape."""
    path = write_csv(tmp_path / "four.csv", ["Cast Vote Record,Choice 1,Choice 2,Choice 3,Choice 4",
                                             "1,A,B,C,undervote", "2,A,B,C,D"])
    with pytest.raises(FormatError, match=r"four.csv, record 3, field 'Choice 4': rank 4 is marked"):
        ess.read([path], max_rankings=3)
    e = ess.read([write_csv(tmp_path / "ok.csv", ["Cast Vote Record,Choice 1,Choice 2,Choice 3,Choice 4",
                                                  "1,A,B,C,undervote", "2,A,,C,"])], max_rankings=3)
    assert e.contests[0].ranks == 3


def test_unknown_candidate_names_file_row_and_column(tmp_path):
    path = write_csv(tmp_path / "u.csv", ["Cast Vote Record,Choice 1,Choice 2", "1,A,B", "2,A,Zed"])
    with pytest.raises(UnknownIdError, match=r"u.csv, record 3, field 'Choice 2': unknown candidate 'Zed'"):
        ess.read([path], candidates=["A", "B"])


def test_duplicate_cast_vote_record_names_both_rows(tmp_path):
    path = write_csv(tmp_path / "d.csv", ["Cast Vote Record,Choice 1", "5,A", "6,A", "5,B"])
    with pytest.raises(DuplicateCardError, match=r"d.csv, record 4, field 'Cast Vote Record'.*first at .*d.csv, row 2"):
        ess.read([path])


@pytest.mark.parametrize("count", ["two", "0", "1.5", ""])
def test_bad_count_is_an_error(tmp_path, count):
    path = write_csv(tmp_path / "c.csv", ["Precinct,1st Choice,Count", "P1,A,1", f"P1,B,{count}"])
    with pytest.raises(FormatError, match=r"c.csv, record 3, field 'Count': ballot count"):
        ess.read([path])


def test_truncated_and_corrupt_xlsx_are_errors(tmp_path):
    good = need(RCTAB / "_shared" / "simple_ess_cvr.xlsx").read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(good[: len(good) // 2])
    with pytest.raises(FormatError, match="cut.xlsx.*unreadable spreadsheet"):
        ess.read([tmp_path / "cut.xlsx"])
    (tmp_path / "junk.xlsx").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(FormatError, match="junk.xlsx"):
        ess.read([tmp_path / "junk.xlsx"])
    assert not ess.sniff(tmp_path / "junk.xlsx")


def test_truncated_csv_row_and_blank_delimited_part_are_errors(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("Cast Vote Record,Choice 1,Choice 2,Choice 3\n1,A,B,C\n2,A")
    with pytest.raises(FormatError, match=r"t.csv, record 3.*truncated"):
        ess.read([path])
    path = write_csv(tmp_path / "p.csv", ["Cast Vote Record,Choice 1", "1,A|"])
    with pytest.raises(FormatError, match=r"p.csv, record 2, field 'Choice 1'.*blank or skipped part"):
        ess.read([path])
    path = write_csv(tmp_path / "i.csv", ["Cast Vote Record,Choice 1", "1,A", ",B"])
    with pytest.raises(FormatError, match=r"i.csv, record 3, field 'Cast Vote Record': blank card id"):
        ess.read([path])


def test_csv_row_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text('Cast Vote Record,Choice 1\n1,A\n\n2,"B\nC"\n,\n\n3,Zed\n')
    with pytest.raises(UnknownIdError, match=r"gap.csv, record 7, field 'Choice 1': unknown candidate 'Zed'"):
        ess.read([path], candidates=["A", "B\nC"])
    assert ess.read([path]).cards.card_id.tolist() == ["1", "2", "3"]


@pytest.mark.parametrize("tail", ['3,"Ann\n', '3,"Ann', '3,"Ann\n4,Bob\n'])
def test_unterminated_quote_at_the_end_is_an_error(tmp_path, tail):
    path = tmp_path / "cut.csv"
    path.write_text("Cast Vote Record,Choice 1\n1,A\n2,B\n" + tail)
    with pytest.raises(FormatError, match="cut.csv.*(unterminated quote|truncated)"):
        ess.read([path])


def test_header_without_rank_one_is_an_error(tmp_path):
    path = write_csv(tmp_path / "r.csv", ["Cast Vote Record,Choice 2,Choice 3", "1,A,B"])
    with pytest.raises(FormatError, match=r"ranks \[2, 3\]"):
        ess.read([path])


# sniffing ------------------------------------------------------------------------------------------------------------
def test_sniff_claims_ess_and_leaves_other_csvs(tmp_path):
    assert ess.sniff(write_csv(tmp_path / "a.csv", ["Cast Vote Record,Precinct,Mayor", "1,P,A"]))
    assert ess.sniff(write_csv(tmp_path / "b.csv", ["Precinct,1st Choice,2nd Choice,Count", "P,A,B,1"]))
    assert not ess.sniff(write_csv(tmp_path / "g.csv", ["id,Candidate A,Candidate B", "1,1,2"]))
    assert not ess.sniff(need(RCTAB / "clear_ballot_kansas_primary" / "clear_ballot_kansas_primary.cvr.csv"))
    assert not ess.sniff(tmp_path)
    assert ess.sniff(RCTAB / "2013_minneapolis_mayor" / "2013_minneapolis_mayor_cvr.xlsx")


# writing -------------------------------------------------------------------------------------------------------------
def builder_election():
    b = ElectionBuilder("Round trip")
    mayor = b.add_contest(Contest("mayor", "Mayor", ContestKind.PLURALITY,
                                  (Choice("a", "Alice"), Choice("b", "Bob"),
                                   Choice("w", "Write-in", write_in=True, undeclared=True))))
    council = b.add_contest(Contest("council", "City Council", ContestKind.VOTE_FOR_N,
                                    (Choice("x", "Xavier"), Choice("y", "Yolanda"), Choice("z", "Zed")),
                                    winners=2, votes_allowed=2))
    rcv = b.add_contest(Contest("rcv7", "RCV Mayor", ContestKind.RANKED,
                                (Choice("p", "Pat"), Choice("q", "Quinn"), Choice("r", "Riley")), ranks=3))
    b.start_file("memory")
    b.add_card("c1", {mayor: 0b001, council: 0b011, rcv: [0b001, 0, 0b010]}, {"precinct": "P1", "batch": "B1"})
    b.add_card("c2", {mayor: 0b100, council: 0b111, rcv: [0b011, 0b100, 0]}, {"precinct": "P2", "batch": "B1"})
    b.add_card("c3", {mayor: OVERVOTE, rcv: [OVERVOTE, 0b001, 0]}, {"precinct": "P2"})  # council absent
    b.add_card("c4", {mayor: 0b011, council: 0, rcv: [0, 0, 0]}, {"precinct": "P1", "batch": "B2"})
    b.add_card("c5", {mayor: 0, council: OVERVOTE | 0b001}, {"batch": "B2"})  # rcv absent
    b.add_card("c6", {council: 0b100, rcv: [0b100, 0b100, 0b001]}, {"precinct": "P1"})  # mayor absent
    return b.build()


def names_of(contest, mask):
    return sorted(contest.choices[i].name for i in range(len(contest.choices)) if int(mask) >> i & 1) + \
        (["<overvote>"] if int(mask) & contest.overvote_flag else [])


def test_write_then_read_reproduces_contests_and_marks(tmp_path):
    e = builder_election()
    (path,) = ess.write(e, tmp_path / "out.csv")
    header = path.read_text().splitlines()[0]
    assert header == ("Cast Vote Record,Precinct,Ballot Style,Batch,Mayor,City Council,City Council,"
                      "RCV Mayor Choice 1 (rcv7),RCV Mayor Choice 2 (rcv7),RCV Mayor Choice 3 (rcv7)")
    assert ess.sniff(path)
    back = read_cvrs(path, "ess")
    assert back.cards.card_id.tolist() == e.cards.card_id.tolist()
    for key in ("precinct", "batch"):
        assert back.cards.attribute(key).values() == e.cards.attribute(key).values()
    assert [(c.name, c.kind, c.votes_allowed, c.ranks) for c in back.contests] == \
        [(c.name, c.kind, c.votes_allowed, c.ranks) for c in e.contests]
    assert back.contests[2].id == "rcv7"
    uwi = {"Write-in": ess.UWI_NAME}
    for c0, m0, c1, m1 in zip(e.contests, e.cards.marks, back.contests, back.cards.marks):
        assert m1.present.tolist() == m0.present.tolist(), c0.name
        flat0, flat1 = m0.masks.reshape(len(e.cards), -1), m1.masks.reshape(len(e.cards), -1)
        for row0, row1 in zip(flat0, flat1):
            assert [[uwi.get(n, n) for n in names_of(c0, v)] for v in row0] == [names_of(c1, v) for v in row1]
    assert back.contests[0].choices[back.contests[0].choice_index(ess.UWI_NAME)].undeclared


def test_write_refuses_names_that_would_not_read_back(tmp_path):
    b = ElectionBuilder("x")
    b.add_contest(Contest("m", "Mayor", ContestKind.PLURALITY, (Choice("a", "A|B"),)))
    b.add_card("1", {0: 1})
    with pytest.raises(ConfigError, match="'A\\|B'"):
        ess.write(b.build(), tmp_path / "bad.csv")
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    b = ElectionBuilder("x")
    b.add_contest(Contest("m", "Precinct", ContestKind.PLURALITY, (Choice("a", "A"),)))
    b.add_card("1", {0: 1})
    with pytest.raises(ConfigError, match="'Precinct'"):
        ess.write(b.build(), tmp_path / "bad.csv")


def test_random_election_round_trips_through_csv(tmp_path):
    from ..elections import random_election

    e = random_election(np.random.default_rng(3), 3000)  # its "Write-in" line reads back as undeclared
    ess.write(e, tmp_path / "r.csv")
    back = ess.read([tmp_path / "r.csv"])
    assert back.n_cards == 3000
    for c0, m0, c1, m1 in zip(e.contests, e.cards.marks, back.contests, back.cards.marks):
        assert np.array_equal(m0.present, m1.present), c0.name
        # choices are discovered in order of appearance: compare per-card sets of names
        t0 = [names_of(c0, v) for v in m0.masks.reshape(-1)[:600]]
        t1 = [names_of(c1, v) for v in m1.masks.reshape(-1)[:600]]
        undeclared = {c.name: ess.UWI_NAME for c in c0.choices if c.write_in}
        assert [sorted(undeclared.get(n, n) for n in t) for t in t0] == [sorted(t) for t in t1]


def test_zip_of_shared_strings_is_enough_to_sniff(tmp_path):
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/sharedStrings.xml", "<sst><si><t>Cast Vote Record</t></si></sst>")
    assert ess.sniff(path)
