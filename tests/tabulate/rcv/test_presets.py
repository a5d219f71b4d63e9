"""Named rule presets (docs/rcv-presets.md): valid RCTab rules, every governed field traced to a source, no invented
random seeds, and each compared with the RCTab configurations of the same jurisdiction, field by field, with the
reason for every difference written down; the Minneapolis preset reproduces the city's reported 2013 and 2017
results."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields, replace

import pytest

from veritally.errors import ConfigError
from veritally.formats.rctab_config import load_config
from veritally.rcv import count_config
from veritally.tabulate.rcv.presets import GOVERNED, PRESETS, RESEARCHED_ON, STV_GOVERNED, preset
from veritally.tabulate.rcv.rules import RcvRules

from ..._shared import RCTAB, ROOT, need

REQUIRED = ("maine", "nyc", "alaska", "san-francisco", "minneapolis", "portland-me")
RULE_FIELDS = tuple(f.name for f in fields(RcvRules))


def run(*args):
    return subprocess.run([sys.executable, "-m", "veritally", *map(str, args)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, check=False)


def test_the_jurisdictions_asked_for_have_presets():
    assert set(REQUIRED) <= set(PRESETS)
    assert all(name == p.name for name, p in PRESETS.items())


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_rctab_and_round_trips_as_an_rctab_rules_object(name):
    p = PRESETS[name]
    p.rules.validate()
    assert RcvRules.from_rctab(p.rctab_rules()) == p.rules
    assert RESEARCHED_ON in p.rctab_rules()["rulesDescription"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_cites_sources_and_traces_every_governed_field(name):
    p = PRESETS[name]
    assert p.title and p.sources and all(s.strip() for s in p.sources)
    traced = [f for f, _ in p.basis]
    assert len(traced) == len(set(traced)), "a field is traced twice"
    assert set(traced) <= set(RULE_FIELDS)
    governed = GOVERNED + (STV_GOVERNED if p.rules.uses_surpluses else ())
    assert set(governed) <= set(traced), f"untraced: {sorted(set(governed) - set(traced))}"
    assert all(why.strip() for _, why in p.basis)
    # a field whose value is not what the law says, but RCTab's default, says so in the notes or its basis
    for field, why in p.basis:
        if "not read" in why or "silent" in why:
            assert p.notes, f"{name}.{field}: taken as a default but the preset has no notes"


@pytest.mark.parametrize("name", list(PRESETS))
def test_no_preset_invents_a_random_seed(name):
    rules = PRESETS[name].rules
    assert rules.random_seed is None and not rules.tiebreak.needs_seed
    assert rules.tiebreak.asks  # every jurisdiction here breaks ties by lot, done by officials


def test_an_unknown_preset_is_refused_with_the_known_names():
    with pytest.raises(ConfigError) as err:
        preset("unknown")
    for name in PRESETS:
        assert name in str(err.value)


def test_preset_names_ignore_case_and_spaces():
    assert preset(" Maine ") is PRESETS["maine"]


def test_the_multi_seat_preset_takes_the_contests_seat_count():
    stv = preset("minneapolis-stv")
    assert stv.with_winners(2).winners == 2 and stv.rules.winners == 3
    assert RcvRules.from_rctab(stv.rctab_rules(5)) == replace(stv.rules, winners=5)


def test_the_cli_refuses_an_unknown_preset_listing_the_names(tmp_path):
    cvr = tmp_path / "x.csv"
    cvr.write_text("a\n")
    res = run("tabulate", cvr, "--rcv-preset", "atlantis")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert all(name in res.stderr for name in PRESETS)


# --- compared with RCTab configurations of the same jurisdictions --------------------------------------------------

BALLOT = "ballot format, not a rule of law: the number of ranking columns of that contest"
CANDIDATE_ORDER = ("a tie-breaking order drawn for that contest; the law has ties decided by lot, which a preset "
                   "cannot know in advance, so it stops and asks")
TEST_SEED = "a random seed chosen for RCTab's tests; the law has ties decided by lot (the preset stops and asks)"

#: preset, RCTab test-data folder, {field: why the preset differs from that configuration}.
CASES = [
    ("maine", "2018_maine_governor_primary", {
        "max_rankings": BALLOT + " (8 = the number of candidates, the same as the preset's 'max')",
        "tiebreak": CANDIDATE_ORDER + " (the RCTab TDP: a predetermined order is 'Allowed in State of Maine')",
        "continue_until_two": "29-250 C.M.R. ch. 535 §4(2)(A): rounds go on until only 2 continuing candidates "
                              "remain; that count ended with two candidates anyway (Mills, Cote), so same result",
    }),
    ("portland-me", "2015_portland_mayor", {
        "max_rankings": BALLOT + " (15 = the number of candidates)",
        "tiebreak": CANDIDATE_ORDER,
        "max_skipped": "the city's 2011 rules pass over 'a skipped ranking' without a limit; that configuration "
                       "(rulesDescription 'Maine Rules', a 99-ballot test subset) uses Maine's limit of one",
        "batch_elimination": "not in the sources read for Portland (RCTab default false); that configuration "
                             "copies Maine's rules",
    }),
    ("minneapolis", "2017_minneapolis_mayor", {
        "max_rankings": BALLOT + " (3)",
        "tiebreak": TEST_SEED, "random_seed": TEST_SEED,
        "max_skipped": "§167.60(c)(2) (2013-Or-055): every skipped ranking is passed over; the configuration "
                       "follows the 2009 text ('skipped more than one (1) ranking')",
        "first_round_determines_threshold": "§167.20 'Threshold': from the total votes counted in the first round; "
                                            "the city's reported threshold was 52,262 of 104,522 in every round",
    }),
    ("minneapolis", "2013_minneapolis_mayor", {
        "max_rankings": BALLOT + " (3)",
        "tiebreak": TEST_SEED, "random_seed": TEST_SEED,
        "overvote_rule": "§167.60(c)(2) (2013-Or-055, in force for the November 2013 election): an overvote is "
                         "passed over; that configuration's rulesDescription is 'Maine Rules'",
        "max_skipped": "§167.60(c)(2): every skipped ranking is passed over",
        "first_round_determines_threshold": "§167.20 'Threshold': fixed from round 1 (39,708 reported)",
    }),
    ("minneapolis-stv", "2013_minneapolis_park", {
        "max_rankings": BALLOT + " (3)",
        "tiebreak": TEST_SEED, "random_seed": TEST_SEED,
        "winner_mode": "§167.70(c)(1)(d): 'The candidate with the largest surplus is declared elected and that "
                       "candidate's surplus is transferred' - one surplus at a time (the configuration elects "
                       "everyone over the threshold at once)",
        "max_skipped": "§167.70(c)(2): every skipped ranking is passed over; the configuration's 2 is the same on "
                       "three-column ballots",
    }),
    ("alaska", "2024_alaska_dominion", {
        "continue_until_two": "AS 15.15.350(d)(1) and the Division of Elections: after round 1, tabulation continues "
                              "until two candidates remain (that 124-ballot test count ended in round 1)",
    }),
    # Party-run 2020 presidential primary test data (contestOffice 'Democratic Primary'), not AS 15.15.350.
    ("alaska", "dominion_alaska", {
        "max_rankings": BALLOT + " (8)",
        "tiebreak": "that party primary's own tie-break (useCandidateOrder), not state law",
        "batch_elimination": "the party primary's rules ('Alaska Rules' in the test data) batch-eliminate; "
                             "AS 15.15.350(d)(2) defeats one candidate a round",
        "continue_until_two": "AS 15.15.350(d)(1): until two remain; a party primary is not governed by it",
    }),
]


def differing(a: RcvRules, b: RcvRules) -> set[str]:
    return {f for f in RULE_FIELDS if getattr(a, f) != getattr(b, f)}


@pytest.mark.parametrize("name,case,expected", CASES, ids=[f"{n}:{c}" for n, c, _ in CASES])
def test_a_preset_equals_the_jurisdictions_rctab_configuration_but_where_documented(name, case, expected):
    config = json.loads((need(RCTAB / case) / f"{case}_config.json").read_text())
    theirs = RcvRules.from_rctab(config["rules"])
    assert differing(PRESETS[name].rules, theirs) == set(expected)
    assert all(why.strip() for why in expected.values())


# --- counts -------------------------------------------------------------------------------------------------------

def final_round(count):
    last = count.rounds[-1]
    return {count.candidates[c]: int(v) for c, v in last.tallies.items()}, int(last.threshold), len(count.rounds)


def with_preset(case: str, name: str):
    """The RCTab test configuration with the preset's rules (its ballot format kept), no per-precinct files."""
    config = load_config(need(RCTAB / case) / f"{case}_config.json")
    rules = replace(PRESETS[name].rules, max_rankings=config.rules.max_rankings)
    return replace(config, rules=rules, output={**config.output, "tabulateByPrecinct": False})


