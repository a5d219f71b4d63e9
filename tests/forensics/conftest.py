"""Fixtures shared by the forensics tests: the Russian 2018 stations and one run of the battery on them."""

from __future__ import annotations

import pytest

from veritally.forensics import run_battery

from ._ru2018 import load_ru2018


@pytest.fixture(scope="session")
def ru2018():
    return load_ru2018()


@pytest.fixture(scope="session")
def ru_battery(ru2018, tmp_path_factory):
    """(findings, plots folder) of the whole battery on the 97,699 stations, 1000 MC replicates (about 5 s)."""
    folder = tmp_path_factory.mktemp("ru2018_plots")
    return run_battery(ru2018.unit_results(), mc_replicates=1000, plots_dir=folder), folder
