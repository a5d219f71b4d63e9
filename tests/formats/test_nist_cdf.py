"""NIST SP 1500-103 CDF reader and writer: RCTab's CDF cases and exports, NIST's examples, leniency, bad input,
lossless round trips and schema validity."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import orjson
import pytest

from veritally.builder import OVERVOTE, ElectionBuilder
from veritally.errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from veritally.formats import detect_format, dominion, ess, nist_cdf, read_cvrs, write_cvrs
from veritally.model import UWI_NAME
from veritally.model import Choice, Contest, ContestKind
from veritally.tabulate.plurality import count_marks
from veritally.tabulate.ranked import Inactive, OvervoteRule, first_round

from .._shared import NIST_CDF, RCTAB, need
from ..elections import random_election, small_election

CASES = [f"test_set_{n}" for n in ("0_skipped_first_choice", "1_exhaust_at_overvote", "2_overvote_skip_to_next",
                                   "3_skipped_choice_exhaust", "4_skipped_choice_next", "5_two_skipped_choice_exhaust",
                                   "6_duplicate_exhaust", "7_duplicate_skip_to_next", "8_multi_cdf",
                                   "multi_winner_fractional_threshold", "multi_winner_whole_threshold")]
CASES += ["aliases_cdf_json", "nist_xml_cdf_2"] + [f"unisyn_xml_cdf_{c}" for c in (
    "city_chief_of_police", "city_coroner", "city_council_member", "city_mayor", "city_tax_collector",
    "county_coroner", "county_sheriff")]
EXPORTS = CASES[:12] + ["batch_example", "precinct_example"]  # RCTab's *_expected_cdf_cvr.json with a report
SCHEMA = NIST_CDF / "NIST_V0_cast_vote_records.schema.json"


# RCTab conformance ---------------------------------------------------------------------------------------------------
def rctab_config(case):
    folder = need(RCTAB / case)
    config = orjson.loads((folder / f"{case}_config.json").read_bytes())
    report_path = folder / f"{case}_expected_detailed_report.json"
    report = orjson.loads(report_path.read_bytes()) if report_path.exists() else None
    return folder, config, report


def round_one(contest, marks, rules, excluded_names=()):
    """RCTab's round 1 of a ranked contest: tallies by candidate name, inactive ballots by category, cards."""
    ms = rules["maxSkippedRanksAllowed"]
    r1 = first_round(contest, marks, excluded=[i for i, c in enumerate(contest.choices) if c.name in excluded_names],
                     overvote_rule=OvervoteRule(rules["overvoteRule"]),
                     max_skipped=None if ms == "unlimited" else int(ms),
                     exhaust_on_duplicate=bool(rules.get("exhaustOnDuplicateCandidate")))
    tally: dict[str, int] = {}
    for c, v in zip(contest.choices, r1.tallies[0].tolist()):
        tally[c.name] = tally.get(c.name, 0) + v
    inactive = {k: int(v[0]) for k, v in r1.inactive.items()}
    return tally, inactive, int(marks.present.sum())


def add_round(total, part):
    for t, p in zip(total, part):
        if isinstance(t, dict):
            for k, v in p.items():
                t[k] = t.get(k, 0) + v
    return total[0], total[1], total[2] + part[2]


def read_case(case):
    """Each RCTab source read with its own options (as RCTab reads sources apart), round 1 summed."""
    folder, config, report = rctab_config(case)
    excluded = {c["name"] for c in config["candidates"] if c.get("excluded")}
    total = ({}, {}, 0)
    for source in config["cvrFileSources"]:
        options = nist_cdf.options_from_rctab_source(source, config["candidates"], config["rules"])
        election = nist_cdf.read([(folder / source["filePath"]).resolve()], **options)
        (contest,), (marks,) = election.contests, election.cards.marks
        assert contest.is_ranked and contest.name == source["contestId"]
        total = add_round(total, round_one(contest, marks, config["rules"], excluded))
    return config, report, total


def assert_round_one(report, tally, inactive, cards):
    expected = {k: int(v) for k, v in report["results"][0]["tally"].items()}
    # RCTab lists every candidate (its built-in "Undeclared Write-ins" too) even at 0
    assert set(tally) <= set(expected) and {k: v for k, v in tally.items() if v} == {
        k: v for k, v in expected.items() if v}
    assert cards == int(report["summary"]["totalNumBallots"])
    assert inactive[Inactive.NO_RANKINGS] == report["summary"]["undervotes"]
    for key, value in report["results"][0]["inactiveBallots"].items():
        assert inactive[Inactive(key)] == int(value), key


@pytest.mark.parametrize("case", CASES)
def test_rctab_cdf_case_round_one_and_ballot_count(case):
    _config, report, (tally, inactive, cards) = read_case(case)
    assert_round_one(report, tally, inactive, cards)


@pytest.mark.parametrize("case", EXPORTS)
def test_rctab_cdf_export_reads_back_to_round_one_of_its_source(case):
    # RCTab's export points CurrentSnapshotId at its last round, where IsAllocable says what that round counted:
    # the marks are all still there, so the voters' rankings (and round 1) come back
    folder, config, report = rctab_config(case)
    source = config["cvrFileSources"][0]
    options = {"candidates": config["candidates"]}
    if source.get("overvoteLabel"):
        options["overvote_label"] = source["overvoteLabel"]
    export = nist_cdf.read([folder / f"{case}_expected_cdf_cvr.json"], **options)
    (contest,), (marks,) = export.contests, export.cards.marks
    excluded = {c["name"] for c in config["candidates"] if c.get("excluded")}
    tally, inactive, cards = round_one(contest, marks, config["rules"], excluded)
    assert_round_one(report, tally, inactive, cards)
    if source["provider"] == "cdf":
        assert (tally, inactive, cards) == read_case(case)[2]