def test_the_minneapolis_preset_gives_the_citys_reported_2017_result_through_tabulate(tmp_path):
    cvr = need(RCTAB / "2017_minneapolis_mayor" / "2017_minneapolis_mayor_cvr.xlsx")
    res = run("tabulate", cvr, "--rcv-preset", "minneapolis", "--json", tmp_path / "count.json")
    assert res.returncode == 0, res.stderr
    (mayor,) = [c for c in json.loads((tmp_path / "count.json").read_text())["contests"] if c["kind"] == "ranked"]
    last = mayor["rcv"]["rounds"][-1]
    # reported: Frey 46,716 (MinnPost); threshold 52,262 of 104,522 votes (journalmpls.com)
    assert last["tallies"]["Jacob Frey"] == "46716" and last["threshold"] == "52262"
    assert mayor["winners"] == ["Jacob Frey"] and mayor["rcv"]["winners"] == ["Jacob Frey"]


@pytest.mark.slow
def test_the_minneapolis_preset_gives_the_citys_reported_2013_result():
    (result,), _ = count_config(with_preset("2013_minneapolis_mayor", "minneapolis"))
    tallies, threshold, rounds = final_round(result.count)
    # reported: Hodges 38,870, Andrew 24,972 (KSTP); 39,708 needed (AP); 33 rounds (AP)
    assert (tallies, threshold, rounds) == ({"BETSY HODGES": 38870, "MARK ANDREW": 24972}, 39708, 33)
    # RCTab's own test configuration of that race does not give the reported figures
    (theirs,), _ = count_config(load_config(RCTAB / "2013_minneapolis_mayor" / "2013_minneapolis_mayor_config.json"))
    assert final_round(theirs.count)[0] == {"BETSY HODGES": 38852, "MARK ANDREW": 24942}


