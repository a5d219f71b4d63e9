"""Compare a count with the officially reported results: every discrepancy, and whether it could change the outcome.

:func:`compare` takes a count (an :class:`~veritally.tabulate.ElectionCount` or the JSON ``tabulate --json``
writes) and :class:`~veritally.formats.reported.Reported` results. Contests, choices and units are matched by name
(exactly, then ignoring case and runs of whitespace). Every (contest, choice, unit) whose reported and counted votes
differ is a :class:`Discrepancy`, including choices and contests only one side has. Per contest it reports the total
absolute discrepancy, the counted margin, both sets of winners, and whether the discrepancies could change the
outcome (docs/compare.md explains the test and why it is conservative).

:func:`compare_paths` is the ``veritally compare`` command's entry: it reads the reported file, and counts CVRs by
the report's unit when it is given CVRs rather than a count JSON.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import orjson

from .errors import ConfigError, FormatError, InputError, ModelError
from .formats.reported import Reported, read_reported
from .model import Choice, Contest, ContestKind
from .tabulate import ElectionCount
from .tabulate.plurality import choice_totals, decide_winners

__all__ = ["Discrepancy", "ContestComparison", "Comparison", "compare", "compare_paths", "smallest_margin",
           "load_count_json", "is_count_json"]

_SPACES = re.compile(r"\s+")
_RANKED_NOTE = ("ranked contest: first-round tallies compared (reported figures taken as first-round votes); the "
                "counted winners need the round-by-round count (`veritally rcv`, or `tabulate --rcv-rules`), so any discrepancy is treated as "
                "possibly changing the outcome")


@dataclass(frozen=True)
class Discrepancy:
    """Reported and counted votes differ for one choice, in one unit (``unit`` None: the contest totals)."""

    contest: str
    choice: str
    unit: str | None
    reported: int
    counted: int

    @property
    def difference(self) -> int:
        """reported − counted: positive when the report claims more votes than the ballots hold."""
        return self.reported - self.counted

    def to_json(self) -> dict:
        return {"contest": self.contest, "choice": self.choice, "unit": self.unit, "reported": self.reported,
                "counted": self.counted, "difference": self.difference}


@dataclass
class ContestComparison:
    """One reported contest against its count."""

    name: str  #: the contest's name in the report
    counted_name: str | None  #: its name in the count (None: not in the count)
    kind: str | None
    units: int  #: reporting units compared (0: totals only)
    reported_total: int
    counted_total: int
    total_abs_discrepancy: int  #: Σ|reported − counted| over units or over the totals, whichever is larger
    smallest_margin: int | None  #: counted: last winner − best loser (threshold contests: see docs); None if none
    counted_winners: list[str]
    reported_winners: list[str]
    could_change_outcome: bool
    outcome_differs: bool
    discrepancies: int = 0  #: number of discrepancies (units and totals)
    counted_tied: list[str] = field(default_factory=list)
    reported_tied: list[str] = field(default_factory=list)
    note: str | None = None

    def to_json(self) -> dict:
        out = {"name": self.name, "counted_name": self.counted_name, "kind": self.kind, "units": self.units,
               "reported_total": self.reported_total, "counted_total": self.counted_total,
               "total_abs_discrepancy": self.total_abs_discrepancy, "smallest_margin": self.smallest_margin,
               "counted_winners": self.counted_winners, "reported_winners": self.reported_winners,
               "counted_tied": self.counted_tied, "reported_tied": self.reported_tied,
               "could_change_outcome": self.could_change_outcome, "outcome_differs": self.outcome_differs,
               "discrepancies": self.discrepancies}
        if self.note:
            out["note"] = self.note
        return out


@dataclass
class Comparison:
    """The whole comparison: per-contest summaries and every discrepancy."""

    contests: list[ContestComparison]
    discrepancies: list[Discrepancy]
    unit_kind: str | None = None  #: "precinct" / "batch" when the report has units
    unreported_contests: list[str] = field(default_factory=list)  #: counted contests the report does not list
    notes: list[str] = field(default_factory=list)
    reported_source: str | None = None

    @property
    def agree(self) -> bool:
        return not self.discrepancies

    def to_json(self) -> dict:
        return {"contests": [c.to_json() for c in self.contests],
                "discrepancies": [d.to_json() for d in self.discrepancies],
                "agree": self.agree, "unit_kind": self.unit_kind, "unreported_contests": self.unreported_contests,
                "notes": self.notes, "reported_file": self.reported_source}


# the counted side, whatever it came from --------------------------------------------------------------------------

@dataclass
class _Counted:
    name: str
    rules: Contest  #: kind, seats, threshold (choices: the counted ones)
    total: dict[str, int]
    by: dict[str, dict[str, int]]


def _from_election_count(count: ElectionCount) -> tuple[list[_Counted], str | None]:
    out = []
    for cc in count.contests:
        total = choice_totals(cc.contest, cc.total.tallies[0])
        by = {label: choice_totals(cc.contest, t.tallies[0]) for label, t in cc.by.items()}
        out.append(_Counted(cc.contest.name, cc.contest, total, by))
    return out, count.grouping


def _tallies(value: object, source: str | None, record: str) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()):
        raise FormatError("must map choice names to vote counts", file=source, record=record, field="tallies")
    return value


def _from_count_json(data: object, source: str | None) -> tuple[list[_Counted], str | None]:
    """The count JSON of docs/tabulate.md, checked enough that a wrong file fails with a clear message."""
    if not isinstance(data, dict) or not isinstance(data.get("contests"), list):
        raise FormatError("not a count JSON (no 'contests' list)", file=source, field="contests",
                          expected="the JSON written by `veritally tabulate --json`")
    grouping = data.get("by")
    out = []
    for i, c in enumerate(data["contests"]):
        record = f"contests[{i}]"
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            raise FormatError("contest without a name", file=source, record=record, field="name")
        total = _tallies(c.get("tallies"), source, record)
        by = {}
        if grouping:
            groups = c.get("by", {})
            if not isinstance(groups, dict):
                raise FormatError("must map unit names to figures", file=source, record=record, field="by")
            by = {label: _tallies(g.get("tallies") if isinstance(g, dict) else None, source,
                                  f"{record}.by[{label!r}]") for label, g in groups.items()}
        try:
            kind = ContestKind(c.get("kind", "plurality"))
            rules = Contest(str(c.get("id", c["name"])), c["name"], kind,
                            tuple(Choice(n, n) for n in total), winners=int(c.get("number_of_winners", 1)),
                            votes_allowed=int(c.get("votes_allowed", 1)),
                            ranks=int(c.get("ranks", 1)) if kind is ContestKind.RANKED else 0,
                            threshold=c.get("threshold"))
        except (ValueError, TypeError, ModelError) as exc:
            raise FormatError(f"bad contest rules: {exc}", file=source, record=record, field="kind") from None
        out.append(_Counted(c["name"], rules, total, by))
    return out, grouping


# matching by name -------------------------------------------------------------------------------------------------

def _norm(name: str) -> str:
    """Names as people see them: Unicode composed the same way (NFC), spaces collapsed, case folded."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", name)).strip().casefold()


