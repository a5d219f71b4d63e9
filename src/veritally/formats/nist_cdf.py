"""NIST SP 1500-103 Cast Vote Record Common Data Format (CDF): JSON and XML reader, lossless JSON writer.

A ``CastVoteRecordReport`` holds the election definition (``Election.Contest`` / ``ContestSelection`` /
``Candidate``, ``GpUnit``, ``ReportingDevice``, ``Party``) and one ``CVR`` per ballot sheet, each with snapshots of
which ``CurrentSnapshotId`` names the one to count (RCTab's ``CommonDataFormatReader`` semantics; docs/formats/cdf.md
has the whole mapping). Readers are lenient about the deviations real exporters make (types without the ``CVR.``
prefix, XML in any namespace or none, numbers as text).

JSON files of at most ``stream_above`` bytes are parsed whole with orjson; larger ones are streamed CVR by CVR with
ijson (the election definition first: read before the ``CVR`` list when it comes first, as Veritally writes it,
else by a scan of each definition key), so memory grows with the columnar cards, not with the text. XML is read
with lxml ``iterparse`` in two passes (the XML schema puts the CVRs before the Election), each CVR element cleared
once read. :func:`write` writes schema-valid CDF JSON from which :func:`read` gives the same election back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import ijson
import orjson
from lxml import etree

from .._io import paused_gc
from ..builder import ElectionBuilder
from ..errors import ConfigError, FormatError, InputError, ModelError
from ..model import Election
from . import _rctab
from ._cdf_defs import ContestState, Definitions, Options, expand, local
from ._cdf_read import CardWalker, finish

__all__ = ["NAME", "DESCRIPTION", "OPTIONS", "NAMESPACE", "sniff", "read", "write", "options_from_rctab_source"]

NAME = "cdf"
DESCRIPTION = "NIST SP 1500-103 cast vote record CDF (JSON or XML)"
OPTIONS = ("contest_id", "overvote_label", "undeclared_write_in_label", "candidates", "max_rankings",
           "skip_unallocable", "stream_above")
#: The SP 1500-103 XML namespace (elements in another namespace, or none, are read the same: by local name).
NAMESPACE = "http://itl.nist.gov/ns/voting/1500-103/v1"
_STREAM_ABOVE = 32 << 20
_HEADER_KEYS = ("Election", "GpUnit", "ReportingDevice", "Party")
#: XML elements that may repeat (lists in the JSON form); the others are single values.
_XML_LISTS = frozenset(("CVR", "CVRSnapshot", "CVRContest", "CVRContestSelection", "SelectionPosition", "Election",
                        "Candidate", "Contest", "ContestSelection", "CandidateIds", "GpUnit", "ReportingDevice",
                        "Party", "PartyIds", "Code", "Status", "MarkMetricValue", "BallotImage", "Annotation",
                        "AdjudicatorName", "Message", "ReportType", "ReportGeneratingDeviceIds",
                        "ReportingDeviceIds", "Notes"))
_XML_PARSER = {"resolve_entities": False, "no_network": True, "huge_tree": True}
try:
    _ijson = ijson.get_backend("yajl2_c")
except ImportError:  # pragma: no cover - the C backend ships in ijson's wheels
    _ijson = ijson


# detection and options ----------------------------------------------------------------------------------------------
def sniff(path: Path) -> bool:
    """A ``.json`` file whose first KiB has ``CVR.CastVoteRecordReport`` (or a ``"CVR"`` key with ``"Election"`` or
    ``"CVRSnapshot"``), not a Dominion CvrExport nor a NIST results report; an ``.xml`` file whose first KiB has
    the ``CastVoteRecordReport`` root or the 1500-103 namespace; or a folder holding such files."""
    try:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".xml"))[:20]
            return any(sniff(p) for p in files)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".xml") or not path.is_file():
            return False
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError:
        return False
    if suffix == ".xml":
        return b"CastVoteRecordReport" in head or b"1500-103" in head
    if b"ElectionResults." in head or b'"Sessions"' in head:
        return False
    if b"CVR.CastVoteRecordReport" in head:
        return True
    return b'"CVR"' in head and any(k in head for k in (b'"Election"', b'"CVRSnapshot"', b'"CurrentSnapshotId"'))


def _options(options: Mapping[str, Any]) -> Options:
    _rctab.check_options(options, OPTIONS, "CDF")
    o = Options(**{k: v for k, v in options.items() if k != "candidates"})
    o.candidates = _rctab.candidate_choices(options.get("candidates"), "CDF")
    if o.max_rankings == "max":
        o.max_rankings = None
    if o.max_rankings is not None and (o.max_rankings.__class__ is not int or o.max_rankings < 1):
        raise ConfigError(f"CDF option max_rankings must be a positive integer, not {o.max_rankings!r}")
    if o.stream_above.__class__ is not int or o.stream_above < 0:
        raise ConfigError(f"CDF option stream_above must be a number of bytes, not {o.stream_above!r}")
    for key in ("contest_id", "overvote_label", "undeclared_write_in_label"):
        value = getattr(o, key)
        setattr(o, key, None if value in (None, "") else str(value))
    return o


def options_from_rctab_source(source: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]] = (),
                              rules: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword options of :func:`read` for one RCTab ``cvrFileSources`` entry of provider ``cdf``.

    ``contestId`` → ``contest_id`` (RCTab matches the contest's ``Name``), ``overvoteLabel`` → ``overvote_label``,
    ``undeclaredWriteInLabel`` → ``undeclared_write_in_label``, the config's ``candidates`` (names and aliases) →
    ``candidates``, ``rules.maxRankingsAllowed`` → ``max_rankings``. Empty strings mean "not set", as in RCTab.
    RCTab's one other CDF behaviour, dropping ``IsAllocable=no`` positions, is ``skip_unallocable=True``; it is
    not set here (docs/formats/cdf.md explains why).
    """
    return _rctab.source_options(source, candidates, rules, text={
        "contestId": "contest_id", "overvoteLabel": "overvote_label",
        "undeclaredWriteInLabel": "undeclared_write_in_label"})


