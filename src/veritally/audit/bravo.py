"""BRAVO ballot-polling audits (Wald's SPRT per winner–loser pair), with Arlo's risk and sample-size semantics.

Lindeman, M., Stark, P.B. & Yates, V.S. (2012) "BRAVO: Ballot-polling Risk-limiting Audits to Verify Outcomes",
EVT/WOTE'12. For each reported winner w and loser l, with s_wl = s_w/(s_w + s_l) the winner's reported share of
the two-way vote, the test statistic after a sample with n_w votes for w and n_l for l is

    T_wl = (s_wl/½)^{n_w} ((1 − s_wl)/½)^{n_l},        p_wl = min(1, 1/T_wl),

and the contest is confirmed when every p_wl ≤ α. Ballots showing neither w nor l leave T_wl unchanged. The
sequential form (one draw at a time) is ``sprt.wald_sprt`` with x ∈ {0, ½, 1} and η = s_wl.

Everything here reproduces votingworks/arlo @8d86156 ``server/audit_math/bravo.py`` number for number (its
tests are the vectors in conformance/rla-vectors/arlo_bravo.json), computed in logarithms with floats where
Arlo uses ``Decimal`` powers. Sample sizes: the ASN (BRAVO §9 approximation), and Mark Lindeman's analytic size
for a given chance of finishing in one round (as Arlo computes the 70/80/90 % options).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from scipy import stats

from ..errors import ConfigError
from .contest import ContestRisk, ReportedContest, risk_limit_fraction

__all__ = [
    "bravo_log_statistics",
    "bravo_risk",
    "bravo_asn",
    "bravo_quantile_sample_size",
    "bravo_expected_prob",
    "bravo_sample_size_options",
    "SampleSizeOption",
    "LARGE_ELECTION_BALLOTS",
    "FULL_COUNT_SHARE",
]

#: Arlo recommends a full hand count instead of a polling audit when a contest has more ballots than this …
LARGE_ELECTION_BALLOTS = 100_000
#: … and the 90 % sample would be at least this share of them (less work overall to count everything).
FULL_COUNT_SHARE = 0.25
#: The chances of finishing in one round offered as sample-size options (Arlo's quantiles).
QUANTILES = (0.7, 0.8, 0.9)


@dataclass(frozen=True)
class SampleSizeOption:
    """One sample-size option: ``kind`` is ``"asn"``, ``"quantile"`` or ``"all-ballots"``; ``prob`` the chance
    of finishing in one round if the reported outcome is right (None where Arlo cannot compute it)."""

    kind: str
    size: int
    prob: float | None


def _sample_counts(contest: ReportedContest, sample: Mapping[str, int] | None) -> dict[str, int]:
    counts = {choice: 0 for choice in contest.tally}
    for choice, votes in (sample or {}).items():
        if choice not in counts:
            raise ConfigError(f"contest {contest.name!r}: sampled votes for {choice!r}, which is not a reported choice")
        if votes < 0:
            raise ConfigError(f"contest {contest.name!r}: negative sampled votes for {choice!r}")
        counts[choice] = int(votes)
    return counts


def bravo_log_statistics(contest: ReportedContest, sample: Mapping[str, int] | None) -> dict[tuple[str, str], float]:
    """ln T_wl for every winner–loser pair (``(w, "")`` with ln T = 0 when the contest has no loser).

    A choice with no sampled votes contributes nothing (Arlo skips it, which also avoids 0·ln 0); a sampled
    vote for a loser whose reported share is 0 makes T = 0 (ln T = −inf): the reported outcome is contradicted.
    """
    counts = _sample_counts(contest, sample)
    if not contest.losers:
        return {(w, ""): 0.0 for w in contest.winners}
    log_t: dict[tuple[str, str], float] = {}
    for w, l in contest.pairs:
        s_wl = contest.pairwise_share(w, l)
        value = 0.0
        if counts[w]:
            value += counts[w] * math.log(s_wl / 0.5) if s_wl > 0 else -math.inf
        if counts[l]:
            value += counts[l] * math.log((1 - s_wl) / 0.5) if s_wl < 1 else -math.inf
        log_t[(w, l)] = value
    return log_t


def bravo_risk(contest: ReportedContest, sample: Mapping[str, int] | None, risk_limit: float, *,
               full_count_rule: bool = True) -> ContestRisk:
    """BRAVO p-value per pair from the cumulative sample tally (Arlo ``bravo.compute_risk``).

    ``sample`` maps choices to sampled votes (all rounds together). With ``full_count_rule`` (Arlo's), sampled
    votes adding up to the contest's ballots are taken for a full hand count: every p-value 0, confirmed. Arlo
    samples with replacement, so that rule can fire on a sample that is not a hand count (e.g. 40 A and 60 B votes
    of a 100-ballot contest reported for A); the audit workflow, which knows when every card was read, turns it off.
    """
    alpha = risk_limit_fraction(risk_limit)
    counts = _sample_counts(contest, sample)
    log_t = bravo_log_statistics(contest, counts)
    if full_count_rule and sum(counts.values()) >= contest.ballots:
        return ContestRisk({pair: 0.0 for pair in log_t}, 0.0, True)
    p_values = {pair: (1.0 if lt == -math.inf else min(1.0, math.exp(-lt))) for pair, lt in log_t.items()}
    confirmed = all(lt != -math.inf and -lt <= math.log(alpha) for lt in log_t.values()) if alpha > 0 else False
    return ContestRisk(p_values, max(p_values.values()), confirmed)


def _two_way(p_w: float, p_l: float, sample_w: int, sample_l: int, alpha: float):
    # Decimal, as Arlo computes these closed forms: a size is a ceiling, and Arlo's 28-digit arithmetic puts
    # some quotients a hair above an integer where binary floats land on it (0.36 + 0.32 is one such case).
    p_w, p_l = Decimal(p_w), Decimal(p_l)
    p_wl = p_w + p_l
    s_w = p_w / p_wl
    plus = (s_w / Decimal(0.5)).ln()
    minus = ((1 - s_w) / Decimal(0.5)).ln()
    threshold = (1 / Decimal(str(alpha))).ln() - (sample_w * plus + sample_l * minus)
    return p_wl, s_w, plus, minus, threshold


def bravo_quantile_sample_size(alpha: float, p_w: float, p_l: float, sample_w: int, sample_l: int,
                               p_completion: float, total_ballots: int) -> int:
    """Sample size with chance ``p_completion`` of finishing in one round if the outcome is right (Lindeman).

    Solves E_x = R_x, with E_x = n s + z √(n s (1 − s)) the (1 − p_completion) quantile of the winner's votes
    among n two-way votes (normal approximation, z = −Φ⁻¹(p_completion)) and R_x = (threshold − n ln(2(1 − s)))
    /(ln 2s − ln 2(1 − s)) the fewest winner votes that reach the risk limit; then steps n up until the exact
    binomial quantile reaches the threshold, and inflates by 1/(p_w + p_l) for ballots with neither vote
    (Arlo ``bravo.bravo_sample_sizes``). 0 when the sample so far already suffices.
    """
    if not 0 < p_completion < 1:
        raise ConfigError(f"the chance of finishing in one round must be in (0, 1), not {p_completion}")
    if not 0 < alpha < 1:
        raise ConfigError(f"the risk limit must be in (0, 1) for a sample size, not {alpha}")
    p_wl, s_w, plus, minus, threshold = _two_way(p_w, p_l, sample_w, sample_l, alpha)
    if threshold <= 0:
        return 0
    z = Decimal(-stats.norm.ppf(p_completion))
    d = s_w * (1 - s_w)
    f = threshold / (plus - minus)
    g = minus / (plus - minus) + s_w
    q_a, q_b, q_c = g**2, -(z**2 * d + 2 * f * g), f**2
    radical = Decimal(0).max(q_b**2 - 4 * q_a * q_c).sqrt()
    size = math.floor((-q_b + radical) / (2 * q_a) if p_completion > 0.5 else (-q_b - radical) / (2 * q_a))
    test_stat = Decimal("NaN")
    while test_stat.is_nan() or (test_stat < threshold and size < total_ballots):
        x_c = Decimal(float(stats.binom.ppf(1.0 - p_completion, size, float(s_w))))
        test_stat = x_c * plus + (size - x_c) * minus
        if test_stat.is_nan() or test_stat < threshold:
            size += 1
    return math.ceil(size / p_wl)


def bravo_expected_prob(alpha: float, p_w: float, p_l: float, sample_w: int, sample_l: int, asn: int) -> float:
    """Chance (to 2 decimals) that a sample of ``asn`` ballots finishes in one round: the inverse of
    ``bravo_quantile_sample_size``'s normal approximation (Arlo ``bravo.expected_prob``)."""
    p_wl, s_w, plus, minus, threshold = _two_way(p_w, p_l, sample_w, sample_l, alpha)
    if threshold <= 0:
        return 0.0
    n = asn * p_wl
    r_x = (threshold - minus * n) / (plus - minus)
    z = (r_x - n * s_w) / (n * s_w * (1 - s_w)).sqrt()
    return round(float(stats.norm.cdf(float(-z))), 2)


def bravo_asn(contest: ReportedContest, sample: Mapping[str, int] | None, risk_limit: float) -> SampleSizeOption:
    """Average sample number (BRAVO §9), the largest over winner–loser pairs, given the sample so far:

        ASN = ⌈ (ln(1/(α T_wl)) + ln(2 s)/2) / (p_w ln 2s + p_l ln(2 − 2s)) ⌉,   s = p_w/(p_w + p_l),

    with ``prob`` from ``bravo_expected_prob`` for one-winner contests (Arlo ``get_expected_sample_size``,
    in Decimal arithmetic as Arlo).
    """
    alpha = risk_limit_fraction(risk_limit)
    if alpha == 0:
        raise ConfigError("a risk limit of 0 means a full hand count: there is no ASN")
    if _is_tie(contest):
        raise ConfigError(f"contest {contest.name!r} is tied: there is no ASN (audit every ballot)")
    if not contest.losers:
        raise ConfigError(f"contest {contest.name!r} has no losers: there is no ASN")
    counts = _sample_counts(contest, sample)
    log_t = bravo_log_statistics(contest, counts)
    size, worst = 0, None
    for w, l in contest.pairs:
        p_w, p_l = Decimal(contest.share_of_ballots(w)), Decimal(contest.share_of_ballots(l))
        if p_l == 0:
            continue
        s_w = p_w / (p_w + p_l)
        z_w, z_l = (2 * s_w).ln(), (2 - 2 * s_w).ln()
        log_weighted_alpha = (1 / Decimal(str(alpha))).ln() - Decimal(log_t[(w, l)])
        possible = math.ceil((log_weighted_alpha + z_w / 2) / (p_w * z_w + p_l * z_l))
        if possible > size:
            size, worst = possible, (float(p_w), float(p_l), counts[w], counts[l])
    if size == 0:
        raise ConfigError(f"contest {contest.name!r}: the sample already meets the risk limit")
    prob = None
    if worst is not None and contest.num_winners == 1:
        prob = bravo_expected_prob(alpha, *worst, size)
    return SampleSizeOption("asn", size, prob)


def _is_tie(contest: ReportedContest) -> bool:
    if not contest.losers:
        return False
    return min(contest.tally[w] for w in contest.winners) == max(contest.tally[l] for l in contest.losers)


def bravo_sample_size_options(contest: ReportedContest, sample: Mapping[str, int] | None, risk_limit: float,
                              *, already_sampled: int = 0) -> dict[str, SampleSizeOption]:
    """Arlo's sample-size options for a BRAVO round (``bravo.get_sample_size``): ``"asn"``, ``"0.7"``,
    ``"0.8"``, ``"0.9"`` (one-winner contests), or only ``"all-ballots"`` when the risk limit is 0, the contest is
    tied, or it is large (> 100,000 ballots) and the 90 % option would audit ≥ 25 % of it. A landslide (every
    loser at 0 votes) needs one ballot. ``already_sampled`` is the number of ballots drawn in earlier rounds.
    """
    alpha = risk_limit_fraction(risk_limit)
    all_ballots = {"all-ballots": SampleSizeOption("all-ballots", contest.ballots, None)}
    if alpha == 0:
        return all_ballots
    if already_sampled >= contest.ballots:
        raise ConfigError(f"contest {contest.name!r}: every ballot has already been audited")
    if not contest.losers:
        raise ConfigError(f"contest {contest.name!r} has no losers to audit against")
    if _is_tie(contest):
        return all_ballots
    if max(contest.tally[l] for l in contest.losers) == 0:
        return {"asn": SampleSizeOption("asn", 1, 1.0)}
    counts = _sample_counts(contest, sample)
    options = {"asn": bravo_asn(contest, counts, alpha)}
    if contest.num_winners != 1:
        return options
    for quantile in QUANTILES:
        size = 0
        for w, l in contest.pairs:
            p_w, p_l = contest.share_of_ballots(w), contest.share_of_ballots(l)
            if p_l == 0:
                continue
            size = max(size, bravo_quantile_sample_size(alpha, p_w, p_l, counts[w], counts[l], quantile,
                                                        contest.ballots))
        if size:
            options[str(quantile)] = SampleSizeOption("quantile", size, quantile)
    if (contest.ballots > LARGE_ELECTION_BALLOTS and "0.9" in options
            and options["0.9"].size >= contest.ballots * FULL_COUNT_SHARE):
        return all_ballots
    return options
