"""Reading the sessions of Dominion CvrExport files into an :class:`~veritally.builder.ElectionBuilder`
(see :mod:`veritally.formats.dominion`).

Three ways in, one meaning:

- **msgspec** (files up to ``stream_above`` bytes, the usual case): the file is checked and cut into sessions, and
  each session is decoded into typed structs holding only the fields the reader uses just before it is read (the
  rest of the JSON is skipped instead of turned into Python objects; one session's structs at a time are in
  memory, fresh in the CPU's caches).
- **orjson**, the reference: the same file parsed into dicts and read by :meth:`SessionReader.read_dicts`, which
  checks every value it uses on the way. It runs when msgspec refuses the file (a type the structs do not
  accept, a truncated file, invalid UTF-8) and from the first session the struct loop cannot read, so every
  error message — and every file the structs are stricter about than the reader — is exactly the reference's.
- **ijson** (files above ``stream_above``): sessions streamed one by one as dicts, read by the same reference loop.

The struct loop is a copy of the reference loop on typed values; it reads a session only when the reference
would read it the same way, and otherwise stops before adding any card of that session.
"""

from __future__ import annotations

import codecs
import zipfile
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Annotated, Any

import ijson
import msgspec
import orjson

from ..builder import ElectionBuilder
from ..errors import FormatError, InputError, UnknownIdError

if TYPE_CHECKING:  # pragma: no cover
    from .dominion import _File, _Manifests

INVALID_CONTEST = 7  #: OutstackConditionManifest "InvalidContest": RCTab leaves such contests out
_SHAPES = 50_000  #: at most this many distinct contests remembered (ranked contests can have many)
try:
    _ijson = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - the C backend ships in ijson's wheels
    _ijson = ijson


# --------------------------------------------------------------------------------------------------------------------
# The typed view of a CvrExport file (msgspec skips every other field)
# --------------------------------------------------------------------------------------------------------------------
#: An integer orjson also gives as an int: it turns integers beyond 64 bits into floats (and refuses a file with
#: one beyond a float's range), so card ids and labels would read differently; msgspec's bounds stop at int64.
_Int = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
#: An id: such an integer, or a string. Anything else (a float, a bool, null where the id is required) makes
#: msgspec refuse the file, and the reference path reads it.
_Id = _Int | str


class _Mark(msgspec.Struct, frozen=True, gc=False):
    CandidateId: _Id | None = None  #: None (missing) fails the lookup: the reference path says why
    Rank: _Int | None = None  #: only read in ranked contests
    IsAmbiguous: bool | None = None


class _Contest(msgspec.Struct, frozen=True, gc=False):  # frozen, with tuples: hashable, a cache key
    Id: _Id
    OutstackConditionIds: tuple[_Int, ...] | None = None
    Marks: tuple[_Mark, ...] | None = None  #: may be missing on an InvalidContest contest, which is not read


class _Card(msgspec.Struct, gc=False):
    Id: _Id | None = None  #: only read when the session has several cards
    Contests: list[_Contest] | None = None


class _Modified(msgspec.Struct, gc=False):
    PrecinctPortionId: _Id | None = None
    PrecinctId: _Id | None = None
    BallotTypeId: _Id | None = None
    Cards: list[_Card] | None = None
    Contests: list[_Contest] | None = None  #: older layout, without Cards


class _Original(msgspec.Struct, kw_only=True, gc=False):  # fields in Dominion's order: msgspec tries that first
    PrecinctPortionId: _Id | None = None
    PrecinctId: _Id | None = None
    BallotTypeId: _Id | None = None
    IsCurrent: bool
    Cards: list[_Card] | None = None
    Contests: list[_Contest] | None = None


class _Session(msgspec.Struct, kw_only=True, gc=False):
    TabulatorId: _Id
    BatchId: _Id
    RecordId: _Id
    CountingGroupId: _Id | None = None
    Original: _Original
    Modified: _Modified | None = None


class _Export(msgspec.Struct, gc=False):
    Sessions: list[msgspec.Raw]  #: each decoded just before it is read: its structs are fresh in the CPU's caches
    ElectionId: str | None = None


_DECODER = msgspec.json.Decoder(_Export)
_SESSION = msgspec.json.Decoder(_Session)


