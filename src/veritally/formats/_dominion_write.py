"""Writing Dominion CVR exports (see :func:`veritally.formats.dominion.write`).

The layout is Democracy Suite 5.10's: sessions with ``Cards``, manifests ``{"Version", "List"}``. Everything a
reader needs to give the election back unchanged is there; what Dominion's manifests cannot say (contest rules
besides VoteFor/NumOfRanks, non-integer ids, batch labels) goes in documented Veritally extensions.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from ..errors import ConfigError
from ..model import Contest, ContestKind, Election
from .dominion import _BATCH_MANIFEST, _EXT, _choice_from_entry, _contest_from_entry

_WRITE_VERSION = "5.10.50.85"  #: the layout written: sessions with Cards, as Democracy Suite 5.10 exports
_DOMINION_CARD_ID = re.compile(r"(\d+)-(\d+)-(\d+)(?:-(\d+))?")
_SESSION_ATTRS = ("tabulator", "batch", "precinct", "precinct_portion", "style", "counting_group")
_OUTSTACK = [("Ambiguous", 0), ("Writein", 1), ("BlankBallot", 2), ("Undervote", 4), ("Overvote", 5),
             ("BlankContest", 6), ("InvalidContest", 7), ("OvervotedRanking", 9), ("InconsistentRcvOrdering", 10),
             ("SkippedRanking", 11), ("DuplicatedRcvCandidate", 12), ("UnvotedRcvContest", 13),
             ("UnusedRanking", 14)]


def _numeric_ids(ids: list[str]) -> list[int]:
    """The ids as Dominion integers when they already are distinct integers, else 1, 2, 3…"""
    if all(i.isdecimal() and str(int(i)) == i for i in ids) and len(set(ids)) == len(ids):
        return [int(i) for i in ids]
    return list(range(1, len(ids) + 1))


def _ext(actual: Any, derived: Any) -> dict | None:
    """The fields of ``actual`` that reading the Dominion entry would not give back (the Veritally extension)."""
    out = {}
    for f in fields(actual):
        if f.name != "choices" and getattr(actual, f.name) != getattr(derived, f.name):
            value = getattr(actual, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else str(value) if f.name == "kind" else value
    return out or None


def _entry(items: list[dict], base: dict, ext: dict | None) -> None:
    if ext:
        base[_EXT] = ext
    items.append(base)


def _contest_manifests(election: Election) -> tuple[dict[str, list[dict]], list[int], list[list[int]]]:
    """Contest, candidate, party and district manifests; Dominion ids of the contests and of their choices."""
    contest_ids = _numeric_ids([c.id for c in election.contests])
    choice_ids_flat = _numeric_ids([ch.id for c in election.contests for ch in c.choices])
    parties = {p: i for i, p in enumerate(dict.fromkeys(ch.party for c in election.contests for ch in c.choices
                                                         if ch.party), 1)}
    districts = {d: i for i, d in enumerate(dict.fromkeys(c.district for c in election.contests if c.district), 1)}
    party_labels = {i: p for p, i in parties.items()}
    contest_items: list[dict] = []
    candidate_items: list[dict] = []
    choice_ids: list[list[int]] = []
    k = 0
    for contest, cid in zip(election.contests, contest_ids):
        ids = choice_ids_flat[k : k + len(contest.choices)]
        k += len(contest.choices)
        choice_ids.append(ids)
        for choice, chid in zip(contest.choices, ids):
            kind = ("WriteIn" if choice.undeclared else "QualifiedWriteIn") if choice.write_in else "Regular"
            base = {"Description": choice.name, "Id": chid, "ExternalId": "", "ContestId": cid, "Type": kind,
                    "Disabled": 0}
            if choice.party:
                base["Affiliations"] = [parties[choice.party]]
            _entry(candidate_items, base, _ext(choice, _choice_from_entry(base, party_labels)))
        base = {"Description": contest.name, "Id": cid, "ExternalId": "", "VoteFor": contest.winners or 1,
                "NumOfRanks": contest.ranks, "Disabled": 0}
        if contest.kind is ContestKind.VOTE_FOR_N or contest.kind is ContestKind.APPROVAL:
            base["VoteFor"] = contest.votes_allowed
        if contest.district:
            base["DistrictId"] = districts[contest.district]
        derived = _contest_from_entry(base, contest.choices, {i: d for d, i in districts.items()})
        _entry(contest_items, base, _ext(contest, derived))
    return {
        "ContestManifest.json": contest_items,
        "CandidateManifest.json": candidate_items,
        "PartyManifest.json": [{"Description": p, "Id": i, "ExternalId": ""} for p, i in parties.items()],
        "DistrictManifest.json": [{"Description": d, "Id": i, "ExternalId": ""} for d, i in districts.items()],
    }, contest_ids, choice_ids


@dataclass
class _Session:
    tab: int
    batch: int
    record: int
    cards: list[int]  #: card positions
    card_ids: list[int]  #: Dominion card Id of each


def _sessions_from_ids(ids: list[str], attrs: list[tuple]) -> list[_Session] | None:
    """Sessions taken from Dominion-style card ids (T-B-R or T-B-R-C), when reading them back gives the same ids."""
    sessions: list[_Session] = []
    seen: set[tuple] = set()
    prev = None
    for i, card_id in enumerate(ids):
        m = _DOMINION_CARD_ID.fullmatch(card_id)
        if m is None:
            return None
        key = (int(m[1]), int(m[2]), int(m[3]))
        if f"{key[0]}-{key[1]}-{key[2]}" + (f"-{int(m[4])}" if m[4] else "") != card_id:
            return None  # leading zeros would not come back
        if key != prev:
            if key in seen:
                return None
            seen.add(key)
            sessions.append(_Session(*key, [], []))
            prev = key
        s = sessions[-1]
        if s.cards and attrs[s.cards[0]] != attrs[i]:
            return None  # tabulator, batch, precinct, style, counting group belong to the session
        s.cards.append(i)
        s.card_ids.append(int(m[4]) if m[4] else -1)
    labels: dict[Any, Any] = {}
    for s in sessions:
        if (s.card_ids[0] != -1) if len(s.cards) == 1 else (-1 in s.card_ids):
            return None  # the reader suffixes the card Id exactly when a session has several cards
        a = attrs[s.cards[0]]
        if labels.setdefault(s.tab, a[0]) != a[0] or labels.setdefault((s.tab, s.batch), a[1]) != a[1]:
            return None  # one label per tabulator id and per batch
    number = max((c for s in sessions for c in s.card_ids), default=0)
    for s in sessions:
        if s.card_ids == [-1]:  # one-card sessions: any unused card Id
            number += 1
            s.card_ids = [number]
    return sessions


def _new_sessions(attrs: list[tuple], ballots: list[str | None]) -> list[_Session]:
    """Sessions numbered afresh: consecutive cards of one ``ballot`` form one session, others one card each."""
    tabs: dict[Any, int] = {}
    batches: dict[tuple, int] = {}
    next_batch: dict[int, int] = {}
    next_record: dict[tuple, int] = {}
    sessions: list[_Session] = []
    for i, (a, ballot) in enumerate(zip(attrs, ballots)):
        if ballot is not None and i and ballot == ballots[i - 1] and a == attrs[i - 1]:
            sessions[-1].cards.append(i)
            continue
        t = tabs.setdefault(a[0], len(tabs) + 1)
        b = batches.get((t, a[1]))
        if b is None:
            b = batches[(t, a[1])] = next_batch[t] = next_batch.get(t, 0) + 1
        r = next_record[(t, b)] = next_record.get((t, b), 0) + 1
        sessions.append(_Session(t, b, r, [i], []))
    number = 0
    for s in sessions:
        s.card_ids = list(range(number + 1, number + len(s.cards) + 1))
        number += len(s.cards)
    return sessions


class _Marks:
    """Dominion contest objects for each mask (cached: real elections repeat few patterns)."""

    def __init__(self, contest: Contest, dominion_id: int, choice_ids: list[int]) -> None:
        self.contest, self.id, self.choice_ids = contest, dominion_id, choice_ids
        self.cache: dict[Any, dict] = {}

    def _mark(self, bit: int, rank: int, vote: bool, outstack: list[int]) -> dict:
        return {"CandidateId": self.choice_ids[bit], "PartyId": 0, "Rank": rank, "MarkDensity": 100,
                "IsAmbiguous": False, "IsVote": vote, "OutstackConditionIds": outstack}

    def _bits(self, mask: int) -> list[int]:
        return [b for b in range(len(self.contest.choices)) if mask >> b & 1]

    def entry(self, mask: Any) -> dict:
        found = self.cache.get(mask)
        if found is not None:
            return found
        c = self.contest
        if c.ranks:
            marks, over = [], 0
            for r, m in enumerate(mask, 1):
                bits = self._bits(m)
                over |= len(bits) > 1
                marks += [self._mark(b, r, True, [9] if len(bits) > 1 else []) for b in bits]
            entry = {"Id": self.id, "Undervotes": int(not marks), "Overvotes": over,
                     "OutstackConditionIds": [] if marks else [13], "Marks": marks}
        else:
            bits = self._bits(mask)
            over = len(bits) > c.votes_allowed
            under = 0 if over else c.votes_allowed - len(bits)
            outstack = [5] if over else [4, 6] if not bits else [4] if under else []
            entry = {"Id": self.id, "Undervotes": under, "Overvotes": c.votes_allowed if over else 0,
                     "OutstackConditionIds": outstack,
                     "Marks": [self._mark(b, 1, not over, [5] if over else []) for b in bits]}
        self.cache[mask] = entry
        return entry


def _check_writable(election: Election) -> None:
    for contest, marks in zip(election.contests, election.cards.marks):
        flagged = (marks.masks & contest.overvote_flag) != 0
        if flagged.ndim == 2:
            flagged = flagged.any(axis=1)
        if flagged.any():
            i = int(flagged.argmax())
            raise ConfigError(f"card {election.cards.card_id[i]!s}, contest {contest.name!r}: an overvote without "
                              "the choices marked cannot be written as Dominion CVRs (they name every marked "
                              "choice); write Parquet or ES&S instead")


@contextmanager
def _atomic_dir(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``, renamed to ``out`` when the block succeeds (an old export is replaced)."""
    if out.exists() and not (out.is_dir() and all(p.is_file() and p.suffix == ".json" for p in out.iterdir())):
        raise ConfigError(f"{out} exists and is not a CVR export folder (only .json files); choose another output")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        yield tmp
        tmp.chmod(0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _export_files(election: Election, chunk_size: int) -> Iterator[tuple[str, bytes]]:
    """(file name, JSON bytes) of every file of the export."""
    _check_writable(election)
    cards = election.cards
    n = len(cards)

    def doc(items: list[dict]) -> bytes:
        return orjson.dumps({"Version": _WRITE_VERSION, "List": items})

    manifests, contest_ids, choice_ids = _contest_manifests(election)
    columns = [cards.attribute(a).values() for a in _SESSION_ATTRS]
    attrs = list(zip(*columns)) if n else []
    sessions = _sessions_from_ids(cards.card_id.tolist(), attrs) if n else []
    if sessions is None:
        sessions = _new_sessions(attrs, cards.attribute("ballot").values())

    tabulators: dict[int, str | None] = {}
    batches: dict[tuple[int, int], str | None] = {}
    precincts: dict[str, int] = {}
    portions: dict[tuple, int] = {}
    styles: dict[str, int] = {}
    groups: dict[str, int] = {}
    session_ids = []  # (PrecinctPortionId, BallotTypeId, CountingGroupId) per session
    for s in sessions:
        tab, batch, precinct, portion, style, group = attrs[s.cards[0]]
        tabulators.setdefault(s.tab, tab)
        batches.setdefault((s.tab, s.batch), batch)
        pid = None if precinct is None else precincts.setdefault(precinct, len(precincts) + 1)
        ppid = None if pid is None and portion is None else portions.setdefault((pid, portion), len(portions) + 1)
        session_ids.append((ppid, None if style is None else styles.setdefault(style, len(styles) + 1),
                            None if group is None else groups.setdefault(group, len(groups) + 1)))

    def listed(table: dict[str, int]) -> list[dict]:
        return [{"Description": label, "Id": i, "ExternalId": ""} for label, i in table.items()]

    manifests["TabulatorManifest.json"] = [
        {"Description": label or "", "Id": t, "VotingLocationNumber": 0, "VotingLocationName": "", "ExternalId": "",
         "Type": "ImagecastCentral"} for t, label in tabulators.items()]
    manifests["PrecinctManifest.json"] = listed(precincts)
    manifests["PrecinctPortionManifest.json"] = [
        {"Description": portion or "", "Id": i, "ExternalId": "", "PrecinctId": pid}
        for (pid, portion), i in portions.items()]
    manifests["BallotTypeManifest.json"] = listed(styles)
    manifests["CountingGroupManifest.json"] = listed(groups)
    manifests["ElectionEventManifest.json"] = [{"Description": election.name, "Id": 1, "ExternalId": ""}]
    manifests["OutstackConditionManifest.json"] = [{"Description": d, "Id": i} for d, i in _OUTSTACK]
    style_codes = cards.attribute("style").codes
    style_labels = cards.attribute("style").labels.tolist()
    manifests["BallotTypeContestManifest.json"] = [
        {"BallotTypeId": styles[style_labels[code]], "ContestId": cid}
        for m, cid in zip(cards.marks, contest_ids) for code in sorted(set(style_codes[m.present].tolist()))
        if code >= 0]
    extra = [{"TabulatorId": t, "BatchId": b, "Description": label or ""}
             for (t, b), label in batches.items() if label != f"{t}-{b}"]
    if extra:  # batch labels Dominion's own "<TabulatorId>-<BatchId>" would not give back
        manifests[_BATCH_MANIFEST] = extra
    for name, items in manifests.items():
        yield name, doc(items)

    # sessions, in files of chunk_size sessions
    makers = [_Marks(c, cid, ids) for c, cid, ids in zip(election.contests, contest_ids, choice_ids)]
    present = [m.present.tolist() for m in cards.marks]
    masks = [list(map(tuple, m.masks.tolist())) if c.ranks else m.masks.tolist()
             for c, m in zip(election.contests, cards.marks)]
    order = range(len(makers))
    files = max(1, -(-len(sessions) // chunk_size))
    for number, start in enumerate(range(0, max(len(sessions), 1), chunk_size), 1):
        chunk = []
        for s, (ppid, btid, cgid) in zip(sessions[start : start + chunk_size],
                                         session_ids[start : start + chunk_size]):
            card_list = [{"Id": cid, "KeyInId": cid, "PaperIndex": k,
                          "Contests": [makers[j].entry(masks[j][i]) for j in order if present[j][i]]}
                         for k, (i, cid) in enumerate(zip(s.cards, s.card_ids))]
            chunk.append({"TabulatorId": s.tab, "BatchId": s.batch, "RecordId": s.record, "CountingGroupId": cgid,
                          "ImageMask": "", "SessionType": "ScannedVote", "VotingSessionIdentifier": "",
                          "UniqueVotingIdentifier": "",
                          "Original": {"PrecinctPortionId": ppid, "BallotTypeId": btid, "IsCurrent": True,
                                       "Cards": card_list}})
        name = "CvrExport.json" if files == 1 else f"CvrExport_{number}.json"
        yield name, orjson.dumps({"Version": _WRITE_VERSION, "ElectionId": election.name, "Sessions": chunk})
