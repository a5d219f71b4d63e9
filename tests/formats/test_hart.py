"""Hart Verity CVR XML reader and writer: RCTab's Hart cases, Hart's quirks, bad input, round trips, detection."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import orjson
import pytest

from veritally.builder import ElectionBuilder
from veritally.errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from veritally.formats import clearballot, detect_format, dominion, generic_csv, hart, read_cvrs, write_cvrs
from veritally.formats.hart import read, sniff, write
from veritally.model import Choice, Contest, ContestKind
from veritally.tabulate import tabulate
from veritally.tabulate.ranked import Inactive, OvervoteRule, first_round

from .._shared import RCTAB, need
from ..elections import random_election, small_election

CASES = ["hart_cedar_park_school_board", "hart_travis_county_officers"]
ARCHIVE = RCTAB / "_shared" / "hart_cvr_archive"
CEDAR, TRAVIS, PFLUGERVILLE = ("b651b997-417a-46d9-a676-a43d4df94ddc", "e9ca8235-893e-43df-93eb-3cc61eeb133c",
                               "de71c72d-c213-4bed-a06f-39f901c6393c")


# RCTab conformance ---------------------------------------------------------------------------------------------------
def rctab_case(case):
    folder = need(RCTAB / case)
    config = orjson.loads((folder / f"{case}_config.json").read_bytes())
    report = orjson.loads((folder / f"{case}_expected_detailed_report.json").read_bytes())
    (source,) = config["cvrFileSources"]
    assert source["provider"] == "hart"
    options = hart.options_from_rctab_source(source, config["candidates"], config["rules"])
    return config, report, source, read([(folder / source["filePath"]).resolve()], **options)


@pytest.mark.parametrize("case", CASES)
def test_rctab_hart_case_round_one_and_ballot_count(case):
    config, report, source, election = rctab_case(case)
    (contest,) = election.contests
    assert contest.id == source["contestId"] and contest.is_ranked
    marks, rules = election.cards.marks[0], config["rules"]
    excluded_names = {c["name"] for c in config["candidates"] if c.get("excluded")}
    r1 = first_round(
        contest, marks,
        excluded=[i for i, c in enumerate(contest.choices) if c.name in excluded_names],
        overvote_rule=OvervoteRule(rules["overvoteRule"]),
        max_skipped=None if rules["maxSkippedRanksAllowed"] == "unlimited" else int(rules["maxSkippedRanksAllowed"]),
        exhaust_on_duplicate=rules["exhaustOnDuplicateCandidate"])
    expected = {name: int(v) for name, v in report["results"][0]["tally"].items()}
    got = {c.name: int(v) for c, v in zip(contest.choices, r1.tallies[0])}
    assert {k: v for k, v in got.items() if k in expected or v} == expected
    assert int(marks.present.sum()) == int(report["summary"]["totalNumBallots"])  # one CVR per card with it
    assert int(r1.inactive[Inactive.NO_RANKINGS][0]) == report["summary"]["undervotes"]
    for key, value in report["results"][0]["inactiveBallots"].items():
        assert int(r1.inactive[Inactive(key)][0]) == int(value), key


def test_cedar_park_candidates_take_hart_ids_and_the_undeclared_write_in_is_rctabs():
    _config, _report, source, election = rctab_case("hart_cedar_park_school_board")
    (contest,) = election.contests
    assert contest.ranks == 6 and contest.choice_names[-1] == "Undeclared Write-ins"
    uwi = contest.choices[-1]
    assert (uwi.id, uwi.write_in, uwi.undeclared) == (source["undeclaredWriteInLabel"], True, True)
    steve = contest.choices[contest.choice_index("Steve Carlson")]
    assert steve.id == "24483a8b-b4c9-4f2f-8aa9-c1e867c9d88e"  # the option GUID, as RCTab's CVR CSV names it
    assert election.meta["format"] == "hart" and election.name == "hart_cvr_archive"


def test_travis_one_position_values_make_a_one_rank_contest_whose_three_marks_overvote():
    _config, _report, _source, election = rctab_case("hart_travis_county_officers")
    (contest,) = election.contests
    marks = election.cards.marks[0]
    assert contest.ranks == 1 and marks.masks.shape == (18, 1)
    assert sorted(np.bitwise_count(marks.masks[marks.present, 0]).tolist()) == [0, 0, 1, 3, 3, 3, 3, 3, 3]


def test_without_options_every_contest_is_discovered_and_its_kind_inferred():
    e = read([need(ARCHIVE)])
    assert e.n_cards == 18 and len(e.contests) == 10
    kinds = {c.name: (c.kind, c.votes_allowed, c.ranks) for c in e.contests}
    assert kinds["CEDAR PARK SCHOOL BOARD"] == (ContestKind.RANKED, 1, 6)
    assert kinds["PFLUGERVILLE COUNTY OFFICERS"] == (ContestKind.RANKED, 1, 10)
    # vote-for-n from marked options + Undervotes; a card flagged InvalidStraightPartyVote (3 marks) is not evidence
    assert kinds["TRAVIS COUNTY OFFICERS"] == (ContestKind.VOTE_FOR_N, 3, 0)
    assert kinds["IND SP Contest Vote for 2"] == (ContestKind.VOTE_FOR_N, 2, 0)
    assert kinds["Party Selector Contest"] == (ContestKind.PLURALITY, 1, 0)
    assert e.contests[e.contest_index("f031a2ff-a608-43cc-9a1e-6fbc99871312")].name == "US  PRESIDENT"  # first seen
    assert e.meta["flagged_contests"] == "InvalidStraightPartyVote 9"
    write_ins = e.contests[e.contest_index("c2418efd-a10c-46b9-b4fe-32fe7272f97f")].choices
    assert [(c.id, c.name, c.write_in, c.undeclared) for c in write_ins] == [
        ("3dc76694-36dc-483b-9bc3-3f60176709b1", "Write-in", True, False)]
    i = e.cards.card_id.tolist().index("0e4cb797-392c-4e64-9034-94694bf97419")
    attrs = {k: e.cards.attribute(k).values()[i] for k in ("precinct", "precinct_portion", "batch", "tabulator")}
    assert attrs == {"precinct": "PRC1-PRC1", "precinct_portion": "1e920214-c2ba-4fbc-b743-7e99a2f58aac",
                     "batch": "1", "tabulator": None}


def test_an_option_ranked_at_every_position_sets_its_bit_at_each_rank():
    e = read([need(ARCHIVE)], contest_id=PFLUGERVILLE)
    (contest,), marks = e.contests, e.cards.marks[0]
    paxton = 1 << contest.choice_index("Ken Paxton")
    i = e.cards.card_id.tolist().index("e84522d1-adce-43df-8b49-13adb8bcc2e1")  # Value 1111111111
    assert marks.masks[i].tolist() == [paxton] * 10
    r1 = first_round(contest, e.take(np.array([i])).cards.marks[0], exhaust_on_duplicate=True)
    assert r1.tallies[0].tolist() == [int(b == paxton) for b in (1 << np.arange(len(contest.choices)))]


def test_signature_files_and_other_files_beside_the_cvrs_are_ignored():
    folder = need(RCTAB / "signature_validation")  # test.xml, two .xml.sig.xml, public keys
    assert sniff(folder) and detect_format(folder) == "hart"
    e = read([folder])
    assert e.cards.card_id.tolist() == ["1db41740-cba9-4c37-95ec-143be4c7e7ce"]
    assert "batch" not in e.cards.attributes  # this CVR has no BatchNumber
    (contest,) = e.contests
    assert (contest.name, contest.ranks, len(contest.choices)) == ("Board of Supervisors, District 1", 6, 6)


def test_rctab_source_options_map_to_reader_options():
    source = {"contestId": "abc", "undeclaredWriteInLabel": "", "provider": "hart"}
    opts = hart.options_from_rctab_source(source, [{"name": "A", "aliases": ["g1"], "excluded": True}],
                                          {"maxRankingsAllowed": "max"})
    assert opts == {"contest_id": "abc", "candidates": [{"name": "A", "aliases": ["g1"]}]}
    opts = hart.options_from_rctab_source({"contestId": "", "undeclaredWriteInLabel": "uwi"}, [],
                                          {"maxRankingsAllowed": "3"})
    assert opts == {"undeclared_write_in_label": "uwi", "max_rankings": 3}


# Hart's quirks on small synthetic files ------------------------------------------------------------------------------
NS = 'xmlns="http://tempuri.org/CVRDesign.xsd"'


def option(oid, value="1", name=None, write_in=False):
    wi = "<WriteInData><Text /><ImageId>img</ImageId><WriteInDataStatus>Unresolved</WriteInDataStatus></WriteInData>"
    return (f"<Option>{f'<Name>{name}</Name>' if name else ''}<Id>{oid}</Id><Value>{value}</Value>"
            f"{wi if write_in else ''}</Option>")


def contest(cid, *options, name=None, extra=""):
    body = f"<Options>{''.join(options)}</Options>" if options else "<Options />"
    return f"<Contest><Name>{name or cid.upper()}</Name><Id>{cid}</Id>{body}{extra}</Contest>"


def cvr(guid, *contests, precinct="P1", split="split-1", batch="7", tail=""):
    split_xml = f"<PrecinctSplit><Name>{precinct}</Name><Id>{split}</Id></PrecinctSplit>" if precinct else ""
    guid_xml = f"<CvrGuid>{guid}</CvrGuid>" if guid is not None else ""
    return ('\ufeff<?xml version="1.0" encoding="utf-8"?>'
            f'<Cvr xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" {NS}><Contests>{"".join(contests)}'
            f"</Contests><BatchSequence>1</BatchSequence><SheetNumber>1</SheetNumber>{split_xml}"
            f"<BatchNumber>{batch}</BatchNumber>{guid_xml}{tail}</Cvr>")


def folder_of(tmp_path, docs, name="cvrs"):
    folder = tmp_path / name
    folder.mkdir(parents=True)
    for file_name, text in docs.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return folder


def test_ranks_overvotes_skips_and_blank_contests(tmp_path):
    folder = folder_of(tmp_path, {
        "1_a.xml": cvr("a", contest("rcv", option("o1", "100", "Ann"), option("o2", "010", "Bo")),
                       contest("mayor", option("m1", name="Cy"))),
        "1_b.xml": cvr("b", contest("rcv", option("o1", "101", "Ann"), option("o2", "100", "Bo")),
                       contest("mayor", extra="<Undervotes>1</Undervotes>")),
        "c.xml": cvr("c", contest("rcv", extra="<Undervotes>3</Undervotes>")),  # mayor not on this sheet
    })
    e = read([folder])
    rcv, mayor = e.contests
    assert (rcv.kind, rcv.ranks, mayor.kind) == (ContestKind.RANKED, 3, ContestKind.PLURALITY)
    assert e.marks("rcv").masks.tolist() == [[0b01, 0b10, 0], [0b11, 0, 0b01], [0, 0, 0]]  # overvote, skip, repeat
    assert e.marks("mayor").present.tolist() == [True, True, False]  # <Options /> is a blank, not an absence
    assert e.marks("mayor").masks.tolist() == [1, 0, 0]
    assert e.cards.card_id.tolist() == ["a", "b", "c"]  # file name order
    assert e.cards.attribute("precinct_portion").values() == ["split-1"] * 3


def test_vote_for_n_is_inferred_from_marks_and_undervotes_and_flagged_contests_are_no_evidence(tmp_path):
    board = [option(f"b{i}", name=f"B{i}") for i in range(4)]
    folder = folder_of(tmp_path, {
        "a.xml": cvr("a", contest("board", board[0], extra="<Undervotes>1</Undervotes>")),
        "b.xml": cvr("b", contest("board", *board, extra="<Overvoted />")),
        "c.xml": cvr("c", contest("board", *board[:3], extra="<InvalidVote />")),
    })
    (board_contest,) = read([folder]).contests
    assert (board_contest.kind, board_contest.votes_allowed, board_contest.winners) == (ContestKind.VOTE_FOR_N, 2, 2)
    assert read([folder]).meta["flagged_contests"] == "InvalidVote 1"


def test_write_ins_without_names_and_the_undeclared_write_in_label(tmp_path):
    docs = {"a.xml": cvr("a", contest("c", option("w1", write_in=True), option("k1", name="Kim"))),
            "b.xml": cvr("b", contest("c", option("w2", write_in=True), option("k2", name="Kim"))),
            "d.xml": cvr("d", contest("c", option("w3", name="Write-in")))}
    folder = folder_of(tmp_path, docs)
    (c,) = read([folder]).contests
    assert [(x.id, x.name, x.write_in) for x in c.choices] == [
        ("w1", "Write-in", True), ("k1", "Kim", False), ("w2", "Write-in 2", True), ("k2", "Kim (k2)", False),
        ("w3", "Write-in (w3)", False)]
    for label in ("w2", "Write-in"):  # by option Id or by Name
        (c,) = read([folder], undeclared_write_in_label=label).contests
        uwi = next(x for x in c.choices if x.undeclared)
        assert (uwi.name, uwi.write_in) == ("Undeclared Write-ins", True)
        assert uwi.id == ("w2" if label == "w2" else "w3")


def test_contest_id_reads_one_contest_ranked_and_max_rankings_sets_its_ranks(tmp_path):
    folder = folder_of(tmp_path, {"a.xml": cvr("a", contest("x", option("x1", "1", "X")),
                                               contest("y", option("y1", "01", "Y")))})
    e = read([folder], contest_id="x")
    assert [(c.id, c.kind, c.ranks) for c in e.contests] == [("x", ContestKind.RANKED, 1)]
    e = read([folder], contest_id="y", max_rankings=4)
    assert e.contests[0].ranks == 4 and e.marks("y").masks.tolist() == [[0, 1, 0, 0]]
    with pytest.raises(UnknownIdError, match="no CVR has contest Id 'z'.*one of x"):
        read([folder], contest_id="z")


def test_names_that_change_between_files_keep_the_first_and_become_aliases(tmp_path):
    folder = folder_of(tmp_path, {"a.xml": cvr("a", contest("c", option("o1", name="Ann Lee"), name="MAYOR")),
                                  "b.xml": cvr("b", contest("c", option("o1", name="ANN LEE"), name="MAYOR  "))})
    (c,) = read([folder]).contests
    assert c.name == "MAYOR" and c.choices[0].name == "Ann Lee" and c.choices[0].aliases == ("ANN LEE",)


def test_candidate_list_maps_option_ids_through_aliases_and_lists_unmarked_candidates(tmp_path):
    folder = folder_of(tmp_path, {"a.xml": cvr("a", contest("c", option("g1", "10", "Ann"), option("g2", "01")))})
    e = read([folder], contest_id="c", candidates=[{"name": "Ann", "aliases": ["g1"]}, ("Bo", ["g2"]), "Cy"])
    assert [(x.id, x.name) for x in e.contests[0].choices] == [("g1", "Ann"), ("g2", "Bo"), ("Cy", "Cy")]
    assert e.marks("c").masks.tolist() == [[0b01, 0b10]]


def test_folder_reads_its_xml_then_its_archives_but_not_sub_folders(tmp_path):
    folder = folder_of(tmp_path, {"b.xml": cvr("b"), "a.XML": cvr("a"), "a.XML.sig.xml": "<Signature/>",
                                  "notes.txt": "x"})
    (folder / "Write In Images").mkdir()
    (folder / "Write In Images" / "x.xml").write_text(cvr("in-sub-folder"))
    with zipfile.ZipFile(folder / "CVRArchive_2_2_0_1.zip", "w") as zf:
        zf.writestr("d.xml", cvr("d"))
        zf.writestr("c.xml", cvr("c"))
        zf.writestr("c.xml.sig.xml", "<Signature/>")
        zf.writestr("__MACOSX/._c.xml", b"\x00\x05\x16\x07")
    e = read([folder])
    assert e.cards.card_id.tolist() == ["a", "b", "c", "d"]
    assert read([folder / "b.xml", folder / "a.XML"]).cards.card_id.tolist() == ["b", "a"]  # files: as given


def test_unprefixed_cvr_root_is_read_as_rctab_does(tmp_path):
    text = cvr("a", contest("c", option("o1", name="Ann"))).replace(f" {NS}", "")
    folder = folder_of(tmp_path, {"a.xml": text})
    assert read([folder]).marks("c").masks.tolist() == [1]
    assert not sniff(folder)  # but auto-detection wants Hart's namespace


# bad input ------------------------------------------------------------------------------------------------------------
def bad(tmp_path, text, **options):
    folder = folder_of(tmp_path, {"good.xml": cvr("g", contest("c", option("o1", "10", "Ann"))), "bad.xml": text})
    return lambda: read([folder], **options)


def test_truncated_xml_names_the_file_and_position(tmp_path):
    text = cvr("b", contest("c", option("o1", "01", "Ann")))
    with pytest.raises(FormatError, match=r"bad\.xml: malformed or truncated XML: .*line 1, column") as err:
        bad(tmp_path, text[:-30])()
    assert "\n" not in str(err.value) and "expected a complete Hart CVR XML file" in str(err.value)


def test_not_xml_and_not_a_hart_cvr(tmp_path):
    with pytest.raises(FormatError, match=r"bad\.xml: malformed or truncated XML"):
        bad(tmp_path, "\x00\x01 not a CVR")()
    with pytest.raises(FormatError, match=r"bad\.xml: not a Hart CVR: the root element is <\{urn:x\}CVR>"):
        bad(tmp_path / "2", '<CVR xmlns="urn:x"/>')()


def test_missing_cvr_guid_names_the_field(tmp_path):
    with pytest.raises(FormatError, match=r"bad\.xml, field 'CvrGuid': no CvrGuid"):
        bad(tmp_path, cvr(None, contest("c")))()


def test_value_that_is_not_zeros_and_ones_names_card_and_field(tmp_path):
    text = cvr("b", contest("c", option("o1", "01", "Ann"), option("o2", "0x", "Bo")))
    with pytest.raises(FormatError, match=r"bad\.xml, record b, field 'Contests/Contest\[1\]/Options/Option\[2\]"
                                          r"/Value': Value '0x' of option o2"):
        bad(tmp_path, text)()
    with pytest.raises(FormatError, match=r"field 'Contests/Contest\[1\]/Options/Option\[1\]/Value'"):
        bad(tmp_path / "2", cvr("b", contest("c", "<Option><Name>A</Name><Id>o1</Id><Value /></Option>")))()


def test_duplicate_guid_across_two_files_names_both(tmp_path):
    with pytest.raises(DuplicateCardError, match=r"good\.xml, record g, field 'CvrGuid': CvrGuid g appears twice "
                                                 r"\(first in .*bad\.xml\)"):
        bad(tmp_path, cvr("g", contest("c")))()


def test_unknown_option_with_a_candidate_list(tmp_path):
    text = cvr("b", contest("c", option("o1", "10", "Ann"), option("o9", "01", "Zed")))
    with pytest.raises(UnknownIdError, match=r"bad\.xml, record b, field 'Contests/Contest\[1\]/Options/Option\[2\]"
                                             r"/Id': option o9 \('Zed'\).*not in the candidate list.*'Ann'"):
        bad(tmp_path, text, contest_id="c", candidates=[("Ann", ["o1"])])()


def test_rank_beyond_max_rankings(tmp_path):
    text = cvr("b", contest("c", option("o1", "0001", "Ann")))
    with pytest.raises(FormatError, match=r"bad\.xml, record b, field 'Contests/Contest\[1\]/Options/Option\[1\]"
                                          r"/Value': .*ranked 4, beyond the 3 rankings allowed.*ranks 1 to 3"):
        bad(tmp_path, text, max_rankings=3)()
    assert read([tmp_path / "cvrs"], max_rankings=4).contests[0].ranks == 4  # zeros beyond the marks are fine


def test_other_malformed_contests(tmp_path):
    cases = [(cvr("b", contest("c", option("o1")), contest("c", option("o1"))), "Contest\\[2\\]/Id.*twice"),
             (cvr("b", "<Contest><Name>N</Name><Options /></Contest>"), "Contest\\[1\\]/Id.*without Id"),
             (cvr("b", contest("c", "<Option><Name>A</Name><Value>1</Value></Option>")),
              "Contest\\[1\\]/Options/Option\\[1\\]/Id"),
             (cvr("b", contest("c", extra="<Undervotes>two</Undervotes>")), "Contest\\[1\\]/Undervotes")]
    for i, (text, pattern) in enumerate(cases):
        with pytest.raises(FormatError, match=r"bad\.xml, record b, field 'Contests/" + pattern):
            bad(tmp_path / str(i), text)()


def test_more_choices_than_a_contest_may_have(tmp_path):
    folder = folder_of(tmp_path, {"a.xml": cvr("a", contest("c", *[option(f"o{i}", name=f"N{i}") for i in range(64)]))})
    with pytest.raises(FormatError, match=r"a\.xml: contest 'C' has more than 63 choices"):
        read([folder])


def test_empty_folder_and_bad_options(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="no Hart CVR files"):
        read([tmp_path / "empty"])
    folder = folder_of(tmp_path, {"a.xml": cvr("a")})
    with pytest.raises(ConfigError, match="candidates needs contest_id"):
        read([folder], candidates=["A"])
    with pytest.raises(ConfigError, match="unknown Hart option"):
        read([folder], contest_name="x")


def test_cli_gives_a_one_line_error_for_a_bad_cvr(tmp_path):
    folder = folder_of(tmp_path, {"a.xml": cvr("a", contest("c", option("o1", "2")))})
    res = subprocess.run([sys.executable, "-m", "veritally", "tabulate", str(folder)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2 and "a.xml" in res.stderr and "Value" in res.stderr and "Traceback" not in res.stderr


# writing --------------------------------------------------------------------------------------------------------------
def assert_same(a, b):
    assert a.name == b.name and a.contests == b.contests
    assert a.cards.card_id.tolist() == b.cards.card_id.tolist()
    for key in set(a.cards.attributes) | set(b.cards.attributes):
        assert a.cards.attribute(key).values() == b.cards.attribute(key).values(), key
    for ma, mb in zip(a.cards.marks, b.cards.marks):
        assert np.array_equal(ma.present, mb.present) and np.array_equal(ma.masks, mb.masks)
    assert tabulate(a).to_json() == tabulate(b).to_json()
    assert tabulate(a, by="precinct").to_json() == tabulate(b, by="precinct").to_json()


def without_labelled_overvotes(e):
    keep = np.ones(e.n_cards, bool)
    for c, m in zip(e.contests, e.cards.marks):
        flagged = (m.masks & c.overvote_flag) != 0
        keep &= ~(flagged.any(axis=1) if flagged.ndim == 2 else flagged)
    return e.take(keep)


def test_small_election_round_trips_once_its_unknown_choice_overvotes_are_left_out(tmp_path):
    with pytest.raises(ConfigError, match="card 6, contest 'Mayor'.*overvote whose choices are unknown"):
        write(small_election(), tmp_path / "cvrs")
    assert not list(tmp_path.iterdir())  # nothing half-written
    e = without_labelled_overvotes(small_election())
    for out in (tmp_path / "cvrs", tmp_path / "cvrs.zip"):
        write_cvrs(e, out, "hart")
        assert_same(e, read_cvrs(out))


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_random_election_round_trips_folder_and_zip(tmp_path, suffix):
    full = random_election(np.random.default_rng(7), 300)
    with pytest.raises(ConfigError, match="overvote"):
        write(full, tmp_path / f"full{suffix}")
    e = without_labelled_overvotes(full)
    out = tmp_path / f"cvrs{suffix}"
    files = write(e, out)
    assert len(files) == (1 if suffix else e.n_cards + 1) and detect_format(out) == "hart"
    assert_same(e, read([out]))


def test_every_attribute_odd_text_and_ids_that_are_not_file_names(tmp_path):
    b = ElectionBuilder("Odd & <County>")
    rcv = b.add_contest(Contest("r&1", "Mayor <RCV>\r\nWard 1", ContestKind.RANKED, (
        Choice("p/1", "Pat \"P\" & Co", party="Green"), Choice("q", "Quinn"),
        Choice("w", "Write-in", write_in=True)), ranks=4, district="City"))
    measure = b.add_contest(Contest("m", "Measure", ContestKind.THRESHOLD, (Choice("y", "Yes"), Choice("n", "No")),
                                    threshold=0.6))
    for i in range(12):
        attrs = {"tabulator": f"ICC {i % 2}", "batch": f"B{i % 3}", "precinct": f"P{i % 4} é",
                 "precinct_portion": None if i % 2 else f"split {i % 4}", "style": f"S{i % 2}",
                 "counting_group": "Mail" if i % 3 else None, "ballot": f"ballot {i // 2}" if i < 4 else None}
        b.add_card(f"card/{i} <x>", {rcv: [1 << (i % 3), 0, 0b011 if i == 5 else 0, 1], measure: i % 4}, attrs)
    e = b.build()
    out = tmp_path / "cvrs"
    write(e, out)
    assert_same(e, read([out]))
    names = sorted(p.name for p in out.iterdir())
    assert names[0] == "01.xml" and names[-1] == hart.CONTESTS_FILE


def test_written_files_without_the_contests_file_read_as_hart_files(tmp_path):
    e = without_labelled_overvotes(small_election())
    out = tmp_path / "cvrs"
    write(e, out)
    (out / hart.CONTESTS_FILE).unlink()
    back = read([out])
    kinds = {c.id: (c.kind, c.votes_allowed, c.ranks) for c in back.contests}
    assert kinds == {"mayor": (ContestKind.PLURALITY, 1, 0), "council": (ContestKind.VOTE_FOR_N, 2, 0),
                     "m1": (ContestKind.PLURALITY, 1, 0), "rcv": (ContestKind.RANKED, 1, 3)}
    for c in e.contests:  # the same marks, choice by choice (choices are listed in the order first marked)
        got = back.contests[back.contest_index(c.id)]
        for b_, choice in enumerate(c.choices):
            if choice.id not in [x.id for x in got.choices]:
                assert not (e.marks(c.id).masks & (1 << b_)).any()
                continue
            bit = 1 << got.choice_index(choice.id)
            assert np.array_equal((e.marks(c.id).masks >> b_) & 1, (back.marks(c.id).masks & bit) != 0)


def test_real_archive_round_trips(tmp_path):
    e = read([need(ARCHIVE)])
    write(e, tmp_path / "again.zip")
    assert_same(e, read([tmp_path / "again.zip"]))


def test_contests_file_is_used_with_rctab_options_and_an_empty_election_round_trips(tmp_path):
    e = without_labelled_overvotes(small_election())
    out = tmp_path / "cvrs.zip"
    write(e, out)
    (rcv,) = read([out], contest_id="rcv", max_rankings=2).contests  # the declared ranks stand
    assert rcv == e.contests[3]
    mayor = read([out], contest_id="mayor", candidates=["Bob", "Alice"], undeclared_write_in_label="w")
    (c,) = mayor.contests
    assert (c.kind, c.ranks, c.choice_names) == (ContestKind.RANKED, 1, ["Bob", "Alice", "Undeclared Write-ins"])
    assert np.array_equal(mayor.marks("mayor").present, e.marks("mayor").present)
    empty = e.take(np.zeros(e.n_cards, bool))
    write(empty, tmp_path / "empty")
    assert read([tmp_path / "empty"]).contests == e.contests and read([tmp_path / "empty"]).n_cards == 0


def test_write_replaces_an_old_hart_folder_but_never_another_folder(tmp_path):
    e = without_labelled_overvotes(small_election())
    out = tmp_path / "cvrs"
    write(e, out)
    write(e.take(np.arange(3)), out)
    assert len(list(out.glob("*.xml"))) == 3
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a Hart CVR folder"):
        write(e, tmp_path / "docs")
    assert (tmp_path / "docs" / "notes.txt").read_text() == "keep me"


def test_write_refuses_what_hart_cannot_hold(tmp_path):
    e = without_labelled_overvotes(small_election())
    twin = e.with_contests([e.contests[0].with_choices([Choice("a", "A"), Choice("a", "B"), Choice("w", "W")]),
                            *e.contests[1:]])
    with pytest.raises(ConfigError, match="distinct, non-empty ids"):
        write(twin, tmp_path / "a")
    e.cards.attributes["party"] = e.cards.attribute("precinct")
    with pytest.raises(ConfigError, match="party cannot be written"):
        write(e, tmp_path / "b")
    assert not list(tmp_path.iterdir())


# format detection -----------------------------------------------------------------------------------------------------
def test_detect_format_claims_hart_folders_zips_and_files_only(tmp_path):
    e = without_labelled_overvotes(small_election())
    write(e, tmp_path / "h")
    write(e, tmp_path / "h.zip")
    xml = next((tmp_path / "h").glob("*.xml"))
    assert {detect_format(p) for p in (tmp_path / "h", tmp_path / "h.zip", xml)} == {"hart"}
    dominion.write(e, tmp_path / "d")
    clearballot.write(e.with_contests(e.contests), tmp_path / "cb.csv")
    generic_csv.write(e, tmp_path / "g.csv")
    other = tmp_path / "other.xml"
    other.write_text('<CastVoteRecordReport xmlns="http://itl.nist.gov/ns/voting/1500-103/v1"/>')
    for path in (tmp_path / "d", tmp_path / "d" / "CvrExport.json", tmp_path / "cb.csv", tmp_path / "g.csv", other):
        assert not sniff(path), path
    # their own sniffers claim them (formats after "hart" in detection order are checked directly)
    assert detect_format(tmp_path / "d") == "dominion"
    assert clearballot.sniff(tmp_path / "cb.csv") and generic_csv.sniff(tmp_path / "g.csv")
