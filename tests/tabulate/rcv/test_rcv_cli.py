"""``veritally rcv`` as an operator runs it: reports written, refusals as exit 2, interactive tie-breaks."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time

import pytest

from veritally.errors import ConfigError
from veritally.rcv import run_rcv

from ..._shared import RCTAB, need


def run(*args, cwd=None, **kw):
    return subprocess.run([sys.executable, "-m", "veritally", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300, **kw)


def test_rcv_writes_the_reports_where_the_configuration_says(tmp_path):
    case = need(RCTAB / "tiebreak_seed_test")
    work = tmp_path / "case"
    shutil.copytree(case, work)
    (tmp_path / "_shared").symlink_to(RCTAB / "_shared")  # the configuration reads ../_shared/
    res = run("rcv", work / "tiebreak_seed_test_config.json", stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    out = work / json.loads((work / "tiebreak_seed_test_config.json").read_text())["outputSettings"]["outputDirectory"]
    assert {p.name for p in out.iterdir()} == {"detailed_report.json", "detailed_report.csv", "summary_report.csv"}
    assert "George Gervin" in res.stdout


def test_a_refused_configuration_is_exit_2_with_every_problem(tmp_path):
    res = run("rcv", need(RCTAB / "invalid_sources_test") / "invalid_sources_test_config.json", "--out", tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "nonexistent_path" in res.stderr and "filePath is missing" in res.stderr
    assert not list(tmp_path.iterdir())


INTERACTIVE = "sample_interactive_tiebreak"


def test_interactive_tie_break_without_a_terminal_stops_clearly(tmp_path):
    res = run("rcv", need(RCTAB / INTERACTIVE) / f"{INTERACTIVE}_config.json", "--out", tmp_path,
              stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and "must be broken by an operator" in res.stderr
    assert not list(tmp_path.iterdir())


def test_interactive_tie_break_takes_the_operators_choice(tmp_path):
    config = need(RCTAB / INTERACTIVE) / f"{INTERACTIVE}_config.json"
    asked = []

    def ask(tie):
        asked.append(tie)
        return tie.candidates[-1]

    outcome = run_rcv(config, tmp_path / "a", ask=ask)
    assert asked and asked[0].candidates == ("George Gervin", "Yinka Dare") and not asked[0].selecting_winner
    loser = asked[0].candidates[-1]
    eliminated = [outcome.passes[0].count.candidates[d.candidate] for d in outcome.passes[0].count.decisions[2]]
    assert eliminated == [loser]
    with pytest.raises(ConfigError, match="not one of the tied candidates"):
        run_rcv(config, tmp_path / "b", ask=lambda tie: "Nobody")


def test_interactive_tie_break_on_a_terminal(tmp_path):
    """On a terminal each tie is asked: answer 1 (George Gervin loses round 2's tie, Mookie Blaylock wins
    round 3's)."""
    config = need(RCTAB / INTERACTIVE) / f"{INTERACTIVE}_config.json"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "veritally", "rcv", str(config), "--out", str(tmp_path)],
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    seen, answers, deadline = b"", 0, time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready = select.select([leader], [], [], 0.5)[0]
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the process has gone and the terminal is closed
                    break
                if not chunk:
                    break
                seen += chunk
                if seen.count(b"x to cancel") > answers:
                    os.write(leader, b"1\n")
                    answers += 1
            elif proc.poll() is not None:
                break
    finally:
        proc.kill() if proc.poll() is None else None
        proc.wait(timeout=30)
        os.close(leader)
    assert answers == 2 and proc.returncode == 0, seen.decode(errors="replace")
    report = json.loads((tmp_path / "detailed_report.json").read_text())
    assert report["results"][1]["tallyResults"][0]["eliminated"] == "George Gervin"
    assert report["results"][2]["tallyResults"][0]["elected"] == "Mookie Blaylock"
