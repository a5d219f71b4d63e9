"""Ballot manifests: how many paper ballot cards each batch holds, and where the batch is stored.

The CSV is Arlo's (VotingWorks), one row per batch (docs/formats/manifest.md)::

    Container,Tabulator,Batch Name,Number of Ballots,CVR
    Polling Place 1,ICP 101,101-1,211,Y

``Batch Name`` and ``Number of Ballots`` are required; ``Container``, ``Tabulator``, ``CVR`` (Y/N: whether the
batch's cards have cast vote records, for hybrid audits) and ``Counting Group`` are optional. Header names are
matched case-insensitively, other columns are ignored. A batch is identified by (Tabulator, Batch Name) when there
is a Tabulator column, as Arlo does, else by its name.

:func:`reconcile` sets a manifest against CVRs: every batch's card count against the manifest's, batches the
CVRs have and the manifest lacks, and the reverse. :func:`check_cvrs` turns the first disagreement into a
:class:`~veritally.errors.ManifestMismatch` naming the manifest row (or the card) and the field.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from ..errors import FormatError, InputError, ManifestMismatch
from ..model import Election

__all__ = ["BallotManifest", "BatchCards", "BatchDifference", "ManifestReconciliation", "read_manifest", "reconcile",
           "check_cvrs"]

#: Canonical column → accepted header names (lower case).
COLUMNS = {
    "container": ("container",),
    "tabulator": ("tabulator", "tabulator id", "tabulatornum"),
    "batch": ("batch name", "batch", "batch id"),
    "ballots": ("number of ballots", "number of cards", "ballots", "cards", "ballot count"),
    "cvr": ("cvr",),
    "counting_group": ("counting group",),
}
_YES = {"y", "yes", "true", "1"}
_NO = {"n", "no", "false", "0"}
_INTEGER = re.compile(r"[0-9]+")


@dataclass
class BallotManifest:
    """The rows of a ballot manifest, columnar. Optional columns are None when the file lacks them."""

    batch: list[str]
    ballots: np.ndarray  #: int64 per row
    tabulator: list[str] | None = None
    container: list[str] | None = None
    cvr: np.ndarray | None = None  #: bool per row
    counting_group: list[str] | None = None
    source: str | None = None
    rows: list[int] = field(default_factory=list)  #: file row of each batch (1 = the header)

    def __len__(self) -> int:
        return len(self.batch)

    @property
    def total(self) -> int:
        return int(self.ballots.sum())

    def key(self, i: int) -> tuple[str | None, str]:
        """(tabulator, batch name) of row ``i``."""
        return (self.tabulator[i] if self.tabulator is not None else None, self.batch[i])

    def label(self, i: int) -> str:
        tab, name = self.key(i)
        return name if tab is None else f"{name} (tabulator {tab})"


def read_manifest(path: str | PathLike[str]) -> BallotManifest:
    """Read a ballot manifest CSV; FormatError naming the row and column of anything unreadable."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file" if not p.exists() else "not a file", file=p)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            return _parse(csv.reader(fh, strict=True), p)
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=p,
                          expected="a UTF-8 CSV file") from None
    except csv.Error as exc:
        raise FormatError(f"malformed CSV: {exc}", file=p) from None


def _parse(reader, path: Path) -> BallotManifest:
    header = next(reader, None)
    if header is None or not any(h.strip() for h in header):
        raise FormatError("empty file", file=path, record=1, expected="a header row: Batch Name, Number of Ballots")
    positions: dict[str, int] = {}
    for i, h in enumerate(header):
        name = " ".join(h.split()).lower()
        for key, names in COLUMNS.items():
            if name in names:
                if key in positions:
                    raise FormatError(f"two columns for {key!r} ({header[positions[key]]!r} and {h!r})", file=path,
                                      record=1, field=h)
                positions[key] = i
    for key, shown in (("batch", "Batch Name"), ("ballots", "Number of Ballots")):
        if key not in positions:
            raise FormatError(f"no {shown} column", file=path, record=1,
                              expected="columns [Container,] [Tabulator,] Batch Name, Number of Ballots [, CVR]")
    values: dict[str, list[str]] = {k: [] for k in positions}
    rows: list[int] = []
    width = len(header)
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise FormatError(f"row has {len(row)} cells, the header {width}", file=path, record=number,
                              expected=f"{width} cells on every row")
        for key, i in positions.items():
            values[key].append(row[i].strip())
        rows.append(number)
    ballots = np.zeros(len(rows), np.int64)
    for j, (cell, number) in enumerate(zip(values["ballots"], rows)):
        if not _INTEGER.fullmatch(cell):
            raise FormatError(f"{cell!r} is not a number of ballots", file=path, record=number,
                              field=header[positions["ballots"]], expected="a whole number >= 0, no separators")
        ballots[j] = int(cell)
    for key in ("batch", "tabulator"):
        for cell, number in zip(values.get(key, ()), rows):
            if not cell:
                raise FormatError("empty cell", file=path, record=number, field=header[positions[key]],
                                  expected="a batch name" if key == "batch" else "a tabulator")
    cvr = None
    if "cvr" in positions:
        cvr = np.zeros(len(rows), bool)
        for j, (cell, number) in enumerate(zip(values["cvr"], rows)):
            if cell.lower() not in _YES | _NO:
                raise FormatError(f"{cell!r} is not Y or N", file=path, record=number,
                                  field=header[positions["cvr"]], expected="Y or N")
            cvr[j] = cell.lower() in _YES
    manifest = BallotManifest(values["batch"], ballots, values.get("tabulator"), values.get("container"), cvr,
                              values.get("counting_group"), str(path), rows)
    seen: dict[tuple, int] = {}
    for j in range(len(manifest)):
        first = seen.setdefault(manifest.key(j), j)
        if first != j:
            raise FormatError(f"batch {manifest.label(j)} appears twice (first at row {rows[first]})", file=path,
                              record=rows[j], field=header[positions["batch"]], expected="each batch once")
    return manifest


