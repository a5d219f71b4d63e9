from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from veritally.builder import OVERVOTE, ElectionBuilder
from veritally.errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from veritally.formats import generic_csv, read_cvrs
from veritally.model import Choice, Contest, ContestKind
from veritally.tabulate import tabulate
from veritally.tabulate.ranked import OvervoteRule, first_round

from .._shared import RCTAB, need
from ..elections import council, mayor, random_election, rcv, small_election

CASES = ["generic_csv_test", "csv_missing_header_test"]


def rctab_case(case: str, expected: bool = True):
    folder = need(RCTAB / case)
    config = json.loads((folder / f"{case}_config.json").read_text())
    (source,) = config["cvrFileSources"]
    assert source["provider"] == "genericCsv"
    options = generic_csv.options_from_rctab_source(source, config["candidates"], config["rules"])
    report = json.loads((folder / f"{case}_expected_detailed_report.json").read_text()) if expected else None
    return folder / source["filePath"], options, config, report


def round_one(contest, marks, rules):
    ms = rules["maxSkippedRanksAllowed"]
    r1 = first_round(contest, marks, overvote_rule=OvervoteRule(rules["overvoteRule"]),
                     max_skipped=None if ms == "unlimited" else int(ms),
                     exhaust_on_duplicate=bool(rules.get("exhaustOnDuplicateCandidate")))
    return {c.name: int(v) for c, v in zip(contest.choices, r1.tallies[0]) if v}


@pytest.mark.parametrize("case", CASES)
def test_rctab_case_round_one_and_ballot_count(case):
    path, options, config, expected = rctab_case(case)
    election = generic_csv.read([path], **options)
    (contest,) = election.contests
    want = {k: int(v) for k, v in expected["results"][0]["tally"].items() if int(v)}
    assert round_one(contest, election.cards.marks[0], config["rules"]) == want
    assert election.n_cards == int(expected["summary"]["totalNumBallots"])


def test_max_ranking_enforcement_is_an_error_naming_row_and_candidate():
    path, options, _config, _expected = rctab_case("max_ranking_enforcement", expected=False)
    assert options["max_rankings"] == 3
    with pytest.raises(FormatError, match="rank 4 is more than the contest allows") as e:
        generic_csv.read([path], **options)
    assert (e.value.record, e.value.field, e.value.file) == (2, "Candidate D", str(path))
    del options["max_rankings"]
    assert generic_csv.read([path], **options).contests[0].ranks == 4


def slice_ballots(folder, kind):
    """Total ballots per slice from RCTab's expected per-precinct / per-batch reports."""
    out = {}
    for report in (folder / f"Tabulate by {kind}").glob("*.csv"):
        rows = {r[0]: r[1] for r in csv.reader(report.open()) if len(r) > 1}
        label = report.name.removeprefix("generic_csv_test_expected_").rsplit(f"_{kind.lower()}_", 1)[0]
        out[label] = int(rows["Total Number of Ballots"])
    return out


def test_generic_csv_precinct_and_batch_columns_slice_like_rctab():
    path, options, _config, _expected = rctab_case("generic_csv_test")
    election = generic_csv.read([path], **options)
    assert options["id_column"] == 1 and election.cards.card_id[0] == "R_3QEQ85E7gV2DuyG"
    for kind, attr, missing in (("Precinct", "precinct", "no_precinct_id"), ("Batch", "batch", "no_batch_id")):
        want = slice_ballots(path.parent, kind)
        values = election.cards.attribute(attr).values()
        got = {label: values.count(None if label == missing else label) for label in want}
        assert got == want and len(want) == 3


def test_missing_header_layout_ids_are_row_numbers_and_uwi_is_named_like_rctab():
    path, options, _config, _expected = rctab_case("csv_missing_header_test")
    election = generic_csv.read([path], **options)
    assert election.cards.card_id[:2].tolist() == ["2", "3"]
    (contest,) = election.contests
    uwi = contest.choices[-1]
    assert (uwi.id, uwi.name, uwi.undeclared, uwi.write_in) == ("Write-In", "Undeclared Write-ins", True, True)
    assert election.meta["layout"] == "rctab genericCsv"
    assert not generic_csv.sniff(path)


