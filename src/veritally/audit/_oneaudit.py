"""ONEAudit audits in the workflow: card-level comparison where some cards have no linked CVR but belong to a
*pool* whose reported subtotal is known (Stark 2023, "Overstatement-Net-Equivalent Risk-Limiting Audit: ONEAudit",
arXiv:2303.03335; SHANGRLA's ``Assorter.set_tally_pool_means``).

The ballot manifest's ``CVR`` column (Y/N per batch) says which cards have CVRs: the cards of Y batches are linked
to their CVRs card by card (``add-cvrs``), as in a comparison audit; every N batch is one pool, whose reported
tally is the reported results' batch rows for it (``contest, choice, batch, votes``). Each pooled card gets an
"overstatement-net-equivalent" CVR: for the pairwise assorter A = (v_w − v_l + 1)/2 its value is the pool's mean,

    Ā_pool = (V_w − V_l + n)/(2n)        (V_w, V_l the pool's reported votes, n its cards),

so that the pool's CVRs add up to its reported tally. The assorter margin is v = 2·mean(A) − 1 over all N cards
(CVR cards by their CVRs, a card of a Y batch without its CVR — a phantom — as ½, pooled cards by their pool
means), which is (W − L)/N with W, L the CVRs' votes plus the pools' reported votes.

Every card is drawn with replacement by Veritally's card sampler, as in a comparison audit. The data of each
assertion's test are the overstatement assorter values B = (1 − o)/(2 − v), o = A(CVR) − A(paper), of the draws
in ticket order, where the pooled cards' A(CVR) is their pool mean (:func:`~veritally.audit.assertions.
overstatement_assorter` with ``pool_mean``); ALPHA (``alpha_mart``, u = 2/(2 − v), shrink-trunc) tests
mean(B) ≤ ½. A card that cannot be found or agreed on assorts to 0 on paper (the worst case); understatements are
credited, as SHANGRLA's overstatement assorter does (the null is about the mean).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError, InputError
from .alpha import alpha_mart
from .assertions import Assertion, ContestCards, make_assertions, overstatement_assorter, overstatement_assorter_mean
from .bravo import FULL_COUNT_SHARE
from .contest import ReportedContest
from .sizes import simulated_sample_size
from .supersimple import comparison_discrepancies
from ._batch import BatchTallies
from ._state import AuditSettings, Cards, ContestSpec, Reading, require_cvr_split

__all__ = ["require_pools", "pool_tallies", "pooled_tally", "oneaudit_margin", "pool_means", "oneaudit_eta",
           "draw_values", "oneaudit_status", "clean_values", "oneaudit_options", "oneaudit_outcome_checks"]

#: SHANGRLA's default assumed rate of one-vote overstatements (``error_rate_1``), which the prior mean η of the
#: ALPHA test allows for.
ONE_VOTE_RATE = 0.001
#: Simulated audits per sample-size option (as the ALPHA comparison sizes of ``_plan``).
REPS = 400
#: Simulated audits of the pilot run that spots a contest no option can finish (its median audit runs to the cap):
#: a few, so that a hopeless contest costs a few audits of full length rather than REPS of them.
PILOT_REPS = 10
QUANTILES = (0.7, 0.8, 0.9)


def require_pools(cards: Cards) -> None:
    """ConfigError unless the manifests mark every batch Y or N and there are cards of both kinds."""
    require_cvr_split(cards, "ONEAudit", with_column="Y for batches whose cards have CVRs, N for the batches that are "
                      "pools", both="cards with CVRs and pools of cards without")


def pool_tallies(cards: Cards, spec: ContestSpec, reported) -> BatchTallies:
    """The pools' reported votes for one contest: (batches × choices), rows of CVR=Y batches zero.

    Every N batch must have its tally in the reported results' batch rows (of some contest: a pool without rows
    for this contest has no votes in it), each pool's votes for a choice at most its cards and in all at most
    its cards × votes allowed. Batches are matched by name, which must be unique across the audit."""
    require_pools(cards)
    if reported is None or reported.unit_kind != "batch":
        raise ConfigError(f"contest {spec.name!r}: a ONEAudit audit needs each pool's reported tally: reported "
                          "results per batch (columns contest, choice, batch, votes) for the batches marked CVR=N")
    by_unit = reported.by_unit()
    listed = {unit for units in by_unit.values() for unit in units}
    by_name: dict[str, list[int]] = {}
    for row, name in enumerate(cards.batch):
        by_name.setdefault(name, []).append(row)
    votes = np.zeros((len(cards.batch), len(spec.choices)), np.int64)
    has = np.zeros(len(cards.batch), bool)
    index = {c: k for k, c in enumerate(spec.choices)}
    for row in np.flatnonzero(~cards.cvr).tolist():
        name = cards.batch[row]
        if name not in listed:
            raise InputError(f"pool {name!r} (a batch marked CVR=N) has no reported tally", file=reported.source,
                             field="batch", expected="a row per contest and choice for every batch marked CVR=N")
        if len(by_name[name]) > 1:
            raise InputError(f"batch name {name!r} is in several manifests or tabulators: reported batch rows "
                             "cannot say which", file=reported.source, field="batch",
                             expected="batch names unique across the audit")
        tally = by_unit.get(spec.name, {}).get(name, {})
        has[row] = bool(tally)
        for choice, v in tally.items():
            if choice not in index:
                raise InputError(f"pool {name!r}: {choice!r} is not a choice of {spec.name!r}", file=reported.source,
                                 field="choice", expected=", ".join(spec.choices))
            votes[row, index[choice]] = v
        n = int(cards.ballots[row])
        if votes[row].max(initial=0) > n or votes[row].sum() > n * spec.reported.votes_allowed:
            raise InputError(f"pool {name!r} reports {int(votes[row].sum())} votes in {spec.name!r} for {n} cards",
                             file=reported.source, field="votes",
                             expected=f"at most {n} votes per choice and {n * spec.reported.votes_allowed} in all")
    return BatchTallies(votes, has)


def pooled_tally(spec: ContestSpec, tallies: BatchTallies) -> dict[str, int]:
    """The pools' reported votes, summed over the pools."""
    return dict(zip(spec.choices, tallies.votes.sum(axis=0).tolist()))


