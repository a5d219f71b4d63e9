"""Hybrid (SUITE) audits end to end, on SQLite and on PostgreSQL: a synthetic county whose mail batches (central
count) have CVRs and whose election-day batches (polling places) do not. The clean contest confirms; the contest
with an outcome-changing misread is counted by hand to its true winner; the strata's tallies, the two sample
streams and the p-values are checked against what is computed here independently; the bundle verifies."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from veritally.audit.bundle import export_bundle, verify_bundle
from veritally.audit.contest import ReportedContest
from veritally.audit.sampling import veritally_sample
from veritally.audit._state import contest_votes, link_cvrs
from veritally.audit.suite import (ComparisonStratum, Misstatements, PollingStratum, fisher_combined_p_value,
                                   suite_risk)
from veritally.audit.workflow import (add_contest, add_cvrs, add_manifest, add_reported, init_audit, load_state,
                                      record, sample, status)
from veritally.errors import ConfigError, InputError, ManifestMismatch
from veritally.formats import read_cvrs

from ._workflow_fixtures import audit_location, run_to_the_end, split_county, true_winners  # noqa: F401  (fixture)

SEED = "38214907563218765432"
CLEAN = "County Treasurer"  # the same winner in both strata; President's polling stratum is led by its loser


def hybrid_county(folder: Path, *, planted: bool, cards: int) -> dict:
    """The synthetic county with ``manifest-hybrid.csv`` (a CVR column: central-count batches Y, polling places
    N) and ``cvrs-mail/`` (the CVRs of the Y batches only)."""
    return split_county(folder, planted=planted, cards=cards, manifest="manifest-hybrid.csv", cvr_folder="cvrs-mail")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hybrid-clean") / "election"
    return folder, hybrid_county(folder, planted=False, cards=4000)


@pytest.fixture(scope="module")
def misread(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hybrid-misread") / "election"
    truth = hybrid_county(folder, planted=True, cards=6000)
    assert truth["planted"]["changes_outcome"] and truth["planted"]["tabulator"].startswith("Central")
    return folder, truth


def set_up(location, folder, contests):
    store = init_audit(location, risk_limit=0.05, seed=SEED, audit_type="hybrid")
    add_manifest(store, folder / "manifest-hybrid.csv")
    add_cvrs(store, [folder / "cvrs-mail" / "cvrs.parquet"])
    add_reported(store, folder / "reported.csv")
    for name in contests:
        add_contest(store, name)
    add_contest(store, "County Executive", targeted=False)
    return store






def test_clean_contest_confirms_and_every_number_is_rederived(audit_location, clean, tmp_path):
    folder, truth = clean
    store = set_up(audit_location, folder, (CLEAN,))
    result = run_to_the_end(store, folder, truth, tmp_path / "retrieval")
    by_name = {c["name"]: c for c in result["contests"]}
    treasurer = by_name[CLEAN]
    assert treasurer["state"] == "confirmed" and treasurer["p_value"] <= 0.05
    assert treasurer["reported_winners"] == true_winners(truth, CLEAN)
    assert by_name["County Executive"]["targeted"] is False
    d = treasurer["discrepancies"]
    assert d["o1"] == d["o2"] == 0 and d["cvr_sample_size"] + d["non_cvr_sample_size"] == treasurer["sample_size"]

    with store.read() as conn:
        state = load_state(conn)
    per_card = np.repeat(state.cards.cvr, state.cards.ballots)
    mail = np.flatnonzero(per_card)
    assert [state.cards.container[b] == "Central Count" for b in range(len(state.cards.batch))] == \
        state.cards.cvr.tolist()
    # the two streams: the CVR stratum with replacement, the no-CVR stratum without, each Veritally's sampler on
    # its own cards from the same seed; every round appends a prefix of each stream
    columns = state.cards.columns()
    drawn = state.draw_cards
    in_mail = per_card[drawn]
    for stratum, replace in ((mail, True), (np.flatnonzero(~per_card), False)):
        mine = drawn[per_card[drawn] == replace]
        expected = veritally_sample({k: v[stratum] for k, v in columns.items()}, SEED, len(mine),
                                    with_replacement=replace)
        assert mine.tolist() == [int(stratum[x.index]) for x in expected]
        if not replace:
            assert len(set(mine.tolist())) == len(mine)  # without replacement
    assert len(state.rounds) >= 1 and in_mail.sum() == d["cvr_sample_size"]

    # SUITE recomputed here from independently counted strata: the no-CVR stratum's tally is the count of the
    # election-day CVRs (clean county: CVRs = paper), its sample tally the paper of the drawn cards
    election_day = read_cvrs(folder / "cvrs-election-day.parquet")
    mail_cvrs = read_cvrs(folder / "cvrs-mail" / "cvrs.parquet")
    reported = state.contest(CLEAN).reported
    choices = list(reported.tally)

    def count(e, rows=None):
        votes = contest_votes(e, CLEAN, choices)[0]
        return votes if rows is None else votes[rows]

    day_tally = dict(zip(choices, count(election_day).sum(axis=0).tolist()))
    mail_tally = dict(zip(choices, count(mail_cvrs).sum(axis=0).tolist()))
    assert {c: day_tally[c] + mail_tally[c] for c in choices} == dict(reported.tally)
    paper = read_cvrs(folder / truth["paper"])
    row_of = np.full(state.cards.total, -1)
    row_of[link_cvrs(state.cards, "county", paper, allow_gaps=True)] = np.arange(paper.n_cards)
    day_draws = drawn[~in_mail]
    sampled = count(paper, row_of[day_draws])
    polling = PollingStratum(int((~per_card).sum()), day_tally, dict(zip(choices, sampled.sum(axis=0).tolist())),
                             len(day_draws))
    comparison = ComparisonStratum(len(mail), mail_tally, {p: Misstatements() for p in reported.pairs},
                                   int(in_mail.sum()))
    with np.errstate(over="ignore"):
        p_values = {f"{w} v {l} (SUITE)": fisher_combined_p_value(0.05, reported, polling, comparison, w, l)
                    for w, l in reported.pairs}
        overall, confirmed = suite_risk(ReportedContest(CLEAN, reported.tally, reported.ballots), polling,
                                        comparison, 0.05)
    assert confirmed and overall == pytest.approx(treasurer["p_value"], rel=1e-12)
    assert p_values == pytest.approx(treasurer["assertions"], rel=1e-12)

    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    report = verify_bundle(bundle)
    assert report.ok, report.lines
    assert any("sample:" in line and line.startswith("match") for line in report.lines)
    with open(bundle / "batches.csv", newline="", encoding="utf-8") as fh:
        assert {r["cvr"] for r in csv.DictReader(fh)} == {"Y", "N"}
    store.dispose()


def test_an_outcome_changing_misread_is_counted_by_hand_to_the_true_winner(audit_location, misread, tmp_path):
    folder, truth = misread
    planted = truth["planted"]["contest"]
    store = set_up(audit_location, folder, (planted, CLEAN))
    result = run_to_the_end(store, folder, truth, tmp_path / "retrieval")
    by_name = {c["name"]: c for c in result["contests"]}
    hand = by_name[planted]
    assert hand["state"] == "full_hand_count"
    assert hand["reported_winners"] != true_winners(truth, planted)
    assert hand["hand_count"]["complete"] and hand["hand_count"]["winners"] == true_winners(truth, planted)
    assert hand["hand_count"]["reported_outcome_correct"] is False
    assert by_name[CLEAN]["state"] == "confirmed"
    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    assert verify_bundle(bundle).ok
    store.dispose()


def test_a_batch_moved_between_strata_fails_verify_even_with_rewritten_checksums(tmp_path, clean):
    folder, truth = clean
    store = set_up(str(tmp_path / "a.db"), folder, (CLEAN,))
    sample(store, out_dir=tmp_path / "r", size=60)
    record(store, mock=[folder / truth["paper"]])
    status(store)
    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    assert verify_bundle(bundle).ok
    # a batch moved from the no-CVR stratum to the CVR stratum changes the derived sample
    text = (bundle / "batches.csv").read_text(encoding="utf-8")
    changed = text.replace(",N\n", ",Y\n", 1)
    assert changed != text
    (bundle / "batches.csv").write_text(changed, encoding="utf-8")
    sums = (bundle / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    digest = hashlib.sha256(changed.encode()).hexdigest()
    (bundle / "SHA256SUMS").write_text("".join(f"{digest}  batches.csv\n" if line.endswith("  batches.csv")
                                               else line + "\n" for line in sums), encoding="utf-8")
    report = verify_bundle(bundle)
    bad = [line for line in report.lines if line.startswith("MISMATCH")]
    assert any("batches.csv: " in line and "from the manifests" in line for line in bad), bad
    assert any("sample.csv line" in line for line in bad), bad


def test_bad_hybrid_inputs_are_clear_errors(tmp_path, clean):
    folder, truth = clean
    store = init_audit(str(tmp_path / "a.db"), risk_limit=0.05, seed=SEED, audit_type="hybrid")
    with pytest.raises(ConfigError, match="CVR column"):
        add_manifest(store, folder / "manifest.csv")
    add_manifest(store, folder / "manifest-hybrid.csv")
    with pytest.raises(ManifestMismatch, match="marked CVR=N"):  # every card's CVR, election day's included
        add_cvrs(store, [folder / truth["cvrs"]])
    add_cvrs(store, [folder / "cvrs-mail" / "cvrs.parquet"])
    # reported totals smaller than the CVR stratum's count: the no-CVR stratum would be negative
    with open(folder / "reported.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    totals: dict[tuple[str, str], int] = {}
    for r in rows:
        totals[(r["contest"], r["choice"])] = totals.get((r["contest"], r["choice"]), 0) + int(r["votes"])
    low = tmp_path / "reported-low.csv"
    with open(low, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["contest", "choice", "votes"])
        for (contest, choice), votes in totals.items():
            writer.writerow([contest, choice, 1 if (contest, choice) == (CLEAN, "Nora Fitch") else votes])
    add_reported(store, low)
    with pytest.raises(InputError, match="Nora Fitch"):
        add_contest(store, CLEAN)
    all_y = tmp_path / "all-y.csv"
    all_y.write_text((folder / "manifest-hybrid.csv").read_text(encoding="utf-8").replace(",N\n", ",Y\n"),
                     encoding="utf-8")
    other = init_audit(str(tmp_path / "b.db"), risk_limit=0.05, seed=SEED, audit_type="hybrid")
    add_manifest(other, all_y)
    with pytest.raises(ConfigError, match="--type comparison"):
        add_cvrs(other, [folder / truth["cvrs"]])


def test_cards_not_found_are_the_worst_case_in_each_stratum(tmp_path, clean):
    from veritally.audit._hybrid import strata

    folder, truth = clean
    store = set_up(str(tmp_path / "a.db"), folder, (CLEAN,))
    sample(store, out_dir=tmp_path / "r", size=40)
    with store.read() as conn:
        state = load_state(conn)
    per_card = np.repeat(state.cards.cvr, state.cards.ballots)
    mail_card = int(next(c for c in state.draw_cards.tolist() if per_card[c]))
    day_card = int(next(c for c in state.draw_cards.tolist() if not per_card[c]))
    mvrs = tmp_path / "mvrs.csv"
    mvrs.write_text("ballot_id,contest,choice\n" + "".join(
        f"{bid},{CLEAN},NOT_FOUND\n" for bid in state.cards.ballot_ids([mail_card, day_card])), encoding="utf-8")
    record(store, mvrs)
    with store.read() as conn:
        state = load_state(conn)
    spec = state.contest(CLEAN)
    polling, comparison, counts = strata(state.cards, spec, state.cvrs, state.draw_cards, state.readings[CLEAN])
    times = int((state.draw_cards == mail_card).sum())
    assert counts["o2"] == times and counts["cvr_sample_size"] == times
    assert all(m.o2 == times and m.o1 == m.u1 == m.u2 == 0 for m in comparison.misstatements.values())
    assert polling.sample_size == 1 and polling.sample_tally["Hal Brennan"] == 1  # a vote for every loser
    assert polling.sample_tally["Nora Fitch"] == 0
