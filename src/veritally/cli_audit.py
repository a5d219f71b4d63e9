"""``veritally audit …``: run a risk-limiting audit from the command line (docs/audit.md).

AUDIT is a SQLite file, or give ``--db postgresql://…`` instead. Every command is one database transaction.
Exit status: 0 on success (``status``: also while the audit is still in progress), 1 when ``verify`` finds a
mismatch, 2 for bad input or options (one line on stderr, never a traceback).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import orjson
import typer

from .errors import ConfigError

__all__ = ["audit_app"]

audit_app = typer.Typer(name="audit", help="Run a risk-limiting audit: init, add inputs, plan, sample, record, "
                        "status, next-round, export, verify.", no_args_is_help=True, add_completion=False,
                        pretty_exceptions_enable=False)


class AuditType(StrEnum):
    polling = "polling"
    comparison = "comparison"
    batch = "batch"
    hybrid = "hybrid"
    oneaudit = "oneaudit"


AuditArg = Annotated[str, typer.Argument(help="The audit: a SQLite file, or a database URL (postgresql://…).",
                                          show_default=False)]
DbOpt = Annotated[Optional[str], typer.Option("--db", help="Database URL instead of a file, e.g. "
                                              "postgresql://127.0.0.1/test.")]
JurisdictionOpt = Annotated[str, typer.Option("--jurisdiction", "-j", help="Jurisdiction (county) name.")]


def _where(audit: str | None, db: str | None) -> str:
    if (audit is None) == (db is None):
        raise ConfigError("give the audit file (AUDIT) or --db URL, not both or neither")
    return db or audit


def _store(audit: str):
    from .audit.store import AuditStore

    return AuditStore.open(audit)


def _console():
    from rich.console import Console

    return Console()


def _print_json(data) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@audit_app.command()
def init(audit: Annotated[Optional[str], typer.Argument(help="The audit's SQLite file (or use --db).",
                                                       show_default=False)] = None, db: DbOpt = None,
         risk_limit: Annotated[float, typer.Option(help="Risk limit α (0.05, or 5 for 5 %).")] = 0.05,
         seed: Annotated[str, typer.Option(help="The public random seed (e.g. 20 digits of rolled dice).")] = "",
         audit_type: Annotated[AuditType, typer.Option("--type", help="Audit type.")] = AuditType.comparison,
         method: Annotated[Optional[str], typer.Option(help="polling: bravo|alpha; comparison: supersimple|alpha; "
                                                       "batch: macro; hybrid: suite; oneaudit: alpha.")] = None,
         card_style: Annotated[bool, typer.Option("--card-style", help="Comparison audits: sample each targeted "
                                                  "contest from the cards whose CVR lists it (card-style data).")]
         = False) -> None:
    """Create an audit; the seed is recorded with the time it was entered."""
    from .audit.workflow import init_audit

    location = _where(audit, db)
    init_audit(location, risk_limit=risk_limit, seed=seed, audit_type=audit_type.value, method=method,
               card_style=card_style).dispose()
    _console().print(f"audit created in {location} ({audit_type.value}, risk limit {risk_limit})")


@audit_app.command("add-manifest")
def add_manifest(audit: AuditArg, manifest: Annotated[Path, typer.Argument(help="Ballot manifest CSV.")],
                 jurisdiction: JurisdictionOpt = "county") -> None:
    """Add a jurisdiction's ballot manifest."""
    from .audit.workflow import add_manifest as run

    detail = run(_store(audit), manifest, jurisdiction=jurisdiction)
    _console().print(f"{jurisdiction}: {detail['batches']:,} batches, {detail['ballots']:,} ballots")


@audit_app.command("add-cvrs")
def add_cvrs(audit: AuditArg, cvrs: Annotated[list[Path], typer.Argument(help="CVR files or export folders.")],
             jurisdiction: JurisdictionOpt = "county",
             fmt: Annotated[str, typer.Option("--format", "-f", help="CVR format (auto detects).")] = "auto",
             allow_gaps: Annotated[bool, typer.Option(help="Audit manifest cards without CVRs as phantoms "
                                                      "(worst case) instead of refusing.")] = False) -> None:
    """Add a jurisdiction's CVRs, linked card by card to its manifest."""
    from .audit.workflow import add_cvrs as run

    detail = run(_store(audit), cvrs, fmt=fmt, jurisdiction=jurisdiction, allow_gaps=allow_gaps)
    _console().print(f"{jurisdiction}: {detail['cvrs']:,} CVRs ({detail['format']})")


@audit_app.command("add-reported")
def add_reported(audit: AuditArg,
                 reported: Annotated[Path, typer.Argument(help="Reported results (CSV or NIST results JSON).")]) -> None:
    """Add the reported results whose outcomes are audited."""
    from .audit.workflow import add_reported as run

    detail = run(_store(audit), reported)
    _console().print(f"reported results of {len(detail['contests'])} contests")


@audit_app.command("add-contest")
def add_contest(audit: AuditArg, name: Annotated[str, typer.Argument(help="Contest name.")],
                targeted: Annotated[bool, typer.Option("--targeted/--opportunistic",
                                                       help="Size the sample for it, or only report it.")] = True) -> None:
    """Put a contest under audit."""
    from .audit.workflow import add_contest as run

    detail = run(_store(audit), name, targeted=targeted)
    _console().print(f"{name}: {'targeted' if targeted else 'opportunistic'}, reported winners "
                     f"{', '.join(detail['reported_winners'])}")


