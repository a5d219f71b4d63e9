"""RCTab contest configuration files (``*_config.json``): read as RCTab reads them, validated as RCTab validates.

A configuration names the CVR sources (provider, path and reader options), the candidates (names, aliases,
exclusions), the output settings and the counting rules (notes/tabulation.md §1.1). :func:`load_config` reads one,
applies RCTab's migrations of older field names (``code`` → ``aliases``; ``undervoteLabel`` → ``skippedRankLabel``;
labels once set under ``rules`` now set per source; old ``winnerElectionMode`` and ``tiebreakMode`` names), and
refuses what RCTab's ``ContestConfig.validate`` refuses, listing every problem in one :class:`ConfigError`.
:func:`read_sources` reads each source with Veritally's own reader for its provider and returns the ranked contest
of each, ready for counting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import orjson

from ..errors import ConfigError, FormatError, InputError
from ..model import UWI_NAME, Contest, ContestMarks, Election
from ..tabulate.ranked import OvervoteRule
from ..tabulate.rcv.rules import RcvRules

__all__ = ["PROVIDERS", "RctabConfig", "Source", "ContestSource", "load_config", "read_sources", "TEST_VERSION"]

#: RCTab ``provider`` → Veritally format (``--format`` name).
PROVIDERS = {"ess": "ess", "dominion": "dominion", "hart": "hart", "cdf": "cdf", "clearBallot": "clearballot",
             "genericCsv": "csv"}
#: ``tabulatorVersion`` of RCTab's test configurations; real ones name an RCTab version.
TEST_VERSION = "TEST"
_COLUMN_PROVIDERS = ("ess", "genericCsv")  # the providers whose sources give column and row numbers
_RESERVED = ("residual surplus", "exhausted", "uncounted")
_OLD_WINNER_MODES = {"singleSeatContinueUntilTwoCandidatesRemain": "singleWinnerMajority",
                     "multiSeatAllowOnlyOneWinnerPerRound": "multiWinnerAllowOnlyOneWinnerPerRound",
                     "multiSeatSequentialWinnerTakesAll": "multiPassIrv"}
_OLD_TIEBREAKS = {"interactive": "stopCountingAndAsk", "previousRoundCountsThenInteractive": "previousRoundCountsThenAsk",
                  "usePermutationInConfig": "useCandidateOrder"}
_VERSION = re.compile(r"^\d+(\.\d+)*(-.*)?$")


@dataclass(frozen=True)
class Candidate:
    name: str
    aliases: tuple[str, ...] = ()
    excluded: bool = False


@dataclass(frozen=True)
class Source:
    """One ``cvrFileSources`` entry, with its path resolved against the configuration's folder."""

    provider: str
    path: Path
    raw: Mapping[str, Any]

    @property
    def contest_id(self) -> str:
        return str(self.raw.get("contestId") or "")

    @property
    def uwi_label(self) -> str:
        return str(self.raw.get("undeclaredWriteInLabel") or "")


@dataclass
class RctabConfig:
    """A validated RCTab contest configuration."""

    path: Path
    version: str
    output: Mapping[str, Any]
    sources: list[Source]
    candidates: list[Candidate]
    rules: RcvRules
    raw_rules: Mapping[str, Any] = field(default_factory=dict)

    @property
    def contest_name(self) -> str:
        return str(self.output.get("contestName") or "")

    @property
    def by_precinct(self) -> bool:
        return bool(self.output.get("tabulateByPrecinct"))

    @property
    def by_batch(self) -> bool:
        return bool(self.output.get("tabulateByBatch"))

    @property
    def cdf_export(self) -> bool:
        return bool(self.output.get("generateCdfJson"))

    @property
    def undeclared_write_ins(self) -> bool:
        """A source names an undeclared write-in label or treats blanks as undeclared write-ins (RCTab then adds
        the "Undeclared Write-ins" candidate)."""
        return any(s.uwi_label or _flag(s.raw.get("treatBlankAsUndeclaredWriteIn")) for s in self.sources)

    @property
    def candidate_names(self) -> list[str]:
        """The candidates in configuration order, RCTab's undeclared write-ins last when a source has them."""
        return [c.name for c in self.candidates] + ([UWI_NAME] if self.undeclared_write_ins else [])

    @property
    def excluded(self) -> list[str]:
        return [c.name for c in self.candidates if c.excluded]

    def output_dir(self) -> Path:
        raw = str(self.output.get("outputDirectory") or "")
        path = Path(raw)
        return path if path.is_absolute() else self.path.parent / raw


