"""Synthetic elections: deterministic, internally consistent (CVRs, manifest, reported results, truth), planted
miscounts detectable exactly where they were planted, and readable back through every writer."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import orjson
import pytest

from veritally import synth
from veritally.compare import compare
from veritally.errors import ConfigError
from veritally.formats import read_cvrs
from veritally.formats.parquet import concat
from veritally.formats.reported import read_reported
from veritally.model import ContestKind
from veritally.synth import CONTESTS, CVR_FILE, generate, plan_county, write_synthetic
from veritally.tabulate import tabulate, tabulate_chunks


def digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def load(folder):
    truth = orjson.loads((folder / "truth.json").read_bytes())
    return truth, read_cvrs(folder / truth["cvrs"], truth["format"]), read_reported(folder / "reported.csv")


@pytest.fixture(scope="module")
def small_chunks(tmp_path_factory):
    """A county drawn in chunks of 997 cards (several election-day and mail chunks)."""
    mp = pytest.MonkeyPatch()
    mp.setattr(synth, "CHUNK", 997)
    try:
        yield list(generate("chunks", 6000))
    finally:
        mp.undo()


def test_same_seed_same_files_and_other_seed_other_files(tmp_path):
    a = write_synthetic(tmp_path / "a", seed="dice 3 1 4 1 5", n_cards=2000, fmt="parquet", plant="shift-votes")
    b = write_synthetic(tmp_path / "b", seed="dice 3 1 4 1 5", n_cards=2000, fmt="parquet", plant="shift-votes")
    c = write_synthetic(tmp_path / "c", seed="dice 2 7 1 8 2", n_cards=2000, fmt="parquet", plant="shift-votes")
    assert a == b
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["reported.csv"] != digest(tmp_path / "c")["reported.csv"]
    assert a["contests"] != c["contests"]


def test_chunks_cover_the_plan_card_for_card(small_chunks):
    county = plan_county("chunks", 6000)
    assert sum(e.n_cards for e in small_chunks) == 6000 == int(county.batch_size.sum())
    ids = np.concatenate([e.cards.card_id for e in small_chunks])
    assert len(np.unique(ids)) == len(ids)
    # every card's batch is the batch its id names, and the batch sizes are the plan's
    batch = np.concatenate([e.cards.attribute("batch").codes for e in small_chunks])
    labels = county.batch_labels
    assert np.all(np.strings.startswith(ids, np.strings.add(labels[batch], "-")))
    assert np.array_equal(np.bincount(batch, minlength=len(labels)), county.batch_size)
    # mail cards: each precinct's planned share, no more and no less
    mail = np.concatenate([e.cards.attribute("counting_group").codes == 1 for e in small_chunks])
    precinct = np.concatenate([e.cards.attribute("precinct").codes for e in small_chunks])
    assert np.array_equal(np.bincount(precinct[mail], minlength=len(county.precincts)), county.mail_left)
    # an election-day batch holds one precinct's cards, on that precinct's polling-place tabulator
    ed_batches = np.flatnonzero(county.batch_precinct >= 0)
    assert np.array_equal(precinct[~mail], county.batch_precinct[batch[~mail]])
    assert set(ed_batches) == set(np.unique(batch[~mail]))


def test_contests_appear_on_the_cards_of_their_districts(small_chunks):
    county = plan_county("chunks", 6000)
    for e in small_chunks:
        precinct = e.cards.attribute("precinct").codes
        for spec, marks in zip(CONTESTS, e.cards.marks):
            if spec.where == "county":
                assert marks.present.all()
            elif spec.where == "city":
                assert np.array_equal(marks.present, county.in_city[precinct])
            else:
                assert np.array_equal(marks.present, county.school[precinct] == int(spec.where[-1]))
            assert not marks.masks[~marks.present].any()


def test_voter_error_rates_are_realistic():
    count = tabulate_chunks(generate("rates", 60_000), by="counting_group")
    president = count.contest("President")
    blank = president.total.blank[0] / president.total.cards[0]
    assert 0.005 < blank < 0.03
    ed, mail = president.by["Election Day"], president.by["Mail"]
    assert ed.overvoted_cards[0] / ed.cards[0] < mail.overvoted_cards[0] / mail.cards[0] < 0.01
    write_in = president.total.tallies[0, -1] / president.total.cards[0]
    assert 0.001 < write_in < 0.01
    council = count.contest("County Council At-Large").total
    assert council.undervotes[0] > council.blank[0] * 3  # partial ballots, not only blank ones
    mayor = count.contest("Mayor of Riverton")
    assert 0 < mayor.total.cards[0] < count.cards  # city only


def test_ranked_contest_has_every_kind_of_ranking_error(small_chunks):
    k = next(i for i, s in enumerate(CONTESTS) if s.contest.is_ranked)
    masks = np.concatenate([e.cards.marks[k].masks[e.cards.marks[k].present] for e in small_chunks])
    marked = np.bitwise_count(masks)
    assert (marked > 1).any(), "overvoted ranks"
    assert ((masks[:, :-1] == 0) & (masks[:, 1:] != 0)).any(), "skipped ranks"
    assert ((masks[:, 0] != 0) & (masks[:, 0] == masks[:, 1])).any(), "duplicate rankings"
    assert (masks == 0).all(axis=1).any(), "blank contests"
    lengths = (masks != 0).sum(axis=1)
    assert len(np.unique(lengths)) == CONTESTS[k].contest.ranks + 1


def test_manifest_matches_the_cvrs(tmp_path):
    truth = write_synthetic(tmp_path / "e", seed="m", n_cards=4000, fmt="csv")
    _, election, _ = load(tmp_path / "e")
    with open(tmp_path / "e" / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["Container", "Tabulator", "Batch Name", "Number of Ballots"]
    assert len(rows) == truth["batches"]
    cat = election.cards.attribute("batch")
    per_batch = dict(zip(cat.labels.tolist(), np.bincount(cat.codes, minlength=len(cat.labels)).tolist()))
    assert {r["Batch Name"]: int(r["Number of Ballots"]) for r in rows} == per_batch
    tabulator = election.cards.attribute("tabulator")
    first = {}
    for b, t in zip(cat.codes.tolist(), tabulator.codes.tolist()):
        first.setdefault(b, t)
    assert {r["Batch Name"]: r["Tabulator"] for r in rows} == {
        cat.labels[b]: tabulator.labels[t] for b, t in first.items()}


def test_unplanted_reported_results_agree_with_the_cvrs(tmp_path):
    truth = write_synthetic(tmp_path / "e", seed="clean", n_cards=5000, fmt="parquet")
    _, election, reported = load(tmp_path / "e")
    assert truth["planted"] is None
    assert reported.unit_kind == "precinct"
    result = compare(tabulate(election, by="precinct"), reported)
    assert result.discrepancies == [] and result.agree
    counted = {c["name"]: c["tallies"] for c in tabulate(election).to_json()["contests"]}
    assert {c["name"]: c["tallies"] for c in truth["contests"]} == counted


@pytest.mark.parametrize("plant", ["double-count", "drop-batch"])
def test_batch_plant_shows_exactly_the_batch_in_its_precincts(tmp_path, plant):
    truth = write_synthetic(tmp_path / "e", seed="batch", n_cards=8000, fmt="parquet", plant=plant)
    _, election, reported = load(tmp_path / "e")
    planted = truth["planted"]
    assert planted["kind"] == plant
    batches = election.cards.attribute("batch")
    in_batch = election.take(batches.codes == batches.labels.tolist().index(planted["batch"]))
    assert in_batch.n_cards == planted["cards"] > 0
    batch_count = tabulate(in_batch, by="precinct")
    result = compare(tabulate(election, by="precinct"), reported)
    sign = 1 if plant == "double-count" else -1
    expected = {(cc.contest.name, name, unit): sign * v for cc in batch_count.contests for unit, t in cc.by.items()
                for name, v in zip(cc.contest.choice_names, t.tallies[0].tolist()) if v}
    got = {(d.contest, d.choice, d.unit): d.reported - d.counted for d in result.discrepancies if d.unit}
    assert got == expected
    assert {d.unit for d in result.discrepancies if d.unit} == set(planted["precincts"])


def test_outcome_changing_shift_flips_the_reported_winner(tmp_path):
    truth = write_synthetic(tmp_path / "e", seed="flip", n_cards=20_000, fmt="parquet", plant="shift-votes",
                            outcome_changing=True)
    _, election, reported = load(tmp_path / "e")
    planted = truth["planted"]
    assert planted["changes_outcome"] == [planted["contest"]]
    result = compare(tabulate(election, by="precinct"), reported)
    assert {(d.contest, d.unit) for d in result.discrepancies if d.unit} == {(planted["contest"], planted["precinct"])}
    summary = next(c for c in result.contests if c.name == planted["contest"])
    assert summary.outcome_differs and summary.could_change_outcome
    shifted = {d.choice: d.reported - d.counted for d in result.discrepancies if d.unit}
    assert shifted == {planted["from"]: -planted["votes"], planted["to"]: planted["votes"]}


def test_small_shift_is_found_but_keeps_the_outcome(tmp_path):
    truth = write_synthetic(tmp_path / "e", seed="nudge", n_cards=20_000, fmt="parquet", plant="shift-votes")
    _, election, reported = load(tmp_path / "e")
    planted = truth["planted"]
    assert planted["changes_outcome"] == [] and planted["votes"] >= 1
    result = compare(tabulate(election, by="precinct"), reported)
    assert {d.unit for d in result.discrepancies if d.unit} == {planted["precinct"]}


def _comparable(count, fmt):
    """Contest → choice → (votes); formats that cannot keep choice order or write-in names are normalised."""
    out = {}
    for c in count.to_json()["contests"]:
        if c["cards"] == 0:  # a contest on no card: formats without a contest list cannot show it
            continue
        tallies = dict(c["tallies"])
        if fmt == "ess" and "Write-in" in tallies:  # ES&S writes write-in lines as "Write-in": read back as UWI
            tallies["Undeclared Write-ins"] = tallies.pop("Write-in")
        out[c["name"]] = (c["cards"], c["overvotes"], c["undervotes"], c["blank"], sorted(tallies.items()))
    return out


@pytest.mark.parametrize("fmt", sorted(CVR_FILE))
def test_every_writer_reads_back_to_the_same_count(tmp_path, fmt):
    truth = write_synthetic(tmp_path / fmt, seed="formats", n_cards=6000, fmt=fmt)
    _, election, _ = load(tmp_path / fmt)
    reference = tabulate_chunks(generate("formats", 6000))
    assert election.n_cards == truth["cards"] == 6000
    assert _comparable(tabulate(election), fmt) == _comparable(reference, fmt)
    assert any(c.is_ranked and c.ranks == 5 for c in election.contests)


def test_bad_requests_are_config_errors_and_leave_nothing(tmp_path, monkeypatch):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="not an empty folder"):
        write_synthetic(tmp_path / "full", n_cards=10)
    with pytest.raises(ConfigError, match="unknown plant"):
        write_synthetic(tmp_path / "x", n_cards=10, plant="stuff-ballot-box")
    with pytest.raises(ConfigError, match="cannot write"):
        write_synthetic(tmp_path / "x", n_cards=10, fmt="pdf")
    with pytest.raises(ConfigError, match="at least 1 card"):
        write_synthetic(tmp_path / "x", n_cards=0)

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr("veritally._synth_write._write_manifest", broken)
    with pytest.raises(OSError):
        write_synthetic(tmp_path / "x", n_cards=100, fmt="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_threshold_and_vote_for_n_contests_have_their_rules():
    kinds = {s.contest.name: s.contest for s in CONTESTS}
    assert kinds["Measure A: Library Bond"].kind is ContestKind.THRESHOLD
    assert kinds["Measure A: Library Bond"].threshold == pytest.approx(2 / 3)
    council = kinds["County Council At-Large"]
    assert council.kind is ContestKind.VOTE_FOR_N and council.votes_allowed == council.winners == 3


# the paper truth and the misread plant (CVR-level) --------------------------------------------------------------------
def load_both(folder):
    """truth, paper and CVRs of a written election, each read back with the project's reader, cards in id order."""
    truth = orjson.loads((folder / "truth.json").read_bytes())
    paper = read_cvrs(folder / truth["paper"], truth["format"])
    cvrs = read_cvrs(folder / truth["cvrs"], truth["format"])
    return truth, paper.take(np.argsort(paper.cards.card_id)), cvrs.take(np.argsort(cvrs.cards.card_id))


