"""Hart InterCivic Verity cast vote records: one XML file per ballot sheet, read and written.

A Verity CVR is ``<Cvr xmlns="http://tempuri.org/CVRDesign.xsd">`` holding ``Contests/Contest{Name, Id,
Options/Option{Name, Id, Value, WriteInData}, Undervotes, Overvoted}``, ``PrecinctSplit{Name, Id}``,
``BatchNumber``, ``DeviceSerialNumber`` and ``CvrGuid``. Only *marked* options are listed. ``Value`` is one '0'/'1'
per rank position ("0100" = rank 2; "1" in a plain contest). Hart's XML does not say how many votes or ranks a
contest allows, so the reader infers both (docs/formats/hart.md). Files come in a folder, in Hart's
``CVRArchive_*.zip`` archives, or one by one; ``<name>.xml.sig.xml`` signature files are skipped (not verified).

Each file is parsed whole with lxml (a few KiB) and reduced to integers in compact ``array`` buffers before the
next is read, so memory grows with the columnar cards, not with the XML text. The writer is in ``_hart_write``.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import orjson

from ..errors import ConfigError, FormatError, ModelError
from ..model import MAX_CHOICES, Contest, Election, contest_from_dict
from . import _rctab
from ._hart_read import CONTESTS_FILE, EXT_FIELDS, EXT_NAMESPACE, FLAGS, NAMESPACE, _Options, _Reader

__all__ = ["NAME", "DESCRIPTION", "NAMESPACE", "CONTESTS_FILE", "EXT_NAMESPACE", "EXT_FIELDS", "FLAGS", "OPTIONS",
           "sniff", "read", "write", "options_from_rctab_source"]

NAME = "hart"
DESCRIPTION = "Hart Verity per-ballot XML cast vote records (folder, CVR archive zip, or XML files)"
OPTIONS = ("contest_id", "undeclared_write_in_label", "candidates", "max_rankings")
_SNIFF_BYTES = 4096


def _is_cvr_name(name: str) -> bool:
    """An XML member that can be a CVR: not a signature, not a macOS resource fork (``._x.xml``, ``__MACOSX/``)."""
    low = name.lower()
    base = low.rsplit("/", 1)[-1]
    return low.endswith(".xml") and not low.endswith(".sig.xml") and not base.startswith("._") \
        and not low.startswith("__macosx/")


# --------------------------------------------------------------------------------------------------------------------
# Where the files are
# --------------------------------------------------------------------------------------------------------------------
@dataclass
class _Source:
    """A run of CVR files: a folder's XML files, one archive's members, or XML files named explicitly."""

    names: list[str]  #: members in reading order
    load: Callable[[str], bytes]
    display: Callable[[str], str]  #: the name shown in messages
    contests_file: tuple[str, bytes] | None = None  #: (name, content) of a VeritallyContests.json beside them


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _folder_sources(folder: Path, stack: ExitStack) -> list[_Source]:
    """The folder's XML files (name order), then each ``.zip`` archive in it (name order); sub-folders are not read,
    as in RCTab and in Hart's vDrive layout (archives and loose files side by side)."""
    root = str(folder)
    with os.scandir(folder) as it:
        entries = [(e.name, e.is_file()) for e in it]
    names = sorted(n for n, is_file in entries if is_file and _is_cvr_name(n))
    archives = sorted(n for n, is_file in entries if is_file and n.lower().endswith(".zip"))
    sidecar = _sidecar_beside(folder)
    sources = [_Source(names, lambda n: _read_bytes(os.path.join(root, n)), lambda n: os.path.join(root, n),
                       sidecar)] if names else []
    for a in archives:
        sources.append(_zip_source(folder / a, stack, sidecar))
    if not sources and sidecar is not None:  # an election of no cards, as write() makes it
        sources.append(_Source([], _read_bytes, str, sidecar))
    if not sources:
        raise FormatError("no Hart CVR files (*.xml, CVR archive *.zip) in the folder", file=folder,
                          expected="a folder of Hart Verity CVR XML files (sub-folders are not read: name them)")
    return sources


