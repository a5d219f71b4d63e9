"""The audit workflow end to end, on SQLite and on PostgreSQL: clean contests confirm at the risk limit; the contest
whose CVRs were misread (an outcome-changing error) escalates to a full hand count that recovers the true winner;
the export bundle verifies, and a tampered one does not."""

from __future__ import annotations

import json

import pytest

from veritally.audit.bundle import export_bundle, verify_bundle
from veritally.audit.store import AuditStore
from veritally.audit.workflow import (add_contest, add_cvrs, add_manifest, add_reported, init_audit, plan, record,
                                      sample, status)

from ._workflow_fixtures import audit_location, election, run_to_the_end, true_winners  # noqa: F401  (fixture)

#: Contests each kind of audit can finish within the synthetic county's 4,000 cards (polling needs a wide margin).
#: A batch audit samples batches of 200–400 cards, so it needs the widest margin (chosen from the truth).
CLEAN_CONTESTS = {"polling": ("School Board District 1",), "comparison": ("President", "County Treasurer"),
                  "batch": ()}


def widest_plurality_contest(truth: dict) -> str:
    plurality = [c for c in truth["contests"] if c["kind"] == "plurality"]
    return max(plurality, key=lambda c: (lambda v: (v[0] - v[1]) / truth["cards"])(sorted(c["tallies"].values(),
                                                                                         reverse=True)))["name"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clean") / "election"
    return folder, election(folder, planted=False)


@pytest.fixture(scope="module")
def clean_many_batches(tmp_path_factory):
    """A county with enough batches (about 240) that MACRO can confirm a 2–5 % margin by sampling them."""
    folder = tmp_path_factory.mktemp("clean-batches") / "election"
    return folder, election(folder, planted=False, cards=60_000)


@pytest.fixture(scope="module")
def misread(tmp_path_factory):
    folder = tmp_path_factory.mktemp("misread") / "election"
    truth = election(folder, planted=True, cards=6000)
    assert truth["planted"]["kind"] == "misread" and truth["planted"]["changes_outcome"]
    return folder, truth


def set_up(location, folder, contests, audit_type, method=None):
    truth = json.loads((folder / "truth.json").read_text())
    store = init_audit(location, risk_limit=0.05, seed="38214907563218765432", audit_type=audit_type,
                       method=method)
    add_manifest(store, folder / "manifest.csv")
    if audit_type == "comparison":
        add_cvrs(store, [folder / truth["cvrs"]])
    add_reported(store, folder / ("reported-batches.csv" if audit_type == "batch" else "reported.csv"))
    for name in contests:
        add_contest(store, name)
    if audit_type != "batch":  # a batch audit checks one contest
        add_contest(store, "County Executive", targeted=False)
    return store






AUDITS = [("polling", "bravo"), ("polling", "alpha"), ("comparison", "supersimple"), ("comparison", "alpha"),
          ("batch", "macro")]


@pytest.mark.parametrize("audit_type,method", AUDITS)
def test_clean_contests_confirm_at_the_risk_limit(audit_location, request, tmp_path, audit_type, method):
    folder, truth = request.getfixturevalue("clean_many_batches" if audit_type == "batch" else "clean")
    contests = CLEAN_CONTESTS[audit_type] or (widest_plurality_contest(truth),)
    store = set_up(audit_location, folder, contests, audit_type, method)
    result = run_to_the_end(store, folder, truth, tmp_path / "retrieval")
    by_name = {c["name"]: c for c in result["contests"]}
    for name in contests:
        assert by_name[name]["state"] == "confirmed"
        assert by_name[name]["p_value"] <= 0.05
        assert by_name[name]["reported_winners"] == true_winners(truth, name)
    if audit_type != "batch":
        assert by_name["County Executive"]["targeted"] is False  # reported opportunistically, with its own p-value
    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    report = verify_bundle(bundle)
    assert report.ok, report.lines
    store.dispose()


@pytest.mark.parametrize("audit_type,method", AUDITS)
def test_an_outcome_changing_misread_escalates_to_a_hand_count_that_finds_the_true_winner(
        audit_location, misread, tmp_path, audit_type, method):
    folder, truth = misread
    planted = truth["planted"]["contest"]
    other = {"polling": "School Board District 1", "comparison": "President", "batch": None}[audit_type]
    store = set_up(audit_location, folder, (planted, other) if other else (planted,), audit_type, method)
    result = run_to_the_end(store, folder, truth, tmp_path / "retrieval")
    by_name = {c["name"]: c for c in result["contests"]}
    hand = by_name[planted]
    assert hand["state"] == "full_hand_count"
    assert hand["reported_winners"] != true_winners(truth, planted)  # the CVRs (and results) named the wrong winner
    assert hand["hand_count"]["complete"] and hand["hand_count"]["winners"] == true_winners(truth, planted)
    assert hand["hand_count"]["reported_outcome_correct"] is False
    if other:
        assert by_name[other]["state"] == "confirmed"
    bundle = tmp_path / "bundle"
    export_bundle(store, bundle)
    assert verify_bundle(bundle).ok
    store.dispose()


def test_plan_lists_options_and_warns_when_a_hand_count_is_less_work(tmp_path, misread):
    folder, truth = misread
    store = set_up(str(tmp_path / "a.db"), folder, (truth["planted"]["contest"], "President"), "polling")
    planned = {c["name"]: c for c in plan(store)["contests"]}
    assert set(planned["President"]["options"]) == {"asn", "0.7", "0.8", "0.9"}
    assert planned["President"]["options"]["0.9"]["size"] > planned["President"]["options"]["asn"]["size"]
    assert list(planned[truth["planted"]["contest"]]["options"]) == ["all-ballots"]


def test_risk_limit_zero_is_a_full_hand_count(tmp_path, clean):
    folder, truth = clean
    store = init_audit(str(tmp_path / "a.db"), risk_limit=0, seed="1234", audit_type="polling")
    add_manifest(store, folder / "manifest.csv")
    add_reported(store, folder / "reported.csv")
    add_contest(store, "County Treasurer")
    drawn = sample(store, out_dir=tmp_path / "r")
    assert drawn["hand_counted"] == ["County Treasurer"] and drawn["cards"] == truth["cards"]
    record(store, mock=[folder / truth["paper"]])
    (contest, *_) = status(store)["contests"]
    assert contest["state"] == "full_hand_count" and contest["hand_count"]["winners"] == true_winners(
        truth, "County Treasurer")


def test_retrieval_list_has_the_columns_and_the_tickets(tmp_path, clean):
    folder, truth = clean
    store = set_up(str(tmp_path / "a.db"), folder, CLEAN_CONTESTS["comparison"], "comparison")
    drawn = sample(store, out_dir=tmp_path / "r", size=40)
    (path,) = drawn["retrieval_lists"]
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["ballot_id", "jurisdiction", "container", "tabulator", "batch", "position",
                             "imprinted_id", "ticket_numbers", "already_audited"]
    assert sum(len(r["ticket_numbers"].split(";")) for r in rows) == 40
    assert all(r["imprinted_id"] and r["already_audited"] == "N" for r in rows)
    assert len({r["ballot_id"] for r in rows}) == len(rows) == drawn["cards"]


def test_status_json_from_the_command_line(tmp_path, clean):
    from typer.testing import CliRunner

    from veritally.cli import app

    folder, truth = clean
    db = str(tmp_path / "a.db")
    runner = CliRunner()
    steps = [["audit", "init", db, "--seed", "99887766554433221100", "--type", "comparison"],
             ["audit", "add-manifest", db, str(folder / "manifest.csv")],
             ["audit", "add-cvrs", db, str(folder / truth["cvrs"])],
             ["audit", "add-reported", db, str(folder / "reported.csv")],
             ["audit", "add-contest", db, "President"],
             ["audit", "sample", db, "--out", str(tmp_path / "r")],
             ["audit", "record", db, "--mock", str(folder / truth["paper"])]]
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, result.output)
    result = runner.invoke(app, ["audit", "status", db, "--json"])
    data = json.loads(result.output)
    (president,) = data["contests"]
    assert president["name"] == "President" and president["state"] == "confirmed"
    assert president["p_value"] <= 0.05 and president["sample_size"] > 0
    result = runner.invoke(app, ["audit", "export", db, str(tmp_path / "bundle")])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["audit", "verify", str(tmp_path / "bundle")]).exit_code == 0


def test_the_store_refuses_a_second_audit_in_one_database(tmp_path):
    from veritally.errors import ConfigError

    init_audit(str(tmp_path / "a.db"), risk_limit=0.05, seed="1", audit_type="polling").dispose()
    with pytest.raises(ConfigError, match="already holds an audit"):
        init_audit(str(tmp_path / "a.db"), risk_limit=0.05, seed="1", audit_type="polling")
    with pytest.raises(ConfigError, match="no audit"):
        AuditStore.open(str(tmp_path / "missing.db"))