def differing_cards(paper, cvrs):
    """Per contest name, the ids of the cards whose marks differ between paper and CVRs."""
    out = {}
    for contest, p, c in zip(paper.contests, paper.cards.marks, cvrs.cards.marks):
        assert np.array_equal(p.present, c.present), contest.name
        diff = p.masks != c.masks
        rows = diff.any(axis=1) if diff.ndim == 2 else diff
        if rows.any():
            out[contest.name] = paper.cards.card_id[rows].tolist()
    return out


def single_votes_per_batch(election, contest_name, choice_name):
    """Batch label → cards whose only vote in the contest is for the choice (from the cards themselves)."""
    k = election.contest_index(contest_name)
    contest, marks = election.contests[k], election.cards.marks[k]
    hit = marks.present & (marks.masks == (1 << contest.choice_names.index(choice_name)))
    batch = election.cards.attribute("batch")
    counts = np.bincount(batch.codes[hit], minlength=len(batch.labels))
    return dict(zip(batch.labels.tolist(), counts.tolist()))


@pytest.mark.parametrize("fmt", sorted(CVR_FILE))
def test_paper_export_has_the_cvrs_cards_in_every_format(tmp_path, fmt):
    truth = write_synthetic(tmp_path / "e", seed="paper", n_cards=1500, fmt=fmt, plant="misread",
                            outcome_changing=True)
    assert truth["paper"] == ("paper" if CVR_FILE[fmt] is None else f"paper/{CVR_FILE[fmt]}")
    _, paper, cvrs = load_both(tmp_path / "e")
    generated = np.sort(np.concatenate([e.cards.card_id for e in generate("paper", 1500)]))
    assert np.array_equal(paper.cards.card_id, generated) and np.array_equal(cvrs.cards.card_id, generated)
    assert set(paper.cards.attributes) == set(cvrs.cards.attributes)
    for key in ("batch", "tabulator", "precinct", "counting_group"):
        assert paper.cards.attribute(key).values() == cvrs.cards.attribute(key).values(), key
    planted = truth["planted"]
    assert differing_cards(paper, cvrs) == {planted["contest"]: sorted(planted["card_ids"])}


