from __future__ import annotations

import json

import numpy as np
import pytest

from veritally.builder import OVERVOTE, ElectionBuilder
from veritally.errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from veritally.formats import clearballot, read_cvrs
from veritally.model import Choice, Contest, ContestKind
from veritally.tabulate import tabulate
from veritally.tabulate.ranked import OvervoteRule, first_round

from .._shared import RCTAB, need
from ..elections import council, mayor, rcv

CASES = ["clear_ballot_kansas_primary", "clear_ballot_with_inline_comma"]
FIXED = ",".join(clearballot.FIXED_COLUMNS)


def rctab_case(case: str):
    folder = need(RCTAB / case)
    config = json.loads((folder / f"{case}_config.json").read_text())
    expected = json.loads((folder / f"{case}_expected_detailed_report.json").read_text())
    (source,) = config["cvrFileSources"]
    assert source["provider"] == "clearBallot"
    options = clearballot.options_from_rctab_source(source, config["candidates"], config["rules"])
    return clearballot.read([folder / source["filePath"]], **options), config, expected


def round_one(contest, marks, rules):
    ms = rules["maxSkippedRanksAllowed"]
    r1 = first_round(contest, marks, overvote_rule=OvervoteRule(rules["overvoteRule"]),
                     max_skipped=None if ms == "unlimited" else int(ms),
                     exhaust_on_duplicate=bool(rules.get("exhaustOnDuplicateCandidate")))
    return {c.name: int(v) for c, v in zip(contest.choices, r1.tallies[0]) if v}, r1


@pytest.mark.parametrize("case", CASES)
def test_rctab_case_round_one_and_ballot_count(case):
    election, config, expected = rctab_case(case)
    (contest,) = election.contests
    want = {k: int(v) for k, v in expected["results"][0]["tally"].items() if int(v)}
    got, _r1 = round_one(contest, election.cards.marks[0], config["rules"])
    assert got == want
    assert election.n_cards == int(expected["summary"]["totalNumBallots"])


def test_inline_comma_contest_keeps_its_comma_and_rctab_inactive_counts_agree():
    election, config, expected = rctab_case("clear_ballot_with_inline_comma")
    (contest,) = election.contests
    assert contest.name == "City of Portland, Auditor" and contest.ranks == 2
    # config order; "Invalid" has no column: a choice nobody marked, as RCTab lists it with 0
    assert contest.choice_names == ["Simone test Rede", "Write-in-28", "Invalid", "Lisa Simpson"]
    assert [c.id for c in contest.choices] == ["6", "28", "Invalid", "50009"]
    assert contest.choices[1].write_in and not contest.choices[1].undeclared
    _got, r1 = round_one(contest, election.cards.marks[0], config["rules"])
    assert int(r1.inactive["exhaustedChoices"][0]) == int(expected["results"][0]["inactiveBallots"]["exhaustedChoices"])
    assert int(r1.inactive["didNotRankAnyCandidates"][0]) == expected["summary"]["undervotes"]


def test_kansas_card_ids_and_attributes_come_from_the_fixed_columns():
    election, _config, _expected = rctab_case("clear_ballot_kansas_primary")
    cards = election.cards
    assert cards.card_id[:2].tolist() == ["ED-004+10003", "ED-004+10005"]
    assert cards.attribute("batch").values()[0] == "ED-004"
    assert cards.attribute("tabulator").values()[0] == "Don-DeFord"
    assert cards.attribute("precinct").values()[0] == "1"
    assert cards.attribute("style").values()[0] == "10"
    assert cards.attribute("precinct_portion").values()[0] == "Precinct"
    assert election.meta["format"] == "clearballot"


def test_without_options_every_contest_is_read_and_ranks_make_it_ranked():
    path = need(RCTAB / "clear_ballot_kansas_primary" / "clear_ballot_kansas_primary.cvr.csv")
    election = clearballot.read([path])
    (contest,) = election.contests
    assert (contest.name, contest.kind, contest.ranks, contest.winners) == ("Democratic Primary",
                                                                           ContestKind.RANKED, 5, 1)
    assert contest.choices[0] == Choice("1", "Michael Bennet", party="Democratic")
    assert clearballot.sniff(path)


def test_rctab_source_options_map_to_reader_options():
    source = {"contestId": "Mayor", "undeclaredWriteInLabel": "", "provider": "clearBallot"}
    opts = clearballot.options_from_rctab_source(source, [{"name": "A", "aliases": ["a"], "excluded": True}],
                                                 {"maxRankingsAllowed": "max"})
    assert opts == {"contest_name": "Mayor", "candidates": [{"name": "A", "aliases": ["a"]}]}
    opts = clearballot.options_from_rctab_source({"contestId": "", "undeclaredWriteInLabel": "UWI"}, [],
                                                 {"maxRankingsAllowed": "4"})
    assert opts == {"undeclared_write_in_label": "UWI", "max_rankings": 4}


