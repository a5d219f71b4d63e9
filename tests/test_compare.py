"""Comparing a count with reported results: planted miscounts are found, outcomes judged, the CLI's exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from rich.console import Console

from veritally.builder import ElectionBuilder
from veritally.compare import compare, compare_paths, smallest_margin
from veritally.errors import ConfigError
from veritally.formats import write_cvrs
from veritally.formats.reported import Reported, write_reported_csv
from veritally.model import Choice, Contest, ContestKind
from veritally.report.compare_text import print_comparison
from veritally.tabulate import tabulate

from .elections import council, measure, rcv

MAYOR = Contest("mayor", "Mayor", ContestKind.PLURALITY, (Choice("ann", "Ann"), Choice("ben", "Ben"),
                                                          Choice("cy", "Cy")))
#: Mayor votes per (precinct, batch): Ann 40, Ben 38, Cy 7 in all — a margin of 2.
PLAN = {("P1", "B1"): (20, 10, 3), ("P1", "B2"): (10, 10, 2), ("P2", "B3"): (10, 18, 2)}
COUNCIL_MASKS = (0b011, 0b101, 0b110, 0b001)  # cycled over the cards: Xavier, Yolanda, Zed


def county():
    """Mayor (plurality), Council (vote for 2), Measure 1 (2/3), RCV Mayor, on 85 cards in 2 precincts, 3 batches."""
    b = ElectionBuilder("Test County")
    m, c, q, r = (b.add_contest(x) for x in (MAYOR, council(), measure(), rcv()))
    b.start_file("county")
    n = 0
    for (precinct, batch), votes in PLAN.items():
        for choice, k in enumerate(votes):
            for _ in range(k):
                marks = {m: 1 << choice, c: COUNCIL_MASKS[n % 4], q: 1 << (n % 3 == 0),
                         r: [1 << (n % 3), 1 << ((n + 1) % 3)]}
                b.add_card(f"card-{n}", marks, {"precinct": precinct, "batch": batch})
                n += 1
    return b.build()


def reported_from(count, change=None) -> Reported:
    """The count as a report would state it, with ``change(contest, choice, unit, votes) -> votes`` applied."""
    rep = Reported.from_count(count)
    if change is None:
        return rep
    return Reported.from_rows([(c, ch, u, change(c, ch, u, v)) for c, ch, u, v in rep.rows()], rep.unit_kind)


def contest(result, name):
    return next(c for c in result.contests if c.name == name)


def text_of(result) -> str:
    console = Console(record=True, width=300)
    print_comparison(result, console)
    return console.export_text()


# finding planted miscounts ----------------------------------------------------------------------------------------

def test_all_agree():
    count = tabulate(county(), by="precinct")
    result = compare(count, reported_from(count))
    assert result.agree and result.discrepancies == []
    assert all(not c.could_change_outcome and not c.outcome_differs for c in result.contests)
    assert contest(result, "Mayor").counted_winners == ["Ann"] == contest(result, "Mayor").reported_winners
    assert "All 4 contests agree" in text_of(result)


def test_double_counted_batch_found():
    count = tabulate(county(), by="batch")
    rep = reported_from(count, lambda c, ch, u, v: 2 * v if u == "B2" else v)
    result = compare(count, rep)
    units = {d.unit for d in result.discrepancies}
    assert units == {"B2", None}
    mayor = [d for d in result.discrepancies if d.contest == "Mayor" and d.unit == "B2"]
    assert [(d.choice, d.reported, d.counted, d.difference) for d in mayor] == [
        ("Ann", 20, 10, 10), ("Ben", 20, 10, 10), ("Cy", 4, 2, 2)]
    m = contest(result, "Mayor")
    assert m.total_abs_discrepancy == 22 and m.units == 3
    assert m.could_change_outcome and not m.outcome_differs  # Ann still leads: 50 to 48
    assert "B2" in text_of(result)


def test_shifted_votes_reported_as_two_discrepancies():
    count = tabulate(county(), by="precinct")
    shift = {("Ann", "P2"): -5, ("Ben", "P2"): +5}
    result = compare(count, reported_from(count, lambda c, ch, u, v: v + shift.get((ch, u), 0) * (c == "Mayor")))
    unit_rows = [(d.choice, d.unit, d.difference) for d in result.discrepancies if d.unit]
    assert unit_rows == [("Ann", "P2", -5), ("Ben", "P2", 5)]
    total_rows = [(d.choice, d.reported, d.counted) for d in result.discrepancies if d.unit is None]
    assert total_rows == [("Ann", 35, 40), ("Ben", 43, 38)]
    m = contest(result, "Mayor")
    # a shift of 5 moves the Ann–Ben difference by 10 and counts 10 in Σ|difference|
    assert m.total_abs_discrepancy == 10 and m.smallest_margin == 2
    assert m.outcome_differs and m.could_change_outcome
    assert m.reported_winners == ["Ben"] and m.counted_winners == ["Ann"]


def test_outcome_could_change_when_discrepancy_exceeds_margin():
    count = tabulate(county())
    result = compare(count, reported_from(count, lambda c, ch, u, v: v - 2 if (c, ch) == ("Mayor", "Ann") else v))
    m = contest(result, "Mayor")
    assert (m.total_abs_discrepancy, m.smallest_margin) == (2, 2)
    assert m.could_change_outcome and m.outcome_differs  # a 38–38 tie is not Ann's win
    assert m.reported_tied == ["Ann", "Ben"] and m.reported_winners == []
    assert "The reported outcome (Ann and Ben tied) differs from the counted one (Ann wins)" in text_of(result)


def test_outcome_cannot_change_when_discrepancy_below_margin():
    count = tabulate(county())
    result = compare(count, reported_from(count, lambda c, ch, u, v: v + 1 if (c, ch) == ("Mayor", "Ann") else v))
    m = contest(result, "Mayor")
    assert (m.total_abs_discrepancy, m.smallest_margin) == (1, 2)
    assert not m.could_change_outcome and not m.outcome_differs
    assert "cannot change who won" in text_of(result)


def test_precinct_discrepancies_that_cancel_in_totals_still_count():
    count = tabulate(county(), by="precinct")
    move = {("Cy", "P1"): +1, ("Cy", "P2"): -1}
    result = compare(count, reported_from(count, lambda c, ch, u, v: v + move.get((ch, u), 0) * (c == "Mayor")))
    assert [(d.unit, d.difference) for d in result.discrepancies] == [("P1", 1), ("P2", -1)]
    m = contest(result, "Mayor")
    assert m.total_abs_discrepancy == 2 and m.could_change_outcome  # 2 ≥ margin 2: conservative
    assert "totals agree" in text_of(result)


def test_dropped_precinct_is_found_as_counted_votes_missing_from_the_report():
    count = tabulate(county(), by="precinct")
    rep = Reported.from_rows([r for r in reported_from(count).rows() if r[2] != "P2"], "precinct")
    result = compare(count, rep)
    mayor = [(d.choice, d.unit, d.reported, d.counted) for d in result.discrepancies
             if d.contest == "Mayor" and d.unit]
    assert mayor == [("Ann", "P2", 0, 10), ("Ben", "P2", 0, 18), ("Cy", "P2", 0, 2)]
    m = contest(result, "Mayor")
    assert m.units == 2 and m.total_abs_discrepancy == 30
    assert not m.outcome_differs and m.could_change_outcome  # Ann still leads (30 to 20), but 30 votes ≥ margin 2


# matching by name -------------------------------------------------------------------------------------------------

def test_names_match_exactly_then_ignoring_case_and_spaces():
    count = tabulate(county())
    rep = Reported.from_rows([("  MAYOR ", "ann", None, 40), ("  MAYOR ", "Ben", None, 38),
                              ("  MAYOR ", "CY", None, 7)])
    result = compare(count, rep)
    assert result.agree
    assert contest(result, "  MAYOR ").counted_name == "Mayor"
    assert "Council" in result.unreported_contests and any("not in the report" in n for n in result.notes)


def test_unmatched_reported_choice_is_a_discrepancy_with_counted_zero():
    count = tabulate(county())
    rep = reported_from(count)
    rep = Reported.from_rows([*rep.rows(), ("Mayor", "Dee", None, 4)])
    result = compare(count, rep)
    assert [(d.choice, d.reported, d.counted, d.difference) for d in result.discrepancies] == [("Dee", 4, 0, 4)]


def test_counted_choice_with_votes_absent_from_report_is_a_discrepancy():
    count = tabulate(county())
    rep = Reported.from_rows([r for r in reported_from(count).rows() if (r[0], r[1]) != ("Mayor", "Cy")])
    result = compare(count, rep)
    assert [(d.contest, d.choice, d.reported, d.counted) for d in result.discrepancies] == [("Mayor", "Cy", 0, 7)]
    # a counted choice with no votes may be left out of the report
    zero = Reported.from_rows([r for r in reported_from(count).rows() if r[3] or r[0] != "RCV Mayor"])
    assert compare(count, zero).agree


def test_reported_contest_not_in_the_count_is_all_discrepancy():
    count = tabulate(county())
    rep = Reported.from_rows([*reported_from(count).rows(), ("Sheriff", "Sam", None, 9), ("Sheriff", "Tia", None, 3)])
    result = compare(count, rep)
    sheriff = contest(result, "Sheriff")
    assert sheriff.counted_name is None and sheriff.could_change_outcome and sheriff.outcome_differs
    assert sheriff.reported_winners == ["Sam"] and sheriff.total_abs_discrepancy == 12
    assert "not in the count" in text_of(result)


# margins ----------------------------------------------------------------------------------------------------------

def test_vote_for_n_margin_is_last_winner_minus_best_loser():
    assert smallest_margin(council(), [30, 25, 21]) == 4
    assert smallest_margin(council(), [30, 21, 21]) == 0  # tie at the last seat
    assert smallest_margin(MAYOR, [40, 38, 7]) == 2
    assert smallest_margin(council(), [3, 2]) is None  # nobody loses


def test_threshold_margin_counts_the_votes_needed_to_cross_it():
    two_thirds = measure()
    # Yes 4 of 5 = 80 %: one vote less for Yes (3/4) or one more for No (4/6 = 2/3) still passes; two can fail it
    assert smallest_margin(two_thirds, [4, 1]) == 2
    assert smallest_margin(two_thirds, [2, 1]) == 1  # exactly 2/3: one vote moves it below
    # Yes 60 of 100 fails; each vote taken from No moves Yes's surplus by 2/3: 10 fewer No votes make 60/90 = 2/3
    assert smallest_margin(two_thirds, [60, 40]) == 10


def test_ranked_contest_compares_first_round_and_says_so():
    count = tabulate(county())
    result = compare(count, reported_from(count, lambda c, ch, u, v: v + 1 if (c, ch) == ("RCV Mayor", "Pat") else v))
    r = contest(result, "RCV Mayor")
    assert r.kind == "ranked" and r.smallest_margin is None and r.could_change_outcome
    assert "first-round" in r.note


# inputs: count JSON, CVRs, units ----------------------------------------------------------------------------------

def test_count_json_compares_like_the_count():
    count = tabulate(county(), by="precinct")
    rep = reported_from(count, lambda c, ch, u, v: v + 3 if (ch, u) == ("Ben", "P1") else v)
    a, b = compare(count, rep).to_json(), compare(json.loads(json.dumps(count.to_json())), rep).to_json()
    assert a == b and not a["agree"]


def test_report_per_unit_needs_a_count_by_that_unit():
    rep = reported_from(tabulate(county(), by="precinct"))
    with pytest.raises(ConfigError, match="per precinct.*--by precinct"):
        compare(tabulate(county()), rep)
    with pytest.raises(ConfigError, match="figures per batch"):
        compare(tabulate(county(), by="batch").to_json(), rep)


def test_compare_paths_counts_cvrs_by_the_reports_unit(tmp_path):
    cvrs = write_cvrs(county(), tmp_path / "cvrs.parquet", "parquet")
    reported = write_reported_csv(tabulate(county(), by="batch"), tmp_path / "reported.csv")
    result = compare_paths(cvrs, reported, "auto")
    assert result.agree and result.unit_kind == "batch" and contest(result, "Mayor").units == 3


# the command line -------------------------------------------------------------------------------------------------

def run(*args):
    return subprocess.run([sys.executable, "-m", "veritally", "compare", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def files(tmp_path):
    election = county()
    cvrs = write_cvrs(election, tmp_path / "cvrs.parquet", "parquet")[0]
    count = tabulate(election, by="precinct")
    good = write_reported_csv(count, tmp_path / "reported.csv")
    bad = write_reported_csv(reported_from(count, lambda c, ch, u, v: 2 * v if (c, u) == ("Mayor", "P2") else v),
                             tmp_path / "doubled.csv")
    return tmp_path, cvrs, good, bad


def test_all_agree_exit_0(files):
    tmp, cvrs, good, _ = files
    res = run(cvrs, good, "--json", tmp / "cmp.json")
    assert res.returncode == 0, res.stderr
    assert "All 4 contests agree" in res.stdout
    data = json.loads((tmp / "cmp.json").read_text())
    assert data["agree"] is True and data["discrepancies"] == []
    for key in ("name", "units", "reported_total", "counted_total", "total_abs_discrepancy", "smallest_margin",
                "counted_winners", "reported_winners", "could_change_outcome", "outcome_differs"):
        assert key in data["contests"][0]


def test_discrepancy_exit_1_with_json(files):
    tmp, cvrs, _, bad = files
    res = run(cvrs, bad, "--json", tmp / "cmp.json")
    assert res.returncode == 1, res.stderr
    assert "Mayor" in res.stdout and "P2" in res.stdout
    data = json.loads((tmp / "cmp.json").read_text())
    assert {"contest": "Mayor", "choice": "Ben", "unit": "P2", "reported": 36, "counted": 18,
            "difference": 18} in data["discrepancies"]
    mayor = data["contests"][0]
    assert mayor["outcome_differs"] and mayor["reported_winners"] == ["Ben"]


def test_count_json_from_tabulate_then_compare(files):
    tmp, cvrs, good, bad = files
    count_json = tmp / "count.json"
    assert subprocess.run([sys.executable, "-m", "veritally", "tabulate", cvrs, "--by", "precinct", "--json",
                           count_json], capture_output=True).returncode == 0
    assert run(count_json, good).returncode == 0
    assert run(count_json, bad).returncode == 1


def test_count_json_without_the_reports_unit_is_exit_2(files):
    tmp, cvrs, good, _ = files
    count_json = tmp / "count.json"
    subprocess.run([sys.executable, "-m", "veritally", "tabulate", cvrs, "--json", count_json], check=True,
                   capture_output=True)
    res = run(count_json, good)
    assert res.returncode == 2 and "--by precinct" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content, words", [
    ("contest,choice\nMayor,Ann\n", "missing column 'votes'"),
    ("contest,choice,precinct,votes\nMayor,Ann,P1,many\n", "record 2"),
    ("", "empty file"),
])
def test_bad_reported_file_is_exit_2_with_one_line(files, content, words):
    tmp, cvrs, _, _ = files
    path = tmp / "bad.csv"
    path.write_text(content)
    res = run(cvrs, path)
    assert res.returncode == 2
    assert words in res.stderr and "bad.csv" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_missing_count_file_is_exit_2(files):
    tmp, _, good, _ = files
    res = run(tmp / "nope.json", good)
    assert res.returncode == 2 and "nope.json" in res.stderr and "Traceback" not in res.stderr


# choices or contests sharing a name; reports whose totals disagree with their units -------------------------------
def test_choices_sharing_a_name_are_one_line_with_their_votes_summed():
    b = ElectionBuilder("two write-in lines")
    k = b.add_contest(Contest("c", "Council", ContestKind.VOTE_FOR_N,
                              (Choice("a", "Ann"), Choice("b", "Bob"), Choice("w1", "Write-in", write_in=True),
                               Choice("w2", "Write-in", write_in=True)), winners=2, votes_allowed=2))
    for i, mask in enumerate([0b0101, 0b1001, 0b0011, 0b1100, 0b0001]):
        b.add_card(str(i), {k: mask})
    count = tabulate(b.build())
    figures = count.contest("Council").to_json()
    assert figures["tallies"] == {"Ann": 4, "Bob": 1, "Write-in": 4}
    assert sum(figures["tallies"].values()) == 9 and figures["write_ins"] == 4
    rep = Reported.from_rows([("Council", "Ann", None, 4), ("Council", "Bob", None, 1),
                              ("Council", "Write-in", None, 4)])
    assert compare(count, rep).discrepancies == []
    assert Reported.from_count(count).totals() == {"Council": {"Ann": 4, "Bob": 1, "Write-in": 4}}


def test_two_counted_contests_of_one_name_are_refused_not_guessed():
    b = ElectionBuilder("two councils")
    d1 = b.add_contest(Contest("d1", "Council", ContestKind.PLURALITY, (Choice("a", "A"), Choice("b", "B"))))
    d2 = b.add_contest(Contest("d2", "Council", ContestKind.PLURALITY, (Choice("a", "A"), Choice("b", "B"))))
    b.add_card("1", {d1: 1})
    b.add_card("2", {d2: 2})
    rep = Reported.from_rows([("Council", "A", None, 1), ("Council", "B", None, 0)])
    with pytest.raises(ConfigError, match="several contests named 'Council'.*'d1', 'd2'"):
        compare(tabulate(b.build()), rep)


def test_report_totals_that_disagree_with_its_units_count_in_the_outcome_test():
    count = {"election": "e", "cards": 200, "by": "precinct", "contests": [
        {"name": "Mayor", "kind": "plurality", "tallies": {"A": 120, "B": 80},
         "by": {"P1": {"tallies": {"A": 60, "B": 40}}, "P2": {"tallies": {"A": 60, "B": 40}}}}]}
    rep = Reported.from_rows([("Mayor", "A", "P1", 60), ("Mayor", "B", "P1", 40), ("Mayor", "A", "P2", 60),
                              ("Mayor", "B", "P2", 40), ("Mayor", "A", None, 200), ("Mayor", "B", None, 120)],
                             "precinct")
    summary = compare(count, rep).contests[0]
    assert summary.total_abs_discrepancy == 120  # the totals are 80 + 40 off; the units agree
    assert summary.could_change_outcome  # 120 >= the margin of 40