@pytest.mark.parametrize("plant", [None, "shift-votes", "drop-batch"])
def test_without_a_cvr_plant_the_paper_is_the_cvrs_mark_for_mark(tmp_path, plant):
    truth = write_synthetic(tmp_path / "e", seed="same", n_cards=3000, fmt="parquet", plant=plant)
    _, paper, cvrs = load_both(tmp_path / "e")
    assert differing_cards(paper, cvrs) == {}
    # and the paper is what the generator drew, mark for mark
    drawn = concat(list(generate("same", 3000)))
    drawn = drawn.take(np.argsort(drawn.cards.card_id))
    assert np.array_equal(drawn.cards.card_id, paper.cards.card_id)
    assert differing_cards(drawn, paper) == {}
    assert {c["name"]: c["tallies"] for c in truth["contests"]} == {
        c["name"]: c["tallies"] for c in tabulate(paper).to_json()["contests"]}


def test_misread_changes_exactly_the_planted_cards_from_winner_to_runner_up(tmp_path):
    truth = write_synthetic(tmp_path / "e", seed="misread", n_cards=6000, fmt="csv", plant="misread")
    _, paper, cvrs = load_both(tmp_path / "e")
    planted = truth["planted"]
    assert planted["kind"] == "misread" and planted["card_ids_complete"]
    assert differing_cards(paper, cvrs) == {planted["contest"]: sorted(planted["card_ids"])}
    k = paper.contest_index(planted["contest"])
    contest = paper.contests[k]
    rows = np.isin(paper.cards.card_id, planted["card_ids"])
    assert rows.sum() == planted["cards"] == len(planted["card_ids"])
    assert (paper.cards.marks[k].masks[rows] == 1 << contest.choice_names.index(planted["from"])).all()
    assert (cvrs.cards.marks[k].masks[rows] == 1 << contest.choice_names.index(planted["to"])).all()
    # the paper's winner and runner-up; one batch, 5 % of the winner's votes there
    true_tallies = next(c for c in truth["contests"] if c["name"] == planted["contest"])["tallies"]
    ranking = sorted(true_tallies, key=lambda name: -true_tallies[name])
    assert ranking[:2] == [planted["from"], planted["to"]]
    (batch,) = planted["batches"]
    assert set(paper.cards.attribute("batch").take(rows).values()) == {batch}
    assert set(paper.cards.attribute("tabulator").take(rows).values()) == {planted["tabulator"]}
    winner_votes = single_votes_per_batch(paper, planted["contest"], planted["from"])[batch]
    assert planted["cards"] == max(1, round(0.05 * winner_votes))
    assert planted["changes_outcome"] == []


