"""Batch-level comparison audits with MACRO, one contest at a time, with Arlo's semantics.

Stark, P.B. (2009) "Efficient post-election audits of multiple contests: 2009 California tests" (SSRN 1443314)
and Stark (2010) "Super-simple…" §4 for the Kaplan–Markov form with sampling probability proportional to an
error bound (PPEB). For batch p with reported votes v and ballots b_p, and each winner–loser pair with reported
margin V_wl (less pending and unauditable ballots),

    u_p = max_wl ((v_wp − v_lp) + b_p)/V_wl          (the most the batch could overstate, relative to V_wl)
    e_p = max_wl ((v_wp − v_lp) − (a_wp − a_lp))/V_wl  (its actual overstatement once hand-counted; < 0 → 0)
    U = Σ_p u_p,     p = Π over draws (1 − 1/U)/(1 − e_p/u_p),

with batches drawn with replacement, probability u_p/U. A contest under a majority-or-runoff rule adds, for each
winner, the assertion "winner vs all others" against the 50 % threshold (Arlo spec 0001). Understatements are
not credited. Sample size: ⌈(ln α − ln p_so_far)/ln(1 − 1/U)⌉ + 1 batches — one more than the bare estimate, as
Arlo does since Loudoun County had to escalate for want of it (Arlo issue #1846).

Reproduces votingworks/arlo @8d86156 ``server/audit_math/macro.py`` (vectors: arlo_macro.json), vectorized over
batches: reported and audited tallies are (batches × choices) arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from .contest import ReportedContest, risk_limit_fraction

__all__ = ["macro_unauditable_ballots", "macro_max_errors", "macro_errors", "macro_risk", "macro_sample_size"]


def _columns(contest: ReportedContest, choices: Sequence[str], reported: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
    reported = np.asarray(reported, dtype=float)
    if reported.ndim != 2 or reported.shape[1] != len(choices):
        raise ConfigError(f"batch tallies must be (batches × {len(choices)}), not {reported.shape}")
    index = {c: i for i, c in enumerate(choices)}
    missing = [c for c in contest.tally if c not in index]
    if missing:
        raise ConfigError(f"contest {contest.name!r}: no batch-tally column for {missing}")
    return index, reported


def macro_unauditable_ballots(contest: ReportedContest, choices: Sequence[str], reported: np.ndarray) -> int:
    """Ballots in the contest's reported totals that no batch tally accounts for: ⌈(Σ contest votes − Σ batch
    votes)/votes allowed⌉. Arlo assumes they cannot be audited and takes them off every margin. Batch tallies
    adding up to *more* than the totals would make this negative and widen every margin (Arlo's formula does);
    here it is 0 then — the reported totals and batch tallies disagree, which a count comparison shows."""
    index, reported = _columns(contest, choices, reported)
    from_batches = float(sum(reported[:, index[c]].sum() for c in contest.tally))
    return max(0, math.ceil((contest.valid_votes - from_batches) / contest.votes_allowed))


def _assertion_rows(contest: ReportedContest, index: dict[str, int], votes: np.ndarray, unauditable: int):
    """For every assertion: (winner-side votes, loser-side votes, margin V) per batch, in Arlo's order
    (winner–loser pairs, then the runoff thresholds)."""
    reduction = contest.pending_ballots + unauditable
    for w, l in contest.pairs:
        yield votes[:, index[w]], votes[:, index[l]], contest.tally[w] - contest.tally[l] - reduction
    if contest.subject_to_runoff:
        valid = contest.valid_votes
        total = sum(votes[:, index[c]] for c in contest.tally)
        for w in contest.winners:
            w_total, w_batch = contest.tally[w], votes[:, index[w]]
            if w_total > valid - w_total:
                yield w_batch, total - w_batch, 2 * w_total - valid - reduction
            else:
                yield total - w_batch, w_batch, valid - 2 * w_total - reduction


def macro_max_errors(contest: ReportedContest, choices: Sequence[str], reported: np.ndarray, ballots: np.ndarray,
                     *, has_contest: np.ndarray | None = None, unauditable: int | None = None) -> np.ndarray:
    """u_p for every batch: the largest relative overstatement the batch could hold (0 for a batch without the
    contest; inf when some margin is ≤ 0, which forces a full hand count). Arlo ``compute_max_error``."""
    index, reported = _columns(contest, choices, reported)
    ballots = np.asarray(ballots, dtype=float)
    if unauditable is None:
        unauditable = macro_unauditable_ballots(contest, choices, reported)
    u = np.zeros(len(reported))
    for v_w, v_l, margin in _assertion_rows(contest, index, reported, unauditable):
        bound = np.full(len(reported), np.inf) if margin <= 0 else ((v_w - v_l) + ballots) / margin
        u = np.maximum(u, bound)
    if has_contest is not None:
        u = np.where(np.asarray(has_contest, bool), u, 0.0)
    return u


def macro_errors(contest: ReportedContest, choices: Sequence[str], reported: np.ndarray, audited: np.ndarray,
                 *, unauditable: int) -> tuple[np.ndarray, np.ndarray]:
    """(counted_as, weighted_error) per audited batch: the assertion with the largest weighted overstatement
    (v_w − v_l) − (a_w − a_l) over its margin (inf for a margin ≤ 0); both 0 where the batch is exact.
    Arlo ``compute_error``."""
    index, reported = _columns(contest, choices, reported)
    audited = np.asarray(audited, dtype=float)
    n = len(reported)
    best_count, best_weight, found = np.zeros(n), np.zeros(n), np.zeros(n, bool)
    rows = zip(_assertion_rows(contest, index, reported, unauditable),
               _assertion_rows(contest, index, audited, unauditable))
    for (v_w, v_l, margin), (a_w, a_l, _) in rows:
        error = (v_w - v_l) - (a_w - a_l)
        weight = error / margin if margin > 0 else np.where(error != 0, np.inf, 0.0)
        better = (error != 0) & (~found | (weight > best_weight))
        best_count, best_weight = np.where(better, error, best_count), np.where(better, weight, best_weight)
        found |= error != 0
    return best_count, best_weight


def macro_risk(contest: ReportedContest, choices: Sequence[str], reported: np.ndarray, ballots: np.ndarray,
               draws: Sequence[int], audited: dict[int, np.ndarray | None], risk_limit: float, *,
               has_contest: np.ndarray | None = None, combined: Sequence[Sequence[int]] = ()) -> tuple[float, bool]:
    """MACRO p-value and decision (Arlo ``macro.compute_risk``).

    ``draws``: the sampled batch indices in ticket order, one entry per draw (a batch drawn twice counts
    twice). ``audited``: every audited batch → its hand-count tally (a length-k row), or None when the batch
    does not contain the contest (such draws are skipped). ``combined``: groups of batches whose tallies were
    reported together; a sampled member is compared against the group's combined reported tally. Every batch
    audited is a full hand count: (0, True). A batch whose taint reaches 1 (more error than its bound allows,
    e.g. more votes counted than ballots) makes p = 1.
    """
    alpha = risk_limit_fraction(risk_limit)
    index, reported = _columns(contest, choices, reported)
    if len(audited) >= len(reported):
        return 0.0, True
    unauditable = macro_unauditable_ballots(contest, choices, reported)
    u = macro_max_errors(contest, choices, reported, ballots, has_contest=has_contest, unauditable=unauditable)
    total_u = float(u.sum())
    group_of = {b: list(group) for group in combined for b in group}
    counted = [b for b in draws if audited.get(b) is not None]
    if not counted:
        return 1.0, False
    rep_rows = np.stack([reported[group_of[b]].sum(axis=0) if b in group_of else reported[b] for b in counted])
    aud_rows = np.stack([np.asarray(audited[b], dtype=float) for b in counted])
    count, weight = macro_errors(contest, choices, rep_rows, aud_rows, unauditable=unauditable)
    e = np.where(count > 0, weight, 0.0)
    u_drawn = u[counted]
    if np.any(np.isinf(e)) or np.any(np.isinf(u_drawn)):
        return 1.0, False
    with np.errstate(divide="ignore", invalid="ignore"):
        taint = e / u_drawn
    if np.any(taint >= 1) or total_u <= 1:
        return 1.0, False
    log_p = float(np.sum(math.log(1 - 1 / total_u) - np.log1p(-taint)))
    p = math.exp(log_p) if log_p < 700 else math.inf
    return min(p, 1.0), p <= alpha


def macro_sample_size(contest: ReportedContest, choices: Sequence[str], reported: np.ndarray, ballots: np.ndarray,
                      draws: Sequence[int], audited: dict[int, np.ndarray | None], risk_limit: float, *,
                      has_contest: np.ndarray | None = None, combined: Sequence[Sequence[int]] = ()) -> int:
    """Batches to draw next: ⌈(ln α − ln p)/ln(1 − 1/U)⌉ + 1, at most every batch; 0 once the risk limit is met;
    every batch when U is infinite (a tie). Arlo ``macro.get_sample_sizes``."""
    alpha = risk_limit_fraction(risk_limit)
    _, reported = _columns(contest, choices, reported)
    if len(audited) >= len(reported):
        raise ConfigError(f"contest {contest.name!r}: every batch has already been audited")
    u = macro_max_errors(contest, choices, reported, ballots, has_contest=has_contest)
    total_u = float(u.sum())
    if math.isinf(total_u):
        return len(reported)
    p, attained = macro_risk(contest, choices, reported, ballots, draws, audited, risk_limit,
                             has_contest=has_contest, combined=combined)
    if attained:
        return 0
    if alpha == 0 or total_u <= 1:
        return len(reported)
    estimate = (math.log(alpha) - math.log(p)) / math.log(1 - 1 / total_u)
    return min(math.ceil(estimate) + 1, len(reported))
