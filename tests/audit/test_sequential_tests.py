"""ALPHA, betting, Kaplan–Markov/Wald/Kolmogorov and the SPRT against SHANGRLA's values (shangrla.json) and
closed forms; 2-D (one audit per row) inputs must give each row's 1-D answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from veritally.audit.risk import (alpha_mart, betting_mart, kaplan_kolmogorov, kaplan_markov, kaplan_wald,
                                  mix_betting_mart, wald_sprt)
from veritally.errors import ConfigError

from ._vectors import vectors

REL = 1e-9


def _case(index: int) -> dict:
    return vectors("shangrla.json")["cases"][index]


def _inf(value):
    return math.inf if value == "inf" else value


@pytest.mark.parametrize("index", [0, 1, 2])
def test_kaplan_markov_matches_shangrla(index):
    case = _case(index)
    params = case["params"]
    p, history = kaplan_markov(case["x"], g=params["g"], t=params["t"], random_order=params["random_order"])
    assert p == pytest.approx(case["rerun"], rel=REL)
    assert p == pytest.approx(case["expected_p"], rel=REL)
    assert history.shape == (len(case["x"]),)


@pytest.mark.parametrize("index", [3, 4, 5])
def test_kaplan_wald_matches_shangrla(index):
    case = _case(index)
    params = case["params"]
    p, _ = kaplan_wald(case["x"], g=params["g"], t=params["t"], random_order=params.get("random_order", True))
    assert p == pytest.approx(case["rerun"], rel=REL)


def test_alpha_with_null_mean_of_the_data_is_uninformative():
    case = _case(6)
    p, _ = alpha_mart(case["x"], N=1_000_000, t=0.5, u=1, estim="fixed_alternative_mean")
    assert p == case["rerun"] == 1


@pytest.mark.parametrize("index", [7, 8])
def test_alpha_without_replacement_history_matches_shangrla(index):
    case = _case(index)
    p, history = alpha_mart(case["x"], N=7, t=3 / 7, u=1, estim="fixed_alternative_mean", eta=0.75)
    np.testing.assert_allclose(history, case["rerun_history"], rtol=REL)
    assert p == pytest.approx(case["rerun_p"], rel=REL, abs=0)


@pytest.mark.parametrize("lam_x", [(0.25, 0.75), (0.5, 0.75), (0.25, 0.9), (0.5, 0.9)])
def test_fixed_bet_matches_shangrla_and_closed_form(lam_x):
    lam, value = lam_x
    case = next(c for c in vectors("shangrla.json")["cases"][13:17]
                if c["params"]["lam"] == lam and c["x"] == f"[{value}]*20")
    p, _ = betting_mart(np.full(20, value), lam=lam)
    assert p == pytest.approx(case["rerun"], rel=REL)
    assert p == pytest.approx((1 + lam * (value - 0.5)) ** -20, rel=REL)


def test_null_means_match_shangrla_sjm():
    from veritally.audit._sequence import null_means

    case = _case(17)
    before, total, j, m = null_means(np.array(case["x"], float), N=5, t=1.53)
    np.testing.assert_allclose(before, case["rerun"]["S"])
    assert total == case["rerun"]["Stot"]
    np.testing.assert_allclose(j, case["rerun"]["j"])
    np.testing.assert_allclose(m, case["rerun"]["m"], rtol=REL)


@pytest.mark.parametrize("index", [18, 19, 20])
def test_alpha_estimators_match_shangrla_histories(index):
    case = _case(index)
    params = case["params"]
    kwargs = {k: params[k] for k in ("eta", "c", "d", "f", "minsd") if k in params}
    p, history = alpha_mart(case["x"], N=_inf(params["N"]), t=params["t"], u=params["u"], estim=params["estim"],
                            **kwargs)
    assert p == pytest.approx(case["p"], rel=REL)
    np.testing.assert_allclose(history, case["p_history"], rtol=REL)


def test_alpha_with_fixed_eta_and_replacement_is_bravo():
    x = np.array([1, 1, 0, 1, 1, 0.5, 1, 0, 1, 1])
    p, _ = alpha_mart(x, estim="fixed_alternative_mean", eta=0.6)
    assert p == pytest.approx(1 / (1.2**7 * 0.8**2), rel=REL)
    sprt_p, _ = wald_sprt(x, eta=0.6)
    assert sprt_p == pytest.approx(p, rel=REL)


def test_optimal_comparison_clean_and_one_overstatement_match_shangrla():
    v = 0.1
    u = 2 / (2 - v)
    clean = 1 / (2 - v)
    case = _case(21)
    p, history = alpha_mart(np.full(30, clean), N=10_000, t=0.5, u=u, estim="optimal_comparison")
    assert p == pytest.approx(case["p"], rel=REL)
    np.testing.assert_allclose(history[-5:], case["p_history_last5"], rtol=REL)
    case = _case(22)
    x = np.full(30, clean)
    x[10] = (1 - 0.5) / (2 - v)
    p, history = alpha_mart(x, N=10_000, t=0.5, u=u, estim="optimal_comparison")
    assert p == pytest.approx(case["p"], rel=REL)
    np.testing.assert_allclose(history[-5:], case["p_history_last5"], rtol=REL)


def test_kaplan_markov_comparison_matches_shangrla():
    case = _case(23)
    p, _ = kaplan_markov(np.full(30, 1 / (2 - 0.1)), g=0.1, t=0.5)
    assert p == pytest.approx(case["p"], rel=REL)


def test_two_dimensional_input_is_one_audit_per_row():
    rng = np.random.default_rng(5)
    x = rng.choice([0.0, 0.5, 1.0], p=[0.3, 0.1, 0.6], size=(50, 40))
    for test, params in [(alpha_mart, {"N": 400}), (alpha_mart, {"estim": "fixed_alternative_mean", "eta": 0.6}),
                         (betting_mart, {"bet": "agrapa", "N": 400}), (kaplan_markov, {"g": 0.1}),
                         (kaplan_wald, {"g": 0.1}), (kaplan_kolmogorov, {"N": 400, "g": 0.1}),
                         (wald_sprt, {"eta": 0.6, "N": 400}), (mix_betting_mart, {"N": 400})]:
        together = test(x, **params)
        for row in (0, 17, 49):
            alone = test(x[row], **params)
            assert together.p_value[row] == pytest.approx(alone.p_value, rel=1e-12), test.__name__
            np.testing.assert_allclose(together.p_history[row], alone.p_history, rtol=1e-12)


def test_kaplan_kolmogorov_without_replacement_closed_form():
    # all draws 1 from N=10 with t=1/2: m_j = (5 - (j-1))/(10 - j + 1); T_j = prod 1/m_i
    p, history = kaplan_kolmogorov(np.ones(4), N=10, t=0.5)
    m = [(5 - k) / (10 - k) for k in range(4)]
    assert p == pytest.approx(min(1, float(np.prod(m))), rel=REL)


def test_agrapa_and_kelly_reject_a_strong_alternative_and_not_the_null():
    rng = np.random.default_rng(11)
    strong = rng.choice([0.0, 1.0], p=[0.3, 0.7], size=400)
    null = rng.choice([0.0, 1.0], p=[0.5, 0.5], size=400)
    assert betting_mart(strong, bet="agrapa").p_value < 1e-4
    assert betting_mart(strong, bet="kelly_optimal", pop=np.r_[np.zeros(3), np.ones(7)]).p_value < 1e-4
    assert betting_mart(null, bet="agrapa").p_value > 0.01


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="empty"):
        alpha_mart([])
    with pytest.raises(ConfigError, match="larger than the population"):
        alpha_mart(np.ones(5), N=3)
    with pytest.raises(ConfigError, match="unknown ALPHA estimator"):
        alpha_mart(np.ones(5), estim="nope")
    with pytest.raises(ConfigError, match="negative"):
        kaplan_markov([1, -1])
    with pytest.raises(ConfigError, match="between 0 and 1"):
        kaplan_wald([1], g=2)