# synthetic files -----------------------------------------------------------------------------------------------------
def plain_file(tmp_path, rows, name="cb.csv", extra=""):
    """Arlo's plain layout: two contests, the first absent (empty cells) on some cards."""
    header = (f"{FIXED},Choice_1_1:Contest 1:Vote For 1:Choice 1-1:Non-Partisan,"
              "Choice_210_1:Contest 1:Vote For 1:Choice 1-2:Non-Partisan,"
              "Choice_34_1:Contest 2:Vote For 2:Choice 2-1:Non-Partisan,"
              "Choice_4_1:Contest 2:Vote For 2:Choice 2-2:Non-Partisan,"
              f"Choice_173_1:Contest 2:Vote For 2:Write-in:Non-Partisan{extra}")
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows))
    return path


ROWS = [
    "1,BATCH1,1,1-1-1,p,bs,ps,TABULATOR1,s,r,0,1,1,1,0",
    "2,BATCH1,2,1-1-2,p,bs,ps,TABULATOR1,s,r,1,0,1,0,1",
    "3,BATCH2,1,,p,bs,ps,TABULATOR2,s,r,,,1,1,1",
    "4,BATCH2,2,2-2-2,p,bs,ps,TABULATOR2,s,r,1,1,0,0,0",
]


def test_plain_layout_empty_cells_mean_the_contest_is_not_on_the_card(tmp_path):
    election = clearballot.read([plain_file(tmp_path, ROWS)])
    c1, c2 = election.contests
    assert (c1.kind, c1.votes_allowed) == (ContestKind.PLURALITY, 1)
    assert (c2.kind, c2.votes_allowed, c2.winners) == (ContestKind.VOTE_FOR_N, 2, 2)
    assert c2.choices[2].write_in and c2.choices[2].id == "173"
    assert election.cards.marks[0].present.tolist() == [True, True, False, True]
    assert election.cards.card_id.tolist() == ["1-1-1", "1-1-2", "BATCH2-1", "2-2-2"]  # BoxID-BoxPosition fallback
    count = tabulate(election)
    assert count.contest("Contest 1").to_json()["cards"] == 3
    assert count.contest("Contest 1").to_json()["overvotes"] == 1
    contest2 = count.contest("Contest 2").to_json()
    assert contest2["tallies"] == {"Choice 2-1": 2, "Choice 2-2": 1, "Write-in": 1}  # row 3 marks three of two
    assert (contest2["cards"], contest2["overvoted_cards"]) == (4, 1)


def test_undeclared_write_in_label_and_contest_selection(tmp_path):
    path = plain_file(tmp_path, ROWS)
    election = clearballot.read([path], contest_name="contest 2", undeclared_write_in_label="Write-in")
    (contest,) = election.contests
    assert contest.is_ranked and contest.ranks == 1  # an RCV count of a one-rank contest
    uwi = contest.choices[2]
    assert (uwi.id, uwi.name, uwi.undeclared, uwi.aliases) == ("173", "Undeclared Write-ins", True, ("Write-in",))
    with pytest.raises(UnknownIdError, match="no contest named 'Mayor'"):
        clearballot.read([path], contest_name="Mayor")


def test_candidate_list_maps_aliases_and_refuses_unknown_names(tmp_path):
    path = plain_file(tmp_path, ROWS)
    cands = [{"name": "Second", "aliases": ["Choice 2-2"]}, {"name": "First", "aliases": ["Choice 2-1"]},
             {"name": "Write-in", "aliases": []}]
    (contest,) = clearballot.read([path], contest_name="Contest 2", candidates=cands).contests
    assert contest.choice_names == ["Second", "First", "Write-in"]
    assert contest.choices[0].aliases == ("Choice 2-2",) and contest.choices[0].id == "4"
    with pytest.raises(UnknownIdError, match="'Write-in' of contest 'Contest 2' is not in the candidate list") as e:
        clearballot.read([path], contest_name="Contest 2", candidates=cands[:2])
    assert "column 15" in str(e.value)


