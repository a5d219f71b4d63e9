"""The ``veritally`` command line: a thin shell around the library.

Every bad input (:class:`~veritally.errors.InputError`), bad option (:class:`~veritally.errors.ConfigError`), model
that breaks its invariants (:class:`~veritally.errors.ModelError`) or file that cannot be read or written
(``OSError``) ends with a one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import ConfigError, InputError, ModelError

app = typer.Typer(
    name="veritally",
    help="Independently verify that votes were counted fairly: re-count CVRs, compare with reported results.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Fmt(StrEnum):
    auto = "auto"
    parquet = "parquet"
    cdf = "cdf"
    dominion = "dominion"
    ess = "ess"
    hart = "hart"
    clearballot = "clearballot"
    csv = "csv"


class By(StrEnum):
    precinct = "precinct"
    batch = "batch"
    tabulator = "tabulator"
    counting_group = "counting_group"


class Plant(StrEnum):
    double_count = "double-count"
    drop_batch = "drop-batch"
    shift_votes = "shift-votes"
    misread = "misread"


FormatOpt = Annotated[Fmt, typer.Option("--format", "-f", help="CVR format; auto detects it.")]
OptionOpt = Annotated[Optional[list[str]], typer.Option(
    "--option", "-o", metavar="KEY=VALUE",
    help="A reader option (repeatable), e.g. -o first_vote_column=2 -o encoding=latin-1; docs/formats/ lists each "
         "format's options. Whole numbers and true/false are read as such.")]
ManifestOpt = Annotated[Optional[Path], typer.Option(
    help="Ballot manifest CSV (Container, Tabulator, Batch Name, Number of Ballots): every batch's card count is "
         "checked against the CVRs; a disagreement is an error (exit 2).")]


def _console():
    from rich.console import Console

    return Console(stderr=False)


def escape(text: str) -> str:
    """``text`` shown literally by rich (names and paths may hold ``[...]``)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


@app.command()
def tabulate(
    cvr_paths: Annotated[list[Path], typer.Argument(help="CVR files or folders (one format).")],
    fmt: FormatOpt = Fmt.auto,
    contest: Annotated[Optional[list[str]], typer.Option(help="Count only this contest (repeatable).")] = None,
    by: Annotated[Optional[By], typer.Option(help="Also count per precinct, batch, tabulator or counting group.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the count as JSON here.")] = None,
    manifest: ManifestOpt = None,
    option: OptionOpt = None,
    rcv_preset: Annotated[Optional[str], typer.Option(
        help="Count ranked contests round by round with a jurisdiction's rules (docs/rcv-presets.md).")] = None,
    rcv_rules: Annotated[Optional[Path], typer.Option(
        help="Count ranked contests round by round with an RCTab rules object (JSON; or a whole RCTab "
             "configuration, whose rules are taken).")] = None,
) -> None:
    """Count every contest in the CVRs (checking them against a ballot manifest when one is given)."""
    from .formats.manifest import read_manifest
    from .pipeline import count_paths
    from .report.count_text import print_count
    from .report.json_out import write_json

    checked_manifest = None if manifest is None else read_manifest(manifest)
    count, checked = count_paths(cvr_paths, fmt.value, contests=contest or None, by=None if by is None else by.value,
                                 manifest=checked_manifest, options=reader_options(option),
                                 rcv_rules=_rcv_rules(rcv_preset, rcv_rules))
    print_count(count, _console())
    if checked is not None:
        _console().print(f"Ballot manifest: {checked.batches:,} batches, {checked.manifest_ballots:,} ballots, "
                         "every batch matches the CVRs.")
    if json_out is not None:
        data = count.to_json()
        if checked is not None:
            data["manifest"] = checked.to_json()
        write_json(json_out, data)


