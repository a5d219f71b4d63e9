"""Integer-percent excess: the published Russia 2018 figures (Kobak, Shpilkin & Pshenichnikov, Significance 2018),
the exact per-station probabilities against SciPy's binomial pmf, the exact null against Kobak's binomial redraws,
calibration on clean synthetic data and detection of planted round turnouts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from veritally.errors import ConfigError, InputError
from veritally.forensics import integer_percent as ip
from veritally.forensics._poisson_binomial import poisson_binomial, poisson_binomial_sf

from ._synthetic import clean_election, round_turnouts

# significance2018/montecarlo.pickle, 2018 row (notes §1.4): excess integer stations and the MC s.d.
PUBLISHED_EXCESS = {"turnout_or_leader": 1709, "turnout_only": 1296, "leader_only": 859}
PUBLISHED_MC_SD = 116.5
# Kobak's five "most preposterous regions" of 2018 (significance2018/elections2018.ipynb).
KOBAK_REGIONS = ("Кемеровская", "Краснодарский", "Башкортостан", "Дагестан", "Татарстан")


def _kobak_float_mask(numerator, denominator):
    """Kobak's own test, in floating point: |p − round(p)| ≤ 0.05 with p = 100·a/b."""
    p = 100 * numerator / denominator
    return np.abs(p - np.round(p)) <= 0.05


@pytest.fixture(scope="module")
def ru_result(ru2018):
    return ip.integer_percent(ru2018.registered, ru2018.issued, ru2018.received, ru2018.putin, group=ru2018.region,
                              replicates=1000, seed=42)


def test_ru2018_reproduces_the_published_excess_within_one_mc_sd(ru_result):
    overall, _, kept, integer = ru_result
    assert overall.stations == 91_152  # notes §1.4: "91,152 stations used"
    assert overall.observed[0] == 19_271  # "19,271 integer stations observed"
    for j, kind in enumerate(ip.KINDS):
        assert abs(overall.excess[j] - PUBLISHED_EXCESS[kind]) <= overall.mc_sd[j], kind
    assert overall.mc_sd[0] == pytest.approx(PUBLISHED_MC_SD, rel=0.08)
    # The MC mean estimates the exact expectation: they agree within a few MC standard errors of the mean.
    assert np.all(np.abs(overall.mc_mean - overall.expected) <= 4 * overall.mc_sd / np.sqrt(1000))
    assert overall.p_value[0] < 1e-20 and overall.p_value_mc[0] == pytest.approx(1 / 1001)


def test_ru2018_battery_reports_the_published_figures(ru_battery):
    findings, _ = ru_battery
    (overall,) = [f for f in findings if f.name == "integer_percent" and f.scope == "all units"]
    record = overall.to_json()
    for kind, published in PUBLISHED_EXCESS.items():
        assert abs(record["excess"][kind] - published) <= record["mc_sd"][kind], kind
        assert record["observed"][kind] - record["expected"][kind] == pytest.approx(record["excess"][kind])
    assert record["turnout_numerator"] == "issued" and record["leader"] == "Putin"
    assert record["battery_flagged"] is True


def test_ru2018_the_largest_regional_excesses_are_kobaks_five_regions(ru_result):
    _, by_region, _, _ = ru_result
    top = sorted(by_region, key=lambda name: -by_region[name].excess[0])[:5]
    assert sorted(next(k for k in KOBAK_REGIONS if k in name) for name in top) == sorted(KOBAK_REGIONS)


def test_exact_integer_test_agrees_with_kobaks_floating_point(ru2018):
    kept = ip.kobak_filter(ru2018.registered, ru2018.issued, ru2018.received, ru2018.putin)
    for numerator, denominator in ((ru2018.issued, ru2018.registered), (ru2018.putin, ru2018.received)):
        a, b = numerator[kept], denominator[kept]
        assert np.array_equal(ip.integer_mask(a, b), _kobak_float_mask(a, b))


