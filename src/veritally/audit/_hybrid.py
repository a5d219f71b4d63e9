"""Hybrid audits in the workflow: SUITE (:mod:`.suite`) on two strata of cards, as Arlo runs a HYBRID audit.

The ballot manifest's ``CVR`` column (Y/N per batch) splits the cards: the *CVR stratum* (cards of batches marked
Y, each linked to its CVR) is audited by ballot comparison and sampled with replacement; the *no-CVR stratum*
(batches marked N) by ballot polling, sampled without replacement. Both are drawn by Veritally's card sampler from
the same seed, each on its own cards; a later round is a longer prefix of each stratum's stream. The stratum of a
draw follows from its card's batch, so the ``draw`` table needs no extra column.

Reported tallies per stratum (as Arlo derives them): the CVR stratum's from its CVRs, the no-CVR stratum's = the
reported contest totals minus the CVR stratum's. Conservative readings: a card that cannot be found or agreed on is
a two-vote overstatement in the CVR stratum (as is a phantom: a card without its CVR) and a vote for every loser
in the no-CVR stratum; understatements are not credited (Arlo ``suite.misstatements``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError, InputError
from .contest import ReportedContest
from .sampling import veritally_sample
from .suite import ComparisonStratum, Misstatements, PollingStratum, suite_risk, suite_sample_size
from .supersimple import comparison_discrepancies
from ._state import AuditSettings, Cards, ContestSpec, Reading, require_cvr_split

__all__ = ["require_strata", "card_strata", "stratum_tallies", "strata", "hybrid_status", "hybrid_options",
           "split_size", "hybrid_draws", "hybrid_rounds", "round_splits"]


def require_strata(cards: Cards) -> None:
    """ConfigError unless the manifests mark every batch Y or N and both strata have cards."""
    require_cvr_split(cards, "hybrid", with_column="Y for batches whose cards have CVRs, N for the others",
                      both="cards with and without CVRs")


def card_strata(cards: Cards) -> tuple[np.ndarray, np.ndarray]:
    """(card indices of the CVR stratum, card indices of the no-CVR stratum), each in manifest order."""
    require_strata(cards)
    per_card = np.repeat(cards.cvr, cards.ballots)
    return np.flatnonzero(per_card), np.flatnonzero(~per_card)


def stratum_tallies(spec: ContestSpec, cvrs) -> tuple[dict[str, int], dict[str, int]]:
    """(CVR-stratum tally from its CVRs, no-CVR-stratum tally = reported totals − CVR stratum); a negative
    difference is an InputError naming the contest and choice."""
    cvr_tally = cvrs.tally(spec.name, spec.choices) if cvrs is not None else {c: 0 for c in spec.choices}
    rest = {c: int(spec.reported.tally.get(c, 0)) - int(cvr_tally[c]) for c in spec.choices}
    for choice, votes in rest.items():
        if votes < 0:
            raise InputError(f"contest {spec.name!r}, choice {choice!r}: the CVRs count {cvr_tally[choice]} votes, "
                             f"more than the reported total {spec.reported.tally.get(choice, 0)}, so the cards "
                             "without CVRs would have a negative tally", field="votes",
                             expected="reported totals at least the CVR stratum's votes")
    return cvr_tally, rest


def _read_draws(draw_cards: np.ndarray, in_stratum: np.ndarray, readings: Mapping[int, Reading]):
    """(unique read cards of a stratum, how often each was drawn, number of read draws)."""
    drawn = draw_cards[in_stratum[draw_cards]] if len(draw_cards) else np.zeros(0, np.int64)
    unique, counts = np.unique(drawn, return_counts=True)
    read = np.fromiter((c in readings for c in unique.tolist()), bool, count=len(unique))
    return unique[read], counts[read], int(counts[read].sum())


def strata(cards: Cards, spec: ContestSpec, cvrs, draw_cards: np.ndarray, readings: Mapping[int, Reading]):
    """SUITE's two strata of one contest from the draws read so far: (PollingStratum, ComparisonStratum,
    discrepancy counts for the status)."""
    from ._status import audited_votes, sample_tally  # _status imports nothing of this module

    cvr_cards, non_cvr_cards = card_strata(cards)
    per_card = np.repeat(cards.cvr, cards.ballots)
    cvr_tally, non_cvr_tally = stratum_tallies(spec, cvrs)
    draw_cards = np.asarray(draw_cards, np.int64)
    choices, reported = spec.choices, spec.reported

    polled, polled_times, polled_n = _read_draws(draw_cards, ~per_card, readings)
    votes, _, worst = audited_votes(readings, polled, choices)
    polling = PollingStratum(len(non_cvr_cards), non_cvr_tally,
                             sample_tally(reported, choices, votes, worst, polled_times), polled_n)

    compared, compared_times, compared_n = _read_draws(draw_cards, per_card, readings)
    votes, absent, worst = audited_votes(readings, compared, choices)
    audited = np.where(absent[:, None], 0, votes)
    if cvrs is not None:
        cvr_votes, _, cvr_over, cvr_missing = cvrs.votes(spec.name, choices, compared)
    else:
        cvr_votes, cvr_over = np.zeros_like(audited), np.zeros(len(compared), bool)
        cvr_missing = np.ones(len(compared), bool)
    misstatements = {}
    for w, l in reported.pairs:  # pair by pair; understatements are not credited (Arlo suite.misstatements)
        pair = ReportedContest(spec.name, {w: reported.tally[w], l: reported.tally[l]}, reported.ballots)
        found = comparison_discrepancies(pair, choices, cvr_votes, audited, reported_missing=cvr_missing,
                                         audited_missing=worst, reported_overvote=cvr_over)
        misstatements[(w, l)] = Misstatements(o1=int(compared_times[found.counted_as == 1].sum()),
                                              o2=int(compared_times[found.counted_as == 2].sum()))
    comparison = ComparisonStratum(len(cvr_cards), cvr_tally, misstatements, compared_n)
    overall = comparison_discrepancies(reported, choices, cvr_votes, audited, reported_missing=cvr_missing,
                                       audited_missing=worst, reported_overvote=cvr_over)
    counts = {f"{'o' if k > 0 else 'u'}{abs(k)}": int(compared_times[overall.counted_as == k].sum())
              for k in (1, 2, -1, -2)}
    counts.update({"cvr_sample_size": compared_n, "non_cvr_sample_size": polled_n})
    return polling, comparison, counts


def hybrid_status(settings: AuditSettings, cards: Cards, spec: ContestSpec, cvrs, draw_cards: np.ndarray,
                  readings: Mapping[int, Reading], status) -> None:
    """Fill ``status`` (a ContestStatus) with SUITE's p-value per winner–loser pair and the discrepancies."""
    polling, comparison, counts = strata(cards, spec, cvrs, draw_cards, readings)
    status.discrepancies = counts
    if polling.sample_size == 0 and comparison.sample_size == 0:
        status.assertions = {f"{w} v {l} (SUITE)": 1.0 for w, l in spec.reported.pairs}
        return
    status.assertions = {}
    for w, l in spec.reported.pairs:
        with np.errstate(over="ignore"):  # SUITE's SPRT caps a huge likelihood ratio's inverse at 1
            p, _ = suite_risk(_only_pair(spec.reported, w, l), polling, comparison, settings.risk_limit)
        status.assertions[f"{w} v {l} (SUITE)"] = p


