"""``veritally results check``: verify published precinct results — reconcile them, run the forensic battery, and
write ``findings.json`` with plots (docs/results.md).

Exit status: 0 when every reconciliation identity that could be checked holds, 1 when any is violated (as
``veritally compare`` exits 1 on a discrepancy), 2 for bad input or options. Forensic deviations never change the
exit status: they are questions for auditors, not findings of fact.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import ConfigError

__all__ = ["results_app", "check", "MIN_UNITS"]

results_app = typer.Typer(name="results", help="Verify published precinct or polling-station results: "
                          "reconciliation identities and election forensics.", no_args_is_help=True,
                          add_completion=False, pretty_exceptions_enable=False)

#: Without --contest, the forensic battery runs on every contest with at least this many units (a state-house
#: district of a dozen precincts gives no test any power); the others are reconciled and totalled only.
MIN_UNITS = 100


class ResultsFormat(StrEnum):
    auto = "auto"
    openelections = "openelections"
    medsl = "medsl"
    nist_err = "nist-err"
    protocol = "protocol"


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name, flags=re.UNICODE).strip("_") or "contest"


class _Collect(logging.Handler):
    """Keeps what the forensic battery logs (the tests it skipped and why) for findings.json."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _previous_contest(prev, name: str, wanted: str | None) -> str | None:
    """The previous election's contest to compare ``name`` with: the one named, the same name, or its only one."""
    from .results import normalized_name

    names = prev.contest_names()
    if wanted is not None:
        return prev.contests[prev.contest_code(wanted)]
    same = [c for c in names if normalized_name(c) == normalized_name(name)]
    if len(same) == 1:
        return same[0]
    return names[0] if len(names) == 1 else None


@results_app.command("check")
def check(
    results: Annotated[Path, typer.Argument(help="Published results: OpenElections or MEDSL CSV (or zip), NIST SP "
                                            "1500-100 JSON, or a polling-station protocol CSV (or zip).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for findings.json and plots/.")],
    fmt: Annotated[ResultsFormat, typer.Option("--format", "-f", help="Results format; auto detects it.")] = (
        ResultsFormat.auto),
    preset: Annotated[Optional[str], typer.Option(help="Protocol column preset (ru-cik: Russian federal "
                                                  "elections, Shpilkin/Kobak layout).")] = None,
    mapping: Annotated[Optional[Path], typer.Option(help="Protocol column mapping, JSON "
                                                    "(docs/formats/protocol.md).")] = None,
    contest: Annotated[Optional[list[str]], typer.Option(help="Run the forensic battery on this contest "
                                                         "(repeatable; default: every contest with at least "
                                                         f"{MIN_UNITS} units).")] = None,
    previous: Annotated[Optional[Path], typer.Option(help="The previous election's results, for the outlier "
                                                     "test (units matched by id).")] = None,
    previous_contest: Annotated[Optional[str], typer.Option(help="The contest of --previous to compare with "
                                                            "(default: the same name, or its only contest).")] = None,
    mc_replicates: Annotated[int, typer.Option(help="Monte Carlo replicates of the integer-percent null.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of every random draw (Monte Carlo, bootstrap).")] = 20180318,
) -> None:
    """Reconcile published results, run the forensic battery, write findings.json and plots to --out."""
    from rich.console import Console

    from .forensics import run_battery
    from .reconcile import reconcile
    from .report.findings import ContestForensics, build_findings, file_digest, print_summary, write_findings
    from .results import read_results

    if mc_replicates < 1:
        raise ConfigError(f"--mc-replicates must be at least 1, not {mc_replicates}")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    res = read_results(results, fmt.value, preset=preset, mapping=mapping)
    inputs = [{"role": "results", "format": res.format, **file_digest(results)}]
    if mapping is not None:
        inputs.append({"role": "mapping", **file_digest(mapping)})
    rec = reconcile(res)

    wanted = [res.contests[res.contest_code(c)] for c in contest] if contest else None
    skipped: list[str] = []
    if wanted is None:
        sizes = {name: len(res.unit_votes(res.contests.index(name))[0]) for name in res.contest_names()}
        wanted = [name for name, n in sizes.items() if n >= MIN_UNITS]
        skipped = [name for name, n in sizes.items() if n < MIN_UNITS]
        if not wanted and sizes:  # a small file: test its largest contest rather than nothing
            largest = max(sizes, key=sizes.__getitem__)
            wanted, skipped = [largest], [s for s in skipped if s != largest]
    prev = None
    if previous is not None:
        prev = read_results(previous, None, preset=preset, mapping=mapping) if (preset or mapping) else (
            read_results(previous))
        inputs.append({"role": "previous", "format": prev.format, **file_digest(previous)})

    out.mkdir(parents=True, exist_ok=True)
    forensics: list[ContestForensics] = []
    collector = _Collect()
    log = logging.getLogger("veritally.forensics")
    log.addHandler(collector)
    old_level = log.level
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        for name in wanted:
            units, notes = res.unit_results(name)
            cf = ContestForensics(name, len(units.unit), units.choice, units.leader_name, units.registered is not None,
                                  units.ballots is not None, units.issued is not None, notes=notes)
            prev_units = None
            if prev is not None:
                prev_units, cf.previous = _align_previous(prev, previous, name, previous_contest, units, cf.notes)
            plots_dir = out / "plots" if len(wanted) == 1 else out / "plots" / _slug(name)
            collector.messages.clear()
            cf.findings = run_battery(units, previous=prev_units, mc_replicates=mc_replicates, seed=seed,
                                      plots_dir=plots_dir)
            cf.notes += collector.messages
            if plots_dir.exists():
                cf.plots_dir = str(plots_dir.relative_to(out))
                cf.plots = sorted(str(p.relative_to(out)) for p in plots_dir.iterdir() if p.is_file())
            forensics.append(cf)
    finally:
        log.removeHandler(collector)
        log.setLevel(old_level)

    effective_preset = preset or ("ru-cik" if res.format == "protocol" and mapping is None else None)
    options = {"format": res.format, "preset": effective_preset, "mapping": None if mapping is None else str(mapping),
               "contest": contest, "previous_contest": previous_contest,
               "mc_replicates": mc_replicates, "seed": seed, "min_units": MIN_UNITS}
    doc = build_findings(res, rec, forensics, inputs=inputs, options=options, skipped_contests=skipped)
    write_findings(out / "findings.json", doc)
    print_summary(doc, Console(), out)
    raise typer.Exit(0 if rec.holds else 1)


def _align_previous(prev, path: Path, name: str, wanted: str | None, units, notes: list[str]):
    """The previous election's UnitResults matched to ``units`` (None when no contest or unit matches)."""
    from ._results_match import match_previous

    prev_name = _previous_contest(prev, name, wanted)
    if prev_name is None:
        notes.append(f"no contest of {path.name} matches {name!r} (contests: "
                     f"{', '.join(prev.contest_names()[:6])}…); give --previous-contest; the outlier test was skipped")
        return None, {"file": str(path), "contest": None, "match": None}
    aligned, match = match_previous(units, prev.to_unit_results(prev_name))
    notes.append(match.describe())
    return aligned, {"file": str(path), "contest": prev_name, "match": match.to_json()}
