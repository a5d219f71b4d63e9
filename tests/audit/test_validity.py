"""Validity, proven by simulation: audits of *wrong* outcomes confirm with probability at most α.

For every risk measure, 10,000 audits are simulated in one array (one audit per row) of a population in which
the reported winner did not really win — at the worst case, where the true assorter mean is exactly ½ (a tie in
truth, or just enough overstatement errors to erase the reported margin). An audit "falsely confirms" when its
p-value reaches α before it escalates to a full hand count (here: before its draws run out). The fraction of
false confirmations must be ≤ α up to Monte-Carlo error (three standard errors, √(α(1 − α)/n)).
Power checks: correct outcomes confirm within the planned sample sizes about as often as planned.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from veritally.audit.bravo import bravo_quantile_sample_size
from veritally.audit.contest import ReportedContest
from veritally.audit.risk import (alpha_mart, betting_mart, kaplan_kolmogorov, kaplan_markov, kaplan_wald,
                                  mix_betting_mart, wald_sprt)
from veritally.audit.sizes import first_crossing, simulated_sample_size
from veritally.audit.supersimple import GAMMA, supersimple_nmin, supersimple_sample_size

ALPHA = 0.05
AUDITS = 10_000
#: Allowed excess over α: three Monte-Carlo standard errors of a fraction near α.
SLACK = 3 * math.sqrt(ALPHA * (1 - ALPHA) / AUDITS)


def false_confirmations(p_history: np.ndarray) -> float:
    """Fraction of simulated audits (rows) whose p-value ever reached α (printed: ``pytest -s`` lists them)."""
    rate = float(np.mean((p_history <= ALPHA).any(axis=-1)))
    print(f"false confirmations: {rate:.4f} of {p_history.shape[0]:,} audits")
    return rate


def polling_draws(rng, audits: int, draws: int, *, winner: float, loser: float) -> np.ndarray:
    """Ballot-polling assorter values with replacement: 1 (winner), 0 (loser), ½ (neither)."""
    return rng.choice([1.0, 0.0, 0.5], p=[winner, loser, 1 - winner - loser], size=(audits, draws))


def without_replacement(rng, population: np.ndarray, audits: int, draws: int) -> np.ndarray:
    """``draws`` values per audit drawn without replacement from ``population`` (a random permutation prefix)."""
    keys = rng.random((audits, len(population)))
    return population[np.argsort(keys, axis=1)[:, :draws]]


def comparison_draws(rng, audits: int, draws: int, *, margin: float, rate_1: float = 0.0,
                     rate_2: float = 0.0) -> np.ndarray:
    """Overstatement-assorter values (u = 1) with 1- and 2-vote overstatements at the given rates."""
    clean = 1 / (2 - margin)
    values = np.array([clean, 0.5 * clean, 0.0])
    return values[rng.choice(3, p=[1 - rate_1 - rate_2, rate_1, rate_2], size=(audits, draws))]


# ---------------------------------------------------------------------------------------------- ballot polling

POLLING_TESTS = {
    "alpha shrink_trunc": lambda x, N: alpha_mart(x, N=N, estim="shrink_trunc", eta=0.6),
    "alpha fixed eta": lambda x, N: alpha_mart(x, N=N, estim="fixed_alternative_mean", eta=0.55),
    "betting agrapa": lambda x, N: betting_mart(x, N=N, bet="agrapa"),
    "betting fixed": lambda x, N: betting_mart(x, N=N, lam=0.3),
    "betting mixture": lambda x, N: mix_betting_mart(x, N=N, lams=np.linspace(0, 1.9, 20)),
    "kaplan-kolmogorov": lambda x, N: kaplan_kolmogorov(x, N=N, g=0.1),
    "kaplan-wald": lambda x, N: kaplan_wald(x, g=0.1),
    "bravo (sprt)": lambda x, N: wald_sprt(x, N=N, eta=0.55),
}


@pytest.mark.parametrize("name", POLLING_TESTS)
def test_polling_audits_of_a_true_tie_confirm_at_most_alpha_of_the_time(name):
    rng = np.random.default_rng(2026)
    x = polling_draws(rng, AUDITS, 400, winner=0.45, loser=0.45)  # reported winner ahead; in truth tied
    rate = false_confirmations(POLLING_TESTS[name](x, math.inf).p_history)
    assert rate <= ALPHA + SLACK, f"{name}: {rate:.4f} false confirmations"


@pytest.mark.parametrize("name", ["alpha shrink_trunc", "alpha fixed eta", "betting agrapa", "kaplan-kolmogorov",
                                  "bravo (sprt)"])
def test_polling_audits_without_replacement_of_a_true_tie_confirm_at_most_alpha(name):
    rng = np.random.default_rng(1789)
    population = np.r_[np.ones(450), np.zeros(450), np.full(100, 0.5)]  # mean exactly ½ among N = 1,000
    x = without_replacement(rng, population, AUDITS, 300)
    rate = false_confirmations(POLLING_TESTS[name](x, 1000).p_history)
    assert rate <= ALPHA + SLACK, f"{name}: {rate:.4f} false confirmations"


def test_bravo_quantile_sizes_finish_about_as_often_as_planned():
    rng = np.random.default_rng(12)
    contest = ReportedContest("c", {"w": 5800, "l": 4200}, 10_000)
    planned = bravo_quantile_sample_size(ALPHA, 0.58, 0.42, 0, 0, 0.9, 10_000)
    x = polling_draws(rng, AUDITS, planned, winner=0.58, loser=0.42)
    # Arlo's option is the chance that the round's whole sample meets the risk limit (it looks at the end of
    # the round, not after every draw). Lindeman's search guarantees the binomial quantile at the size it finds,
    # but the binomial's sawtooth can lose a little when the size is then inflated (here 632 → 633 through
    # 1/(0.58 + 0.42) in binary floats): about 90 %, not at least 90 %.
    at_end = wald_sprt(x, eta=contest.pairwise_share("w", "l")).p_history[:, -1] <= ALPHA
    assert float(np.mean(at_end)) == pytest.approx(0.9, abs=0.02)


def test_alpha_planned_size_confirms_about_ninety_percent_of_correct_outcomes():
    rng = np.random.default_rng(99)
    population = np.r_[np.ones(5800), np.zeros(4200)]
    planned = simulated_sample_size(alpha_mart, population, ALPHA, N=10_000, reps=2000, quantile=0.9,
                                    estim="shrink_trunc", eta=0.58)
    x = rng.choice(population, size=(AUDITS, planned))
    crossed = first_crossing(alpha_mart(x, N=10_000, estim="shrink_trunc", eta=0.58).p_history, ALPHA)
    assert float(np.mean(crossed > 0)) == pytest.approx(0.9, abs=0.02)


# ---------------------------------------------------------------------------------------- ballot-level comparison

COMPARISON_TESTS = {
    "kaplan-markov": lambda x, u: kaplan_markov(x, g=0.1),
    "alpha optimal_comparison": lambda x, u: alpha_mart(x, u=u, estim="optimal_comparison", error_rate_2=1e-4),
    "alpha shrink_trunc": lambda x, u: alpha_mart(x, u=u, estim="shrink_trunc", eta=0.9 * u, d=100),
    "betting agrapa": lambda x, u: betting_mart(x, u=u, bet="agrapa"),
}


@pytest.mark.parametrize("errors", ["one-vote", "two-vote"])
@pytest.mark.parametrize("name", COMPARISON_TESTS)
def test_comparison_audits_of_an_erased_margin_confirm_at_most_alpha(name, errors):
    rng = np.random.default_rng(31)
    margin = 0.1
    # just enough overstatement to make the true assorter mean ½: 1-vote errors at rate v, or 2-vote at v/2
    rates = {"rate_1": margin} if errors == "one-vote" else {"rate_2": margin / 2}
    x = comparison_draws(rng, AUDITS, 300, margin=margin, **rates)
    assert np.mean(x) == pytest.approx(0.5, abs=0.003)
    rate = false_confirmations(COMPARISON_TESTS[name](x, 2 / (2 - margin)).p_history)
    assert rate <= ALPHA + SLACK, f"{name} ({errors}): {rate:.4f} false confirmations"


def supersimple_histories(overstatement_votes: np.ndarray, diluted_margin: float) -> np.ndarray:
    """Arlo's super-simple p-value after each draw (two candidates: e·V = the overstatement in votes)."""
    u_total = 2 * GAMMA / diluted_margin
    log_factor = math.log(1 - 1 / u_total) - np.log1p(-np.maximum(overstatement_votes, 0) / (2 * GAMMA))
    return np.minimum(1.0, np.exp(np.cumsum(log_factor, axis=-1)))