def _cvr_tally(spec: ContestSpec, cvrs) -> dict[str, int]:
    return cvrs.tally(spec.name, spec.choices) if cvrs is not None else {c: 0 for c in spec.choices}


def oneaudit_margin(spec: ContestSpec, cvrs, tallies: BatchTallies, cards: Cards, winner: str, loser: str, *,
                    cvr_tally: Mapping[str, int] | None = None) -> float:
    """v = 2·mean(A) − 1 over all cards = (W − L)/N, W and L the CVRs' votes plus the pools' reported votes (a
    phantom's ½ and a pool's mean add nothing else to W − L; module docstring). ``cvr_tally``: the CVRs' tally
    when the caller has it (counting every CVR is the costly part)."""
    cvr = _cvr_tally(spec, cvrs) if cvr_tally is None else cvr_tally
    pooled = pooled_tally(spec, tallies)
    return (cvr[winner] + pooled[winner] - cvr[loser] - pooled[loser]) / cards.total


def pool_means(cards: Cards, spec: ContestSpec, tallies: BatchTallies, winner: str, loser: str) -> np.ndarray:
    """Per batch, the pool's mean pairwise assorter value (V_w − V_l + n)/(2n); NaN for CVR=Y batches (and for
    an empty pool)."""
    w, l = spec.choices.index(winner), spec.choices.index(loser)
    n = cards.ballots.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (tallies.votes[:, w] - tallies.votes[:, l] + n) / (2 * n)
    return np.where(cards.cvr | (n == 0), np.nan, mean)


def oneaudit_eta(margin: float) -> float:
    """The ALPHA test's prior mean η: the overstatement assorter's mean when one card in a thousand has a one-vote
    overstatement (SHANGRLA's default error_rate_1), (1 − 0.0005)/(2 − v): a little below the no-error mean
    1/(2 − v) so that rare small errors do not stall the audit, and kept above ½ (shrink-trunc then shrinks the
    running mean towards it with weight d = 100)."""
    return max(0.5 + 1e-6, overstatement_assorter_mean(margin, error_rate_1=ONE_VOTE_RATE))


def _read_draws(draw_cards: np.ndarray, readings: Mapping[int, Reading]) -> np.ndarray:
    return np.array([c for c in np.asarray(draw_cards).tolist() if c in readings], np.int64)


