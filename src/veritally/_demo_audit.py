"""The demo's second half: a ballot-comparison risk-limiting audit of every contest, with mock audit boards
reading the paper truth of the sampled cards (:mod:`veritally.audit.workflow`), escalating round by round.

Contests that cannot be audited by the workflow yet (ranked, threshold) are listed and skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import ConfigError

__all__ = ["run_demo_audit", "MAX_ROUNDS"]

#: Rounds the demo allows before it gives up (a real audit would go on to a full hand count).
MAX_ROUNDS = 6
RISK_LIMIT = 0.05
#: The demo's "dice": a fixed public seed, so that every run draws the same sample.
DEMO_SEED = "05196312987654321036"


def run_demo_audit(out_dir: Path, election_dir: Path, truth: dict, console: Console) -> dict:
    """Run the audit and return a summary (also what demo.json records); files go to ``out_dir``."""
    from .audit.bundle import export_bundle, verify_bundle
    from .audit.workflow import (add_contest, add_cvrs, add_manifest, add_reported, init_audit, next_round, record,
                                 sample, status)

    db = out_dir / "audit.db"
    for old in (db, db.with_name("audit.db-wal"), db.with_name("audit.db-shm")):
        old.unlink(missing_ok=True)
    shutil.rmtree(out_dir / "retrieval", ignore_errors=True)
    store = init_audit(db, risk_limit=RISK_LIMIT, seed=DEMO_SEED, audit_type="comparison")
    add_manifest(store, election_dir / "manifest.csv")
    add_cvrs(store, [election_dir / truth["cvrs"]])
    add_reported(store, election_dir / "reported.csv")
    skipped = []
    for contest in truth["contests"]:
        try:
            add_contest(store, contest["name"])
        except ConfigError as err:
            skipped.append({"contest": contest["name"], "why": str(err)})
    paper = election_dir / truth["paper"]
    rounds = [sample(store, out_dir=out_dir / "retrieval")]
    result = None
    for _ in range(MAX_ROUNDS):
        record(store, mock=[paper])
        result = status(store)
        if result["complete"]:
            break
        rounds.append(next_round(store, out_dir=out_dir / "retrieval"))
    bundle = out_dir / "audit-bundle"
    export_bundle(store, bundle)
    verified = verify_bundle(bundle)
    store.dispose()
    _print(console, result, rounds, skipped, truth)
    console.print(f"Audit bundle: {escape(str(bundle))} — re-derived from the bundle alone: "
                  + ("[green]every draw and p-value matches[/green]" if verified.ok
                     else f"[red]{verified.mismatches} mismatches[/red]"))
    return {"risk_limit": RISK_LIMIT, "seed": DEMO_SEED, "rounds": rounds, "status": result, "skipped": skipped,
            "bundle": "audit-bundle/", "bundle_verified": verified.ok, "as_expected": _as_expected(result, truth)}


def _true_winners(truth: dict, name: str) -> list[str]:
    return next(c["winners"] for c in truth["contests"] if c["name"] == name)


def _as_expected(result: dict | None, truth: dict) -> bool:
    """Clean contests confirmed; the contest whose reported outcome is wrong counted by hand to its true winner."""
    if result is None:
        return False
    changed = set((truth.get("planted") or {}).get("changes_outcome") or ())
    for c in result["contests"]:
        if c["name"] in changed:
            hand = c["hand_count"] or {}
            if c["state"] != "full_hand_count" or hand.get("winners") != _true_winners(truth, c["name"]):
                return False
        elif c["state"] != "confirmed" and not (c["hand_count"] or {}).get("complete"):
            return False
    return True


def _print(console: Console, result: dict | None, rounds: list[dict], skipped: list[dict], truth: dict) -> None:
    console.print()
    console.print(f"[bold]Risk-limiting audit[/bold] (ballot comparison, risk limit {RISK_LIMIT:.0%}, seed {DEMO_SEED}): "
                  f"{len(rounds)} round(s); mock audit boards read the sampled cards' paper truth.")
    table = Table(show_header=True, header_style="bold")
    for column in ("contest", "state", "p-value", "draws", "discrepancies", "winner"):
        table.add_column(column)
    for c in (result or {}).get("contests", []):
        hand = c["hand_count"] or {}
        found = ", ".join(f"{k} {v}" for k, v in c["discrepancies"].items() if v) or "none"
        if hand.get("complete"):
            verdict = (f"hand count: {', '.join(hand['winners'])} (reported {', '.join(c['reported_winners'])}: "
                       + ("right" if hand["reported_outcome_correct"] else "[red]WRONG[/red]") + ")")
        else:
            verdict = ", ".join(c["reported_winners"]) + (" (confirmed)" if c["state"] == "confirmed" else "")
        table.add_row(escape(c["name"]), c["state"], f"{c['p_value']:.3g}", f"{c['sample_size']:,}", found,
                      verdict)
    console.print(table)
    for s in skipped:
        console.print(f"  not audited: {escape(s['contest'])} — {escape(s['why'])}")
