"""Tie-breaks, as RCTab's ``Tiebreak`` class breaks them (v2.0.1).

Tied candidates are first sorted by ``String.compareTo``. ``random``: index ⌊nextDouble() × n⌋ of one
``java.util.Random(randomSeed)`` shared by the whole count. ``useCandidateOrder`` / ``generatePermutation``: the
earliest in the (config, or shuffled) order wins, the latest loses. ``previousRoundCounts…``: going back round by
round, the candidates with the most (winner) or fewest (loser) votes stay in contention until one is left, else the
fallback (random, or asking). The asking modes call ``ask``; with none they stop with a ConfigError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from ...errors import ConfigError
from .javautil import JavaRandom, hash_set_order, java_string_key
from .rules import TiebreakMode

__all__ = ["Tie", "Asker", "TieNeedsOperator", "break_tie"]


class TieNeedsOperator(ConfigError):
    """A tie that the rules leave to an operator (``stopCountingAndAsk``…) and no one could be asked."""

#: ``ask(tie) -> chosen name``: an operator's choice for the interactive modes.
Asker = Callable[["Tie"], str]


@dataclass(frozen=True)
class Tie:
    """A tie to break: who is tied, for what, in which round, at how many votes."""

    candidates: tuple[str, ...]  #: sorted as RCTab sorts them
    selecting_winner: bool
    round: int
    votes: Decimal


def _tally_groups(tally: Mapping[str, Decimal], names: Sequence[str]) -> dict[Decimal, list[str]]:
    """RCTab's ``buildTallyToCandidates``: tally → candidates (in the order given), keys compared numerically."""
    groups: dict[Decimal, list[str]] = {}
    for name in names:
        groups.setdefault(tally[name], []).append(name)  # equal Decimals of other scales hash alike
    return groups


def break_tie(tied: Sequence[str], *, selecting_winner: bool, mode: TiebreakMode, round_number: int,
              votes: Decimal, previous_tallies: Sequence[Mapping[str, Decimal]], permutation: Sequence[str],
              random: JavaRandom | None, ask: Asker | None = None) -> tuple[str, str]:
    """(the chosen candidate, RCTab's explanation). ``previous_tallies[r - 1]`` is round r's tally."""
    names = sorted(tied, key=java_string_key)
    if mode is TiebreakMode.ASK:
        return _ask(Tie(tuple(names), selecting_winner, round_number, votes), ask), \
            "The selected candidate was supplied by the operator."
    if mode is TiebreakMode.RANDOM:
        return _random(names, random), "The candidate was randomly selected."
    if mode in (TiebreakMode.CANDIDATE_ORDER, TiebreakMode.PERMUTATION):
        order = list(permutation) if selecting_winner else list(reversed(permutation))
        chosen = next(c for c in order if c in set(names))
        return chosen, (f"The selected candidate appeared {'earliest' if selecting_winner else 'latest'} in the "
                        "tie-breaking permutation list.")
    contention = names
    for r in range(round_number - 1, 0, -1):
        groups = _tally_groups(previous_tallies[r - 1], hash_set_order(contention))
        key = max(groups) if selecting_winner else min(groups)
        contention = groups[key]
        if len(contention) == 1:
            return contention[0], (f"{contention[0]} had the {'most' if selecting_winner else 'fewest'} votes "
                                   f"({key}) in round {r}.")
    if mode is TiebreakMode.PREVIOUS_THEN_ASK:
        chosen = _ask(Tie(tuple(contention), selecting_winner, round_number, votes), ask)
        return chosen, "Comparing previous round counts still resulted in a tie; the operator chose."
    return _random(contention, random), "Comparing previous round counts still resulted in a tie; random."


def _random(names: Sequence[str], random: JavaRandom | None) -> str:
    if random is None:
        raise ConfigError("a random tie-break needs randomSeed")
    return names[int(random.next_double() * len(names))]


def _ask(tie: Tie, ask: Asker | None) -> str:
    if ask is None:
        raise TieNeedsOperator(f"round {tie.round}: a tie among {', '.join(tie.candidates)} ({tie.votes} votes each) must "
                          f"be broken by an operator (tiebreakMode asks), and no one can be asked here; run on a "
                          "terminal or choose a non-interactive tiebreakMode")
    chosen = ask(tie)
    if chosen not in tie.candidates:
        raise ConfigError(f"the tie-break choice {chosen!r} is not one of the tied candidates")
    return chosen