def test_rctab_conversion_exports_match_their_sources_read_by_their_own_readers():
    for case, provider in (("conversions_from_cdf", "cdf"), ("conversions_from_dominion", "dominion"),
                           ("conversions_from_ess", "ess")):
        folder, config, _ = rctab_config(case)
        source = config["cvrFileSources"][0]
        options = {"candidates": config["candidates"], "overvote_label": source.get("overvoteLabel")}
        export = nist_cdf.read([folder / f"{case}_expected_cdf_cvr.json"], **options)
        got = round_one(export.contests[0], export.cards.marks[0], config["rules"])
        if provider == "cdf":
            want = ({}, {}, 0)
            for s in config["cvrFileSources"]:
                e = nist_cdf.read([(folder / s["filePath"]).resolve()],
                                  **nist_cdf.options_from_rctab_source(s, config["candidates"], config["rules"]))
                want = add_round(want, round_one(e.contests[0], e.cards.marks[0], config["rules"]))
        elif provider == "dominion":
            e = dominion.read([(folder / source["filePath"]).resolve()])
            i = e.contest_index(source["contestId"])
            names = {a: c["name"] for c in config["candidates"] for a in c.get("aliases", ())}
            names[source["undeclaredWriteInLabel"]] = UWI_NAME
            contest = e.contests[i].with_choices([Choice(c.id, names.get(c.id, c.name)) for c in e.contests[i].choices])
            want = round_one(contest, e.cards.marks[i], config["rules"])
        else:
            e = ess.read([(folder / source["filePath"]).resolve()],
                         **ess.options_from_rctab_source(source, config["candidates"], config["rules"]))
            want = round_one(e.contests[0], e.cards.marks[0], config["rules"])
        assert got == want, case


def test_rctab_export_of_precincts_keeps_the_precinct_of_every_card():
    folder, _config, _ = rctab_config("precinct_example")
    e = nist_cdf.read([folder / "precinct_example_expected_cdf_cvr.json"])
    precincts = e.cards.attribute("precinct").values()
    assert len(set(precincts)) == 58 and None not in precincts and "MINNEAPOLIS W-9 P-02" in precincts
    assert e.cards.card_id[0] == "precinct_example_cvr.xlsx-1"  # BallotPrePrintedId when there is no UniqueId


def test_rank_beyond_max_rankings_is_a_parse_error_as_in_rctab_max_ranking_enforcement(tmp_path):
    _folder, config, _ = rctab_config("max_ranking_enforcement")  # maxRankingsAllowed 3; its first CVR ranks 4
    options = nist_cdf.options_from_rctab_source({"contestId": "RCV"}, config["candidates"], config["rules"])
    assert options["max_rankings"] == 3
    names = ("Candidate A", "Candidate B", "Candidate C")
    path = report(tmp_path, [cvr("1", ct("rcv", sel("x", 1), sel("y", 2), sel("z", 3))),
                             cvr("2", ct("rcv", sel("x", 1), sel("y", 2), sel("z", 4)))], names=names)
    with pytest.raises(FormatError, match=r"record 2, field 'CVR\[1\]\.CVRSnapshot\[0\]\.CVRContest\[0\]\."
                                          r"CVRContestSelection\[2\]\.SelectionPosition\[0\]\.Rank'.*"
                                          r"Rank 4 exceeds the 3 rankings allowed"):
        nist_cdf.read([path], **options)


def test_the_same_rctab_file_given_twice_is_caught_as_duplicate_cards():
    folder = need(RCTAB / "test_set_8_multi_cdf")
    files = [folder / "test_set_8_multi_cdf_cvr_1.json", folder / "test_set_8_multi_cdf_cvr_2.json"]  # identical
    with pytest.raises(DuplicateCardError, match=r"cvr_2\.json, record 0.*card id 1 appears twice.*cvr_1\.json"):
        nist_cdf.read(files)


def test_unisyn_export_attributes_write_ins_ballot_measure_and_ranks():
    path = need(RCTAB / "unisyn_cvrs" / "101-RCV-CVT_TEST_3_UNIOVS2103-2.xml")
    e = nist_cdf.read([path])
    assert e.n_cards == 35 and e.name == "General Election RCV Tally DELL 5590"
    attrs = {k: e.cards.attribute(k).values()[0] for k in ("precinct", "style", "tabulator")}
    assert attrs == {"precinct": "Precinct 1", "style": "1", "tabulator": "UNIOVS210"}
    coroner = e.contests[e.contest_index("For City C Coroner (1/3)")]
    assert coroner.is_ranked and coroner.ranks == 3 and coroner.id == "CON_175"
    write_ins = [c for c in coroner.choices if c.write_in]
    assert [(c.id, c.name, c.undeclared) for c in write_ins] == [("CONS_175_423", UWI_NAME, True),
                                                                  ("CONS_175_323", UWI_NAME, True)]
    measure = e.contests[e.contest_index("Statewide Public Question")]
    # Unisyn's BallotMeasureSelection holds a Candidate's id, not the option's text
    assert measure.kind is ContestKind.PLURALITY and [c.name for c in measure.choices] == ["AGAINST", "FOR"]
    plain = nist_cdf.read([need(RCTAB / "unisyn_cvrs" / "797-GEN-OVCS_Sess_3_Combined_UVSOVS22516.xml")])
    assert not any(c.is_ranked for c in plain.contests) and plain.n_cards == 7


