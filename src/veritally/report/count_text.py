"""Terminal summary of a count."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..tabulate import ElectionCount

__all__ = ["print_count"]


def print_count(count: ElectionCount, console: Console) -> None:
    console.print(f"[bold]{escape(count.name or 'Election')}[/bold]: {count.cards:,} cards, "
                  f"{len(count.contests)} contests")
    for cc in count.contests:
        c, t = cc.contest, cc.total
        table = Table(title=f"{escape(c.name)} ({c.kind}, {int(t.cards[0]):,} cards)", title_justify="left")
        table.add_column("choice")
        table.add_column("votes", justify="right")
        winners, tied = set(cc.winners), set(cc.tied)
        for i, (choice, v) in enumerate(zip(c.choices, t.tallies[0])):
            mark = " [green]winner[/green]" if i in winners else (" [yellow]tied[/yellow]" if i in tied else "")
            table.add_row(escape(choice.name) + mark, f"{int(v):,}")
        table.add_row("[dim]overvotes[/dim]", f"{int(t.overvotes[0]):,}")
        table.add_row("[dim]undervotes[/dim]", f"{int(t.undervotes[0]):,}")
        table.add_row("[dim]blank cards[/dim]", f"{int(t.blank[0]):,}")
        console.print(table)
        if c.is_ranked and cc.rcv is None:
            console.print("[dim]  ranked contest: first-round tallies shown (first valid ranking of each ballot)[/dim]")
        elif c.is_ranked and cc.rcv.get("unresolved_tie"):
            console.print(f"  [yellow]round-by-round count stopped: {escape(cc.rcv['unresolved_tie'])}[/yellow]")
        elif c.is_ranked:
            last = cc.rcv["rounds"][-1]
            final = ", ".join(f"{escape(n)} {v}" for n, v in sorted(last["tallies"].items(), key=lambda kv: -float(
                kv[1])))
            console.print(f"  round-by-round count: {len(cc.rcv['rounds'])} rounds; final round {final}; "
                          f"[green]winner(s): {escape(', '.join(cc.rcv['winners']) or 'none')}[/green]")