@audit_app.command()
def plan(audit: AuditArg,
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Margins and sample-size options of every targeted contest."""
    from .audit.workflow import plan as run

    result = run(_store(audit))
    if as_json:
        _print_json(result)
        return
    console = _console()
    for c in result["contests"]:
        options = ", ".join(f"{k}: {v['size']:,}" for k, v in c["options"].items())
        console.print(f"[bold]{c['name']}[/bold] (winners {', '.join(c['reported_winners'])}, diluted margin "
                      f"{c['diluted_margin']:.4f}): {options}")
        for text in c["warnings"] + c["notes"]:
            console.print(f"  note: {text}")


@audit_app.command()
def sample(audit: AuditArg,
           size: Annotated[Optional[int], typer.Option(help="Number of draws.")] = None,
           option: Annotated[Optional[str], typer.Option(help="A plan option: asn, 0.7, 0.8, 0.9, default.")] = None,
           out: Annotated[Path, typer.Option(help="Folder for the retrieval lists.")] = Path("retrieval")) -> None:
    """Draw the first round's sample; write a retrieval list per jurisdiction."""
    from .audit.workflow import sample as run

    _print_round(run(_store(audit), out_dir=out, size=size, option=option))


def _print_round(result: dict) -> None:
    console = _console()
    what = f"{result['draws']:,} draws" if result["draws"] else "no draws"
    if result.get("hand_counted"):
        what += f", and a full hand count of {', '.join(result['hand_counted'])} (every card)"
    console.print(f"round {result['round']}: {what}, chosen by {result['chosen_by']}")
    for path in result["retrieval_lists"]:
        console.print(f"  retrieval list: {path}")


@audit_app.command()
def record(audit: AuditArg,
           mvrs: Annotated[Optional[Path], typer.Argument(help="MVR CSV (ballot_id, contest, choice) or a CVR "
                                                           "export of the audited cards.")] = None,
           mock: Annotated[Optional[list[Path]], typer.Option(help="Take the sampled cards' readings from a CVR "
                                                              "export of the paper truth (mock audits).")] = None,
           fmt: Annotated[str, typer.Option("--format", "-f", help="Format of a CVR export.")] = "auto",
           amend: Annotated[bool, typer.Option(help="Replace earlier readings (logged as amendments).")] = False,
           jurisdiction: Annotated[Optional[str], typer.Option("--jurisdiction", "-j")] = None) -> None:
    """Import the audit boards' interpretations of the sampled cards."""
    from .audit.workflow import record as run

    result = run(_store(audit), mvrs, mock=mock, fmt=fmt, amend=amend, jurisdiction=jurisdiction)
    _console().print(f"recorded {result['recorded']:,} readings, amended {result['amended']:,}, "
                     f"unchanged {result['unchanged']:,}")


@audit_app.command()
def status(audit: AuditArg,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each contest's p-value and state (confirmed, in_progress, full_hand_count)."""
    from .audit.workflow import status as run

    result = run(_store(audit))
    if as_json:
        _print_json(result)
        return
    console = _console()
    for c in result["contests"]:
        line = (f"[bold]{c['name']}[/bold] ({'targeted' if c['targeted'] else 'opportunistic'}): {c['state']}, "
                + (f"p = {c['p_value']:.4g}, " if c["p_value"] is not None else "no p-value, ")
                + f"{c['sample_size']:,} draws, {c['ballots_to_audit']:,} cards to audit")
        found = ", ".join(f"{k} {v}" for k, v in c["discrepancies"].items() if v)
        if found:
            line += f", discrepancies {found}"
        console.print(line)
        if c["hand_count"] and c["hand_count"]["complete"]:
            console.print(f"  hand count: winners {', '.join(c['hand_count']['winners'])} "
                          f"(reported outcome {'right' if c['hand_count']['reported_outcome_correct'] else 'WRONG'})")
        for note in c["notes"]:
            console.print(f"  note: {note}")


@audit_app.command("next-round")
def next_round(audit: AuditArg,
               size: Annotated[Optional[int], typer.Option(help="Number of draws.")] = None,
               option: Annotated[Optional[str], typer.Option(help="A plan option.")] = None,
               out: Annotated[Path, typer.Option(help="Folder for the retrieval lists.")] = Path("retrieval")) -> None:
    """Escalate: draw the next round, sized from what has been observed."""
    from .audit.workflow import next_round as run

    _print_round(run(_store(audit), out_dir=out, size=size, option=option))


@audit_app.command()
def export(audit: AuditArg,
           out: Annotated[Path, typer.Argument(help="Folder to write the bundle to (new or empty).")]) -> None:
    """Write everything an observer needs to re-derive the audit (docs/audit.md)."""
    from .audit.bundle import export_bundle

    files = export_bundle(_store(audit), out)
    _console().print(f"wrote {len(files)} files to {out}")


@audit_app.command()
def verify(bundle: Annotated[Path, typer.Argument(help="An export bundle folder.")]) -> None:
    """Re-derive the sample and every p-value from a bundle alone; exit 1 on any mismatch."""
    from .audit.bundle import verify_bundle

    report = verify_bundle(bundle)
    console = _console()
    for line in report.lines:
        console.print(line)
    console.print("[green]everything matches[/green]" if report.ok else f"[red]{report.mismatches} mismatches[/red]")
    raise typer.Exit(0 if report.ok else 1)