# NIST's examples -----------------------------------------------------------------------------------------------------
def test_nist_example_1_plain_vote_overvote_write_in_and_unindicated_marks():
    e = nist_cdf.read([need(NIST_CDF / "cvr_example_1.xml")])
    (contest,), (marks,) = e.contests, e.cards.marks
    assert e.cards.card_id.tolist() == ["1", "2", "3", "4", "61", "57"]
    # by hand: CVR 1 and 2 mark _C1CS1 and _C1CS2; CVR 3 marks _C1CS1 (its HasIndication=no position is no mark);
    # CVR 4 marks _C1CS2 twice with IsAllocable=no and Status overvoted: an overvote, not a blank; CVR 61 writes in
    # "Donald Nolte" on _C1CS3 (CVRWriteIn: RCTab's undeclared write-in); CVR 57 marks _C1CS1 only
    assert contest.choice_names == ["_C1CN1", "_C1CN2", "_C1CN3", UWI_NAME]
    t = count_marks(contest, marks)
    assert t.tallies.tolist() == [[3, 1, 0, 1]] and t.overvoted_cards.tolist() == [1] and t.blank.tolist() == [0]
    assert int(marks.masks[3]) == 0b10 | contest.overvote_flag
    assert e.cards.attribute("style").values() == ["bs1"] * 6
    # RCTab's IsAllocable=no rule drops CVR 4's marks; its Status still says overvote
    strict = nist_cdf.read([NIST_CDF / "cvr_example_1.xml"], skip_unallocable=True)
    assert int(strict.cards.marks[0].masks[3]) == strict.contests[0].overvote_flag


def test_nist_example_2_adjudication_overvote_undervotes_and_current_snapshot():
    e = nist_cdf.read([need(NIST_CDF / "cvr_example_2.xml")])
    assert e.n_cards == 2 and e.cards.card_id.tolist() == ["cvr_example_2.xml(1)", "cvr_example_2.xml(2)"]
    assert len(e.contests) == 25 and e.meta["needs_adjudication_skipped"] == "1"

    def count(cid):
        i = e.contest_index(cid)
        return count_marks(e.contests[i], e.cards.marks[i])

    # by hand: the governor's only mark is a write-in awaiting adjudication (skipped, as RCTab does): a blank
    governor = count("_1GO")
    assert (governor.cards.tolist(), governor.blank.tolist(), governor.tallies.sum()) == ([1], [1], 0)
    # the treasurer's two marks are IsAllocable=no with Overvotes 1: an overvote
    treasurer = count("_5TS")
    assert (treasurer.overvoted_cards.tolist(), treasurer.tallies.tolist()) == ([1], [[0, 0]])
    # congress: CVR 1 undervotes it; CVR 2's current snapshot (css-02, not the adjudicated css-03) marks Zetzer
    congress = count("_6RC")
    assert (congress.cards.tolist(), congress.tallies.tolist(), congress.blank.tolist()) == ([2], [[1, 0]], [1])
    council = e.contests[e.contest_index("_9CC")]
    assert (council.kind, council.votes_allowed, council.winners) == (ContestKind.VOTE_FOR_N, 3, 3)
    assert e.contests[e.contest_index("_1GO")].choices[0].party == "Democratic"


# small synthetic reports ---------------------------------------------------------------------------------------------
def sel(sid, *ranks, **pos):
    positions = [{"@type": "CVR.SelectionPosition", "HasIndication": "yes", "IsAllocable": "unknown",
                  "NumberVotes": 1, **({"Rank": r} if r is not None else {}), **pos} for r in (ranks or (None,))]
    return {"@type": "CVR.CVRContestSelection", "ContestSelectionId": sid, "SelectionPosition": positions}


def ct(cid, *sels, **fields):
    return {"@type": "CVR.CVRContest", "ContestId": cid, "CVRContestSelection": list(sels), **fields}


def cvr(uid, *contests, **fields):
    out = {"@type": "CVR.CVR", "CurrentSnapshotId": f"s{uid}", "ElectionId": "e",
           "CVRSnapshot": [{"@id": f"s{uid}", "@type": "CVR.CVRSnapshot", "Type": "original",
                            "CVRContest": list(contests)}], **fields}
    if uid is not None:
        out["UniqueId"] = uid
    return out


def definition(names=("A", "B", "C"), rcv_variation="rcv"):
    """Contest "mayor" (Ann, Ben, a write-in line; plurality) and "rcv" (RCV, ``names`` as x, y, z)."""
    cands = [{"@id": f"k{n}", "@type": "CVR.Candidate", "Name": n} for n in ("Ann", "Ben", *names)]
    mayor = {"@id": "mayor", "@type": "CVR.CandidateContest", "Name": "Mayor", "VotesAllowed": 1,
             "ContestSelection": [{"@id": "ann", "@type": "CVR.CandidateSelection", "CandidateIds": ["kAnn"]},
                                  {"@id": "ben", "@type": "CVR.CandidateSelection", "CandidateIds": ["kBen"]},
                                  {"@id": "wi", "@type": "CVR.CandidateSelection", "IsWriteIn": True}]}
    rcv = {"@id": "rcv", "@type": "CVR.CandidateContest", "Name": "RCV",
           "ContestSelection": [{"@id": s, "@type": "CVR.CandidateSelection", "CandidateIds": [f"k{n}"]}
                                for s, n in zip("xyz", names)]}
    if rcv_variation:
        rcv["VoteVariation"] = rcv_variation
    return {"@id": "e", "@type": "CVR.Election", "ElectionScopeId": "scope", "Name": "Test 2026",
            "Candidate": cands, "Contest": [mayor, rcv]}


