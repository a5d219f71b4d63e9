"""The CDF CVR export of ``veritally rcv`` (``generateCdfJson``): the same ballots, ranks, contest and candidates as
RCTab's own export of each case (ids may differ), both read back with Veritally's CDF reader. The conversion cases
are run as RCTab's tests run them, with --convert-to-cdf (their configurations do not ask for the export)."""

from __future__ import annotations

from collections import Counter

import pytest

from veritally.formats import nist_cdf
from veritally.formats.rctab_config import load_config
from veritally.rcv import run_rcv

from ..._shared import RCTAB, need


def _cases() -> list[str]:
    return sorted(p.parent.name for p in RCTAB.glob("*/*_expected_cdf_cvr.json")) if RCTAB.exists() else []


def _ballots(path, candidates) -> Counter:
    """Multiset of ballots, each a tuple of (rank, sorted candidate names) over its ranked positions."""
    election = nist_cdf.read([path], candidates=candidates, overvote_label="overvote")  # RCTab exports it so
    (contest,) = [c for c in election.contests if c.is_ranked] or election.contests
    marks = election.cards.marks[election.contests.index(contest)]
    names = contest.choice_names
    flag = contest.overvote_flag
    out = Counter()
    for row in marks.masks[marks.present].tolist():
        out[tuple((r + 1, tuple(sorted(("overvote",) if m & flag else (names[i] for i in range(len(names))
                                                                        if m >> i & 1))))
                  for r, m in enumerate(row) if m)] += 1
    return out


@pytest.mark.parametrize("case", _cases())
def test_cdf_export_holds_rctabs_ballots(case, tmp_path):
    folder = need(RCTAB / case)
    config_path = folder / f"{case}_config.json"
    config = load_config(config_path)
    run_rcv(config_path, tmp_path, convert_to_cdf=case.startswith("conversions_"))  # as RCTab's tests run them
    candidates = [{"name": c.name, "aliases": list(c.aliases)} for c in config.candidates]
    mine, theirs = tmp_path / "cdf_cvr.json", folder / f"{case}_expected_cdf_cvr.json"
    assert mine.exists()
    expected = _ballots(theirs, candidates)
    assert _ballots(mine, candidates) == expected
    assert sum(expected.values()) > 0
    written = nist_cdf.read([mine])
    assert [c.name for c in written.contests[0].choices] == config.candidate_names
