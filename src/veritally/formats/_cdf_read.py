"""NIST SP 1500-103 CDF card reading: each CVR's current snapshot as one card of the builder (see :mod:`.nist_cdf`).

One walk serves JSON and XML (both arrive as dicts and lists). Per mark it checks only what can go wrong and builds
field paths (``CVR[3].CVRSnapshot[0].CVRContest[1]…``) only for the error it raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..builder import OVERVOTE, ElectionBuilder
from ..errors import FormatError, InputError, UnknownIdError
from ..model import Cards, ContestKind, ContestMarks, Election
from ._cdf_defs import NON_RANKED, PROVISIONAL, RANKED, ContestState, Definitions, as_list, integer, uwi_bit

_RCTAB_UNSAFE = re.compile(r"[^a-zA-Z0-9_\-.]")
_IMPLICIT = {}  # a CVRContestSelection without SelectionPosition: one indicated position (RCTab reads its Rank)
_ID_KEYS = ("UniqueId", "BallotAuditId", "BallotPrePrintedId", "@id")
#: CVR fields that are card attributes as they are (CreatingDeviceId is mapped to the device's label).
_CVR_ATTRIBUTES = (("BallotStyleId", "style"), ("BatchId", "batch"), ("CreatingDeviceId", "tabulator"),
                   ("BallotAuditId", "ballot"))


class CardWalker:
    """Turns each CVR of one file into a card of the builder (marks as bit masks, attributes)."""

    def __init__(self, defs: Definitions, builder: ElectionBuilder, file: str) -> None:
        self.defs = defs
        self.builder = builder
        self.file = file
        self.stem = Path(file).name
        self.skip_unallocable = defs.options.skip_unallocable
        self.line: int | None = None  #: source line of the CVR being read (XML), for messages
        self.adjudication = 0  #: selections skipped as needs-adjudication
        self._units: dict[Any, dict[str, str | None]] = {}

    def _bad(self, record: Any, field: str, message: str, expected: str | None = None,
             kind: type[InputError] = FormatError) -> InputError:
        if self.line is not None:
            message += f" (CVR element at line {self.line})"
        return kind(message, file=self.file, record=record, field=field, expected=expected)

    def add(self, cvr: Any, n: int) -> None:
        """Add the CVR at position ``n`` (0-based) of the file as one card."""
        if cvr.__class__ is not dict:
            raise self._bad(n, f"CVR[{n}]", "the CVR is not an object", "a CVR object")
        card_id = cvr.get("UniqueId")
        if card_id.__class__ is not str or not card_id:
            card_id = next((str(cvr[k]) for k in _ID_KEYS if cvr.get(k) not in (None, "")), None)
        record = n if card_id is None else card_id
        if card_id is None:  # as RCTab names a CVR without a supplied id: file name and position
            card_id = f"{self.stem}({n + 1})"
        snaps, current = cvr.get("CVRSnapshot"), cvr.get("CurrentSnapshotId")
        if snaps.__class__ is not list or not snaps:
            raise self._bad(record, f"CVR[{n}].CVRSnapshot", "no CVRSnapshot list", "a list of CVRSnapshot objects")
        snap, k = None, 0
        if current is None:
            if len(snaps) > 1:
                raise self._bad(record, f"CVR[{n}].CurrentSnapshotId", "no CurrentSnapshotId and several snapshots",
                                "the @id of the CVRSnapshot to count")
            snap = snaps[0]
        else:
            for k, s in enumerate(snaps):
                if s.__class__ is dict and s.get("@id") == current:
                    snap = s
                    break
            else:
                ids = [s.get("@id") for s in snaps if s.__class__ is dict]
                raise self._bad(record, f"CVR[{n}].CurrentSnapshotId",
                                f"CurrentSnapshotId {current!r} names no CVRSnapshot of this CVR",
                                "one of " + ", ".join(repr(i) for i in ids))
        if snap.__class__ is not dict:
            raise self._bad(record, f"CVR[{n}].CVRSnapshot[{k}]", "the snapshot is not an object", "an object")
        marks: dict[int, Any] = {}
        items = snap.get("CVRContest")
        if items is not None:
            if items.__class__ is not list:
                raise self._bad(record, f"CVR[{n}].CVRSnapshot[{k}].CVRContest", "CVRContest is not a list",
                                "a list")
            contests, ignored = self.defs.contests, self.defs.ignored
            for j, ct in enumerate(items):
                cid = ct.get("ContestId") if ct.__class__ is dict else None
                key = cid if cid.__class__ is str else str(cid)
                entry = contests.get(key)
                if entry is None:
                    if key in ignored:
                        continue
                    if ct.__class__ is not dict:
                        raise self._bad(record, _path((n, k, j)), "not an object", "a CVRContest object")
                    raise self._bad(record, f"{_path((n, k, j))}.ContestId",
                                    f"ContestId {cid!r} is not a Contest of the Election", kind=UnknownIdError)
                state, sel_bits = entry
                if state.index in marks:
                    raise self._bad(record, f"{_path((n, k, j))}.ContestId", f"contest {cid!r} twice",
                                    "each contest once per snapshot")
                marks[state.index] = self._marks(ct, state, sel_bits, record, (n, k, j))
        unit = cvr.get("BallotStyleUnitId")
        if unit is None:
            attrs: dict[str, str | None] = {}
        else:
            found = self._units.get(unit)
            attrs = (self._unit(unit) if found is None else found).copy()
        for key, attr in _CVR_ATTRIBUTES:
            value = cvr.get(key)
            if value is not None:
                attrs[attr] = value if value.__class__ is str else str(value)
        device = attrs.get("tabulator")
        if device is not None:
            attrs["tabulator"] = self.defs.devices.get(device, device)
        self.builder.add_card(card_id, marks, attrs, n)

    def _unit(self, unit: Any) -> dict[str, str | None]:
        """Card attributes of a BallotStyleUnitId; a unit the report does not define still names the precinct (RCTab
        goes on too)."""
        found = self.defs.unit_attrs.get(str(unit)) or {"precinct": str(unit)}
        self._units[unit] = found
        return found

    def _marks(self, ct: dict, state: ContestState, sel_bits: dict[str, int], record: Any, at: tuple) -> Any:
        """The mask (or per-rank masks) of one CVRContest; ``at`` = (CVR, snapshot, contest) positions, from which
        field paths are made only for an error."""
        mode, bound, skip = state.mode, state.bound, self.skip_unallocable
        row = [0] * bound if mode else None
        mask = 0
        sels = ct.get("CVRContestSelection")
        if sels:
            if sels.__class__ is not list:
                raise self._bad(record, f"{_path(at)}.CVRContestSelection", "not a list", "a list")
            for s, sel in enumerate(sels):
                if sel.__class__ is not dict:
                    raise self._bad(record, _path(at, s), "not an object", "a CVRContestSelection object")
                if "Status" in sel and "needs-adjudication" in as_list(sel["Status"]):
                    self.adjudication += 1  # as RCTab: a selection awaiting adjudication is not counted
                    continue
                sid = sel.get("ContestSelectionId")
                bit = sel_bits.get(sid)
                if bit is None and sid is not None:
                    bit = sel_bits.get(str(sid))
                    if bit is None and (bit := self._rctab_selection(state, sel_bits, str(sid))) is None:
                        raise self._bad(record, f"{_path(at, s)}.ContestSelectionId",
                                        f"ContestSelectionId {sid!r} is not a selection of contest "
                                        f"{state.template.name!r}", kind=UnknownIdError)
                sel_rank = sel.get("Rank")
                positions = sel.get("SelectionPosition")
                if positions is None:
                    positions = (_IMPLICIT,)
                elif positions.__class__ is not list:
                    raise self._bad(record, f"{_path(at, s)}.SelectionPosition", "not a list", "a list")
                for p, pos in enumerate(positions):
                    if pos.__class__ is not dict:
                        raise self._bad(record, _path(at, s, p), "not an object",
                                        "a SelectionPosition object")
                    hi = pos.get("HasIndication")
                    if hi != "yes" and hi is not None:
                        if hi == "no":
                            continue
                        if hi != "unknown":
                            raise self._bad(record, f"{_path(at, s, p)}.HasIndication",
                                            f"HasIndication is {hi!r}", "yes, no or unknown")
                    votes = pos.get("NumberVotes")  # the votes allocated, not the mark: 0 still marks (RCTab too)
                    if votes != 1 and votes is not None and (integer(votes) is None or integer(votes) < 0):
                        raise self._bad(record, f"{_path(at, s, p)}.NumberVotes",
                                        f"NumberVotes is {votes!r}", "an integer >= 0")
                    if skip and pos.get("IsAllocable") == "no":
                        continue
                    b = bit
                    if "CVRWriteIn" in pos and pos["CVRWriteIn"] is not None:
                        if b is None or b == OVERVOTE or not self.builder.contest(state.index).choices[
                                b.bit_length() - 1].write_in:
                            b = uwi_bit(state, self.builder)
                    elif b is None:
                        raise self._bad(record, f"{_path(at, s)}.ContestSelectionId", "no ContestSelectionId",
                                        "the @id of one of the contest's selections (only a write-in may lack it)")
                    r = pos.get("Rank", sel_rank)
                    if mode:
                        if r is None:
                            if mode == RANKED:
                                raise self._bad(record, f"{_path(at, s, p)}.Rank",
                                                f"no Rank on a mark of ranked contest {state.template.name!r}",
                                                "a Rank on the SelectionPosition or the CVRContestSelection")
                            if state.first_ranked is not None:
                                raise self._mixed(state, record, _path(at, s, p))
                            state.first_unranked = state.first_unranked or f"{self.file}: {_path(at, s, p)}"
                            row[0] |= b
                            continue
                        rank = integer(r)
                        if rank is None or rank < 1 or rank > bound:
                            raise self._rank(state, record, _path(at, s, p), r, rank)
                        if mode == PROVISIONAL and state.first_ranked is None:
                            if state.first_unranked is not None:
                                raise self._mixed(state, record, _path(at, s, p))
                            state.first_ranked = f"{self.file}: {_path(at, s, p)}"
                        row[rank - 1] |= b
                        if rank > state.max_rank:
                            state.max_rank = rank
                    else:
                        if r is not None and integer(r) != 1:
                            raise self._bad(record, f"{_path(at, s, p)}.Rank",
                                            f"Rank {r!r} in contest {state.template.name!r}, whose VoteVariation is "
                                            f"not rcv", "no Rank, or VoteVariation rcv")
                        mask |= b
        if mode == RANKED:  # a contest-level overvote says no rank: the marks at each rank tell
            return row
        overvoted = False
        overvotes, status = ct.get("Overvotes"), ct.get("Status")
        if overvotes is not None and overvotes != 0:
            v = integer(overvotes)
            if v is None:
                raise self._bad(record, f"{_path(at)}.Overvotes", f"Overvotes is {overvotes!r}", "an integer")
            overvoted = v > 0
        if status is not None and "overvoted" in as_list(status):
            overvoted = True
        if mode:  # provisional: the flag counts only if the contest turns out not ranked (finish)
            if overvoted:
                state.overvoted = state.overvoted or []
                state.overvoted.append(self.builder.n_cards)
            return row
        return mask | OVERVOTE if overvoted else mask

    def _rctab_selection(self, state: ContestState, sel_bits: dict[str, int], sid: str) -> int | None:
        """RCTab's CDF export (before 1.3) refers to ``cs-<candidate code>`` for every code its CVRs used but defines
        selections only for the config's names: such an id is the choice whose name or alias gives it."""
        if not sid.startswith("cs-"):
            return None
        for b, c in enumerate(self.builder.contest(state.index).choices):
            if any(_rctab_id(x) == sid for x in (c.name, *c.aliases)):
                sel_bits[sid] = 1 << b
                return 1 << b
        return None

    def _rank(self, state: ContestState, record: Any, where: str, value: Any, rank: int | None) -> InputError:
        field = f"{where}.Rank"
        if rank is None or rank < 1:
            return self._bad(record, field, f"Rank is {value!r}", "an integer >= 1")
        why = ("maxRankingsAllowed / max_rankings" if self.defs.options.max_rankings else
               "the contest's ranks" if state.fixed_ranks else "its number of choices; give max_rankings")
        return self._bad(record, field, f"Rank {rank} exceeds the {state.bound} rankings allowed ({why})",
                         f"ranks 1 to {state.bound}")

    def _mixed(self, state: ContestState, record: Any, field: str) -> InputError:
        first = state.first_ranked or state.first_unranked
        return self._bad(record, field, f"contest {state.template.name!r} has marks with and without Rank "
                                        f"(first other at {first})", "a Rank on every mark, or on none")


