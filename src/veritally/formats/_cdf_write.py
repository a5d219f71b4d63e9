"""NIST CDF JSON writer (see :func:`veritally.formats.nist_cdf.write`).

The report's definitions (Election, GpUnit, Party, ReportingDevice) come first and the ``CVR`` list last, so a
streaming reader has them before the first CVR. Every definition is built from standard fields, then read back
with the reader's own inference (:mod:`._cdf_read`); whatever differs from the model goes in a ``Code`` entry of
``OtherType`` ``veritally`` whose ``Value`` is a small JSON object. Cards are serialized in chunks: the
``CVRContest`` objects are cached per distinct mask (ranking pattern for ranked contests), so a chunk costs one
small dict per card plus the contests that card holds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson

from .. import __version__
from .._io import atomic_path
from ..model import Choice, Contest, Election
from ._cdf_defs import EXT, VARIATION, choice_from_cdf, rules_from_cdf, unit_labels

#: A mark. IsAllocable (a tabulator's verdict, which the model does not hold) is left out: optional, and ~10 % of the
#: file when written "unknown" on every mark.
_POSITION = {"@type": "CVR.SelectionPosition", "HasIndication": "yes", "NumberVotes": 1}
_CACHE_LIMIT = 20_000  #: CVRContest objects kept per contest (distinct masks); cleared beyond


class _Ids:
    """Document-unique ``@id`` values: the wanted one when free, else ``<wanted>~<n>``."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def take(self, want: str) -> str:
        got, n = want, 1
        while got in self.taken:
            n += 1
            got = f"{want}~{n}"
        self.taken.add(got)
        return got


def _ext_code(ext: dict) -> dict:
    return {"@type": "CVR.Code", "Type": "other", "OtherType": EXT, "Value": orjson.dumps(ext).decode()}


def _with_ext(obj: dict, ext: dict) -> dict:
    if ext:
        obj["Code"] = [*obj.get("Code", ()), _ext_code(ext)]
    return obj


def _bit_lister(n: int) -> Callable[[int], list[int]]:
    """mask → its set bits below ``n``, memoized (masks repeat: a contest has few distinct ones per rank)."""
    memo: dict[int, list[int]] = {}

    def bits(mask: int) -> list[int]:
        found = memo.get(mask)
        if found is None:
            found = memo[mask] = [b for b in range(n) if mask >> b & 1]
        return found

    return bits