class _OnePair(ReportedContest):
    """A contest whose ``pairs`` is one (winner, loser): SUITE's risk of that assertion alone."""

    _pair: tuple[str, str]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return [self._pair]


def _only_pair(contest: ReportedContest, winner: str, loser: str) -> ReportedContest:
    one = _OnePair(contest.name, contest.tally, contest.ballots, num_winners=contest.num_winners,
                   votes_allowed=contest.votes_allowed)
    object.__setattr__(one, "_pair", (winner, loser))
    return one


def hybrid_options(settings: AuditSettings, cards: Cards, spec: ContestSpec, cvrs, draw_cards: np.ndarray,
                   readings: Mapping[int, Reading]) -> dict[str, dict]:
    """SUITE's next-round option ``suite`` in additional draws per stratum (``size_cvr``, ``size_non_cvr``; Arlo's
    ``sizeCvr``/``sizeNonCvr``), or ``all-ballots`` when a stratum would need every card (or the risk limit is 0,
    or the contest has no loser)."""
    reported = spec.reported
    everything = {"all-ballots": {"size": reported.ballots, "prob": None}}
    if settings.risk_limit == 0 or not reported.losers:
        return everything
    polling, comparison, _ = strata(cards, spec, cvrs, draw_cards, readings)
    try:
        with np.errstate(over="ignore"):
            total_cvr, total_non_cvr = suite_sample_size(reported, polling, comparison, settings.risk_limit)
    except ConfigError:  # SUITE: one or both strata need a full hand count
        return everything
    drawn = np.asarray(draw_cards, np.int64)
    per_card = np.repeat(cards.cvr, cards.ballots)
    drawn_cvr = int(per_card[drawn].sum()) if drawn.size else 0
    drawn_non_cvr = int(drawn.size - drawn_cvr)
    if total_cvr >= comparison.ballots or total_non_cvr >= polling.ballots:
        return everything
    # SUITE sizes the whole sample; what is drawn already counts (at least one more card while not confirmed)
    more_cvr, more_non_cvr = max(total_cvr - drawn_cvr, 0), max(total_non_cvr - drawn_non_cvr, 0)
    if more_cvr + more_non_cvr == 0:
        more_cvr, more_non_cvr = split_size(cards, 2, drawn_non_cvr)
    return {"suite": {"size": more_cvr + more_non_cvr, "size_cvr": more_cvr, "size_non_cvr": more_non_cvr,
                      "prob": None}}