def test_rctab_source_options_map_to_reader_options():
    source = {"firstVoteColumnIndex": "4", "firstVoteRowIndex": "2", "idColumnIndex": "", "precinctColumnIndex": "2",
              "batchColumnIndex": "", "contestId": "", "undeclaredWriteInLabel": "Write-In"}
    opts = generic_csv.options_from_rctab_source(source, [{"name": "A", "aliases": [], "excluded": False}],
                                                 {"maxRankingsAllowed": "15"})
    assert opts == {"first_vote_column": 4, "first_vote_row": 2, "precinct_column": 2,
                    "undeclared_write_in_label": "Write-In", "candidates": [{"name": "A", "aliases": []}],
                    "max_rankings": 15}
    with pytest.raises(ConfigError, match="firstVoteColumnIndex must be a number"):
        generic_csv.options_from_rctab_source({"firstVoteColumnIndex": "D"})


def test_rctab_layout_candidate_list_orders_choices_and_refuses_unknown_names(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text("id,Ann,Bo,Cy\nr1,1,,2\nr2,,1,\nr3,,,\n")
    with pytest.raises(UnknownIdError, match="candidate 'Bo' is not in the candidate list") as e:
        generic_csv.read([path], first_vote_column=2, id_column=1, candidates=["Cy", "Ann"])
    assert e.value.field == "column 3"
    election = generic_csv.read([path], first_vote_column=2, id_column=1,
                                candidates=["Cy", ("Ann", ["A"]), {"name": "Bob", "aliases": ["Bo"]}, "Di"])
    (contest,) = election.contests
    assert contest.choice_names == ["Cy", "Ann", "Bob", "Di"] and contest.name == "survey"
    marks = election.cards.marks[0]
    assert marks.masks.tolist() == [[0b010, 0b001], [0b100, 0], [0, 0]]
    assert marks.present.all()  # every row is a ballot, ranking nobody included (RCTab's undervote)


# round trips ---------------------------------------------------------------------------------------------------------
def assert_identical(a, b):
    assert b.name == a.name
    assert b.contests == a.contests
    assert b.cards.card_id.tolist() == a.cards.card_id.tolist()
    for x, y in zip(a.cards.marks, b.cards.marks):
        assert np.array_equal(x.present, y.present)
        assert np.array_equal(x.masks, y.masks) and x.masks.dtype == y.masks.dtype
    assert ({k: v.values() for k, v in b.cards.attributes.items()}
            == {k: v.values() for k, v in a.cards.attributes.items()})


def test_round_trip_of_every_kind_of_mark_is_lossless(tmp_path):
    """Plurality, vote-for-2, threshold, ranked; overvotes named and labelled; write-ins; absent contests."""
    election = small_election()
    out = tmp_path / "small.csv"
    assert generic_csv.write(election, out) == [out, tmp_path / "small.contests.json"]
    assert generic_csv.sniff(out)
    assert_identical(election, generic_csv.read([out]))
    assert_identical(election, read_cvrs(out, fmt="csv"))


def test_round_trip_of_random_elections(tmp_path):
    for seed in range(3):
        election = random_election(np.random.default_rng(seed), 300)
        out = tmp_path / f"random{seed}.csv"
        generic_csv.write(election, out)
        assert_identical(election, generic_csv.read([out]))


def repeated_and_duplicate_names():
    b = ElectionBuilder("names")
    twin = Contest("c2", "Mayor", ContestKind.PLURALITY, (Choice("a", "Ann"), Choice("b", "Ann")))
    r = b.add_contest(rcv())
    m1, m2 = b.add_contest(mayor()), b.add_contest(twin)
    b.start_file("x")
    b.add_card("1", {r: [0b0001, 0b0010, 0b0001], m1: 1, m2: 2})  # Pat ranked first and third
    b.add_card("2", {r: [0, 0b0100, 0], m2: 1})  # a skipped first rank
    b.add_card("3", {r: [0b0110, OVERVOTE, 0]})
    return b.build()


def test_round_trip_with_a_choice_ranked_twice_and_names_that_repeat(tmp_path):
    election = repeated_and_duplicate_names()
    out = tmp_path / "names.csv"
    generic_csv.write(election, out)
    header, first, *_rest = out.read_text().splitlines()
    assert '"mayor: Alice"' in header and '"c2: a"' in header  # ids where contest or choice names repeat
    assert '"1|3"' in first
    assert_identical(election, generic_csv.read([out]))


def test_without_the_sidecar_rules_are_inferred(tmp_path):
    b = ElectionBuilder("infer")
    m, c, r = b.add_contest(mayor()), b.add_contest(council()), b.add_contest(rcv())
    b.start_file("x")
    b.add_card("1", {m: 0b001, c: 0b011, r: [1, 2, 0]})
    b.add_card("2", {m: 0b010, c: 0b100, r: [4, 0, 0]})
    out = tmp_path / "infer.csv"
    generic_csv.write(b.build(), out)
    generic_csv.sidecar_path(out).unlink()
    mayor_, council_, rcv_ = generic_csv.read([out]).contests
    assert (mayor_.kind, mayor_.votes_allowed, mayor_.id) == (ContestKind.PLURALITY, 1, "Mayor")
    assert (council_.kind, council_.votes_allowed, council_.winners) == (ContestKind.VOTE_FOR_N, 2, 2)
    assert (rcv_.kind, rcv_.ranks) == (ContestKind.RANKED, 2)  # the highest rank any card used
    assert mayor_.choices[2].write_in and rcv_.choices[3].undeclared


def test_hand_written_file_without_sidecar(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("card_id,precinct,Mayor:Alice,Mayor:Bob,Mayor:(overvote),Prop 1: Yes,Prop 1: No\n"
                    "a,P1,1,,,1,0\n"
                    "b,,,,1,,\n"
                    "c,P2,0,0,0,0,1\n")
    election = generic_csv.read([path], undeclared_write_in_label="Bob")
    mayor_, prop = election.contests
    assert mayor_.choices[1].name == "Undeclared Write-ins" and mayor_.choices[1].aliases == ("Bob",)
    assert election.cards.marks[0].masks.tolist() == [1, mayor_.overvote_flag, 0]
    assert prop.name == "Prop 1" and election.cards.marks[1].present.tolist() == [True, False, True]
    assert election.cards.attribute("precinct").values() == ["P1", None, "P2"]
    (only,) = generic_csv.read([path], contest_name="prop 1").contests
    assert only.name == "Prop 1"


def test_write_refuses_what_a_header_cannot_hold(tmp_path):
    b = ElectionBuilder()
    m = b.add_contest(Contest("m", "Mayor ", ContestKind.PLURALITY, (Choice("a", "A"),)))
    b.start_file("x")
    b.add_card("1", {m: 1})
    with pytest.raises(ConfigError, match="cannot be a CSV header part"):
        generic_csv.write(b.build(), tmp_path / "x.csv")


# malformed input -----------------------------------------------------------------------------------------------------
HEADER = "card_id,precinct,Mayor: Alice,Mayor: Bob,RCV: Pat,RCV: Quinn\n"


def write_rows(tmp_path, rows, name="bad.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_truncated_row_names_its_row(tmp_path):
    path = write_rows(tmp_path, ["1,P,1,0,1,2", "2,P,0,1,2"])
    with pytest.raises(FormatError, match="row has 5 cells, the header 6") as e:
        generic_csv.read([path])
    assert e.value.record == 3


@pytest.mark.parametrize("cell", ["x", "1|x", "-1", "1.5"])
def test_non_numeric_cell_names_row_and_column(tmp_path, cell):
    path = write_rows(tmp_path, ["1,P,1,0,1,2", "", f"2,P,0,1,{cell},1"])  # the blank line is row 3
    with pytest.raises(FormatError, match="is not a rank number") as e:
        generic_csv.read([path])
    assert (e.value.record, e.value.field) == (4, "RCV: Pat")


def test_a_rank_in_a_non_ranked_sidecar_contest_is_an_error(tmp_path):
    out = tmp_path / "s.csv"
    generic_csv.write(small_election(), out)
    lines = out.read_text().splitlines()
    lines[2] = lines[2].replace('"P1",0,1', '"P1",0,2', 1)
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="rank 2 is more than the contest allows") as e:
        generic_csv.read([out])
    assert (e.value.record, e.value.field, e.value.expected) == (3, "Mayor: Bob", "a mark (1) or 0")


def test_unknown_column_shape(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("card_id,ward,Mayor: Alice\n1,W,1\n")
    with pytest.raises(FormatError, match="unknown column") as e:
        generic_csv.read([path])
    assert (e.value.field, e.value.record) == ("ward", 1)
    out = tmp_path / "s.csv"
    generic_csv.write(small_election(), out)
    out.write_text(out.read_text().replace("Mayor: Bob", "Mayor: Robert", 1))
    with pytest.raises(FormatError, match="column not in the contests sidecar") as e:
        generic_csv.read([out])
    assert e.value.field == "Mayor: Robert"


def test_duplicate_card_id_names_both_rows(tmp_path):
    path = write_rows(tmp_path, ["1,P,1,0,1,2", "2,P,0,1,2,1", "1,Q,0,0,0,0"])
    with pytest.raises(DuplicateCardError, match=r"card id 1 appears twice \(first at .*bad.csv, row 2\)") as e:
        generic_csv.read([path])
    assert (e.value.record, e.value.field) == (4, "card_id")


def test_empty_file_blank_id_and_wrong_first_column(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="empty file"):
        generic_csv.read([empty])
    with pytest.raises(FormatError, match="blank card id") as e:
        generic_csv.read([write_rows(tmp_path, ["1,P,1,0,1,2", " ,P,0,1,2,1"])])
    assert e.value.record == 3
    survey = tmp_path / "survey.csv"
    survey.write_text("id,Ann,Bo\nr1,1,2\n")
    with pytest.raises(FormatError, match="first column is not card_id"):
        generic_csv.read([survey])


def test_header_only_file_has_no_cards(tmp_path):
    election = generic_csv.read([write_rows(tmp_path, [])])
    assert election.n_cards == 0 and [c.name for c in election.contests] == ["Mayor", "RCV"]


def test_options_are_checked(tmp_path):
    path = write_rows(tmp_path, ["1,P,1,0,1,2"])
    with pytest.raises(ConfigError, match="apply to RCTab's generic CSV layout"):
        generic_csv.read([path], id_column=1)
    with pytest.raises(ConfigError, match="unknown CSV option"):
        generic_csv.read([path], delimiter=";")
    with pytest.raises(ConfigError, match="first_vote_row must be 2 or more"):
        generic_csv.read([path], first_vote_column=2, first_vote_row=1)
    with pytest.raises(ConfigError, match="but .* has 6 columns"):
        generic_csv.read([path], first_vote_column=9)


def test_many_blocks_a_late_two_rank_cell_and_a_late_bad_cell(tmp_path, monkeypatch):
    """Arrow reads in blocks: a "1|3" cell after the first block re-reads the file as text, from a clean slate."""
    monkeypatch.setattr("veritally.formats._csvio._BLOCK", 1 << 10)
    b = ElectionBuilder("late")
    r = b.add_contest(rcv())
    b.start_file("x")
    for i in range(400):
        b.add_card(str(i), {r: [0b001, 0b010, 0]}, {"precinct": f"P{i % 7}"})
    b.add_card("last", {r: [0b001, 0, 0b001]})
    election = b.build()
    out = tmp_path / "late.csv"
    generic_csv.write(election, out)
    assert_identical(election, generic_csv.read([out]))
    lines = out.read_text().splitlines()
    lines[350] = '"349","P6","x",2,0,0'
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="cell 'x' is not a rank number") as e:
        generic_csv.read([out])
    assert (e.value.record, e.value.field) == (351, "RCV Mayor: Pat")


def test_without_a_sidecar_a_few_overvotes_do_not_make_a_vote_for_two_contest(tmp_path):
    rows = ["card_id,Mayor: Ann,Mayor: Bob,Council: X,Council: Y,Council: Z"]
    for i in range(100):
        ann = 1 if i % 2 else 0
        over = i < 1  # one overvoted Mayor card in a hundred
        council = "1,1,0" if i % 3 else "1,0,0"  # two of three choices on most cards: vote for 2
        rows.append(f"{i},{1 if over else ann},{1 if over else 1 - ann},{council}")
    path = tmp_path / "cvrs.csv"
    path.write_text("\n".join(rows) + "\n")
    e = generic_csv.read([path])
    mayor, council = e.contests
    assert (mayor.kind, mayor.votes_allowed) == (ContestKind.PLURALITY, 1)
    assert (council.kind, council.votes_allowed, council.winners) == (ContestKind.VOTE_FOR_N, 2, 2)
    assert tabulate(e).contest("Mayor").total.overvoted_cards[0] == 1
    assert "inferred" in e.meta["rules"]