def test_integer_probability_matches_scipy_binomial_pmf_over_every_k():
    rng = np.random.default_rng(3)
    trials = np.concatenate([[100, 101, 150, 200, 333, 1000, 2500, 12_000], rng.integers(100, 4000, 200)])
    p = np.concatenate([[0.5, 0.99, 0.37, 0.005, 0.9, 0.123, 0.75, 0.6], rng.uniform(0.01, 0.99, 200)])
    exact = ip.integer_probability(trials, p)
    for n, q, got in zip(trials, p, exact):
        k = np.arange(n + 1)
        brute = stats.binom.pmf(k, n, q)[_kobak_float_mask(k, n)].sum()
        assert got == pytest.approx(brute, rel=1e-9, abs=1e-12)
    assert ip.integer_probability(np.array([100]), np.array([0.42]))[0] == pytest.approx(1.0)  # every k/100


def test_exact_null_agrees_with_kobaks_binomial_redraws(ru2018):
    sample = slice(0, 6000)
    args = (ru2018.registered[sample], ru2018.issued[sample], ru2018.received[sample], ru2018.putin[sample])
    exact, _, _, _ = ip.integer_percent(*args, replicates=600, seed=1)
    binomial, _, _, _ = ip.integer_percent(*args, replicates=600, seed=2, null="binomial")
    assert np.all(np.abs(binomial.mc_mean - exact.expected) <= 4 * binomial.mc_sd / np.sqrt(600))
    assert binomial.mc_sd == pytest.approx(exact.mc_sd, rel=0.15)


def test_poisson_binomial_matches_convolution_and_keeps_tail_precision():
    rng = np.random.default_rng(8)
    p = rng.random(600) ** 2
    brute = np.array([1.0])
    for x in p:
        brute = np.convolve(brute, [1 - x, x])
    offset, pmf = poisson_binomial(p)
    window = brute[offset : offset + pmf.size]
    normal = window > 1e-250  # below, both sides are in floating point's subnormal range
    assert np.allclose(pmf[normal], window[normal], rtol=1e-9, atol=0)
    assert np.all(pmf[~normal] < 1e-240)
    assert brute[: offset].sum() + brute[offset + pmf.size :].sum() < 1e-60
    k = int(p.sum() + 8 * np.sqrt((p * (1 - p)).sum()))
    assert poisson_binomial_sf(p, k) == pytest.approx(brute[k:].sum(), rel=1e-8)
    assert poisson_binomial_sf(p, 0) == 1.0


def test_clean_synthetic_elections_give_valid_p_values():
    p_values = []
    for seed in range(60):
        current, _ = clean_election(800, seed)
        overall, _, _, _ = ip.integer_percent(current.registered, current.ballots, current.ballots,
                                              current.votes[:, 0], replicates=50, seed=seed)
        p_values.append(overall.p_value)
    p_values = np.array(p_values)  # (60, 3)
    # Discrete exact tails are conservative: the size may fall short of α, never exceed it beyond MC noise.
    for alpha in (0.05, 0.1, 0.25, 0.5):
        assert np.mean(p_values <= alpha) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / p_values.size)
    assert np.mean(p_values <= 0.5) >= 0.3  # and not uselessly conservative


def test_planted_round_turnouts_are_found_overall_and_in_their_region():
    current, _ = clean_election(3000, 11)
    rounded, touched = round_turnouts(current, 0.04, seed=5)
    region = np.where(np.isin(np.arange(3000), touched), "planted", current.region)
    findings = ip.integer_percent_findings(rounded.unit, rounded.registered, rounded.ballots, rounded.ballots,
                                           rounded.votes[:, 0], region=region, turnout_numerator="ballots",
                                           leader_name="Alpha", replicates=300, seed=1)
    overall = findings[0]
    assert overall.p_value < 1e-4  # 120 rounded protocols among 3,000 stations, ~580 integer by chance
    assert overall.details["excess"]["turnout_only"] > 0.4 * touched.size
    flagged = {f.scope for f in findings[1:] if f.flagged_units}
    assert flagged == {"region=planted"}


def test_bad_input_is_refused_with_a_clear_error():
    with pytest.raises(InputError):
        ip.integer_mask(np.array([1]), np.array([0]))
    with pytest.raises(ConfigError):
        ip.integer_percent(np.array([100]), np.array([50]), np.array([50]), np.array([20]), replicates=0)
    with pytest.raises(ConfigError):
        ip.integer_mask(np.array([1]), np.array([3]), tolerance=0.7)
