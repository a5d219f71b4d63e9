"""ONEAudit audits end to end, on SQLite and on PostgreSQL: a synthetic county whose central-count batches have
CVRs (manifest CVR=Y) and whose polling-place batches (CVR=N) are pools with reported batch tallies. The clean
contest confirms, with every p-value recomputed here from overstatement values built from the files alone; the
contest with an outcome-changing misread is counted by hand to its true winner; the bundle verifies, and a
tampered pool tally fails verification even with rewritten checksums."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import orjson
import pytest

from veritally.audit.alpha import alpha_mart
from veritally.audit.bundle import export_bundle, verify_bundle
from veritally.audit.sampling import veritally_sample
from veritally.audit._oneaudit import clean_values, oneaudit_margin
from veritally.audit._state import contest_votes, link_cvrs
from veritally.audit.assertions import make_assertions
from veritally.audit.workflow import (add_contest, add_cvrs, add_manifest, add_reported, init_audit, load_state,
                                      plan, record, sample, status)
from veritally.errors import ConfigError, InputError
from veritally.formats import read_cvrs

from ._workflow_fixtures import audit_location, run_to_the_end, split_county, true_winners  # noqa: F401  (fixture)

SEED = "61803398874989484820"
#: A contest with a comfortable margin (Ava Greene 785, Cal Ortiz 428 of 4,000 cards in the clean county).
CLEAN = "School Board District 1"


def oneaudit_county(folder: Path, *, planted: bool, cards: int) -> dict:
    """The synthetic county with ``manifest-oneaudit.csv`` (CVR column: central count Y, polling places N),
    ``cvrs-central/`` (the CVRs of the Y batches only) and ``reported-batches.csv`` (the CVRs tabulated by batch:
    the N batches' rows are the pools' tallies, and all rows add up to the contest totals)."""
    return split_county(folder, planted=planted, cards=cards, manifest="manifest-oneaudit.csv", cvr_folder="cvrs-central")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oneaudit-clean") / "election"
    return folder, oneaudit_county(folder, planted=False, cards=4000)


@pytest.fixture(scope="module")
def misread(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oneaudit-misread") / "election"
    truth = oneaudit_county(folder, planted=True, cards=6000)
    assert truth["planted"]["changes_outcome"] and truth["planted"]["tabulator"].startswith("Central")
    return folder, truth


def set_up(location, folder, contests):
    store = init_audit(location, risk_limit=0.05, seed=SEED, audit_type="oneaudit")
    add_manifest(store, folder / "manifest-oneaudit.csv")
    add_cvrs(store, [folder / "cvrs-central" / "cvrs.parquet"])
    add_reported(store, folder / "reported-batches.csv")
    for name in contests:
        add_contest(store, name)
    add_contest(store, "County Executive", targeted=False)
    return store






def pool_rows(path: Path, contest: str) -> dict[str, dict[str, int]]:
    """batch → choice → votes of one contest, read from the reported CSV with the csv module."""
    out: dict[str, dict[str, int]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["contest"] == contest:
                out.setdefault(r["batch"], {})[r["choice"]] = int(r["votes"])
    return out


def test_clean_contest_confirms_and_its_p_values_are_alpha_on_overstatements_built_here(audit_location, clean,
                                                                                        tmp_path):
    folder, truth = clean
    store = set_up(audit_location, folder, (CLEAN,))
    planned = {c["name"]: c for c in plan(store)["contests"]}[CLEAN]
    assert set(planned["options"]) == {"0.7", "0.8", "0.9"}
    assert planned["options"]["0.7"]["size"] <= planned["options"]["0.9"]["size"] < 4000
    result = run_to_the_end(store, folder, truth, tmp_path / "retrieval")
    by_name = {c["name"]: c for c in result["contests"]}
    board = by_name[CLEAN]
    assert board["state"] == "confirmed" and board["p_value"] <= 0.05
    assert board["reported_winners"] == true_winners(truth, CLEAN)
    assert by_name["County Executive"]["targeted"] is False
    d = board["discrepancies"]
    assert d["o1"] == d["o2"] == 0 and d["cvr_sample_size"] + d["pool_sample_size"] == board["sample_size"]
    assert d["cvr_sample_size"] > 0 and d["pool_sample_size"] > 0

    with store.read() as conn:
        state = load_state(conn)
    cards = state.cards
    # every card drawn with replacement by Veritally's card sampler, in ticket order
    expected = veritally_sample(cards.columns(), SEED, len(state.draw_cards), with_replacement=True)
    assert state.draw_cards.tolist() == [x.index for x in expected]

    # per card, built here from the files: the CVR's assorter value (Y batches), the pool's mean (N batches)
    reported = state.contest(CLEAN).reported
    choices = list(state.contest(CLEAN).choices)
    pools = pool_rows(folder / "reported-batches.csv", CLEAN)
    central = read_cvrs(folder / "cvrs-central" / "cvrs.parquet")
    paper = read_cvrs(folder / truth["paper"])
    cvr_row = np.full(cards.total, -1)
    cvr_row[link_cvrs(cards, "county", central, allow_gaps=True)] = np.arange(central.n_cards)
    paper_row = np.full(cards.total, -1)
    paper_row[link_cvrs(cards, "county", paper, allow_gaps=True)] = np.arange(paper.n_cards)
    cvr_votes = contest_votes(central, CLEAN, choices)[0]
    paper_votes = contest_votes(paper, CLEAN, choices)[0]  # an overvote on paper is no vote
    batch_of_card = np.repeat(np.arange(len(cards.batch)), cards.ballots)
    pooled = ~np.repeat(cards.cvr, cards.ballots)
    assert (cvr_row[pooled] < 0).all() and (cvr_row[~pooled] >= 0).all()
    for assertion in make_assertions(reported):
        w, l = choices.index(assertion.winner), choices.index(assertion.loser)
        value = np.empty(cards.total)
        value[~pooled] = (cvr_votes[cvr_row[~pooled], w] - cvr_votes[cvr_row[~pooled], l] + 1) / 2
        for b in np.flatnonzero(~cards.cvr).tolist():
            tally, n = pools.get(cards.batch[b], {}), int(cards.ballots[b])
            value[batch_of_card == b] = (tally.get(assertion.winner, 0) - tally.get(assertion.loser, 0) + n) / (2 * n)
        v = 2 * value.mean() - 1
        assert v == pytest.approx(oneaudit_margin(state.contest(CLEAN), state.cvrs,
                                                  state.batch_tallies[CLEAN], cards, assertion.winner,
                                                  assertion.loser), rel=1e-12)
        # clean paper: the population the sizes simulate has the no-error mean 1/(2 − v)
        population = clean_values(cards, state.contest(CLEAN), state.cvrs, state.batch_tallies[CLEAN], assertion, v)
        assert len(population) == cards.total and population.mean() == pytest.approx(1 / (2 - v), rel=1e-12)
        drawn = state.draw_cards
        on_paper = paper_votes[paper_row[drawn]]
        mvr = (on_paper[:, w] - on_paper[:, l] + 1) / 2
        x = (1 - (value[drawn] - mvr)) / (2 - v)
        eta = max(0.5 + 1e-6, (1 - 0.001 / 2) / (2 - v))
        p = alpha_mart(x, u=2 / (2 - v), estim="shrink_trunc", eta=eta).p_value
        assert board["assertions"][f"{assertion.name} (ONEAudit)"] == pytest.approx(p, rel=1e-12)

    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    report = verify_bundle(bundle)
    assert report.ok, [line for line in report.lines if line.startswith("MISMATCH")]
    assert any("sample:" in line and line.startswith("match") for line in report.lines)
    with open(bundle / "cvr_vs_mvr.csv", newline="", encoding="utf-8") as fh:
        beside = {r["ballot_id"]: r["cvr"] for r in csv.DictReader(fh) if r["contest"] == CLEAN}
    ids = dict(zip(cards.ballot_ids(state.draw_cards), state.draw_cards.tolist()))
    assert beside and all((cvr == "POOL") == bool(pooled[ids[bid]]) for bid, cvr in beside.items())

    # one pool's tally changed in the bundle's reported results, every checksum rewritten: the p-values differ
    audit = orjson.loads((bundle / "audit.json").read_bytes())
    entry = next(i for i in audit["inputs"] if i["kind"] == "reported")
    pool = next(cards.batch[b] for b in np.flatnonzero(~cards.cvr).tolist()
                if pools.get(cards.batch[b], {}).get("Cal Ortiz", 0) > 0)
    text = (bundle / entry["file"]).read_text(encoding="utf-8")
    line = next(r for r in text.splitlines() if r.startswith(f"{CLEAN},Cal Ortiz,{pool},"))
    votes = int(line.rsplit(",", 1)[1])
    changed = text.replace(line + "\n", line.rsplit(",", 1)[0] + f",{votes - 1}\n", 1)
    assert changed != text
    (bundle / entry["file"]).write_text(changed, encoding="utf-8")
    entry["sha256"] = hashlib.sha256(changed.encode()).hexdigest()
    (bundle / "audit.json").write_bytes(orjson.dumps(audit, option=orjson.OPT_INDENT_2))
    sums = {name: hashlib.sha256((bundle / name).read_bytes()).hexdigest()
            for name in (entry["file"], "audit.json")}
    lines = (bundle / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    (bundle / "SHA256SUMS").write_text("".join(
        f"{sums[name]}  {name}\n" if name in sums else f"{digest}  {name}\n"
        for digest, _, name in (ln.partition("  ") for ln in lines)), encoding="utf-8")
    report = verify_bundle(bundle)
    bad = [line for line in report.lines if line.startswith("MISMATCH")]
    assert not report.ok and any(f"{CLEAN} [" in line and "derived p" in line for line in bad), bad
    assert not any("sha256" in line or "SHA-256" in line for line in bad), bad
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


def test_a_misread_card_in_the_sample_lowers_its_overstatement_value(tmp_path, clean):
    """A sampled CVR card whose paper shows the loser where the CVR shows the winner is a two-vote overstatement:
    its value is 0, and the p-value rises above the clean one."""
    from veritally.audit._oneaudit import draw_values

    folder, truth = clean
    store = set_up(str(tmp_path / "a.db"), folder, (CLEAN,))
    sample(store, out_dir=tmp_path / "r", size=300)
    record(store, mock=[folder / truth["paper"]])
    with store.read() as conn:
        state = load_state(conn)
    spec = state.contest(CLEAN)
    before = status(store, save=False)["contests"][0]["assertions"]
    central = read_cvrs(folder / "cvrs-central" / "cvrs.parquet")
    row = np.full(state.cards.total, -1)
    row[link_cvrs(state.cards, "county", central, allow_gaps=True)] = np.arange(central.n_cards)
    votes = contest_votes(central, CLEAN, spec.choices)[0]
    winner_cards = [c for c in state.draw_cards.tolist() if row[c] >= 0 and votes[row[c], 0] == 1]
    assert spec.choices[0] == "Ava Greene" and winner_cards
    card = winner_cards[0]
    mvrs = tmp_path / "amend.csv"
    mvrs.write_text(f"ballot_id,contest,choice\n{state.cards.ballot_ids([card])[0]},{CLEAN},Cal Ortiz\n",
                    encoding="utf-8")
    record(store, mvrs, amend=True)
    after = status(store, save=False)["contests"][0]
    assert after["discrepancies"]["o2"] == int((state.draw_cards == card).sum())
    key = "Ava Greene v Cal Ortiz (ONEAudit)"
    assert after["assertions"][key] > before[key]
    with store.read() as conn:
        state = load_state(conn)
    v, x = draw_values(state.cards, spec, state.cvrs, state.batch_tallies[CLEAN], state.draw_cards,
                       state.readings[CLEAN])["Ava Greene v Cal Ortiz"]
    drawn = [c for c in state.draw_cards.tolist() if c in state.readings[CLEAN]]
    assert all(x[k] == 0 for k, c in enumerate(drawn) if c == card)
    store.dispose()


def test_bad_oneaudit_inputs_are_clear_errors(tmp_path, clean):
    folder, truth = clean
    store = init_audit(str(tmp_path / "a.db"), risk_limit=0.05, seed=SEED, audit_type="oneaudit")
    with pytest.raises(ConfigError, match="CVR column"):
        add_manifest(store, folder / "manifest.csv")
    add_manifest(store, folder / "manifest-oneaudit.csv")
    add_cvrs(store, [folder / "cvrs-central" / "cvrs.parquet"])
    add_reported(store, folder / "reported.csv")  # contest totals only: no pool tallies
    with pytest.raises(ConfigError, match="per batch"):
        add_contest(store, CLEAN)
    # a pool whose batch rows are missing
    with open(folder / "reported-batches.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with open(folder / "manifest-oneaudit.csv", newline="", encoding="utf-8") as fh:
        pool = next(r["Batch Name"] for r in csv.DictReader(fh) if r["CVR"] == "N")
    short = tmp_path / "reported-short.csv"
    with open(short, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([rows[0]] + [r for r in rows[1:] if r[2] != pool])
    add_reported(store, short)
    with pytest.raises(InputError, match=f"pool '{pool}'"):
        add_contest(store, CLEAN)
    all_y = tmp_path / "all-y.csv"
    all_y.write_text((folder / "manifest-oneaudit.csv").read_text(encoding="utf-8").replace(",N\n", ",Y\n"),
                     encoding="utf-8")
    other = init_audit(str(tmp_path / "b.db"), risk_limit=0.05, seed=SEED, audit_type="oneaudit")
    add_manifest(other, all_y)
    with pytest.raises(ConfigError, match="--type comparison"):
        add_cvrs(other, [folder / truth["cvrs"]])
    all_n = tmp_path / "all-n.csv"
    all_n.write_text((folder / "manifest-oneaudit.csv").read_text(encoding="utf-8").replace(",Y\n", ",N\n"),
                     encoding="utf-8")
    third = init_audit(str(tmp_path / "c.db"), risk_limit=0.05, seed=SEED, audit_type="oneaudit")
    add_manifest(third, all_n)
    add_reported(third, folder / "reported-batches.csv")
    with pytest.raises(ConfigError, match="--type polling"):
        add_contest(third, CLEAN)
    with pytest.raises(ConfigError, match="alpha"):
        init_audit(str(tmp_path / "d.db"), risk_limit=0.05, seed=SEED, audit_type="oneaudit", method="suite")


def test_a_wrong_outcome_at_the_worst_case_is_confirmed_at_most_alpha_of_the_time():
    """Validity of the test as the workflow runs it (u, shrink-trunc, the chosen η): a county whose CVRs and pool
    tallies report a 6 % margin while the paper is tied, so the overstatement values' mean is exactly ½;
    2,000 simulated audits of 1,000 draws with replacement confirm at most α of the time (3 standard errors)."""
    from veritally.audit._batch import BatchTallies
    from veritally.audit._oneaudit import oneaudit_eta, pool_means
    from veritally.audit._state import Cards, ContestSpec
    from veritally.audit.contest import ReportedContest

    cards = Cards(["county", "county"], [None, None], ["", ""], ["mail", "pool"], np.array([200, 800]),
                  cvr=np.array([True, False]))
    spec = ContestSpec("C", True, ReportedContest("C", {"W": 530, "L": 470}, 1000), ("W", "L"))
    tallies = BatchTallies(np.array([[0, 0], [420, 380]]), np.array([False, True]))
    v = (110 + 420 - 90 - 380) / 1000  # the CVR cards: 110 W, 90 L (their paper agrees)
    mean = pool_means(cards, spec, tallies, "W", "L")
    assert np.isnan(mean[0]) and mean[1] == pytest.approx((420 - 380 + 800) / 1600)
    cvr_value = np.r_[np.ones(110), np.zeros(90)]
    paper = np.r_[cvr_value, np.ones(390), np.zeros(410)]  # the pool's paper: 390 W, 410 L — 500 to 500 in all
    reported_value = np.r_[cvr_value, np.full(800, mean[1])]
    x = (1 - (reported_value - paper)) / (2 - v)
    assert x.mean() == pytest.approx(0.5, abs=1e-12)
    rng = np.random.default_rng(20230306)
    audits = x[rng.integers(0, len(x), size=(2000, 1000))]
    history = alpha_mart(audits, u=2 / (2 - v), estim="shrink_trunc", eta=oneaudit_eta(v)).p_history
    rate = float((history.min(axis=1) <= 0.05).mean())
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2000), rate