def _match(left: Sequence[str], right: Sequence[str]) -> dict[str, str]:
    """One-to-one map left name → right name: exact matches first, then unique case/whitespace-insensitive ones."""
    out: dict[str, str] = {}
    right_set = set(right)
    for n in left:
        if n in right_set:
            out[n] = n
    taken = set(out.values())
    loose: dict[str, list[str]] = {}
    for m in right:
        if m not in taken:
            loose.setdefault(_norm(m), []).append(m)
    left_loose: dict[str, list[str]] = {}
    for n in left:
        if n not in out:
            left_loose.setdefault(_norm(n), []).append(n)
    for key, names in left_loose.items():
        candidates = loose.get(key, [])
        if len(names) == 1 and len(candidates) == 1:
            out[names[0]] = candidates[0]
    return out


# outcome arithmetic -----------------------------------------------------------------------------------------------

def smallest_margin(rules: Contest, tallies: Sequence[int] | np.ndarray) -> int | None:
    """The fewest changed votes (Σ|change|) that could alter who wins, from ``tallies``; None if nothing can.

    Plurality, vote-for-N, approval: tally of the last winner − tally of the best loser (0 for a tie at the last
    seat). Threshold contests: for each choice, the fewest vote changes that move it across the threshold — one
    vote more or less for the choice moves its surplus (votes − threshold × all votes) by 1 − threshold, one vote
    for another choice by the threshold, so each changed vote moves it by at most max(threshold, 1 − threshold).
    Ranked contests: None (the round-by-round count decides).
    """
    t = [int(v) for v in tallies]
    if rules.is_ranked or not t:
        return None
    if rules.kind is ContestKind.THRESHOLD:
        total = sum(t)
        if total == 0 or rules.threshold is None:
            return None
        thr = Fraction(rules.threshold).limit_denominator(1_000_000)
        step = max(thr, 1 - thr)
        margins = []
        for v in t:
            surplus = v - thr * total
            margins.append(math.floor(surplus / step) + 1 if surplus >= 0 else math.ceil(-surplus / step))
        return min(margins)
    seats = min(rules.winners, len(t))
    if seats == 0 or seats >= len(t):
        return None
    ordered = sorted(t, reverse=True)
    return ordered[seats - 1] - ordered[seats]