def _flag(value: Any) -> bool:
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def load_config(path: str | Path) -> RctabConfig:
    """Read and validate an RCTab contest configuration; ConfigError listing every problem RCTab would name."""
    p = Path(path)
    try:
        raw = orjson.loads(p.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read the configuration: {exc.strerror or exc}", file=p) from None
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc}", file=p, expected="an RCTab contest configuration") from None
    if not isinstance(raw, dict):
        raise FormatError("not a JSON object", file=p, expected="an RCTab contest configuration")
    problems: list[str] = []
    output = raw.get("outputSettings") if isinstance(raw.get("outputSettings"), dict) else {}
    rules = dict(raw.get("rules")) if isinstance(raw.get("rules"), dict) else {}
    sources_raw = raw.get("cvrFileSources") if isinstance(raw.get("cvrFileSources"), list) else []
    sources_raw = [dict(s) for s in sources_raw if isinstance(s, dict)]
    version = _text(raw.get("tabulatorVersion"))
    _migrate(version, rules, sources_raw)
    if not version:
        problems.append("tabulatorVersion is missing")
    elif version != TEST_VERSION and not _VERSION.match(version):
        problems.append(f"tabulatorVersion {version!r} is not a version")
    if not _text(output.get("contestName")):
        problems.append("outputSettings.contestName is required")
    out_dir = _text(output.get("outputDirectory"))
    if out_dir and _in_users_folder(out_dir):
        problems.append(f"outputDirectory {out_dir!r} is under a Users folder; RCTab does not allow output there "
                        "(so that reports stay read-only): choose a folder outside it")
    candidates = _candidates(raw.get("candidates"), problems)
    try:
        parsed_rules = RcvRules.from_rctab(rules)
    except ConfigError as exc:
        problems.append(str(exc).removeprefix("RCTab rules: "))
        parsed_rules = None
    sources = _sources(p, sources_raw, output, rules, parsed_rules, problems)
    if sources and candidates:
        used = {a for c in candidates for a in (c.name, *c.aliases)}
        for i, s in enumerate(sources, start=1):
            for key in ("overvoteLabel", "skippedRankLabel", "undeclaredWriteInLabel"):
                label = _text(s.raw.get(key))
                if label and label in used and key != "undeclaredWriteInLabel":
                    problems.append(f"cvrFileSources[{i}].{key} {label!r} is also a candidate name or alias")
    if problems:
        raise ConfigError(f"{p}: invalid RCTab configuration: " + "; ".join(problems))
    return RctabConfig(p, version, output, sources, candidates, parsed_rules, rules)  # type: ignore[arg-type]


def _migrate(version: str, rules: dict, sources: list[dict]) -> None:
    """RCTab's ``ContestConfigMigration`` for configurations of older versions (not "TEST", not current)."""
    mode = _text(rules.get("winnerElectionMode"))
    if mode == "standard":
        winners = _text(rules.get("numberOfWinners"))
        rules["winnerElectionMode"] = ("multiWinnerAllowMultipleWinnersPerRound" if winners.isdigit()
                                       and int(winners) > 1 else "singleWinnerMajority")
    elif mode == "multiSeatBottomsUp":
        rules["winnerElectionMode"] = ("bottomsUpUsingPercentageThreshold" if _text(rules.get("numberOfWinners")) == "0"
                                       or _text(rules.get("multiSeatBottomsUpPercentageThreshold")) else "bottomsUp")
    elif mode in _OLD_WINNER_MODES:
        if mode == "singleSeatContinueUntilTwoCandidatesRemain":
            rules["continueUntilTwoCandidatesRemain"] = True
        rules["winnerElectionMode"] = _OLD_WINNER_MODES[mode]
    if _text(rules.get("tiebreakMode")) in _OLD_TIEBREAKS:
        rules["tiebreakMode"] = _OLD_TIEBREAKS[_text(rules["tiebreakMode"])]
    for old, new in (("overvoteLabel", "overvoteLabel"), ("undervoteLabel", "skippedRankLabel"),
                     ("undeclaredWriteInLabel", "undeclaredWriteInLabel")):
        if _text(rules.get(old)):
            for s in sources:
                s[new] = rules[old]
    if _flag(rules.get("treatBlankAsUndeclaredWriteIn")):
        for s in sources:
            s["treatBlankAsUndeclaredWriteIn"] = True
    for s in sources:
        if s.get("undervoteLabel") is not None and s.get("skippedRankLabel") is None:
            s["skippedRankLabel"] = s["undervoteLabel"]