def report(tmp_path, cvrs, name="cvrs.json", names=("A", "B", "C"), election=None, **extra):
    doc = {"@type": "CVR.CastVoteRecordReport", "CVR": cvrs, "Election": [election or definition(names)],
           "GeneratedDate": "2026-01-01T00:00:00Z",
           "GpUnit": [{"@id": "scope", "@type": "CVR.GpUnit", "Type": "other", "Name": "County"},
                      {"@id": "p1", "@type": "CVR.GpUnit", "Type": "precinct", "Name": "Precinct 1"}],
           "ReportGeneratingDeviceIds": ["rd"], "ReportingDevice": [{"@id": "rd", "@type": "CVR.ReportingDevice"}],
           "Version": "1.0.0", **extra}
    path = tmp_path / name
    path.write_bytes(orjson.dumps(doc))
    return path


def test_marks_overvotes_write_ins_undervotes_and_absent_contests(tmp_path):
    path = report(tmp_path, [
        cvr("1", ct("mayor", sel("ann")), ct("rcv", sel("x", 1), sel("y", 1), sel("z", 3))),  # overvote at rank 1
        cvr("2", ct("mayor", sel("wi", CVRWriteIn={"@type": "CVR.CVRWriteIn", "Text": "Zed"})),
            ct("rcv", sel("y", 2, 3))),  # a write-in; rank 1 skipped, y ranked twice
        cvr("3", ct("mayor", Overvotes=1)),  # an overvote the source only labels; no rcv contest
        cvr("4", ct("mayor", sel("ann", HasIndication="no"), sel("ben", IsAllocable="no")), ct("rcv"),
            BallotStyleUnitId="p1", BatchId="7", CreatingDeviceId="rd"),
    ])
    e = nist_cdf.read([path])
    mayor, rcv = e.contests
    assert e.name == "Test 2026" and e.meta["format"] == "cdf"
    assert (mayor.kind, rcv.kind, rcv.ranks) == (ContestKind.PLURALITY, ContestKind.RANKED, 3)
    assert [(c.name, c.write_in, c.undeclared) for c in mayor.choices] == [
        ("Ann", False, False), ("Ben", False, False), (UWI_NAME, True, True)]
    assert e.marks("mayor").masks.tolist() == [0b001, 0b100, mayor.overvote_flag, 0b010]
    assert e.marks("rcv").masks.tolist() == [[0b011, 0, 0b100], [0, 0b010, 0b010], [0, 0, 0], [0, 0, 0]]
    assert e.marks("rcv").present.tolist() == [True, True, False, True]
    assert [e.cards.attribute(k).values()[3] for k in ("precinct", "batch", "tabulator")] == ["Precinct 1", "7", "rd"]


def test_is_allocable_no_is_a_mark_unless_skip_unallocable_as_rctab(tmp_path):
    # a vendor's export of an overvoted rank: both marks flagged not allocable
    path = report(tmp_path, [cvr("1", ct("rcv", sel("x", 1, IsAllocable="no"), sel("y", 1, IsAllocable="no"),
                                         sel("z", 2)))])
    assert nist_cdf.read([path]).marks("rcv").masks.tolist() == [[0b011, 0b100]]  # an overvote at rank 1
    skipped = nist_cdf.read([path], skip_unallocable=True)
    assert skipped.marks("rcv").masks.tolist() == [[0, 0b100]]  # RCTab: rank 1 skipped


def test_lenient_reading_of_untyped_json_text_numbers_and_rank_on_the_selection(tmp_path):
    election = definition(rcv_variation=None)
    for c in election["Contest"]:
        c["@type"] = "CandidateContest"
        for s in c["ContestSelection"]:
            s.pop("@type")
    election["Contest"][0]["ContestSelection"][2]["IsWriteIn"] = "true"
    for k in election["Candidate"]:
        k.pop("@type")
    no_snapshot_id = cvr(None, ct("mayor", sel("wi", NumberVotes="1")))
    del no_snapshot_id["CurrentSnapshotId"]
    rank_on_selection = {"ContestSelectionId": "y", "Rank": "2",
                         "SelectionPosition": [{"HasIndication": "yes", "NumberVotes": 1}]}
    path = report(tmp_path, [cvr("1", ct("rcv", sel("x", "1"), rank_on_selection)), no_snapshot_id,
                             cvr(None, BallotAuditId="audit-9"), cvr(None, BallotPrePrintedId="pre-3")],
                  election=election)
    e = nist_cdf.read([path])
    assert e.cards.card_id.tolist() == ["1", "cvrs.json(2)", "audit-9", "pre-3"]
    assert e.cards.attribute("ballot").values() == [None, None, "audit-9", None]
    rcv = e.contests[1]
    assert rcv.is_ranked and rcv.ranks == 2 and e.marks("rcv").masks[0].tolist() == [0b001, 0b010]
    assert e.marks("mayor").masks[1] == 0b100 and e.contests[0].choices[2].write_in