# JSON ----------------------------------------------------------------------------------------------------------------
def _json_error(path: Path, exc: Exception, where: str = "") -> FormatError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return FormatError(f"malformed or truncated JSON: {message}{where}", file=path,
                       expected="a complete CDF CastVoteRecordReport JSON file")


def _check_report(doc: Any, path: Path) -> None:
    if not isinstance(doc, dict):
        raise FormatError("not a JSON object", file=path, expected="a CDF CastVoteRecordReport object")
    kind = doc.get("@type")
    if kind is not None and local(kind) != "CastVoteRecordReport":
        raise FormatError(f"@type is {kind!r}", file=path, field="@type", expected="CVR.CastVoteRecordReport")


def _json_whole(path: Path) -> tuple[dict, list]:
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise _json_error(path, exc) from None
    except OSError as exc:
        raise FormatError(f"unreadable file: {exc}", file=path) from None
    _check_report(doc, path)
    cvrs = doc.get("CVR") or []
    if not isinstance(cvrs, list):
        raise FormatError("CVR is not a list", file=path, field="CVR", expected="a list of CVR objects")
    return doc, cvrs


def _build_value(events: Iterator[tuple]) -> Any:
    """The value whose events come next (a scalar, or a whole object or array)."""
    builder = ijson.ObjectBuilder()
    depth = 0
    for _prefix, event, value in events:
        builder.event(event, value)
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
        if depth == 0:
            break
    return builder.value


def _scan(path: Path, walk: Any) -> Any:
    """``walk(file)`` on the open file, its ijson errors turned into a FormatError with the byte reached."""
    try:
        with open(path, "rb") as fh:
            try:
                return walk(fh)
            except ijson.JSONError as exc:  # yajl does not give the offset: the buffer read so far is close
                raise _json_error(path, exc, f" near byte {fh.tell():,}") from None
    except OSError as exc:
        raise FormatError(f"unreadable file: {exc}", file=path) from None


def _json_header(path: Path) -> dict:
    """The report's keys other than ``CVR``: those before the CVR list in one partial parse; in files that put the
    CVRs first (RCTab's), the rest from the file's tail, or failing that by one scan of the file per key."""
    header: dict[str, Any] = {}

    def before_cvr(fh: Any) -> bool:
        events = iter(_ijson.parse(fh, use_float=True))
        first = next(events, None)
        if first is None or first[1] != "start_map":
            raise FormatError("not a JSON object", file=path, expected="a CDF CastVoteRecordReport object")
        for prefix, event, value in events:
            if event == "map_key" and prefix == "":
                if value == "CVR":
                    return True
                header[value] = _build_value(events)
        return False

    if _scan(path, before_cvr):
        missing = [k for k in _HEADER_KEYS if k not in header]
        tail = _tail_definitions(path)
        if tail is not None:  # the report's tail to its end: a key it lacks is not in the file
            header.update({k: v for k, v in tail.items() if k in missing})
            missing = []
        for key in missing:
            found = _scan(path, lambda fh: next(iter(_ijson.items(fh, key, use_float=True)), None))
            if found is not None:
                header[key] = found
    _check_report(header, path)
    return header