def _in_users_folder(directory: str) -> bool:
    """RCTab refuses output under the users' root folder (``C:\\Users``); a Windows path is judged as Windows
    would, so a configuration means the same on every system."""
    win = PureWindowsPath(directory)
    if win.drive:
        parts = [x.lower() for x in win.parts]
        return len(parts) >= 2 and parts[1] == "users"
    return PurePosixPath(directory).parts[:2] in (("/", "Users"),)


def _candidates(raw: Any, problems: list[str]) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[str] = set()
    for i, c in enumerate(raw if isinstance(raw, list) else [], start=1):
        if not isinstance(c, dict):
            problems.append(f"candidates[{i}] is not an object")
            continue
        name = _text(c.get("name"))
        aliases = [a.strip() for a in (c.get("aliases") or []) if isinstance(a, str) and a.strip()]
        if _text(c.get("code")):  # older configurations: one code, now an alias
            aliases.append(_text(c.get("code")))
        if not name:
            problems.append(f"candidates[{i}] has no name")
            continue
        for s in dict.fromkeys([name, *aliases]):
            if s in seen:
                problems.append(f"candidate name or alias {s!r} is used twice")
            elif s.lower() in _RESERVED or s == UWI_NAME:
                problems.append(f"candidate name or alias {s!r} is reserved")
            seen.add(s)
        out.append(Candidate(name, tuple(dict.fromkeys(a for a in aliases if a != name)), _flag(c.get("excluded"))))
    if not out:
        problems.append("no candidates")
    elif all(c.excluded for c in out):
        problems.append("every candidate is excluded")
    return out


def _sources(config_path: Path, raw: list[dict], output: Mapping[str, Any], rules: Mapping[str, Any],
             parsed: RcvRules | None, problems: list[str]) -> list[Source]:
    if not raw:
        problems.append("no cvrFileSources")
        return []
    out: list[Source] = []
    paths: set[Path] = set()
    for i, s in enumerate(raw, start=1):
        where = f"cvrFileSources[{i}]"
        provider = _text(s.get("provider"))
        if provider not in PROVIDERS:
            problems.append(f"{where}.provider {provider!r} is not one of {', '.join(PROVIDERS)}")
            continue
        file_path = _text(s.get("filePath"))
        if not file_path:
            problems.append(f"{where}.filePath is missing")
            continue
        path = Path(file_path)
        # absolute, not canonical (as RCTab's resolveConfigPath): two links to one file are two sources
        path = Path(os.path.normpath((path if path.is_absolute() else config_path.parent / path).absolute()))
        if path in paths:
            problems.append(f"{where}.filePath {file_path!r} is listed twice")
        paths.add(path)
        if not path.exists():
            problems.append(f"{where}.filePath {file_path!r} does not exist")
        columns = ("firstVoteColumnIndex", "firstVoteRowIndex", "idColumnIndex", "batchColumnIndex",
                   "precinctColumnIndex")
        if provider in _COLUMN_PROVIDERS:
            for key, low, high, required in (("firstVoteColumnIndex", 1, 1000, True),
                                             ("firstVoteRowIndex", 1, 100000, True),
                                             ("idColumnIndex", 1, 1000, False), ("batchColumnIndex", 1, 1000, False),
                                             ("precinctColumnIndex", 1, 1000, False)):
                value = _text(s.get(key))
                if not value:
                    if required:
                        problems.append(f"{where}.{key} is required for provider {provider}")
                elif not value.isdigit() or not low <= int(value) <= high:
                    problems.append(f"{where}.{key} must be a whole number from {low} to {high}, not {value!r}")
            if _flag(output.get("tabulateByPrecinct")) and not _text(s.get("precinctColumnIndex")):
                problems.append(f"{where}.precinctColumnIndex is required to tabulate by precinct")
            if _flag(output.get("tabulateByBatch")) and not _text(s.get("batchColumnIndex")):
                problems.append(f"{where}.batchColumnIndex is required to tabulate by batch")
        else:
            for key in columns:
                if _text(s.get(key)):
                    problems.append(f"{where}.{key} should not be defined for provider {provider}")
            if provider != "ess" and _text(s.get("overvoteDelimiter")):
                problems.append(f"{where}.overvoteDelimiter should not be defined for provider {provider}")
            if provider in ("dominion", "hart", "clearBallot") and not _text(s.get("contestId")):
                problems.append(f"{where}.contestId is required for provider {provider}")
        if _text(s.get("overvoteDelimiter")) and _text(s.get("overvoteLabel")):
            problems.append(f"{where}: overvoteDelimiter and overvoteLabel cannot both be given")
        if _text(s.get("overvoteLabel")) and parsed is not None and parsed.overvote_rule is \
                OvervoteRule.EXHAUST_IF_MULTIPLE_CONTINUING:
            problems.append(f"{where}.overvoteLabel needs overvoteRule exhaustImmediately or alwaysSkipToNextRank")
        out.append(Source(provider, path, s))
    return out


