"""Dominion CvrExport reader and writer: RCTab's Dominion cases, Dominion's quirks, bad input, round trips."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
import orjson
import pytest

from veritally.builder import ElectionBuilder
from veritally.errors import ConfigError, DuplicateCardError, FormatError, UnknownIdError
from veritally.formats import _dominion_read, detect_format, read_cvrs, write_cvrs
from veritally.formats.dominion import read, sniff, write
from veritally.model import Choice, Contest, ContestKind
from veritally.tabulate import tabulate
from veritally.tabulate.ranked import Inactive, OvervoteRule, first_round

from .._shared import RCTAB, need
from ..elections import random_election, small_election

CASES = ["dominion_alaska", "dominion_wyoming", "dominion_multi_file", "dominion_no_precinct_data",
         "2024_alaska_dominion"]


# RCTab conformance ---------------------------------------------------------------------------------------------------
def rctab_case(case):
    folder = need(RCTAB / case)
    config = orjson.loads((folder / f"{case}_config.json").read_bytes())
    report = orjson.loads((folder / f"{case}_expected_detailed_report.json").read_bytes())
    source = config["cvrFileSources"][0]
    election = read([(folder / source["filePath"]).resolve()])
    return config, report, source, election


def rctab_names(config, source):
    """Dominion candidate id → the name RCTab reports (its config maps ids through aliases)."""
    names = {alias: c["name"] for c in config["candidates"] for alias in c.get("aliases", ())}
    names[source["undeclaredWriteInLabel"]] = "Undeclared Write-ins"
    return names


@pytest.mark.parametrize("case", CASES)
def test_rctab_dominion_case_round_one_and_ballot_count(case):
    config, report, source, election = rctab_case(case)
    index = election.contest_index(source["contestId"])
    contest, marks = election.contests[index], election.cards.marks[index]
    rules = config["rules"]
    names = rctab_names(config, source)
    excluded_names = {c["name"] for c in config["candidates"] if c.get("excluded")}
    r1 = first_round(
        contest, marks,
        excluded=[i for i, c in enumerate(contest.choices) if names.get(c.id) in excluded_names],
        overvote_rule=OvervoteRule(rules["overvoteRule"]),
        max_skipped=None if rules["maxSkippedRanksAllowed"] == "unlimited" else int(rules["maxSkippedRanksAllowed"]),
        exhaust_on_duplicate=rules["exhaustOnDuplicateCandidate"])
    expected = {name: int(v) for name, v in report["results"][0]["tally"].items()}
    got: dict[str, int] = {}
    for i, choice in enumerate(contest.choices):
        name = names.get(choice.id, choice.name)
        got[name] = got.get(name, 0) + int(r1.tallies[0, i])
    assert {k: v for k, v in got.items() if k in expected or v} == expected
    # RCTab counts one CVR per card holding the contest (InvalidContest ones left out)
    assert int(marks.present.sum()) == int(report["summary"]["totalNumBallots"])
    assert int(r1.inactive[Inactive.NO_RANKINGS][0]) == report["summary"]["undervotes"]
    for key, value in report["results"][0]["inactiveBallots"].items():
        assert int(r1.inactive[Inactive(key)][0]) == int(value), key


def test_2024_alaska_rankings_match_rctab_cvr_export_card_by_card():
    config, _, source, election = rctab_case("2024_alaska_dominion")
    index = election.contest_index(source["contestId"])
    contest, marks = election.contests[index], election.cards.marks[index]
    names = {alias: c["name"] for c in config["candidates"] for alias in c["aliases"]}
    row_of = {card_id: i for i, card_id in enumerate(election.cards.card_id.tolist())}
    portions = election.cards.attribute("precinct_portion").values()
    with open(RCTAB / "2024_alaska_dominion" / "2024_alaska_dominion_expected_rctab_cvr.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == int(marks.present.sum()) == 124
    for row in rows:
        i = row_of[f"{row['Tabulator Id']}-{row['Batch Id']}-{row['Record Id']}"]
        assert marks.present[i] and portions[i] == row["Precinct Portion"]
        # RCTab writes as many rank columns as declared candidates (4) when maxRankingsAllowed is "max"
        # (OutputWriter.writeRcTabCvrCsv), so the contest's 5th rank is not in this file
        ranks = [k for k in row if k.startswith("Rank ")]
        for r, key in enumerate(ranks):
            mask = int(marks.masks[i, r])
            chosen = [c.id for b, c in enumerate(contest.choices) if mask >> b & 1]
            assert [names.get(c, c) for c in chosen] == ([] if row[key] == "undervote" else [row[key]])


def test_multi_card_ballots_and_adjudicated_sessions_in_the_san_francisco_export():
    folder = need(RCTAB / "dominion_multi_file" / "dominion_multi_file_input_data")
    e = read([folder])
    ids = e.cards.card_id.tolist()
    ballot = e.cards.attribute("ballot").values()
    assert e.n_cards == 759 and ids[:3] == ["27-892-117-4713", "27-892-117-4714", "27-892-117-4715"]
    assert ballot[:3] == ["27-892-117"] * 3
    assert sum(b is None for b in ballot) == 136  # one-card sessions
    assert e.meta["version"] == "5.10.50.85" and len(e.meta["files"].splitlines()) == 4
    council = e.contests[e.contest_index("13")]
    assert council.kind is ContestKind.RANKED and council.ranks == 4
    assert e.contests[e.contest_index("1")].kind is ContestKind.PLURALITY
    assert [c.write_in for c in council.choices].count(True) >= 1
    precincts = e.cards.attribute("precinct").values()
    assert precincts[0] == "PCT 7629" and e.cards.attribute("batch").values()[0] == "27-892"


def test_no_precinct_manifest_labels_precincts_by_id():
    folder = need(RCTAB / "dominion_no_precinct_data" / "dominion_no_precinct_data_input_data")
    e = read([folder])
    assert e.cards.attribute("precinct").values()[0] == "3"
    assert e.cards.attribute("precinct_portion").values()[0] == "Campbell County"


def test_export_without_cvr_files_is_a_clear_error():
    folder = need(RCTAB / "dominion_kansas" / "kansas_input_data")  # RCTab ships this case without its CVRs
    with pytest.raises(FormatError, match="kansas_input_data.*no CvrExport"):
        read([folder])


def test_streaming_a_big_file_reads_the_same_as_parsing_it_whole():
    folder = need(RCTAB / "dominion_wyoming" / "wyoming_input_data")
    whole, streamed = read([folder]), read([folder], stream_above=0)
    assert_same(whole, streamed)


def test_zip_of_an_export_and_explicit_cvr_files(tmp_path):
    folder = need(RCTAB / "dominion_multi_file" / "dominion_multi_file_input_data")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, f"CVR_Export_2020/{p.name}")
    assert sniff(archive) and detect_format(archive) == "dominion"
    assert_same(read([folder]), read([archive]), files=False)
    two = read([folder / "CvrExport_2.json", folder / "CvrExport_1.json"])
    assert two.cards.card_id.tolist()[0] == read([folder]).cards.card_id.tolist()[0]  # files in export order
    assert two.n_cards < 759


# Dominion's rules on small synthetic exports ---------------------------------------------------------------------------
CONTESTS = [{"Description": "Mayor", "Id": 1, "DistrictId": 1, "VoteFor": 1, "NumOfRanks": 0},
            {"Description": "Council", "Id": 2, "DistrictId": 1, "VoteFor": 1, "NumOfRanks": 3}]
CANDIDATES = [{"Description": "Ann", "Id": 10, "ContestId": 1, "Type": "Regular"},
              {"Description": "Ben", "Id": 11, "ContestId": 1, "Type": "Regular"},
              {"Description": "Write-in", "Id": 12, "ContestId": 1, "Type": "WriteIn"},
              {"Description": "Cy", "Id": 20, "ContestId": 2, "Type": "Regular"},
              {"Description": "Di", "Id": 21, "ContestId": 2, "Type": "Regular"},
              {"Description": "Ed", "Id": 22, "ContestId": 2, "Type": "QualifiedWriteIn"}]


def mark(candidate, rank=1, ambiguous=False):
    return {"CandidateId": candidate, "Rank": rank, "IsAmbiguous": ambiguous, "IsVote": True,
            "OutstackConditionIds": []}


def contest(cid, *marks, outstack=()):
    return {"Id": cid, "Undervotes": 0, "Overvotes": 0, "OutstackConditionIds": list(outstack), "Marks": list(marks)}


def session(record, *cards, modified=None, tab=5, batch=2, portion=1):
    def side(cs, current):
        return {"PrecinctPortionId": portion, "BallotTypeId": 1, "IsCurrent": current,
                "Cards": [{"Id": 100 * record + k, "KeyInId": 0, "PaperIndex": k, "Contests": c}
                          for k, c in enumerate(cs)]}

    s = {"TabulatorId": tab, "BatchId": batch, "RecordId": record, "CountingGroupId": 2, "ImageMask": "",
         "SessionType": "ScannedVote", "Original": side(cards, modified is None)}
    if modified is not None:
        s["Modified"] = side(modified, True)
    return s


def export(folder, sessions, skip=(), **manifests):
    folder.mkdir(exist_ok=True)
    lists = {"ContestManifest.json": CONTESTS, "CandidateManifest.json": CANDIDATES,
             "PrecinctPortionManifest.json": [{"Description": "North 1A", "Id": 1, "PrecinctId": 7}],
             "PrecinctManifest.json": [{"Description": "North 1", "Id": 7}],
             "TabulatorManifest.json": [{"Description": "ICC 5", "Id": 5}],
             "BallotTypeManifest.json": [{"Description": "Style 1", "Id": 1}],
             "CountingGroupManifest.json": [{"Description": "Election Day", "Id": 1},
                                            {"Description": "Vote by Mail", "Id": 2}]}
    lists.update({f"{k}Manifest.json": v for k, v in manifests.items()})
    for name, items in lists.items():
        if name not in skip:
            (folder / name).write_bytes(orjson.dumps({"Version": "5.10.50.85", "List": items}))
    (folder / "CvrExport.json").write_bytes(orjson.dumps({"Version": "5.10.50.85", "ElectionId": "Test",
                                                          "Sessions": sessions}))
    return folder


def test_dominion_rules_adjudication_ambiguity_overvotes_invalid_contests_and_layouts(tmp_path):
    old_layout = session(3)
    old_layout["Original"] = {"PrecinctPortionId": 1, "BallotTypeId": 1, "IsCurrent": True,
                              "Contests": [contest(1, mark(11))]}
    folder = export(tmp_path / "e", [
        session(1, [contest(1, mark(10), mark(11, ambiguous=True)), contest(2, mark(20, 1), mark(21, 1), mark(22, 3))]),
        session(2, [contest(1, mark(10))], modified=[[contest(1, mark(12)), contest(2, mark(21, 2))]]),
        old_layout,
        session(4, [contest(1, mark(10), mark(11))], [contest(2, mark(20), outstack=[7])]),
    ])
    e = read([folder])
    mayor, council = e.marks("1"), e.marks("2")
    assert e.name == "Test" and e.cards.card_id.tolist() == ["5-2-1", "5-2-2", "5-2-3", "5-2-4-400", "5-2-4-401"]
    assert mayor.masks.tolist() == [0b001, 0b100, 0b010, 0b011, 0]  # ambiguous dropped; Modified used; overvote
    assert mayor.present.tolist() == [True, True, True, True, False]
    assert council.masks[:2].tolist() == [[0b011, 0, 0b100], [0, 0b010, 0]]  # two marks at rank 1; skipped rank
    assert council.present.tolist() == [True, True, False, False, False]  # InvalidContest (7) left off the card
    assert e.meta["invalid_contests_skipped"] == "1"
    assert e.cards.attribute("ballot").values() == [None, None, None, "5-2-4", "5-2-4"]
    attrs = {k: e.cards.attribute(k).values()[0] for k in ("tabulator", "batch", "precinct", "precinct_portion",
                                                              "style", "counting_group")}
    assert attrs == {"tabulator": "ICC 5", "batch": "5-2", "precinct": "North 1", "precinct_portion": "North 1A",
                     "style": "Style 1", "counting_group": "Vote by Mail"}
    c1, c2 = e.contests
    assert (c1.kind, c1.votes_allowed, c2.kind, c2.ranks) == (ContestKind.PLURALITY, 1, ContestKind.RANKED, 3)
    assert [(c.id, c.name, c.write_in, c.undeclared) for c in c1.choices] == [
        ("10", "Ann", False, False), ("11", "Ben", False, False), ("12", "Write-in", True, True)]
    assert (c2.choices[2].write_in, c2.choices[2].undeclared) == (True, False)  # qualified write-in


def test_vote_for_two_is_vote_for_n(tmp_path):
    folder = export(tmp_path / "e", [session(1, [contest(1, mark(10), mark(11))])],
                    Contest=[{**CONTESTS[0], "VoteFor": 2}], Candidate=CANDIDATES[:3])
    c = read([folder]).contests[0]
    assert (c.kind, c.votes_allowed, c.winners) == (ContestKind.VOTE_FOR_N, 2, 2)


# bad input ------------------------------------------------------------------------------------------------------------
def good_sessions():
    return [session(1, [contest(1, mark(10)), contest(2, mark(20, 1), mark(21, 2))]),
            session(2, [contest(1, mark(11))])]


@pytest.mark.parametrize("stream_above", [1 << 30, 0], ids=["orjson", "ijson"])
def test_truncated_cvr_export_names_the_file_and_position(tmp_path, stream_above):
    folder = export(tmp_path / "e", good_sessions())
    path = folder / "CvrExport.json"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(FormatError, match=r"CvrExport\.json.*(truncated|incomplete|premature|unexpected)") as err:
        read([folder], stream_above=stream_above)
    assert "\n" not in str(err.value) and ("char" in str(err.value) or "near byte" in str(err.value))


def test_rank_of_the_wrong_type_names_the_card_and_field(tmp_path):
    sessions = good_sessions()
    sessions[0]["Original"]["Cards"][0]["Contests"][1]["Marks"][1]["Rank"] = "x"
    with pytest.raises(FormatError, match=r"CvrExport\.json, record 5-2-1, field .*Marks\[1\]\.Rank.*'x'"):
        read([export(tmp_path / "e", sessions)])


def test_rank_beyond_num_of_ranks_is_an_error(tmp_path):
    sessions = good_sessions()
    sessions[0]["Original"]["Cards"][0]["Contests"][1]["Marks"][1]["Rank"] = 4
    with pytest.raises(FormatError, match=r"record 5-2-1.*Rank.*outside 1\.\.3"):
        read([export(tmp_path / "e", sessions)])


def test_unknown_candidate_names_the_card_and_field(tmp_path):
    sessions = good_sessions()
    sessions[1]["Original"]["Cards"][0]["Contests"][0]["Marks"][0]["CandidateId"] = 99
    with pytest.raises(UnknownIdError, match=r"CvrExport\.json, record 5-2-2, field .*CandidateId.*99"):
        read([export(tmp_path / "e", sessions)])


def test_candidate_of_another_contest_is_unknown_in_this_one(tmp_path):
    sessions = good_sessions()
    sessions[1]["Original"]["Cards"][0]["Contests"][0]["Marks"][0]["CandidateId"] = 20
    with pytest.raises(UnknownIdError, match="record 5-2-2.*candidate id 20"):
        read([export(tmp_path / "e", sessions)])


def test_unknown_contest_names_the_card(tmp_path):
    sessions = good_sessions()
    sessions[1]["Original"]["Cards"][0]["Contests"][0]["Id"] = 9
    with pytest.raises(UnknownIdError, match=r"record 5-2-2, field .*Contests\[0\]\.Id.*contest id 9"):
        read([export(tmp_path / "e", sessions)])


def test_candidate_manifest_naming_an_unknown_contest(tmp_path):
    candidates = [*CANDIDATES, {"Description": "Zed", "Id": 30, "ContestId": 3, "Type": "Regular"}]
    with pytest.raises(UnknownIdError, match=r"CandidateManifest\.json, record 6, field 'ContestId'"):
        read([export(tmp_path / "e", good_sessions(), Candidate=candidates)])


def test_unknown_precinct_portion(tmp_path):
    sessions = good_sessions()
    sessions[1]["Original"]["PrecinctPortionId"] = 8
    with pytest.raises(UnknownIdError, match="record 5-2-2.*PrecinctPortionId 8"):
        read([export(tmp_path / "e", sessions)])


def test_duplicate_card_names_both_records(tmp_path):
    sessions = [*good_sessions(), session(1, [contest(1, mark(10))])]
    with pytest.raises(DuplicateCardError, match="5-2-1 appears twice.*record 1"):
        read([export(tmp_path / "e", sessions)])


def test_missing_manifest(tmp_path):
    folder = export(tmp_path / "e", good_sessions(), skip={"CandidateManifest.json"})
    with pytest.raises(FormatError, match=r"CandidateManifest\.json.*no CandidateManifest"):
        read([folder])


def test_unadjudicated_session_without_modified_is_an_error(tmp_path):
    sessions = good_sessions()
    sessions[0]["Original"]["IsCurrent"] = False
    with pytest.raises(FormatError, match="record 5-2-1.*Modified is missing"):
        read([export(tmp_path / "e", sessions)])


def test_is_current_must_be_a_boolean(tmp_path):
    sessions = good_sessions()
    sessions[0]["Original"]["IsCurrent"] = "false"
    with pytest.raises(FormatError, match="IsCurrent"):
        read([export(tmp_path / "e", sessions)])


def test_manifest_that_is_not_a_manifest(tmp_path):
    folder = export(tmp_path / "e", good_sessions())
    (folder / "ContestManifest.json").write_bytes(b'{"Version": "5", "Items": []}')
    with pytest.raises(FormatError, match=r"ContestManifest\.json, field 'List'"):
        read([folder])


def test_sniff(tmp_path):
    folder = export(tmp_path / "e", good_sessions())
    other = tmp_path / "other.json"
    other.write_bytes(b'{"CVR": []}')
    assert sniff(folder) and sniff(folder / "CvrExport.json") and not sniff(other) and not sniff(tmp_path)
    renamed = tmp_path / "export.json"
    renamed.write_bytes((folder / "CvrExport.json").read_bytes())
    assert sniff(renamed)


# writing --------------------------------------------------------------------------------------------------------------
def assert_same(a, b, files=True):
    assert a.name == b.name and a.contests == b.contests
    assert a.cards.card_id.tolist() == b.cards.card_id.tolist()
    for key in set(a.cards.attributes) | set(b.cards.attributes):
        assert a.cards.attribute(key).values() == b.cards.attribute(key).values(), key
    for ma, mb in zip(a.cards.marks, b.cards.marks):
        assert np.array_equal(ma.present, mb.present) and np.array_equal(ma.masks, mb.masks)
    if files:
        assert {k: v for k, v in a.meta.items() if k != "files"} == {k: v for k, v in b.meta.items() if k != "files"}


def without_labelled_overvotes(e):
    keep = np.ones(e.n_cards, bool)
    for c, m in zip(e.contests, e.cards.marks):
        flagged = (m.masks & c.overvote_flag) != 0
        keep &= ~(flagged.any(axis=1) if flagged.ndim == 2 else flagged)
    return e.take(keep)


def test_round_trip_keeps_contests_choices_marks_and_attributes(tmp_path):
    e = without_labelled_overvotes(random_election(np.random.default_rng(3), 400))
    out = tmp_path / "cvrs"
    files = write_cvrs(e, out, "dominion")
    assert (out / "CvrExport.json") in files and detect_format(out) == "dominion"
    back = read_cvrs(out)
    assert back.contests == e.contests  # ids, kinds, thresholds, write-ins, undeclared: all back
    for ma, mb in zip(e.cards.marks, back.cards.marks):
        assert np.array_equal(ma.present, mb.present) and np.array_equal(ma.masks, mb.masks)
    for key in e.cards.attributes:
        assert back.cards.attribute(key).values() == e.cards.attribute(key).values(), key
    assert tabulate(back, by="batch").to_json() == tabulate(e, by="batch").to_json()
    assert tabulate(back, by="precinct").to_json() == tabulate(e, by="precinct").to_json()


def test_round_trip_with_every_attribute_multi_card_ballots_and_chunks(tmp_path):
    b = ElectionBuilder("County 2026")
    rcv = b.add_contest(Contest("rcv", "Mayor", ContestKind.RANKED, (
        Choice("p", "Pat", party="Green"), Choice("q", "Quinn"),
        Choice("uwi", "Write-in", write_in=True, undeclared=True)), ranks=3, district="City"))
    vote2 = b.add_contest(Contest("7", "Board", ContestKind.VOTE_FOR_N,
                                  (Choice("70", "Xi"), Choice("71", "Yu"), Choice("72", "Zo", write_in=True)),
                                  winners=2, votes_allowed=2))
    for i in range(25):
        attrs = {"tabulator": f"T{i % 3}", "batch": f"B{i % 4}", "precinct": f"P{i % 5}",
                 "precinct_portion": None if i % 2 else f"P{i % 5}-a", "style": f"S{i % 2}",
                 "counting_group": "Mail" if i % 3 else None}
        if i % 5 == 0:  # a two-card ballot
            b.add_card(f"b{i}-1", {rcv: [0b011, 0, 0b100]}, {**attrs, "ballot": f"ballot{i}"})
            b.add_card(f"b{i}-2", {vote2: 0b111}, {**attrs, "ballot": f"ballot{i}"})
        else:
            b.add_card(f"c{i}", {rcv: [1 << (i % 3), 0, 0], vote2: i % 8}, attrs)
    e = b.build()
    out = tmp_path / "cvrs"
    files = write(e, out, chunk_size=4)
    assert [p.name for p in files if p.name.startswith("CvrExport")] == [f"CvrExport_{n}.json" for n in range(1, 8)]
    back = read([out])
    assert back.contests == e.contests and back.name == e.name
    for ma, mb in zip(e.cards.marks, back.cards.marks):
        assert np.array_equal(ma.present, mb.present) and np.array_equal(ma.masks, mb.masks)
    for key in ("tabulator", "batch", "precinct", "precinct_portion", "style", "counting_group"):
        assert back.cards.attribute(key).values() == e.cards.attribute(key).values(), key
    ballots = back.cards.attribute("ballot").values()
    assert ballots[0] == ballots[1] is not None and ballots[2] is None  # the two cards stay one ballot
    again = tmp_path / "again.zip"
    write(back, again)  # Dominion-style ids are kept from here on
    assert_same(back, read([again]), files=False)


def test_card_ids_the_reader_would_not_give_back_are_renumbered(tmp_path):
    b = ElectionBuilder("Mixed")
    c = b.add_contest(Contest("1", "Mayor", ContestKind.PLURALITY, (Choice("1", "A"), Choice("2", "B"))))
    for card_id, mask in [("1-1-1-5", 1), ("1-1-1", 2), ("1-1-2", 3)]:  # one session id with and without a card
        b.add_card(card_id, {c: mask}, {"batch": "1-1"})
    e = b.build()
    write(e, tmp_path / "cvrs")
    back = read([tmp_path / "cvrs"])
    assert back.cards.card_id.tolist() == ["1-1-1", "1-1-2", "1-1-3"]
    assert back.marks("1").masks.tolist() == [1, 2, 3] and back.cards.attribute("batch").values() == ["1-1"] * 3


def test_real_export_round_trips_with_its_card_ids(tmp_path):
    folder = need(RCTAB / "dominion_multi_file" / "dominion_multi_file_input_data")
    e = read([folder])
    write(e, tmp_path / "cvrs", chunk_size=100)
    assert_same(e, read([tmp_path / "cvrs"]), files=False)


def test_overvote_without_choices_cannot_be_written_and_nothing_is_left(tmp_path):
    with pytest.raises(ConfigError, match="card 6, contest 'Mayor'.*overvote"):
        write(small_election(), tmp_path / "cvrs")
    assert not list(tmp_path.iterdir())


def test_writing_replaces_an_old_export_but_never_another_folder(tmp_path):
    e = without_labelled_overvotes(small_election())
    out = tmp_path / "cvrs"
    write(e, out, chunk_size=2)
    write(e, out)  # replaces the chunked export
    assert sorted(p.name for p in out.glob("CvrExport*")) == ["CvrExport.json"]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a CVR export folder"):
        write(e, tmp_path / "docs")
    assert (tmp_path / "docs" / "notes.txt").read_text() == "keep me"


# the msgspec path and the reference (orjson / ijson) path read the same ------------------------------------------------
def reference_read(monkeypatch, paths, **options):
    """``read`` with the msgspec decoder switched off: orjson (or ijson) dicts and the reference loop only."""
    with monkeypatch.context() as patch:
        patch.setattr(_dominion_read.SessionReader, "use_msgspec", False)
        return read(paths, **options)


def rctab_exports():
    return sorted({p.parent for p in RCTAB.glob("**/CvrExport*.json")}) if RCTAB.exists() else []


@pytest.mark.parametrize("folder", rctab_exports(), ids=lambda p: p.parent.name)
def test_msgspec_and_reference_paths_read_rctab_exports_the_same(monkeypatch, folder):
    fast = read([folder])
    assert_same(fast, reference_read(monkeypatch, [folder]))
    assert_same(fast, read([folder], stream_above=0))


def test_msgspec_path_is_taken_on_dominion_files(monkeypatch, tmp_path):
    folder = need(RCTAB / "dominion_multi_file" / "dominion_multi_file_input_data")
    e = without_labelled_overvotes(random_election(np.random.default_rng(5), 300))
    write(e, tmp_path / "cvrs", chunk_size=70)

    def refuse(*_args):
        raise AssertionError("the reference path was used")

    monkeypatch.setattr(_dominion_read, "_dict_sessions", refuse)
    read([folder])
    read([tmp_path / "cvrs"])


def test_msgspec_and_reference_paths_read_a_written_export_the_same(monkeypatch, tmp_path):
    e = without_labelled_overvotes(random_election(np.random.default_rng(11), 3000))
    write(e, tmp_path / "cvrs", chunk_size=400)
    fast = read([tmp_path / "cvrs"])
    assert_same(fast, reference_read(monkeypatch, [tmp_path / "cvrs"]))
    assert_same(fast, read([tmp_path / "cvrs"], stream_above=0))


def outcome(thunk):
    try:
        return thunk()
    except Exception as exc:  # noqa: BLE001 - the error is the outcome compared
        return type(exc), str(exc)


def assert_same_outcome(a, b):
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
    else:
        assert_same(a, b)


def base_sessions():
    """Sessions of every layout: one card, adjudicated, two cards, older layout. The mutations below change
    session 4 (index 3) or session 3 (the two-card ballot), after sessions the msgspec loop has read."""
    old_layout = session(5)
    old_layout["Original"] = {"PrecinctPortionId": 1, "BallotTypeId": 1, "IsCurrent": True,
                              "Contests": [contest(1, mark(11))]}
    return [session(1, [contest(1, mark(10)), contest(2, mark(20, 1), mark(21, 2))]),
            session(2, [contest(1, mark(10))], modified=[[contest(1, mark(12)), contest(2, mark(21, 3))]]),
            session(3, [contest(1, mark(11), mark(12, ambiguous=True))], [contest(2, mark(22, 1), mark(20, 1))]),
            session(4, [contest(1, mark(10)), contest(2, mark(20, 1), mark(22, 2))]),
            old_layout,
            session(6, [contest(1, mark(11))])]


def s4(ss):
    return ss[3]


def plurality(ss):  # session 4's Mayor contest
    return ss[3]["Original"]["Cards"][0]["Contests"][0]


def ranked(ss):  # session 4's ranked Council contest
    return ss[3]["Original"]["Cards"][0]["Contests"][1]


def setter(where, key, value):
    return lambda ss: where(ss).__setitem__(key, value)


def deleter(where, key):
    return lambda ss: where(ss).__delitem__(key)


def first_mark(where):
    return lambda ss: where(ss)["Marks"][0]


def original(ss):
    return ss[3]["Original"]


def two_card(k):
    return lambda ss: ss[2]["Original"]["Cards"][k]


def both(*mutations):
    def mutate(ss):
        for m in mutations:
            m(ss)
    return mutate


MUTATIONS = {  # name → a change to base_sessions(); each is read by both paths, with the same result or error
    "rank 'x'": setter(first_mark(ranked), "Rank", "x"),
    "rank beyond NumOfRanks": setter(first_mark(ranked), "Rank", 4),
    "rank 0": setter(first_mark(ranked), "Rank", 0),
    "rank 1.0": setter(first_mark(ranked), "Rank", 1.0),
    "rank true": setter(first_mark(ranked), "Rank", True),
    "rank null": setter(first_mark(ranked), "Rank", None),
    "rank missing": deleter(first_mark(ranked), "Rank"),
    "rank '1' in a plurality contest": setter(first_mark(plurality), "Rank", "1"),
    "rank missing in a plurality contest": deleter(first_mark(plurality), "Rank"),
    "unknown candidate": setter(first_mark(plurality), "CandidateId", 99),
    "candidate id as text": setter(first_mark(plurality), "CandidateId", "10"),
    "candidate id 10.0": setter(first_mark(plurality), "CandidateId", 10.0),
    "candidate id true": setter(first_mark(plurality), "CandidateId", True),
    "candidate id missing": deleter(first_mark(plurality), "CandidateId"),
    "candidate of the other contest": setter(first_mark(plurality), "CandidateId", 20),
    "ambiguous mark without a candidate": lambda ss: plurality(ss)["Marks"].append({"IsAmbiguous": True}),
    "IsAmbiguous 'yes'": setter(first_mark(plurality), "IsAmbiguous", "yes"),
    "IsAmbiguous 0": setter(first_mark(plurality), "IsAmbiguous", 0),
    "IsAmbiguous 1": setter(first_mark(plurality), "IsAmbiguous", 1),
    "IsAmbiguous null": setter(first_mark(plurality), "IsAmbiguous", None),
    "IsAmbiguous true on a ranked mark": setter(first_mark(ranked), "IsAmbiguous", True),
    "unknown contest": setter(plurality, "Id", 9),
    "contest id as text": setter(plurality, "Id", "1"),
    "contest twice": setter(ranked, "Id", 1),
    "contest twice, the first InvalidContest": both(setter(plurality, "OutstackConditionIds", [4, 7]),
                                                    setter(ranked, "Id", 1), setter(ranked, "Marks", [mark(11)])),
    "contest twice, the second InvalidContest": both(setter(ranked, "Id", 1),
                                                     setter(ranked, "OutstackConditionIds", [7])),
    "InvalidContest without marks": both(setter(ranked, "OutstackConditionIds", [7]), deleter(ranked, "Marks")),
    "InvalidContest with bad marks": both(setter(ranked, "OutstackConditionIds", [7]), setter(ranked, "Marks", "x")),
    "outstack [7.0]": setter(ranked, "OutstackConditionIds", [7.0]),
    "outstack '7'": setter(ranked, "OutstackConditionIds", "7"),
    "outstack null": setter(ranked, "OutstackConditionIds", None),
    "outstack missing": deleter(ranked, "OutstackConditionIds"),
    "Marks an empty object": setter(plurality, "Marks", {}),
    "Marks null": setter(plurality, "Marks", None),
    "Marks missing": deleter(plurality, "Marks"),
    "Contests null": setter(lambda ss: original(ss)["Cards"][0], "Contests", None),
    "Contests missing": deleter(lambda ss: original(ss)["Cards"][0], "Contests"),
    "Cards empty": setter(original, "Cards", []),
    "Cards an empty object": setter(original, "Cards", {}),
    "Cards missing": deleter(original, "Cards"),
    "Cards null, Contests beside": both(setter(original, "Contests", [contest(1, mark(11))]),
                                       setter(original, "Cards", None)),
    "Cards and Contests both": setter(original, "Contests", [contest(1, mark(11))]),
    "IsCurrent 'false'": setter(original, "IsCurrent", "false"),
    "IsCurrent null": setter(original, "IsCurrent", None),
    "IsCurrent missing": deleter(original, "IsCurrent"),
    "IsCurrent false, no Modified": setter(original, "IsCurrent", False),
    "IsCurrent false, Modified null": both(setter(original, "IsCurrent", False), setter(s4, "Modified", None)),
    "Modified unused and not an object": setter(s4, "Modified", 5),
    "Original not an object": setter(s4, "Original", [1]),
    "TabulatorId null": setter(s4, "TabulatorId", None),
    "TabulatorId 5.0": setter(s4, "TabulatorId", 5.0),
    "TabulatorId true": setter(s4, "TabulatorId", True),
    "TabulatorId [5]": setter(s4, "TabulatorId", [5]),
    "TabulatorId missing": deleter(s4, "TabulatorId"),
    "BatchId null": setter(s4, "BatchId", None),
    "BatchId as text": setter(s4, "BatchId", "2"),
    "RecordId between int64 and uint64": setter(s4, "RecordId", 2**63 + 1),
    "RecordId as text": setter(s4, "RecordId", "004"),
    "RecordId missing": deleter(s4, "RecordId"),
    "unknown precinct portion": setter(original, "PrecinctPortionId", 8),
    "precinct portion null": setter(original, "PrecinctPortionId", None),
    "precinct portion as text": setter(original, "PrecinctPortionId", "1"),
    "PrecinctId beside the portion": setter(original, "PrecinctId", 7),
    "unknown PrecinctId": setter(original, "PrecinctId", 70),
    "unknown counting group": setter(s4, "CountingGroupId", 7),
    "counting group null": setter(s4, "CountingGroupId", None),
    "unknown ballot type": setter(original, "BallotTypeId", 3),
    "session not an object": lambda ss: ss.__setitem__(3, 5),
    "card Id null on a two-card ballot": setter(two_card(1), "Id", None),
    "card Id missing on a two-card ballot": deleter(two_card(1), "Id"),
    "card Id as text on a two-card ballot": setter(two_card(1), "Id", "B"),
    "card Id missing on a one-card ballot": deleter(lambda ss: ss[0]["Original"]["Cards"][0], "Id"),
    "two-card ballot with an unknown candidate on its second card": setter(first_mark(
        lambda ss: two_card(1)(ss)["Contests"][0]), "CandidateId", 99),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_msgspec_path_gives_the_reference_result_or_error(monkeypatch, tmp_path, name):
    sessions = base_sessions()
    MUTATIONS[name](sessions)
    folder = export(tmp_path / "e", sessions)
    fast = outcome(lambda: read([folder]))
    assert_same_outcome(fast, outcome(lambda: reference_read(monkeypatch, [folder])))


RAW_MUTATIONS = {  # name → a change to the bytes of the CvrExport file of base_sessions()
    "truncated": lambda b: b[:-40],
    "truncated in session 2": lambda b: b[: b.index(b'"RecordId":2') + 5],
    "invalid UTF-8 in a field not read": lambda b: b.replace(b'"ImageMask":""', b'"ImageMask":"\xff"', 1),
    "UTF-8 encoded surrogate in a field not read": lambda b: b.replace(b'"ImageMask":""',
                                                                       b'"ImageMask":"\xed\xa0\x80"', 1),
    "non-ASCII text in a field not read": lambda b: b.replace(b'"ImageMask":""', '"ImageMask":"Comté"'.encode(), 1),
    "lone surrogate escape": lambda b: b.replace(b'"ImageMask":""', b'"ImageMask":"\\ud800"', 1),
    "NaN in a field not read": lambda b: b.replace(b'"KeyInId":0', b'"KeyInId":NaN', 1),
    "byte order mark": lambda b: b"\xef\xbb\xbf" + b,
    "trailing garbage": lambda b: b + b"x",
    "trailing comma": lambda b: b[:-1] + b",}",
    "no Sessions": lambda b: b.replace(b'"Sessions"', b'"Sessionz"'),
    "a list, not an object": lambda b: b"[" + b + b"]",
    "ElectionId not text": lambda b: b.replace(b'"ElectionId":"Test"', b'"ElectionId":5'),
    "ElectionId null": lambda b: b.replace(b'"ElectionId":"Test"', b'"ElectionId":null'),
    "duplicate key, the last one good": lambda b: b.replace(b'"Rank":2', b'"Rank":"x","Rank":2', 1),
    "duplicate key, the last one bad": lambda b: b.replace(b'"Rank":2', b'"Rank":2,"Rank":"x"', 1),
    "empty": lambda b: b"",
    "RecordId beyond 64 bits (orjson: a float)": lambda b: b.replace(b'"RecordId":4',
                                                                     b'"RecordId":1180591620717411303424'),
    "Rank beyond 64 bits in a plurality contest": lambda b: b.replace(b'"CandidateId":10,"Rank":1',
                                                                    b'"CandidateId":10,"Rank":' + b"9" * 400, 1),
    "outstack condition beyond 64 bits": lambda b: b.replace(b'"OutstackConditionIds":[]',
                                                             b'"OutstackConditionIds":[1180591620717411303424]', 1),
    "TabulatorId 5e0": lambda b: b.replace(b'"TabulatorId":5,"BatchId":2,"RecordId":4',
                                           b'"TabulatorId":5e0,"BatchId":2,"RecordId":4'),
    "deeply nested field not read": lambda b: b.replace(b'"ImageMask":""',
                                                        b'"ImageMask":' + b"[" * 2000 + b"]" * 2000, 1),
}


@pytest.mark.parametrize("name", list(RAW_MUTATIONS))
def test_msgspec_path_gives_the_reference_error_on_malformed_json(monkeypatch, tmp_path, name):
    folder = export(tmp_path / "e", base_sessions())
    path = folder / "CvrExport.json"
    good = path.read_bytes()
    path.write_bytes(RAW_MUTATIONS[name](good))
    assert path.read_bytes() != good
    fast = outcome(lambda: read([folder]))
    assert_same_outcome(fast, outcome(lambda: reference_read(monkeypatch, [folder])))


def test_a_session_the_structs_cannot_read_is_read_once_by_the_reference_path(monkeypatch, tmp_path):
    sessions = base_sessions()
    two_card(1)(sessions)["Id"] = None  # the reference reads it (card id "5-2-3-None"); the structs stop there
    two_card(0)(sessions)["Contests"].append(contest(2, mark(20), outstack=[7]))  # counted once, not twice
    sessions[5]["Original"]["Cards"][0]["Contests"].append(contest(2, mark(20), outstack=[7]))
    folder = export(tmp_path / "e", sessions)
    fast = read([folder])
    assert fast.cards.card_id.tolist() == ["5-2-1", "5-2-2", "5-2-3-300", "5-2-3-None", "5-2-4", "5-2-5", "5-2-6"]
    assert fast.meta["invalid_contests_skipped"] == "2"
    assert_same(fast, reference_read(monkeypatch, [folder]))


def test_error_after_the_msgspec_path_stopped_names_the_session(tmp_path):
    sessions = base_sessions()
    sessions[4]["Original"]["Contests"][0]["Marks"][0]["CandidateId"] = 99  # decodes; the loop cannot read it
    with pytest.raises(UnknownIdError, match=r"CvrExport\.json, record 5-2-5, field 'Original\.Contests\[0\]\.Marks"
                                             r"\[0\]\.CandidateId'.*99"):
        read([export(tmp_path / "e", sessions)])


def test_the_one_difference_a_number_beyond_a_double_in_a_field_not_read(monkeypatch, tmp_path):
    """orjson (and ijson) refuse a file with 1e400 anywhere; msgspec skips the fields the reader does not use."""
    folder = export(tmp_path / "e", base_sessions())
    path = folder / "CvrExport.json"
    path.write_bytes(path.read_bytes().replace(b'"KeyInId":0', b'"KeyInId":1e400', 1))
    assert read([folder]).n_cards == 7
    with pytest.raises(FormatError, match="malformed or truncated JSON: number is infinity"):
        reference_read(monkeypatch, [folder])
