"""NIST SP 1500-103 CDF election definitions: contests, choices, units and devices of a report (see :mod:`.nist_cdf`).

JSON and XML arrive here as the same plain structure (dicts, lists, and scalars that are ``str`` in XML and
``int``/``str``/``bool`` in JSON). The functions that infer a contest's rules and a choice's fields from standard
CDF fields (:func:`rules_from_cdf`, :func:`choice_from_cdf`, :func:`unit_labels`) are also what the writer uses to
decide which fields need the Veritally extension: whatever they would not infer is written in an extension code,
so reading back is lossless by construction. The per-CVR walk is :mod:`._cdf_read`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from ..builder import OVERVOTE, ElectionBuilder
from ..errors import FormatError, ModelError, UnknownIdError
from ..model import Choice, Contest, ContestKind
from ._rctab import UWI_NAME

#: ``Code.OtherType`` of Veritally's extension codes; ``Code.Value`` holds a JSON object.
EXT = "veritally"
#: VoteVariation written for each contest kind (read back by :func:`rules_from_cdf`).
VARIATION = {ContestKind.PLURALITY: "plurality", ContestKind.VOTE_FOR_N: "n-of-m", ContestKind.APPROVAL: "approval",
             ContestKind.THRESHOLD: "super-majority", ContestKind.RANKED: "rcv"}
#: Share a "super-majority" contest needs when the file does not say (CDF has no field for it).
DEFAULT_THRESHOLD = 2 / 3
_CONTEST_EXT = ("id", "kind", "winners", "votes_allowed", "ranks", "threshold", "district")
_CHOICE_EXT = ("id", "name", "write_in", "undeclared", "aliases", "party", "overvote")
_UNIT_EXT = ("precinct", "precinct_portion", "counting_group")
_TRUE, _FALSE = frozenset(("true", "yes", "1")), frozenset(("false", "no", "0"))
NON_RANKED, RANKED, PROVISIONAL = 0, 1, 2  #: how a contest's ranks are known (see :class:`ContestState`)


@dataclass
class Options:
    """Reading options (docstring of :func:`veritally.formats.nist_cdf.read`)."""

    contest_id: str | None = None
    overvote_label: str | None = None
    undeclared_write_in_label: str | None = None
    candidates: tuple[Choice, ...] | None = None
    max_rankings: int | None = None
    skip_unallocable: bool = False
    stream_above: int = 32 << 20


# small value helpers ----------------------------------------------------------------------------------------------
def local(name: Any) -> str:
    """A type name without its prefix: ``CVR.CandidateContest``, ``cdf:CandidateContest`` → ``CandidateContest``."""
    return str(name).rsplit(".", 1)[-1].rsplit(":", 1)[-1] if name is not None else ""


def boolean(value: Any) -> bool | None:
    """A CDF boolean-like value (true/false, yes/no, 1/0 as JSON or text), None when absent; ValueError if neither."""
    if value is None or value.__class__ is bool:
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def integer(value: Any) -> int | None:
    """A JSON integer or decimal text (XML), None when it is neither (bools and floats are not integers)."""
    if value.__class__ is int:
        return value
    if value.__class__ is str and value.strip().lstrip("-").isdigit():
        return int(value)
    if value.__class__ is float and value.is_integer():  # ijson without Decimal: 2.0 for an integer in exponent form
        return int(value)
    return None


def as_list(value: Any) -> list:
    return value if value.__class__ is list else [] if value is None else [value]


def ext_of(obj: Mapping, allowed: Sequence[str], file: str, field: str) -> dict:
    """The Veritally extension object of ``obj`` (from its ``Code`` list), {} when it has none."""
    for i, code in enumerate(as_list(obj.get("Code"))):
        if isinstance(code, dict) and code.get("OtherType") == EXT:
            try:
                ext = orjson.loads(code.get("Value") or "{}")
            except orjson.JSONDecodeError:
                ext = None
            if not isinstance(ext, dict) or not set(ext) <= set(allowed):
                raise FormatError(f"bad Veritally extension {code.get('Value')!r}", file=file,
                                  field=f"{field}.Code[{i}].Value", expected=f"a JSON object of {', '.join(allowed)}")
            return ext
    return {}


def codes_of(obj: Mapping) -> tuple[str, ...]:
    """Values of the object's codes other than Veritally's extension (a candidate's codes become aliases)."""
    return tuple(str(c["Value"]) for c in as_list(obj.get("Code"))
                 if isinstance(c, dict) and c.get("OtherType") != EXT and c.get("Value") is not None)


def _text(obj: Mapping, key: str) -> str | None:
    value = obj.get(key)
    return None if value is None else str(value)


# inference from standard fields (shared with the writer) ----------------------------------------------------------
def rules_from_cdf(obj: Mapping, n_choices: int) -> dict[str, Any]:
    """Contest rules a CDF contest states with standard fields: kind, winners, votes_allowed, threshold, district.

    ``VoteVariation`` rcv → ranked; approval → approval; super-majority → threshold (share :data:`DEFAULT_THRESHOLD`);
    anything else (plurality, n-of-m, majority, none) → vote-for-N when ``VotesAllowed`` > 1, else plurality.
    ``NumberElected`` gives the winners (default: ``VotesAllowed`` for vote-for-N, else 1). Raises ValueError on
    a non-integer count.
    """
    variation = str(obj.get("VoteVariation") or "").strip().lower()
    allowed, elected = obj.get("VotesAllowed"), obj.get("NumberElected")
    allowed = None if allowed is None else integer(allowed)
    elected = None if elected is None else integer(elected)
    if (obj.get("VotesAllowed") is not None and allowed is None) or (obj.get("NumberElected") is not None
                                                                       and elected is None):
        raise ValueError("VotesAllowed and NumberElected must be integers")
    rules: dict[str, Any] = {"threshold": None, "district": None}
    if variation == "rcv":
        rules.update(kind=ContestKind.RANKED, winners=1 if elected is None else elected, votes_allowed=1)
    elif variation == "approval":
        rules.update(kind=ContestKind.APPROVAL, winners=1 if elected is None else elected,
                     votes_allowed=max(n_choices, 1) if allowed is None else allowed)
    elif variation == "super-majority":
        rules.update(kind=ContestKind.THRESHOLD, winners=1 if elected is None else elected,
                     votes_allowed=1 if allowed is None else allowed, threshold=DEFAULT_THRESHOLD)
    else:
        allowed = 1 if allowed is None else allowed
        kind = ContestKind.VOTE_FOR_N if allowed > 1 else ContestKind.PLURALITY
        rules.update(kind=kind, votes_allowed=allowed,
                     winners=elected if elected is not None else allowed if kind is ContestKind.VOTE_FOR_N else 1)
    return rules


def choice_from_cdf(sel: Mapping, candidates: Mapping[str, Mapping], parties: Mapping[str, Mapping]) -> dict:
    """Choice fields a CDF ContestSelection states with standard fields (id, name, write_in, undeclared, aliases,
    party); KeyError naming a CandidateId the Election does not define.

    A write-in line (``IsWriteIn``) is RCTab's "Undeclared Write-ins" (name :data:`UWI_NAME`; its candidate's name,
    if any, becomes an alias). A candidate selection is named after its first candidate (``Name``, else its id) —
    RCTab reads only the first of several ``CandidateIds`` — a ballot-measure selection after its ``Selection``,
    a party selection after its parties, any other after its ``vendor-label`` code (RCTab's newer exports) or,
    failing all, its own id.
    """
    fields: dict[str, Any] = {"id": str(sel.get("@id")), "write_in": False, "undeclared": False, "aliases": (),
                              "party": None}
    ids = as_list(sel.get("CandidateIds"))
    name = None
    if ids:
        cand = candidates[str(ids[0])]
        name = _text(cand, "Name")
        fields["aliases"] = codes_of(cand)
        pid = cand.get("PartyId")
        if pid is not None:
            party = parties.get(str(pid)) or {}
            fields["party"] = _text(party, "Name") or _text(party, "Abbreviation") or str(pid)
        if name is None:
            name = str(ids[0])
    elif sel.get("Selection") is not None:  # Unisyn puts a Candidate's id there
        name = str(sel["Selection"])
        if name in candidates:
            name = _text(candidates[name], "Name") or name
    elif sel.get("PartyIds") is not None:
        name = " / ".join(_text(parties.get(str(p)) or {}, "Name") or str(p) for p in as_list(sel["PartyIds"]))
    else:  # RCTab 1.3+ exports name a selection only by a "vendor-label" code
        name = next((str(c["Value"]) for c in as_list(sel.get("Code"))
                     if isinstance(c, dict) and c.get("OtherType") == "vendor-label" and c.get("Value")), None)
    if boolean(sel.get("IsWriteIn")):
        if name is not None and name != UWI_NAME:
            fields["aliases"] = (name, *fields["aliases"])
        fields.update(name=UWI_NAME, write_in=True, undeclared=True)
    else:
        fields["name"] = fields["id"] if name is None else name
        if name == UWI_NAME:  # RCTab's own name for them (its exports list it as a candidate)
            fields.update(write_in=True, undeclared=True)
    return fields


def unit_labels(unit: Mapping) -> dict[str, str | None]:
    """Card attributes a GpUnit (a card's ``BallotStyleUnitId``) states: precinct = its Name (else its id), as RCTab
    reads it; precinct_portion = the same when its Type is ``split-precinct``; plus what Veritally's extension says."""
    label = _text(unit, "Name") or _text(unit, "@id")
    return {"precinct": label, "precinct_portion": label if unit.get("Type") == "split-precinct" else None,
            "counting_group": None}


# the election definitions -----------------------------------------------------------------------------------------
@dataclass
class ContestState:
    """One model contest, across every file read.

    ``mode`` is NON_RANKED, RANKED (VoteVariation rcv or the extension says so) or PROVISIONAL (no VoteVariation
    in a file that has ranks: ranked if any of its marks has a Rank; or selected by ``contest_id``: ranked in any
    case). Ranked and provisional contests are built with ``bound`` ranks and settled once the cards are in
    (:func:`finish`).
    """

    index: int
    mode: int
    bound: int
    fixed_ranks: int | None  #: ranks from max_rankings or the extension; else the most ranks seen
    template: Contest  #: the contest's real rules (the builder holds a ranked placeholder when not NON_RANKED)
    bit_of: dict[str, int]  #: choice id → bit index
    uwi: int | None = None  #: bit index of the undeclared write-in choice (for CVRWriteIn marks), once known
    max_rank: int = 0
    first_ranked: str | None = None
    first_unranked: str | None = None
    forced: bool = False  #: selected by contest_id: ranked even if no mark has a Rank (marks without are rank 1)
    overvoted: list[int] | None = None  #: PROVISIONAL: cards whose CVRContest says overvoted (if it is not ranked)


class Definitions:
    """What the CVR walk of one file looks up: contests, selections, precincts, devices (from the report header)."""

    def __init__(self, header: Mapping, file: str, options: Options, builder: ElectionBuilder,
                 states: dict[str, ContestState], has_ranks: bool) -> None:
        self.file = file
        self.options = options
        elections = header.get("Election")
        if not isinstance(elections, list) or not elections or not all(isinstance(e, dict) for e in elections):
            raise FormatError("no Election", file=file, field="Election",
                              expected="a CastVoteRecordReport with an Election list")
        self.name = next((str(e["Name"]) for e in elections if e.get("Name") is not None), None)
        self.units = self._index(header, "GpUnit")
        self.parties = self._index(header, "Party")
        devices = self._index(header, "ReportingDevice")
        self.devices = {k: ext_of(d, ("label",), file, f"ReportingDevice[{k}]").get("label", k)
                        for k, d in devices.items()}
        self.unit_attrs: dict[str, dict[str, str | None]] = {}
        for k, unit in self.units.items():
            labels = unit_labels(unit)
            labels.update(ext_of(unit, _UNIT_EXT, file, f"GpUnit[{k}]"))
            self.unit_attrs[k] = {key: v for key, v in labels.items() if v is not None}
        candidates: dict[str, Mapping] = {}
        for e, election in enumerate(elections):
            for i, cand in enumerate(as_list(election.get("Candidate"))):
                cid = cand.get("@id") if isinstance(cand, dict) else None
                if cid is None or str(cid) in candidates:
                    raise FormatError("a candidate without an @id, or the same @id twice", file=file,
                                      record=None if cid is None else str(cid),
                                      field=f"Election[{e}].Candidate[{i}].@id", expected="unique @ids")
                candidates[str(cid)] = cand
        self.contests: dict[str, tuple[ContestState, dict[str, int]]] = {}  #: ContestId → (state, selection → bit)
        self.ignored: set[str] = set()  #: contests defined but not read (contest_id names another)
        wanted = options.contest_id
        found = False
        for e, election in enumerate(elections):
            for i, obj in enumerate(as_list(election.get("Contest"))):
                path = f"Election[{e}].Contest[{i}]"
                if not isinstance(obj, dict) or obj.get("@id") is None:
                    raise FormatError("a contest without an @id", file=file, field=f"{path}.@id",
                                      expected="a Contest object with an @id")
                cdf_id = str(obj["@id"])
                if cdf_id in self.contests or cdf_id in self.ignored:
                    raise FormatError(f"contest @id {cdf_id!r} twice", file=file, field=f"{path}.@id")
                ext = ext_of(obj, _CONTEST_EXT, file, path)
                if wanted is not None and wanted not in (obj.get("Name"), cdf_id, ext.get("id")):
                    self.ignored.add(cdf_id)
                    continue
                found = True
                self.contests[cdf_id] = self._define(obj, ext, path, candidates, builder, states, has_ranks)
        if wanted is not None and not found:
            names = [str(c.get("Name")) for e in elections for c in as_list(e.get("Contest")) if isinstance(c, dict)]
            raise UnknownIdError(f"no contest named {wanted!r}", file=file, field="Election.Contest",
                                 expected="one of " + ", ".join(repr(n) for n in names[:8])
                                          + (" …" if len(names) > 8 else ""))

    def _index(self, header: Mapping, key: str) -> dict[str, Mapping]:
        items = header.get(key) or []
        if not isinstance(items, list):
            raise FormatError(f"{key} is not a list", file=self.file, field=key, expected=f"a list of {key} objects")
        out = {}
        for i, x in enumerate(items):
            if not isinstance(x, dict) or x.get("@id") is None:
                raise FormatError(f"{key} without an @id", file=self.file, field=f"{key}[{i}]",
                                  expected="an object with an @id")
            out[str(x["@id"])] = x
        return out

    # one contest ----------------------------------------------------------------------------------------------
    def _choices(self, obj: Mapping, path: str, candidates: Mapping) -> list[tuple[str, Choice | None]]:
        """(selection @id, Choice) per selection; Choice None for an overvote pseudo-selection."""
        o = self.options
        out: list[tuple[str, Choice | None]] = []
        seen: set[str] = set()
        for j, sel in enumerate(as_list(obj.get("ContestSelection"))):
            spath = f"{path}.ContestSelection[{j}]"
            if not isinstance(sel, dict) or sel.get("@id") is None or str(sel["@id"]) in seen:
                raise FormatError("a selection without an @id, or the same @id twice", file=self.file,
                                  field=f"{spath}.@id", expected="unique selection @ids")
            seen.add(str(sel["@id"]))
            try:
                fields = choice_from_cdf(sel, candidates, self.parties)
            except KeyError as exc:
                raise UnknownIdError(f"CandidateId {exc.args[0]!r} is not a Candidate of the Election",
                                     file=self.file, field=f"{spath}.CandidateIds[0]") from None
            except ValueError:
                raise FormatError(f"IsWriteIn is {sel.get('IsWriteIn')!r}", file=self.file,
                                  field=f"{spath}.IsWriteIn", expected="true or false") from None
            ext = ext_of(sel, _CHOICE_EXT, self.file, spath)
            over = ext.pop("overvote", False) or (o.overvote_label is not None and fields["name"] == o.overvote_label)
            if over:
                out.append((str(sel["@id"]), None))
                continue
            fields.update(ext)
            try:
                fields["aliases"] = tuple(str(a) for a in fields["aliases"])
                uwi = o.undeclared_write_in_label
                if uwi is not None and uwi in (fields["name"], fields["id"], *fields["aliases"]):
                    aliases = tuple(dict.fromkeys(a for a in (fields["name"], *fields["aliases"]) if a != UWI_NAME))
                    fields.update(name=UWI_NAME, write_in=True, undeclared=True, aliases=aliases)
                out.append((str(sel["@id"]), Choice(**fields)))
            except (TypeError, ValueError) as exc:  # an extension of the wrong shape
                raise FormatError(f"unusable selection: {exc}", file=self.file, field=spath) from None
        return out

    def _map_candidates(self, pairs: list[tuple[str, Choice | None]], path: str) -> tuple[list[Choice],
                                                                                         dict[str, int | None]]:
        """The contest's choices and each selection's choice position (None: overvote), with the RCTab candidate
        list applied when given: names and aliases map to the list's names, in the list's order."""
        cands = self.options.candidates
        if cands is None:
            choices = [c for _s, c in pairs if c is not None]
            position = {}
            k = 0
            for sel, c in pairs:
                position[sel] = None if c is None else k
                k += c is not None
            return choices, position
        lookup: dict[str, int] = {}
        for i, cand in enumerate(cands):
            for key in (cand.name, cand.id, *cand.aliases):
                lookup.setdefault(" ".join(key.split()), i)
        matched: dict[int, Choice] = {}
        extra: list[tuple[str, Choice]] = []
        position: dict[str, int | None] = {}
        for j, (sel, c) in enumerate(pairs):
            if c is None:
                continue
            pos = next((lookup[k] for k in (" ".join(x.split()) for x in (c.name, *c.aliases, c.id)) if k in lookup),
                       None)
            if pos is None:
                if c.undeclared:  # RCTab's undeclared write-ins are not config candidates
                    extra.append((sel, c))
                    continue
                raise UnknownIdError(f"candidate {c.name!r} is not in the candidate list", file=self.file,
                                     field=f"{path}.ContestSelection[{j}]",
                                     expected="one of " + ", ".join(repr(x.name) for x in cands[:8])
                                              + (" …" if len(cands) > 8 else ""))
            position[sel] = pos
            if pos not in matched:
                cand = cands[pos]
                aliases = tuple(dict.fromkeys(a for a in (*cand.aliases, c.name, *c.aliases) if a != cand.name))
                matched[pos] = Choice(c.id, cand.name, write_in=cand.write_in or c.write_in,
                                      undeclared=cand.undeclared or c.undeclared, aliases=aliases, party=c.party)
        choices = [matched.get(i, cand) for i, cand in enumerate(cands)]
        for sel, c in extra:
            position[sel] = len(choices)
            choices.append(c)
        for sel, c in pairs:
            if c is None:
                position[sel] = None
        return choices, position

    def _define(self, obj: Mapping, ext: dict, path: str, candidates: Mapping, builder: ElectionBuilder,
                states: dict[str, ContestState], has_ranks: bool) -> tuple[ContestState, dict[str, int]]:
        o = self.options
        choices, position = self._map_candidates(self._choices(obj, path, candidates), path)
        try:
            rules = rules_from_cdf(obj, len(choices))
        except ValueError:
            raise FormatError(f"VotesAllowed {obj.get('VotesAllowed')!r}, NumberElected {obj.get('NumberElected')!r}",
                              file=self.file, field=f"{path}.VotesAllowed", expected="integers") from None
        ext_ranks = ext.pop("ranks", None)
        try:
            if "kind" in ext:
                ext["kind"] = ContestKind(ext["kind"])
            if ext_ranks is not None and (ext_ranks.__class__ is not int or ext_ranks < 1):
                raise ValueError(f"ranks {ext_ranks!r}")
        except ValueError as exc:
            raise FormatError(f"bad Veritally extension: {exc}", file=self.file, field=f"{path}.Code") from None
        rules.update(ext)
        kind = rules["kind"]
        contest_type = local(obj.get("@type"))
        forced = o.contest_id is not None  # RCTab counts the contest it is given as RCV, whatever it says
        if kind is ContestKind.RANKED or ext_ranks:
            mode = RANKED
        elif forced or (has_ranks and obj.get("VoteVariation") is None and "kind" not in ext
                        and contest_type != "PartyContest"):
            mode = PROVISIONAL
        else:
            mode = NON_RANKED
        fixed = o.max_rankings or ext_ranks
        bound = fixed or max(len(choices), 1)
        cid = str(rules.pop("id", obj["@id"]))
        try:
            template = Contest(id=cid, name=str(obj.get("Name") if obj.get("Name") is not None else cid),
                               choices=tuple(choices), ranks=bound if kind is ContestKind.RANKED else 0, **rules)
            placeholder = template if mode == NON_RANKED else replace(
                template, kind=ContestKind.RANKED, ranks=bound, threshold=None)
        except (ModelError, ValueError, TypeError) as exc:
            raise FormatError(f"unusable contest: {exc}", file=self.file, field=path) from None
        state = states.get(cid)
        if state is None:
            index = builder.add_contest(placeholder)
            state = states[cid] = ContestState(index, mode, bound, fixed, template,
                                               {c.id: i for i, c in enumerate(choices)}, forced=forced)
        else:  # the same contest in another file: same rules, choices matched by id (new ones appended)
            if (state.mode, replace(state.template, choices=())) != (
                    mode, replace(template, choices=(), ranks=state.template.ranks)):
                raise FormatError(f"contest {cid!r} has other rules or name than in a file read before", file=self.file,
                                  field=path, expected="the same contest definition in every file")
            for c in choices:
                if c.id in state.bit_of:
                    if builder.contest(state.index).choices[state.bit_of[c.id]] != c:
                        raise FormatError(f"choice {c.id!r} of contest {cid!r} differs from a file read before",
                                          file=self.file, field=path)
                else:
                    state.bit_of[c.id] = builder.add_choice(state.index, c)
        if state.uwi is None:
            state.uwi = next((state.bit_of[c.id] for c in choices if c.undeclared), None)
        sel_bits = {sel: OVERVOTE if p is None else 1 << state.bit_of[choices[p].id] for sel, p in position.items()}
        return state, sel_bits


def uwi_bit(state: ContestState, builder: ElectionBuilder) -> int:
    """Bit of the contest's undeclared write-in choice, added on first use (a CVRWriteIn on a non-write-in line)."""
    if state.uwi is None:
        contest = builder.contest(state.index)
        cid = UWI_NAME if UWI_NAME not in state.bit_of else f"{UWI_NAME} ({len(contest.choices)})"
        try:
            state.uwi = state.bit_of[cid] = builder.add_choice(
                state.index, Choice(cid, UWI_NAME, write_in=True, undeclared=True))
        except ModelError as exc:
            raise FormatError(str(exc)) from None
    return 1 << state.uwi


def expand(paths: Iterable[Path], is_cdf: Callable[[Path], bool]) -> list[Path]:
    """Files to read: the paths given, and the CDF files (by ``is_cdf``) of folders, sorted by name."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in (".json", ".xml") and is_cdf(q))
            if not found:
                raise FormatError("no NIST CDF .json or .xml file in the folder", file=p,
                                  expected="CastVoteRecordReport files")
            out.extend(found)
        else:
            out.append(p)
    return out