# against the CVRs ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchDifference:
    """A batch on which the manifest and the CVRs disagree.

    ``problem`` is ``"count"`` (both have it, with other numbers), ``"not_in_cvrs"``, ``"not_in_manifest"``, or
    ``"unexpected_cvrs"`` (the manifest says the batch has no CVRs, column ``CVR`` = N, but the CVRs hold cards of
    it). A count of None: the batch is absent on that side.
    """

    batch: str  #: the batch as the manifest names it, or as the CVRs do when the manifest lacks it
    tabulator: str | None
    manifest_ballots: int | None
    cvr_cards: int | None
    row: int | None  #: manifest row
    problem: str = "count"

    def to_json(self) -> dict:
        return {"batch": self.batch, "tabulator": self.tabulator, "manifest_ballots": self.manifest_ballots,
                "cvr_cards": self.cvr_cards, "manifest_row": self.row, "problem": self.problem}


@dataclass
class ManifestReconciliation:
    """Manifest against CVRs: totals, and every batch that differs."""

    manifest_ballots: int
    cvr_cards: int
    batches: int  #: manifest rows
    matched: int  #: manifest rows matched to CVR batches
    differences: list[BatchDifference]
    cards_without_batch: int  #: CVR cards with no batch attribute (cannot be placed in the manifest)
    ballots_without_cvrs: int = 0  #: ballots of manifest batches marked ``CVR`` = N (hybrid audits)

    @property
    def agree(self) -> bool:
        return not self.differences and not self.cards_without_batch

    def to_json(self) -> dict:
        return {"manifest_ballots": self.manifest_ballots, "cvr_cards": self.cvr_cards, "batches": self.batches,
                "matched": self.matched, "cards_without_batch": self.cards_without_batch,
                "ballots_without_cvrs": self.ballots_without_cvrs, "agree": self.agree,
                "differences": [d.to_json() for d in self.differences]}


BatchKey = tuple[str | None, str]  #: (tabulator label or None, batch label) of CVR cards


