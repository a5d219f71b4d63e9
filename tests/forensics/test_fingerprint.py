"""Klimek et al.'s fingerprint and fraud model on data simulated from the model itself: known (f_i, f_e) recovered
within stated tolerances, clean data fitted as clean, the fingerprint histogram, and the bias of Klimek's own
weighting that the default distance avoids."""

from __future__ import annotations

import numpy as np
import pytest

from veritally.errors import ConfigError
from veritally.forensics import fingerprint as fp

TRUE_FAIR = fp.FairPart(tau=0.6, sigma_tau=0.08, nu=0.55, sigma_nu=0.07, theta=0.27)

# Stated tolerances (docs/forensics.md): f_e to ±0.005; f_i to ±0.04 up to f_i = 0.15. Beyond, Klimek's θ
# heuristic, read off a share distribution that fraud widens, makes f_i an underestimate.
F_E_TOLERANCE = 0.005
F_I_TOLERANCE = 0.04


def _simulate(f_i, f_e, alpha, n=20_000, seed=0):
    return fp.simulate_klimek(TRUE_FAIR, f_i, f_e, alpha, n, np.random.default_rng(seed))


@pytest.mark.parametrize(("f_i", "f_e", "alpha", "seed"), [(0.15, 0.01, 1.5, 1), (0.1, 0.02, 2.0, 2),
                                                          (0.05, 0.03, 2.5, 3)])
def test_known_fraud_parameters_are_recovered(f_i, f_e, alpha, seed):
    t, v, kind = _simulate(f_i, f_e, alpha, seed=seed)
    fit = fp.fit_klimek(t, v, seed=seed, null_bootstrap=20)
    assert abs(fit.f_e - f_e) <= F_E_TOLERANCE
    assert abs(fit.f_i - f_i) <= F_I_TOLERANCE
    assert fit.f_e_p_value == pytest.approx(1 / 21) and fit.f_e_interval[0] > 0
    assert fit.f_i_p_value == pytest.approx(1 / 21)
    # Units of the extreme class sit where the fit's posterior says "extreme".
    cells = fp._cells(t, v)
    assert np.mean(fit.extreme_posterior.ravel()[cells[kind == 2]] > 0.5) > 0.8
    assert np.mean(fit.extreme_posterior.ravel()[cells[kind == 0]] > 0.5) < 0.01


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_clean_data_are_fitted_as_clean(seed):
    t, v, _ = _simulate(0.0, 0.0, 2.0, seed=seed)
    fit = fp.fit_klimek(t, v, seed=seed, null_bootstrap=20)
    assert fit.f_i < 0.02 and fit.f_e < 0.001
    assert fit.f_e_p_value > 0.2 and fit.f_i_p_value > 0.05
    assert abs(fit.fair.tau - TRUE_FAIR.tau) < 0.005 and abs(fit.fair.nu - TRUE_FAIR.nu) < 0.005
    assert fit.fair.sigma_tau == pytest.approx(TRUE_FAIR.sigma_tau, rel=0.06)


def test_klimeks_weighting_pulls_f_i_down():
    t, v, _ = _simulate(0.3, 0.03, 2.0, seed=9)
    plain = fp.fit_klimek(t, v, null_bootstrap=5, bootstrap=5)
    weighted = fp.fit_klimek(t, v, null_bootstrap=5, bootstrap=5, distance="klimek")
    assert weighted.f_i < plain.f_i - 0.05 < 0.3


def test_fingerprint_histogram_counts_units_in_one_point_cells():
    t = np.array([0.0, 0.005, 0.015, 0.999, 1.0, 0.5])
    v = np.array([0.0, 0.0, 0.02, 1.0, 1.0, 0.505])
    h = fp.fingerprint_histogram(t, v)
    assert h.shape == (100, 100) and h.sum() == 6
    assert h[0, 0] == 2 and h[1, 2] == 1 and h[99, 99] == 2 and h[50, 50] == 1
    assert np.array_equal(h, np.histogram2d(t, v, bins=100, range=[[0, 1], [0, 1]])[0])


def test_simulated_model_follows_klimeks_equations():
    rng = np.random.default_rng(1)
    t, v, kind = fp.simulate_klimek(TRUE_FAIR, 0.0, 1.0, 1.0, 5000, rng)
    assert np.all(kind == 2) and np.mean(t > 0.9) > 0.95 and np.mean(v > 0.9) > 0.95
    t, v, kind = fp.simulate_klimek(TRUE_FAIR, 0.0, 0.0, 2.0, 50_000, rng)
    assert np.mean(t) == pytest.approx(0.6, abs=0.002) and np.std(v) == pytest.approx(0.07, rel=0.03)


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError):
        fp.fit_klimek(np.full(50, 0.5), np.full(50, 0.5))
    with pytest.raises(ConfigError):
        fp.fit_klimek(np.full(500, 0.5), np.full(500, 0.5), distance="chi2")
    with pytest.raises(ConfigError):
        fp.simulate_klimek(TRUE_FAIR, 0.8, 0.4, 1.0, 10, np.random.default_rng(0))
