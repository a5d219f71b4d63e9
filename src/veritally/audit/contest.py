"""A contest's reported outcome as the audit mathematics sees it: tallies, winners, losers, margins.

The audit functions take this small frozen object, not the election model, so that they can be checked against
the reference implementations with the reference's own inputs. ``ReportedContest.from_tally`` follows Arlo's
``sampler_contest.Contest`` exactly (votingworks/arlo @8d86156): choices are ranked by reported votes, ties
kept in the order given (Python's stable sort), the first ``num_winners`` win; a contest subject to a
majority-or-runoff rule whose leader has no majority is audited as a two-winner contest (the runoff pair).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from types import MappingProxyType

from ..errors import ConfigError

__all__ = ["ReportedContest", "ContestRisk", "risk_limit_fraction"]


def risk_limit_fraction(risk_limit: float) -> float:
    """The risk limit as a fraction in [0, 1): accepts 0.05 or an integer percentage such as 5 (as Arlo stores it)."""
    alpha = float(risk_limit)
    if alpha >= 1:
        alpha /= 100
    if not 0 <= alpha < 1:
        raise ConfigError(f"risk limit must be a fraction in [0, 1) or a percentage in [0, 100), not {risk_limit!r}")
    return alpha


@dataclass(frozen=True)
class ReportedContest:
    """Reported tallies of one contest and the outcome they imply.

    ``tally`` maps every choice to its reported votes; ``ballots`` is the number of ballot cards cast in the
    contest (the denominator of diluted margins and of p_w); ``pending_ballots`` are cards not yet tallied
    (batch audits subtract them from every margin).
    """

    name: str
    tally: Mapping[str, int]
    ballots: int
    num_winners: int = 1
    votes_allowed: int = 1
    pending_ballots: int = 0
    subject_to_runoff: bool = False
    winners: tuple[str, ...] = field(init=False)
    losers: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.ballots < 0 or any(v < 0 for v in self.tally.values()):
            raise ConfigError(f"contest {self.name!r}: negative vote or ballot counts")
        if self.num_winners < 1:
            raise ConfigError(f"contest {self.name!r}: num_winners must be at least 1")
        object.__setattr__(self, "tally", MappingProxyType(dict(self.tally)))
        seats = self.num_winners
        valid = sum(self.tally.values())
        if self.subject_to_runoff and self.tally:
            top = max(self.tally.values())
            if top <= valid - top:  # no majority: the top two go to a runoff
                seats = 2
        ranked = sorted(self.tally.items(), key=lambda item: item[1], reverse=True)
        object.__setattr__(self, "winners", tuple(name for name, _ in ranked[:seats]))
        object.__setattr__(self, "losers", tuple(name for name, _ in ranked[seats:]))

    @classmethod
    def from_tally(cls, name: str, tally: Mapping[str, int], ballots: int, **options) -> ReportedContest:
        """Build from a tally mapping; ``options`` as the dataclass fields (num_winners, votes_allowed, …)."""
        return cls(name=name, tally=tally, ballots=ballots, **options)

    @property
    def valid_votes(self) -> int:
        """Σ reported votes over all choices."""
        return sum(self.tally.values())

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """Every (winner, loser) pair, winners in rank order, then losers in rank order (Arlo's order)."""
        return list(product(self.winners, self.losers))

    def share_of_ballots(self, choice: str) -> float:
        """p_c = votes for c / ballots (BRAVO's p_w and p_l)."""
        if self.ballots <= 0:
            raise ConfigError(f"contest {self.name!r} has no ballots")
        return self.tally[choice] / self.ballots

    def share_of_valid(self, choice: str) -> float:
        """s_c = votes for c / valid votes."""
        if self.valid_votes <= 0:
            raise ConfigError(f"contest {self.name!r} has no valid votes: there is no reported outcome to audit")
        return self.tally[choice] / self.valid_votes

    def pairwise_share(self, winner: str, loser: str) -> float:
        """s_wl = s_w/(s_w + s_l), computed from the shares of valid votes as Arlo does."""
        s_w, s_l = self.share_of_valid(winner), self.share_of_valid(loser)
        return s_w / (s_w + s_l)

    @property
    def min_margin(self) -> int:
        """Smallest reported margin in votes over every winner–loser pair (``ballots`` when there is no loser)."""
        return min((self.tally[w] - self.tally[l] for w, l in self.pairs), default=self.ballots)

    @property
    def diluted_margin(self) -> float:
        """Smallest margin over the ballots cast: min(v_w − v_l)/ballots; −1 when there is no loser (Arlo)."""
        if self.ballots <= 0:
            raise ConfigError(f"contest {self.name!r} has no ballots")
        return self.min_margin / self.ballots if self.losers else -1.0


@dataclass(frozen=True)
class ContestRisk:
    """A contest's measured risk: a p-value per assertion (winner–loser pair), the largest, and the decision."""

    p_values: Mapping[tuple[str, str], float]
    p_value: float
    confirmed: bool