def _utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (msgspec does not check the strings it skips; orjson refuses the file)."""
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), 1 << 20):  # in slices: no copy of the whole file as text
            decoder.decode(bytes(view[start : start + (1 << 20)]))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes) -> _Export | None:
    """The CvrExport document, its sessions still JSON (checked, not yet decoded), or None when msgspec refuses it
    (the reference path then reads the file)."""
    if not _utf8(data):
        return None
    try:
        return _DECODER.decode(data)
    except Exception:  # noqa: BLE001 - a type, a truncated file, nesting too deep: the reference path says which
        return None


# --------------------------------------------------------------------------------------------------------------------
# The reference path: dicts from orjson or ijson
# --------------------------------------------------------------------------------------------------------------------
class _Bad(Exception):
    """A value of the wrong type met on a fast path; :func:`_diagnose` names it."""


def _json_error(f: _File, exc: Exception, where: str = "") -> FormatError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FormatError(f"malformed or truncated JSON: {message}{where}", file=f.name,
                       expected="a complete CvrExport JSON file")


def _read_bytes(f: _File) -> bytes:
    try:
        with f.open() as fh:
            return fh.read()
    except (OSError, zipfile.BadZipFile) as exc:
        raise FormatError(f"unreadable file: {exc}", file=f.name) from None


def _dict_sessions(f: _File, data: bytes) -> tuple[list[dict], str | None]:
    """The sessions of one CvrExport file parsed whole with orjson, and its ElectionId."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _json_error(f, exc) from None
    sessions = doc.get("Sessions") if isinstance(doc, dict) else None
    if not isinstance(sessions, list):
        raise FormatError("no Sessions list", file=f.name, field="Sessions", expected='{"Sessions": [...]}')
    name = doc.get("ElectionId")
    return sessions, name if isinstance(name, str) else None


def _stream_sessions(f: _File) -> Iterator[dict]:
    n = 0
    try:
        with f.open() as fh:
            try:
                for session in _ijson.items(fh, "Sessions.item", use_float=True):
                    n += 1
                    yield session
                if n == 0:  # an empty list, or no "Sessions" at all?
                    fh.seek(0)
                    if not any(p == "" and e == "map_key" and v == "Sessions" for p, e, v in _ijson.parse(fh)):
                        raise FormatError("no Sessions list", file=f.name, field="Sessions",
                                          expected='{"Sessions": [...]}')
            except ijson.JSONError as exc:  # yajl does not give the offset: the buffer read so far is close
                raise _json_error(f, exc, f" after session {n}, near byte {fh.tell():,}") from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise FormatError(f"unreadable file: {exc}", file=f.name) from None