def _zip_source(path: Path, stack: ExitStack, sidecar: tuple[str, bytes] | None = None) -> _Source:
    try:
        zf = stack.enter_context(zipfile.ZipFile(path))
        infos = [i for i in zf.infolist() if not i.is_dir()]
        own = next((i for i in infos if PurePosixPath(i.filename).name == CONTESTS_FILE), None)
        if own is not None:
            sidecar = (f"{path}:{own.filename}", zf.read(own))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FormatError(f"unreadable zip file: {exc}", file=path) from None
    names = sorted(i.filename for i in infos if _is_cvr_name(i.filename))
    if not names and own is None:
        raise FormatError("the zip holds no Hart CVR XML files", file=path, expected="a Hart CVR archive")

    def load(name: str) -> bytes:
        try:
            return zf.read(name)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise FormatError(f"unreadable zip member: {exc}", file=f"{path}:{name}") from None

    return _Source(names, load, lambda n: f"{path}:{n}", sidecar)


def _sidecar_beside(folder: Path) -> tuple[str, bytes] | None:
    p = folder / CONTESTS_FILE
    return (str(p), p.read_bytes()) if p.is_file() else None


def _sources(paths: Sequence[Path], stack: ExitStack) -> list[_Source]:
    sources: list[_Source] = []
    loose: list[str] = []

    def flush() -> None:
        if loose:
            files = list(dict.fromkeys(loose))
            sources.append(_Source(files, _read_bytes, lambda n: n, _sidecar_beside(Path(files[0]).parent)))
            loose.clear()

    for path in paths:
        if path.is_dir():
            flush()
            sources.extend(_folder_sources(path, stack))
        elif path.is_file() and zipfile.is_zipfile(path):
            flush()
            sources.append(_zip_source(path, stack, _sidecar_beside(path.parent)))
        elif path.is_file():
            if loose and Path(loose[0]).parent != path.parent:
                flush()
            loose.append(str(path))
        else:
            raise FormatError("no such file or folder", file=path)
    flush()
    return sources


def _looks_hart(head: bytes) -> bool:
    return NAMESPACE.encode() in head and b"<Cvr" in head


def sniff(path: Path) -> bool:
    """A folder or ``.zip`` whose first CVR XML file is a Hart CVR, or such an XML file (reads a few KiB)."""
    path = Path(path)
    try:
        if path.is_dir():
            with os.scandir(path) as it:
                first = next((e.path for e in it if _is_cvr_name(e.name) and e.is_file()), None)
            if first is None:
                return False
            path = Path(first)
        elif path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                member = next((n for n in zf.namelist() if _is_cvr_name(n)), None)
                if member is None:
                    return False
                with zf.open(member) as fh:
                    return _looks_hart(fh.read(_SNIFF_BYTES))
        elif not _is_cvr_name(path.name):
            return False
        with open(path, "rb") as fh:
            return _looks_hart(fh.read(_SNIFF_BYTES))
    except (OSError, zipfile.BadZipFile):
        return False


# --------------------------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------------------------
def _options(options: Mapping[str, Any]) -> _Options:
    _rctab.check_options(options, OPTIONS, "Hart")
    o = _Options(**{k: v for k, v in options.items() if k != "candidates"})
    o.candidates = _rctab.candidate_choices(options.get("candidates"), "Hart")
    if o.max_rankings == "max":
        o.max_rankings = None
    if o.max_rankings is not None and (not isinstance(o.max_rankings, int) or o.max_rankings < 1):
        raise ConfigError(f"Hart option max_rankings must be a positive integer, not {o.max_rankings!r}")
    if o.candidates is not None and not o.contest_id:
        raise ConfigError("Hart option candidates needs contest_id: the list is the candidates of that contest")
    o.contest_id = o.contest_id or None
    o.undeclared_write_in_label = o.undeclared_write_in_label or None
    return o