def test_xml_without_namespace_and_with_the_nist_prefix(tmp_path):
    body = """<{p}CastVoteRecordReport {ns} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <{p}CVR><{p}BallotStyleUnitId>p1</{p}BallotStyleUnitId><{p}CreatingDeviceId>dev</{p}CreatingDeviceId>
        <{p}CurrentSnapshotId>s</{p}CurrentSnapshotId>
        <{p}CVRSnapshot ObjectId="s"><{p}CVRContest><{p}ContestId>c</{p}ContestId>
          <{p}CVRContestSelection><{p}ContestSelectionId>cs2</{p}ContestSelectionId>
            <{p}SelectionPosition><{p}HasIndication>yes</{p}HasIndication><{p}NumberVotes>1</{p}NumberVotes>
            </{p}SelectionPosition></{p}CVRContestSelection></{p}CVRContest><{p}Type>original</{p}Type>
        </{p}CVRSnapshot><{p}ElectionId>e</{p}ElectionId><{p}UniqueId>b-1</{p}UniqueId></{p}CVR>
      <{p}Election ObjectId="e"><{p}Candidate ObjectId="k1"><{p}Name>Ann</{p}Name></{p}Candidate>
        <{p}Candidate ObjectId="k2"><{p}Name>Ben</{p}Name></{p}Candidate>
        <{p}Contest ObjectId="c" xsi:type="{p}CandidateContest">
          <{p}ContestSelection ObjectId="cs1" xsi:type="{p}CandidateSelection"><{p}CandidateIds>k1</{p}CandidateIds>
          </{p}ContestSelection>
          <{p}ContestSelection ObjectId="cs2" xsi:type="{p}CandidateSelection"><{p}CandidateIds>k2</{p}CandidateIds>
          </{p}ContestSelection><{p}Name>Mayor</{p}Name><{p}VotesAllowed>1</{p}VotesAllowed></{p}Contest>
        <{p}ElectionScopeId>p1</{p}ElectionScopeId></{p}Election>
      <{p}GpUnit ObjectId="p1"><{p}Name>North</{p}Name><{p}Type>precinct</{p}Type></{p}GpUnit>
    </{p}CastVoteRecordReport>"""
    for name, p, ns in (("plain.xml", "", ""), ("nist.xml", "cdf:", f'xmlns:cdf="{nist_cdf.NAMESPACE}"')):
        path = tmp_path / name
        path.write_text(body.format(p=p, ns=ns))
        e = nist_cdf.read([path])
        assert e.cards.card_id.tolist() == ["b-1"] and e.marks("c").masks.tolist() == [0b10], name
        assert e.cards.attribute("precinct").values() == ["North"] and e.cards.attribute("tabulator").values() == [
            "dev"]
        assert nist_cdf.sniff(path)


def test_several_files_are_one_election_with_choices_matched_by_id(tmp_path):
    a = report(tmp_path, [cvr("1", ct("rcv", sel("x", 1)))], name="a.json")
    second = definition()
    second["Contest"][1]["ContestSelection"].append({"@id": "w", "@type": "CVR.CandidateSelection",
                                                     "CandidateIds": ["kW"]})
    second["Candidate"].append({"@id": "kW", "@type": "CVR.Candidate", "Name": "Wes"})
    b = report(tmp_path, [cvr("2", ct("rcv", sel("w", 1), sel("x", 2)))], name="b.json", election=second)
    e = nist_cdf.read([a, b])
    assert e.contests[1].choice_names == ["A", "B", "C", "Wes"] and e.cards.card_id.tolist() == ["1", "2"]
    assert e.marks("rcv").masks.tolist() == [[0b0001, 0], [0b1000, 0b0001]]
    assert e.meta["files"].splitlines() == [str(a), str(b)]
    other = definition()
    other["Contest"][0]["VotesAllowed"] = 2
    c = report(tmp_path, [], name="c.json", election=other)
    with pytest.raises(FormatError, match=r"c\.json.*contest 'mayor' has other rules"):
        nist_cdf.read([a, c])


def test_options_contest_id_labels_and_candidate_list(tmp_path):
    over = definition(names=("A", "overvote", "UWI"))
    path = report(tmp_path, [cvr("1", ct("mayor", sel("ann")), ct("rcv", sel("x", 1), sel("y", 2), sel("z", 3)))],
                  election=over)
    e = nist_cdf.read([path], contest_id="rcv", overvote_label="overvote", undeclared_write_in_label="UWI",
                      candidates=[{"name": "Alice", "aliases": ["A"]}, "Bob"])
    (contest,) = e.contests  # only the contest asked for; by @id as well as by Name
    assert contest.choice_names == ["Alice", "Bob", UWI_NAME] and contest.choices[0].aliases == ("A",)
    assert e.marks("rcv").masks.tolist() == [[0b001, contest.overvote_flag, 0b100]]
    with pytest.raises(UnknownIdError, match=r"field 'Election\[0\]\.Contest\[1\]\.ContestSelection\[0\]'.*'A' is not"):
        nist_cdf.read([path], contest_id="RCV", candidates=["Bob"])
    with pytest.raises(UnknownIdError, match="no contest named 'Sheriff'.*'Mayor', 'RCV'"):
        nist_cdf.read([path], contest_id="Sheriff")
    with pytest.raises(ConfigError, match="unknown CDF option"):
        nist_cdf.read([path], contestId="RCV")
    with pytest.raises(ConfigError, match="max_rankings"):
        nist_cdf.read([path], max_rankings=0)
    # the contest RCTab is given is counted as RCV, whatever it says: marks without a Rank are rank 1
    mayor = nist_cdf.read([path], contest_id="Mayor")
    assert mayor.contests[0].is_ranked and mayor.marks("mayor").masks.tolist() == [[0b001]]


def test_rctab_source_options():
    source = {"provider": "cdf", "contestId": "Mayor", "overvoteLabel": "", "undeclaredWriteInLabel": "UWI"}
    opts = nist_cdf.options_from_rctab_source(source, [{"name": "A", "aliases": ["a1"], "excluded": False}],
                                              {"maxRankingsAllowed": "max"})
    assert opts == {"contest_id": "Mayor", "undeclared_write_in_label": "UWI",
                    "candidates": [{"name": "A", "aliases": ["a1"]}]}


