"""The results model: mode resolution, totals, the UnitResults contract, the NIST SP 1500-100 adapter, format
detection and the matching of a previous election's units."""

from __future__ import annotations

import numpy as np
import pytest

from veritally._results_match import loose_id, match_previous
from veritally.errors import ConfigError, FormatError, InputError
from veritally.forensics import UnitResults
from veritally.formats.reported import Reported, write_nist_err_json
from veritally.results import (ALL_MODES, MISSING, TOTAL, UNALLOCATED, VOTE, build, detect_results_format,
                               from_reported, normalized_name, read_results)

from ._shared import SHARED, need


def tiny(rows, **extra):
    """A PrecinctResults from (contest, unit, choice, mode, kind, votes) tuples ("" unit = none)."""
    contests = list(dict.fromkeys(r[0] for r in rows))
    units = list(dict.fromkeys(r[1] for r in rows if r[1]))
    choices = list(dict.fromkeys(r[2] for r in rows))
    modes = [ALL_MODES] + list(dict.fromkeys(r[3] for r in rows if r[3]))
    return build(fmt="test", source="test", unit_ids=units, contests=contests, choices=choices, modes=modes,
                 regions=(), contest=np.array([contests.index(r[0]) for r in rows]),
                 unit=np.array([units.index(r[1]) if r[1] else -1 for r in rows]),
                 choice=np.array([choices.index(r[2]) for r in rows]),
                 mode=np.array([modes.index(r[3]) for r in rows]), kind=np.array([r[4] for r in rows]),
                 region=np.full(len(rows), -1), votes=np.array([r[5] for r in rows]),
                 record=np.arange(2, len(rows) + 2), **extra)


def test_a_figure_is_the_all_modes_row_when_given_else_the_sum_of_modes():
    res = tiny([("Mayor", "P1", "Ann", "", VOTE, 10), ("Mayor", "P1", "Ann", "mail", VOTE, 4),
                ("Mayor", "P1", "Ann", "day", VOTE, 6), ("Mayor", "P2", "Ann", "mail", VOTE, 1),
                ("Mayor", "P2", "Ann", "day", VOTE, 2), ("Mayor", "", "Ann", "", UNALLOCATED, 5),
                ("Mayor", "", "Ann", "", TOTAL, 18)])
    assert res.totals() == {"Mayor": {"Ann": 18}}
    assert res.reported_totals() == {"Mayor": {"Ann": 18}}
    units = res.to_unit_results("Mayor")
    assert units.votes.tolist() == [[10], [3]] and units.unit.tolist() == ["P1", "P2"]


def test_unit_results_follow_the_contract():
    res = tiny([("Mayor", "P1", "Ann", "", VOTE, 10), ("Mayor", "P1", "Bob", "", VOTE, 20),
                ("Mayor", "P2", "Bob", "", VOTE, 5), ("Council", "P2", "Cy", "", VOTE, 1)])
    units = res.to_unit_results("Mayor")
    assert isinstance(units, UnitResults)
    assert units.choice == ("Ann", "Bob") and units.votes.dtype == np.int64
    assert units.votes.tolist() == [[10, 20], [0, 5]]
    assert units.registered is None and units.ballots is None and units.region is None
    assert units.leader_name == "Bob"
    assert res.to_unit_results("council").choice == ("Cy",)


def test_registered_missing_somewhere_is_none_with_a_note():
    res = tiny([("Mayor", "P1", "Ann", "", VOTE, 10), ("Mayor", "P2", "Ann", "", VOTE, 5)],
               protocol={"registered": np.array([100, MISSING])})
    units, notes = res.unit_results("Mayor")
    assert units.registered is None and "missing for 1 of 2 units" in notes[0]


def test_contests_are_found_loosely_or_listed():
    res = tiny([("U.S. Senate", "P1", "Ann", "", VOTE, 1)])
    assert normalized_name("US SENATE") == normalized_name("U.S. Senate")
    assert res.contest_code("us senate") == 0
    with pytest.raises(ConfigError, match="no contest 'Governor'.*'U.S. Senate'"):
        res.contest_code("Governor")
    only_totals = tiny([("Mayor", "", "Ann", "", TOTAL, 3)])
    with pytest.raises(InputError, match="no per-unit vote rows"):
        only_totals.to_unit_results("Mayor")