def _diagnose(s: Any, m: _Manifests, file: str, n: int, exc: BaseException) -> InputError:
    """The precise error for a session the fast path could not read: walks it again, checking every step."""
    where = f"session {n}"

    def get(obj: Any, key: str, kinds: type | tuple, path: str, optional: bool = False) -> Any:
        if not isinstance(obj, dict):
            raise FormatError(f"{path or 'session'} is not an object", file=file, record=where, field=path or None)
        if key not in obj or obj[key] is None:
            if optional:
                return None
            why = " (Original.IsCurrent is false: the adjudicated version is needed)" if key == "Modified" else ""
            raise FormatError(f"{key} is missing{why}", file=file, record=where, field=f"{path}{key}")
        value = obj[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
            raise FormatError(f"{key} is {value!r}", file=file, record=where, field=f"{path}{key}",
                              expected=getattr(kinds, "__name__", None) or " or ".join(k.__name__ for k in kinds))
        return value

    ident = (int, str)
    sid = "-".join(str(get(s, k, ident, "")) for k in ("TabulatorId", "BatchId", "RecordId"))
    where = sid
    data = get(s, "Original", dict, "")
    path = "Original."
    if not get(data, "IsCurrent", bool, path):
        data, path = get(s, "Modified", dict, ""), "Modified."
    for key in ("PrecinctPortionId", "PrecinctId", "BallotTypeId"):
        get(data, key, ident, path, optional=True)
    get(s, "CountingGroupId", ident, "", optional=True)
    cards = data.get("Cards")
    if cards is None:
        cards, paths = [data], [path]
    else:
        cards = get(data, "Cards", list, path)
        paths = [f"{path}Cards[{i}]." for i in range(len(cards))]
        if len(cards) > 1:
            for card, p in zip(cards, paths):
                get(card, "Id", ident, p)
    for card, p in zip(cards, paths):
        seen = set()
        for j, ct in enumerate(get(card, "Contests", list, p)):
            cp = f"{p}Contests[{j}]."
            cid = get(ct, "Id", ident, cp)
            info = m.contests.get(cid)
            if info is None:
                raise UnknownIdError(f"contest id {cid!r} is not in ContestManifest.json", file=file, record=sid,
                                     field=f"{cp}Id")
            if cid in seen:
                raise FormatError(f"contest {cid!r} appears twice on one card", file=file, record=sid,
                                  field=f"{cp}Id", expected="each contest once per card")
            seen.add(cid)
            if INVALID_CONTEST in (get(ct, "OutstackConditionIds", list, cp, optional=True) or ()):
                continue
            for k, mk in enumerate(get(ct, "Marks", list, cp)):
                mp = f"{cp}Marks[{k}]."
                get(mk, "IsAmbiguous", bool, mp, optional=True)
                cand = get(mk, "CandidateId", ident, mp)
                if cand not in info.bits:
                    raise UnknownIdError(f"candidate id {cand!r} is not a candidate of contest {cid!r} in "
                                         "CandidateManifest.json", file=file, record=sid, field=f"{mp}CandidateId")
                if info.ranks:
                    rank = get(mk, "Rank", int, mp)
                    if not 1 <= rank <= info.ranks:
                        raise FormatError(f"Rank {rank} is outside 1..{info.ranks} (NumOfRanks)", file=file,
                                          record=sid, field=f"{mp}Rank")
    return FormatError(f"unreadable session ({type(exc).__name__}: {exc})", file=file, record=sid)


# --------------------------------------------------------------------------------------------------------------------
# Reading sessions into the builder
# --------------------------------------------------------------------------------------------------------------------
class SessionReader:
    """Adds the cards of CvrExport files to ``builder``; counts the contests left off for InvalidContest."""

    use_msgspec = True  #: False: the reference path only (tests and the benchmark compare the two)

    def __init__(self, builder: ElectionBuilder, stream_above: int) -> None:
        self.builder = builder
        self.stream_above = stream_above
        self.invalid = 0  # contests left off cards for OutstackConditionIds 7
        self._shapes: dict[_Contest, tuple[int, Any]] = {}  # contest struct → what it adds to a card
        self._shapes_of: _Manifests | None = None  # the manifests _shapes was read with

    def read_file(self, f: _File, m: _Manifests) -> str | None:
        """Read one CvrExport file; returns its ElectionId (a string) when it has one."""
        self.builder.start_file(f.name)
        if f.size > self.stream_above:
            self.read_dicts(f.name, _stream_sessions(f), m)
            return None
        data = _read_bytes(f)
        doc = decode(data) if self.use_msgspec else None
        first, name = 1, None
        if doc is not None:
            name, sessions = doc.ElectionId, doc.Sessions
            del doc
            first = self.read_structs(f.name, sessions, m)
            del sessions
        if first:  # the reference path, from the session the structs could not read on: its error, or (where the
            # structs are stricter than the reader, e.g. a null TabulatorId) the same cards
            dicts, dict_name = _dict_sessions(f, data)
            del data  # as orjson's dicts are read, without the JSON text
            self.read_dicts(f.name, dicts, m, first)
            name = dict_name  # the same as msgspec's, when it decoded the file
        return name

    def read_dicts(self, file: str, sessions: Iterable[dict], m: _Manifests, first: int = 1) -> None:
        """The reference loop: sessions as dicts (orjson or ijson), from session number ``first`` on."""
        add, contests, attributes = self.builder.add_card, m.contests, m.attributes

        def marks_of(items: list) -> dict[int, Any]:
            out: dict[int, Any] = {}
            for ct in items:
                info = contests[ct["Id"]]
                if info.index in out:
                    raise _Bad
                if INVALID_CONTEST in (ct.get("OutstackConditionIds") or ()):
                    self.invalid += 1
                    continue
                ranks, bits = info.ranks, info.bits
                if ranks:
                    row = [0] * ranks
                    for mk in ct["Marks"]:
                        amb = mk.get("IsAmbiguous")  # missing or null: not ambiguous
                        if amb:
                            if amb is True:
                                continue
                            raise _Bad
                        r = mk["Rank"]
                        if r.__class__ is not int or r < 1 or r > ranks:
                            raise _Bad
                        row[r - 1] |= bits[mk["CandidateId"]]
                    out[info.index] = row
                else:
                    mask = 0
                    for mk in ct["Marks"]:
                        amb = mk.get("IsAmbiguous")  # missing or null: not ambiguous
                        if amb:
                            if amb is True:
                                continue
                            raise _Bad
                        mask |= bits[mk["CandidateId"]]
                    out[info.index] = mask
            return out

        n = first - 1
        s: Any = None
        try:
            for n, s in enumerate(sessions if first == 1 else islice(sessions, first - 1, None), first):
                data = s["Original"]
                current = data["IsCurrent"]
                if current is not True:
                    if current is not False:
                        raise _Bad
                    data = s["Modified"]
                tab, batch = s["TabulatorId"], s["BatchId"]
                sid = f"{tab}-{batch}-{s['RecordId']}"
                key = (tab, batch, data.get("PrecinctPortionId"), data.get("PrecinctId"), data.get("BallotTypeId"),
                       s.get("CountingGroupId"))
                attrs = attributes(key, file, sid)
                cards = data.get("Cards")
                if cards is None:  # older exports: Contests directly under Original/Modified
                    add(sid, marks_of(data["Contests"]), attrs, n)
                elif len(cards) == 1:
                    add(sid, marks_of(cards[0]["Contests"]), attrs, n)
                else:  # a ballot of several cards: one card each, grouped by the "ballot" attribute
                    ballot = {**attrs, "ballot": sid}
                    for card in cards:
                        add(f"{sid}-{card['Id']}", marks_of(card["Contests"]), ballot, n)
        except InputError:
            raise
        except (_Bad, KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            raise _diagnose(s, m, file, n, exc) from None

    def read_structs(self, file: str, sessions: list[msgspec.Raw], m: _Manifests) -> int:
        """The reference loop on msgspec structs, for speed: each session decoded (to :class:`_Session`), then
        read. Returns 0 when every session was read, else the number of the first session it could not decode or
        read (no card of it added), for the reference path to take over.

        A contest's marks are read once per distinct contest object (contest Id, outstack conditions, marks: the
        struct is frozen, so it is its own cache key); elections repeat few of them."""
        add, attributes, cached = self.builder.add_card, m.typed_attributes, m.attribute_cache.get
        session_of = _SESSION.decode
        if self._shapes_of is not m:
            self._shapes, self._shapes_of = {}, m
        shapes = self._shapes
        known = shapes.get
        table = {cid: (info.index, info.ranks, info.bits) for cid, info in m.contests.items()}
        invalid = 0

        def shape(ct: _Contest) -> tuple[int, Any]:
            """(builder contest index, mask or ranked masks, or None for an InvalidContest contest)."""
            index, ranks, bits = table[ct.Id]
            outstack = ct.OutstackConditionIds
            if outstack and INVALID_CONTEST in outstack:
                found: tuple[int, Any] = (index, None)
            elif ranks:
                row = [0] * ranks
                for mk in ct.Marks:  # type: ignore[union-attr]  # None: TypeError, the reference says why
                    if mk.IsAmbiguous:  # True (a bool or None here)
                        continue
                    r = mk.Rank
                    if not 0 < r <= ranks:  # type: ignore[operator]  # None: TypeError
                        raise _Bad
                    row[r - 1] |= bits[mk.CandidateId]  # type: ignore[operator]
                found = (index, tuple(row))
            else:
                mask = 0
                for mk in ct.Marks:  # type: ignore[union-attr]
                    if not mk.IsAmbiguous:
                        mask |= bits[mk.CandidateId]
                found = (index, mask)
            if len(shapes) >= _SHAPES:
                shapes.clear()
            shapes[ct] = found
            return found

        def marks_of(items: list[_Contest]) -> dict[int, Any]:
            nonlocal invalid
            out: dict[int, Any] = {}
            for ct in items:
                index, value = known(ct) or shape(ct)
                if index in out:
                    raise _Bad
                if value is None:
                    invalid += 1
                else:
                    out[index] = value
            return out

        n = before = 0
        try:
            for n, raw in enumerate(sessions, 1):
                before = invalid
                s = session_of(raw)  # here, not in the for: an error then stops at this session, n
                data: Any = s.Original
                if not data.IsCurrent:
                    data = s.Modified  # None (no Modified): AttributeError below
                tab, batch = s.TabulatorId, s.BatchId
                sid = f"{tab}-{batch}-{s.RecordId}"
                key = (tab, batch, data.PrecinctPortionId, data.PrecinctId, data.BallotTypeId, s.CountingGroupId)
                attrs = cached(key) or attributes(key, file, sid)
                cards = data.Cards
                if cards is None or len(cards) == 1:  # one card (older exports: Contests under Original/Modified)
                    out = {}  # marks_of, inlined for the usual case
                    for ct in (data.Contests if cards is None else cards[0].Contests):  # type: ignore[union-attr]
                        index, value = known(ct) or shape(ct)
                        if index in out:
                            raise _Bad
                        if value is None:
                            invalid += 1
                        else:
                            out[index] = value
                    add(sid, out, attrs, n)
                else:  # a ballot of several cards: every card read before any is added
                    read = []
                    for card in cards:
                        if card.Id is None:  # missing or null: the reference tells them apart
                            raise _Bad
                        read.append((f"{sid}-{card.Id}", marks_of(card.Contests)))  # type: ignore[arg-type]
                    ballot = {**attrs, "ballot": sid}
                    for card_id, marks in read:
                        add(card_id, marks, ballot, n)
        except Exception:  # noqa: BLE001 - whatever it is, the reference path reads this session again
            self.invalid += before
            return n
        self.invalid += invalid
        return 0
