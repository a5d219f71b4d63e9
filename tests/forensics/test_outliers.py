"""Outliers against history on synthetic elections: no flags and calibrated residuals when every unit follows one
swing, the stuffed units found when some are stuffed, and the robust fit not dragged by them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from veritally.errors import ConfigError
from veritally.forensics.outliers import fit_history, history_finding

from ._synthetic import clean_election, stuff


def _leader(results):
    return results.votes[:, 0], results.votes.sum(axis=1)


def test_clean_elections_flag_nothing_and_residuals_are_standard_normal():
    flagged, z_all = 0, []
    for seed in range(8):
        current, previous = clean_election(3000, seed)
        fit = fit_history(*_leader(current), *_leader(previous))
        flagged += int((fit.q <= 0.05).sum())
        z_all.append(fit.z)
        # v = 0.05 + 0.95 s near s = 0.5 is, on the logit scale, a slope of 0.95 · s(1 − s)/(v(1 − v)) ≈ 0.94.
        assert fit.coefficients[1] == pytest.approx(0.94, abs=0.03)
    assert flagged == 0
    z = np.concatenate(z_all)
    assert abs(z.mean()) < 0.05 and z.std() == pytest.approx(1.0, abs=0.08)
    assert stats.kstest(2 * stats.norm.sf(np.abs(z[::7])), "uniform").pvalue > 0.001


def test_stuffed_units_are_flagged():
    current, previous = clean_election(3000, 21)
    stuffed, touched = stuff(current, 0.02, seed=3, share_of_nonvoters=0.4)  # the leader's share up ~9 points
    fit = fit_history(*_leader(stuffed), *_leader(previous))
    flagged = np.flatnonzero(fit.q <= 0.05)
    assert len(set(flagged) & set(touched)) >= 0.9 * touched.size
    assert len(set(flagged) - set(touched)) <= 3
    clean_fit = fit_history(*_leader(current), *_leader(previous))
    assert fit.coefficients == pytest.approx(clean_fit.coefficients, abs=0.05)  # the robust loss holds the line
    finding = history_finding(current.unit, fit, scope="Alpha", what="share")
    assert finding.statistic == len(flagged) and finding.p_value < 1e-10
    assert set(finding.flagged_units) == set(current.unit[flagged])


def test_units_with_too_few_votes_are_left_out():
    current, previous = clean_election(500, 1)
    y, m = _leader(current)
    m = m.copy()
    m[:10] = 5
    y = np.minimum(y, m)
    fit = fit_history(y, m, *_leader(previous))
    assert fit.used.sum() == 490 and not fit.used[:10].any()
    with pytest.raises(ConfigError):
        fit_history(y[:5], m[:5], *(a[:5] for a in _leader(previous)))
