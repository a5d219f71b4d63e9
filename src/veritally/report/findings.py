"""``findings.json`` of ``veritally results check`` (assembled here, written atomically) and its short terminal
summary. Every field is described in docs/results.md.

The summary says plainly what the numbers are: reconciliation violations are arithmetic facts about the published
figures; forensic deviations are statistical questions for auditors, never a verdict of fraud.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import __version__
from .._io import atomic_write
from ..reconcile import Reconciliation
from ..results import PrecinctResults

__all__ = ["CAVEAT", "ContestForensics", "file_digest", "build_findings", "write_findings", "print_summary"]

CAVEAT = ("A forensic flag is a question for auditors, never a verdict of fraud: every test here has documented "
          "false positives on clean elections (heterogeneous regions, strategic voting, small units, many tests at "
          "once). Reconciliation violations are arithmetic facts about the published figures, to be explained by "
          "the officials who published them.")

#: Violations listed per identity in findings.json (``violations_total`` counts them all).
VIOLATIONS_LISTED = 1000
#: Lines of each table in the terminal summary.
SHOWN = 8


@dataclass
class ContestForensics:
    """What the battery did on one contest: its findings and the context a reader of findings.json needs."""

    contest: str
    units: int
    choices: tuple[str, ...]
    leader: str
    has_registered: bool
    has_ballots: bool
    has_issued: bool = False
    findings: list = field(default_factory=list)  #: :class:`~veritally.forensics.Finding` objects
    previous: dict | None = None  #: file, contest and the unit match, when --previous was given
    plots: list[str] = field(default_factory=list)  #: plot files, relative to the output folder
    plots_dir: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"contest": self.contest, "units": self.units, "choices": list(self.choices), "leader": self.leader,
                "registered": self.has_registered, "ballots": self.has_ballots, "issued": self.has_issued,
                "tests": len(self.findings),
                "previous": self.previous, "plots_dir": self.plots_dir, "plots": self.plots, "notes": self.notes}


def file_digest(path: Path) -> dict:
    """Path, size and SHA-256 of an input file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": h.hexdigest()}


def build_findings(results: PrecinctResults, reconciliation: Reconciliation, forensics: Sequence[ContestForensics],
                   *, inputs: list[dict], options: dict, skipped_contests: Sequence[str] = ()) -> dict:
    """The findings.json document (a plain dict; see docs/results.md)."""
    tests = []
    for cf in forensics:
        for f in cf.findings:
            tests.append({"contest": cf.contest, **f.to_json()})
    doc: dict = {
        "veritally": __version__,
        "command": "results check",
        "caveat": CAVEAT,
        "inputs": inputs,
        "options": options,
        "results": {
            "format": results.format, "source": results.source, "units": results.n_units,
            "rows": results.kind_counts(), "contests": len(results.contest_names()),
            "modes": [m or "all" for m in results.modes], "leader": results.leader,
            "protocol_fields": dict(results.protocol_columns), "notes": list(results.notes),
        },
        "totals": results.totals(),
    }
    reported = results.reported_totals()
    if reported:
        doc["reported_totals"] = reported
    if results.protocol:
        doc["protocol_totals"] = {name: int(values[values >= 0].sum()) for name, values in results.protocol.items()}
    doc["reconciliation"] = reconciliation.to_json(VIOLATIONS_LISTED)
    doc["forensics"] = [cf.to_json() for cf in forensics]
    if skipped_contests:
        doc["forensics_skipped"] = list(skipped_contests)
    doc["tests"] = tests
    return doc


def write_findings(path: Path, doc: dict) -> Path:
    """Write findings.json atomically (NaN and infinities become null)."""
    with atomic_write(path, "wb") as fh:
        fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
                 + b"\n")
    return path


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if value == 0:
        return "0"
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    if value != 0 and abs(value) < 10 ** -digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def print_summary(doc: dict, console: Console, out_dir: Path) -> None:
    """A short readable summary of findings.json."""
    res = doc["results"]
    console.print(f"[bold]{escape(res['source'])}[/bold]: {res['format']}, {res['units']:,} units, "
                  f"{res['contests']:,} contest{'s' if res['contests'] != 1 else ''}")
    totals = doc["totals"]
    for contest in list(totals)[:3]:
        ranked = sorted(totals[contest].items(), key=lambda kv: -kv[1])
        whole = sum(v for _, v in ranked) or 1
        shown = ", ".join(f"{escape(name)} {votes:,} ({100 * votes / whole:.2f} %)" for name, votes in ranked[:4])
        more = f" and {len(ranked) - 4} more" if len(ranked) > 4 else ""
        console.print(f"  {escape(contest)}: {shown}{more}")
    if len(totals) > 3:
        console.print(f"  … and {len(totals) - 3} more contests (findings.json has every total)")
    _print_reconciliation(doc["reconciliation"], console)
    _print_forensics(doc, console)
    console.print(f"[italic]{escape(CAVEAT)}[/italic]")
    console.print(f"Findings: {escape(str(out_dir / 'findings.json'))}")


