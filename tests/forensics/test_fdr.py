"""Benjamini–Hochberg and Benjamini–Yekutieli q-values against scipy.stats.false_discovery_control."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from veritally.errors import ConfigError
from veritally.forensics import fdr


@pytest.mark.parametrize("seed", range(5))
def test_q_values_match_scipy(seed):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.random(400), rng.random(40) * 1e-4, [0.0, 1.0, 0.05, 0.05]])
    rng.shuffle(p)
    assert np.allclose(fdr.bh_adjust(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12, atol=0)
    assert np.allclose(fdr.by_adjust(p), stats.false_discovery_control(p, method="by"), rtol=1e-12, atol=0)


def test_nan_p_values_are_left_out_of_m():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    q = fdr.bh_adjust(p)
    assert np.isnan(q[1])
    assert np.allclose(q[[0, 2, 3]], stats.false_discovery_control([0.01, 0.04, 0.03]))
    assert fdr.fdr_reject(p, 0.05).tolist() == [True, False, True, True]


def test_rejections_follow_the_step_up_rule():
    # m = 5, q = 0.05: thresholds 0.01, 0.02, 0.03, 0.04, 0.05; the largest p_(k) ≤ k q/m is p_(3) = 0.029.
    p = np.array([0.029, 0.001, 0.2, 0.019, 0.041])
    assert fdr.fdr_reject(p, 0.05).tolist() == [True, True, False, True, False]
    assert fdr.fdr_reject(p, 0.05, method="by").sum() <= 3


def test_bad_arguments_are_refused():
    with pytest.raises(ConfigError):
        fdr.bh_adjust(np.array([0.5, 1.2]))
    with pytest.raises(ConfigError):
        fdr.fdr_reject(np.array([0.5]), q=1.5)
    with pytest.raises(ConfigError):
        fdr.fdr_adjust(np.array([0.5]), method="holm")
