"""Edge cases where a risk measure could confirm a wrong outcome, or crash, found in review: each must stay
conservative (p in [0, 1], never below what the data support) or give a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from veritally.audit.bravo import bravo_asn, bravo_quantile_sample_size, bravo_risk
from veritally.audit.contest import ReportedContest
from veritally.audit.macro import macro_max_errors, macro_unauditable_ballots
from veritally.audit.risk import alpha_mart, betting_mart, kaplan_kolmogorov, mix_betting_mart, wald_sprt
from veritally.audit.supersimple import comparison_discrepancies, supersimple_nmin, supersimple_risk
from veritally.errors import ConfigError


def test_sprt_without_replacement_never_goes_negative_and_respects_its_level():
    assert wald_sprt([0, 0, 0], eta=0.6, N=4).p_value == 1.0
    rng = np.random.default_rng(0)
    population = np.r_[np.ones(24), np.zeros(26)]  # the reported winner has 24 of 50: the outcome is wrong
    x = population[np.argsort(rng.random((4000, 50)), axis=1)[:, :45]]
    p = wald_sprt(x, eta=0.6, N=50).p_value
    assert np.all((p >= 0) & (p <= 1))
    assert np.mean(p <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 4000)
    with pytest.raises(ConfigError, match="t < eta <= u"):
        wald_sprt([0, 1], eta=1.5)


def test_bets_and_alternatives_outside_their_range_cannot_manufacture_evidence():
    assert betting_mart(np.zeros(8), lam=5).p_value == 1.0  # a bet above 1/m is clipped to 1/m
    assert alpha_mart([0] * 4, estim=lambda x, **_: x * 0 + 3).p_value == 1.0  # η clipped into [0, u]
    with pytest.raises(ConfigError, match="in \\[0, 1/t\\]"):
        mix_betting_mart([1, 1], lams=[0, 5])
    with pytest.raises(ConfigError, match="0 < t"):
        betting_mart([1, 1], t=0)
    with pytest.raises(ConfigError, match="comparison audits"):
        alpha_mart([1, 1], estim="optimal_comparison")  # u = 1 is not a comparison audit


def test_draw_totals_are_not_taken_for_a_hand_count_unless_asked():
    contest = ReportedContest("c", {"A": 60, "B": 40}, 100)
    assert bravo_risk(contest, {"A": 40, "B": 60}, 0.05).confirmed  # Arlo's rule, kept for parity
    risk = bravo_risk(contest, {"A": 40, "B": 60}, 0.05, full_count_rule=False)
    assert not risk.confirmed and risk.p_value == 1.0
    p, confirmed = supersimple_risk(contest, np.full(100, 2 / 20), None, 0.05, full_count_rule=False)
    assert not confirmed and p == 1.0


def test_supersimple_counts_each_ballots_largest_weighted_overstatement():
    # CVR A, paper C: 1 vote against the tight pair A–B (margin 50), 2 votes against A–C (margin 450)
    contest = ReportedContest("c", {"A": 500, "B": 450, "C": 50}, 1000)
    reported = np.tile([1, 0, 0], (200, 1))
    audited = reported.copy()
    audited[:8] = [0, 0, 1]
    found = comparison_discrepancies(contest, ["A", "B", "C"], reported, audited)
    assert found.weighted_error[0] == pytest.approx(1 / 50) and found.counted_as[0] == 1
    p, confirmed = supersimple_risk(contest, found.weighted_error, None, 0.05)
    assert p == 1.0 and not confirmed  # Arlo's choice (the 2-vote pair) would give 0.019 and confirm


def test_batch_tallies_above_the_totals_do_not_widen_the_margins():
    contest = ReportedContest("c", {"A": 520, "B": 480}, 1000)
    tallies = np.array([[320.0, 240.0], [300.0, 240.0]])  # A sums to 620 > 520
    assert macro_unauditable_ballots(contest, ["A", "B"], tallies) == 0
    u = macro_max_errors(contest, ["A", "B"], tallies, np.array([560.0, 540.0]))
    assert u.sum() == pytest.approx(((80 + 560) + (60 + 540)) / 40)


def test_degenerate_inputs_are_clear_errors_or_uninformative():
    assert kaplan_kolmogorov([1, 1, 0], N=4).p_value <= 1.0
    assert not np.isnan(kaplan_kolmogorov([1, 1, 0], N=4).p_value)
    with pytest.raises(ConfigError, match="no valid votes"):
        bravo_risk(ReportedContest("c", {"A": 0, "B": 0}, 10), {"A": 1}, 0.05)
    with pytest.raises(ConfigError, match="no ballots"):
        supersimple_risk(ReportedContest("c", {"A": 0, "B": 0}, 0), np.zeros(0), None, 0.05)
    with pytest.raises(ConfigError, match="full hand count"):
        bravo_asn(ReportedContest("c", {"A": 60, "B": 40}, 100), None, 0)
    with pytest.raises(ConfigError, match="risk limit"):
        supersimple_nmin(0, 0.1)
    with pytest.raises(ConfigError, match="risk limit"):
        supersimple_nmin(1.5, 0.1)
    with pytest.raises(ConfigError, match="one round"):
        bravo_quantile_sample_size(0.05, 0.6, 0.4, 0, 0, 1.0, 1000)
