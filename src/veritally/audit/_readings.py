"""The audit boards' readings, from the files they come in: an MVR CSV (``ballot_id, contest, choice``), a batch
tally CSV (``batch_id, contest, choice, votes``), or a CVR export read as the paper truth (mock audits) or as the
audited cards. Each returns ``{(ballot or batch id, contest): Reading}``; bad rows are InputErrors naming the row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError, InputError
from ..formats import read_cvrs
from ._batch import batch_id
from ._state import STATUSES, Reading, contest_votes, link_cvrs

if TYPE_CHECKING:
    from ._loaded import AuditState

__all__ = ["parse_mvr_csv", "parse_batch_csv", "mock_readings", "mock_batch_readings"]


def parse_mvr_csv(data: bytes, source: str, state: AuditState) -> dict[tuple[str, str], Reading]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text ({err.reason})", file=source) from None
    reader = csv.reader(io.StringIO(text), strict=True)
    header = [h.strip().lower() for h in next(reader, [])]
    for needed in ("ballot_id", "contest", "choice"):
        if needed not in header:
            raise InputError(f"no {needed} column", file=source, record=1,
                             expected="columns ballot_id, contest, choice (one row per mark)")
    col = {h: header.index(h) for h in ("ballot_id", "contest", "choice")}
    specs = {s.name: s for s in state.contests}
    votes: dict[tuple[str, str], dict[str, int]] = {}
    statuses: dict[tuple[str, str], tuple[str, int]] = {}
    try:
        for number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(f"row has {len(row)} cells, the header {len(header)}", file=source, record=number)
            bid, contest, choice = (row[col[k]].strip() for k in ("ballot_id", "contest", "choice"))
            if contest not in specs:
                raise InputError(f"contest {contest!r} is not in this audit", file=source, record=number,
                                 field="contest", expected=", ".join(specs))
            key = (bid, contest)
            if choice.upper() in STATUSES:
                if key in votes or (key in statuses and statuses[key][0] != choice.upper()):
                    raise InputError(f"{choice} together with other readings of {contest} on {bid}", file=source,
                                     record=number, field="choice")
                statuses[key] = (choice.upper(), number)
            elif choice in specs[contest].choices:
                if key in statuses:
                    raise InputError(f"a vote together with {statuses[key][0]} for {contest} on {bid}", file=source,
                                     record=number, field="choice")
                marks = votes.setdefault(key, {})
                if choice in marks:
                    raise InputError(f"{choice!r} marked twice for {contest} on {bid}", file=source, record=number,
                                     field="choice")
                marks[choice] = 1
            else:
                raise InputError(f"{choice!r} is not a choice of {contest}", file=source, record=number,
                                 field="choice", expected=", ".join(specs[contest].choices) + " or " + ", ".join(STATUSES))
    except csv.Error as err:
        raise InputError(f"malformed CSV: {err}", file=source) from None
    readings = {k: Reading(votes=v) for k, v in votes.items()}
    readings.update({k: Reading(status=s) for k, (s, _) in statuses.items()})
    return readings


def mock_readings(state: AuditState, paths: Sequence[Path], fmt: str, pending: dict[str, np.ndarray],
                   jurisdiction: str | None, *, missing_as_not_found: bool = True) -> dict[tuple[str, str], Reading]:
    """Readings of ``cards`` from a CVR export: of the paper truth of every card (mock audits, training, the
    demo: a card missing from it was not found), or of the audited cards (``missing_as_not_found=False``: a card
    missing from it is not read yet)."""
    paper = read_cvrs(paths, fmt)
    jurisdictions = [jurisdiction] if jurisdiction else sorted(set(state.cards.jurisdiction))
    if len(jurisdictions) != 1:
        raise ConfigError("several jurisdictions: give --jurisdiction for the paper export")
    linked = link_cvrs(state.cards, jurisdictions[0], paper, allow_gaps=True, source=str(paths[0]))
    row_of = np.full(state.cards.total, -1, np.int64)
    row_of[linked] = np.arange(paper.n_cards)
    readings: dict[tuple[str, str], Reading] = {}
    for spec in state.contests:
        wanted = np.asarray(pending[spec.name], np.int64)
        rows = row_of[wanted]
        ids = state.cards.ballot_ids(wanted)
        found = rows >= 0
        part = paper.take(rows[found])
        votes, present, _ = contest_votes(part, spec.name, spec.choices, zero_overvotes=False)
        k = 0
        for i, ok in enumerate(found.tolist()):
            if not ok:
                if missing_as_not_found:
                    readings[(ids[i], spec.name)] = Reading(status="NOT_FOUND")
                continue
            if not present[k]:
                readings[(ids[i], spec.name)] = Reading(status="NOT_ON_BALLOT")
            elif votes[k].sum() == 0:
                readings[(ids[i], spec.name)] = Reading(status="BLANK")
            else:
                readings[(ids[i], spec.name)] = Reading(votes={c: 1 for c, v in zip(spec.choices, votes[k]) if v})
            k += 1
    return readings


def parse_batch_csv(data: bytes, source: str, state: AuditState) -> dict[tuple[str, str], Reading]:
    """Hand tallies of batches: a CSV ``batch_id, contest, choice, votes`` (one row per choice)."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), strict=True))
    except (UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"unreadable CSV: {err}", file=source) from None
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if not {"batch_id", "contest", "choice", "votes"} <= set(header):
        raise InputError("a batch tally needs columns batch_id, contest, choice, votes", file=source, record=1)
    col = {h: header.index(h) for h in ("batch_id", "contest", "choice", "votes")}
    specs = {s.name: s for s in state.contests}
    tallies: dict[tuple[str, str], dict[str, int]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        bid, contest, choice, votes = (row[col[k]].strip() for k in ("batch_id", "contest", "choice", "votes"))
        if contest not in specs:
            raise InputError(f"contest {contest!r} is not in this audit", file=source, record=number, field="contest")
        if choice not in specs[contest].choices:
            raise InputError(f"{choice!r} is not a choice of {contest}", file=source, record=number, field="choice")
        if not votes.isdigit():
            raise InputError(f"{votes!r} is not a number of votes", file=source, record=number, field="votes",
                             expected="a whole number >= 0")
        tally = tallies.setdefault((bid, contest), {})
        if choice in tally:
            raise InputError(f"{choice!r} twice for {contest} in batch {bid}", file=source, record=number,
                             field="choice")
        tally[choice] = int(votes)
    return {k: Reading(votes=v) for k, v in tallies.items()}


def mock_batch_readings(state: AuditState, paths: Sequence[Path], fmt: str, pending: dict[str, np.ndarray],
                         jurisdiction: str | None) -> dict[tuple[str, str], Reading]:
    """Hand tallies of the batches to audit, counted from a CVR export of the paper truth (mock batch audits)."""
    paper = read_cvrs(paths, fmt)
    jurisdictions = [jurisdiction] if jurisdiction else sorted(set(state.cards.jurisdiction))
    if len(jurisdictions) != 1:
        raise ConfigError("several jurisdictions: give --jurisdiction for the paper export")
    linked = link_cvrs(state.cards, jurisdictions[0], paper, allow_gaps=True, source=str(paths[0]))
    batch_of_row = state.cards.batch_of(linked)
    readings: dict[tuple[str, str], Reading] = {}
    for spec in state.contests:
        votes, _, _ = contest_votes(paper, spec.name, spec.choices)  # a hand tally counts no overvote
        per_batch = np.zeros((len(state.cards.batch), len(spec.choices)), np.int64)
        np.add.at(per_batch, batch_of_row, votes)
        for b in np.asarray(pending[spec.name], np.int64).tolist():
            readings[(batch_id(state.cards, b), spec.name)] = Reading(
                votes={c: int(v) for c, v in zip(spec.choices, per_batch[b])})
    return readings
