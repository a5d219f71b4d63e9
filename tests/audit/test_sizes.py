"""Sample sizes: SHANGRLA's sample_size (deterministic and simulated), its comparison and polling populations,
and agreement of simulation with the closed forms (BRAVO ASN, Kaplan–Markov)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from veritally.audit.contest import ReportedContest
from veritally.audit.risk import alpha_mart, kaplan_markov, kaplan_wald, wald_sprt
from veritally.audit.sizes import (bravo_asn, comparison_values, first_crossing, polling_values,
                                   simulated_sample_size)
from veritally.errors import ConfigError

from ._vectors import vectors


def _case(index: int) -> dict:
    return vectors("shangrla.json")["cases"][index]


def test_deterministic_alpha_size_matches_shangrla():
    case = _case(9)
    size = simulated_sample_size(alpha_mart, np.ones(5), 0.05, N=1000, t=0.5, u=1, estim="fixed_alternative_mean",
                                 eta=0.75)
    assert size == case["rerun"] == case["expected"]


def test_simulated_alpha_size_matches_shangrla():
    case = _case(10)
    size = simulated_sample_size(alpha_mart, 0.75 * np.ones(5), 0.05, N=1000, reps=100, quantile=0.5, t=0.5, u=1,
                                 estim="fixed_alternative_mean", eta=0.75)
    assert size == case["rerun"] == case["expected"]


@pytest.mark.parametrize("index,value", [(11, 1.0), (12, 0.75)])
def test_kaplan_wald_sizes_match_shangrla(index, value):
    case = _case(index)
    size = simulated_sample_size(kaplan_wald, value * np.ones(5), 0.05, N=1000, g=0.1, t=0.5)
    assert size == case["rerun"] == math.ceil(math.log(1 / 0.05) / math.log(value * 0.9 / 0.5 + 0.1))


@pytest.mark.parametrize("index", [33, 34])
def test_comparison_sizes_match_shangrla_find_sample_size(index):
    case = _case(index)
    margin = case["assorter_margin"]
    clean = 1 / (2 - margin)
    c, o = 0.6 / (clean + 0.1), 0.6 / (clean / 2 + 0.1)
    # data all equal to the largest value (SHANGRLA's test passes ones)
    assert simulated_sample_size(kaplan_markov, np.ones(7000), 0.05, N=7000, g=0.1) == case["rerun_ss_data_ones"]
    # SHANGRLA's constructed data: a 1-vote overstatement first, then one in every 100 cards. Tiled in order,
    # the audit pays for the first card's overstatement: the vector's 58/28 (its key says reps=100, but
    # SHANGRLA at @9d5db92 gives these without replicates; with 100 replicates it gives 49/24 for every seed
    # tried, as checked side by side)
    x = comparison_values(margin, 7000, rate_1=0.01)
    deterministic = simulated_sample_size(kaplan_markov, x, 0.05, N=7000, g=0.1)
    assert deterministic == case["rate_1_0_01_reps100_q0_5"] == math.ceil(math.log(0.05 / o) / math.log(c)) + 1
    # resampled, the median audit meets no overstatement in its first few dozen cards: the clean-sample size
    simulated = simulated_sample_size(kaplan_markov, x, 0.05, N=7000, g=0.1, reps=2000, quantile=0.5)
    assert simulated == math.ceil(math.log(0.05) / math.log(c))


def _interleave_greedily(n_small: int, n_med: int, n_big: int) -> list[float]:
    """Independent restatement of SHANGRLA's rule: start with a 0 (else ½, else 1), then repeatedly place the kind
    with the largest share left to place, ties to 1, then 0, then ½."""
    counts, placed, out = [n_small, n_med, n_big], [0, 0, 0], []
    start = 0 if n_small else 1 if n_med else 2
    placed[start] += 1
    out.append((0.0, 0.5, 1.0)[start])
    share = [((counts[k] - placed[k]) / counts[k]) if counts[k] else 0.0 for k in range(3)]
    for _ in range(sum(counts) - 1):
        kind = max((2, 0, 1), key=lambda k: share[k])  # max keeps the first of equals: 1, then 0, then ½
        placed[kind] += 1
        share[kind] = (counts[kind] - placed[kind]) / counts[kind]
        out.append((0.0, 0.5, 1.0)[kind])
    return out


def test_polling_values_interleave_as_shangrla():
    rng = np.random.default_rng(3)
    for _ in range(300):
        n0, n_half, n1 = (int(v) for v in rng.integers(0, 30, 3))
        n1 = max(n1, 1)
        assert list(polling_values(n0, n_half, n1)) == _interleave_greedily(n0, n_half, n1)


def test_simulated_bravo_sizes_agree_with_the_asn():
    contest = ReportedContest("c", {"w": 6000, "l": 4000}, 10_000)
    asn = bravo_asn(contest, None, 0.1).size
    x = polling_values(4000, 0, 6000)
    rng = np.random.default_rng(7)
    draws = rng.choice(x, size=(4000, 2000))
    sizes = first_crossing(wald_sprt(draws, eta=0.6).p_history, 0.1)
    assert np.all(sizes > 0)
    # the ASN is Wald's approximation of the mean stopping time; simulation agrees to a few percent
    assert sizes.mean() == pytest.approx(asn, rel=0.06)


def test_bad_inputs_are_config_errors():
    with pytest.raises(ConfigError, match="finite population"):
        simulated_sample_size(alpha_mart, np.ones(3), 0.05, N=math.inf)
    with pytest.raises(ConfigError, match="non-empty"):
        simulated_sample_size(alpha_mart, [], 0.05, N=10)
