"""Assertions and assorters: a reported outcome reduced to "the mean of these nonnegative numbers exceeds ½".

Stark, P.B. (2020) "Sets of Half-Average Nulls Generate Risk-Limiting Audits: SHANGRLA", Financial Cryptography
(Voting'20), §2–3. An *assorter* A maps every ballot card to [0, u]; the reported outcome is right if every
assertion's mean of A over the cards is > ½. This module gives the assorters of plurality and vote-for-N (every
winner beats every loser), approval, and supermajority (the winner has at least a share f of the valid votes),
the *overstatement assorter* that turns a comparison of a CVR with its paper ballot into a nonnegative number,
margins (from CVRs or from reported tallies) and phantom cards. IRV assertions (RAIRE) will plug in as more
:class:`Assertion` kinds: any assorter with an upper bound fits the same tests.

Cards are columnar: a :class:`ContestCards` holds, for one contest, an (n × k) array of marks per choice, whether
each card's style lists the contest, and whether it is a *phantom* — a card in the manifest with no CVR, or a CVR
the manifest does not cover, created so that every card that could hold the contest is accounted for.

Conservative rules (SHANGRLA's ``Assorter.overstatement``, pbstark/SHANGRLA @9d5db92):

* a phantom CVR assorts to ½ (a non-vote); a phantom paper ballot (never found) assorts to 0 (a vote for the
  loser) — the worst case for the reported outcome;
* with card-style data (``use_style``), a sampled card whose style lists the contest but whose paper shows no
  contest counts as a vote for the loser (it should have had the contest); without, as a non-vote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .contest import ReportedContest

__all__ = [
    "ALL_OTHERS",
    "ContestCards",
    "Assertion",
    "plurality_assertions",
    "approval_assertions",
    "supermajority_assertion",
    "make_assertions",
    "assorter_margin",
    "margins_from_tally",
    "overstatement",
    "overstatement_assorter",
    "overstatement_assorter_margin",
    "overstatement_assorter_mean",
    "phantoms_needed",
    "with_phantoms",
]

#: The "loser" of a supermajority assertion: every other choice together.
ALL_OTHERS = "*all others*"


@dataclass(frozen=True)
class ContestCards:
    """One contest's ballot cards as arrays: ``votes[i, c]`` marks for choice ``choices[c]`` on card i (0/1),
    ``has_contest[i]`` whether card i's style lists the contest, ``phantom[i]`` whether it is a phantom."""

    choices: tuple[str, ...]
    votes: np.ndarray
    has_contest: np.ndarray = field(default=None)  # type: ignore[assignment]
    phantom: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        votes = np.asarray(self.votes)
        if votes.ndim != 2 or votes.shape[1] != len(self.choices):
            raise ConfigError(f"ContestCards: votes must be (cards × {len(self.choices)}), not {votes.shape}")
        n = votes.shape[0]
        has = np.ones(n, bool) if self.has_contest is None else np.asarray(self.has_contest, bool)
        phantom = np.zeros(n, bool) if self.phantom is None else np.asarray(self.phantom, bool)
        if has.shape != (n,) or phantom.shape != (n,):
            raise ConfigError("ContestCards: has_contest and phantom need one entry per card")
        object.__setattr__(self, "choices", tuple(self.choices))
        object.__setattr__(self, "votes", votes)
        object.__setattr__(self, "has_contest", has)
        object.__setattr__(self, "phantom", phantom)

    def __len__(self) -> int:
        return self.votes.shape[0]

    def column(self, choice: str) -> np.ndarray:
        """Marks for one choice (zeros for a choice the cards do not list, e.g. a write-in nobody chose)."""
        if choice in self.choices:
            return self.votes[:, self.choices.index(choice)]
        return np.zeros(len(self), self.votes.dtype)

    def take(self, index: np.ndarray | Sequence[int]) -> ContestCards:
        """The cards at ``index`` (e.g. the sample, in sample order)."""
        index = np.asarray(index, dtype=np.int64)
        return ContestCards(self.choices, self.votes[index], self.has_contest[index], self.phantom[index])