def _winners(rules: Contest, names: list[str], tallies: list[int]) -> tuple[list[str], list[str]]:
    rules = rules.with_choices(tuple(Choice(n, n) for n in names))
    won, tied = decide_winners(rules, np.array(tallies, np.int64))
    return [names[i] for i in won], [names[i] for i in tied]


# the comparison ---------------------------------------------------------------------------------------------------

def _unit_error(kind: str, grouping: str | None) -> ConfigError:
    have = "no per-unit figures" if not grouping else f"figures per {grouping}"
    return ConfigError(f"the reported results are per {kind}, but the count has {have}; count with `veritally "
                       f"tabulate CVRS --by {kind} --json COUNT.json` or give the CVR files instead of the count")


def compare(count: ElectionCount | Mapping, reported: Reported) -> Comparison:
    """Compare ``count`` (an ElectionCount or a count JSON dict) with ``reported``.

    When the report has units, the count must be counted by the same unit (:class:`ConfigError` otherwise).
    """
    if isinstance(count, ElectionCount):
        counted, grouping = _from_election_count(count)
    else:
        counted, grouping = _from_count_json(count, None)
    rep_units = reported.by_unit()
    if rep_units and grouping != reported.unit_kind:
        raise _unit_error(reported.unit_kind or "unit", grouping)
    rep_totals = reported.totals()
    twice = sorted({c.name for c in counted if sum(o.name == c.name for o in counted) > 1})
    if twice:  # a report names contests only: two counted contests of one name cannot be told apart
        raise ConfigError(f"the count has several contests named {twice[0]!r} (ids "
                          f"{', '.join(repr(c.rules.id) for c in counted if c.name == twice[0])}); the report "
                          "cannot say which is which: count one of them (--contest ID) and compare that")
    names = _match(reported.contests, [c.name for c in counted])
    by_name = {c.name: c for c in counted}
    contests, discrepancies = [], []
    for rname in reported.contests:
        cc = by_name.get(names[rname]) if rname in names else None
        summary, found = _compare_contest(rname, cc, rep_totals.get(rname, {}), rep_units.get(rname),
                                          reported.number_elected.get(rname))
        contests.append(summary)
        discrepancies += found
    matched = set(names.values())
    unreported = [c.name for c in counted if c.name not in matched]
    notes = list(reported.notes)
    if unreported:
        notes.append(f"{len(unreported)} counted contest(s) not in the report (not compared): "
                     + ", ".join(unreported))
    return Comparison(contests, discrepancies, reported.unit_kind if rep_units else None, unreported, notes,
                      reported.source)


