"""Super-simple ballot-level comparison audits (Kaplan–Markov with error inflation γ), with Arlo's semantics.

Stark, P.B. (2010) "Super-Simple Simultaneous Single-Ballot Risk-Limiting Audits", EVT/WOTE'10; Lindeman & Stark
(2012) "A Gentle Introduction to Risk-Limiting Audits" (AGI), IEEE Security & Privacy. With diluted margin μ
(smallest winner–loser margin over all ballots cast), inflation γ ≥ 1 and U = 2γ/μ, each audited ballot i
multiplies the p-value by (1 − 1/U)/(1 − e_i/(2γ/V)), where e_i is its overstatement in votes divided by the
pair's margin V_wl and V = μN is the smallest margin in votes; so a clean sample of n ballots gives

    p = (1 − μ/(2γ))^n,  × 1/(1 − 1/(2γ)) per 1-vote overstatement,  × 1/(1 − 1/γ) per 2-vote overstatement.

Understatements are not credited (clipped to 0), a ballot that cannot be found or has no CVR counts as a 2-vote
overstatement (conservative, as Arlo does). ``supersimple_nmin`` is the sample size that attains α given
o1, o2, u1, u2 discrepancies (AGI p. 5); ``supersimple_sample_size`` pads it with expected error rates.

Reproduces votingworks/arlo @8d86156 ``server/audit_math/supersimple.py`` (vectors: arlo_supersimple.json) and
nealmcb/rlacalc (rlacalc.json, stark_supersimple_derived.json; rlacalc's ``u1+u1`` typo in nmin's floor is not
copied).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .contest import ReportedContest, risk_limit_fraction

__all__ = [
    "GAMMA",
    "DEFAULT_RATES",
    "Discrepancies",
    "comparison_discrepancies",
    "supersimple_p_value",
    "supersimple_risk",
    "supersimple_nmin",
    "supersimple_sample_size",
    "km_expected_sample_size",
    "km_expected_sample_size_rounded",
    "km_p_value",
    "nmin_from_rates",
    "rho",
]

#: Error inflation used in Stark's online tools, AGI and ColoradoRLA (and Arlo).
GAMMA = 1.03905
#: Arlo's assumed discrepancy rates for a first round: 1-vote over/under 1 in 1,000; 2-vote 1 in 10,000.
DEFAULT_RATES = {"o1": 0.001, "o2": 0.0001, "u1": 0.001, "u2": 0.0001}


@dataclass(frozen=True)
class Discrepancies:
    """Per audited ballot: the largest overstatement over winner–loser pairs (in votes: −2…2; 0 = none) and the
    matching weighted error (overstatement / that pair's reported margin; inf when the margin is ≤ 0)."""

    counted_as: np.ndarray
    weighted_error: np.ndarray


def comparison_discrepancies(contest: ReportedContest, choices: Sequence[str], reported: np.ndarray,
                             audited: np.ndarray, *, reported_missing: np.ndarray | None = None,
                             audited_missing: np.ndarray | None = None,
                             reported_overvote: np.ndarray | None = None,
                             reported_undervote: np.ndarray | None = None) -> Discrepancies:
    """Overstatements of the audited ballots, vectorized (Arlo ``supersimple.compute_discrepancies``).

    ``reported`` and ``audited`` are (n × k) 0/1 vote arrays over ``choices`` (a row of zeros where the CVR or
    the paper does not show the contest). ``reported_missing``/``audited_missing`` flag a ballot with no CVR or
    that the audit board could not find: a 2-vote overstatement. ``reported_overvote``/``reported_undervote``
    flag CVRs that record only "overvote"/"undervote" for the contest (ES&S): no error if the board also saw
    one, else the error against a CVR with (1, 1)/(0, 0) for the pair. For each ballot the pair with the
    largest *weighted* overstatement counts — e_i = max over pairs of overstatement/V_wl, as Stark (2010) defines
    it (the first such pair in winner-then-loser order). Arlo takes the pair with the most votes of overstatement
    instead, which can understate e_i (a 2-vote error on a wide pair beside a 1-vote error on the tightest one);
    the two agree whenever only one pair errs, as in all of Arlo's test vectors.
    """
    index = {c: i for i, c in enumerate(choices)}
    reported = np.asarray(reported, dtype=np.int64)
    audited = np.asarray(audited, dtype=np.int64)
    n = reported.shape[0]
    if reported.shape != audited.shape or reported.ndim != 2 or reported.shape[1] != len(choices):
        raise ConfigError(f"reported {reported.shape} and audited {audited.shape} must both be (ballots × {len(choices)})")
    missing = np.zeros(n, bool)
    for flags in (reported_missing, audited_missing):
        if flags is not None:
            missing |= np.asarray(flags, bool)
    over = np.zeros(n, bool) if reported_overvote is None else np.asarray(reported_overvote, bool)
    under = np.zeros(n, bool) if reported_undervote is None else np.asarray(reported_undervote, bool)
    audited_votes = audited.sum(axis=1)
    best_count = np.zeros(n, np.int64)
    best_weight = np.zeros(n, float)
    found = np.zeros(n, bool)
    for w, l in contest.pairs:
        a_w, a_l = audited[:, index[w]], audited[:, index[l]]
        error = (reported[:, index[w]] - a_w) - (reported[:, index[l]] - a_l)
        error = np.where(over, np.where(audited_votes > 1, 0, (1 - a_w) - (1 - a_l)), error)
        error = np.where(under & ~over, np.where(audited_votes < 1, 0, (0 - a_w) - (0 - a_l)), error)
        error = np.where(missing, 2, error)
        margin = contest.tally[w] - contest.tally[l]
        weight = error / margin if margin > 0 else np.where(error != 0, np.inf, 0.0)
        better = (error != 0) & (~found | (weight > best_weight))
        best_count = np.where(better, error, best_count)
        best_weight = np.where(better, weight, best_weight)
        found |= error != 0
    return Discrepancies(best_count, best_weight)


def supersimple_p_value(weighted_errors: np.ndarray, times_sampled: np.ndarray | None, *, diluted_margin: float,
                        ballots: int, gamma: float = GAMMA, full_count_rule: bool = True) -> float:
    """Super-simple p-value over the audited ballots (Arlo ``supersimple.compute_risk``, before the decision).

    p = Π_i [(1 − 1/U)/(1 − max(e_i, 0)·V/(2γ))]^{times sampled}, U = 2γ/μ, V = μN. A tied contest (μ = 0) has
    p = 1. With ``full_count_rule`` (Arlo's), draws adding up to the ballots are taken for a full hand count
    (p = 0); with replacement they need not be one, so the audit workflow turns it off.
    """
    if ballots <= 0:
        raise ConfigError("a contest with no ballots has nothing to audit")
    e = np.maximum(np.asarray(weighted_errors, dtype=float), 0.0)
    mult = np.ones(e.shape, np.int64) if times_sampled is None else np.asarray(times_sampled, np.int64)
    if full_count_rule and int(mult.sum()) >= ballots:
        return 0.0
    if diluted_margin == 0:
        return 1.0
    u_total = 2 * gamma / diluted_margin
    v = diluted_margin * ballots
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = (1 - 1 / u_total) / (1 - e * v / (2 * gamma))
        log_p = float(np.sum(mult * np.log(factors))) if np.all(factors > 0) else math.inf
    return min(1.0, math.exp(log_p)) if log_p < 700 else 1.0


def supersimple_risk(contest: ReportedContest, weighted_errors: np.ndarray, times_sampled: np.ndarray | None,
                     risk_limit: float, *, gamma: float = GAMMA, full_count_rule: bool = True) -> tuple[float, bool]:
    """(p, confirmed) for one contest: confirmed when 0 < p < α, or (``full_count_rule``, Arlo's) when the draws
    add up to the ballots."""
    alpha = risk_limit_fraction(risk_limit)
    if contest.ballots <= 0:
        raise ConfigError(f"contest {contest.name!r} has no ballots: nothing to audit")
    mult = np.ones(np.shape(weighted_errors), np.int64) if times_sampled is None else np.asarray(times_sampled)
    if full_count_rule and int(np.sum(mult)) >= contest.ballots:
        return 0.0, True
    p = supersimple_p_value(weighted_errors, times_sampled, diluted_margin=contest.diluted_margin,
                            ballots=contest.ballots, gamma=gamma, full_count_rule=full_count_rule)
    return p, 0 < p < alpha


def _log_factors(gamma: float) -> tuple[float, float, float, float]:
    return (math.log(1 - 1 / (2 * gamma)), math.log(1 - 1 / gamma), math.log(1 + 1 / (2 * gamma)),
            math.log(1 + 1 / gamma))


def supersimple_nmin(alpha: float, diluted_margin: float, o1: int = 0, o2: int = 0, u1: int = 0, u2: int = 0,
                     *, gamma: float = GAMMA) -> int:
    """Smallest n that attains α given the discrepancy counts (AGI p. 5; Arlo ``nMin``):

        n = max(o1 + o2 + u1 + u2, ⌈−2γ (ln α + o1 ln(1 − 1/2γ) + o2 ln(1 − 1/γ) + u1 ln(1 + 1/2γ)
                                           + u2 ln(1 + 1/γ)) / μ⌉).
    """
    if min(o1, o2, u1, u2) < 0:
        raise ConfigError(f"discrepancy counts {o1} {o2} {u1} {u2} must all be >= 0")
    if not 0 < alpha < 1:
        raise ConfigError(f"the risk limit must be in (0, 1) for a sample size, not {alpha}")
    if not 0 < diluted_margin <= 1:
        raise ConfigError(f"diluted margin {diluted_margin} must be in (0, 1]")
    l1, l2, l3, l4 = _log_factors(gamma)
    bound = math.ceil(-2 * gamma * (math.log(alpha) + o1 * l1 + o2 * l2 + u1 * l3 + u2 * l4) / diluted_margin)
    return max(o1 + o2 + u1 + u2, bound)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def supersimple_sample_size(contest: ReportedContest, risk_limit: float, *, sample_size: int = 0, o1: int = 0,
                            o2: int = 0, gamma: float = GAMMA) -> int:
    """Ballots still to audit for a super-simple comparison audit (Arlo ``supersimple.get_sample_sizes``).

    First round: error rates r1 = s1 = 0.001, r2 = s2 = 0.0001 pad the size. Later rounds (``sample_size`` > 0):
    the observed overstatement rates o1/n, o2/n, understatement rates 0 (not credited). n0 = ⌈ln α / denom⌉,
    discrepancy counts ⌈r1 n0⌉ and round-half-up(r2 n0), then ``supersimple_nmin``; capped at the ballots cast;
    returns that minus the ballots already sampled. Risk limit 0 means a full hand count.
    """
    alpha = risk_limit_fraction(risk_limit)
    if alpha == 0:
        return contest.ballots
    if sample_size:
        r1, r2, s1, s2 = o1 / sample_size, o2 / sample_size, 0.0, 0.0
    else:
        r1, r2, s1, s2 = DEFAULT_RATES["o1"], DEFAULT_RATES["o2"], DEFAULT_RATES["u1"], DEFAULT_RATES["u2"]
    l1, l2, l3, l4 = _log_factors(gamma)
    margin = contest.diluted_margin
    if margin <= 0:
        return max(contest.ballots - sample_size, 0)
    denom = math.log(1 - margin / (2 * gamma)) - r1 * l1 - r2 * l2 - s1 * l3 - s2 * l4
    if denom >= 0:
        stopping = contest.ballots
    else:
        n0 = math.ceil(math.log(alpha) / denom)
        counts = (math.ceil(r1 * n0), _round_half_up(r2 * n0), math.ceil(s1 * n0), _round_half_up(s2 * n0))
        stopping = min(supersimple_nmin(alpha, margin, counts[0], counts[1], counts[2], counts[3], gamma=gamma),
                       contest.ballots)
    return max(stopping - sample_size, 0)


def km_p_value(n: int, diluted_margin: float, o1: int = 0, o2: int = 0, u1: int = 0, u2: int = 0, *,
               gamma: float = GAMMA) -> float:
    """Kaplan–Markov p-value of a comparison sample of n ballots with the given discrepancy counts:
    (1 − μ/2γ)^n (1 − 1/2γ)^−o1 (1 − 1/γ)^−o2 (1 + 1/2γ)^−u1 (1 + 1/γ)^−u2 (rlacalc ``KM_P_value``; not capped)."""
    return ((1 - diluted_margin / (2 * gamma)) ** n * (1 - 1 / (2 * gamma)) ** (-o1) * (1 - 1 / gamma) ** (-o2)
            * (1 + 1 / (2 * gamma)) ** (-u1) * (1 + 1 / gamma) ** (-u2))


def km_expected_sample_size(alpha: float, diluted_margin: float, or1: float = 0.001, or2: float = 0.0001,
                            ur1: float = 0.001, ur2: float = 0.0001, *, gamma: float = GAMMA) -> float:
    """Expected sample size with discrepancies at the given rates (Stark's S157 notebook; rlacalc
    ``KM_Expected_sample_size``): ⌈ln α / (ln(1 − μ/2γ) − Σ rate·ln factor)⌉, NaN when unbounded."""
    if min(or1, or2, ur1, ur2) < 0:
        raise ConfigError("discrepancy rates must all be >= 0")
    l1, l2, l3, l4 = _log_factors(gamma)
    denom = math.log(1 - diluted_margin / (2 * gamma)) - or1 * l1 - or2 * l2 - ur1 * l3 - ur2 * l4
    return float(math.ceil(math.log(alpha) / denom)) if denom < 0 else math.nan


def km_expected_sample_size_rounded(alpha: float, diluted_margin: float, or1: float = 0.001, or2: float = 0.0001,
                                    ur1: float = 0.001, ur2: float = 0.0001, *, round_up_1: bool = True,
                                    round_up_2: bool = False, gamma: float = GAMMA) -> float:
    """rlacalc's ``KM_Expected_sample_size_rounded``: iterate n ← nmin(counts = rates·n, rounded) from the
    expected size until it is stable (at most 10 times; NaN if it never settles or the size is unbounded).
    Rounding is Python's ``round`` (half to even) where rlacalc rounds, ``ceil`` where it rounds up."""
    n0 = km_expected_sample_size(alpha, diluted_margin, or1, or2, ur1, ur2, gamma=gamma)
    last = n0
    rounds = 10
    for i in range(rounds):
        if math.isnan(n0):
            return math.nan
        r1 = math.ceil if round_up_1 else round
        r2 = math.ceil if round_up_2 else round
        n0 = float(supersimple_nmin(alpha, diluted_margin, r1(or1 * n0), r2(or2 * n0), r1(ur1 * n0),
                                    r2(ur2 * n0), gamma=gamma))
        if n0 == last:
            break
        last = n0
    else:
        return math.nan
    return n0 if i < rounds - 1 else math.nan


def nmin_from_rates(alpha: float, diluted_margin: float, or1: float = 0.001, or2: float = 0.0001,
                    ur1: float = 0.001, ur2: float = 0.0001, *, round_up_1: bool = True, round_up_2: bool = False,
                    gamma: float = GAMMA) -> float:
    """rlacalc's ``nminFromRates`` (after Stark's auditTools.htm): start from
    n0 = −2γ ln α / (μ + 2γ Σ rate·ln factor), then ten times n0 ← nmin(counts = rates·n0, rounded).
    Negative counts (rates so high that n0 < 0) are an error, as in rlacalc."""
    l1, l2, l3, l4 = _log_factors(gamma)
    n0 = -2 * gamma * math.log(alpha) / (diluted_margin + 2 * gamma * (or1 * l1 + or2 * l2 + ur1 * l3 + ur2 * l4))
    r1 = math.ceil if round_up_1 else round
    r2 = math.ceil if round_up_2 else round
    for _ in range(10):
        n0 = float(supersimple_nmin(alpha, diluted_margin, r1(or1 * n0), r2(or2 * n0), r1(ur1 * n0), r2(ur2 * n0),
                                    gamma=gamma))
    return n0


def rho(alpha: float = 0.1, gamma: float = GAMMA, lambda_tolerance: float = 0.2) -> float:
    """Super-simple's sample-size multiplier (Stark 2010, p. 4): audit at least ρ/μ ballots, where

        ρ = −ln α / (1/(2γ) + λ ln(1 − 1/(2γ))),

    and λ is the fraction of the margin that 1-vote overstatements may take without forcing escalation."""
    return -math.log(alpha) / ((1.0 / (2.0 * gamma)) + (lambda_tolerance * math.log(1.0 - (1.0 / (2.0 * gamma)))))
