"""Dominion Democracy Suite cast vote record export (``CvrExport*.json`` + manifests), read and written.

An export is a folder (or a zip of one) holding ``CvrExport.json`` or ``CvrExport_<n>.json`` files and manifests
``{"Version": …, "List": [...]}`` (docs/formats/dominion.md). The reader follows RCTab's ``DominionCvrReader``:
``Modified`` replaces ``Original`` when ``Original.IsCurrent`` is false; marks with ``IsAmbiguous`` are dropped;
several marks at one rank are an overvote whose choices are known (several bits); a contest whose
``OutstackConditionIds`` holds 7 (InvalidContest) is left off the card, as RCTab does. Card id =
``TabulatorId-BatchId-RecordId``, plus ``-<card Id>`` when a session (ballot) has several cards.

Each CvrExport file is parsed on its own: when it is at most ``stream_above`` bytes, read whole and decoded with
msgspec, one session at a time, into typed structs of only the fields read (fast; orjson and the checking loop
take over to name what msgspec refuses), else streamed session by session with ijson, so memory grows with the
columnar cards, not with the JSON text. Sessions are read in ``_dominion_read.py``.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import orjson

from .._io import atomic_path, paused_gc
from ..builder import ElectionBuilder
from ..errors import ConfigError, FormatError, InputError, ModelError, UnknownIdError
from ..model import Choice, Contest, ContestKind, Election
from ._dominion_read import SessionReader

NAME = "dominion"
DESCRIPTION = "Dominion Democracy Suite CVR export (CvrExport*.json and manifests; folder or zip)"

_CVR_NAME = re.compile(r"CvrExport(?:_(\d+))?\.json\Z")
_EXT = "Veritally"  #: key of the optional extension object in manifest entries written by Veritally
_BATCH_MANIFEST = "VeritallyBatchManifest.json"  #: batch labels of exports written by Veritally (not Dominion's)
_STREAM_ABOVE = 32 << 20


# --------------------------------------------------------------------------------------------------------------------
# Where the files are: folders, zips, explicit CvrExport files
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class _File:
    name: str  #: shown in messages (path, or zip path + member)
    size: int
    open: Callable[[], BinaryIO]


@dataclass
class _Export:
    """One export root: its manifests and its CvrExport files (sorted by number)."""

    name: str
    manifests: dict[str, _File]
    cvrs: list[_File]
    version: str | None = None  #: Democracy Suite version, from the first manifest read


def _cvr_order(name: str) -> tuple[int, str]:
    m = _CVR_NAME.match(name)
    return (int(m.group(1)) if m and m.group(1) else -1, name)


def _check_cvrs(root: str, cvrs: list[_File], names: list[str]) -> list[_File]:
    if not cvrs:
        raise FormatError("no CvrExport.json or CvrExport_<n>.json in the export", file=root,
                          expected="a Dominion CVR export folder or zip")
    if "CvrExport.json" in names and len(cvrs) > 1:
        raise FormatError("the export holds both CvrExport.json and CvrExport_<n>.json files; give the files to "
                          "read explicitly", file=root)
    return sorted(cvrs, key=lambda f: _cvr_order(PurePosixPath(f.name).name))


def _folder_file(path: Path) -> _File:
    return _File(str(path), path.stat().st_size, lambda: open(path, "rb"))


def _manifests_beside(folder: Path) -> dict[str, _File]:
    return {p.name: _folder_file(p) for p in folder.glob("*.json") if not _CVR_NAME.match(p.name)}


def _zip_exports(path: Path) -> list[_Export]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise FormatError(f"unreadable zip file: {exc}", file=path) from None
    by_dir: dict[str, dict[str, zipfile.ZipInfo]] = {}
    for info in zf.infolist():
        if not info.is_dir():
            p = PurePosixPath(info.filename)
            by_dir.setdefault(str(p.parent), {})[p.name] = info

    def member(info: zipfile.ZipInfo) -> _File:
        return _File(f"{path}:{info.filename}", info.file_size, lambda: zf.open(info))

    exports = []
    for folder, members in sorted(by_dir.items()):
        names = [n for n in members if _CVR_NAME.match(n)]
        if names:
            cvrs = _check_cvrs(f"{path}:{folder}", [member(members[n]) for n in names], names)
            manifests = {n: member(i) for n, i in members.items() if n.endswith(".json") and not _CVR_NAME.match(n)}
            exports.append(_Export(f"{path}:{folder}", manifests, cvrs))
    if not exports:
        _check_cvrs(str(path), [], [])
    return exports


def _exports(paths: Sequence[Path]) -> list[_Export]:
    exports: list[_Export] = []
    loose: dict[Path, list[Path]] = {}  # explicit CvrExport files, by folder
    for path in paths:
        if path.is_dir():
            files = [p for p in path.iterdir() if _CVR_NAME.match(p.name)]
            cvrs = _check_cvrs(str(path), [_folder_file(p) for p in files], [p.name for p in files])
            exports.append(_Export(str(path), _manifests_beside(path), cvrs))
        elif zipfile.is_zipfile(path):
            exports.extend(_zip_exports(path))
        elif path.is_file():
            loose.setdefault(path.parent, []).append(path)
        else:
            raise InputError("no such file or folder", file=path)
    for folder, files in loose.items():
        cvrs = sorted((_folder_file(p) for p in dict.fromkeys(files)), key=lambda f: _cvr_order(Path(f.name).name))
        exports.append(_Export(str(folder), _manifests_beside(folder), cvrs))
    return exports


def sniff(path: Path) -> bool:
    """A folder with CvrExport*.json or CandidateManifest.json, a zip holding CvrExport*.json, or a CvrExport file."""
    try:
        if path.is_dir():
            return (path / "CandidateManifest.json").is_file() or any(
                _CVR_NAME.match(p.name) for p in path.glob("CvrExport*.json"))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return any(_CVR_NAME.match(PurePosixPath(n).name) for n in zf.namelist())
        if path.suffix.lower() != ".json":
            return False
        if _CVR_NAME.match(path.name):
            return True
        with open(path, "rb") as fh:
            head = fh.read(4096)
        return b'"Sessions"' in head and b'"Version"' in head
    except (OSError, zipfile.BadZipFile):
        return False


# --------------------------------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------------------------------
def _load_json(f: _File) -> Any:
    try:
        with f.open() as fh:
            return orjson.loads(fh.read())
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"malformed JSON: {exc}", file=f.name) from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise FormatError(f"unreadable file: {exc}", file=f.name) from None


def _optional(export: _Export, name: str) -> tuple[list[dict], str] | None:
    """The ``List`` of a manifest and its file name, or None when the export does not have it."""
    f = export.manifests.get(name)
    if f is None:
        return None
    doc = _load_json(f)
    items = doc.get("List") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise FormatError("not a Dominion manifest", file=f.name, field="List",
                          expected='{"Version": …, "List": [objects]}')
    if isinstance(doc.get("Version"), str):
        export.version = export.version or doc["Version"]
    return items, f.name


def _required(export: _Export, name: str) -> tuple[list[dict], str]:
    found = _optional(export, name)
    if found is None:
        raise FormatError(f"the export has no {name}", file=f"{export.name}{os.sep}{name}",
                          expected=f"{name} beside the CvrExport files")
    return found


def _field(item: dict, key: str, kinds: type | tuple, file: str, record: int, optional: bool = False) -> Any:
    value = item.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise FormatError(f"{key} is {value!r}", file=file, record=record, field=key,
                          expected=getattr(kinds, "__name__", None) or " or ".join(k.__name__ for k in kinds))
    return value


def _labels(export: _Export, name: str) -> dict[Any, str | None] | None:
    """Id → Description of a manifest (an empty description is no label); None when the manifest is absent."""
    found = _optional(export, name)
    if found is None:
        return None
    items, file = found
    return {_field(x, "Id", (int, str), file, i): (_field(x, "Description", str, file, i) or None)
            for i, x in enumerate(items)}


def _choice_from_entry(entry: dict, parties: dict[Any, str | None]) -> Choice:
    kind = entry.get("Type", "Regular")
    affiliations = [parties.get(a) for a in entry.get("Affiliations") or ()]
    party = "; ".join(a for a in affiliations if a) or None
    return Choice(id=str(entry["Id"]), name=entry["Description"], write_in=kind in ("WriteIn", "QualifiedWriteIn"),
                  undeclared=kind == "WriteIn", party=party)


def _contest_from_entry(entry: dict, choices: tuple[Choice, ...], districts: dict[Any, str | None]) -> Contest:
    ranks, vote_for = entry.get("NumOfRanks") or 0, entry["VoteFor"]
    district = entry.get("DistrictId")
    district = None if district is None else districts.get(district) or str(district)
    common = dict(id=str(entry["Id"]), name=entry["Description"], choices=choices, district=district)
    if ranks > 0:
        return Contest(kind=ContestKind.RANKED, ranks=ranks, winners=vote_for, votes_allowed=1, **common)
    kind = ContestKind.PLURALITY if vote_for == 1 else ContestKind.VOTE_FOR_N
    return Contest(kind=kind, winners=vote_for, votes_allowed=vote_for, **common)


def _apply_ext(obj: Any, ext: Any, file: str, record: int) -> Any:
    """Fields a Veritally-written entry carries beyond what Dominion's manifest can say (contest rules, ids)."""
    if ext is None:
        return obj
    names = {f.name for f in fields(obj)} - {"choices"}
    if not isinstance(ext, dict) or not set(ext) <= names:
        raise FormatError(f"bad {_EXT} extension {ext!r}", file=file, record=record, field=_EXT)
    ext = dict(ext)
    if "kind" in ext:
        ext["kind"] = ContestKind(ext["kind"])
    if "aliases" in ext:
        ext["aliases"] = tuple(ext["aliases"])
    return replace(obj, **ext)


