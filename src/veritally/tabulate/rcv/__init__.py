"""Round-by-round ranked-choice counting with RCTab's semantics (IRV, multi-seat STV, bottoms-up, multi-pass IRV).

* :func:`count_rcv` (:mod:`.engine`) counts grouped ballots (:class:`Ballots`) with :class:`RcvRules`;
* :func:`contest_ballots` groups a ranked contest of the election model, :func:`count_contest` counts it with
  candidates named as its choices (undeclared write-ins merged into RCTab's "Undeclared Write-ins");
* :func:`count_json` is the round-by-round summary that ``veritally tabulate --rcv-preset/--rcv-rules`` adds to a
  ranked contest's count JSON (docs/tabulate.md); ``veritally rcv`` writes RCTab's own reports instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ...model import UWI_NAME, Contest, ContestMarks
from .ballots import group_ballots, merge_ballots
from .engine import Ballots, Count, Status, count_rcv
from .rules import RcvRules, TiebreakMode, WinnerMode

__all__ = ["RcvRules", "WinnerMode", "TiebreakMode", "Ballots", "Count", "count_rcv", "contest_candidates",
           "contest_ballots", "count_contest", "count_json", "merge_ballots"]


def contest_candidates(contest: Contest) -> tuple[list[str], list[int]]:
    """The candidate names of a ranked contest (choices sharing a name are one candidate; every undeclared
    write-in choice is ``UWI_NAME``) and each choice's candidate index."""
    names: list[str] = []
    of: list[int] = []
    for choice in contest.choices:
        name = UWI_NAME if choice.undeclared else choice.name
        if name not in names:
            names.append(name)
        of.append(names.index(name))
    return names, of


def contest_ballots(contest: Contest, marks: ContestMarks) -> Ballots:
    """The contest's cards as grouped ballots (no slices)."""
    return group_ballots(contest, marks, contest_candidates(contest)[1])


def count_contest(contest: Contest, ballots: Ballots, rules: RcvRules, excluded: Sequence[str] = ()) -> Count:
    """Count a ranked contest of the model with ``rules``. Multi-pass IRV runs its single-seat passes, each
    excluding the earlier passes' winners; the returned count is the last pass's, its ``winners`` all passes'."""
    names, _ = contest_candidates(contest)
    if not rules.sequential:
        return count_rcv(ballots, names, rules, excluded=excluded)
    won: list[int] = []
    count = None
    for _ in range(rules.winners):
        count = count_rcv(ballots, names, replace(rules, winners=1), excluded=[*excluded, *(names[w] for w in won)])
        won += count.winners
    assert count is not None
    count.winners = won
    return count


def count_json(count: Count, rules: RcvRules) -> dict:
    """Round by round: tallies, inactive ballots by category, threshold, who was elected or eliminated; vote figures
    as strings (exact decimals, as RCTab writes them)."""
    names = count.candidates
    rounds = []
    for t in count.rounds:
        decided = count.decisions.get(t.round, [])
        rounds.append({
            "round": t.round,
            "tallies": {names[c]: str(v) for c, v in t.tallies.items()},
            "inactive": {s.name.lower(): str(t.statuses[s]) for s in Status if s is not Status.ACTIVE},
            "threshold": str(t.threshold),
            "elected": [names[d.candidate] for d in decided if d.elected],
            "eliminated": [names[d.candidate] for d in decided if not d.elected],
            "tiebreak": [names[d.candidate] for d in decided if d.by_tiebreak],
        })
    return {"rules": rules.winner_mode.value, "seats": rules.winners, "rounds": rounds,
            "winners": [names[w] for w in count.winners], "tiebreaks": list(count.tiebreak_notes)}