# bad input ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream_above", [1 << 30, 0], ids=["orjson", "ijson"])
def test_truncated_json_names_the_file_and_position(tmp_path, stream_above):
    path = report(tmp_path, [cvr("1", ct("mayor", sel("ann"))), cvr("2", ct("mayor", sel("ben")))])
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b'"CVR":[') + 60])  # the definitions first: cut inside the CVRs
    with pytest.raises(FormatError, match=r"cvrs\.json.*(truncated|incomplete|premature|unexpected)") as err:
        nist_cdf.read([path], stream_above=stream_above)
    assert "\n" not in str(err.value) and ("char" in str(err.value) or "near byte" in str(err.value))


def test_truncated_xml_names_the_file_and_the_cvrs_read(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_bytes(need(NIST_CDF / "cvr_example_1.xml").read_bytes()[:3000])
    with pytest.raises(FormatError, match=r"cut\.xml: malformed or truncated XML after CVR 3: .*line \d+"):
        nist_cdf.read([path])


def test_unknown_contest_selection_names_card_and_field(tmp_path):
    path = report(tmp_path, [cvr("1", ct("mayor", sel("ann"))), cvr("2", ct("rcv", sel("x", 1), sel("q", 2)))])
    with pytest.raises(UnknownIdError, match=r"cvrs\.json, record 2, field 'CVR\[1\]\.CVRSnapshot\[0\]\.CVRContest"
                                             r"\[0\]\.CVRContestSelection\[1\]\.ContestSelectionId'.*'q' is not"):
        nist_cdf.read([path])


def test_unknown_contest_names_card_and_field(tmp_path):
    path = report(tmp_path, [cvr("7", ct("sheriff", sel("x")))])
    with pytest.raises(UnknownIdError, match=r"record 7, field 'CVR\[0\]\.CVRSnapshot\[0\]\.CVRContest\[0\]\."
                                             r"ContestId'.*'sheriff' is not a Contest"):
        nist_cdf.read([path])


def test_current_snapshot_id_naming_no_snapshot(tmp_path):
    bad = cvr("1", ct("mayor", sel("ann")))
    bad["CurrentSnapshotId"] = "s9"
    path = report(tmp_path, [cvr("0"), bad])
    with pytest.raises(FormatError, match=r"record 1, field 'CVR\[1\]\.CurrentSnapshotId'.*'s9' names no CVRSnapshot"
                                          r".*expected one of 's1'"):
        nist_cdf.read([path])


@pytest.mark.parametrize("stream_above", [1 << 30, 0], ids=["orjson", "ijson"])
def test_rank_of_the_wrong_type_names_card_and_field(tmp_path, stream_above):
    path = report(tmp_path, [cvr("b-5", ct("rcv", sel("x", 1), sel("y", "two")))])
    with pytest.raises(FormatError, match=r"record b-5, field 'CVR\[0\]\.CVRSnapshot\[0\]\.CVRContest\[0\]\."
                                          r"CVRContestSelection\[1\]\.SelectionPosition\[0\]\.Rank'.*'two'.*integer"):
        nist_cdf.read([path], stream_above=stream_above)


@pytest.mark.parametrize("change, error, match", [
    (lambda d: d["CVR"][0]["CVRSnapshot"][0]["CVRContest"][0]["CVRContestSelection"][0]["SelectionPosition"][0]
     .update(HasIndication="maybe"), FormatError, r"HasIndication.*'maybe'.*yes, no or unknown"),
    (lambda d: d["CVR"][0]["CVRSnapshot"][0]["CVRContest"][0].update(Overvotes="many"), FormatError,
     r"Overvotes'.*'many'"),
    (lambda d: d["CVR"][0]["CVRSnapshot"][0]["CVRContest"].append(ct("mayor")), FormatError, r"'mayor' twice"),
    (lambda d: d["Election"][0]["Contest"][0]["ContestSelection"][0].update(CandidateIds=["nobody"]),
     UnknownIdError, r"field 'Election\[0\]\.Contest\[0\]\.ContestSelection\[0\]\.CandidateIds\[0\]'.*'nobody'"),
    (lambda d: d.pop("Election"), FormatError, r"field 'Election'.*no Election"),
    (lambda d: d.update({"@type": "ElectionResults.ElectionReport"}), FormatError, r"field '@type'"),
    (lambda d: d["Election"][0]["Contest"][1].update(VoteVariation="plurality"), FormatError,
     r"Rank 2 in contest 'RCV', whose VoteVariation is not rcv"),
    (lambda d: (d["Election"][0]["Contest"][1].pop("VoteVariation"), d["CVR"].append(cvr("2", ct("rcv", sel("x"))))),
     FormatError, r"record 2.*'RCV' has marks with and without Rank"),
])
def test_bad_values_name_their_field(tmp_path, change, error, match):
    doc = orjson.loads(report(tmp_path, [cvr("1", ct("mayor", sel("ann"))), ]).read_bytes())
    doc["CVR"][0]["CVRSnapshot"][0]["CVRContest"].append(ct("rcv", sel("x", 1), sel("y", 2)))
    change(doc)
    path = tmp_path / "bad.json"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(error, match=match):
        nist_cdf.read([path])


# writing --------------------------------------------------------------------------------------------------------------
def assert_same(a, b):
    assert a.name == b.name and a.contests == b.contests
    assert a.cards.card_id.tolist() == b.cards.card_id.tolist()
    for key in ("tabulator", "batch", "precinct", "precinct_portion", "style", "counting_group", "ballot"):
        assert a.cards.attribute(key).values() == b.cards.attribute(key).values(), key
    for ma, mb in zip(a.cards.marks, b.cards.marks, strict=True):
        assert ma.masks.dtype == mb.masks.dtype
        assert np.array_equal(ma.present, mb.present) and np.array_equal(ma.masks, mb.masks)


def validate(path):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) validates CDF output")
    schema = orjson.loads(need(SCHEMA).read_bytes())  # its root is a $ref to CVR.CastVoteRecordReport
    jsonschema.Draft4Validator(schema).validate(orjson.loads(path.read_bytes()))


