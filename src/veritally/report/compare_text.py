"""Terminal summary of a comparison with the reported results, in plain words."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..compare import Comparison, ContestComparison

__all__ = ["print_comparison"]

#: Discrepancy rows shown per contest before "… and N more" (the JSON has them all).
MAX_ROWS = 15


def _votes(n: int) -> str:
    return f"{n:,} vote{'s' if n != 1 else ''}"


def _names(names: list[str]) -> str:
    return ", ".join(escape(n) for n in names) if names else "none"


def _sentence_list(names: list[str]) -> str:
    """"Ann", "Ann and Ben", "Ann, Ben and Cy" (escaped for rich)."""
    shown = [escape(n) for n in names]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _outcome(winners: list[str], tied: list[str]) -> str:
    """"Ann wins", "Ann and Ben tied", "Cy wins; Ann and Ben tied for the last seat", "no winner"."""
    parts = []
    if winners:
        parts.append(f"{_sentence_list(winners)} win{'s' if len(winners) == 1 else ''}")
    if tied:
        parts.append(f"{_sentence_list(tied)} tied" + (" for the last seat" if winners else ""))
    return "; ".join(parts) or "no winner"


def _outcome_sentence(c: ContestComparison) -> str:
    if c.counted_name is None:
        return "[bold red]The contest is not in the count at all: every reported vote is a discrepancy.[/bold red]"
    if c.outcome_differs:
        margin = "" if c.smallest_margin is None else f"; the counted margin is {_votes(c.smallest_margin)}"
        return (f"[bold red]The reported outcome ({_outcome(c.reported_winners, c.reported_tied)}) differs from the "
                f"counted one ({_outcome(c.counted_winners, c.counted_tied)}){margin}.[/bold red]")
    if c.smallest_margin is None:
        if c.could_change_outcome:
            return ("[bold red]The discrepancies could change the outcome[/bold red] "
                    "(no counted margin is known for this contest).")
        return "No winner–loser margin applies, so the outcome cannot change."
    margin = f"the counted margin ({_votes(c.smallest_margin)}"
    margin += " between the last winner and the best loser)" if c.kind != "threshold" else " across the threshold)"
    if c.could_change_outcome:
        return f"[bold red]That is at least {margin}: the discrepancies could change the outcome.[/bold red]"
    return f"That is less than {margin}: the discrepancies cannot change who won."


def print_comparison(result: Comparison, console: Console) -> None:
    """A short summary: agreement, or per disagreeing contest the choices, units, votes and the outcome question."""
    n = len(result.contests)
    unit = result.unit_kind
    how = f", per {unit} and in total" if unit else ", contest totals"
    if result.agree:
        console.print(f"[bold green]All {n} contest{'s' if n != 1 else ''} agree[/bold green] with the reported "
                      f"results{how}.")
    else:
        bad = [c for c in result.contests if c.discrepancies]
        risky = [c for c in bad if c.could_change_outcome]
        console.print(f"[bold red]{len(bad)} of {n} contest{'s' if n != 1 else ''} disagree[/bold red] with the "
                      f"reported results{how}: {len(result.discrepancies):,} discrepanc"
                      f"{'ies' if len(result.discrepancies) != 1 else 'y'}"
                      + (f"; the outcome could change in {len(risky)}." if risky else
                         "; none could change an outcome."))
        by_contest: dict[str, list] = {}
        for d in result.discrepancies:
            by_contest.setdefault(d.contest, []).append(d)
        for c in bad:
            _print_contest(c, by_contest.get(c.name, []), unit, console)
        agree = [c.name for c in result.contests if not c.discrepancies]
        if agree:
            console.print(f"\nAgree: {_names(agree)}.")
    for note in result.notes:
        console.print(f"[dim]Note: {escape(note)}[/dim]")


def _print_contest(c: ContestComparison, found: list, unit: str | None, console: Console) -> None:
    plural = f"{unit}s" if c.units != 1 else f"{unit}"
    where = f"in {c.units:,} {plural} and in total" if c.units else "in the contest totals"
    over = f"over the {unit}s" if c.units else "over the choices"
    console.print(f"\n[bold]{escape(c.name)}[/bold]: reported {c.reported_total:,} votes, counted "
                  f"{c.counted_total:,}; compared {where}. {c.discrepancies} discrepanc"
                  f"{'ies' if c.discrepancies != 1 else 'y'}, {_votes(c.total_abs_discrepancy)} off "
                  f"(Σ |reported − counted| {over}).")
    console.print("  " + _outcome_sentence(c))
    if c.note:
        console.print(f"  [dim]{escape(c.note)}[/dim]")
    # unit rows say where; total rows are repeated only when the contest has no units
    rows = [d for d in found if d.unit is not None] if c.units else found
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2))
    if c.units:
        table.add_column(unit or "unit")
    for col in ("choice", "reported", "counted", "difference"):
        table.add_column(col, justify="left" if col == "choice" else "right")
    for d in rows[:MAX_ROWS]:
        cells = [escape(d.choice), f"{d.reported:,}", f"{d.counted:,}", f"{d.difference:+,}"]
        table.add_row(*([escape(d.unit)] if c.units else []), *cells)
    console.print(table)
    if len(rows) > MAX_ROWS:
        console.print(f"  … and {len(rows) - MAX_ROWS:,} more (all of them in the --json output)")
    if c.units:
        totals = [d for d in found if d.unit is None]
        if totals:
            console.print("  Contest totals: " + "; ".join(
                f"{escape(d.choice)} reported {d.reported:,}, counted {d.counted:,} ({d.difference:+,})"
                for d in totals[:MAX_ROWS]) + ("; …" if len(totals) > MAX_ROWS else ""))
        else:
            console.print("  The contest totals agree: the unit discrepancies cancel out.")