def _rcv_rules(preset: str | None, rules_file: Path | None):
    """The rules for round-by-round counting of ranked contests: a named preset, or an RCTab rules object."""
    if preset is not None and rules_file is not None:
        raise ConfigError("give --rcv-preset or --rcv-rules, not both")
    if preset is not None:
        from .tabulate.rcv.presets import preset as named

        return named(preset).rules
    if rules_file is None:
        return None
    import orjson

    from .errors import FormatError
    from .tabulate.rcv.rules import RcvRules

    try:
        data = orjson.loads(rules_file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc}", file=rules_file, expected="an RCTab rules object") from None
    rules = data.get("rules", data) if isinstance(data, dict) else None
    if not isinstance(rules, dict):
        raise FormatError("not an RCTab rules object", file=rules_file, expected='{"winnerElectionMode": …}')
    return RcvRules.from_rctab(rules)


@app.command()
def convert(
    src: Annotated[list[Path], typer.Argument(help="Input CVR files or folders, then the output path last.")],
    fmt: FormatOpt = Fmt.auto,
    to: Annotated[Optional[str], typer.Option(help="Output format (default: from OUT's suffix: .parquet, .json).")] = None,
    option: OptionOpt = None,
) -> None:
    """Convert CVRs: IN… OUT (Parquet, NIST CDF JSON, or any writable vendor format)."""
    from .formats import read_cvrs, write_cvrs

    if len(src) < 2:
        raise ConfigError("give at least one input and the output: veritally convert IN… OUT")
    *inputs, out = src
    target = to or {".parquet": "parquet", ".json": "cdf"}.get(out.suffix.lower())
    if target is None:
        raise ConfigError(f"cannot tell the output format from {out.name!r}; give --to")
    election = read_cvrs(inputs, fmt.value, **reader_options(option))
    written = write_cvrs(election, out, target)
    _console().print(f"{election.n_cards:,} cards, {len(election.contests)} contests → "
                     + ", ".join(escape(str(p)) for p in written))


@app.command()
def compare(
    count_or_cvrs: Annotated[list[Path], typer.Argument(help="A count JSON (from tabulate --json) or CVR files, "
                                                        "then the reported-results file last.")],
    fmt: FormatOpt = Fmt.auto,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the comparison as JSON here.")] = None,
    manifest: ManifestOpt = None,
    option: OptionOpt = None,
) -> None:
    """Compare a count with the officially reported results; exit 1 when any discrepancy exists."""
    from .compare import compare_paths
    from .report.compare_text import print_comparison
    from .report.json_out import write_json

    if len(count_or_cvrs) < 2:
        raise ConfigError("give the count (or CVRs) and the reported results: veritally compare COUNT REPORTED")
    *counted, reported = count_or_cvrs
    result = compare_paths(counted, reported, fmt.value, manifest, reader_options(option))
    print_comparison(result, _console())
    if json_out is not None:
        write_json(json_out, result.to_json())
    raise typer.Exit(1 if result.discrepancies else 0)


@app.command()
def rcv(
    config: Annotated[Path, typer.Argument(help="An RCTab contest configuration (*_config.json).")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the reports (default: the "
                                                "configuration's outputDirectory).")] = None,
    convert_to_cdf: Annotated[bool, typer.Option("--convert-to-cdf", help="Only write the CVRs as NIST CDF JSON "
                                                 "(cdf_cvr.json), as RCTab's --convert-to-cdf; no count.")] = False,
) -> None:
    """Count a ranked-choice contest from an RCTab configuration, exactly as RCTab counts it, and write RCTab's
    reports (detailed_report.json / .csv, summary_report.csv, per precinct and batch when asked)."""
    from .rcv import run_rcv

    console = _console()
    outcome = run_rcv(config, out, ask=_ask_on_terminal(console) if sys.stdin.isatty() else None,
                      convert_to_cdf=convert_to_cdf)
    for p in outcome.passes:
        label = f"pass {p.number}: " if p.number is not None else ""
        console.print(f"{label}{escape(', '.join(p.winners) or 'no winner')} "
                      f"({p.count.n_rounds} round{'s' if p.count.n_rounds != 1 else ''})")
    for note in outcome.notes:
        console.print(f"[dim]{escape(note)}[/dim]")
    folder = outcome.files[0].parent if outcome.files else out
    console.print(f"{len(outcome.files)} report file(s) in {escape(str(folder))}")