@pytest.mark.parametrize("make", [small_election, lambda: random_election(np.random.default_rng(7), 500)],
                         ids=["small", "random500"])
def test_round_trip_is_lossless_and_schema_valid(tmp_path, make):
    e = make()
    out = tmp_path / "out.json"
    assert nist_cdf.write(e, out, chunk_size=3) == [out]
    assert_same(e, nist_cdf.read([out]))
    assert_same(e, nist_cdf.read([out], stream_above=0))
    validate(out)


def tricky_election():
    """Every attribute, clashing ids, parties, aliases, qualified write-ins, every contest kind and rule."""
    b = ElectionBuilder("")
    rcv = b.add_contest(Contest("x", "Mayor", ContestKind.RANKED, (
        Choice("x", "Pat", party="Green", aliases=("P1", "pat")), Choice("veritally", "Quinn"),
        Choice("q2", "Quinn", write_in=True)), ranks=4, winners=2, district="City"))
    approval = b.add_contest(Contest("approval", "Board", ContestKind.APPROVAL,
                                     (Choice("a", "Ann"), Choice("b", "Ben")), winners=0, votes_allowed=2))
    vote1 = b.add_contest(Contest("v", "Odd", ContestKind.VOTE_FOR_N, (Choice("a", "Ann"),), votes_allowed=1))
    measure = b.add_contest(Contest("m", "Measure", ContestKind.THRESHOLD, (Choice("y", "Yes"), Choice("n", "No")),
                                    threshold=0.55))
    uwi = b.add_contest(Contest("u", "Clerk", ContestKind.PLURALITY, (
        Choice("u1", UWI_NAME), Choice("u2", "Undeclared Write-ins", write_in=True, undeclared=True))))
    for i in range(12):
        attrs = {"tabulator": ["veritally", "T 2", None][i % 3], "batch": f"B{i % 2}",
                 "precinct": [None, "P1", "P2"][i % 3], "precinct_portion": [None, "P1-a"][i % 2],
                 "style": "S1" if i % 4 else None, "counting_group": [None, "Mail"][i // 6],
                 "ballot": f"ballot-{i // 2}" if i < 4 else None}
        b.add_card(f"card {i}", {rcv: [OVERVOTE | 0b011, 0, 0b100, i % 8], approval: i % 4, vote1: i % 2,
                                 measure: OVERVOTE if i == 3 else i % 3, uwi: 0b11 if i == 5 else 1}, attrs)
    b.add_card("empty", {})
    return b.build()


def test_round_trip_of_every_attribute_rule_and_id_clash(tmp_path):
    e = tricky_election()
    out = tmp_path / "tricky.json"
    nist_cdf.write(e, out)
    assert_same(e, nist_cdf.read([out]))
    validate(out)
    doc = orjson.loads(out.read_bytes())
    assert list(doc)[-1] == "CVR" and doc["Version"] == "1.0.0"  # definitions first, for streaming readers
    mayor = doc["Election"][0]["Contest"][0]
    assert (mayor["VoteVariation"], mayor["NumberElected"]) == ("rcv", 2)
    ext = json.loads(next(c["Value"] for c in mayor["Code"] if c["OtherType"] == "veritally"))
    assert ext == {"district": "City", "ranks": 4}  # only what CDF cannot say
    ids = [s["@id"] for s in mayor["ContestSelection"]]
    assert ids[:2] == ["x~2", "veritally"] and len(set(ids)) == len(ids)  # 'x' is the contest's @id already


def test_written_file_reads_with_rctab_semantics(tmp_path):
    e = small_election()
    out = tmp_path / "small.json"
    nist_cdf.write(e, out)
    doc = orjson.loads(out.read_bytes())
    rankings = rctab_parse_json(doc, "RCV Mayor", overvote_label="overvote")
    contest, marks = e.contests[3], e.cards.marks[3]
    expected = {}
    for i in np.flatnonzero(marks.present).tolist():
        pairs = []
        for r, mask in enumerate(marks.masks[i].tolist(), 1):
            pairs += [(r, c.name) for b, c in enumerate(contest.choices) if mask >> b & 1]
            if mask & contest.overvote_flag:
                pairs.append((r, "overvote"))
        expected[e.cards.card_id[i]] = sorted(pairs)
    assert rankings == expected
    # and Veritally reading it with an RCTab config gives RCTab's view: the contest, the config's names
    config_candidates = [{"name": "Pat Smith", "aliases": ["Pat"]}, {"name": "Quinn"}, {"name": "Riley"}]
    options = nist_cdf.options_from_rctab_source({"contestId": "RCV Mayor", "overvoteLabel": "overvote"},
                                                 config_candidates, {"maxRankingsAllowed": "3"})
    back = nist_cdf.read([out], **options)
    assert back.contests[0].choice_names == ["Pat Smith", "Quinn", "Riley", UWI_NAME]
    assert np.array_equal(back.cards.marks[0].masks, marks.masks)


def rctab_parse_json(doc, contest_name, overvote_label=""):
    """RCTab's CommonDataFormatReader.parseJson transcribed: each CVR's sorted (rank, candidate name) pairs."""
    candidates = {c["@id"]: c for e in doc["Election"] for c in e["Candidate"]}
    contest = next(c for e in doc["Election"] for c in e["Contest"] if c["Name"] == contest_name)
    selections = {s["@id"]: s for s in contest["ContestSelection"]}
    out = {}
    for record in doc["CVR"]:
        snapshot = next(s for s in record["CVRSnapshot"] if s["@id"] == record["CurrentSnapshotId"])
        found = next((c for c in snapshot["CVRContest"] if c["ContestId"] == contest["@id"]), None)
        if found is None:  # RCTab's JSON reader stops here (no check); its XML reader skips the CVR
            continue
        pairs = []
        for cs in found["CVRContestSelection"]:
            s = selections[cs["ContestSelectionId"]]
            if s.get("IsWriteIn") == "true":  # a string compare: a JSON boolean true is not a write-in to RCTab
                name = UWI_NAME
            else:
                name = candidates[s["CandidateIds"][0]]["Name"]
                name = "overvote" if name == overvote_label else name
            if "Rank" in cs:
                pairs.append((cs["Rank"], name))
                continue
            for sp in cs["SelectionPosition"]:
                if "CVRWriteIn" in sp:
                    name = UWI_NAME
                if sp.get("HasIndication") == "no" or sp.get("IsAllocable") == "no":
                    continue
                pairs.append((sp["Rank"], name))
        out[record["UniqueId"]] = sorted(pairs)
    return out


def test_streaming_reads_the_same_as_parsing_whole_for_cvr_first_files():
    # RCTab writes its keys sorted, "CVR" before "Election": the streaming reader scans for the definitions
    path = need(RCTAB / "test_set_6_duplicate_exhaust" / "test_set_6_duplicate_exhaust_expected_cdf_cvr.json")
    assert path.read_bytes().index(b'"CVR"') < path.read_bytes().index(b'"Election"')
    assert_same(nist_cdf.read([path]), nist_cdf.read([path], stream_above=0))


def test_streaming_scans_for_the_definitions_when_the_tail_does_not_parse(tmp_path, monkeypatch):
    path = report(tmp_path, [cvr("1", ct("mayor", sel("ann")), BallotStyleUnitId="p1")])  # "CVR" comes first
    whole = nist_cdf.read([path])
    monkeypatch.setattr(nist_cdf, "_tail_definitions", lambda _path: None)
    streamed = nist_cdf.read([path], stream_above=0)
    assert_same(whole, streamed)
    assert streamed.cards.attribute("precinct").values() == ["Precinct 1"]


def test_writing_is_atomic_and_chunked_output_is_identical(tmp_path):
    e = random_election(np.random.default_rng(2), 50)
    one, many = tmp_path / "one.json", tmp_path / "many.json"
    nist_cdf.write(e, one, chunk_size=1000)
    nist_cdf.write(e, many, chunk_size=7)
    strip = lambda p: {k: v for k, v in orjson.loads(p.read_bytes()).items() if k != "GeneratedDate"}  # noqa: E731
    assert strip(one) == strip(many)
    with pytest.raises(ConfigError):
        nist_cdf.write(e, tmp_path / "x.json", chunk_size=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.json", "one.json"]


# detection ------------------------------------------------------------------------------------------------------------
def test_sniff_claims_cdf_json_and_xml_only(tmp_path):
    cdf_json = report(tmp_path, [cvr("1")])
    untyped = tmp_path / "untyped.json"
    untyped.write_bytes(b'{"CVR": [{"CVRSnapshot": [], "CurrentSnapshotId": "s"}]}')
    results = tmp_path / "results.json"
    results.write_bytes(b'{"@type": "ElectionResults.ElectionReport", "Election": [], "CVR": []}')
    cvr_export = tmp_path / "CvrExport.json"
    cvr_export.write_bytes(b'{"Version": "5.10", "ElectionId": "x", "Sessions": []}')
    other_xml = tmp_path / "hart.xml"
    other_xml.write_bytes(b'<?xml version="1.0"?><Cvr xmlns="http://tempuri.org/CVRDesign.xsd"></Cvr>')
    assert nist_cdf.sniff(cdf_json) and nist_cdf.sniff(untyped) and nist_cdf.sniff(tmp_path)
    assert not any(nist_cdf.sniff(p) for p in (results, cvr_export, other_xml, tmp_path / "missing.json"))
    assert nist_cdf.sniff(need(NIST_CDF / "cvr_example_2.xml"))
    assert nist_cdf.sniff(need(RCTAB / "unisyn_cvrs" / "101-RCV-CVT_TEST_3_UNIOVS2103-2.xml"))


@pytest.mark.skipif(importlib.util.find_spec("veritally.formats.hart") is None,
                    reason="detect_format tries every format in order; formats/hart.py is not written yet")
def test_detect_format_and_convert_to_json_pick_cdf(tmp_path):
    e = small_election()
    out = tmp_path / "small.json"
    write_cvrs(e, out, "cdf")
    assert detect_format(out) == "cdf" and detect_format(need(NIST_CDF / "cvr_example_1.xml")) == "cdf"
    assert_same(e, read_cvrs(out))
    results = tmp_path / "results.json"
    results.write_bytes(b'{"@type": "ElectionResults.ElectionReport", "Election": []}')
    with pytest.raises(FormatError):
        detect_format(results)