def test_outcome_changing_misread_makes_the_runner_up_the_cvrs_winner(tmp_path):
    truth = write_synthetic(tmp_path / "e", seed="flip", n_cards=8000, fmt="dominion", plant="misread",
                            outcome_changing=True)
    folder = tmp_path / "e"
    _, paper, cvrs = load_both(folder)
    planted = truth["planted"]
    paper_count, cvr_count = tabulate(paper, by="precinct"), tabulate(cvrs, by="precinct")
    winners = {c.contest.name: [c.contest.choice_names[i] for i in c.winners] for c in paper_count.contests}
    cvr_winners = {c.contest.name: [c.contest.choice_names[i] for i in c.winners] for c in cvr_count.contests}
    assert winners[planted["contest"]] == [planted["from"]] and cvr_winners[planted["contest"]] == [planted["to"]]
    assert {n for n in winners if winners[n] != cvr_winners[n]} == {planted["contest"]}
    assert planted["changes_outcome"] == [planted["contest"]]
    # the truth is the paper's count; the reported results are the CVRs' count, and only the paper disagrees
    assert {c["name"]: c["winners"] for c in truth["contests"]} == winners
    reported = read_reported(folder / "reported.csv")
    assert compare(cvr_count, reported).agree and compare(cvr_count, reported).discrepancies == []
    found = compare(paper_count, reported)
    assert {d.contest for d in found.discrepancies} == {planted["contest"]}
    # just enough cards: more than half the paper margin, in the contest needing the fewest
    tallies = {c.contest.name: np.sort(c.total.tallies[0])[::-1] for c in paper_count.contests
               if c.contest.kind is ContestKind.PLURALITY}
    need = {name: int(t[0] - t[1]) // 2 + 1 for name, t in tallies.items()}
    assert planted["cards"] == need[planted["contest"]] == min(need.values())
    assert planted["paper_margin"] == int(tallies[planted["contest"]][0] - tallies[planted["contest"]][1])
    # from as few batches of one tabulator as any tabulator could give them
    votes = single_votes_per_batch(paper, planted["contest"], planted["from"])
    rows = np.isin(paper.cards.card_id, planted["card_ids"])
    assert set(paper.cards.attribute("batch").take(rows).values()) <= set(planted["batches"])
    assert set(paper.cards.attribute("tabulator").take(rows).values()) == {planted["tabulator"]}
    batch_tabulator = dict(zip(paper.cards.attribute("batch").values(), paper.cards.attribute("tabulator").values()))
    assert {batch_tabulator[b] for b in planted["batches"]} == {planted["tabulator"]}
    assert sum(votes[b] for b in planted["batches"]) >= planted["cards"]
    fewer = len(planted["batches"]) - 1
    for tab in set(batch_tabulator.values()):
        best = sorted((v for b, v in votes.items() if batch_tabulator[b] == tab), reverse=True)[:fewer]
        assert sum(best) < planted["cards"], tab


def test_misread_is_deterministic_and_streams_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "CHUNK", 997)  # batches straddle chunks: the streamed CVRs must misread the same cards
    a = write_synthetic(tmp_path / "a", seed="stream", n_cards=5000, fmt="parquet", plant="misread",
                        outcome_changing=True)
    b = write_synthetic(tmp_path / "b", seed="stream", n_cards=5000, fmt="parquet", plant="misread",
                        outcome_changing=True)
    c = write_synthetic(tmp_path / "c", seed="stream", n_cards=5000, fmt="csv", plant="misread",
                        outcome_changing=True)
    other = write_synthetic(tmp_path / "d", seed="other stream", n_cards=5000, fmt="parquet", plant="misread",
                            outcome_changing=True)
    assert a == b and digest(tmp_path / "a") == digest(tmp_path / "b")
    assert {k: v for k, v in c.items() if k not in ("format", "cvrs", "paper")} == {
        k: v for k, v in a.items() if k not in ("format", "cvrs", "paper")}
    assert a["planted"]["card_ids"] != other["planted"]["card_ids"]
    _, paper, cvrs = load_both(tmp_path / "a")
    assert differing_cards(paper, cvrs) == {a["planted"]["contest"]: sorted(a["planted"]["card_ids"])}