def split_size(cards: Cards, n: int, drawn_non_cvr: int = 0) -> tuple[int, int]:
    """A custom size of ``n`` draws split between the strata in proportion to their cards (Arlo's SUITE split:
    the CVR stratum's share rounded up), the no-CVR stratum's part capped at its cards not yet drawn."""
    cvr_cards = int(cards.ballots[cards.cvr].sum())
    cvr_n = math.ceil(cvr_cards / cards.total * n)
    non_cvr_n = min(n - cvr_n, cards.total - cvr_cards - drawn_non_cvr)
    return int(n - non_cvr_n), int(non_cvr_n)


def _stream(cards: Cards, stratum: np.ndarray, seed: str, start: int, take: int, with_replacement: bool) -> list:
    if take <= 0:
        return []
    columns = {k: v[stratum] for k, v in cards.columns().items()}
    draws = veritally_sample(columns, seed, start + take, with_replacement=with_replacement)[start:]
    return [(int(stratum[d.index]), d.ticket, d.generation, d.card) for d in draws]


def hybrid_draws(settings: AuditSettings, cards: Cards, start: tuple[int, int], split: tuple[int, int]) -> list:
    """The next draws as (card index, ticket, generation, card): ``split[0]`` more from the CVR stratum (with
    replacement), then ``split[1]`` more from the no-CVR stratum (without replacement), each continuing its
    stream after ``start`` (the draws so far in each stratum)."""
    cvr_cards, non_cvr_cards = card_strata(cards)
    if start[1] + split[1] > len(non_cvr_cards):
        raise ConfigError(f"the no-CVR stratum has {len(non_cvr_cards) - start[1]} cards not yet drawn, fewer than "
                          f"the {split[1]} asked for")
    return (_stream(cards, cvr_cards, settings.seed, start[0], split[0], True)
            + _stream(cards, non_cvr_cards, settings.seed, start[1], split[1], False))


def hybrid_rounds(settings: AuditSettings, cards: Cards, splits: list[tuple[int, int]]) -> list:
    """Every round's draws from the seed, as the rounds drew them (each round: its CVR-stratum draws, then its
    no-CVR draws): what ``verify`` compares the bundle's sample with."""
    cvr_cards, non_cvr_cards = card_strata(cards)
    cvr_stream = _stream(cards, cvr_cards, settings.seed, 0, sum(s[0] for s in splits), True)
    non_cvr_stream = _stream(cards, non_cvr_cards, settings.seed, 0,
                             min(sum(s[1] for s in splits), len(non_cvr_cards)), False)
    out, a, b = [], 0, 0
    for k1, k2 in splits:
        out += cvr_stream[a:a + k1] + non_cvr_stream[b:b + k2]
        a, b = a + k1, b + k2
    return out


def round_splits(cards: Cards, batch_keys_by_round: Mapping[int, list[tuple[str, str, str]]],
                 sizes: Mapping[int, int]) -> list[tuple[int, int]]:
    """Each round's (CVR-stratum, no-CVR-stratum) draws, read off the draws' batches (their CVR flag)."""
    index = cards.batch_index()
    splits = []
    for number, size in sizes.items():
        keys = batch_keys_by_round.get(number, [])
        k1 = sum(1 for key in keys if key in index and bool(cards.cvr[index[key]]))
        splits.append((k1, max(size - k1, 0)))
    return splits
