"""Round-by-round ranked-choice count with RCTab's exact semantics (``Tabulator.java`` of RCTab v2.0.1).

Ballots with the same rankings (and the same precinct and batch, when the count is sliced by them) are one
:class:`_Group` with a weight: every ballot of a group is in the same state at every moment (RCTab re-walks a
ballot's rankings from the top whenever its candidate stops continuing, so where it goes depends only on its
rankings and on who is still continuing), so a round costs O(groups), not O(ballots). Arithmetic is
:class:`decimal.Decimal` with RCTab's ``BigDecimal`` rules: sums and products exact (and with the same scale, so
``"3"`` stays ``"3"`` and ``"0.6559"`` keeps four places), ``divide`` and ``multiply`` truncated to
``decimalPlacesForVoteArithmetic``. Where RCTab lists candidates in a ``HashMap``'s order (winners of one round,
batch eliminations, cutoff eliminations), :func:`~.javautil.hash_order` gives the same order.

Returned: a :class:`Count` holding, per round, the tallies, the inactive ballots by category, the threshold, the
decisions (elected, eliminated, whether by tie-break) and the transfers; the same per slice (precinct, batch).
"""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from enum import IntEnum

from ...errors import ConfigError
from ...model import UWI_NAME
from ..ranked import OvervoteRule
from .javautil import JavaRandom, hash_order, java_string_key, shuffle
from .rules import RcvRules, TiebreakMode, WinnerMode
from .tiebreak import Asker, break_tie

__all__ = ["Status", "Ballots", "RoundTally", "Decision", "Count", "count_rcv"]

ZERO, ONE = Decimal(0), Decimal(1)
UNCOUNTED, EXHAUSTED, RESIDUAL = "uncounted", "exhausted", "residual surplus"
#: Sums and products are exact, as BigDecimal's are (an inexact one would raise); truncations go through _ROUNDING.
_CONTEXT = decimal.Context(prec=400, traps=[decimal.Inexact, decimal.Overflow, decimal.InvalidOperation])
_ROUNDING = decimal.Context(prec=400, traps=[decimal.Overflow, decimal.InvalidOperation])


class Status(IntEnum):
    """RCTab's ``StatusForRound``: a ballot's state; all but ACTIVE and FINAL_SURPLUS are inactive."""

    ACTIVE = 0
    NO_RANKINGS = 1  #: didNotRankAnyCandidates
    EXHAUSTED = 2  #: exhaustedChoices
    OVERVOTE = 3  #: overvotes
    SKIPPED = 4  #: skippedRankings
    REPEATED = 5  #: repeatedRankings
    FINAL_SURPLUS = 6  #: finalRoundSurplus

    @property
    def inactive(self) -> bool:
        return self not in (Status.ACTIVE, Status.FINAL_SURPLUS)


STATUS_KEYS = {Status.ACTIVE: "active", Status.NO_RANKINGS: "didNotRankAnyCandidates",
               Status.EXHAUSTED: "exhaustedChoices", Status.OVERVOTE: "overvotes", Status.SKIPPED: "skippedRankings",
               Status.REPEATED: "repeatedRankings", Status.FINAL_SURPLUS: "finalRoundSurplus"}