@dataclass
class _ContestInfo:
    index: int  #: builder contest index
    ranks: int
    bits: dict[Any, int]  #: Dominion candidate id → mask bit


class _Manifests:
    """Everything the card loop looks up, from one export's manifests."""

    def __init__(self, export: _Export, builder: ElectionBuilder) -> None:
        contest_items, cfile = _required(export, "ContestManifest.json")
        candidate_items, kfile = _required(export, "CandidateManifest.json")
        parties = _labels(export, "PartyManifest.json") or {}
        districts = _labels(export, "DistrictManifest.json") or {}
        per_contest: dict[Any, list[tuple[Any, Choice]]] = {}
        for i, x in enumerate(contest_items):
            cid = _field(x, "Id", (int, str), cfile, i)
            _field(x, "Description", str, cfile, i)
            if _field(x, "VoteFor", int, cfile, i) < 1 or (_field(x, "NumOfRanks", int, cfile, i, True) or 0) < 0:
                raise FormatError(f"VoteFor {x['VoteFor']}, NumOfRanks {x.get('NumOfRanks')}", file=cfile, record=i,
                                  field="VoteFor", expected="VoteFor >= 1 and NumOfRanks >= 0")
            if cid in per_contest:
                raise FormatError(f"contest Id {cid!r} twice", file=cfile, record=i, field="Id")
            per_contest[cid] = []
        seen: set[Any] = set()
        for i, x in enumerate(candidate_items):
            kid = _field(x, "Id", (int, str), kfile, i)
            _field(x, "Description", str, kfile, i)
            contest_id = _field(x, "ContestId", (int, str), kfile, i)
            if contest_id not in per_contest:
                raise UnknownIdError(f"candidate {kid} names contest {contest_id!r}, not in ContestManifest.json",
                                     file=kfile, record=i, field="ContestId")
            if kid in seen:
                raise FormatError(f"candidate Id {kid} twice", file=kfile, record=i, field="Id")
            seen.add(kid)
            try:
                choice = _apply_ext(_choice_from_entry(x, parties), x.get(_EXT), kfile, i)
            except (ValueError, TypeError) as exc:
                raise FormatError(f"unreadable candidate: {exc}", file=kfile, record=i) from None
            per_contest[contest_id].append((kid, choice))
        self.contests: dict[Any, _ContestInfo] = {}
        for i, x in enumerate(contest_items):
            cands = per_contest[x["Id"]]
            try:
                contest = _contest_from_entry(x, tuple(c for _, c in cands), districts)
                contest = _apply_ext(contest, x.get(_EXT), cfile, i)
            except (ModelError, ValueError, TypeError) as exc:
                raise FormatError(str(exc), file=cfile, record=i) from None
            index = builder.add_contest(contest)
            if builder.contest(index) != contest:
                raise FormatError(f"contest {contest.id} differs from the one of an export read before", file=cfile,
                                  record=i, expected="the same contests and candidates in every export read")
            self.contests[x["Id"]] = _ContestInfo(index, contest.ranks, {k: 1 << b for b, (k, _) in enumerate(cands)})
        self.tabulators = _labels(export, "TabulatorManifest.json")
        self.precincts = _labels(export, "PrecinctManifest.json")
        self.styles = _labels(export, "BallotTypeManifest.json")
        self.groups = _labels(export, "CountingGroupManifest.json")
        portions, pfile = _required(export, "PrecinctPortionManifest.json")
        self.portions = {_field(x, "Id", (int, str), pfile, i): (x.get("Description") or None, x.get("PrecinctId"))
                         for i, x in enumerate(portions)}
        batches, bfile = _optional(export, _BATCH_MANIFEST) or ([], "")
        self.batches = {(x.get("TabulatorId"), x.get("BatchId")): _field(x, "Description", str, bfile, i) or None
                        for i, x in enumerate(batches)}
        events = _optional(export, "ElectionEventManifest.json")
        self.election_name = events[0][0].get("Description") if events and events[0] else None

        self._tables = {"TabulatorId": (self.tabulators, "TabulatorManifest.json"),
                        "PrecinctId": (self.precincts, "PrecinctManifest.json"),
                        "BallotTypeId": (self.styles, "BallotTypeManifest.json"),
                        "CountingGroupId": (self.groups, "CountingGroupManifest.json")}
        self._seen: dict[str, dict[Any, str | None]] = {k: {None: None} for k in self._tables}
        self.attribute_cache: dict[tuple, dict[str, str | None]] = {}  #: key → attributes (see attributes)
        self._batch_labels: dict[tuple, tuple] = {}  # for typed_attributes
        self._place_labels: dict[tuple, tuple] = {}

    def _label(self, field: str, value: Any, file: str, record: str) -> str | None:
        """Description of ``value`` in its manifest; the id itself when the export lacks that manifest."""
        seen = self._seen[field]
        if value in seen:
            return seen[value]
        table, manifest = self._tables[field]
        if table is None:
            label = str(value)
        elif value in table:
            label = table[value]
        else:
            raise UnknownIdError(f"{field} {value!r} is not in {manifest}", file=file, record=record, field=field)
        seen[value] = label
        return label

    def attributes(self, key: tuple, file: str, record: str) -> dict[str, str | None]:
        """Card attributes of a session with ``key`` = (TabulatorId, BatchId, PrecinctPortionId, PrecinctId,
        BallotTypeId, CountingGroupId); the dict is shared by sessions with the same key."""
        found = self.attribute_cache.get(key)
        if found is not None:
            return found
        tab, batch, portion_id, precinct_id, style, group = key
        portion = None
        if portion_id is not None:
            if portion_id not in self.portions:
                raise UnknownIdError(f"PrecinctPortionId {portion_id!r} is not in PrecinctPortionManifest.json",
                                     file=file, record=record, field="PrecinctPortionId")
            portion, via_portion = self.portions[portion_id]
            precinct_id = via_portion if precinct_id is None else precinct_id
        if (tab, batch) in self.batches:  # labels of an export written by Veritally
            batch_label = self.batches[(tab, batch)]
        else:  # a batch number is per tabulator, so "<TabulatorId>-<BatchId>" names it (as ballot manifests do)
            batch_label = f"{tab}-{batch}"
        found = {
            "tabulator": self._label("TabulatorId", tab, file, record),
            "batch": batch_label,
            "precinct": self._label("PrecinctId", precinct_id, file, record),
            "precinct_portion": portion,
            "style": self._label("BallotTypeId", style, file, record),
            "counting_group": self._label("CountingGroupId", group, file, record),
        }
        if len(self.attribute_cache) > 50_000:  # bounded: sessions rarely repeat keys beyond a batch
            self.attribute_cache.clear()
        self.attribute_cache[key] = found
        return found

    def typed_attributes(self, key: tuple, file: str, record: str) -> dict[str, str | None]:
        """:meth:`attributes` for the msgspec path, after a miss of its cache, for a key of int and str ids only:
        the labels of (TabulatorId, BatchId) and of (PrecinctPortionId, PrecinctId, BallotTypeId, CountingGroupId)
        are remembered apart, so a new combination of known parts costs one dict.

        Each part's labels are the ones :meth:`attributes` gives it at any time (it writes the batch label from the
        ids and looks the others up in first-come tables), which holds for int and str ids; a float id would find
        an equal int's labels. The cache of :meth:`attributes` gets what it would have got."""
        tab_batch, place = self._batch_labels.get(key[:2]), self._place_labels.get(key[2:])
        if tab_batch is None or place is None:
            found = self.attributes(key, file, record)  # raises the reference's error for an unknown id
            self._batch_labels[key[:2]] = (found["tabulator"], found["batch"])
            self._place_labels[key[2:]] = (found["precinct"], found["precinct_portion"], found["style"],
                                           found["counting_group"])
            return found
        found = {"tabulator": tab_batch[0], "batch": tab_batch[1], "precinct": place[0], "precinct_portion": place[1],
                 "style": place[2], "counting_group": place[3]}
        if len(self.attribute_cache) > 50_000:  # as attributes does
            self.attribute_cache.clear()
        self.attribute_cache[key] = found
        return found