def test_nist_err_json_through_the_adapter(tmp_path):
    rep = Reported.from_rows([("Mayor", "Ann", "P1", 10), ("Mayor", "Bob", "P1", 4), ("Mayor", "Ann", "P2", 7),
                              ("Mayor", "Bob", "P2", 9)], "precinct")
    path = write_nist_err_json(rep, tmp_path / "results.json")
    assert detect_results_format(path) == "nist-err"
    res = read_results(path)
    assert res.format == "nist-err"
    assert res.totals() == {"Mayor": {"Ann": 17, "Bob": 13}}
    assert res.reported_totals() == {"Mayor": {"Ann": 17, "Bob": 13}}  # the writer adds contest-wide counts
    units = res.to_unit_results("Mayor")
    assert units.unit.tolist() == ["P1", "P2"] and units.votes.tolist() == [[10, 4], [7, 9]]
    assert from_reported(rep).totals() == res.totals()


def test_format_detection(tmp_path):
    assert detect_results_format(need(SHARED / "data" / "medsl_2018-de-precinct-general.zip")) == "medsl"
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n")
    with pytest.raises(FormatError, match="cannot tell the results format"):
        detect_results_format(junk)
    with pytest.raises(InputError, match="no such file"):
        read_results(tmp_path / "absent.csv")
    with pytest.raises(ConfigError, match="apply to the protocol format"):
        read_results(junk, "medsl", preset="ru-cik")
    with pytest.raises(ConfigError, match="unknown results format"):
        read_results(junk, "xml")


# matching a previous election's units ------------------------------------------------------------------------------

def units_of(ids, votes=None):
    n = len(ids)
    return UnitResults(unit=np.array(ids, dtype=object), choice=("A",),
                       votes=np.arange(1, n + 1).reshape(n, 1) if votes is None else votes,
                       registered=np.arange(100, 100 + n))


def test_units_are_matched_exactly_then_loosely_then_by_their_ends():
    current = units_of(["Kent / 01-01", "KENT / 02-01", "Reg / TIK renamed / 7", "Reg / A / 8", "New / 1"])
    previous = units_of(["Kent / 01-01", "kent / 2-1", "Reg / Old TIK / 7", "Reg / B / 8", "Reg / C / 8"])
    aligned, match = match_previous(current, previous)
    assert match.by_pass == {"exact": 1, "compared loosely": 1, "by first and last id parts": 1}
    assert match.matched == 3 and "3 of 5 units matched" in match.describe()
    # renamed to the current ids, carrying the previous figures; "Reg / _ / 8" is ambiguous and left out
    assert aligned.unit.tolist() == ["Kent / 01-01", "KENT / 02-01", "Reg / TIK renamed / 7"]
    assert aligned.votes.ravel().tolist() == [1, 2, 3] and aligned.registered.tolist() == [100, 101, 102]
    assert loose_id(" Kent /  007-01 ") == "kent/7-1"


def test_no_match_at_all():
    aligned, match = match_previous(units_of(["a"]), units_of(["b"]))
    assert aligned is None and match.matched == 0


def test_grouping_by_codes_too_wide_for_one_key():
    from veritally.results import _group

    big = 2**31 - 2
    a, b, c = np.array([big, 5, big, 5]), np.array([big, 1, big, 2]), np.array([big, 0, big, 0])
    inverse, first = _group(a, b, c)  # radices multiply past 2**62: the lexicographic path
    assert inverse.tolist()[0] == inverse.tolist()[2] and len(set(inverse.tolist())) == 3
    assert sorted(first.tolist()) == [0, 1, 3]
    small_inverse, small_first = _group(a % 7, b % 7, c % 7)
    assert len(set(small_inverse.tolist())) == 3 and sorted(small_first.tolist()) == [0, 1, 3]