def test_max_rankings_refuses_a_higher_rank_column(tmp_path):
    path = tmp_path / "rcv.csv"
    path.write_text(f"{FIXED},Choice_1_1:R:1:Vote For 1:A:NON,Choice_1_1:R:2:Vote For 1:A:NON,"
                    "Choice_1_1:R:3:Vote For 1:A:NON\n1,B,1,id1,p,s,ps,T,0,0,1,0,0\n")
    assert clearballot.read([path], max_rankings=3).contests[0].ranks == 3
    with pytest.raises(FormatError, match="rank 3 exceeds the 2 rankings allowed"):
        clearballot.read([path], max_rankings=2)


# round trips ---------------------------------------------------------------------------------------------------------
def numbered(contest: Contest) -> Contest:
    """The contest with numeric choice ids, as a Clear Ballot file gives them back."""
    return contest.with_choices([Choice(str(10 * (i + 1)), c.name, c.write_in, c.undeclared, c.aliases, c.party)
                                 for i, c in enumerate(contest.choices)])


def builder_election():
    b = ElectionBuilder("cb")
    plural = Contest("mayor", "Mayor", ContestKind.PLURALITY,
                     (Choice("10", "Alice", party="DEM"), Choice("20", "Bob", party="REP"),
                      Choice("30", "Write-in", write_in=True)))
    m, c, r = b.add_contest(plural), b.add_contest(numbered(council())), b.add_contest(numbered(rcv()))
    b.start_file("synthetic")
    b.add_card("a1", {m: 0b001, c: 0b011, r: [0b0001, 0, 0b0010]}, {"precinct": "P1", "batch": "B1", "tabulator": "T"})
    b.add_card("a2", {m: 0b011, c: 0b111, r: [0b0011, 0b0100, 0]}, {"precinct": "P1", "batch": "B1"})  # overvotes
    b.add_card("a3", {m: 0b100, r: [0b1000, 0, 0]}, {"precinct": "P2", "batch": "B2", "style": "S2"})  # write-ins
    b.add_card("a4", {c: 0, r: [0, 0, 0]}, {"precinct": "P2", "batch": "B1", "precinct_portion": "P2-a"})  # absent
    b.add_card("a5", {m: 0}, {"precinct": "P2"})  # no batch; council and rcv absent
    return b.build()


def assert_same_cards(a, b):
    assert b.cards.card_id.tolist() == a.cards.card_id.tolist()
    for x, y in zip(a.cards.marks, b.cards.marks):
        assert np.array_equal(x.present, y.present)
        assert np.array_equal(x.masks, y.masks) and x.masks.dtype == y.masks.dtype
    assert ({k: v.values() for k, v in b.cards.attributes.items()}
            == {k: v.values() for k, v in a.cards.attributes.items()})


def test_round_trip_keeps_cards_marks_attributes_and_contests(tmp_path):
    election = builder_election()
    out = tmp_path / "round.csv"
    assert clearballot.write(election, out) == [out]
    assert clearballot.sniff(out)
    back = clearballot.read([out])
    assert_same_cards(election, back)
    expected = [Contest(c.name, c.name, c.kind, c.choices, c.winners, c.votes_allowed, c.ranks)
                for c in election.contests]
    assert list(back.contests) == expected
    assert read_cvrs(out, fmt="clearballot").n_cards == election.n_cards


def test_round_trip_of_a_plain_election_uses_the_plain_layout(tmp_path):
    b = ElectionBuilder("plain")
    m = b.add_contest(mayor())  # ids a, b, w: not numbers, so the writer numbers the columns
    b.start_file("x")
    b.add_card("1", {m: 0b01})
    b.add_card("2", {m: 0b110})
    out = tmp_path / "plain.csv"
    clearballot.write(b.build(), out)
    header = out.read_text().splitlines()[0]
    assert '"Choice_1_1:Mayor:Vote For 1:Alice:"' in header
    back = clearballot.read([out])
    assert [c.id for c in back.contests[0].choices] == ["1", "2", "3"]
    assert back.cards.marks[0].masks.tolist() == [1, 6]