# the ballots ---------------------------------------------------------------------------------------------------------
@dataclass
class Ballots:
    """The ballots of one contest, grouped: per group its rankings, its weight (number of ballots) and its slices.

    ``rankings[g]`` lists the group's ranked positions in order, each ``(rank, choices)`` with ``choices`` the raw
    choice indices marked at that rank (``-1`` = the source's explicit overvote label); ranks without a mark are
    left out (skipped). ``candidate_of[choice]`` maps a choice index to its candidate (names may have several
    aliases). ``slices[kind][g]`` is the group's precinct or batch label (None: none).
    """

    rankings: list[tuple[tuple[int, tuple[int, ...]], ...]]
    weights: list[int]
    candidate_of: Sequence[int]
    slices: dict[str, list[str | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.weights)


@dataclass
class _Group:
    rankings: tuple[tuple[int, tuple[int, ...]], ...]
    weight: Decimal
    slices: tuple[str | None, ...]
    recipient: int = -1  #: candidate counting this group's ballots now (-1: none)
    status: Status = Status.ACTIVE
    kept: dict[int, Decimal] = field(default_factory=dict)  #: winner → the part of each ballot the winner keeps

    def value(self) -> Decimal:
        """The part of each ballot still to count: 1 minus what winners kept (RCTab's fractional transfer value)."""
        if not self.kept:
            return ONE
        value = ONE
        for v in self.kept.values():
            value = value - v
        return value


# the count -----------------------------------------------------------------------------------------------------------
@dataclass
class RoundTally:
    """One round's figures (RCTab's ``RoundTally``), for the whole contest or one slice."""

    round: int
    tallies: dict[int, Decimal]  #: candidate → votes, in RCTab's HashMap order
    statuses: dict[Status, Decimal] = field(default_factory=lambda: {s: ZERO for s in Status})
    threshold: Decimal | None = None
    locked_in: Decimal = ZERO  #: surplus adjustments to winners' tallies (RCTab's lockedInBallotSum)

    @property
    def active(self) -> Decimal:
        return sum((v for s, v in self.statuses.items() if not s.inactive), ZERO)

    @property
    def inactive(self) -> Decimal:
        return sum((v for s, v in self.statuses.items() if s.inactive), ZERO)


@dataclass(frozen=True)
class Decision:
    candidate: int
    elected: bool  #: else eliminated
    by_tiebreak: bool


@dataclass
class Count:
    """The whole count: per round (index r − 1) tallies, decisions and transfers; the same per slice."""

    candidates: list[str]
    rounds: list[RoundTally]
    decisions: dict[int, list[Decision]]  #: round → decisions in RCTab's order
    transfers: dict[int, dict[str, dict[str, Decimal]]]  #: round → source → target → votes (RCTab's TallyTransfers)
    residual: dict[int, Decimal]
    winners: list[int]  #: in the order they were elected
    slices: dict[str, dict[str, list[RoundTally]]] = field(default_factory=dict)
    slice_transfers: dict[str, dict[str, dict[int, dict[str, dict[str, Decimal]]]]] = field(default_factory=dict)
    tiebreak_notes: list[str] = field(default_factory=list)

    @property
    def n_rounds(self) -> int:
        return len(self.rounds)


class _Tabulation:
    """One run of RCTab's ``Tabulator.tabulate`` over grouped ballots."""

    def __init__(self, ballots: Ballots, candidates: Sequence[str], rules: RcvRules, excluded: set[int],
                 ask: Asker | None) -> None:
        self.rules = rules
        self.names = list(candidates)
        self.candidate_of = list(ballots.candidate_of)
        self.excluded = excluded
        self.ask = ask
        self.uwi = self.names.index(UWI_NAME) if UWI_NAME in self.names else -1
        self.slice_kinds = list(ballots.slices)
        self.groups = [_Group(r, Decimal(w), tuple(ballots.slices[k][g] for k in self.slice_kinds))
                       for g, (r, w) in enumerate(zip(ballots.rankings, ballots.weights))]
        self.set_order = [self.names.index(n) for n in hash_order(self.names)]  # RCTab's candidateNames HashSet
        self.elected_in: dict[int, int] = {}  # winner → round, in election order
        self.eliminated_in: dict[int, int] = {}
        self.rounds: list[RoundTally] = []
        self.decisions: dict[int, list[Decision]] = {}
        self.transfers: dict[int, dict[str, dict[str, Decimal]]] = {}
        self.residual: dict[int, Decimal] = {}
        self.slice_rounds: dict[str, dict[str, list[RoundTally]]] = {k: {} for k in self.slice_kinds}
        self.slice_transfers: dict[str, dict[str, dict[int, dict[str, dict[str, Decimal]]]]] = {
            k: {} for k in self.slice_kinds}
        for k, kind in enumerate(self.slice_kinds):
            for label in dict.fromkeys(g.slices[k] for g in self.groups):
                if label is not None:
                    self.slice_rounds[kind][label] = []
                    self.slice_transfers[kind][label] = {}
        self.notes: list[str] = []
        self.random: JavaRandom | None = None
        self.permutation = [n for n in self.names if n != UWI_NAME]  # config order (RCTab's candidatePermutation)
        if rules.tiebreak.needs_seed:
            self.random = JavaRandom(int(rules.random_seed))  # type: ignore[arg-type]
            if rules.tiebreak is TiebreakMode.PERMUTATION:
                self.permutation.sort(key=java_string_key)
                shuffle(self.permutation, self.random)
        self.n_candidates = len(self.names) - len(excluded)  # RCTab's getNumCandidates (the UWI label included)
        self.n_declared = len(self.names) - (1 if self.uwi >= 0 else 0)

    # arithmetic (ContestConfig.divide / multiply) -------------------------------------------------------------------
    def divide(self, a: Decimal, b: Decimal) -> Decimal:
        return _divide(a, b, self.rules.decimals, ROUND_DOWN)

    def multiply(self, a: Decimal, b: Decimal) -> Decimal:
        return _CONTEXT.multiply(a, b).quantize(Decimal(1).scaleb(-self.rules.decimals), rounding=ROUND_DOWN,
                                                context=_ROUNDING)

    # candidate status -------------------------------------------------------------------------------------------
    def continuing(self, c: int) -> bool:
        """RCTab's ``isCandidateContinuing``: neither excluded, eliminated nor elected (unless elected and
        continuing until two remain)."""
        if c < 0 or c in self.excluded or c in self.eliminated_in:
            return False
        return c not in self.elected_in or self.rules.continue_until_two

    # rounds -----------------------------------------------------------------------------------------------------
    def run(self) -> Count:
        r = 0
        while self.keep_going(r):
            r += 1
            tally = self.count_round(r)
            self.rounds.append(tally)
            self.residual[r] = ZERO if r == 1 else self.residual[r - 1]
            if self.recompute_threshold(r):
                self.set_threshold(r, self.threshold_of(tally))
            else:
                self.set_threshold(r, self.rounds[r - 2].threshold)
            groups = self.tally_groups(tally, list(tally.tallies))
            winners = self.identify_winners(tally, groups, r)
            if winners:
                for d in winners:
                    self.elected_in[d.candidate] = r
                self.decisions.setdefault(r, []).extend(winners)
                if self.rules.uses_surpluses:
                    for d in winners:
                        self.transfer_surplus(d.candidate, tally)
            elif (len(self.elected_in) < self.rules.winners
                  or (self.rules.continue_until_two and len(self.eliminated_in) < self.n_candidates - 2)
                  or self.rules.winner_mode is WinnerMode.BOTTOMS_UP_PERCENTAGE):
                eliminated = (self.drop_undeclared(tally, r) or self.cutoff(tally, r) or self.batch(groups, r)
                              or self.regular(groups, r))
                if not eliminated:
                    raise ConfigError(f"round {r}: no candidate could be eliminated")
                for d in eliminated:
                    self.eliminated_in[d.candidate] = r
                self.decisions.setdefault(r, []).extend(eliminated)
            if self.rules.winners > 1:
                self.update_winner_tallies(r)
        return Count(self.names, self.rounds, self.decisions, self.transfers, self.residual, list(self.elected_in),
                     self.slice_rounds, self.slice_transfers, self.notes)

    def keep_going(self, r: int) -> bool:
        """RCTab's ``shouldContinueTabulating``."""
        rules = self.rules
        if r >= (rules.stop_after_round or 1 << 62):
            return False
        if len(self.elected_in) == self.n_declared and rules.winners > self.n_candidates:
            return False  # more seats than candidates: everyone is elected
        if rules.continue_until_two:
            return (len(self.eliminated_in) + len(self.elected_in) + 1 < self.n_candidates
                    or r in self.eliminated_in.values())
        if rules.winner_mode is WinnerMode.BOTTOMS_UP_PERCENTAGE:
            return not self.elected_in
        return len(self.elected_in) < rules.winners or (rules.uses_surpluses and r in self.elected_in.values())

    def recompute_threshold(self, r: int) -> bool:
        """RCTab's ``shouldRecomputeThreshold``."""
        if self.rules.winners > 1:
            return r == 1
        if r == 1:
            return True
        if self.rules.first_round_determines_threshold:
            return False
        if self.rules.continue_until_two:
            return not self.elected_in
        return True

    def threshold_of(self, tally: RoundTally) -> Decimal:
        """RCTab's ``calculateAndSetWinningThreshold``."""
        rules, votes = self.rules, tally.active
        if rules.winner_mode is WinnerMode.BOTTOMS_UP_PERCENTAGE:
            return _CONTEXT.multiply(votes, rules.bottoms_up_percentage)
        divisor = Decimal(rules.winners if rules.hare_quota else rules.winners + 1)
        places = rules.decimals if rules.non_integer_threshold else 0
        if rules.hare_quota:
            return _divide(votes, divisor, places, ROUND_UP)
        return _CONTEXT.add(_divide(votes, divisor, places, ROUND_DOWN), Decimal(1).scaleb(-places))

    def set_threshold(self, r: int, threshold: Decimal | None) -> None:
        self.rounds[r - 1].threshold = threshold
        for by_label in self.slice_rounds.values():
            for rounds in by_label.values():
                rounds[r - 1].threshold = threshold

    def new_tally(self, r: int) -> RoundTally:
        """RCTab's ``getNewTally``: every continuing candidate at 0, in the HashMap order of their names."""
        continuing = [self.names[c] for c in self.set_order if self.continuing(c)]
        return RoundTally(r, {self.names.index(n): ZERO for n in hash_order(continuing)})

    @staticmethod
    def tally_groups(tally: RoundTally, order: Sequence[int]) -> dict[Decimal, list[int]]:
        """RCTab's ``buildTallyToCandidates``, ascending by votes (a TreeMap of BigDecimals)."""
        groups: dict[Decimal, list[int]] = {}
        for c in order:
            groups.setdefault(tally.tallies[c], []).append(c)
        return dict(sorted(groups.items()))

    # one round's tallies ----------------------------------------------------------------------------------------
    def count_round(self, r: int) -> RoundTally:
        """RCTab's ``computeTalliesForRound``: every ballot stays, moves or becomes inactive."""
        tally = self.new_tally(r)
        slice_tallies = [{label: self.new_tally(r) for label in self.slice_rounds[kind]} for kind in self.slice_kinds]
        final_surplus = self.rules.uses_surpluses and len(self.elected_in) == self.rules.winners
        walks: dict[tuple, tuple[int, Status]] = {}
        for g in self.groups:
            value = g.value()
            amount = g.weight * value
            sliced = [slice_tallies[k][label] for k, label in enumerate(g.slices) if label is not None]
            if g.status is not Status.ACTIVE:
                for t in (tally, *sliced):
                    t.statuses[g.status] += amount
                continue
            if g.recipient >= 0 and self.continuing(g.recipient):
                for t in (tally, *sliced):
                    t.tallies[g.recipient] += amount
                    t.statuses[Status.ACTIVE] += amount
                continue
            where = walks.get(g.rankings)
            if where is None:
                where = walks[g.rankings] = self.walk(g.rankings, final_surplus)
            target, status = where
            if value > 0:
                self.add_transfer(self.transfers, r, g.recipient, target, amount)
                for k, label in enumerate(g.slices):
                    if label is not None:
                        self.add_transfer(self.slice_transfers[self.slice_kinds[k]][label], r, g.recipient, target,
                                          amount)
            g.recipient = target
            if target < 0:
                g.status = status
            for t in (tally, *sliced):
                if status is Status.ACTIVE:
                    t.tallies[target] += amount
                t.statuses[status] += amount
        for k, kind in enumerate(self.slice_kinds):
            for label, t in slice_tallies[k].items():
                self.slice_rounds[kind][label].append(t)
        return tally

    def add_transfer(self, book: dict, r: int, source: int, target: int, amount: Decimal) -> None:
        src = self.names[source] if source >= 0 else UNCOUNTED
        dst = self.names[target] if target >= 0 else EXHAUSTED
        row = book.setdefault(r, {}).setdefault(src, {})
        row[dst] = row.get(dst, ZERO) + amount

    def walk(self, rankings: tuple[tuple[int, tuple[int, ...]], ...], final_surplus: bool) -> tuple[int, Status]:
        """Where a ballot goes from its top ranking (the loop of ``computeTalliesForRound``): a continuing
        candidate, or the reason it becomes inactive."""
        if not rankings:
            return -1, Status.NO_RANKINGS
        rules = self.rules
        last_rank = rankings[-1][0]
        last_seen = 0
        seen: set[int] = set()
        for rank, choices in rankings:
            if final_surplus:
                return -1, Status.FINAL_SURPLUS
            if rules.max_skipped is not None and rank - last_seen > rules.max_skipped + 1:
                return -1, Status.SKIPPED
            last_seen = rank
            if rules.exhaust_on_duplicate:
                for c in choices:
                    if c in seen:
                        return -1, Status.REPEATED
                    seen.add(c)
            labelled = -1 in choices
            if labelled or len(choices) > 1:
                if rules.overvote_rule is OvervoteRule.EXHAUST_IMMEDIATELY:
                    return -1, Status.OVERVOTE
                skip = rules.overvote_rule is OvervoteRule.ALWAYS_SKIP_TO_NEXT_RANK or labelled
                if not skip and sum(self.continuing(self.candidate_of[c]) for c in choices) > 1:
                    return -1, Status.OVERVOTE
                if skip:
                    if rank == last_rank:
                        return -1, Status.EXHAUSTED
                    continue
            for c in choices:
                candidate = self.candidate_of[c]
                if self.continuing(candidate):
                    return candidate, Status.ACTIVE
            if rank == last_rank:
                return -1, Status.EXHAUSTED
        return -1, Status.EXHAUSTED

    # decisions --------------------------------------------------------------------------------------------------
    def identify_winners(self, tally: RoundTally, groups: dict[Decimal, list[int]], r: int) -> list[Decision]:
        """RCTab's ``identifyWinners``."""
        rules = self.rules
        if self.uwi in tally.tallies and tally.tallies[self.uwi] != 0:
            return []  # no winner while undeclared write-ins have votes
        selected: list[int] = []
        if rules.winner_mode is WinnerMode.BOTTOMS_UP_PERCENTAGE:
            if sum(1 for v in tally.tallies.values() if v > tally.threshold) == len(tally.tallies):
                selected = list(tally.tallies)
            return [Decision(c, True, False) for c in selected]
        unfilled = rules.winners - len(self.elected_in)
        if unfilled > 0:
            if len(tally.tallies) <= unfilled:
                selected = list(tally.tallies)
            elif rules.first_round_determines_threshold and len(tally.tallies) - 1 == rules.winners:
                selected = list(groups[max(groups)])
            elif rules.winner_mode is not WinnerMode.BOTTOMS_UP:
                for votes, cands in groups.items():
                    if votes >= tally.threshold:
                        selected += [c for c in cands if c != self.uwi]
        several = len(selected) > 1 and (rules.winner_mode is WinnerMode.ONE_PER_ROUND
                                         or rules.first_round_determines_threshold)
        none_of_two = rules.winners == 1 and not selected and len(tally.tallies) == 2 and unfilled == 1
        if several or none_of_two:
            top = max(groups)
            selected = list(groups[top])
            if len(selected) > 1:
                chosen = self.tiebreak(selected, True, r, top)
                return [Decision(chosen, True, True)]
        return [Decision(c, True, False) for c in selected]

    def tiebreak(self, tied: list[int], selecting_winner: bool, r: int, votes: Decimal) -> int:
        previous = [{self.names[c]: v for c, v in t.tallies.items()} for t in self.rounds]
        chosen, why = break_tie([self.names[c] for c in tied], selecting_winner=selecting_winner,
                                mode=self.rules.tiebreak, round_number=r, votes=votes, previous_tallies=previous,
                                permutation=self.permutation, random=self.random, ask=self.ask)
        self.notes.append(f"round {r}: {chosen} {'won' if selecting_winner else 'lost'} a tie-break among "
                          f"{', '.join(sorted((self.names[c] for c in tied), key=java_string_key))} "
                          f"({votes} votes each). {why}")
        return self.names.index(chosen)

    def drop_undeclared(self, tally: RoundTally, r: int) -> list[Decision]:
        if self.uwi in tally.tallies and tally.tallies[self.uwi] > 0:
            return [Decision(self.uwi, False, False)]
        return []

    def cutoff(self, tally: RoundTally, r: int) -> list[Decision]:
        if not self.rules.cutoff_elimination:
            return []
        return [Decision(c, False, False) for c, v in tally.tallies.items() if v < tally.threshold]

    def batch(self, groups: dict[Decimal, list[int]], r: int) -> list[Decision]:
        """RCTab's ``runBatchElimination``: everyone whose combined votes cannot reach the next-lowest tally."""
        if not self.rules.batch_elimination:
            return []
        running = ZERO
        seen: list[int] = []
        done: set[int] = set()
        eliminations: list[int] = []
        previous: list[int] = []
        for votes, cands in groups.items():
            new = list(eliminations)
            if running < votes:
                for c in seen:
                    if c not in done:
                        done.add(c)
                        new.append(c)
            running = running + self.multiply(votes, Decimal(len(cands)))
            seen += cands
            if len(new) > len(eliminations):
                previous, eliminations = eliminations, new
        if self.rules.continue_until_two and len(eliminations) + len(self.eliminated_in) == self.n_candidates - 1:
            eliminations = previous
        return [Decision(c, False, False) for c in eliminations] if len(eliminations) > 1 else []

    def regular(self, groups: dict[Decimal, list[int]], r: int) -> list[Decision]:
        low = min(groups)
        last = groups[low]
        if len(last) > 1:
            return [Decision(self.tiebreak(last, False, r, low), False, True)]
        return [Decision(last[0], False, False)]

    # surpluses --------------------------------------------------------------------------------------------------
    def transfer_surplus(self, winner: int, tally: RoundTally) -> None:
        """Each ballot counting for ``winner`` keeps value × (1 − surplus fraction) with it (RCTab's
        ``recordCurrentRecipientAsWinner``); the rest moves on next round."""
        votes = tally.tallies[winner]
        extra = votes - tally.threshold
        fraction = self.divide(extra, votes) if extra > 0 else ZERO
        for g in self.groups:
            if g.recipient == winner and g.status is Status.ACTIVE:
                value = g.value()
                g.kept[winner] = value - self.multiply(value, fraction)

    def update_winner_tallies(self, r: int) -> None:
        """RCTab's ``updateWinnerTallies``: earlier winners' tallies carried into this round; a winner of the
        previous round gets the parts its ballots kept, and anything above the threshold is residual surplus."""
        order = [self.names.index(n) for n in hash_order([self.names[c] for c in self.elected_in])]
        process = [w for w in order if self.elected_in[w] != r]
        fresh = {w for w in process if self.elected_in[w] == r - 1}
        tallies = [(self.rounds, None)] + [(rounds, (kind, label)) for kind, by in self.slice_rounds.items()
                                           for label, rounds in by.items()]
        for rounds, _ in tallies:
            t = rounds[r - 1]
            for w in process:
                _set_locked(t, w, ZERO if w in fresh else rounds[r - 2].tallies[w])
        if not fresh:
            return
        for g in self.groups:
            for w, kept in g.kept.items():
                if w in fresh:
                    amount = g.weight * kept
                    _add_locked(self.rounds[r - 1], w, amount)
                    for k, label in enumerate(g.slices):
                        if label is not None:
                            _add_locked(self.slice_rounds[self.slice_kinds[k]][label][r - 1], w, amount)
        t = self.rounds[r - 1]
        for w in fresh:
            residual = t.tallies[w] - t.threshold
            if residual > 0:
                self.residual[r] = self.residual[r] + residual
                _set_locked(t, w, t.threshold)
                self.add_transfer_named(r, self.names[w], RESIDUAL, residual)

    def add_transfer_named(self, r: int, source: str, target: str, amount: Decimal) -> None:
        row = self.transfers.setdefault(r, {}).setdefault(source, {})
        row[target] = row.get(target, ZERO) + amount


def _set_locked(t: RoundTally, c: int, value: Decimal) -> None:
    """RCTab's ``setCandidateTallyViaSurplusAdjustment``."""
    t.locked_in = t.locked_in + (value - t.tallies.get(c, ZERO))
    t.tallies[c] = value


def _add_locked(t: RoundTally, c: int, value: Decimal) -> None:
    _set_locked(t, c, t.tallies[c] + value)


def _divide(a: Decimal, b: Decimal, places: int, rounding: str) -> Decimal:
    """``BigDecimal.divide(b, places, rounding)`` for non-negative values, exactly (no intermediate rounding)."""
    num, den = a.as_integer_ratio()
    dnum, dden = b.as_integer_ratio()
    numerator, denominator = num * dden * 10 ** places, den * dnum
    q, rem = divmod(numerator, denominator)
    if rounding == ROUND_UP and rem:
        q += 1
    return Decimal(q).scaleb(-places)


def count_rcv(ballots: Ballots, candidates: Sequence[str], rules: RcvRules, *, excluded: Sequence[str] = (),
              ask: Asker | None = None) -> Count:
    """Count ``ballots`` of a ranked contest with ``rules``, as RCTab does (one pass; multi-pass IRV is
    :func:`veritally.tabulate.rcv.count_contest`'s job).

    ``candidates``: the candidate names in configuration order (``UWI_NAME`` for undeclared write-ins, if any);
    ``excluded``: names left out of the count (their rankings are passed over).
    """
    with decimal.localcontext(_CONTEXT):
        names = list(candidates)
        return _Tabulation(ballots, names, rules, {names.index(n) for n in excluded}, ask).run()
