"""SHANGRLA's own sampling pieces (shangrla.json cases 32, 35, 36): its cryptorandom sample numbers, and its
card-style consistent sampling across contests."""

from __future__ import annotations

import numpy as np
import pytest

from veritally.audit._shangrla_prng import shangrla_sample_numbers, shangrla_uniforms
from veritally.audit.sampling import consistent_sample_contests

from ._vectors import vectors


def _case(index: int) -> dict:
    return vectors("shangrla.json")["cases"][index]


def test_sample_numbers_match_cryptorandom():
    case = _case(35)
    assert [str(v) for v in shangrla_sample_numbers(1234567890, 3)] == case["values"]


def test_uniforms_match_cryptorandom():
    case = _case(36)
    assert shangrla_uniforms(1234567890, 3) == pytest.approx(case["values"], rel=1e-15)
    # the stream continues where it left off
    assert shangrla_sample_numbers(1234567890, 2, start=1) == shangrla_sample_numbers(1234567890, 3)[1:]


def test_consistent_sampling_across_contests_matches_shangrla():
    case = _case(32)
    # 6 CVRs with sample numbers 0..5; city_council on CVRs 1–5, measure_1 on CVRs 1, 2, 3 and 6
    order = np.arange(6)
    contains = {"city_council": np.array([1, 1, 1, 1, 1, 0], bool), "measure_1": np.array([1, 1, 1, 0, 0, 1], bool)}
    chosen = consistent_sample_contests(order, contains, {"city_council": 3, "measure_1": 4})
    assert sorted(int(c) for c in chosen.cards) == case["expected_indices"]
    # SHANGRLA's sample_threshold is the last sample number it took per contest: the cutoff minus one here
    assert {c: chosen.cutoff[c] - 1 for c in contains} == case["expected_sample_threshold"]
