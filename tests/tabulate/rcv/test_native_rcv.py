"""Ranked contests counted round by round inside ``veritally tabulate`` (any CVR format, streamed Parquet too),
with an RCTab rules object: the result equals RCTab's expected report."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from veritally.formats import read_cvrs, write_cvrs
from veritally.model import UWI_NAME
from veritally.tabulate.rcv import contest_ballots, contest_candidates, count_contest
from veritally.tabulate.rcv.rules import RcvRules

from ..._shared import RCTAB, need

CASE = "2013_minneapolis_mayor"


def run(*args):
    return subprocess.run([sys.executable, "-m", "veritally", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def minneapolis(tmp_path_factory):
    folder = need(RCTAB / CASE)
    config = json.loads((folder / f"{CASE}_config.json").read_text())
    expected = json.loads((folder / f"{CASE}_expected_detailed_report.json").read_text())
    tmp = tmp_path_factory.mktemp("mpls")
    rules = tmp / "rules.json"
    rules.write_text(json.dumps(config["rules"]))
    return folder / f"{CASE}_cvr.xlsx", rules, expected, tmp


def test_tabulate_with_rctab_rules_gives_rctabs_final_round(minneapolis):
    xlsx, rules, expected, tmp = minneapolis
    out = tmp / "count.json"
    res = run("tabulate", xlsx, "--format", "ess", "-o", "first_vote_column=2", "--rcv-rules", rules, "--json", out)
    assert res.returncode == 0, res.stderr
    (contest,) = json.loads(out.read_text())["contests"]
    final = expected["results"][-1]["tally"]
    assert contest["winners"] == ["BETSY HODGES"] and len(contest["rcv"]["rounds"]) == len(expected["results"])
    assert contest["rcv"]["rounds"][-1]["tallies"] == final
    assert "winner(s): BETSY HODGES" in res.stdout


def test_streamed_parquet_counts_the_same_rounds(minneapolis):
    xlsx, rules, _expected, tmp = minneapolis
    election = read_cvrs([xlsx], "ess", first_vote_column=2)
    parquet = tmp / "mpls.parquet"
    write_cvrs(election, parquet, "parquet")
    a, b = tmp / "a.json", tmp / "b.json"
    assert run("tabulate", parquet, "--rcv-rules", rules, "--json", a).returncode == 0
    assert run("tabulate", xlsx, "-f", "ess", "-o", "first_vote_column=2", "--rcv-rules", rules, "--json",
               b).returncode == 0
    assert json.loads(a.read_text())["contests"][0]["rcv"] == json.loads(b.read_text())["contests"][0]["rcv"]


def test_undeclared_write_in_choices_are_one_candidate_and_multi_pass_irv_runs_every_pass():
    from veritally.builder import ElectionBuilder
    from veritally.model import Choice, Contest, ContestKind

    b = ElectionBuilder("passes")
    k = b.add_contest(Contest("m", "Board", ContestKind.RANKED,
                              (Choice("a", "Ann"), Choice("b", "Bo"), Choice("c", "Cy"),
                               Choice("w1", "Write-in 1", write_in=True, undeclared=True),
                               Choice("w2", "Write-in 2", write_in=True, undeclared=True)), winners=2, ranks=3))
    ballots = [[1, 2, 4], [1, 4, 2], [2, 1, 0], [2, 4, 1], [4, 1, 2], [8, 1, 2], [16, 4, 0]]
    for i, ranks in enumerate(ballots):
        b.add_card(str(i), {k: ranks})
    e = b.build()
    names, of = contest_candidates(e.contests[0])
    assert names == ["Ann", "Bo", "Cy", UWI_NAME] and of == [0, 1, 2, 3, 3]
    rules = RcvRules.from_rctab({"winnerElectionMode": "multiPassIrv", "numberOfWinners": "2",
                                 "overvoteRule": "exhaustImmediately", "tiebreakMode": "useCandidateOrder",
                                 "maxSkippedRanksAllowed": "unlimited", "maxRankingsAllowed": "max",
                                 "decimalPlacesForVoteArithmetic": "4"})
    count = count_contest(e.contests[0], contest_ballots(e.contests[0], e.cards.marks[0]), rules)
    # pass 1: Ann 2, Bo 2, Cy 1, UWI 2 → UWI out; its ballots go to Ann and Cy: Ann 3, Bo 2, Cy 2 (7 active,
    # threshold 4) → Bo and Cy tie for last, Cy loses (latest in candidate order): Ann 4 wins.
    # pass 2 (Ann excluded): Bo wins.
    assert [names[w] for w in count.winners] == ["Ann", "Bo"]


def test_a_tie_left_to_an_operator_stops_only_that_contest(tmp_path):
    from veritally.builder import ElectionBuilder
    from veritally.model import Choice, Contest, ContestKind

    b = ElectionBuilder("ties")
    tied = b.add_contest(Contest("t", "Tied", ContestKind.RANKED, (Choice("a", "A"), Choice("b", "B")), ranks=2))
    clear = b.add_contest(Contest("c", "Clear", ContestKind.RANKED, (Choice("x", "X"), Choice("y", "Y")), ranks=2))
    for i, (t, c) in enumerate([(1, 1), (2, 1), (1, 2)]):
        b.add_card(str(i), {tied: [t, 0] if i < 2 else [0, 0], clear: [c, 0]})
    path = tmp_path / "ties.parquet"
    write_cvrs(b.build(), path, "parquet")
    out = tmp_path / "count.json"
    res = run("tabulate", path, "--rcv-preset", "nyc", "--json", out)
    assert res.returncode == 0, res.stderr
    by_name = {c["name"]: c for c in json.loads(out.read_text())["contests"]}
    assert "must be broken by an operator" in by_name["Tied"]["rcv"]["unresolved_tie"]
    assert by_name["Tied"]["winners"] == [] and by_name["Clear"]["winners"] == ["X"]
    assert "stopped" in res.stdout
