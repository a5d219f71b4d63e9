"""NIST SP 1500-100 v2 Election Results Reporting JSON, read into (and written from) :class:`Reported`.

Structure read (notes/tabulation.md §2.2; schema ``NIST_V2_election_results_reporting.schema.json``)::

    ElectionReport.GpUnit[]           ReportingUnit {@id, Type, Name} or ReportingDevice
    ElectionReport.Party[]            {@id, Name} (for PartySelection)
    ElectionReport.Election[]         {ElectionScopeId, Candidate[] {@id, BallotName}, Contest[]}
      Contest                         CandidateContest / BallotMeasureContest / RetentionContest / PartyContest
        {Name, ElectionDistrictId, VoteVariation, NumberElected, ContestSelection[]}
        ContestSelection              CandidateSelection {CandidateIds, IsWriteIn} / BallotMeasureSelection
                                      {Selection} / PartySelection {PartyIds}
          VoteCounts[]                {Count, GpUnitId, Type, Round, DeviceClass}

How figures are taken (docs/compare.md says the same for users):

* the choice is the candidates' ``BallotName`` (joined with " / " for a ticket), the measure's ``Selection`` text,
  or the parties' names; a write-in selection without candidates is "Write-in";
* per selection and reporting unit, the ``Type: total`` counts when there are any, else the sum of every other
  count type (``seats`` excepted); counts split by ``DeviceClass`` are summed;
* rounds: when a contest's counts carry ``Round``, only round 1 is read (Veritally compares first-round tallies of
  ranked contests); an ``rcv`` contest whose counts carry no round is left out, with a note;
* units: a ReportingUnit of ``Type`` ``precinct`` is a precinct, ``ballot-batch`` a batch (named by its ``Name``,
  else its ``@id``); the contest total is the count at the one other ReportingUnit that has counts, or at the
  contest's ``ElectionDistrictId``, or at the election's ``ElectionScopeId``. Counts at ReportingDevices, and at
  ballot batches when precincts are also given, are left out with a note.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import orjson

from .._io import atomic_write
from ..errors import FormatError, UnknownIdError
from .reported import Reported

__all__ = ["read_nist_err", "write_nist_err"]

_REPORT = "ElectionResults.ElectionReport"
_UNIT_TYPES = {"precinct": "precinct", "ballot-batch": "batch"}
_NOT_VOTES = {"seats"}


@dataclass
class _Count:
    selection: int
    gpunit: str
    type: str
    round: int | None
    value: int
    suppressed: bool


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.notes: list[str] = []

    # small typed getters: every bad value names its record and field ------------------------------------------------
    def fail(self, message: str, where: str, field: str | None = None, expected: str | None = None,
             cls: type[FormatError] = FormatError) -> FormatError:
        return cls(message, file=self.path, record=where or "(top level)", field=field, expected=expected)

    def list_of(self, obj: dict, key: str, where: str) -> list[dict]:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail("must be a list of objects", where, key)
        return value

    def string(self, obj: dict, key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail("missing" if value is None else f"must be a non-empty string, not {value!r}", where, key)
        return value.strip()

    def text(self, obj: dict, key: str, where: str) -> str:
        """An InternationalizedText's English (else first) content; a plain string is accepted too."""
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        texts = value.get("Text") if isinstance(value, dict) else None
        if not isinstance(texts, list) or not texts or not all(isinstance(t, dict) for t in texts):
            raise self.fail("missing" if value is None else "must be an InternationalizedText with Text[]", where, key,
                            expected='{"Text": [{"Content": "...", "Language": "en"}]}')
        chosen = next((t for t in texts if str(t.get("Language", "")).lower().startswith("en")), texts[0])
        content = chosen.get("Content")
        if not isinstance(content, str) or not content.strip():
            raise self.fail("Text has no Content", where, key)
        return content.strip()

    # the report ------------------------------------------------------------------------------------------------------
    def read(self) -> Reported:
        try:
            data = orjson.loads(self.path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise FormatError(f"malformed JSON: {exc}", file=self.path) from None
        if not isinstance(data, dict) or data.get("@type", _REPORT) != _REPORT or not (
                "Election" in data or "GpUnit" in data):
            raise self.fail("not a NIST SP 1500-100 election report", "", "@type",
                            expected=f'"@type": "{_REPORT}"')
        self.units = self.gpunits(data)
        self.parties = {self.string(p, "@id", f"Party[{i}]"): self.party_name(p, f"Party[{i}]")
                        for i, p in enumerate(self.list_of(data, "Party", ""))}
        rows: list[tuple[str, str, str | None, int]] = []
        self.number_elected: dict[str, int] = {}
        self.kinds_seen: set[str] = set()
        self.suppressed = 0
        per_contest = []
        for ei, election in enumerate(self.list_of(data, "Election", "")):
            where = f"Election[{ei}]"
            candidates = {self.string(c, "@id", f"{where}.Candidate[{i}]"): self.text(c, "BallotName",
                                                                                     f"{where}.Candidate[{i}]")
                          for i, c in enumerate(self.list_of(election, "Candidate", where))}
            scope = election.get("ElectionScopeId")
            for ci, contest in enumerate(self.list_of(election, "Contest", where)):
                per_contest.append(self.contest(contest, f"{where}.Contest[{ci}]", candidates, scope))
        # one kind of unit per comparison: precincts are what reports are about; batches only when alone
        kind = "precinct" if "precinct" in self.kinds_seen else ("batch" if "batch" in self.kinds_seen else None)
        if self.kinds_seen >= {"batch", "precinct"}:
            self.notes.append("the report gives counts per precinct and per ballot batch; the batch counts were "
                              "left out")
        seen: dict[tuple[str, str, str | None], str] = {}
        for name, where, contest_rows in per_contest:
            for choice, unit_kind, unit, value, sel_where in contest_rows:
                if unit_kind is not None and unit_kind != kind:
                    continue
                key = (name, choice, unit)
                if key in seen:
                    raise self.fail(f"duplicate results for contest {name!r}, choice {choice!r}"
                                    + (f", unit {unit!r}" if unit else "") + f" (first at {seen[key]})", sel_where,
                                    "VoteCounts")
                seen[key] = sel_where
                rows.append((name, choice, unit, value))
        if self.suppressed:
            self.notes.append(f"{self.suppressed} counts are marked IsSuppressedForPrivacy; they were read as given")
        if not rows:
            raise self.fail("the report has no vote counts", "", "Election",
                            expected="Contest[].ContestSelection[].VoteCounts[]")
        contest, choice, unit, votes = (list(col) for col in zip(*rows))
        return Reported(contest, choice, unit, np.array(votes, np.int64), kind, str(self.path),
                        self.number_elected, self.notes)

    def gpunits(self, data: dict) -> dict[str, tuple[str, str]]:
        """GpUnit id → (kind: precinct | batch | area | device, name)."""
        out: dict[str, tuple[str, str]] = {}
        for i, gp in enumerate(self.list_of(data, "GpUnit", "")):
            where = f"GpUnit[{i}]"
            gid = self.string(gp, "@id", where)
            if gid in out:
                raise self.fail(f"GpUnit id {gid!r} defined twice", where, "@id")
            if gp.get("@type") == "ElectionResults.ReportingDevice":
                kind = "device"
            else:
                kind = _UNIT_TYPES.get(gp.get("Type"), "area")  # type: ignore[arg-type]
            out[gid] = (kind, self.text(gp, "Name", where) if "Name" in gp else gid)
        return out

    def party_name(self, party: dict, where: str) -> str:
        if "Name" in party:
            return self.text(party, "Name", where)
        return party.get("Abbreviation") or self.string(party, "@id", where)

    def selection_name(self, sel: dict, where: str, candidates: dict[str, str]) -> str:
        kind = sel.get("@type", "")
        if "CandidateIds" in sel or kind.endswith("CandidateSelection"):
            ids = sel.get("CandidateIds") or []
            if not isinstance(ids, list):
                raise self.fail("must be a list of candidate ids", where, "CandidateIds")
            for cid in ids:
                if cid not in candidates:
                    raise self.fail(f"unknown candidate id {cid!r}", where, "CandidateIds",
                                    expected="an @id of the election's Candidate[]", cls=UnknownIdError)
            if ids:
                return " / ".join(candidates[c] for c in ids)
            if sel.get("IsWriteIn"):
                return "Write-in"
            raise self.fail("a candidate selection with no CandidateIds that is not a write-in", where,
                            "CandidateIds")
        if "PartyIds" in sel:
            ids = sel["PartyIds"] if isinstance(sel["PartyIds"], list) else [sel["PartyIds"]]
            for pid in ids:
                if pid not in self.parties:
                    raise self.fail(f"unknown party id {pid!r}", where, "PartyIds",
                                    expected="an @id of the report's Party[]", cls=UnknownIdError)
            return " / ".join(self.parties[p] for p in ids)
        return self.text(sel, "Selection", where)

    def count(self, vc: dict, si: int, where: str) -> _Count:
        value = vc.get("Count")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail("missing" if value is None else f"must be a number, not {value!r}", where, "Count")
        if value < 0 or value != int(value):
            raise self.fail(f"{value!r} is {'negative' if value < 0 else 'not a whole number'}", where, "Count",
                            expected="a non-negative whole number of votes")
        gid = self.string(vc, "GpUnitId", where)
        if gid not in self.units:
            raise self.fail(f"unknown GpUnit id {gid!r}", where, "GpUnitId", expected="an @id of GpUnit[]",
                            cls=UnknownIdError)
        ctype = self.string(vc, "Type", where)
        rnd = vc.get("Round")
        if rnd is not None and (isinstance(rnd, bool) or not isinstance(rnd, int)):
            raise self.fail(f"must be an integer, not {rnd!r}", where, "Round")
        return _Count(si, gid, ctype, rnd, int(value), bool(vc.get("IsSuppressedForPrivacy")))

    def contest(self, contest: dict, where: str, candidates: dict[str, str], scope: object):
        name = self.string(contest, "Name", where)
        if isinstance(contest.get("NumberElected"), int):
            self.number_elected[name] = contest["NumberElected"]
        choices: list[str] = []
        sel_where: list[str] = []
        counts: list[_Count] = []
        keys: dict[tuple, str] = {}
        for si, sel in enumerate(self.list_of(contest, "ContestSelection", where)):
            sw = f"{where}.ContestSelection[{si}]"
            choice = self.selection_name(sel, sw, candidates)
            if choice in choices:
                raise self.fail(f"choice {choice!r} listed twice in contest {name!r}", sw, "CandidateIds")
            choices.append(choice)
            sel_where.append(sw)
            for vi, vc in enumerate(self.list_of(sel, "VoteCounts", sw)):
                vw = f"{sw}.VoteCounts[{vi}]"
                c = self.count(vc, si, vw)
                key = (si, c.gpunit, c.type, vc.get("OtherType"), c.round, orjson.dumps(vc.get("DeviceClass")))
                if key in keys:
                    raise self.fail(f"the same count is given twice (first at {keys[key]})", vw, "Count")
                keys[key] = vw
                counts.append(c)
        if any(c.round is not None for c in counts):
            counts = [c for c in counts if c.round == 1]
            if not counts:
                self.notes.append(f"contest {name!r}: no round-1 counts; not read")
        elif counts and contest.get("VoteVariation") == "rcv":
            self.notes.append(f"contest {name!r} is ranked (rcv) but its counts give no Round; Veritally compares "
                              "first-round tallies only, so it was not read")
            counts = []
        self.suppressed += sum(c.suppressed for c in counts)
        # figure per (selection, gpunit): the 'total' counts if any, else every vote type summed
        figures: dict[tuple[int, str], int] = {}
        has_total = {(c.selection, c.gpunit) for c in counts if c.type == "total"}
        for c in counts:
            key = (c.selection, c.gpunit)
            if (c.type == "total") == (key in has_total) and c.type not in _NOT_VOTES:
                figures[key] = figures.get(key, 0) + c.value
        areas = list(dict.fromkeys(g for _, g in figures if self.units[g][0] == "area"))
        total_unit = self.total_unit(name, areas, contest.get("ElectionDistrictId"), scope, where,
                                     any(self.units[g][0] in ("precinct", "batch") for _, g in figures))
        if any(self.units[g][0] == "device" for _, g in figures):
            self.notes.append(f"contest {name!r}: counts per reporting device were left out")
        rows = []
        for (si, gid), value in figures.items():
            kind, unit_name = self.units[gid]
            if kind in ("precinct", "batch"):
                self.kinds_seen.add(kind)
                rows.append((choices[si], kind, unit_name, value, sel_where[si]))
            elif gid == total_unit:
                rows.append((choices[si], None, None, value, sel_where[si]))
        if not keys:
            self.notes.append(f"contest {name!r}: no vote counts")
        return name, where, rows

    def total_unit(self, name: str, areas: list[str], district: object, scope: object, where: str,
                   has_units: bool) -> str | None:
        """The GpUnit whose counts are the contest's total."""
        if len(areas) <= 1:
            return areas[0] if areas else None
        for gid in (district, scope):
            if gid in areas:
                return gid  # type: ignore[return-value]
        if has_units:
            self.notes.append(f"contest {name!r}: counts at several areas ({', '.join(areas[:4])}); "
                              "its total is the sum of its units")
            return None
        raise self.fail(f"contest {name!r} has counts at several reporting units ({', '.join(areas[:4])}) and none "
                        "is its ElectionDistrictId or the ElectionScopeId; cannot tell which is the total", where,
                        "ElectionDistrictId")


def read_nist_err(path: str | PathLike[str]) -> Reported:
    """Read a NIST SP 1500-100 v2 results report (JSON) as :class:`Reported` rows."""
    return _Reader(Path(path)).read()


# writing ----------------------------------------------------------------------------------------------------------

def _text(s: str) -> dict:
    return {"@type": "ElectionResults.InternationalizedText",
            "Text": [{"@type": "ElectionResults.LanguageString", "Content": s, "Language": "en"}]}


def write_nist_err(rep: Reported, path: str | PathLike[str], *, election_name: str = "Election",
                   scope_name: str = "Jurisdiction", issuer: str = "Veritally", date: str = "2026-11-03",
                   ballot_measures: Collection[str] = (), ranked: Collection[str] = (),
                   include_totals: bool = True) -> Path:
    """Write ``rep`` as a schema-valid NIST SP 1500-100 v2 report (atomically); returns the path.

    Unit rows become counts at ReportingUnits of Type ``precinct`` or ``ballot-batch``; contest totals (the total
    rows, or the sums of the units when ``include_totals``) are counts at one county-level scope unit. Contests named
    in ``ballot_measures`` are BallotMeasureContests, the rest CandidateContests; contests in ``ranked`` get
    ``VoteVariation: rcv`` and ``Round: 1`` on their counts. Every count has ``Type: total``.
    """
    scope = "gpu-scope"
    unit_type = {"precinct": "precinct", "batch": "ballot-batch"}.get(rep.unit_kind or "", "precinct")
    unit_ids = {u: f"gpu-{i + 1}" for i, u in enumerate(rep.units())}
    gpunits = [{"@type": "ElectionResults.ReportingUnit", "@id": scope, "Type": "county", "Name": _text(scope_name),
                "ComposingGpUnitIds": list(unit_ids.values())}]
    gpunits += [{"@type": "ElectionResults.ReportingUnit", "@id": gid, "Type": unit_type, "Name": _text(u)}
                for u, gid in unit_ids.items()]
    totals = rep.totals()
    explicit = {c for c, u in zip(rep.contest, rep.unit) if u is None}
    by_unit = rep.by_unit()
    candidates, contests = [], []
    for ci, name in enumerate(rep.contests):
        is_measure = name in ballot_measures
        rnd = {"Round": 1} if name in ranked else {}
        choices = list(dict.fromkeys(ch for c, ch in zip(rep.contest, rep.choice) if c == name))
        selections = []
        for si, choice in enumerate(choices):
            counts = [{"@type": "ElectionResults.VoteCounts", "Count": units[choice], "GpUnitId": unit_ids[u],
                       "Type": "total", **rnd}
                      for u, units in by_unit.get(name, {}).items() if choice in units]
            if name in explicit or include_totals or not counts:
                counts.insert(0, {"@type": "ElectionResults.VoteCounts", "Count": totals[name].get(choice, 0),
                                  "GpUnitId": scope, "Type": "total", **rnd})
            sel_id = f"cs-{ci + 1}-{si + 1}"
            if is_measure:
                selections.append({"@type": "ElectionResults.BallotMeasureSelection", "@id": sel_id,
                                   "Selection": _text(choice), "VoteCounts": counts})
            else:
                cand_id = f"cand-{ci + 1}-{si + 1}"
                candidates.append({"@type": "ElectionResults.Candidate", "@id": cand_id, "BallotName": _text(choice)})
                selections.append({"@type": "ElectionResults.CandidateSelection", "@id": sel_id,
                                   "CandidateIds": [cand_id], "VoteCounts": counts})
        contest = {"@type": f"ElectionResults.{'BallotMeasureContest' if is_measure else 'CandidateContest'}",
                   "@id": f"contest-{ci + 1}", "Name": name, "ElectionDistrictId": scope,
                   "ContestSelection": selections}
        if not is_measure:
            seats = rep.number_elected.get(name, 1)
            contest.update(VotesAllowed=seats, NumberElected=seats)
        if name in ranked:
            contest["VoteVariation"] = "rcv"
        contests.append(contest)
    report = {
        "@type": _REPORT, "Format": "precinct-level" if unit_ids else "summary-contest",
        "GeneratedDate": f"{date}T00:00:00Z", "Issuer": issuer, "IssuerAbbreviation": issuer[:8],
        "SequenceStart": 1, "SequenceEnd": 1, "Status": "unofficial-complete", "VendorApplicationId": "veritally",
        "GpUnit": gpunits,
        "Election": [{"@type": "ElectionResults.Election", "ElectionScopeId": scope, "Name": _text(election_name),
                      "StartDate": date, "EndDate": date, "Type": "general", "Candidate": candidates,
                      "Contest": contests}],
    }
    with atomic_write(path, "wb") as fh:
        fh.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    return Path(path)