class _Definitions:
    """The Election part of the report and the ids the CVRs refer to."""

    def __init__(self, election: Election) -> None:
        ids = _Ids()
        contests = election.contests
        # model ids first, so that they stay as they are; generated ids give way
        self.contest_ids = [ids.take(c.id) for c in contests]
        self.selection_ids = [[ids.take(ch.id) for ch in c.choices] for c in contests]
        tabulators = election.cards.attribute("tabulator").labels.tolist()
        self.device_ids = [ids.take(label) for label in tabulators]
        self.election_id, scope_id, self.veritally_id = ids.take("election"), ids.take("scope"), ids.take("veritally")
        parties = list(dict.fromkeys(ch.party for c in contests for ch in c.choices if ch.party is not None))
        party_ids = {p: ids.take(f"party-{k + 1}") for k, p in enumerate(parties)}
        self.parties = [{"@id": party_ids[p], "@type": "CVR.Party", "Name": p} for p in parties]
        party_objs = {party_ids[p]: {"Name": p} for p in parties}
        self.candidates: list[dict] = []
        self.overvote_ids: list[str | None] = []
        overvote_candidate = None
        contest_objs = []
        for i, (c, marks) in enumerate(zip(contests, election.cards.marks)):
            sels = [self._selection(ch, self.selection_ids[i][j], ids, party_ids, party_objs)
                    for j, ch in enumerate(c.choices)]
            flagged = c.is_ranked and bool(np.any(marks.masks[marks.present] & marks.masks.dtype.type(c.overvote_flag)))
            if flagged:  # RCTab's way: an "overvote" candidate at the rank (the non-ranked way, Status, has no rank)
                if overvote_candidate is None:
                    overvote_candidate = ids.take("overvote")
                    self.candidates.append({"@id": overvote_candidate, "@type": "CVR.Candidate", "Name": "overvote"})
                ov = ids.take(f"{self.contest_ids[i]}-overvote")
                sels.append(_with_ext({"@id": ov, "@type": "CVR.CandidateSelection",
                                       "CandidateIds": [overvote_candidate]}, {"overvote": True}))
                self.overvote_ids.append(ov)
            else:
                self.overvote_ids.append(None)
            contest_objs.append(self._contest(c, self.contest_ids[i], sels))
        self.election = {"@id": self.election_id, "@type": "CVR.Election", "Candidate": self.candidates,
                         "Contest": contest_objs, "ElectionScopeId": scope_id, "Name": election.name}
        self.devices = [{"@id": self.veritally_id, "@type": "CVR.ReportingDevice", "Application": "Veritally",
                         "Manufacturer": "Veritally", "Model": __version__}]
        for label, did in zip(tabulators, self.device_ids):
            self.devices.append(_with_ext({"@id": did, "@type": "CVR.ReportingDevice"},
                                          {} if did == label else {"label": label}))
        self.units = [{"@id": scope_id, "@type": "CVR.GpUnit", "Name": election.name, "OtherType": "election-scope",
                       "Type": "other"}]
        self.unit_of, self.unit_ids = self._card_units(election, ids)

    def _selection(self, ch: Choice, sid: str, ids: _Ids, party_ids: dict, party_objs: dict) -> dict:
        cand = {"@id": ids.take(f"cand-{sid}"), "@type": "CVR.Candidate", "Name": ch.name}
        if ch.aliases:
            cand["Code"] = [{"@type": "CVR.Code", "Type": "other", "OtherType": "alias", "Value": a}
                            for a in ch.aliases]
        if ch.party is not None:
            cand["PartyId"] = party_ids[ch.party]
        self.candidates.append(cand)
        sel = {"@id": sid, "@type": "CVR.CandidateSelection", "CandidateIds": [cand["@id"]]}
        if ch.write_in:
            sel["IsWriteIn"] = True
        inferred = choice_from_cdf(sel, {cand["@id"]: cand}, party_objs)
        model = {"id": ch.id, "name": ch.name, "write_in": ch.write_in, "undeclared": ch.undeclared,
                 "aliases": tuple(ch.aliases), "party": ch.party}
        ext = {k: (list(v) if k == "aliases" else v) for k, v in model.items() if inferred[k] != v}
        return _with_ext(sel, ext)

    @staticmethod
    def _contest(c: Contest, cid: str, sels: list[dict]) -> dict:
        obj = {"@id": cid, "@type": "CVR.CandidateContest", "ContestSelection": sels, "Name": c.name,
               "NumberElected": c.winners, "VoteVariation": VARIATION[c.kind], "VotesAllowed": c.votes_allowed}
        inferred = rules_from_cdf(obj, len(c.choices))
        ext: dict[str, Any] = {k: getattr(c, k) for k in ("winners", "votes_allowed", "threshold", "district")
                               if inferred[k] != getattr(c, k)}
        if inferred["kind"] is not c.kind:
            ext["kind"] = str(c.kind)
        if c.is_ranked:
            ext["ranks"] = c.ranks
        if cid != c.id:
            ext["id"] = c.id
        return _with_ext(obj, ext)

    def _card_units(self, election: Election, ids: _Ids) -> tuple[np.ndarray, list[str | None]]:
        """One GpUnit per distinct (precinct, precinct_portion, counting_group) of the cards, and each card's."""
        cards = election.cards
        keys = ("precinct", "precinct_portion", "counting_group")
        if not any(k in cards.attributes for k in keys):
            return np.full(len(cards), -1, np.int64), []
        cols = [cards.attribute(k) for k in keys]
        combos, inverse = np.unique(np.stack([c.codes for c in cols], axis=1), axis=0, return_inverse=True)
        labels = [c.labels.tolist() for c in cols]
        unit_ids: list[str | None] = []
        for n, combo in enumerate(combos.tolist(), 1):
            if all(code < 0 for code in combo):
                unit_ids.append(None)
                continue
            precinct, portion, group = (None if code < 0 else labels[j][code] for j, code in enumerate(combo))
            unit = {"@id": ids.take(f"gpu-{n}"), "@type": "CVR.GpUnit",
                    "Type": "split-precinct" if portion is not None else "precinct"}
            if precinct is not None:
                unit["Name"] = precinct
            inferred = unit_labels(unit)
            want = {"precinct": precinct, "precinct_portion": portion, "counting_group": group}
            self.units.append(_with_ext(unit, {k: v for k, v in want.items() if inferred[k] != v}))
            unit_ids.append(unit["@id"])
        return inverse.reshape(-1), unit_ids


