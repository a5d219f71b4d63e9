"""run_battery end to end: quiet on clean synthetic elections, loud on planted manipulation, every finding
JSON-ready with its caveat and battery-wide FDR, plots written as PNG and SVG, tests skipped when the data do not
allow them, and bad input refused with an InputError."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest

from veritally.errors import InputError
from veritally.forensics import Finding, UnitResults, run_battery

from ._synthetic import clean_election, round_turnouts, stuff

FIELDS = ("name", "scope", "statistic", "effect", "p_value", "interval", "flagged_units", "caveat")
PLOTS = ("fingerprint", "integer_percent", "second_digits", "last_digits", "residuals_share", "residuals_turnout")


def _check_json(findings: list[Finding]) -> list[dict]:
    records = [f.to_json() for f in findings]
    json.dumps(records, allow_nan=False)  # strict JSON: NaN and inf were turned into null
    for record in records:
        assert all(key in record for key in FIELDS)
        assert "never a verdict" in record["caveat"] or "not a verdict" in record["caveat"]
        assert "battery_q_value" in record and "battery_flagged" in record
    return records


def test_clean_synthetic_elections_raise_no_flags():
    runs_with_flags, p_values = 0, []
    for seed in range(12):
        current, previous = clean_election(1500, 500 + seed)
        findings = run_battery(current, previous=previous, mc_replicates=300, klimek_bootstrap=20, seed=seed)
        _check_json(findings)
        runs_with_flags += any(f.details["battery_flagged"] for f in findings)
        p_values.extend(f.p_value for f in findings if f.p_value is not None)
        # Unit-level flags after multiple-testing control: none from history, and no region.
        assert not any(f.flagged_units for f in findings if f.name in ("history_outlier", "integer_percent"))
    p_values = np.array(p_values)
    # BH at 0.05 keeps P(any flag) ≤ 0.05 per run when every null holds: of 12 runs, 3 or more would happen with
    # probability under 2 %.
    assert runs_with_flags <= 2
    for alpha in (0.01, 0.05, 0.2):
        assert np.mean(p_values <= alpha) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / p_values.size)


def test_planted_manipulation_is_flagged(tmp_path):
    current, previous = clean_election(3000, 77)
    rounded, _ = round_turnouts(current, 0.05, seed=1)
    manipulated, stuffed = stuff(rounded, 0.03, seed=2, share_of_nonvoters=0.5)
    findings = run_battery(manipulated, previous=previous, mc_replicates=300, klimek_bootstrap=20,
                           plots_dir=tmp_path)
    by_name = {(f.name, f.scope): f for f in findings}
    assert by_name[("integer_percent", "all units")].details["battery_flagged"]
    history = by_name[("history_outlier", "Alpha")]
    assert history.details["battery_flagged"]
    assert len(set(history.flagged_units) & set(manipulated.unit[stuffed])) >= 0.9 * stuffed.size
    assert by_name[("sobyanin_slope", "Alpha")].details["battery_flagged"]
    assert by_name[("klimek_incremental_fraud", "Alpha")].statistic > 0.01
    for stem in PLOTS:
        png, svg = tmp_path / f"{stem}.png", tmp_path / f"{stem}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", stem
        assert ET.parse(svg).getroot().tag.endswith("svg"), stem
    assert by_name[("integer_percent", "all units")].details["plots"] == ["integer_percent.png", "integer_percent.svg"]


def test_russia_2018_battery_runs_every_test_and_writes_its_plots(ru_battery):
    findings, folder = ru_battery
    records = _check_json(findings)
    names = {r["name"] for r in records}
    assert {"second_digit_benford", "last_digit_uniform", "last_digit_mean", "last_digit_05", "final_pair_repeated",
            "final_pair_adjacent", "percent_last_digit_05", "integer_percent", "skewness", "kurtosis", "dip_test",
            "turnout_share_correlation", "sobyanin_slope", "klimek_incremental_fraud",
            "klimek_extreme_fraud"} <= names
    assert sum(r["name"] == "integer_percent" and r["scope"].startswith("region=") for r in records) > 70
    for stem in PLOTS[:4]:
        assert (folder / f"{stem}.png").stat().st_size > 1000 and (folder / f"{stem}.svg").exists()
    q = [r["battery_q_value"] for r in records if r["battery_q_value"] is not None]
    assert len(q) == sum(r["p_value"] is not None for r in records)


def test_tests_the_data_do_not_allow_are_skipped_and_logged(caplog):
    current, _ = clean_election(400, 3)
    bare = replace(current, registered=None, ballots=None, region=None)
    with caplog.at_level(logging.INFO, logger="veritally.forensics"):
        findings = run_battery(bare, mc_replicates=50)
    names = {f.name for f in findings}
    assert "integer_percent" not in names and "klimek_extreme_fraud" not in names and "history_outlier" not in names
    assert {"second_digit_benford", "skewness", "percent_last_digit_05"} <= names
    assert "need registered voters" in caplog.text and "no previous election" in caplog.text


def test_a_previous_election_with_too_few_matching_units_is_skipped(caplog):
    current, previous = clean_election(300, 6)
    strangers = replace(previous, unit=np.char.add("other-", previous.unit))
    strangers = replace(strangers, unit=np.where(np.arange(300) < 12, current.unit, strangers.unit))
    small = replace(strangers, votes=np.where(np.arange(300)[:, None] < 12, 1, strangers.votes),
                    ballots=np.where(np.arange(300) < 12, 3, strangers.ballots))
    with caplog.at_level(logging.INFO, logger="veritally.forensics"):
        findings = run_battery(current, previous=small, mc_replicates=50, klimek_bootstrap=5)
    # The 12 matched units had 3 ballots each before: too few for a share model; their turnout still fits.
    assert ("history_outlier", "Alpha") not in {(f.name, f.scope) for f in findings}
    assert "12 of 300 units matched" in caplog.text and "history outliers for Alpha skipped" in caplog.text


def test_bad_input_is_refused_with_an_input_error():
    current, _ = clean_election(50, 4)
    with pytest.raises(InputError, match="negative"):
        votes = current.votes.copy()
        votes[3, 1] = -2
        run_battery(replace(current, votes=votes))
    with pytest.raises(InputError, match="whole numbers"):
        run_battery(replace(current, votes=current.votes.astype(float)))
    with pytest.raises(InputError, match="repeat"):
        unit = current.unit.copy()
        unit[1] = unit[0]
        run_battery(replace(current, unit=unit))
    with pytest.raises(InputError, match="shape"):
        UnitResults(unit=current.unit, choice=("A", "B"), votes=current.votes)
    with pytest.raises(InputError, match="leader"):
        replace(current, leader="Nobody")
    with pytest.raises(InputError, match="no units"):
        run_battery(UnitResults(unit=np.array([], dtype=str), choice=("A",), votes=np.zeros((0, 1), np.int64)))