@dataclass(frozen=True)
class Assertion:
    """One assertion of a contest: ``kind`` ``"pairwise"`` (winner beats loser: plurality, vote-for-N,
    approval) or ``"supermajority"`` (winner has ≥ ``share_to_win`` of the valid votes; loser = ALL_OTHERS)."""

    contest: str
    winner: str
    loser: str
    kind: str = "pairwise"
    share_to_win: float | None = None
    candidates: tuple[str, ...] = ()  # supermajority: the choices whose votes are valid

    @property
    def upper_bound(self) -> float:
        """u: the largest value the assorter gives a card (1 for pairwise, 1/(2f) for supermajority)."""
        return 1.0 if self.kind == "pairwise" else 1 / (2 * self.share_to_win)

    @property
    def name(self) -> str:
        return f"{self.winner} v {self.loser}"

    def assort(self, cards: ContestCards) -> np.ndarray:
        """Assorter values of the cards (SHANGRLA §2.1, §2.3):

        * pairwise: (v_w − v_l + 1)/2 — 1 for a vote for w, 0 for l, ½ otherwise;
        * supermajority: v_w/(2f) when the card has exactly one valid vote among the candidates, else ½.
        """
        if self.kind == "pairwise":
            return (cards.column(self.winner).astype(float) - cards.column(self.loser) + 1) / 2
        if self.kind == "supermajority":
            valid = sum(cards.column(c).astype(np.int64) for c in self.candidates)
            one_vote = np.asarray(valid) == 1
            return np.where(one_vote, cards.column(self.winner) / (2 * self.share_to_win), 0.5)
        raise ConfigError(f"assertion kind {self.kind!r} has no assorter")


def plurality_assertions(contest: ReportedContest) -> list[Assertion]:
    """Every winner beats every loser: len(winners) × len(losers) pairwise assertions (vote-for-N included)."""
    return [Assertion(contest.name, w, l) for w, l in contest.pairs]


def approval_assertions(contest: ReportedContest) -> list[Assertion]:
    """Approval voting has the same assertions as plurality; a card may carry marks for several choices."""
    return plurality_assertions(contest)


def supermajority_assertion(contest: ReportedContest, share_to_win: float) -> Assertion:
    """The top choice has at least ``share_to_win`` ∈ (0, 1) of the valid votes (one assertion)."""
    if not 0 < share_to_win < 1:
        raise ConfigError(f"share_to_win must be in (0, 1), not {share_to_win}")
    return Assertion(contest.name, contest.winners[0], ALL_OTHERS, "supermajority", share_to_win,
                     tuple(contest.tally))


def make_assertions(contest: ReportedContest, social_choice: str = "plurality", *,
                    share_to_win: float | None = None) -> list[Assertion]:
    """The assertions of a contest by its social choice function: plurality, approval or supermajority."""
    if social_choice in ("plurality", "approval"):
        return plurality_assertions(contest)
    if social_choice == "supermajority":
        if share_to_win is None:
            raise ConfigError(f"contest {contest.name!r}: a supermajority contest needs share_to_win")
        return [supermajority_assertion(contest, share_to_win)]
    raise ConfigError(f"contest {contest.name!r}: no assertions for social choice {social_choice!r} "
                      "(IRV assertions come from RAIRE)")


def assorter_margin(assertion: Assertion, cards: ContestCards, *, use_style: bool = True) -> float:
    """v = 2·mean(A) − 1 over the cards (with ``use_style``, over the cards whose style lists the contest)."""
    pool = cards.has_contest if use_style else np.ones(len(cards), bool)
    if not pool.any():
        raise ConfigError(f"contest {assertion.contest!r}: no cards to take a margin over")
    return float(2 * np.mean(assertion.assort(cards)[pool]) - 1)


def margins_from_tally(assertion: Assertion, tally: dict[str, int], cards: int) -> float:
    """The assorter margin implied by reported tallies over ``cards`` cards: (v_w − v_l)/cards for pairwise;
    for supermajority 2·mean − 1 with mean = p/(2f) + (1 − q)/2, i.e. p/f − q, where p is the winner's votes and
    q the valid votes, both as shares of the cards (SHANGRLA §2.3 writes it q(p'/f − 1) with p' the winner's
    share of the *valid* votes; SHANGRLA's ``find_margin_from_tally`` puts the share of cards in p', which
    understates the margin, e.g. 0.082 instead of 0.191 for 600/300 of 1,000 cards at f = 0.55)."""
    if cards <= 0:
        raise ConfigError(f"contest {assertion.contest!r}: the number of cards must be positive")
    if assertion.kind == "pairwise":
        return (tally[assertion.winner] - tally.get(assertion.loser, 0)) / cards
    q = sum(tally[c] for c in assertion.candidates) / cards
    p = tally[assertion.winner] / cards
    return p / assertion.share_to_win - q