# --------------------------------------------------------------------------------------------------------------------
# Sessions (read in _dominion_read.py)
# --------------------------------------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, stream_above: int) -> None:
        self.builder = ElectionBuilder(meta={"format": NAME})
        self.sessions = SessionReader(self.builder, stream_above)
        self.name: str | None = None
        self.versions: set[str] = set()
        self.precinct_ids = False  #: an export without PrecinctManifest.json: precincts are labelled by id

    def read_export(self, export: _Export) -> None:
        m = _Manifests(export, self.builder)
        self.precinct_ids = self.precinct_ids or m.precincts is None
        self.name = self.name or m.election_name
        if export.version:
            self.versions.add(export.version)
        for f in export.cvrs:
            name = self.sessions.read_file(f, m)
            self.name = self.name or name


def read(paths: Sequence[Path], *, stream_above: int = _STREAM_ABOVE, **_options: Any) -> Election:
    """Read Dominion CVR exports (folders, zips, or CvrExport*.json files with their manifests beside them).

    Every export read must define the same contests and candidates. A CvrExport file larger than ``stream_above``
    bytes is streamed session by session (ijson) instead of parsed whole (msgspec, orjson where msgspec refuses).
    """
    reader = _Reader(stream_above)
    exports = _exports([Path(p) for p in paths])
    with paused_gc():
        for export in exports:
            reader.read_export(export)
        builder = reader.builder
        builder.name = reader.name or Path(paths[0]).stem
        if reader.versions:
            builder.meta["version"] = ", ".join(sorted(reader.versions))
        if reader.sessions.invalid:
            builder.meta["invalid_contests_skipped"] = str(reader.sessions.invalid)
        if reader.precinct_ids:
            builder.meta["precinct_labels"] = "ids (no PrecinctManifest.json)"
        return builder.build()


