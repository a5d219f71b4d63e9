"""The risk an audit has measured so far, per contest and assertion: a pure function of the audit's state.

Conservative readings (docs/audit.md): a card the audit board cannot find (NOT_FOUND) or cannot agree on
(CANT_AGREE) counts as the worst case — a vote for every loser in polling, a two-vote overstatement in comparison
audits; a missing CVR (a phantom card) is a two-vote overstatement; understatements are not credited. With
card-style data (``use_style``), a card whose CVR lists the contest but whose paper does not show it is the worst
case too (SHANGRLA's use_style: the card should have held the contest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..model import Election
from .alpha import alpha_mart
from .assertions import ContestCards, make_assertions, overstatement_assorter
from .bravo import bravo_risk
from .contest import ReportedContest
from .supersimple import comparison_discrepancies, supersimple_risk
from ._state import AuditSettings, Cards, ContestSpec, Reading, contest_votes

__all__ = ["CvrLookup", "ContestStatus", "contest_status", "sample_tally", "audited_votes"]

WORST = ("NOT_FOUND", "CANT_AGREE")


@dataclass
class CvrLookup:
    """Where each card's CVR is: ``jurisdiction_of[card]`` (index into ``elections``, −1 = no CVR: a phantom)
    and ``row_of[card]`` (its row in that election)."""

    elections: list[Election]
    jurisdiction_of: np.ndarray
    row_of: np.ndarray

    def votes(self, contest: str, choices: Sequence[str], cards: np.ndarray):
        """(votes, present, overvote, missing) of ``contest`` on the CVRs of ``cards`` (missing: no CVR)."""
        cards = np.asarray(cards, np.int64)
        n = len(cards)
        votes = np.zeros((n, len(choices)), np.int64)
        present, over = np.zeros(n, bool), np.zeros(n, bool)
        which = self.jurisdiction_of[cards]
        for j, election in enumerate(self.elections):
            sel = np.flatnonzero(which == j)
            if sel.size:
                part = election.take(self.row_of[cards[sel]])
                v, p, o = contest_votes(part, contest, choices)
                votes[sel], present[sel], over[sel] = v, p, o
        return votes, present, over, which < 0

    def tally(self, contest: str, choices: Sequence[str]) -> dict[str, int]:
        totals = np.zeros(len(choices), np.int64)
        for election in self.elections:
            totals += contest_votes(election, contest, choices)[0].sum(axis=0)
        return dict(zip(choices, totals.tolist()))


@dataclass
class ContestStatus:
    name: str
    targeted: bool
    state: str  # confirmed | in_progress | full_hand_count
    p_value: float
    assertions: dict[str, float]
    sample_size: int  # draws so far (a card drawn twice counts twice, as the risk does)
    cards_audited: int
    to_audit: int
    discrepancies: dict[str, int] = field(default_factory=dict)
    reported_winners: list[str] = field(default_factory=list)
    hand_count: dict | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"name": self.name, "targeted": self.targeted, "state": self.state, "p_value": self.p_value,
                "assertions": self.assertions, "sample_size": self.sample_size, "cards_audited": self.cards_audited,
                "ballots_to_audit": self.to_audit, "discrepancies": self.discrepancies,
                "reported_winners": self.reported_winners, "hand_count": self.hand_count, "notes": self.notes}


def audited_votes(readings: Mapping[int, Reading], cards: np.ndarray, choices: Sequence[str]):
    """(votes, not_on_ballot, worst) of one contest from the audit boards' readings of ``cards``: the marks the
    boards saw (an overvote shows as more votes than allowed; :func:`without_overvotes` removes them where the
    method counts an overvote as no vote). A card without a reading is reported as ``worst`` too (callers count
    only read cards)."""
    index = {c: i for i, c in enumerate(choices)}
    n = len(cards)
    votes = np.zeros((n, len(choices)), np.int64)
    absent, worst = np.zeros(n, bool), np.zeros(n, bool)
    for row, card in enumerate(np.asarray(cards).tolist()):
        reading = readings.get(card)
        if reading is None or reading.status in WORST:
            worst[row] = True
        elif reading.status == "NOT_ON_BALLOT":
            absent[row] = True
        elif reading.votes:
            for choice, count in reading.votes.items():
                if choice in index:
                    votes[row, index[choice]] = count
    return votes, absent, worst


def without_overvotes(votes: np.ndarray, votes_allowed: int) -> np.ndarray:
    """The votes with every overvoted card (more votes than allowed) zeroed: an overvote is a vote for no one."""
    return np.where((votes.sum(axis=1) > votes_allowed)[:, None], 0, votes)


def sample_tally(contest: ReportedContest, choices: Sequence[str], votes: np.ndarray, worst: np.ndarray,
                 multiplicity: np.ndarray) -> dict[str, int]:
    """BRAVO's sample tally: each draw's votes (a card drawn twice counts twice); a worst-case card counts as a
    vote for every loser, so every winner–loser statistic sees it against the winner."""
    overvoted = votes.sum(axis=1) > contest.votes_allowed
    counted = votes * ((~overvoted) & (~worst))[:, None] * multiplicity[:, None]
    tally = dict(zip(choices, counted.sum(axis=0).tolist()))
    lost = int(multiplicity[worst].sum())
    for loser in contest.losers:
        tally[loser] = tally.get(loser, 0) + lost
    return tally


def _worst_winner(spec: ContestSpec) -> tuple[str, str] | None:
    pairs = spec.reported.pairs
    return min(pairs, key=lambda p: spec.reported.tally[p[0]] - spec.reported.tally[p[1]]) if pairs else None


def contest_status(settings: AuditSettings, cards: Cards, spec: ContestSpec, draw_cards: np.ndarray,
                   readings: Mapping[int, Reading], cvrs: CvrLookup | None, *, full_hand_count: bool,
                   by_batch: bool = False, use_style: bool = False) -> ContestStatus:
    """The status of one contest after the draws ``draw_cards`` (card index per draw, in ticket order);
    ``use_style`` (card-style comparison audits): NOT_ON_BALLOT on a card whose CVR lists the contest is the
    worst case."""
    alpha = settings.risk_limit
    reported = spec.reported
    choices = spec.choices
    unique, first, multiplicity = np.unique(draw_cards, return_index=True, return_counts=True)
    order = np.argsort(first)  # cards in the order first drawn
    unique, multiplicity = unique[order], multiplicity[order]
    read = np.array([c in readings for c in unique.tolist()], bool)
    status = ContestStatus(spec.name, spec.targeted, "in_progress", 1.0, {}, int(multiplicity[read].sum()),
                           int(read.sum()), int((~read).sum()), reported_winners=list(reported.winners))
    if full_hand_count:
        return _hand_count_status(status, cards, spec, readings, by_batch=by_batch)
    votes, absent, worst = audited_votes(readings, unique[read], choices)
    mult = multiplicity[read]
    if settings.audit_type == "polling":
        if settings.method == "bravo":
            # the workflow knows when every card was read (a hand count): no guessing one from draw totals
            risk = bravo_risk(reported, sample_tally(reported, choices, votes, worst, mult), alpha,
                              full_count_rule=False)
            status.assertions = {f"{w} v {l}" if l else w: p for (w, l), p in risk.p_values.items()}
        else:
            status.assertions = _alpha_polling(reported, choices, draw_cards, readings)
    elif settings.audit_type == "comparison":
        if cvrs is None:
            status.notes.append("no CVRs: a comparison audit needs them")
            return status
        status.assertions, status.discrepancies = _comparison(settings, cards, spec, unique[read], mult, votes,
                                                              absent, worst, draw_cards, readings, cvrs,
                                                              use_style=use_style)
    status.p_value = max(status.assertions.values(), default=1.0)
    if status.assertions and status.p_value <= alpha:
        status.state = "confirmed"
    return status


def _alpha_polling(reported: ReportedContest, choices, draw_cards, readings) -> dict[str, float]:
    """ALPHA (shrink_trunc, with replacement) per winner–loser assertion, the draws in ticket order; a worst-case
    card assorts to 0 (a vote for the loser)."""
    read_draws = np.array([c for c in draw_cards.tolist() if c in readings], np.int64)
    if read_draws.size == 0:
        return {f"{w} v {l}": 1.0 for w, l in reported.pairs}
    votes, _, worst = audited_votes(readings, read_draws, choices)
    cards = ContestCards(tuple(choices), without_overvotes(votes, reported.votes_allowed))
    out = {}
    for assertion in make_assertions(reported):
        x = np.where(worst, 0.0, assertion.assort(cards))
        margin = (reported.tally[assertion.winner] - reported.tally[assertion.loser]) / reported.ballots
        eta = min(1 - 1e-9, max(0.5 + 1e-6, (1 + margin) / 2))
        out[assertion.name] = alpha_mart(x, estim="shrink_trunc", eta=eta).p_value
    return out


def _comparison(settings, cards, spec, audited_cards, mult, votes, absent, worst, draw_cards, readings, cvrs, *,
                use_style: bool = False):
    reported = spec.reported
    choices = spec.choices
    cvr_votes, cvr_present, cvr_over, cvr_missing = cvrs.votes(spec.name, choices, audited_cards)
    if use_style:  # the CVR lists the contest, the paper does not show it: the worst case (a two-vote overstatement)
        worst = worst | (absent & cvr_present)
    audited = np.where(absent[:, None], 0, votes)
    found = comparison_discrepancies(reported, choices, cvr_votes, audited, reported_missing=cvr_missing,
                                     audited_missing=worst, reported_overvote=cvr_over)
    counts = {f"{'o' if k > 0 else 'u'}{abs(k)}": int(mult[found.counted_as == k].sum()) for k in (1, 2, -1, -2)}
    if settings.method == "supersimple":
        p, _ = supersimple_risk(reported, found.weighted_error, mult, settings.risk_limit, full_count_rule=False)
        pair = _worst_winner(spec)
        return {f"{pair[0]} v {pair[1]}" if pair else "contest": p}, counts
    # ALPHA with the overstatement assorter, in draw order
    read_draws = np.array([c for c in draw_cards.tolist() if c in readings], np.int64)
    d_cvr, _, d_over, d_missing = cvrs.votes(spec.name, choices, read_draws)
    d_votes, d_absent, d_worst = audited_votes(readings, read_draws, choices)
    cvr_cards = ContestCards(tuple(choices), d_cvr, phantom=d_missing)  # CVR overvotes are already no votes
    # with use_style an MVR without the contest assorts to 0, a vote for the loser (every sampled card is in the
    # contest's pool: its CVR lists the contest, or it has no CVR)
    mvr_cards = ContestCards(tuple(choices), without_overvotes(np.where(d_absent[:, None], 0, d_votes),
                                                               reported.votes_allowed), phantom=d_worst,
                             has_contest=~d_absent if use_style else None)
    out = {}
    for assertion in make_assertions(reported):
        margin = (reported.tally[assertion.winner] - reported.tally[assertion.loser]) / reported.ballots
        if margin <= 0:
            out[assertion.name] = 1.0
            continue
        x = overstatement_assorter(assertion, cvr_cards, mvr_cards, margin, use_style=use_style)
        out[assertion.name] = alpha_mart(x, u=2 / (2 - margin), estim="optimal_comparison").p_value
    return out, counts


def _hand_count_status(status: ContestStatus, cards: Cards, spec: ContestSpec, readings, *,
                       by_batch: bool = False) -> ContestStatus:
    """A full hand count: the outcome is what the audit boards count; complete once every card (or, in a batch
    audit, every batch's tally) is read."""
    status.state = "full_hand_count"
    units = len(cards.batch) if by_batch else cards.total
    all_cards = np.arange(units)
    read = np.fromiter((c in readings for c in range(units)), bool, count=units)
    votes, _, _ = audited_votes(readings, all_cards[read], spec.choices)
    # a card with more votes than allowed is an overvote: no vote (a batch tally is a sum: no such rule)
    over = votes.sum(axis=1) > spec.reported.votes_allowed if not by_batch else np.zeros(len(votes), bool)
    tally = dict(zip(spec.choices, votes[~over].sum(axis=0).tolist()))
    counted = ReportedContest(spec.name, tally, cards.total, num_winners=spec.reported.num_winners,
                              votes_allowed=spec.reported.votes_allowed)
    complete = bool(read.all())
    status.cards_audited, status.to_audit = int(read.sum()), int((~read).sum())
    status.p_value = 0.0 if complete else 1.0
    status.assertions = {"full hand count": status.p_value}
    status.hand_count = {"complete": complete, "tally": tally, "winners": list(counted.winners) if complete else None,
                         "reported_outcome_correct": (set(counted.winners) == set(spec.reported.winners))
                         if complete else None}
    return status