def test_a_tie_stops_a_preset_count_and_says_an_operator_must_break_it(tmp_path):
    cvr = need(RCTAB / "2015_portland_mayor" / "2015_portland_mayor_cvr.xlsx")  # 99-ballot subset, ties for last
    res = run("tabulate", cvr, "--rcv-preset", "portland-me", "--json", tmp_path / "count.json")
    assert res.returncode == 0 and "Traceback" not in res.stderr
    (mayor,) = json.loads((tmp_path / "count.json").read_text())["contests"]
    assert "must be broken by an operator" in mayor["rcv"]["unresolved_tie"] and mayor["winners"] == []
    assert "count stopped" in res.stdout


def test_the_alaska_preset_counts_a_dominion_export_until_two_remain(tmp_path):
    cvr = need(RCTAB / "2024_alaska_dominion" / "partial_cvr")
    res = run("tabulate", cvr, "--rcv-preset", "alaska", "--contest", "U.S. Representative",
              "--json", tmp_path / "count.json")
    assert res.returncode == 0, res.stderr
    (house,) = json.loads((tmp_path / "count.json").read_text())["contests"]
    assert house["winners"] == ["Begich, Nick"]
    assert len(house["rcv"]["rounds"][-1]["tallies"]) == 2  # continued past Begich's round-1 majority


# --- the documentation ----------------------------------------------------------------------------------------------

def test_the_docs_have_a_section_per_preset_with_the_date():
    text = (ROOT / "docs" / "rcv-presets.md").read_text(encoding="utf-8")
    assert RESEARCHED_ON in text and "--rcv-preset" in text and "--rcv-rules" in text
    for name, p in PRESETS.items():
        assert f"`{name}`" in text and p.title in text, name