def write(election: Election, out: Path, *, chunk_size: int = 10_000) -> list[Path]:
    """Write ``election`` as a Dominion CVR export: a folder (or ``.zip``) of CvrExport.json — or CvrExport_<n>.json
    files of ``chunk_size`` sessions — and the manifests, atomically.

    Reading it back gives the same contests, choices, marks and card attributes. Card ids of the form
    ``T-B-R[-C]`` (as this reader makes) are kept; other ids are renumbered. Fields Dominion's manifests cannot
    hold (contest rules other than VoteFor/NumOfRanks, non-integer ids) go in a ``Veritally`` object of the
    manifest entry, and batch labels other than ``<TabulatorId>-<BatchId>`` in VeritallyBatchManifest.json.
    Overvotes whose choices are unknown cannot be written (ConfigError).
    """
    from ._dominion_write import _atomic_dir, _export_files

    out = Path(out)
    if chunk_size < 1:
        raise ConfigError("chunk_size must be at least 1")
    if out.suffix.lower() == ".zip":
        with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in _export_files(election, chunk_size):
                zf.writestr(f"{out.stem}/{name}", data)
        return [out]
    with _atomic_dir(out) as tmp:
        names = []
        for name, data in _export_files(election, chunk_size):
            (tmp / name).write_bytes(data)
            names.append(name)
    return [out / name for name in names]