def _path(at: tuple, s: int | None = None, p: int | None = None) -> str:
    """Field path of a CVRContest (``at`` = CVR, snapshot, contest positions), or of a selection or position in it."""
    n, k, j = at
    path = f"CVR[{n}].CVRSnapshot[{k}].CVRContest[{j}]"
    if s is not None:
        path += f".CVRContestSelection[{s}]"
    if p is not None:
        path += f".SelectionPosition[{p}]"
    return path


def _rctab_id(code: str) -> str:
    """The selection id RCTab's CDF export gives a candidate code."""
    return code if code.startswith("cs-") else "cs-" + _RCTAB_UNSAFE.sub("_", code).lower()


def finish(election: Election, states: Mapping[str, ContestState]) -> Election:
    """Settle ranked and provisional contests once every card is in: a provisional contest no mark ranked is not
    ranked after all (its rank-1 column is its mask); ranked ones keep ``fixed_ranks``, else the most ranks seen."""
    contests, marks = list(election.contests), list(election.cards.marks)
    for st in states.values():
        if st.mode == NON_RANKED:
            continue
        i, built, m = st.index, contests[st.index], marks[st.index]
        if st.mode == PROVISIONAL and st.first_ranked is None and not st.forced:
            contests[i] = replace(st.template, choices=built.choices)
            masks = np.ascontiguousarray(m.masks[:, 0])
            if st.overvoted:
                masks[np.array(st.overvoted, np.int64)] |= masks.dtype.type(contests[i].overvote_flag)
            marks[i] = ContestMarks(m.present, masks)
            continue
        ranks = st.fixed_ranks or max(st.max_rank, 1)
        rules = {} if st.template.is_ranked else {"kind": ContestKind.RANKED, "votes_allowed": 1, "threshold": None}
        contests[i] = replace(st.template, choices=built.choices, ranks=ranks, **rules)
        if ranks != m.masks.shape[1]:
            marks[i] = ContestMarks(m.present, np.ascontiguousarray(m.masks[:, :ranks]))
    cards = election.cards
    return Election(election.name, tuple(contests), Cards(cards.card_id, cards.attributes, marks), election.meta)
