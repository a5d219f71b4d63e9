"""Batch-comparison audits in the workflow: MACRO on the reported batch tallies, batches drawn by PPEB from the
SHA-256 stream (:func:`~veritally.audit.sampling.ppeb_sample`), hand tallies of the drawn batches.

A batch audit checks one contest (MACRO's error bounds, and so the sampling weights, are the contest's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InputError
from .macro import macro_max_errors, macro_risk, macro_sample_size
from .sampling import ppeb_sample
from ._state import AuditSettings, Cards, ContestSpec, Reading

__all__ = ["BatchTallies", "batch_tallies", "batch_weights", "batch_draws", "batch_status", "batch_options",
           "batch_id"]


def batch_id(cards: Cards, row: int) -> str:
    """A batch's id in MVR files and retrieval lists: the ballot id of position 0."""
    from ._state import ballot_id

    return ballot_id(cards.jurisdiction[row], cards.tabulator[row], cards.batch[row], 0)


@dataclass(frozen=True)
class BatchTallies:
    """A contest's reported votes per manifest batch: (batches × choices), and which batches report the contest."""

    votes: np.ndarray
    has_contest: np.ndarray


def batch_tallies(cards: Cards, spec: ContestSpec, reported) -> BatchTallies:
    """The reported results' batch rows of the contest, matched to manifest batches by batch name."""
    units = reported.by_unit().get(spec.name) if reported is not None and reported.unit_kind == "batch" else None
    if not units:
        raise ConfigError(f"contest {spec.name!r}: a batch audit needs reported results per batch "
                          "(columns contest, choice, batch, votes)")
    by_name: dict[str, list[int]] = {}
    for row, name in enumerate(cards.batch):
        by_name.setdefault(name, []).append(row)
    votes = np.zeros((len(cards.batch), len(spec.choices)), np.int64)
    has = np.zeros(len(cards.batch), bool)
    index = {c: k for k, c in enumerate(spec.choices)}
    for name, tally in units.items():
        rows = by_name.get(name)
        if not rows:
            raise InputError(f"reported results name batch {name!r}, which no manifest lists", field="batch",
                             expected="batch names of the manifests")
        if len(rows) > 1:
            raise InputError(f"batch name {name!r} is in several manifests or tabulators: reported batch rows "
                             "cannot say which", field="batch", expected="batch names unique across the audit")
        has[rows[0]] = True
        for choice, v in tally.items():
            if choice in index:
                votes[rows[0], index[choice]] = v
    return BatchTallies(votes, has)


def batch_weights(spec: ContestSpec, cards: Cards, tallies: BatchTallies) -> np.ndarray:
    """u_p, MACRO's error bound of every batch (0 for a batch without the contest)."""
    return macro_max_errors(spec.reported, spec.choices, tallies.votes, cards.ballots, has_contest=tallies.has_contest)


def batch_draws(settings: AuditSettings, cards: Cards, weights: np.ndarray, n: int, start: int):
    """Draws ``start+1 … start+n`` of the PPEB sample (with replacement, probability ∝ u_p)."""
    if not np.all(np.isfinite(weights)):
        raise ConfigError("a margin is zero or less after pending and unauditable ballots: count every batch by hand")
    batches = list(zip(cards.jurisdiction, cards.tabulator, cards.batch))
    return ppeb_sample(batches, [float(w) for w in weights], settings.seed, n, start=start)


def _audited(readings: Mapping[int, Reading], spec: ContestSpec, batches) -> dict[int, np.ndarray | None]:
    out = {}
    for b in batches:
        reading = readings.get(b)
        if reading is None:
            continue
        if reading.status == "NOT_ON_BALLOT":
            out[b] = None
        elif reading.status:  # a batch that cannot be found or counted: the worst case, every vote to the loser
            raise ConfigError(f"batch {b}: {reading.status} — a batch that cannot be hand counted must be counted "
                              "as the worst case by hand; record its tally")
        else:
            out[b] = np.array([reading.votes.get(c, 0) for c in spec.choices], float)
    return out


def batch_status(settings: AuditSettings, cards: Cards, spec: ContestSpec, tallies: BatchTallies,
                 draw_batches: np.ndarray, readings: Mapping[int, Reading], status) -> None:
    """Fill ``status`` (a ContestStatus) with the MACRO p-value of the hand-tallied draws."""
    audited = _audited(readings, spec, np.unique(draw_batches).tolist())
    drawn = [b for b in draw_batches.tolist() if b in audited]
    p, _ = macro_risk(spec.reported, spec.choices, tallies.votes, cards.ballots, drawn, audited, settings.risk_limit,
                      has_contest=tallies.has_contest)
    w, l = min(spec.reported.pairs, key=lambda pair: spec.reported.tally[pair[0]] - spec.reported.tally[pair[1]])
    status.assertions = {f"{w} v {l} (MACRO)": p}
    errors = [b for b, row in audited.items() if row is not None and np.any(row != tallies.votes[b])]
    status.discrepancies = {"batches_with_errors": len(errors)}


def batch_options(settings: AuditSettings, cards: Cards, spec: ContestSpec, tallies: BatchTallies,
                  draw_batches: np.ndarray, readings: Mapping[int, Reading]) -> dict[str, dict]:
    """MACRO's next-round size in additional draws (Arlo's, with its one extra batch), or all-ballots."""
    audited = _audited(readings, spec, np.unique(draw_batches).tolist())
    drawn = [b for b in draw_batches.tolist() if b in audited]
    n_batches = int(tallies.has_contest.sum())
    if len(audited) >= len(cards.batch):
        return {"all-ballots": {"size": len(cards.batch), "prob": None}}
    size = macro_sample_size(spec.reported, spec.choices, tallies.votes, cards.ballots, drawn, audited,
                             settings.risk_limit, has_contest=tallies.has_contest)
    if size >= n_batches:
        return {"all-ballots": {"size": len(cards.batch), "prob": None}}
    return {"macro": {"size": size, "prob": None}}