def draw_values(cards: Cards, spec: ContestSpec, cvrs, tallies: BatchTallies, draw_cards: np.ndarray,
                readings: Mapping[int, Reading]) -> dict[str, tuple[float, np.ndarray]]:
    """Per assertion: (margin v, the overstatement assorter values of the read draws in ticket order)."""
    from ._status import audited_votes, without_overvotes  # _status imports nothing of this module

    reported, choices = spec.reported, spec.choices
    draws = _read_draws(draw_cards, readings)
    if cvrs is not None:
        cvr_votes, _, _, cvr_missing = cvrs.votes(spec.name, choices, draws)  # CVR overvotes are no votes
    else:
        cvr_votes, cvr_missing = np.zeros((len(draws), len(choices)), np.int64), np.ones(len(draws), bool)
    votes, absent, worst = audited_votes(readings, draws, choices)
    cvr_cards = ContestCards(tuple(choices), cvr_votes, phantom=cvr_missing)
    mvr_cards = ContestCards(tuple(choices), without_overvotes(np.where(absent[:, None], 0, votes),
                                                               reported.votes_allowed), phantom=worst)
    batch = cards.batch_of(draws)
    cvr_tally = _cvr_tally(spec, cvrs)
    out = {}
    for assertion in make_assertions(reported):
        v = oneaudit_margin(spec, cvrs, tallies, cards, assertion.winner, assertion.loser, cvr_tally=cvr_tally)
        pool_mean = pool_means(cards, spec, tallies, assertion.winner, assertion.loser)[batch]
        x = (overstatement_assorter(assertion, cvr_cards, mvr_cards, v, use_style=False, pool_mean=pool_mean)
             if v > 0 else np.zeros(len(draws)))
        out[assertion.name] = (v, x)
    return out


def _risk(v: float, x: np.ndarray) -> float:
    if v <= 0:
        return 1.0  # the CVRs and pools do not show this winner ahead: nothing a sample can confirm
    if x.size == 0:
        return 1.0
    return float(alpha_mart(x, u=2 / (2 - v), estim="shrink_trunc", eta=oneaudit_eta(v)).p_value)


def oneaudit_status(settings: AuditSettings, cards: Cards, spec: ContestSpec, cvrs, tallies: BatchTallies,
                    draw_cards: np.ndarray, readings: Mapping[int, Reading], status) -> None:
    """Fill ``status`` (a ContestStatus) with ALPHA's p-value per assertion and the discrepancies of the CVR
    cards (o1, o2, u1, u2), with the read draws of each kind (``cvr_sample_size``, ``pool_sample_size``)."""
    from ._status import audited_votes

    values = draw_values(cards, spec, cvrs, tallies, draw_cards, readings)
    status.assertions = {f"{name} (ONEAudit)": _risk(v, x) for name, (v, x) in values.items()}
    draws = _read_draws(draw_cards, readings)
    pooled = ~cards.cvr[cards.batch_of(draws)] if draws.size else np.zeros(0, bool)
    compared, times = np.unique(draws[~pooled], return_counts=True)
    counts = {"o1": 0, "o2": 0, "u1": 0, "u2": 0}
    if compared.size:
        votes, absent, worst = audited_votes(readings, compared, spec.choices)
        if cvrs is not None:
            cvr_votes, _, cvr_over, cvr_missing = cvrs.votes(spec.name, spec.choices, compared)
        else:
            cvr_votes, cvr_over = np.zeros_like(votes), np.zeros(len(compared), bool)
            cvr_missing = np.ones(len(compared), bool)
        found = comparison_discrepancies(spec.reported, spec.choices, cvr_votes, np.where(absent[:, None], 0, votes),
                                         reported_missing=cvr_missing, audited_missing=worst,
                                         reported_overvote=cvr_over)
        counts = {f"{'o' if k > 0 else 'u'}{abs(k)}": int(times[found.counted_as == k].sum()) for k in (1, 2, -1, -2)}
    counts.update({"cvr_sample_size": int((~pooled).sum()), "pool_sample_size": int(pooled.sum())})
    status.discrepancies = counts


def clean_values(cards: Cards, spec: ContestSpec, cvrs, tallies: BatchTallies, assertion: Assertion,
                 margin: float) -> np.ndarray:
    """The overstatement assorter value of every card if the paper matched the CVRs and the pools' reported
    tallies: 1/(2 − v) for a CVR card, ½/(2 − v) for a phantom (its paper taken as not found), and in a pool of
    n cards with V_w, V_l votes (V_both = max(0, V_w + V_l − n) cards marking both) V_w − V_both cards at
    (2 − Ā)/(2 − v), V_l − V_both at (1 − Ā)/(2 − v) and the rest at (1.5 − Ā)/(2 − v)."""
    denominator = 2 - margin
    pools = np.flatnonzero(~cards.cvr & (cards.ballots > 0))
    n = cards.ballots[pools]
    w, l = spec.choices.index(assertion.winner), spec.choices.index(assertion.loser)
    vw, vl = tallies.votes[pools, w], tallies.votes[pools, l]
    both = np.maximum(vw + vl - n, 0)
    mean = pool_means(cards, spec, tallies, assertion.winner, assertion.loser)[pools]
    counts = np.stack([vw - both, vl - both, n - (vw - both) - (vl - both)], axis=1).ravel()
    values = (np.stack([2 - mean, 1 - mean, 1.5 - mean], axis=1) / denominator).ravel()
    with_cvr = int(cards.ballots[cards.cvr].sum())
    if cvrs is not None:
        phantoms = with_cvr - int((cvrs.jurisdiction_of[np.repeat(cards.cvr, cards.ballots)] >= 0).sum())
    else:
        phantoms = with_cvr
    return np.concatenate([np.full(with_cvr - phantoms, 1 / denominator), np.full(phantoms, 0.5 / denominator),
                           np.repeat(values, counts)])


