"""Hart Verity CVR writer (:func:`veritally.formats.hart.write`).

Each card's XML is assembled from text pieces with NumPy string operations: every contest's ``<Contest>`` element
is rendered once per distinct mark pattern (a few hundred, not one per card), attribute elements once per label,
and the pieces are concatenated for a chunk of cards at a time. The only per-card Python is writing the file.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

from .._io import atomic_dir, atomic_path
from ..errors import ConfigError
from ..model import STRING, Categorical, Contest, ContestMarks, Election, contest_to_dict, unique_card_check
from .hart import CONTESTS_FILE, EXT_FIELDS, EXT_NAMESPACE, NAMESPACE, _is_cvr_name

_HEAD = ('\ufeff<?xml version="1.0" encoding="utf-8"?><Cvr xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
         f'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="{NAMESPACE}"><Contests>')
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not allowed in XML 1.0
_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]{1,80}\Z")
_CHUNK = 8192  #: cards assembled at a time (bounds the text held in memory)
_HART_ATTRS = {"precinct", "precinct_portion", "batch", "tabulator"}
_EXT_TAGS = {v: k for k, v in EXT_FIELDS.items()}  #: attribute → element of the Veritally extension


def _esc(text: str, what: str) -> str:
    """``text`` as XML character data (``\\r`` as a reference: parsers turn a raw one into ``\\n``)."""
    if _ILLEGAL.search(text):
        raise ConfigError(f"{what} {text!r} holds a character XML 1.0 cannot carry")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _element(tag: str, text: str | None, what: str) -> str:
    return "" if text is None else f"<{tag}>{_esc(text, what)}</{tag}>"


def _per_card(cat: Categorical, tag: str, what: str) -> np.ndarray:
    """``<tag>label</tag>`` of every card ("" where the label is missing), one rendering per label."""
    labels = cat.labels.tolist()
    if "" in labels:
        raise ConfigError(f"{what} has an empty label; Hart XML cannot tell it from a missing one")
    table = np.array([_element(tag, label, what) for label in labels] + [""], dtype=STRING)
    return table[np.where(cat.codes < 0, len(labels), cat.codes)]


def _check(election: Election) -> None:
    cards = election.cards
    unknown = set(cards.attributes) - _HART_ATTRS - set(_EXT_TAGS)
    if unknown:
        raise ConfigError(f"card attribute(s) {', '.join(sorted(unknown))} cannot be written as Hart CVRs")
    ids = cards.card_id
    if len(ids) and (np.strings.str_len(np.strings.strip(ids)) == 0).any():
        raise ConfigError("a card has an empty id; a Hart CVR needs a CvrGuid")
    dup = unique_card_check(ids)
    if len(dup):
        raise ConfigError(f"card id {ids[dup[1]]!s} appears twice; each Hart CVR needs its own CvrGuid")
    contest_ids = [c.id for c in election.contests]
    if len(set(contest_ids)) != len(contest_ids) or not all(contest_ids):
        raise ConfigError("Hart contests need distinct, non-empty ids (the contest Id element)")
    for contest, marks in zip(election.contests, cards.marks):
        choice_ids = [c.id for c in contest.choices]
        if len(set(choice_ids)) != len(choice_ids) or not all(choice_ids):
            raise ConfigError(f"contest {contest.name!r}: choices need distinct, non-empty ids (the option Id)")
        flagged = (marks.masks & marks.masks.dtype.type(contest.overvote_flag)) != 0
        bad = np.flatnonzero((flagged.any(axis=1) if contest.is_ranked else flagged) & marks.present)
        if len(bad):
            raise ConfigError(f"card {ids[bad[0]]!s}, contest {contest.name!r}: an overvote whose choices are "
                              "unknown cannot be written; Hart lists every marked option")


def _contest_pieces(contest: Contest, marks: ContestMarks) -> np.ndarray:
    """The ``<Contest>`` element of every card ("" where absent), rendered once per distinct mark pattern."""
    n = len(marks.present)
    rows = marks.masks[marks.present]
    if contest.is_ranked:
        patterns, inverse = np.unique(rows, axis=0, return_inverse=True)
    else:
        patterns, inverse = np.unique(rows, return_inverse=True)
    head = f"<Contest>{_element('Name', contest.name, 'contest name')}{_element('Id', contest.id, 'contest id')}"
    opens, closes = [], []
    for c in contest.choices:
        opens.append(f"<Option>{_element('Name', c.name or None, 'choice name')}{_element('Id', c.id, 'choice id')}"
                     "<Value>")
        closes.append("</Value><WriteInData><WriteInDataStatus>Unresolved</WriteInDataStatus></WriteInData>"
                      "</Option>" if c.write_in else "</Value></Option>")
    texts = []
    for pattern in patterns.tolist():
        levels = pattern if contest.is_ranked else [pattern]
        options = []
        for b in range(len(contest.choices)):
            value = "".join("1" if m >> b & 1 else "0" for m in levels)
            if "1" in value:
                options.append(f"{opens[b]}{value}{closes[b]}")
        if contest.is_ranked:  # Hart: Undervotes = unused ranks; Overvoted when a rank has several marks
            over, under = any(m & (m - 1) for m in levels), sum(1 for m in levels if not m)
        else:
            over, under = len(options) > contest.votes_allowed, contest.votes_allowed - len(options)
        body = f"<Options>{''.join(options)}</Options>" if options else "<Options />"
        tail = "<Overvoted />" if over else f"<Undervotes>{under}</Undervotes>" if under > 0 else ""
        texts.append(f"{head}{body}{tail}</Contest>")
    table = np.array([*texts, ""], dtype=STRING)
    index = np.full(n, len(texts), np.int64)
    index[marks.present] = inverse.reshape(-1)
    return table[index]


def _documents(election: Election) -> Iterator[tuple[str, bytes]]:
    """(file name, XML bytes) of every card, in card order (the names sort in that order)."""
    cards = election.cards
    n = len(cards)
    contests = [_contest_pieces(c, m) for c, m in zip(election.contests, cards.marks)]
    split = np.strings.add(np.strings.add(
        "<PrecinctSplit>", _per_card(cards.attribute("precinct"), "Name", "precinct")),
        _per_card(cards.attribute("precinct_portion"), "Id", "precinct portion"))
    ext = np.full(n, "", dtype=STRING)
    for key, tag in _EXT_TAGS.items():
        ext = np.strings.add(ext, _per_card(cards.attribute(key), tag, key))
    ext = np.where(ext == "", ext, np.strings.add(np.strings.add(f'<Veritally xmlns="{EXT_NAMESPACE}">', ext),
                                                  "</Veritally>"))
    ids = cards.card_id
    if _ILLEGAL.search("".join(ids.tolist())):
        bad = next(i for i in ids.tolist() if _ILLEGAL.search(i))
        raise ConfigError(f"card id {bad!r} holds a character XML 1.0 cannot carry")
    escaped = ids
    for raw, ref in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")):
        escaped = np.strings.replace(escaped, raw, ref)
    tail = [np.strings.add(split, "</PrecinctSplit>"), _per_card(cards.attribute("batch"), "BatchNumber", "batch"),
            _per_card(cards.attribute("tabulator"), "DeviceSerialNumber", "tabulator"),
            np.strings.add(np.strings.add("<CvrGuid>", escaped), "</CvrGuid>"), ext]
    width = len(str(n))
    id_list = ids.tolist()
    for start in range(0, n, _CHUNK):
        sl = slice(start, start + _CHUNK)
        doc = np.full(len(id_list[sl]), _HEAD, dtype=STRING)
        for piece in contests:
            doc = np.strings.add(doc, piece[sl])
        doc = np.strings.add(doc, "</Contests>")
        for piece in tail:
            doc = np.strings.add(doc, piece[sl])
        for i, (card_id, text) in enumerate(zip(id_list[sl], doc.tolist()), start + 1):
            name = f"{i:0{width}d}_{card_id}.xml" if _SAFE_NAME.match(card_id) else f"{i:0{width}d}.xml"
            yield name, f"{text}</Cvr>".encode()


def _contests_file(election: Election) -> bytes:
    return orjson.dumps({"Veritally": "Hart CVR contest definitions", "version": 1, "election": election.name,
                         "contests": [contest_to_dict(c) for c in election.contests]}, option=orjson.OPT_INDENT_2)


def _is_hart_folder(out: Path) -> bool:
    """A folder holding only what :func:`write_hart` writes (so it may be replaced)."""
    return all(p.is_file() and (_is_cvr_name(p.name) or p.name.lower().endswith(".sig.xml") or p.name == CONTESTS_FILE)
               for p in out.iterdir())


def write_hart(election: Election, out: Path) -> list[Path]:
    """See :func:`veritally.formats.hart.write`."""
    _check(election)
    documents = _documents(election)  # a generator: nothing is rendered before the checks above pass
    if out.suffix.lower() == ".zip":
        with atomic_path(out) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(CONTESTS_FILE, _contests_file(election))
            for name, data in documents:
                zf.writestr(name, data)
        return [out]
    with atomic_dir(out, _is_hart_folder, "Hart CVR folder (only .xml files)") as tmp:
        (tmp / CONTESTS_FILE).write_bytes(_contests_file(election))
        names = [CONTESTS_FILE]
        root = str(tmp)
        for name, data in documents:
            with open(os.path.join(root, name), "wb") as fh:
                fh.write(data)
            names.append(name)
    return [out / name for name in names]