def test_write_refuses_an_overvote_whose_choices_are_unknown(tmp_path):
    b = ElectionBuilder()
    m = b.add_contest(mayor())
    b.start_file("x")
    b.add_card("ok", {m: 1})
    b.add_card("over", {m: OVERVOTE})
    with pytest.raises(ConfigError, match="card over has an overvote whose choices are unknown"):
        clearballot.write(b.build(), tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


# malformed input -----------------------------------------------------------------------------------------------------
def test_truncated_row_names_its_row(tmp_path):
    path = plain_file(tmp_path, [*ROWS[:2], ROWS[2][:-4]])
    with pytest.raises(FormatError, match="row has 13 cells, the header 15") as e:
        clearballot.read([path])
    assert e.value.record == 4 and e.value.file == str(path)


def test_non_numeric_cell_names_row_and_column(tmp_path):
    path = plain_file(tmp_path, [ROWS[0], ROWS[1].replace("1,0,1,0,1", "1,0,x,0,1")])
    with pytest.raises(FormatError, match="cell 'x' is not 0 or 1") as e:
        clearballot.read([path])
    assert (e.value.record, e.value.field) == (3, "Choice_34_1:Contest 2:Vote For 2:Choice 2-1:Non-Partisan")


def test_cell_other_than_0_or_1_names_row_and_column(tmp_path):
    path = plain_file(tmp_path, [ROWS[0], "", ROWS[1].replace("1,0,1,0,1", "1,0,1,0,2")])
    with pytest.raises(FormatError, match="cell 2 is not 0 or 1") as e:
        clearballot.read([path])
    assert (e.value.record, e.value.field) == (4, "Choice_173_1:Contest 2:Vote For 2:Write-in:Non-Partisan")


def test_contest_half_empty_on_a_card_is_an_error(tmp_path):
    path = plain_file(tmp_path, [ROWS[0], ROWS[1].replace("1,0,1,0,1", "1,,1,0,1")])
    with pytest.raises(FormatError, match="contest 'Contest 1' has empty and 0/1 cells") as e:
        clearballot.read([path])
    assert e.value.record == 3 and e.value.field.startswith("Choice_210_1")


def test_unknown_column_shape(tmp_path):
    path = plain_file(tmp_path, [ROWS[0] + ",1"], extra=",Choice_9_1:Contest 3:Pick One:Yes:NON")
    with pytest.raises(FormatError, match="unknown column") as e:
        clearballot.read([path])
    assert e.value.field == "Choice_9_1:Contest 3:Pick One:Yes:NON" and e.value.record == 1


def test_duplicate_card_id_names_both_rows(tmp_path):
    path = plain_file(tmp_path, [ROWS[0], ROWS[1], ROWS[0].replace("1,BATCH1,1,", "9,BATCH9,9,")])
    with pytest.raises(DuplicateCardError, match=r"card id 1-1-1 appears twice \(first at .*cb.csv, row 2\)") as e:
        clearballot.read([path])
    assert e.value.record == 4


def test_duplicate_card_id_across_files(tmp_path):
    first = plain_file(tmp_path, ROWS[:2], "one.csv")
    second = plain_file(tmp_path, ROWS[1:2], "two.csv")
    with pytest.raises(DuplicateCardError, match="one.csv, row 3") as e:
        clearballot.read([first, second])
    assert e.value.file == str(second) and e.value.record == 2
    assert clearballot.read([first, plain_file(tmp_path, ROWS[3:], "three.csv")]).n_cards == 3


def test_empty_file_and_missing_id_columns(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FormatError, match="empty file"):
        clearballot.read([empty])
    no_ids = tmp_path / "noid.csv"
    no_ids.write_text("RowNumber,Choice_1_1:C:Vote For 1:A:NON\n1,1\n")
    with pytest.raises(FormatError, match="no BallotID column"):
        clearballot.read([no_ids])


def test_blank_card_id_without_box_is_an_error(tmp_path):
    path = plain_file(tmp_path, [ROWS[0], "2,,,,p,bs,ps,T,s,r,1,0,1,0,1"])
    with pytest.raises(FormatError, match="no card id") as e:
        clearballot.read([path])
    assert e.value.record == 3


def test_sniff_needs_the_clear_ballot_header(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("card_id,Mayor: Alice\n1,1\n")
    assert not clearballot.sniff(other)
    assert clearballot.sniff(plain_file(tmp_path, ROWS))
    assert not clearballot.sniff(tmp_path)


def test_many_blocks_keep_rows_and_marks_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr("veritally.formats._csvio._BLOCK", 1 << 10)
    b = ElectionBuilder("blocks")
    m, r = b.add_contest(numbered(mayor())), b.add_contest(numbered(rcv()))
    b.start_file("x")
    rng = np.random.default_rng(3)
    for i in range(600):
        marks = {m: int(rng.integers(0, 8))}
        if i % 5:
            marks[r] = [int(x) for x in rng.integers(0, 16, 3)]
        b.add_card(f"c{i}", marks, {"batch": f"B{i // 100}"})
    election = b.build()
    out = tmp_path / "blocks.csv"
    clearballot.write(election, out)
    assert_same_cards(election, clearballot.read([out]))
    lines = out.read_text().splitlines()
    lines[500] = lines[500][:-1] + "7"
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match="cell 7 is not 0 or 1") as e:
        clearballot.read([out])
    assert e.value.record == 501