def test_supersimple_audits_of_an_erased_margin_confirm_at_most_alpha():
    rng = np.random.default_rng(8)
    margin = 0.05
    # 1-vote overstatements on a share μ of the cards erase the margin exactly
    votes = (rng.random((AUDITS, 600)) < margin).astype(float)
    rate = false_confirmations(supersimple_histories(votes, margin))
    assert rate <= ALPHA + SLACK, f"super-simple: {rate:.4f} false confirmations"


def test_supersimple_planned_sizes_confirm_clean_and_lightly_erroneous_outcomes():
    margin = 0.05
    contest = ReportedContest("c", {"w": 52_500, "l": 47_500}, 100_000)
    planned = supersimple_sample_size(contest, ALPHA)
    clean = supersimple_histories(np.zeros((1, planned)), margin)
    assert clean[0, supersimple_nmin(ALPHA, margin) - 1] <= ALPHA  # no errors: done at nmin
    rng = np.random.default_rng(4)
    votes = (rng.random((AUDITS, planned)) < 0.001).astype(float)  # the 1-in-1,000 rate the size allows for
    finished = float(np.mean(supersimple_histories(votes, margin)[:, -1] <= ALPHA))
    assert finished >= 0.85


# ------------------------------------------------------------------------------------------ batch comparison