@dataclass
class BatchCards:
    """CVR cards per (tabulator, batch), summed over chunks of cards.

    Batches are keyed with their tabulator because vendors number batches per tabulator (ES&S, Hart, Clear Ballot
    batch "1" repeats across machines), as ballot manifests do.
    """

    cards: dict[BatchKey, int] = field(default_factory=dict)
    without_batch: int = 0  #: cards with no batch attribute
    total: int = 0

    @classmethod
    def of(cls, election: Election) -> BatchCards:
        return cls().add(election)

    def add(self, election: Election) -> BatchCards:
        """Add a chunk's cards (vectorized: one ``np.unique`` over (tabulator, batch) codes); returns self."""
        batch = election.cards.attribute("batch")
        tabulator = election.cards.attribute("tabulator")
        have = batch.codes >= 0
        width = len(batch.labels)
        pairs, counts = np.unique((tabulator.codes[have].astype(np.int64) + 1) * width + batch.codes[have],
                                  return_counts=True)
        tab_labels = [None, *tabulator.labels.tolist()]  # code -1 (no tabulator) is index 0
        batch_labels = batch.labels.tolist()
        for pair, n in zip(pairs.tolist(), counts.tolist()):
            key = (tab_labels[pair // width], batch_labels[pair % width])
            self.cards[key] = self.cards.get(key, 0) + n
        self.without_batch += int((~have).sum())
        self.total += election.n_cards
        return self


def _matches(tab: str | None, name: str, by_batch: dict[str, list[BatchKey]], used: set[BatchKey]) -> list[BatchKey]:
    """The CVR batches a manifest row stands for (see :func:`reconcile`), not yet taken by an earlier row."""
    def free(keys):
        return [k for k in keys if k not in used]

    if tab is None:
        return free(by_batch.get(name, []))
    for keys in ([k for k in by_batch.get(name, []) if k[0] == tab],
                 by_batch.get(f"{tab}-{name}", []),
                 [k for k in by_batch.get(name, []) if k[0] is None]):
        if free(keys):
            return free(keys)
    return []


def reconcile(manifest: BallotManifest, cvrs: Election | BatchCards) -> ManifestReconciliation:
    """Match manifest batches to the CVRs' (``tabulator``, ``batch``) attributes and compare card counts.

    A manifest row with a Tabulator matches the CVR batch of that name on that tabulator; else the CVR batch
    labelled ``<Tabulator>-<Batch Name>`` (how Dominion batches are labelled, batch numbers repeating across
    tabulators); else the CVR batch of that name on cards without a tabulator. A row without a Tabulator matches
    the CVR batch of that name on every tabulator. A row with ``CVR`` = N must match no CVR cards. CVR batches no
    row matches are differences too: cards the manifest does not account for.
    """
    found = cvrs if isinstance(cvrs, BatchCards) else BatchCards.of(cvrs)
    by_batch: dict[str, list[BatchKey]] = {}
    for key in found.cards:
        by_batch.setdefault(key[1], []).append(key)
    differences = []
    used: set[BatchKey] = set()
    matched = without = 0
    for i in range(len(manifest)):
        tab, name = manifest.key(i)
        keys = _matches(tab, name, by_batch, used)
        used.update(keys)
        ballots, row = int(manifest.ballots[i]), manifest.rows[i]
        cards = sum(found.cards[k] for k in keys)
        if manifest.cvr is not None and not manifest.cvr[i]:
            without += ballots
            if keys:
                differences.append(BatchDifference(name, tab, ballots, cards, row, "unexpected_cvrs"))
            continue
        if not keys:
            differences.append(BatchDifference(name, tab, ballots, None, row, "not_in_cvrs"))
            continue
        matched += 1
        if cards != ballots:
            differences.append(BatchDifference(name, tab, ballots, cards, row))
    for key, n in found.cards.items():
        if key not in used:
            differences.append(BatchDifference(key[1], key[0], None, n, None, "not_in_manifest"))
    return ManifestReconciliation(manifest.total, found.total, len(manifest), matched, differences,
                                  found.without_batch, without)


def check_cvrs(manifest: BallotManifest, cvrs: Election | BatchCards) -> ManifestReconciliation:
    """:func:`reconcile`, raising :class:`ManifestMismatch` on the first disagreement (and saying how many)."""
    result = reconcile(manifest, cvrs)
    if result.agree:
        return result
    more = len(result.differences) - 1
    tail = f"; {more} more batch(es) differ" if more > 0 else ""
    if result.cards_without_batch and not result.differences:
        raise ManifestMismatch(f"{result.cards_without_batch} CVR card(s) have no batch, so the manifest cannot "
                               "account for them", file=manifest.source, field="Batch Name",
                               expected="every CVR card in a manifest batch")
    d = result.differences[0]
    where = repr(d.batch) + (f" (tabulator {d.tabulator})" if d.tabulator is not None else "")
    if d.problem == "not_in_manifest":
        raise ManifestMismatch(f"the CVRs have {d.cvr_cards} card(s) in batch {where}, which the manifest does "
                               f"not list{tail}", file=manifest.source, field="Batch Name",
                               expected="a manifest row for every CVR batch")
    if d.problem == "not_in_cvrs":
        raise ManifestMismatch(f"batch {where} ({d.manifest_ballots} ballots) has no cards in the CVRs{tail}",
                               file=manifest.source, record=d.row, field="Batch Name",
                               expected="a batch name the CVRs use (or <Tabulator>-<Batch Name>)")
    if d.problem == "unexpected_cvrs":
        raise ManifestMismatch(f"batch {where} is marked as having no CVRs, but the CVRs hold {d.cvr_cards} card(s) "
                               f"of it{tail}", file=manifest.source, record=d.row, field="CVR",
                               expected="Y for a batch whose cards have CVRs")
    raise ManifestMismatch(f"batch {where}: the manifest says {d.manifest_ballots} ballots, the CVRs hold "
                           f"{d.cvr_cards} cards{tail}", file=manifest.source, record=d.row,
                           field="Number of Ballots", expected=f"{d.cvr_cards}, as in the CVRs")