def _print_reconciliation(rec: dict, console: Console) -> None:
    table = Table(title="Reconciliation (arithmetic identities)", title_justify="left", show_edge=False)
    for name, justify in (("identity", "left"), ("statement", "left"), ("checked", "right"), ("hold", "right"),
                          ("violations", "right")):
        table.add_column(name, justify=justify)
    skipped = []
    for c in rec["checks"]:
        if c["skipped"]:
            skipped.append(c["identity"])
            continue
        bad = c["violations"]
        table.add_row(c["identity"], escape(c["statement"]), f"{c['checked']:,}", f"{c['holding']:,}",
                      f"[bold red]{bad:,}[/bold red]" if bad else "0")
    console.print(table)
    if skipped:
        console.print(f"  not checkable from these fields: {', '.join(skipped)} (findings.json says why)")
    if rec["holds"]:
        console.print("  [green]Every identity that could be checked holds.[/green]")
        return
    console.print(f"  [bold red]{rec['violations_total']:,} violation(s)[/bold red]; the first:")
    for v in rec["violations"][:SHOWN]:
        where = v["unit"] or v.get("contest") or ""
        amounts = ", ".join(f"{k} {v[k]:,}" for k in v if k not in ("identity", "statement", "unit", "contest",
                                                                       "detail", "left", "right")
                            and isinstance(v[k], int))
        detail = f" ({escape(v['detail'])})" if v.get("detail") else ""
        console.print(f"    {v['identity']} {escape(str(where))}{detail}: {amounts}")


def _print_forensics(doc: dict, console: Console) -> None:
    tests = doc["tests"]
    for cf in doc["forensics"]:
        prev = cf["previous"]
        line = (f"Forensics on [bold]{escape(cf['contest'])}[/bold]: {cf['tests']} tests over {cf['units']:,} "
                f"units, leader {escape(cf['leader'])}")
        if prev is not None and prev.get("match"):
            line += f"; previous election: {prev['match']['matched']:,} of {cf['units']:,} units matched"
        console.print(line)
        for note in cf["notes"][:4]:
            console.print(f"  [dim]{escape(note)}[/dim]")
    for name in doc.get("forensics_skipped", [])[:1]:
        console.print(f"[dim]{len(doc['forensics_skipped'])} contest(s) with too few units for forensics were "
                      f"not tested (e.g. {escape(name)}); name one with --contest.[/dim]")
    if not tests:
        return
    flagged = [_is_flagged(t) for t in tests]
    by_name: dict[str, list[int]] = {}
    for i, t in enumerate(tests):
        by_name.setdefault(t["name"], []).append(i)
    multi = len(doc["forensics"]) > 1
    table = Table(title=f"Forensic tests: {len(tests)} over {len(by_name)} kinds; {sum(flagged)} flagged after "
                        "multiple-testing control (questions for auditors, not verdicts)", title_justify="left",
                  show_edge=False)
    for name, justify in (("test", "left"), ("scopes", "right"), ("flagged", "right"), ("headline", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for name, rows in list(by_name.items())[:2 * SHOWN]:
        n_flagged = sum(flagged[i] for i in rows)
        table.add_row(escape(name), f"{len(rows):,}", f"[bold]{n_flagged:,}[/bold]" if n_flagged else "0",
                      escape(_headline([tests[i] for i in rows], multi)))
    console.print(table)
    console.print("  flagged: Benjamini–Hochberg q ≤ 0.05 over the battery where the battery gives it, else p < 0.05; "
                  "findings.json has every statistic, effect, p-value, interval and flagged unit")


def _is_flagged(t: dict) -> bool:
    if "battery_flagged" in t:
        return bool(t["battery_flagged"])
    return t.get("p_value") is not None and t["p_value"] < 0.05


def _headline(rows: list[dict], multi: bool) -> str:
    """One line for a kind of test: its all-units finding (else its most significant), in numbers."""
    main = next((t for t in rows if t["scope"] in ("all units", "all")), None)
    if main is None:
        main = min(rows, key=lambda t: (t.get("p_value") is None, t.get("p_value") or 0.0))
    scope = (f"{main['contest']}: " if multi else "") + str(main["scope"])
    if main["name"] == "integer_percent" and isinstance(main.get("excess"), dict):
        text = (f"excess {_fmt(main['excess'].get('turnout_or_leader'), 0)} stations (MC s.d. "
                f"{_fmt(main.get('mc_sd', {}).get('turnout_or_leader'), 0)})")
    else:
        text = f"statistic {_fmt(main['statistic'])}, effect {_fmt(main['effect'])}"
    p = main["p_value"]
    return f"{scope}: {text}, p {'< 1e-300' if p == 0 else _fmt(p)}"
