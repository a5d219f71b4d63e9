"""Reading Hart Verity CVR XML (:func:`veritally.formats.hart.read`): one card per file, into flat buffers.

:class:`_Reader` parses each file whole with lxml, walks its elements once, and appends integers only: the card's
attribute codes, and per contest the card index and one mask per rank (the bits of the options whose ``Value`` has
'1' at that position). Kinds and ranks are decided once every card is read (:meth:`_Acc.contest`), because Hart's
XML does not state them; :func:`_dense` then scatters the flat buffers into the model's columns with NumPy.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from lxml import etree

from ..errors import DuplicateCardError, FormatError, ModelError, UnknownIdError
from ..model import (MAX_CHOICES, STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election,
                     unique_card_check)
from . import _rctab
from ._rctab import UWI_NAME

NAME = "hart"
NAMESPACE = "http://tempuri.org/CVRDesign.xsd"
#: Contest definitions written beside the XML files by ``write`` (Hart has no contest manifest).
CONTESTS_FILE = "VeritallyContests.json"
#: Namespace of the element carrying card attributes Hart has no field for (``style``, ``counting_group``, ``ballot``).
EXT_NAMESPACE = "urn:veritally:hart:1"
EXT_FIELDS = {"Style": "style", "CountingGroup": "counting_group", "Ballot": "ballot"}
#: Contest flags Hart sets in open and straight-party primaries; the listed marks are counted anyway (as RCTab does).
FLAGS = ("NoVote", "InvalidVote", "InvalidStraightPartyVote")
_ATTRS = ("precinct", "precinct_portion", "batch", "tabulator", *EXT_FIELDS.values())
_MAX_RANKS = 255  #: longest Value accepted: no ballot has more rank columns; a longer one is a damaged file
_FLUSH = 1 << 16
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True,
                          collect_ids=False)


@dataclass
class _Options:
    contest_id: str | None = None
    undeclared_write_in_label: str | None = None
    candidates: tuple[Choice, ...] | None = None
    max_rankings: int | None = None


class _Tags:
    """Qualified tag names in one namespace (Hart's, or none: RCTab's Jackson reader ignores namespaces)."""

    def __init__(self, ns: str) -> None:
        q = (lambda t: f"{{{ns}}}{t}") if ns else (lambda t: t)
        self.cvr, self.contests, self.contest, self.guid = q("Cvr"), q("Contests"), q("Contest"), q("CvrGuid")
        self.split, self.batch, self.device = q("PrecinctSplit"), q("BatchNumber"), q("DeviceSerialNumber")
        self.name, self.id, self.options, self.option = q("Name"), q("Id"), q("Options"), q("Option")
        self.value, self.writein = q("Value"), q("WriteInData")
        self.undervotes, self.overvoted = q("Undervotes"), q("Overvoted")
        self.flags = {q(f): f for f in FLAGS}


_TAGS = {t.cvr: t for t in (_Tags(NAMESPACE), _Tags(""))}
_EXT = f"{{{EXT_NAMESPACE}}}Veritally"
_EXT_KEYS = {f"{{{EXT_NAMESPACE}}}{k}": _ATTRS.index(v) for k, v in EXT_FIELDS.items()}


@dataclass
class _Acc:
    """One contest while reading: how its options map to bits, and its occurrences as flat integer buffers."""

    id: str
    name: str
    declared: Contest | None  #: from VeritallyContests.json
    fixed: tuple[Choice, ...] | None  #: the candidate list (contest_id) or the declared choices; None: discover
    limit: int  #: ranks a Value may mark (positions beyond are an error)
    limit_reason: str
    index: dict[str, int] = field(default_factory=dict)  #: Hart option Id → choice position
    raw: list[tuple[str, str | None]] = field(default_factory=list)  #: discovered (Id, Name) per position
    names: dict[int, list[str]] = field(default_factory=dict)  #: other Names an option had in other files
    write_ins: set[int] = field(default_factory=set)
    uwi: int | None = None  #: position of the undeclared write-in choice
    uwi_id: str = ""  #: the Hart Id it had
    hart_ids: dict[int, str] = field(default_factory=dict)  #: first Hart Id seen per candidate position
    lookup: dict[str, int] | None = None  #: candidate name/alias → position
    cards: array = field(default_factory=lambda: array("q"))
    widths: array = field(default_factory=lambda: array("I"))
    masks: array = field(default_factory=lambda: array("Q"))
    longest: int = 0
    votes: int = 0  #: most (marked options + Undervotes) of a card Hart did not flag (Overvoted, InvalidVote…)
    last: int = -1

    def position(self, oid: str, oname: str | None, write_in: bool, label: str | None) -> int | None:
        """Choice position of a Hart option met for the first time; None when the fixed list does not have it."""
        if self.declared is not None and self.fixed is self.declared.choices:
            try:
                pos = self.declared.choice_index(oid)
            except KeyError:
                return None
        elif label is not None and label in (oid, oname):
            if self.uwi is None:
                self.uwi, self.uwi_id = (len(self.raw) if self.fixed is None else len(self.fixed)), oid
                if self.fixed is None:
                    self.raw.append((oid, oname))
            pos = self.uwi
        elif self.fixed is not None:
            if self.lookup is None:
                self.lookup = _rctab.candidate_lookup(self.fixed)
            pos = self.lookup.get(oid, self.lookup.get(oname or "\0"))
            if pos is None:
                return None
            self.hart_ids.setdefault(pos, oid)
            if oname and oname != self.fixed[pos].name:
                self.names.setdefault(pos, []).append(oname)
        else:
            pos = len(self.raw)
            self.raw.append((oid, oname))
        if pos >= MAX_CHOICES:
            raise ModelError(f"contest {self.name!r} has more than {MAX_CHOICES} choices")
        self.index[oid] = pos
        if write_in or (self.fixed is None and not oname):
            self.write_ins.add(pos)
        return pos

    def contest(self, o: _Options, selected: bool) -> Contest:
        """The model contest, once every card is read (its kind and ranks depend on all of them)."""
        d = self.declared
        if d is not None and (d.is_ranked or not selected):
            return d if self.fixed is d.choices else replace(d, choices=self._choices())
        ranked = selected or self.longest > 1
        ranks = (o.max_rankings or max(self.longest, 1)) if ranked else 0
        if d is not None:  # a declared plurality contest counted as ranked (contest_id), as RCTab would
            return replace(d, kind=ContestKind.RANKED, ranks=ranks, votes_allowed=1, threshold=None,
                           choices=d.choices if self.fixed is d.choices else self._choices())
        choices = self._choices()
        if ranked:
            return Contest(self.id, self.name, ContestKind.RANKED, choices, ranks=ranks)
        votes = max(self.votes, 1)
        kind = ContestKind.PLURALITY if votes == 1 else ContestKind.VOTE_FOR_N
        return Contest(self.id, self.name, kind, choices, winners=votes, votes_allowed=votes)

    def _choices(self) -> tuple[Choice, ...]:
        uwi = Choice(self.uwi_id, UWI_NAME, write_in=True, undeclared=True)
        if self.fixed is not None:
            out = []
            for pos, cand in enumerate(self.fixed):
                extra = [n for n in self.names.get(pos, ()) if n != cand.name]
                out.append(replace(cand, id=self.hart_ids.get(pos, cand.id), write_in=cand.write_in or (
                    pos in self.write_ins), aliases=tuple(dict.fromkeys((*cand.aliases, *extra)))))
            if self.uwi is not None:
                out.append(uwi)
            return tuple(out)
        out, used = [], set()
        n_write_ins = 0
        for pos, (oid, oname) in enumerate(self.raw):
            aliases = [n for n in self.names.get(pos, ()) if n != oname]
            if pos == self.uwi:
                out.append(replace(uwi, aliases=tuple(dict.fromkeys(a for a in (oname, *aliases) if a))))
                used.add(UWI_NAME)
                continue
            if oname:
                name = oname if oname not in used else f"{oname} ({oid})"
            else:  # a write-in line has no Name: "Write-in", "Write-in 2", … in order of discovery
                n_write_ins += 1
                name = "Write-in" if n_write_ins == 1 else f"Write-in {n_write_ins}"
                name = name if name not in used else f"{name} ({oid})"
            used.add(name)
            out.append(Choice(oid, name, write_in=pos in self.write_ins, aliases=tuple(dict.fromkeys(aliases))))
        return tuple(out)


def _path(k: int, j: int | None = None, leaf: str | None = None) -> str:
    """The field named in messages: ``Contests/Contest[k]/Options/Option[j]/<leaf>`` (1-based positions)."""
    out = f"Contests/Contest[{k}]"
    if j is not None:
        out += f"/Options/Option[{j}]"
    return f"{out}/{leaf}" if leaf else out


class _Reader:
    def __init__(self, o: _Options, declared: dict[str, Contest] | None) -> None:
        self.o = o
        self.declared = declared
        self.contests: dict[str, _Acc] = {}
        self.skipped: dict[str, str | None] = {}  #: contests not read (contest_id given): Id → Name
        self.ids: list[np.ndarray] = []
        self.pending: list[str] = []
        self.codes = [array("i") for _ in _ATTRS]
        self.tables: list[dict[str, int]] = [{} for _ in _ATTRS]
        self.flags: dict[str, int] = {}
        self.n = 0

    def new_contest(self, cid: str, cname: str | None, file: str, guid: str, k: int) -> _Acc:
        o, declared, fixed = self.o, None, None
        limit = o.max_rankings or _MAX_RANKS
        reason = f"the {limit} rankings allowed (max_rankings)" if o.max_rankings else f"{limit} ranks"
        if self.declared is not None:
            declared = self.declared.get(cid)
            if declared is None:
                raise UnknownIdError(f"contest Id {cid!r} ({cname!r}) is not in {CONTESTS_FILE}", file=file,
                                     record=guid, field=_path(k, leaf="Id"))
            fixed = declared.choices
            if declared.is_ranked or cid != o.contest_id:  # the declared ranks (1 for a plain contest)
                limit, reason = max(declared.ranks, 1), f"the {declared.ranks or 1} rank(s) of {CONTESTS_FILE}"
        if o.candidates is not None and cid == o.contest_id:
            fixed = o.candidates
        acc = _Acc(cid, declared.name if declared else (cname or cid), declared, fixed, limit, reason)
        self.contests[cid] = acc
        return acc

    def card(self, file: str, data: bytes) -> None:
        try:
            root = etree.fromstring(data, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise FormatError(f"malformed or truncated XML: {exc.msg}", file=file,
                              expected="a complete Hart CVR XML file") from None
        tags = _TAGS.get(root.tag)
        if tags is None:
            raise FormatError(f"not a Hart CVR: the root element is <{root.tag}>", file=file,
                              expected=f'<Cvr xmlns="{NAMESPACE}">')
        contests = guid = None
        attrs: list[str | None] = [None] * len(_ATTRS)
        for child in root:
            t = child.tag
            if t == tags.contests:
                contests = child
            elif t == tags.guid:
                guid = child.text
            elif t == tags.split:
                for part in child:
                    if part.tag == tags.name:
                        attrs[0] = part.text
                    elif part.tag == tags.id:
                        attrs[1] = part.text
            elif t == tags.batch:
                attrs[2] = child.text
            elif t == tags.device:
                attrs[3] = child.text
            elif t == _EXT:
                for part in child:
                    if part.tag in _EXT_KEYS:
                        attrs[_EXT_KEYS[part.tag]] = part.text
        if not guid or not guid.strip():
            raise FormatError("no CvrGuid", file=file, field="CvrGuid", expected="the CVR's GUID in <CvrGuid>")
        if contests is not None:
            self.marks(contests, tags, file, guid)
        for codes, table, value in zip(self.codes, self.tables, attrs):
            codes.append(-1 if value is None else table.setdefault(value, len(table)))
        self.pending.append(guid)
        if len(self.pending) >= _FLUSH:
            self.flush()
        self.n += 1

    def marks(self, contests: Any, tags: _Tags, file: str, guid: str) -> None:
        """Append each contest of one card: its card index and one mask per rank (OR of the options marked there)."""
        n, selected, label = self.n, self.o.contest_id, self.o.undeclared_write_in_label
        for k, contest in enumerate(contests, 1):
            cid = cname = options = under = flag = None
            overvoted = False
            for f in contest:
                t = f.tag
                if t == tags.id:
                    cid = f.text
                elif t == tags.name:
                    cname = f.text
                elif t == tags.options:
                    options = f
                elif t == tags.undervotes:
                    under = f.text
                elif t == tags.overvoted:
                    overvoted = True
                elif t in tags.flags:
                    flag = tags.flags[t]
            if not cid:
                raise FormatError("contest without Id", file=file, record=guid, field=_path(k, leaf="Id"),
                                  expected="the contest's GUID")
            if selected is not None and cid != selected:
                self.skipped.setdefault(cid, cname)
                continue
            if flag is not None:
                self.flags[flag] = self.flags.get(flag, 0) + 1
            acc = self.contests.get(cid) or self.new_contest(cid, cname, file, guid, k)
            if acc.last == n:
                raise FormatError(f"contest {cid} appears twice on one card", file=file, record=guid,
                                  field=_path(k, leaf="Id"), expected="each contest once per CVR")
            acc.last = n
            row: list[int] = []
            marked = 0
            for j, option in enumerate(options if options is not None else (), 1):
                oid = oname = value = None
                write_in = False
                for f in option:
                    t = f.tag
                    if t == tags.id:
                        oid = f.text
                    elif t == tags.value:
                        value = f.text
                    elif t == tags.name:
                        oname = f.text
                    elif t == tags.writein:
                        write_in = True
                if not oid:
                    raise FormatError("option without Id", file=file, record=guid, field=_path(k, j, "Id"),
                                      expected="the choice's GUID")
                pos = acc.index.get(oid)
                if pos is None:
                    pos = acc.position(oid, oname, write_in, label)
                    if pos is None:
                        raise UnknownIdError(
                            f"option {oid} ({oname!r}) of contest {acc.name!r} is not in the candidate list",
                            file=file, record=guid, field=_path(k, j, "Id"),
                            expected="a candidate name or alias: " + ", ".join(
                                repr(c.name) for c in (acc.fixed or ())[:8]))
                elif write_in and pos not in acc.write_ins:
                    acc.write_ins.add(pos)
                if oname and acc.fixed is None and oname != acc.raw[pos][1]:
                    others = acc.names.setdefault(pos, [])
                    if oname not in others:
                        others.append(oname)
                bit = 1 << pos
                if value == "1":  # the common case: a plain mark, or rank 1 of a one-rank contest
                    if row:
                        row[0] |= bit
                    else:
                        row.append(bit)
                    marked += 1
                    continue
                v = (value or "").strip()
                if not v or v.strip("01"):
                    raise FormatError(f"Value {value!r} of option {oid} in contest {acc.name!r}", file=file,
                                      record=guid, field=_path(k, j, "Value"),
                                      expected="a string of 0 and 1, one per rank (e.g. 1, or 0100 for rank 2)")
                if len(v) > acc.longest:  # the rank positions, marked or not, tell how many ranks there are
                    if len(v) > _MAX_RANKS:
                        raise FormatError(f"Value of {len(v)} positions (option {oid})", file=file, record=guid,
                                          field=_path(k, j, "Value"), expected=f"at most {_MAX_RANKS} ranks")
                    acc.longest = len(v)
                r = v.find("1")
                if r < 0:
                    continue
                marked += 1
                last = v.rfind("1") + 1  # the row only grows to the last mark: no zeros are stored
                if last > acc.limit:
                    raise FormatError(f"option {oid} of contest {acc.name!r} is ranked {last}, beyond "
                                      f"{acc.limit_reason}", file=file, record=guid, field=_path(k, j, "Value"),
                                      expected=f"ranks 1 to {acc.limit}")
                if last > len(row):
                    row.extend([0] * (last - len(row)))
                while r >= 0:
                    row[r] |= bit
                    r = v.find("1", r + 1)
            if not overvoted and flag is None:  # a flagged contest may list more marks than it allows
                try:
                    acc.votes = max(acc.votes, marked + (int(under) if under else 0))
                except ValueError:
                    raise FormatError(f"Undervotes {under!r}", file=file, record=guid,
                                      field=_path(k, leaf="Undervotes"), expected="a whole number") from None
            acc.cards.append(n)
            acc.widths.append(len(row))
            acc.masks.extend(row)
            if len(row) > acc.longest:
                acc.longest = len(row)

    def flush(self) -> None:
        if self.pending:
            self.ids.append(np.array(self.pending, dtype=STRING))
            self.pending = []

    def election(self, name: str, where: Callable[[int], str], first: str) -> Election:
        self.flush()
        n = self.n
        card_id = np.concatenate(self.ids) if self.ids else np.array([], STRING)
        dup = unique_card_check(card_id)
        if len(dup):
            a, b = (int(i) for i in dup)
            raise DuplicateCardError(f"CvrGuid {card_id[b]!s} appears twice (first in {where(a)})", file=where(b),
                                     record=str(card_id[b]), field="CvrGuid", expected="each CvrGuid once")
        o = self.o
        if o.contest_id is not None and o.contest_id not in self.contests:
            seen = ", ".join(f"{i} ({nm})" for i, nm in list(self.skipped.items())[:6])
            raise UnknownIdError(f"no CVR has contest Id {o.contest_id!r}", file=first, field="Contest/Id",
                                 expected=f"one of {seen}" if seen else "a contest GUID of the CVRs")
        accs = list(self.contests.values())
        if self.declared is not None and o.contest_id is None:  # declared contests no card has stay, in file order
            order = {cid: i for i, cid in enumerate(self.declared)}
            for cid, d in self.declared.items():
                if cid not in self.contests:
                    accs.append(_Acc(cid, d.name, d, d.choices, max(d.ranks, 1), ""))
            accs.sort(key=lambda a: order[a.id])
        contests, marks = [], []
        for acc in accs:
            contest = acc.contest(o, acc.id == o.contest_id)
            contests.append(contest)
            marks.append(_dense(acc, contest, n))
        attributes = {key: Categorical(np.frombuffer(codes, np.int32).copy(), np.array(list(table), dtype=STRING))
                      for key, codes, table in zip(_ATTRS, self.codes, self.tables) if table}
        return Election(name, tuple(contests), Cards(card_id, attributes, marks), {"format": NAME})


def _dense(acc: _Acc, contest: Contest, n: int) -> ContestMarks:
    """Occurrences (card, variable-length row of rank masks) → ``present`` and ``(n,)``/``(n, ranks)`` masks."""
    cards = np.frombuffer(acc.cards, np.int64) if len(acc.cards) else np.empty(0, np.int64)
    widths = np.frombuffer(acc.widths, np.uint32).astype(np.int64) if len(acc.widths) else np.empty(0, np.int64)
    flat = np.frombuffer(acc.masks, np.uint64) if len(acc.masks) else np.empty(0, np.uint64)
    present = np.zeros(n, bool)
    present[cards] = True
    ranks = contest.ranks or 1
    row = np.repeat(np.arange(len(cards)), widths)
    col = np.arange(len(flat)) - np.repeat(np.cumsum(widths) - widths, widths)
    keep = col < ranks  # always true (a mark beyond the ranks was an error while reading); kept as a guard
    dense = np.zeros((len(cards), ranks), contest.mask_dtype)
    dense[row[keep], col[keep]] = flat[keep].astype(contest.mask_dtype)
    masks = np.zeros((n, ranks), contest.mask_dtype)
    masks[cards] = dense
    return ContestMarks(present, masks if contest.is_ranked else masks[:, 0].copy())

