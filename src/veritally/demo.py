"""``veritally demo``: the main job on embedded defaults, end to end.

1. synthesize a county election with a planted, outcome-changing miscount in its reported results;
2. write its CVRs in a vendor format (Dominion JSON) and read them back with the vendor reader;
3. count every contest, per precinct;
4. compare the count with the reported results;
5. explain what was found (contest, precinct, votes, whether the outcome could change) and check it against the
   planted truth;
6. run a ballot-comparison risk-limiting audit of every contest with mock audit boards reading the paper truth of
   the sampled cards: the clean contests confirm at the risk limit, the contest whose reported outcome is wrong
   escalates to a full hand count that recovers its true winner; export the audit and verify the bundle.

JSON results go to ``OUT_DIR`` (default ``./veritally-demo/``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ._demo_audit import run_demo_audit
from .errors import ConfigError
from .report.json_out import write_json

__all__ = ["run_demo"]

T = TypeVar("T")
DEMO_FORMAT = "dominion"


def _step(progress: Progress | None, console: Console, text: str, fn: Callable[[], T]) -> T:
    """Run one step under a spinner on a terminal, or with a plain log line in a pipe."""
    if progress is None:
        console.print(f"• {text}")
        return fn()
    task = progress.add_task(text, total=1)
    result = fn()
    progress.update(task, completed=1)
    return result


def run_demo(out_dir: Path, *, seed: str = "veritally-demo", n_cards: int = 50_000,
             console: Console | None = None) -> int:
    """Run the demo; returns the process exit status (0 when the demo ran and found what was planted)."""
    from .compare import compare
    from .formats import read_cvrs
    from .formats.reported import read_reported
    from .report.compare_text import print_comparison
    from .synth import write_synthetic
    from .tabulate import tabulate

    console = console or Console()
    out_dir = Path(out_dir)
    election_dir = out_dir / "election"
    if election_dir.exists():  # a previous demo's inputs are replaced; anything else there is left alone
        if not (out_dir / "demo.json").is_file() or not (election_dir / "truth.json").is_file():
            raise ConfigError(f"{election_dir} exists and is not a previous demo's; choose another --out")
        shutil.rmtree(election_dir)
    console.print(f"[bold]Veritally demo[/bold]: a synthetic county of {n_cards:,} ballot cards (seed {seed!r}), "
                  f"CVRs in {DEMO_FORMAT} format, a miscount planted in the reported results.")
    progress = (Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                         transient=False) if console.is_terminal else None)
    if progress is not None:
        progress.start()
    try:
        truth = _step(progress, console, "Generating the election and its reported results",
                      lambda: write_synthetic(election_dir, seed=seed, n_cards=n_cards, fmt=DEMO_FORMAT,
                                              plant="shift-votes", outcome_changing=True))
        election = _step(progress, console, f"Reading the {DEMO_FORMAT} CVRs back",
                         lambda: read_cvrs(election_dir / "cvrs", DEMO_FORMAT))
        reported = read_reported(election_dir / "reported.csv")
        unit = reported.unit_kind
        count = _step(progress, console, f"Counting every contest{' by ' + unit if unit else ''}",
                      lambda: tabulate(election, by=unit))
        result = _step(progress, console, "Comparing with the reported results", lambda: compare(count, reported))
    finally:
        if progress is not None:
            progress.stop()

    write_json(out_dir / "count.json", count.to_json())
    write_json(out_dir / "comparison.json", result.to_json())
    console.print()
    print_comparison(result, console)
    found = _planted_found(truth.get("planted"), result.to_json())
    console.print()
    planted = truth.get("planted")
    if planted:
        console.print(f"[bold]Planted miscount[/bold] (truth.json): {planted.get('description', planted['kind'])}")
        console.print("[green]Veritally found it.[/green]" if found else "[red]Veritally did NOT find it.[/red]")
    audit = run_demo_audit(out_dir, election_dir, truth, console)
    write_json(out_dir / "demo.json", {"seed": seed, "cards": election.n_cards, "format": DEMO_FORMAT,
                                       "planted": planted, "found_planted": found, "audit": audit,
                                       "files": {"count": "count.json", "comparison": "comparison.json",
                                                 "election": "election/", "audit": "audit.db",
                                                 "audit_bundle": "audit-bundle/", "retrieval": "retrieval/"}})
    console.print(escape(f"Results: {out_dir}/count.json, {out_dir}/comparison.json, {out_dir}/audit.db, "
                         f"{out_dir}/audit-bundle/; inputs under {election_dir}/"))
    ok = (found or not planted) and audit["as_expected"] and audit["bundle_verified"]
    return 0 if ok else 1


def _planted_found(planted: dict | None, comparison: dict) -> bool:
    """Whether the comparison flags the planted miscount: its contest and precinct (vote shift), or the precincts
    of its batch (batch counted twice or left out)."""
    if not planted:
        return not comparison["discrepancies"]
    contest = planted.get("contest")
    units = {planted["precinct"]} if "precinct" in planted else set(planted.get("precincts", ()))
    return any((contest is None or d["contest"] == contest) and (not units or d.get("unit") in units)
               for d in comparison["discrepancies"])