def _compare_contest(name: str, cc: _Counted | None, rep_total: dict[str, int],
                     rep_units: dict[str, dict[str, int]] | None,
                     seats: int | None) -> tuple[ContestComparison, list[Discrepancy]]:
    rep_choices = list(dict.fromkeys([*rep_total, *(ch for u in (rep_units or {}).values() for ch in u)]))
    counted_choices = list(cc.total) if cc else []
    cmap = _match(rep_choices, counted_choices)
    back = {v: k for k, v in cmap.items()}
    # (shown name, name in the report, name in the count): counted order, then choices only the report has
    entries = [(back.get(c, c), back.get(c), c) for c in counted_choices]
    entries += [(r, r, None) for r in rep_choices if r not in cmap]
    found: list[Discrepancy] = []
    reported_t = [rep_total.get(r, 0) if r else 0 for _, r, _ in entries]
    counted_t = [cc.total.get(c, 0) if c else 0 for _, _, c in entries]
    for (shown, _, _), r, c in zip(entries, reported_t, counted_t):
        if r != c:
            found.append(Discrepancy(name, shown, None, r, c))
    n_units = 0
    abs_disc = sum(abs(d.difference) for d in found)
    if rep_units is not None:
        counted_by = cc.by if cc else {}
        umap = _match(list(rep_units), list(counted_by))
        taken = set(umap.values())
        units = [(u, u, umap.get(u)) for u in rep_units] + [(u, None, u) for u in counted_by if u not in taken]
        n_units = len(units)
        per_unit = []
        for shown_u, ru, cu in units:
            rvotes = rep_units.get(ru, {}) if ru else {}
            cvotes = counted_by.get(cu, {}) if cu else {}
            for shown, r, c in entries:
                rv = rvotes.get(r, 0) if r else 0
                cv = cvotes.get(c, 0) if c else 0
                if rv != cv:
                    per_unit.append(Discrepancy(name, shown, shown_u, rv, cv))
        # the report's own totals may disagree with its units (NIST reports give both): the larger sum bounds
        # what the outcome test must allow for
        abs_disc = max(abs_disc, sum(abs(d.difference) for d in per_unit))
        found += per_unit
    shown_names = [s for s, _, _ in entries]
    note = None
    if cc is None:
        seats = seats or 1
        rules = Contest(name, name, ContestKind.VOTE_FOR_N if seats > 1 else ContestKind.PLURALITY, (),
                        winners=seats, votes_allowed=seats)
        rep_won, rep_tied = _winners(rules, shown_names, reported_t)
        summary = ContestComparison(name, None, None, n_units, sum(reported_t), 0, abs_disc, None, [], rep_won,
                                    abs_disc > 0, bool(rep_won or rep_tied), len(found), [], rep_tied,
                                    "contest not found in the count: every reported vote is a discrepancy")
        return summary, found
    rules = cc.rules
    if rules.is_ranked:
        won = tied = rep_won = rep_tied = []
        margin = None
        note = _RANKED_NOTE
        could = abs_disc > 0
        differs = False
    else:
        won, tied = _winners(rules, shown_names, counted_t)
        rep_won, rep_tied = _winners(rules, shown_names, reported_t)
        margin = smallest_margin(rules, counted_t)
        differs = set(won) != set(rep_won) or set(tied) != set(rep_tied)
        could = differs or (abs_disc > 0 and margin is not None and abs_disc >= margin)
    summary = ContestComparison(name, cc.name, str(rules.kind), n_units, sum(reported_t), sum(counted_t), abs_disc,
                                margin, won, rep_won, could, differs, len(found), tied, rep_tied, note)
    return summary, found


# from files -------------------------------------------------------------------------------------------------------

_COUNT_JSON_HEAD = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"election"\s*:')


def is_count_json(path: Path) -> bool:
    """Whether ``path`` is a count written by ``veritally tabulate --json`` (its first key is "election")."""
    if not path.is_file():
        return False
    with open(path, "rb") as fh:
        return bool(_COUNT_JSON_HEAD.match(fh.read(256)))


def _count_json_by_elimination(path: Path) -> bool:
    """A ``.json`` file that no CVR format claims is read as a count JSON (one whose keys were reordered, say);
    loading it then says clearly if it is not one."""
    from .formats import detect_format

    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        detect_format(path)
    except FormatError:
        return True
    return False


def load_count_json(path: str | Path) -> dict:
    """Read a count JSON; bad JSON or a wrong shape is a :class:`FormatError` naming the file."""
    p = Path(path)
    try:
        data = orjson.loads(p.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON: {exc}", file=p) from None
    _from_count_json(data, str(p))  # validates
    return data


def compare_paths(counted: Sequence[str | Path], reported: str | Path, fmt: str = "auto",
                  manifest: str | Path | None = None, options: Mapping[str, object] | None = None) -> Comparison:
    """Compare ONE count JSON, or CVR files/folders in format ``fmt``, with the reported-results file.

    CVRs are counted by the report's unit (precinct or batch) when it has one, and checked against the ballot
    ``manifest`` when one is given (a count JSON cannot be); ``options`` go to the CVR reader.
    """
    from .formats.manifest import read_manifest
    from .pipeline import count_paths

    rep = read_reported(reported)
    paths = [Path(p) for p in counted]
    if not paths:
        raise ConfigError("give a count JSON or CVR files to compare with the reported results")
    for p in paths:
        if not p.exists():
            raise InputError("no such file or folder", file=p)
    if any(is_count_json(p) or _count_json_by_elimination(p) for p in paths):
        if len(paths) > 1:
            raise ConfigError("give one count JSON, or CVR files, not both or several counts")
        if manifest is not None:
            raise ConfigError("a ballot manifest is checked against CVRs; give the CVR files, not a count JSON")
        return compare(load_count_json(paths[0]), rep)
    count, _ = count_paths(paths, fmt, by=rep.unit_kind,
                           manifest=None if manifest is None else read_manifest(manifest), options=options)
    return compare(count, rep)