# reading the sources -------------------------------------------------------------------------------------------------
@dataclass
class ContestSource:
    """The counted contest as one source has it: the contest, its marks, and the source's card attributes."""

    source: Source
    election: Election
    index: int  #: of the contest in ``election``

    @property
    def contest(self) -> Contest:
        return self.election.contests[self.index]

    @property
    def marks(self) -> ContestMarks:
        return self.election.cards.marks[self.index]


def read_sources(config: RctabConfig, workers: int | None = None) -> list[ContestSource]:
    """Read every source with its provider's reader (options mapped from the source entry, the candidates and
    the rules, as RCTab's readers take them) and pick the counted contest of each.

    Several sources are read in parallel processes (``workers``, default: the machine's cores, at most one per
    source); each source's errors are raised as the reader raises them.
    """
    candidates = [{"name": c.name, "aliases": list(c.aliases)} for c in config.candidates]
    jobs = [(source.provider, str(source.path), dict(source.raw), candidates, dict(config.raw_rules))
            for source in config.sources]
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            elections = list(pool.map(_read_source, jobs))
    else:
        elections = [_read_source(job) for job in jobs]
    return [ContestSource(source, election, _pick(election, source))
            for source, election in zip(config.sources, elections)]


def _read_source(job: tuple) -> Election:
    """One source read by its provider's reader (a top-level function, so that a worker process can run it)."""
    from . import format_module

    provider, path, raw, candidates, rules = job
    module = format_module(PROVIDERS[provider])
    mapper = getattr(module, "options_from_rctab_source", None)
    options = {} if mapper is None else mapper(raw, candidates, rules)
    return module.read([Path(path)], **options)


def _pick(election: Election, source: Source) -> int:
    wanted = source.contest_id
    ranked = [i for i, c in enumerate(election.contests) if c.is_ranked]
    if wanted:
        for i, c in enumerate(election.contests):
            if c.id == wanted or c.name == wanted:
                if not c.is_ranked:
                    raise ConfigError(f"{source.path}: contest {wanted!r} is not ranked")
                return i
        raise ConfigError(f"{source.path}: no contest {wanted!r} in the CVRs (contestId); they have "
                          + ", ".join(f"{c.id} ({c.name})" for c in election.contests[:10]))
    if len(ranked) != 1:
        raise ConfigError(f"{source.path}: {len(ranked)} ranked contests in the CVRs; give contestId to choose one")
    return ranked[0]


def candidate_index(config: RctabConfig, contest: Contest, source: Source) -> list[int]:
    """Per choice of ``contest``: the index of its candidate in :attr:`RctabConfig.candidate_names`, matched by
    name or alias (ids included), the source's undeclared write-in label and undeclared choices to RCTab's
    "Undeclared Write-ins"; -2 for a choice no candidate matches (an error only if a ballot ranks it)."""
    names = config.candidate_names
    lookup: dict[str, int] = {}
    for i, c in enumerate(config.candidates):
        for key in (c.name, *c.aliases):
            lookup.setdefault(key, i)
    uwi = names.index(UWI_NAME) if UWI_NAME in names else -2
    out = []
    for choice in contest.choices:
        keys = (choice.name, choice.id, *choice.aliases)
        if choice.undeclared or (source.uwi_label and source.uwi_label in keys):
            out.append(uwi)
            continue
        out.append(next((lookup[k] for k in keys if k in lookup), -2))
    return out