def _ask_on_terminal(console):
    """An operator's tie-break choice, asked on the terminal (RCTab's stopCountingAndAsk)."""
    def ask(tie) -> str:
        console.print(f"Tie in round {tie.round} among candidates with {tie.votes} vote(s) each:")
        for i, name in enumerate(tie.candidates, start=1):
            console.print(f"  {i}. {escape(name)}")
        role = "win" if tie.selecting_winner else "lose"
        while True:
            answer = typer.prompt(f"Number of the candidate who should {role} this tie-break (x to cancel)")
            if answer.strip().lower() == "x":
                raise ConfigError("tabulation cancelled at a tie-break")
            if answer.strip().isdigit() and 1 <= int(answer) <= len(tie.candidates):
                return tie.candidates[int(answer) - 1]
            console.print("Not one of the numbers above; try again.")
    return ask


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write paper/, cvrs/, manifest.csv, reported.csv, "
                                            "truth.json.")],
    seed: Annotated[str, typer.Option(help="Seed (any text); the same seed gives the same election.")] = "1",
    cards: Annotated[int, typer.Option(help="Number of ballot cards.")] = 10_000,
    fmt: Annotated[str, typer.Option("--format", "-f", help="CVR format to write.")] = "dominion",
    plant: Annotated[Optional[Plant], typer.Option(
        help="Plant a miscount: in the reported results (double-count, drop-batch, shift-votes) or in the CVRs, "
             "a tabulator misreading the winner's votes as the runner-up's (misread).")] = None,
    outcome_changing: Annotated[bool, typer.Option(
        "--outcome-changing", help="With --plant shift-votes or misread: make the miscount just large enough to "
                                   "change a contest's winner.")] = False,
) -> None:
    """Generate a synthetic county election (deterministic from the seed): the paper truth and the CVRs."""
    from .synth import write_synthetic

    if outcome_changing and plant not in (Plant.shift_votes, Plant.misread):
        raise ConfigError("--outcome-changing needs --plant shift-votes or --plant misread")
    truth = write_synthetic(out_dir, seed=seed, n_cards=cards, fmt=fmt, plant=None if plant is None else plant.value,
                            outcome_changing=outcome_changing)
    planted = truth.get("planted")
    _console().print(f"wrote {truth['cards']:,} cards ({fmt}) to {escape(str(out_dir))}"
                     + (f"; planted: {escape(planted['description'])}" if planted else ""))


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the demo's files and JSON results.")] = Path(
        "veritally-demo"),
    seed: Annotated[str, typer.Option(help="Seed of the synthetic election.")] = "veritally-demo",
    cards: Annotated[int, typer.Option(help="Number of ballot cards.")] = 50_000,
) -> None:
    """Run the main job on generated data: synthesize, read back, count, compare, and report what is wrong."""
    from .demo import run_demo

    code = run_demo(out_dir, seed=seed, n_cards=cards, console=_console())
    raise typer.Exit(code)


app.add_typer(__import__("veritally.cli_results", fromlist=["results_app"]).results_app)  # veritally results check
app.add_typer(__import__("veritally.cli_audit", fromlist=["audit_app"]).audit_app)  # veritally audit …


def reader_options(items: list[str] | None) -> dict[str, object]:
    """``KEY=VALUE`` strings as reader keyword options (whole numbers as int, true/false as bool)."""
    options: dict[str, object] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {item!r}: give KEY=VALUE")
        text = value.strip()
        options[key.strip()] = (int(text) if text.lstrip("-").isdigit() else
                                {"true": True, "false": False}.get(text.lower(), value))
    return options


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning Veritally's input and configuration errors into exit status 2.

    Usage errors (unknown option, bad choice) are click's own, also exit status 2.
    """
    # Arrow's default allocator keeps freed memory; the system one returns it, which keeps streaming counts small.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        app(args=argv)
    except (InputError, ConfigError, ModelError) as exc:
        print(f"veritally: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # a file that cannot be read or written (a folder given as --json, a full disk…)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"veritally: error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