def overstatement(assertion: Assertion, cvrs: ContestCards, mvrs: ContestCards, *, use_style: bool = True,
                  pool_mean: np.ndarray | None = None) -> np.ndarray:
    """o = A(CVR) − A(MVR) per sampled card, with SHANGRLA's conservative rules (module docstring).

    ``cvrs`` and ``mvrs`` are the same cards in the same order; an MVR marked ``phantom`` is a ballot the
    audit board could not find. ``pool_mean`` (ONEAudit): for cards in a tally pool, the pool's mean assorter
    value replaces the CVR's (NaN for cards with their own CVR).
    """
    if len(cvrs) != len(mvrs):
        raise ConfigError(f"{len(cvrs)} CVRs but {len(mvrs)} audited cards")
    if use_style and not cvrs.has_contest.all():
        raise ConfigError(f"contest {assertion.contest!r}: with card-style data every sampled CVR must list the "
                          f"contest ({int((~cvrs.has_contest).sum())} do not)")
    mvr_value = np.where(mvrs.phantom | (use_style & ~mvrs.has_contest), 0.0, assertion.assort(mvrs))
    cvr_value = np.where(cvrs.phantom, 0.5, assertion.assort(cvrs))
    if pool_mean is not None:
        pool_mean = np.asarray(pool_mean, float)
        cvr_value = np.where(np.isnan(pool_mean), cvr_value, pool_mean)
    return cvr_value - mvr_value


def overstatement_assorter(assertion: Assertion, cvrs: ContestCards, mvrs: ContestCards, margin: float, *,
                           use_style: bool = True, pool_mean: np.ndarray | None = None) -> np.ndarray:
    """B = (1 − o/u)/(2 − v/u) per sampled card (SHANGRLA §3.2): values in [0, 2u/(2u − v)], mean > ½ iff the
    assertion holds; v is the assorter margin of the CVRs. These are the data of a comparison audit's test."""
    u = assertion.upper_bound
    o = overstatement(assertion, cvrs, mvrs, use_style=use_style, pool_mean=pool_mean)
    return (1 - o / u) / (2 - margin / u)


def overstatement_assorter_margin(margin: float, upper_bound: float = 1.0, *, error_rate_1: float = 0.0,
                                  error_rate_2: float = 0.0) -> float:
    """The overstatement assorter's margin for assumed rates of 1- and 2-vote overstatements (SHANGRLA
    ``overstatement_assorter_margin``): (1 − (r2 + r1/2)·u/v)/(2u/v − 1)."""
    return (1 - (error_rate_2 + error_rate_1 / 2) * upper_bound / margin) / (2 * upper_bound / margin - 1)


def overstatement_assorter_mean(margin: float, upper_bound: float = 1.0, *, error_rate_1: float = 0.0,
                                error_rate_2: float = 0.0) -> float:
    """The overstatement assorter's mean for those rates: (1 − r1/2 − r2)/(2 − v/u)."""
    return (1 - error_rate_1 / 2 - error_rate_2) / (2 - margin / upper_bound)


def phantoms_needed(cards_that_may_hold_contest: int, cvrs_with_contest: int) -> int:
    """Phantom cards to add so the audit accounts for every card that may hold the contest: the manifest's (or
    the card-style count's) cards minus the CVRs — never negative; more CVRs than cards is an input error."""
    if cvrs_with_contest > cards_that_may_hold_contest:
        raise ConfigError(f"{cvrs_with_contest} CVRs hold the contest but only {cards_that_may_hold_contest} "
                          "cards may: the manifest and the CVRs disagree")
    return cards_that_may_hold_contest - cvrs_with_contest


def with_phantoms(cards: ContestCards, count: int) -> ContestCards:
    """``cards`` followed by ``count`` phantom cards (no votes, style listing the contest)."""
    if count < 0:
        raise ConfigError("the number of phantom cards cannot be negative")
    k = len(cards.choices)
    return ContestCards(cards.choices, np.vstack([cards.votes, np.zeros((count, k), cards.votes.dtype)]),
                        np.r_[cards.has_contest, np.ones(count, bool)], np.r_[cards.phantom, np.ones(count, bool)])