def _contest_maker(c: Contest, cid: str, sel_ids: list[str], overvote_id: str | None) -> Callable[[Any], dict]:
    """Builds the CVRContest object of one mask (non-ranked) or one tuple of per-rank masks (ranked)."""
    flag = c.overvote_flag
    bits = _bit_lister(len(c.choices))

    def selection(sid: str, positions: list[dict]) -> dict:
        return {"@type": "CVR.CVRContestSelection", "ContestSelectionId": sid, "SelectionPosition": positions}

    if not c.is_ranked:
        def plain(mask: int) -> dict:
            obj = {"@type": "CVR.CVRContest", "ContestId": cid,
                   "CVRContestSelection": [selection(sel_ids[b], [_POSITION]) for b in bits(mask)]}
            if mask & flag:  # the source said "overvote" without naming the choices
                obj["Overvotes"] = c.votes_allowed
                obj["Status"] = ["overvoted"]
            return obj

        return plain
    ranked_positions = [{**_POSITION, "Rank": r} for r in range(1, c.ranks + 1)]

    def ranked(row: tuple[int, ...]) -> dict:
        by_choice: dict[str, list[dict]] = {}
        for r, mask in enumerate(row):
            for b in bits(mask):
                by_choice.setdefault(sel_ids[b], []).append(ranked_positions[r])
            if mask & flag:
                by_choice.setdefault(overvote_id, []).append(ranked_positions[r])  # type: ignore[arg-type]
        return {"@type": "CVR.CVRContest", "ContestId": cid,
                "CVRContestSelection": [selection(sid, pos) for sid, pos in by_choice.items()]}

    return ranked


def _labels(election: Election, key: str, start: int, end: int) -> list[str | None]:
    col = election.cards.attribute(key)
    labels = col.labels.tolist()
    return [None if code < 0 else labels[code] for code in col.codes[start:end].tolist()]


def write_report(election: Election, out: Path, chunk_size: int) -> Path:
    """Write the report to ``out`` atomically; returns ``out``."""
    d = _Definitions(election)
    header = {"@type": "CVR.CastVoteRecordReport", "Election": [d.election],
              "GeneratedDate": datetime.now(timezone.utc).isoformat(timespec="seconds"), "GpUnit": d.units}
    if d.parties:
        header["Party"] = d.parties
    header.update({"ReportGeneratingDeviceIds": [d.veritally_id], "ReportingDevice": d.devices, "Version": "1.0.0"})
    contests = election.contests
    makers = [_contest_maker(c, d.contest_ids[i], d.selection_ids[i], d.overvote_ids[i]) for i, c in
              enumerate(contests)]
    caches: list[dict] = [{} for _ in contests]
    ranked = [c.is_ranked for c in contests]
    eid = d.election_id
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        fh.write(orjson.dumps(header)[:-1] + b',"CVR":[')
        for start in range(0, election.n_cards, chunk_size):
            end = min(start + chunk_size, election.n_cards)
            columns = []
            for j, m in enumerate(election.cards.marks):
                if len(caches[j]) > _CACHE_LIMIT:
                    caches[j].clear()
                columns.append((m.present[start:end].tolist(), m.masks[start:end].tolist(), caches[j], makers[j],
                                ranked[j]))
            ids = election.cards.card_id[start:end].tolist()
            style, batch, ballot = (_labels(election, k, start, end) for k in ("style", "batch", "ballot"))
            tab = election.cards.attribute("tabulator").codes[start:end].tolist()
            units = d.unit_of[start:end].tolist()
            cvrs = []
            for i, card_id in enumerate(ids):
                cts = []
                for present, masks, cache, make, is_ranked in columns:
                    if present[i]:
                        key = tuple(masks[i]) if is_ranked else masks[i]
                        obj = cache.get(key)
                        if obj is None:
                            obj = cache[key] = make(key)
                        cts.append(obj)
                cvr: dict[str, Any] = {"@type": "CVR.CVR"}
                if ballot[i] is not None:
                    cvr["BallotAuditId"] = ballot[i]
                if style[i] is not None:
                    cvr["BallotStyleId"] = style[i]
                unit = d.unit_ids[units[i]] if units[i] >= 0 else None
                if unit is not None:
                    cvr["BallotStyleUnitId"] = unit
                if batch[i] is not None:
                    cvr["BatchId"] = batch[i]
                if tab[i] >= 0:
                    cvr["CreatingDeviceId"] = d.device_ids[tab[i]]
                sid = f"s{start + i}"
                cvr["CVRSnapshot"] = [{"@id": sid, "@type": "CVR.CVRSnapshot", "CVRContest": cts, "Type": "original"}]
                cvr["CurrentSnapshotId"] = sid
                cvr["ElectionId"] = eid
                cvr["UniqueId"] = card_id
                cvrs.append(cvr)
            if start:
                fh.write(b",")
            fh.write(orjson.dumps(cvrs)[1:-1])
        fh.write(b"]}")
    return out