@pytest.mark.parametrize("target_taint", [0.3, 0.9])
def test_macro_audits_of_an_erased_margin_confirm_at_most_alpha(target_taint):
    rng = np.random.default_rng(17)
    batches = 300
    u = rng.uniform(0.5, 1.5, batches)
    u *= 25 / u.sum()  # the error bounds u_p of Stark's MACRO, adding up to U = 25
    total_u = float(u.sum())
    # the outcome is wrong: some batches carry relative overstatements e_p = taint·u_p adding up to exactly 1
    order = rng.permutation(batches)
    chosen = order[: int(np.searchsorted(np.cumsum(u[order]), 1 / target_taint)) + 1]
    taint = np.zeros(batches)
    taint[chosen] = 1 / u[chosen].sum()
    assert float(np.sum(taint * u)) == pytest.approx(1.0)
    draws = rng.choice(batches, p=u / total_u, size=(AUDITS, 200))  # PPEB: with replacement, ∝ u_p
    log_factor = math.log(1 - 1 / total_u) - np.log1p(-taint[draws])
    p_history = np.minimum(1.0, np.exp(np.cumsum(log_factor, axis=1)))
    rate = false_confirmations(p_history)
    assert rate <= ALPHA + SLACK, f"MACRO: {rate:.4f} false confirmations"


# ------------------------------------------------------------------------------------------------ hybrid (SUITE)

def test_suite_audits_of_an_erased_margin_confirm_at_most_alpha():
    from veritally.audit.suite import ComparisonStratum, Misstatements, PollingStratum, suite_risk

    rng = np.random.default_rng(2018)
    contest = ReportedContest("c", {"w": 5300, "l": 4700}, 10_000)
    cvr_tally, no_cvr_tally = {"w": 4750, "l": 4250}, {"w": 550, "l": 450}
    # in truth the no-CVR stratum is tied (500/500) and 500 CVRs show a vote for w on a blank ballot: the
    # overall true margin is 0; each audit samples 200 CVR cards with replacement and 100 others without
    one_vote_errors = rng.binomial(200, 500 / 9000, AUDITS)
    winner_votes = rng.hypergeometric(500, 500, 100, AUDITS)
    memo: dict[tuple[int, int], float] = {}  # the p-value depends on the sample only through these counts
    confirmed = 0
    for o1, n_w in zip(one_vote_errors.tolist(), winner_votes.tolist()):
        if (o1, n_w) not in memo:
            polling = PollingStratum(1000, no_cvr_tally, {"w": n_w, "l": 100 - n_w}, 100)
            comparison = ComparisonStratum(9000, cvr_tally, {("w", "l"): Misstatements(o1=o1)}, 200)
            memo[(o1, n_w)] = suite_risk(contest, polling, comparison, ALPHA)[0]
        confirmed += memo[(o1, n_w)] <= ALPHA
    print(f"false confirmations: {confirmed / AUDITS:.4f} of {AUDITS:,} audits")
    assert confirmed / AUDITS <= ALPHA + SLACK, f"SUITE: {confirmed / AUDITS:.4f} false confirmations"
