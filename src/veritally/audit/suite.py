"""SUITE: stratified hybrid audits — a comparison stratum (cards with CVRs) and a polling stratum (cards without),
combined with Fisher's method, maximized over how the overall error could be split between the strata.

Ottoboni, K., Stark, P.B., Lindeman, M. & McBurnett, N. (2018) "Risk-Limiting Audits by Stratified
Union-Intersection Tests of Elections (SUITE)", E-Vote-ID 2018 (arXiv:1809.04235), code pbstark/CORLA18. For a
winner–loser pair with overall reported margin V, the null "the outcome is wrong" is the union over λ of
"the CVR stratum's margin overstates by ≥ λV and the no-CVR stratum's by ≥ (1 − λ)V"; each stratum's p-value
for its share, combined by Fisher's χ² with 4 degrees of freedom, is maximized over λ (a grid search refined
until the modulus of continuity shows the maximum is within tolerance of the risk limit).

* CVR stratum (sampled with replacement): Kaplan–Markov with γ = 1.03905,
  p = (1 − λ/(γ U_s))^n (1 − 1/2γ)^−o1 (1 − 1/γ)^−o2 (1 + 1/2γ)^−u1 (1 + 1/γ)^−u2, U_s = 2N_s/V.
* No-CVR stratum (sampled without replacement): the SPRT with a nuisance parameter (the number of winner votes
  in the stratum under the null), maximizing the null likelihood over it (a root of the score, or an end).

Reproduces votingworks/arlo @8d86156 ``server/audit_math/suite.py`` (vectors: arlo_suite.json), including its
sample-size search (growth by ×2 or ×1.1, then bisection) so that sizes match Arlo's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import special, stats

from ..errors import ConfigError
from .contest import ReportedContest, risk_limit_fraction

__all__ = [
    "PollingStratum",
    "ComparisonStratum",
    "Misstatements",
    "polling_stratum_p_value",
    "comparison_stratum_p_value",
    "fisher_combined_p_value",
    "suite_risk",
    "suite_sample_size",
    "GAMMA",
    "MIN_SAMPLE_SIZE",
]

#: Error inflation in the CVR stratum (as in Stark's tools, AGI, ColoradoRLA and Arlo).
GAMMA = 1.03905
#: The smallest total sample SUITE's size search starts from.
MIN_SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Misstatements:
    """Counts of 1- and 2-vote overstatements (o1, o2) and understatements (u1, u2) for one pair."""

    o1: int = 0
    o2: int = 0
    u1: int = 0
    u2: int = 0


@dataclass(frozen=True)
class PollingStratum:
    """The no-CVR stratum: ``ballots`` cards, reported ``tally``, sampled ``sample_tally`` of ``sample_size`` cards."""

    ballots: int
    tally: Mapping[str, int]
    sample_tally: Mapping[str, int] = field(default_factory=dict)
    sample_size: int = 0


@dataclass(frozen=True)
class ComparisonStratum:
    """The CVR stratum: ``ballots`` cards, reported ``tally``, misstatements per (winner, loser), ``sample_size``."""

    ballots: int
    tally: Mapping[str, int]
    misstatements: Mapping[tuple[str, str], Misstatements] = field(default_factory=dict)
    sample_size: int = 0


def _comparison_p_values(stratum: ComparisonStratum, reported_margin: int, winner: str, loser: str,
                         lambdas: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    if stratum.sample_size == 0 or reported_margin == 0:
        return np.ones(lambdas.shape)
    if stratum.sample_size == stratum.ballots:
        return np.zeros(lambdas.shape)
    m = stratum.misstatements.get((winner, loser), Misstatements())
    u_s = 2 * stratum.ballots / reported_margin
    multiplier = 1 - lambdas / (gamma * u_s)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_p = (stratum.sample_size * np.log(multiplier) - m.o1 * math.log(1 - 1 / (2 * gamma))
                 - m.o2 * math.log(1 - 1 / gamma) - m.u1 * math.log(1 + 1 / (2 * gamma))
                 - m.u2 * math.log(1 + 1 / gamma))
        p = np.minimum(np.exp(log_p), 1.0)
    return np.where(multiplier <= 0, 1.0, p)  # λ too large for this stratum: not a valid alternative


def comparison_stratum_p_value(stratum: ComparisonStratum, reported_margin: int, winner: str, loser: str,
                               null_lambda: float, *, gamma: float = GAMMA) -> float:
    """Kaplan–Markov p-value that the CVR stratum overstates the margin by at least λ·V (SUITE §3.2)."""
    return float(_comparison_p_values(stratum, reported_margin, winner, loser, np.array([float(null_lambda)]),
                                      gamma)[0])


def _log_falling(top, count: int):
    """Σ_{i<count} ln(top − i) = ln Γ(top + 1) − ln Γ(top − count + 1): the without-replacement likelihood."""
    if count <= 0:
        return np.zeros(np.shape(top)) if np.ndim(top) else 0.0
    return special.gammaln(np.asarray(top, float) + 1) - special.gammaln(np.asarray(top, float) - count + 1)


def _harmonic_falling(top, count: int):
    """Σ_{i<count} 1/(top − i) = ψ(top + 1) − ψ(top − count + 1): the derivative of ``_log_falling``."""
    if count <= 0:
        return np.zeros(np.shape(top))
    return special.digamma(np.asarray(top, float) + 1) - special.digamma(np.asarray(top, float) - count + 1)


def _polling_p_values(stratum: PollingStratum, reported_margin: int, winner: str, loser: str,
                      lambdas: np.ndarray) -> np.ndarray:
    if stratum.sample_size == 0 or reported_margin == 0:
        return np.ones(lambdas.shape)
    n_w, n_l = stratum.sample_tally.get(winner, 0), stratum.sample_tally.get(loser, 0)
    n_u = stratum.sample_size - n_w - n_l
    v_w, v_l = stratum.tally[winner], stratum.tally[loser]
    v_u = stratum.ballots - v_w - v_l
    if not (v_w >= n_w and v_l >= n_l and v_u >= n_u):
        return np.ones(lambdas.shape)
    big_n = stratum.ballots
    null_margin = (v_w - v_l) - lambdas * reported_margin
    alt = _log_falling(v_w, n_w) + _log_falling(v_l, n_l) + _log_falling(v_u, n_u)

    def null(n_winner):
        return (_log_falling(n_winner, n_w) + _log_falling(n_winner - null_margin, n_l)
                + _log_falling(big_n - 2 * n_winner + null_margin, n_u))

    def score(n_winner):
        return (_harmonic_falling(n_winner, n_w) + _harmonic_falling(n_winner - null_margin, n_l)
                - 2 * _harmonic_falling(big_n - 2 * n_winner + null_margin, n_u))

    upper = (big_n - n_u + null_margin) / 2.0
    lower = np.maximum(n_w, n_l + null_margin)
    impossible = (upper < n_w) | ((upper - null_margin) < n_l)  # the null cannot produce this sample: p = 0
    upper, lower = np.where(impossible, lower + 1, upper), np.where(impossible, lower, lower)
    with np.errstate(invalid="ignore", divide="ignore"):
        at_upper, at_lower = score(upper), score(lower)
        endpoint = at_upper * at_lower > 0
        nuisance = np.where(null(upper) >= null(lower), upper, lower)
        # interior maximum: the score's root, for every λ at once, by the Illinois variant of regula falsi
        # (bracketing, superlinear; the score decreases in N_w because the log-likelihood is concave)
        a, b, f_a, f_b = lower.copy(), upper.copy(), at_lower.copy(), at_upper.copy()
        done = endpoint | impossible
        side = np.zeros(a.shape)
        root = (a + b) / 2
        for _ in range(200):
            denominator = np.where(done, 1.0, f_b - f_a)
            c = np.where(done, root, (a * f_b - b * f_a) / denominator)
            c = np.where(np.isfinite(c), c, (a + b) / 2)
            f_c = np.where(done, 0.0, score(c))
            moved = np.abs(c - root)
            root = c
            keep_b = np.sign(f_c) == np.sign(f_b)
            b, f_b = np.where(keep_b, c, b), np.where(keep_b, f_c, f_b)
            f_a = np.where(keep_b & (side == -1), f_a / 2, f_a)
            a, f_a = np.where(keep_b, a, c), np.where(keep_b, f_a, f_c)
            f_b = np.where(~keep_b & (side == 1), f_b / 2, f_b)
            side = np.where(keep_b, -1, 1)
            done = done | (f_c == 0) | (moved <= 1e-14 * np.maximum(1.0, np.abs(c)))
            if np.all(done):
                break
        nuisance = np.where(endpoint, nuisance, root)
        log_lr = alt - null(nuisance)
        p = np.where(log_lr > 700, 0.0, np.minimum(1.0, np.exp(-np.minimum(log_lr, 700))))
    return np.where(impossible, 0.0, p)


def polling_stratum_p_value(stratum: PollingStratum, reported_margin: int, winner: str, loser: str,
                            null_lambda: float) -> float:
    """SPRT p-value, sampling without replacement, that the no-CVR stratum's margin is at most
    (v_w − v_l) − λ·V, maximized over the nuisance parameter N_w, the stratum's winner votes under the null
    (SUITE §3.3; Arlo ``BallotPollingStratum.compute_pvalue``): the maximum is at the score's root or at an end
    of the feasible range. Likelihoods are falling factorials, computed with ln Γ and ψ (not sums over the sample)."""
    return float(_polling_p_values(stratum, reported_margin, winner, loser, np.array([float(null_lambda)]))[0])


def fisher_combined_p_value(alpha: float, contest: ReportedContest, polling: PollingStratum,
                            comparison: ComparisonStratum, winner: str, loser: str, *,
                            stepsize: float = 0.05) -> float:
    """The largest Fisher-combined p-value over the split λ of the error between the strata (Arlo
    ``maximize_fisher_combined_pvalue``, from CORLA18): a grid over the feasible λ, refined ten-fold around the
    maximum until the modulus of continuity of Fisher's statistic is within the distance to the risk limit.
    Each grid is evaluated in one vectorized pass over its λ values."""
    c_w, c_l, p_w, p_l = comparison.tally[winner], comparison.tally[loser], polling.tally[winner], polling.tally[loser]
    margin = c_w - c_l + p_w - p_l
    reported_margin = contest.tally[winner] - contest.tally[loser]
    if margin != reported_margin:
        raise ConfigError(f"contest {contest.name!r}: the strata's margins ({margin}) do not add up to the contest's "
                          f"({reported_margin}) for {winner} vs {loser}")
    if margin == 0:
        return 1.0
    lam_low = max(c_w - c_l - comparison.ballots, margin - (p_w - p_l + polling.ballots)) / margin
    lam_high = min(c_w - c_l + comparison.ballots, margin - (p_w - p_l - polling.ballots)) / margin
    s_w, s_l = polling.sample_tally.get(winner, 0), polling.sample_tally.get(loser, 0)
    s_u = polling.sample_size - s_w - s_l

    def modulus(delta: float) -> float:
        t2 = 2 * comparison.sample_size * math.log(1 + reported_margin * delta / (2 * comparison.ballots * GAMMA))
        return (2 * s_w * math.log(1 + reported_margin * delta) + 2 * s_l * math.log(1 + reported_margin * delta)
                + 2 * s_u * math.log(1 + 2 * reported_margin * delta) + t2)

    while True:
        lambdas = np.arange(lam_low, lam_high + stepsize, stepsize)
        if len(lambdas) < 5:
            stepsize = (lam_high + 1 - lam_low) / 5
            lambdas = np.arange(lam_low, lam_high + stepsize, stepsize)
        p1 = np.minimum(1.0, _comparison_p_values(comparison, reported_margin, winner, loser, lambdas))
        p2 = np.minimum(1.0, _polling_p_values(polling, reported_margin, winner, loser, 1 - lambdas))
        with np.errstate(divide="ignore"):
            statistic = -2 * (np.log(p1) + np.log(p2))
        # 1 − cdf as Arlo writes it (not sf), so that the values agree to the last digits
        combined = np.where((p1 == 0) | (p2 == 0), 0.0, 1 - stats.chi2.cdf(statistic, df=4))
        p_value = float(np.max(combined))
        best = float(lambdas[np.argmax(combined)])
        if p_value > alpha:
            return min(p_value, 1.0)
        distance = abs(stats.chi2.ppf(1 - p_value, df=4) - stats.chi2.ppf(1 - alpha, df=4))
        if modulus(stepsize) <= distance:
            return min(p_value, 1.0)
        lam_low, lam_high, stepsize = best - 2 * stepsize, best + 2 * stepsize, stepsize / 10


def suite_risk(contest: ReportedContest, polling: PollingStratum, comparison: ComparisonStratum,
               risk_limit: float, *, comparison_counted: bool = False) -> tuple[float, bool]:
    """The largest combined p-value over the contest's winner–loser pairs, and whether it meets the risk limit.

    A stratum counted in full is no longer sampled: its margin is known, and the other stratum alone must show
    that the overall margin survives. The no-CVR stratum is sampled without replacement, so a sample of all its
    cards is its count (margin: the sample's); the CVR stratum is sampled with replacement, so the caller says
    when it was compared card by card in full (``comparison_counted``; its margin is then the reported one less
    the overstatements found, understatements not credited). The other stratum's null is then "its true margin is
    at most minus the counted one" (p = 1 when the counted margin already loses). Arlo raises in these cases."""
    alpha = risk_limit_fraction(risk_limit)
    p_values = []
    for w, l in contest.pairs:
        polling_done = polling.sample_size >= polling.ballots
        margin = contest.tally[w] - contest.tally[l]
        if margin == 0:
            p_values.append(1.0)
            continue
        counted_polling = polling.sample_tally.get(w, 0) - polling.sample_tally.get(l, 0)
        found = comparison.misstatements.get((w, l), Misstatements())
        counted_cvr = comparison.tally[w] - comparison.tally[l] - (found.o1 + 2 * found.o2)
        if polling_done and comparison_counted:
            p_values.append(0.0 if counted_polling + counted_cvr > 0 else 1.0)
        elif polling_done:
            needed = comparison.tally[w] - comparison.tally[l] + counted_polling  # overstatement that loses
            p_values.append(1.0 if needed <= 0 else
                            comparison_stratum_p_value(comparison, margin, w, l, needed / margin))
        elif comparison_counted:
            needed = polling.tally[w] - polling.tally[l] + counted_cvr
            p_values.append(1.0 if needed <= 0 else polling_stratum_p_value(polling, margin, w, l, needed / margin))
        else:
            p_values.append(fisher_combined_p_value(alpha, contest, polling, comparison, w, l))
    p = max(p_values) if p_values else 1.0
    return p, p <= alpha


def _try_size(n: int, alpha: float, contest: ReportedContest, winner: str, loser: str, polling: PollingStratum,
              comparison: ComparisonStratum, cvr_share: float) -> float:
    """The combined p-value a total sample of n cards would give if what was seen so far continues (Arlo
    ``try_n``): misstatements at the observed rates (overstatements rounded up, understatements down), the
    polling sample at the observed (or, before any sample, the reported) proportions."""
    n1_before, n2_before = comparison.sample_size, polling.sample_size
    seen = comparison.misstatements.get((winner, loser), Misstatements())
    rates = ((seen.o1 / n1_before, seen.o2 / n1_before, seen.u1 / n1_before, seen.u2 / n1_before)
             if n1_before else (0.0, 0.0, 0.0, 0.0))
    n1 = math.ceil(cvr_share * n)
    n2 = int(n - n1)
    if n1 < n1_before or n2 < n2_before:
        return 1.0
    more = n - n1_before
    projected = Misstatements(o1=math.ceil(rates[0] * more) + seen.o1, o2=math.ceil(rates[1] * more) + seen.o2,
                              u1=math.floor(rates[2] * more) + seen.u1, u2=math.floor(rates[3] * more) + seen.u2)
    hyp_comparison = replace(comparison, misstatements={(winner, loser): projected}, sample_size=n1)
    if n2_before == 0:
        extra = {winner: min(int(n2 * (polling.tally[winner] / polling.ballots)), polling.tally[winner]),
                 loser: min(math.ceil(n2 * (polling.tally[loser] / polling.ballots)), polling.tally[loser])}
    else:
        extra = {winner: min(int((n2 - n2_before) * (polling.sample_tally.get(winner, 0) / n2_before)),
                             polling.tally[winner]),
                 loser: min(math.ceil((n2 - n2_before) * (polling.sample_tally.get(loser, 0) / n2_before)),
                            polling.tally[loser])}
    hyp_tally = dict(polling.sample_tally)
    for choice, votes in extra.items():
        hyp_tally[choice] = hyp_tally.get(choice, 0) + votes
    hyp_polling = replace(polling, sample_tally=hyp_tally, sample_size=min(polling.ballots, n2))
    return fisher_combined_p_value(alpha, contest, hyp_polling, hyp_comparison, winner, loser)


def _size_for_pair(alpha: float, contest: ReportedContest, polling: PollingStratum, comparison: ComparisonStratum,
                   winner: str, loser: str) -> tuple[int, int]:
    cvr_share = comparison.ballots / (comparison.ballots + polling.ballots)
    n = max(MIN_SAMPLE_SIZE, comparison.sample_size + polling.sample_size)
    coefficient = 2.0 if polling.sample_size == 0 and comparison.sample_size == 0 else 1.1
    expected = 1.0
    while expected > alpha:  # grow geometrically until the risk limit is reached (as CORLA18's estimate_n)
        n = int(coefficient * n)
        if n > contest.ballots:
            cvr_n = math.ceil(cvr_share * contest.ballots)
            return cvr_n, int(contest.ballots - cvr_n)
        expected = _try_size(n, alpha, contest, winner, loser, polling, comparison, cvr_share)
    low, high, mid_p = n / coefficient, n, 1.0
    while mid_p > alpha or mid_p < 0.8 * alpha:  # bisect down to a size within 80–100 % of the risk limit
        mid = int(np.floor((low + high) / 2))
        if mid in (low, high):
            break
        mid_p = _try_size(mid, alpha, contest, winner, loser, polling, comparison, cvr_share)
        if mid_p <= alpha:
            high = mid
        else:
            low = mid
    cvr_n = int(math.ceil(cvr_share * high))
    return cvr_n, int(math.ceil(high - cvr_n))


def suite_sample_size(contest: ReportedContest, polling: PollingStratum, comparison: ComparisonStratum,
                      risk_limit: float) -> tuple[int, int]:
    """(CVR-stratum size, no-CVR-stratum size) for the next round (Arlo ``suite.get_sample_size``): the first
    round sizes the closest pair (weakest winner vs strongest loser), later rounds the pair needing most."""
    alpha = risk_limit_fraction(risk_limit)
    if polling.sample_size == 0 and comparison.sample_size == 0:
        worst_winner = min(contest.winners, key=lambda c: contest.tally[c])
        best_loser = max(contest.losers, key=lambda c: contest.tally[c])
        size = _size_for_pair(alpha, contest, polling, comparison, worst_winner, best_loser)
    else:
        sizes = [_size_for_pair(alpha, contest, polling, comparison, w, l) for w, l in contest.pairs]
        size = sorted(sizes, key=sum, reverse=True)[0]
    if size[0] == comparison.ballots or size[1] == polling.ballots:
        raise ConfigError(f"contest {contest.name!r}: one or both strata need a full hand count")
    return size
