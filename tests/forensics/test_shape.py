"""Shape tests against independent references (SciPy's moments, Pearson test and OLS; a bootstrap for the
delta-method s.e.; the ``diptest`` package), the notes' Russia 2018 correlation, calibration on clean data and
detection of stuffing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from veritally.errors import ConfigError
from veritally.forensics import shape


def test_moments_match_scipy_and_their_se_matches_a_bootstrap():
    rng = np.random.default_rng(0)
    x = rng.gamma(4.0, 1.0, 3000)
    g1, se_g1, b2, se_b2 = shape.moments_with_influence(x)
    assert g1 == pytest.approx(stats.skew(x)) and b2 == pytest.approx(stats.kurtosis(x, fisher=False))
    resamples = x[rng.integers(0, x.size, (2000, x.size))]
    assert se_g1 == pytest.approx(stats.skew(resamples, axis=1).std(), rel=0.15)
    assert se_b2 == pytest.approx(stats.kurtosis(resamples, axis=1, fisher=False).std(), rel=0.2)


def test_correlation_and_slope_match_scipy():
    rng = np.random.default_rng(1)
    t = rng.uniform(0.3, 0.9, 500)
    v = 0.3 + 0.4 * t + rng.normal(0, 0.05 + 0.1 * t, 500)  # heteroskedastic on purpose
    corr = shape.turnout_share_correlation(t, v, scope="x")
    reference = stats.pearsonr(t, v)
    assert corr.statistic == pytest.approx(reference.statistic)
    assert corr.p_value == pytest.approx(reference.pvalue, rel=1e-6)
    lo, hi = reference.confidence_interval(0.95)
    assert corr.interval == pytest.approx((lo, hi), rel=1e-6)
    slope = shape.sobyanin_slope(t, v, scope="x")
    assert slope.statistic == pytest.approx(stats.linregress(t, v).slope)
    # HC1 by hand: (X'X)⁻¹ X' diag(e²) X (X'X)⁻¹ · n/(n−k).
    design = np.column_stack([np.ones_like(t), t])
    beta, *_ = np.linalg.lstsq(design, v, rcond=None)
    e = v - design @ beta
    bread = np.linalg.inv(design.T @ design)
    cov = bread @ (design.T * e**2) @ design @ bread * t.size / (t.size - 2)
    assert slope.details["se_hc1"] == pytest.approx(np.sqrt(cov[1, 1]))
    assert slope.effect == pytest.approx(slope.statistic - v.mean())


def test_turnout_share_correlation_on_russia_2018_matches_the_notes(ru2018):
    keep = (ru2018.registered > 0) & (ru2018.received > 0)
    t = ru2018.issued[keep] / ru2018.registered[keep]
    v = ru2018.putin[keep] / ru2018.received[keep]
    assert round(shape.turnout_share_correlation(t, v, scope="Putin").statistic, 3) == 0.512  # notes §1.6


def test_dip_test_is_the_diptest_package_and_sees_two_modes():
    import diptest

    rng = np.random.default_rng(2)
    bimodal = np.concatenate([rng.normal(0.4, 0.03, 1000), rng.normal(0.7, 0.03, 1000)])
    finding = shape.dip_test(bimodal, scope="x")
    assert (finding.statistic, finding.p_value) == pytest.approx(diptest.diptest(bimodal))
    assert finding.p_value < 0.001
    assert shape.dip_test(rng.normal(0.5, 0.1, 2000), scope="x").p_value > 0.05


def test_clean_normal_data_give_uniform_p_values():
    rng = np.random.default_rng(3)
    p = {name: [] for name in ("skewness", "kurtosis", "correlation", "slope")}
    for _ in range(300):
        t = rng.normal(0.6, 0.08, 800)
        v = rng.normal(0.55, 0.07, 800)
        p["skewness"].append(shape.skewness(v, scope="v").p_value)
        p["kurtosis"].append(shape.kurtosis(v, scope="v").p_value)
        p["correlation"].append(shape.turnout_share_correlation(t, v, scope="v").p_value)
        p["slope"].append(shape.sobyanin_slope(t, v, scope="v").p_value)
    for name, values in p.items():
        assert stats.kstest(values, "uniform").pvalue > 0.001, name


def test_stuffing_is_seen_in_shape_and_in_share_against_turnout():
    rng = np.random.default_rng(4)
    n = 3000
    t = rng.normal(0.6, 0.08, n)
    v = rng.normal(0.55, 0.07, n)
    stuffed = rng.random(n) < 0.15
    x = rng.uniform(0.2, 0.6, stuffed.sum())  # share of non-voters stuffed for the leader
    t_reported, v_reported = t.copy(), v.copy()
    t_reported[stuffed] = t[stuffed] + x * (1 - t[stuffed])
    v_reported[stuffed] = (t[stuffed] * v[stuffed] + x * (1 - t[stuffed])) / t_reported[stuffed]
    # Stuffed units pile into a right tail of turnout (the share's tail is weaker: stuffed shares spread widely).
    assert shape.skewness(t_reported, scope="t").p_value < 1e-5 < shape.skewness(t, scope="t").p_value
    correlation = shape.turnout_share_correlation(t_reported, v_reported, scope="v")
    assert correlation.statistic > 0.2 and correlation.p_value < 1e-20
    slope = shape.sobyanin_slope(t_reported, v_reported, scope="v")
    assert slope.interval[0] > 0 and slope.p_value < 1e-10
    assert shape.sobyanin_slope(t, v, scope="v").p_value > 0.001


def test_too_few_units_are_refused():
    with pytest.raises(ConfigError):
        shape.skewness(np.array([0.5, 0.6]), scope="x")
    with pytest.raises(ConfigError):
        shape.sobyanin_slope(np.array([0.5, 0.6]), np.array([0.5]), scope="x")