def _key_at(buf: bytes, key: str) -> int:
    """Offset of the first ``"key":`` in ``buf`` (found with bytes.find: memchr speed), -1 if none."""
    needle = f'"{key}"'.encode()
    i = buf.find(needle)
    while i >= 0:
        rest = buf[i + len(needle): i + len(needle) + 64].lstrip()
        if rest[:1] == b":":
            return i
        i = buf.find(needle, i + 1)
    return -1


def _tail_definitions(path: Path, window: int = 64 << 20) -> dict | None:
    """The definitions that follow the CVR list (RCTab writes its keys sorted, ``CVR`` before ``Election``), parsed
    from the file's end instead of scanning past every CVR: those keys occur nowhere inside a CVR, so the first of
    them in the last ``window`` bytes starts the report's tail, and ``{`` + tail is a JSON object. None when that
    does not hold (the caller then scans)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - window))
        tail = fh.read()
    starts = [i for i in (_key_at(tail, k) for k in _HEADER_KEYS) if i >= 0]
    if not starts:
        return None
    try:
        doc = orjson.loads(b"{" + tail[min(starts):])
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) and "CVR" not in doc else None


def _json_stream(path: Path) -> Iterator[dict]:
    n = 0
    try:
        with open(path, "rb") as fh:
            try:
                for cvr in _ijson.items(fh, "CVR.item", use_float=True):
                    n += 1
                    yield cvr
            except ijson.JSONError as exc:  # yajl does not give the offset: the buffer read so far is close
                raise _json_error(path, exc, f" after CVR {n}, near byte {fh.tell():,}") from None
    except OSError as exc:
        raise FormatError(f"unreadable file: {exc}", file=path) from None


# XML -----------------------------------------------------------------------------------------------------------------
def _xml_obj(elem: Any, path: Path) -> Any:
    """An element as the JSON form's structure: ObjectId → ``@id``, xsi:type → ``@type``, children by local name
    (lists for the elements that may repeat), leaves as their stripped text."""
    obj: dict[str, Any] = {}
    for key, value in elem.attrib.items():
        if key == "ObjectId":
            obj["@id"] = value
        elif key.endswith("}type") or key == "type":
            obj["@type"] = value
    for child in elem:
        tag = child.tag
        if tag.__class__ is not str:  # comments and processing instructions
            continue
        name = tag[tag.rfind("}") + 1:]
        value = _xml_obj(child, path) if len(child) or child.attrib else (child.text or "").strip()
        if name in _XML_LISTS:
            obj.setdefault(name, []).append(value)
        elif name in obj:
            raise FormatError(f"<{name}> twice in one <{local(elem.tag.rsplit('}', 1)[-1])}>", file=path,
                              record=f"line {child.sourceline}", field=name, expected=f"one <{name}>")
        else:
            obj[name] = value
    return obj


def _xml_events(path: Path, tags: Sequence[str], counted: list[int]) -> Iterator[Any]:
    """End events of the root's children named ``tags``; each element is cleared (and dropped) once used."""
    try:
        for _event, elem in etree.iterparse(str(path), events=("end",), tag=[f"{{*}}{t}" for t in tags],
                                            **_XML_PARSER):
            parent = elem.getparent()
            if parent is None or parent.getparent() is not None:  # only the report's own children
                continue
            yield elem
            elem.clear()
            while elem.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"malformed or truncated XML after CVR {counted[0]}: {exc}", file=path,
                          expected="a complete CDF CastVoteRecordReport XML file") from None
    except OSError as exc:
        raise FormatError(f"unreadable file: {exc}", file=path) from None


def _xml_header(path: Path) -> dict:
    """Pass 1: the report's definitions (the XML schema orders them after the CVRs)."""
    try:
        _event, root = next(etree.iterparse(str(path), events=("start",), **_XML_PARSER))
    except (etree.XMLSyntaxError, StopIteration) as exc:
        raise FormatError(f"malformed XML: {exc}", file=path, expected="a CDF CastVoteRecordReport XML file") from None
    if root.tag.rsplit("}", 1)[-1] != "CastVoteRecordReport":
        raise FormatError(f"root element is <{root.tag}>", file=path, expected="<CastVoteRecordReport>")
    header: dict[str, list] = {k: [] for k in _HEADER_KEYS}
    counted = [0]
    for elem in _xml_events(path, ("CVR", *_HEADER_KEYS), counted):
        name = elem.tag.rsplit("}", 1)[-1]
        if name == "CVR":
            counted[0] += 1
        else:
            header[name].append(_xml_obj(elem, path))
    return header