def _with_replacement(x, **params):
    """ALPHA as the audit runs it, with replacement: ``simulated_sample_size`` then uses the number of cards only
    to stop a simulated audit (it hands N to a test that takes it, which would test without replacement)."""
    return alpha_mart(x, **params)


def oneaudit_options(settings: AuditSettings, cards: Cards, spec: ContestSpec, cvrs, tallies: BatchTallies,
                     draw_cards: np.ndarray, readings: Mapping[int, Reading]) -> dict[str, dict]:
    """Options ``0.7``, ``0.8``, ``0.9`` in additional draws: ``simulated_sample_size`` of ALPHA (with
    replacement, as the audit tests) at that quantile, the largest over the assertions. Round 1 simulates audits
    drawing from :func:`clean_values`; once draws are read, each simulated audit continues this audit — its read
    draws' values first, then draws from them (SHANGRLA's ``prefix``), so what was observed, errors included,
    sizes the rest. ``all-ballots`` when the risk limit is 0, a margin is not positive, or no option leaves cards
    undrawn (a quarter of a contest of more than 100,000 cards, as ``_plan``'s ALPHA sizes: simulated audits stop
    there, and a pilot of PILOT_REPS audits whose median reaches it spares the REPS)."""
    n = cards.total
    everything = {"all-ballots": {"size": n, "prob": None}}
    if settings.risk_limit == 0 or not spec.reported.losers:
        return everything
    values = draw_values(cards, spec, cvrs, tallies, draw_cards, readings)
    drawn = len(draw_cards)
    # simulated audits stop where a hand count becomes the option anyway (all cards; a quarter of a large contest)
    cap = n if n <= 100_000 else min(n, drawn + math.ceil(FULL_COUNT_SHARE * n))
    sizes = {q: 0 for q in QUANTILES}
    for assertion in make_assertions(spec.reported):
        v, x = values[assertion.name]
        if v <= 0:
            return everything
        if _risk(v, x) <= settings.risk_limit:
            continue
        params = {"u": 2 / (2 - v), "estim": "shrink_trunc", "eta": oneaudit_eta(v)}
        population, prefix = (x, True) if x.size else (clean_values(cards, spec, cvrs, tallies, assertion, v), False)
        pilot = simulated_sample_size(_with_replacement, population, settings.risk_limit, N=cap, reps=PILOT_REPS,
                                      prefix=prefix, quantile=0.5, **params)
        if pilot >= cap:
            return everything
        for q in QUANTILES:
            total = simulated_sample_size(_with_replacement, population, settings.risk_limit, N=cap, reps=REPS,
                                          prefix=prefix, quantile=q, **params)
            sizes[q] = max(sizes[q], total)
    options = {str(q): {"size": max(total - drawn, 1), "prob": q} for q, total in sizes.items()}
    biggest = options["0.9"]["size"] + drawn
    if sizes[0.9] >= cap or biggest >= n or (n > 100_000 and options["0.9"]["size"] >= FULL_COUNT_SHARE * n):
        return everything
    return options


def oneaudit_outcome_checks(spec: ContestSpec, cvrs, tallies: BatchTallies, cards: Cards) -> list[str]:
    """A note when the CVRs with the pools' tallies do not show the reported winners (the contest is then counted
    by hand), or show them with other totals than the reported ones."""
    cvr, pooled = _cvr_tally(spec, cvrs), pooled_tally(spec, tallies)
    combined = {c: cvr[c] + pooled[c] for c in spec.choices}
    counted = ReportedContest(spec.name, combined, spec.reported.ballots, num_winners=spec.reported.num_winners)
    if set(counted.winners) != set(spec.reported.winners):
        return [f"the CVRs' winners with the pools' tallies ({', '.join(counted.winners)}) are not the reported "
                f"winners ({', '.join(spec.reported.winners)}): the reported outcome cannot be confirmed from them; "
                "count the ballots by hand"]
    if combined != {c: int(spec.reported.tally.get(c, 0)) for c in spec.choices}:
        return ["the CVRs' and the pools' totals differ from the reported totals; the margins of the CVRs and the "
                "pools are audited"]
    return []