def options_from_rctab_source(source: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]] = (),
                              rules: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword options of :func:`read` for one RCTab ``cvrFileSources`` entry of provider ``hart``.

    ``contestId`` (the Hart contest GUID) → ``contest_id``, ``undeclaredWriteInLabel`` (an option GUID) →
    ``undeclared_write_in_label``, the config's ``candidates`` (names; aliases hold the option GUIDs) →
    ``candidates``, ``rules.maxRankingsAllowed`` → ``max_rankings``. Empty strings mean "not set", as in RCTab.
    """
    return _rctab.source_options(source, candidates, rules, text={
        "contestId": "contest_id", "undeclaredWriteInLabel": "undeclared_write_in_label"})


def _declared(sources: Sequence[_Source]) -> tuple[dict[str, Contest], str | None] | None:
    """Contests (by id, in file order) and election name of the VeritallyContests.json the sources carry."""
    found = [s.contests_file for s in sources if s.contests_file is not None]
    if not found:
        return None
    name, data = found[0]
    for other, more in found[1:]:
        if more != data:
            raise FormatError(f"differs from {name}", file=other, field=CONTESTS_FILE,
                              expected="the same contests in every folder read together")
    try:
        doc = orjson.loads(data)
        contests = [contest_from_dict(c) for c in doc["contests"]]
        title = doc.get("election")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ModelError) as exc:
        raise FormatError(f"unreadable contest definitions: {exc}", file=name,
                          expected='{"contests": [contest objects]} as written by veritally') from None
    return {c.id: c for c in contests}, title if isinstance(title, str) else None


def read(paths: Sequence[Path] | str | PathLike[str], **options: Any) -> Election:
    """Read Hart Verity CVRs (folders, CVR archive zips, XML files) as one election; one card per XML file.

    Options (RCTab's ``cvrFileSources`` names in brackets; :func:`options_from_rctab_source` maps a config):
    ``contest_id`` [contestId] (read only the contest with this GUID, as a ranked contest, as RCTab does),
    ``undeclared_write_in_label`` [undeclaredWriteInLabel] (the option whose Id or Name it is becomes RCTab's
    "Undeclared Write-ins"), ``candidates`` (the candidates of ``contest_id``: names, ``(name, aliases)`` pairs,
    ``{"name", "aliases"}`` dicts or Choices, matched against option Ids then Names; another option is an
    UnknownIdError), ``max_rankings`` [rules.maxRankingsAllowed] (the ranks of ranked contests; a mark at a higher
    rank is a FormatError). Without them contests and choices are discovered; docs/formats/hart.md says how.
    """
    o = _options(options)
    files = [Path(paths)] if isinstance(paths, (str, PathLike)) else [Path(p) for p in paths]
    if not files:
        raise FormatError("no Hart CVR files given")
    with ExitStack() as stack:
        sources = _sources(files, stack)
        declared = _declared(sources)
        reader = _Reader(o, declared[0] if declared else None)
        starts: list[int] = []
        try:
            for s in sources:
                starts.append(reader.n)
                for member in s.names:  # one file at a time: its tree is dropped before the next is parsed
                    reader.card(s.display(member), s.load(member))
        except ModelError as exc:  # more choices than a contest may have
            raise FormatError(str(exc), file=s.display(member), expected=f"at most {MAX_CHOICES} choices") from None

        def where(i: int) -> str:
            k = int(np.searchsorted(starts, i, "right")) - 1
            return sources[k].display(sources[k].names[i - starts[k]])

        name = (declared[1] if declared else None) or files[0].stem
        election = reader.election(name, where, str(files[0]))
    election.meta["files"] = "\n".join(str(f) for f in files)
    if reader.flags:
        election.meta["flagged_contests"] = ", ".join(f"{k} {v}" for k, v in sorted(reader.flags.items()))
    return election


def write(election: Election, out: Path) -> list[Path]:
    """Write ``election`` as Hart CVRs: a folder (or a ``.zip`` when ``out`` ends with .zip) of one XML file per
    card, and ``VeritallyContests.json`` with the contest definitions Hart's XML cannot hold, atomically.

    Reading it back gives the same contests, cards, marks and attributes. An overvote whose choices are unknown
    (``Contest.overvote_flag``) cannot be written: Hart lists every marked option (ConfigError, nothing written).
    """
    from ._hart_write import write_hart

    return write_hart(election, Path(out))