def test_long_lists_of_misread_cards_are_cut_with_their_count(tmp_path, monkeypatch):
    monkeypatch.setattr("veritally._synth_write.LISTED_CARD_IDS", 5)
    truth = write_synthetic(tmp_path / "e", seed="misread", n_cards=3000, fmt="parquet", plant="misread",
                            outcome_changing=True)
    planted = truth["planted"]
    _, paper, cvrs = load_both(tmp_path / "e")
    (ids,) = differing_cards(paper, cvrs).values()
    assert planted["cards"] == len(ids) > 5 and not planted["card_ids_complete"]
    in_file_order = [i for i in concat(list(generate("misread", 3000))).cards.card_id.tolist() if i in set(ids)]
    assert planted["card_ids"] == in_file_order[:5]


def test_cli_writes_the_misread_and_refuses_outcome_changing_without_a_plant_that_takes_it(tmp_path, capsys):
    from veritally.cli import main

    with pytest.raises(SystemExit) as done:
        main(["synth", str(tmp_path / "e"), "--cards", "2000", "--format", "parquet", "--plant", "misread",
              "--outcome-changing"])
    assert done.value.code == 0
    truth = orjson.loads((tmp_path / "e" / "truth.json").read_bytes())
    assert truth["planted"]["kind"] == "misread" and truth["planted"]["changes_outcome"]
    assert {p.name for p in (tmp_path / "e").iterdir()} == {"paper", "cvrs", "manifest.csv", "reported.csv",
                                                            "truth.json"}
    with pytest.raises(SystemExit) as refused:
        main(["synth", str(tmp_path / "f"), "--cards", "100", "--plant", "drop-batch", "--outcome-changing"])
    assert refused.value.code == 2 and "--outcome-changing needs" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_fewest_batches_matches_a_brute_force_search():
    from itertools import combinations

    from veritally._synth_write import _fewest_batches

    rng = np.random.default_rng(6)
    fallbacks = 0
    for _ in range(300):
        n = int(rng.integers(1, 8))
        eligible = rng.integers(0, 10, n)
        tabulator = rng.integers(0, 3, n)
        need = int(rng.integers(1, eligible.sum() + 2)) if eligible.sum() else 0
        if need == 0 or need > eligible.sum():
            continue

        def fewest(allowed):
            return next((k for k in range(1, n + 1) for combo in combinations(np.flatnonzero(allowed), k)
                         if eligible[list(combo)].sum() >= need), None)

        per_tabulator = [k for t in np.unique(tabulator) if (k := fewest(tabulator == t)) is not None]
        got = _fewest_batches(eligible, tabulator, need, np.random.default_rng(1))
        assert eligible[got].sum() >= need and len(np.unique(got)) == len(got)
        if per_tabulator:
            assert len(got) == min(per_tabulator) and len(np.unique(tabulator[got])) == 1
        else:
            fallbacks += 1
            assert len(got) == fewest(np.ones(n, bool))
    assert fallbacks > 0