def _xml_cvrs(path: Path, walker: CardWalker) -> Iterator[dict]:
    """Pass 2: the CVRs, one element at a time."""
    counted = [0]
    for elem in _xml_events(path, ("CVR",), counted):
        walker.line = elem.sourceline
        yield _xml_obj(elem, path)
        counted[0] += 1


def _is_xml(path: Path) -> bool:
    if path.suffix.lower() in (".xml", ".json"):
        return path.suffix.lower() == ".xml"
    with open(path, "rb") as fh:
        return fh.read(256).lstrip().startswith(b"<")


def _mentions(path: Path, token: bytes, block: int = 1 << 20) -> bool:
    """Whether the file's bytes hold ``token`` (read in blocks: memchr speed, no parsing, no mapping that would
    count the whole file as resident memory)."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            if token in tail + chunk[: len(token)] or token in chunk:
                return True
            tail = chunk[-len(token):]
    return False


# reading -------------------------------------------------------------------------------------------------------------
def read(paths: Sequence[Path], **options: Any) -> Election:
    """Read NIST CDF cast vote record files (JSON or XML, or folders of them) as one election.

    Contests and choices are matched by id across files; a card id seen twice is a DuplicateCardError. Options
    (RCTab's names in brackets; :func:`options_from_rctab_source` maps a config source):

    * ``contest_id`` [contestId]: read only the contest of this ``Name`` (or ``@id``);
    * ``overvote_label`` [overvoteLabel]: a candidate of this name marks an overvote, not a choice;
    * ``undeclared_write_in_label`` [undeclaredWriteInLabel]: a candidate of this name is the undeclared write-in;
    * ``candidates``: RCTab's candidate list (names, ``(name, aliases)`` pairs, ``{"name", "aliases"}`` dicts or
      Choices): a CDF candidate whose name, code or id is a name or alias there takes the list's name;
    * ``max_rankings`` [maxRankingsAllowed]: ranked contests have this many ranks; a higher Rank is a FormatError;
    * ``skip_unallocable``: drop positions with ``IsAllocable=no`` as RCTab does (default: they are marks);
    * ``stream_above``: JSON files larger than this many bytes are streamed (default 32 MiB).
    """
    o = _options(options)
    builder = ElectionBuilder(meta={"format": NAME})
    states: dict[str, ContestState] = {}
    name = None
    adjudication = 0
    files = expand([Path(p) for p in paths], sniff)
    with paused_gc():
        for path in files:
            if not path.is_file():
                raise InputError("no such file", file=path)
            xml = _is_xml(path)
            whole = not xml and path.stat().st_size <= o.stream_above
            has_ranks = _mentions(path, b"Rank>" if xml else b'"Rank"')
            cvrs: Any = ()
            if xml:
                header: Mapping = _xml_header(path)
            elif whole:
                header, cvrs = _json_whole(path)
            else:
                header = _json_header(path)
            defs = Definitions(header, str(path), o, builder, states, has_ranks)
            name = name if name is not None else defs.name
            walker = CardWalker(defs, builder, str(path))
            builder.start_file(path)
            add, n = walker.add, 0
            try:
                for n, cvr in enumerate(_xml_cvrs(path, walker) if xml else cvrs if whole else _json_stream(path)):
                    add(cvr, n)
            except (TypeError, AttributeError, ValueError, ModelError) as exc:  # a shape the walk does not check
                raise FormatError(f"unreadable CVR ({type(exc).__name__}: {exc})", file=path, record=n,
                                  field=f"CVR[{n}]", expected="a CVR as SP 1500-103 defines it") from None
            adjudication += walker.adjudication
            del header, cvrs, defs, walker  # free this file's objects before parsing the next
        builder.name = name if name is not None else files[0].stem
        if adjudication:
            builder.meta["needs_adjudication_skipped"] = str(adjudication)
        return finish(builder.build(), states)


def write(election: Election, out: Path, *, chunk_size: int = 10_000) -> list[Path]:
    """Write ``election`` as one NIST CDF JSON CastVoteRecordReport (schema-valid), atomically.

    Reading it back gives the same contests, choices, card ids (in order), attributes and marks. Standard fields
    carry all they can (docs/formats/cdf.md); the rest is in ``Code`` entries of ``OtherType`` ``veritally`` on the
    contest, selection, unit and device objects. CVRs are serialized ``chunk_size`` at a time.
    """
    from ._cdf_write import write_report

    if chunk_size < 1:
        raise ConfigError("chunk_size must be at least 1")
    return [write_report(election, Path(out), chunk_size)]
