"""Card-style data (CSD) in ballot-comparison audits, end to end on SQLite and PostgreSQL: each targeted contest is
sampled from the cards whose CVR lists it, so a school-board contest on a fraction of the county's cards needs
that fraction of the draws; the clean contests confirm, the outcome-changing misread escalates to a hand count that
finds the true winner, the bundle verifies (and a draw moved between contests does not), and a card whose CVR lists
the contest but whose paper does not show it is the worst case (SHANGRLA's use_style)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from veritally.audit.bundle import export_bundle, verify_bundle
from veritally.audit.supersimple import supersimple_sample_size
from veritally.audit.contest import ReportedContest
from veritally.audit.workflow import (add_contest, add_cvrs, add_manifest, add_reported, init_audit, plan, record,
                                      sample, status)
from veritally.errors import ConfigError
from veritally.formats import read_cvrs

from ._workflow_fixtures import audit_location, election, run_to_the_end, true_winners  # noqa: F401  (fixture)

SEED = "38214907563218765432"
SCHOOL = ("School Board District 1", "School Board District 2", "School Board District 3")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csd-clean") / "election"
    return folder, election(folder, planted=False)


@pytest.fixture(scope="module")
def misread(tmp_path_factory):
    folder = tmp_path_factory.mktemp("csd-misread") / "election"
    truth = election(folder, planted=True, cards=6000)
    assert truth["planted"]["contest"] in SCHOOL and truth["planted"]["changes_outcome"]
    return folder, truth


def set_up(location, folder, targeted, *, card_style=True, method=None, opportunistic=("County Executive",)):
    truth = json.loads((folder / "truth.json").read_text())
    store = init_audit(location, risk_limit=0.05, seed=SEED, audit_type="comparison", method=method,
                       card_style=card_style)
    add_manifest(store, folder / "manifest.csv")
    add_cvrs(store, [folder / truth["cvrs"]])
    add_reported(store, folder / "reported.csv")
    for name in targeted:
        add_contest(store, name)
    for name in opportunistic:
        add_contest(store, name, targeted=False)
    return store


def cards_listing(folder, truth, contest: str) -> set[str]:
    """The CVR card ids whose style lists the contest, read straight from the CVR file."""
    election = read_cvrs(folder / truth["cvrs"])
    marks = election.cards.marks[election.contest_index(contest)]
    return set(np.asarray(election.cards.card_id)[marks.present].tolist())






def test_a_school_board_contest_needs_its_pools_share_of_the_draws(tmp_path, clean):
    folder, truth = clean
    sizes, planned = {}, {}
    for style in (False, True):
        store = set_up(str(tmp_path / f"{style}.db"), folder, SCHOOL, card_style=style)
        planned[style] = {c["name"]: c for c in plan(store)["contests"]}
        store.dispose()
    for name in SCHOOL:
        pool = len(cards_listing(folder, truth, name))
        tally = next(c["tallies"] for c in truth["contests"] if c["name"] == name)
        first, second = sorted(tally.values(), reverse=True)[:2]
        with_style, without = planned[True][name], planned[False][name]
        assert with_style["ballots"] == pool < truth["cards"] and without["ballots"] == truth["cards"]
        assert with_style["diluted_margin"] == pytest.approx((first - second) / pool)
        # super-simple's size from its own formula, with the pool as N
        expected = supersimple_sample_size(ReportedContest(name, tally, pool), 0.05)
        assert with_style["options"]["default"]["size"] == expected
        ratio = without["options"]["default"]["size"] / with_style["options"]["default"]["size"]
        assert ratio == pytest.approx(truth["cards"] / pool, rel=0.15)
        sizes[name] = (ratio, pool)
    smallest = min(sizes, key=lambda n: sizes[n][1])  # the contest on the fewest cards gains the most
    assert sizes[smallest][0] > 5 and all(r > 2 for r, _ in sizes.values())


def test_clean_contests_confirm_each_from_its_own_pool(audit_location, tmp_path, clean):
    folder, truth = clean
    store = set_up(audit_location, folder, SCHOOL + ("President",))
    result = run_to_the_end(store, folder, truth, tmp_path / "retrieval")
    by_name = {c["name"]: c for c in result["contests"]}
    for name in SCHOOL + ("President",):
        assert by_name[name]["state"] == "confirmed" and by_name[name]["p_value"] <= 0.05
        assert by_name[name]["reported_winners"] == true_winners(truth, name)
    executive = by_name["County Executive"]
    assert executive["state"] == "not_sampled" and executive["p_value"] is None and not executive["assertions"]
    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    report = verify_bundle(bundle)
    assert report.ok, [line for line in report.lines if line.startswith("MISMATCH")]
    with open(bundle / "sample.csv", newline="", encoding="utf-8") as fh:
        draws = list(csv.DictReader(fh))
    with open(next((tmp_path / "retrieval").glob("retrieval-round-1-*.csv")), newline="", encoding="utf-8") as fh:
        retrieval = list(csv.DictReader(fh))
    imprinted = {r["ballot_id"]: r["imprinted_id"] for r in retrieval}
    for name in SCHOOL:  # every draw of a contest is a card whose CVR lists it
        listing = cards_listing(folder, truth, name)
        mine = [d["ballot_id"] for d in draws if d["contest"] == name and d["round"] == "1"]
        assert mine and all(imprinted[b] in listing for b in mine)
        assert by_name[name]["sample_size"] == sum(1 for d in draws if d["contest"] == name)
    # the contests' samples overlap (same tickets per card): fewer cards to retrieve than draws, each retrieved once
    first = [d for d in draws if d["round"] == "1"]
    assert len(retrieval) == len({d["ballot_id"] for d in first}) < len(first)
    assert sum(len(r["ticket_numbers"].split(";")) for r in retrieval) == len(first)
    store.dispose()


@pytest.mark.parametrize("method", ["supersimple", "alpha"])
def test_an_outcome_changing_misread_escalates_to_a_hand_count_that_finds_the_true_winner(
        audit_location, misread, tmp_path, method):
    folder, truth = misread
    planted = truth["planted"]["contest"]
    store = set_up(audit_location, folder, (planted, "School Board District 1"), method=method)
    result = run_to_the_end(store, folder, truth, tmp_path / "retrieval")
    by_name = {c["name"]: c for c in result["contests"]}
    hand = by_name[planted]
    assert hand["state"] == "full_hand_count"
    assert hand["reported_winners"] != true_winners(truth, planted)
    assert hand["hand_count"]["complete"] and hand["hand_count"]["winners"] == true_winners(truth, planted)
    assert hand["hand_count"]["reported_outcome_correct"] is False
    assert by_name["School Board District 1"]["state"] == "confirmed"
    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    report = verify_bundle(bundle)
    assert report.ok, [line for line in report.lines if line.startswith("MISMATCH")]
    store.dispose()


def _status_after_reading(tmp_path, folder, truth, card_style: bool, reading: str | None) -> dict:
    """School Board District 1 after round 1, with the first card drawn for it read as ``reading`` (or as the
    paper shows it when None)."""
    name = "School Board District 1"
    store = set_up(str(tmp_path / f"{card_style}-{reading}.db"), folder, (name,), card_style=card_style,
                   opportunistic=())
    drawn = sample(store, out_dir=tmp_path / f"r-{card_style}-{reading}", size=40)
    with open(drawn["retrieval_lists"][0], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    first = min(rows, key=lambda r: min(r["ticket_numbers"].split(";")))
    if reading is not None:
        mvr = tmp_path / f"mvr-{card_style}-{reading}.csv"
        mvr.write_text(f"ballot_id,contest,choice\n{first['ballot_id']},{name},{reading}\n", encoding="utf-8")
        record(store, mvr)
    record(store, mock=[folder / truth["paper"]])
    (result,) = status(store)["contests"]
    store.dispose()
    return result


def test_a_card_listed_by_style_but_missing_on_paper_is_the_worst_case(tmp_path, clean):
    folder, truth = clean
    clean_status = _status_after_reading(tmp_path, folder, truth, True, None)
    absent = _status_after_reading(tmp_path, folder, truth, True, "NOT_ON_BALLOT")
    lost = _status_after_reading(tmp_path, folder, truth, True, "NOT_FOUND")
    assert absent["discrepancies"]["o2"] >= 1 and absent["discrepancies"] == lost["discrepancies"]
    assert absent["p_value"] == lost["p_value"] > clean_status["p_value"]
    # without card-style data the same reading is a blank: a one-vote overstatement at most, a smaller risk
    plain = _status_after_reading(tmp_path, folder, truth, False, "NOT_ON_BALLOT")
    assert plain["discrepancies"]["o2"] == 0


def test_verify_fails_when_a_draw_is_moved_to_another_contest(tmp_path, clean):
    folder, truth = clean
    store = set_up(str(tmp_path / "a.db"), folder, ("School Board District 1", "School Board District 2"),
                   opportunistic=())
    sample(store, out_dir=tmp_path / "r", size=10)
    record(store, mock=[folder / truth["paper"]])
    status(store)
    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    assert verify_bundle(bundle).ok
    path = bundle / "sample.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[1].endswith(",School Board District 1")
    lines[1] = lines[1].rsplit(",", 1)[0] + ",School Board District 2"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_bundle(bundle)
    assert not report.ok
    assert any(line.startswith("MISMATCH  sample.csv line") for line in report.lines)
    store.dispose()


def test_card_style_is_for_comparison_audits_and_from_the_command_line(tmp_path, clean):
    from typer.testing import CliRunner

    from veritally.cli import app

    with pytest.raises(ConfigError, match="card-style"):
        init_audit(str(tmp_path / "p.db"), risk_limit=0.05, seed=SEED, audit_type="polling", card_style=True)
    folder, truth = clean
    db = str(tmp_path / "a.db")
    runner = CliRunner()
    for step in (["audit", "init", db, "--seed", SEED, "--type", "comparison", "--card-style"],
                 ["audit", "add-manifest", db, str(folder / "manifest.csv")],
                 ["audit", "add-cvrs", db, str(folder / truth["cvrs"])],
                 ["audit", "add-reported", db, str(folder / "reported.csv")],
                 ["audit", "add-contest", db, "School Board District 1"],
                 ["audit", "add-contest", db, "President", "--opportunistic"],
                 ["audit", "sample", db, "--out", str(tmp_path / "r")],
                 ["audit", "record", db, "--mock", str(folder / truth["paper"])],
                 ["audit", "status", db]):
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, result.output)
    assert "no p-value" in result.output
    data = json.loads(runner.invoke(app, ["audit", "status", db, "--json"]).output)
    by_name = {c["name"]: c for c in data["contests"]}
    assert by_name["School Board District 1"]["state"] == "confirmed"
    assert by_name["President"]["state"] == "not_sampled"


def test_cards_without_a_cvr_are_in_every_contests_pool(tmp_path, clean):
    from veritally.formats.parquet import write as write_parquet

    folder, truth = clean
    election = read_cvrs(folder / truth["cvrs"])
    kept = np.arange(10, election.n_cards)  # ten CVRs lost: their cards become phantoms (--allow-gaps)
    partial = tmp_path / "partial.parquet"
    write_parquet(election.take(kept), partial)
    store = init_audit(str(tmp_path / "a.db"), risk_limit=0.05, seed=SEED, audit_type="comparison", card_style=True)
    add_manifest(store, folder / "manifest.csv")
    add_cvrs(store, [partial], allow_gaps=True)
    add_reported(store, folder / "reported.csv")
    for name in SCHOOL:
        add_contest(store, name)
    planned = {c["name"]: c for c in plan(store)["contests"]}
    ids = np.asarray(election.cards.card_id)[kept]
    for name in SCHOOL:
        marks = election.cards.marks[election.contest_index(name)]
        assert planned[name]["ballots"] == int(marks.present[kept].sum()) + 10, name
    assert sum(planned[n]["ballots"] for n in SCHOOL) == len(ids) + 3 * 10  # each card on one school ballot
    store.dispose()


def test_a_reading_of_another_contest_on_a_retrieved_card_is_accepted_and_counts_only_for_its_own_draws(
        tmp_path, clean):
    folder, truth = clean
    one, two = "School Board District 1", "School Board District 2"
    store = set_up(str(tmp_path / "a.db"), folder, (one, two), opportunistic=())
    sample(store, out_dir=tmp_path / "r", size=10)
    record(store, mock=[folder / truth["paper"]])
    before = {c["name"]: c for c in status(store)["contests"]}
    export_bundle(store, tmp_path / "bundle")
    with open(tmp_path / "bundle" / "sample.csv", newline="", encoding="utf-8") as fh:
        draws = list(csv.DictReader(fh))
    only_one = sorted({d["ballot_id"] for d in draws if d["contest"] == one}
                      - {d["ballot_id"] for d in draws if d["contest"] == two})
    assert only_one
    mvr = tmp_path / "mvr.csv"
    mvr.write_text(f"ballot_id,contest,choice\n{only_one[0]},{two},NOT_ON_BALLOT\n", encoding="utf-8")
    assert record(store, mvr)["recorded"] == 1
    after = {c["name"]: c for c in status(store)["contests"]}
    assert after[two]["p_value"] == before[two]["p_value"] and after[two]["sample_size"] == 10
    assert after[two]["discrepancies"] == before[two]["discrepancies"]
    store.dispose()
