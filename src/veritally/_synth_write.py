"""The files of a synthetic election (:func:`veritally.synth.write_synthetic`): CVRs, ballot manifest, reported
results with an optional planted miscount, and the truth.

Kept apart from :mod:`veritally.synth` (which only draws cards) because it is about files and plants.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._io import atomic_write
from .formats import write_cvrs
from .formats.parquet import ChunkedWriter, concat
from .formats.reported import Reported, write_reported_csv
from .model import ContestKind, Election
from .report.json_out import write_json
from .synth import CVR_FILE, GENERATOR_VERSION, County, _rng, generate, plan_county
from .tabulate import ElectionCount, tabulate_chunks
from .tabulate.plurality import decide_winners

__all__ = ["write_files"]


def write_files(out: Path, *, seed: str, n_cards: int, fmt: str, plant: str | None, outcome_changing: bool) -> dict:
    """Write everything into the (new, empty) folder ``out``; returns the truth."""
    county = plan_county(seed, n_cards)
    planted_batch = int(_rng(seed, 3).integers(0, len(county.batch_size))) if plant in (
        "double-count", "drop-batch") else None
    manifest = _manifest_rows(county)
    in_batch: list[Election] = []
    kept: list[Election] = []

    def chunks() -> Iterator[Election]:
        for chunk in generate(seed, n_cards, county):
            if planted_batch is not None:
                in_batch.append(chunk.take(chunk.cards.attribute("batch").codes == planted_batch))
            if fmt != "parquet":
                kept.append(chunk)
            yield chunk

    cvrs = out / "cvrs"
    target = cvrs if CVR_FILE[fmt] is None else cvrs / CVR_FILE[fmt]
    if fmt == "parquet":  # streamed: one chunk in memory at a time
        cvrs.mkdir()
        with ChunkedWriter(target) as writer:
            count = tabulate_chunks((writer.write(c) for c in chunks()), by="precinct")
    else:
        count = tabulate_chunks(chunks(), by="precinct")
        election = concat(kept) if len(kept) > 1 else kept[0]
        kept.clear()
        if CVR_FILE[fmt] is not None:
            cvrs.mkdir()
        write_cvrs(election, target, fmt)
        del election
    reported = Reported.from_count(count)
    planted = None
    if plant in ("double-count", "drop-batch"):
        batch_count = tabulate_chunks(in_batch, by="precinct")
        reported, planted = _plant_batch(reported, batch_count, county, planted_batch, plant)
    elif plant == "shift-votes":
        reported, planted = _plant_shift(reported, count, seed, outcome_changing)
    if planted is not None:
        planted["changes_outcome"] = _changed_outcomes(count, reported)
    write_reported_csv(reported, out / "reported.csv")
    _write_manifest(out / "manifest.csv", manifest)
    truth = {
        "generator": f"veritally.synth {GENERATOR_VERSION}",
        "seed": seed,
        "cards": count.cards,
        "format": fmt,
        "cvrs": str(target.relative_to(out)),
        "precincts": len(county.precincts),
        "tabulators": len(county.tabulators),
        "batches": len(county.batch_size),
        "ballot_styles": int(len(np.unique(county.style))),
        "contests": [{k: v for k, v in cc.to_json().items() if k != "by"} for cc in count.contests],
        "planted": planted,
    }
    write_json(out / "truth.json", truth)
    return truth


# plants --------------------------------------------------------------------------------------------------------------
def _with_deltas(reported: Reported, deltas: dict[tuple[str, str, str], int]) -> Reported:
    index = {key: i for i, key in enumerate(zip(reported.contest, reported.choice, reported.unit))}
    votes = reported.votes.copy()
    for key, d in deltas.items():
        votes[index[key]] += d
    return Reported(reported.contest, reported.choice, reported.unit, votes, reported.unit_kind)


def _plant_batch(reported: Reported, batch_count: ElectionCount, county: County, batch: int,
                 kind: str) -> tuple[Reported, dict]:
    sign = 1 if kind == "double-count" else -1
    deltas: dict[tuple[str, str, str], int] = {}
    for cc in batch_count.contests:
        for unit, t in cc.by.items():
            for name, v in zip(cc.contest.choice_names, t.tallies[0].tolist()):
                if v:
                    deltas[(cc.contest.name, name, unit)] = sign * v
    label = str(county.batch_labels[batch])
    tabulator = str(county.tabulators[county.batch_tabulator[batch]])
    precincts = sorted({u for cc in batch_count.contests for u in cc.by})
    verb = "counted twice" if kind == "double-count" else "left out"
    planted = {"kind": kind, "batch": label, "tabulator": tabulator, "cards": batch_count.cards,
               "precincts": precincts, "votes": int(sum(abs(v) for v in deltas.values())),
               "description": f"batch {label} ({batch_count.cards} cards, tabulator {tabulator}) {verb} in the "
                              f"reported results of precinct(s) {', '.join(precincts)}"}
    return _with_deltas(reported, deltas), planted


def _plant_shift(reported: Reported, count: ElectionCount, seed: str, outcome_changing: bool) -> tuple[Reported, dict]:
    """Move votes from a plurality contest's winner to its runner-up in one precinct of the reported results.

    With ``outcome_changing``, the contest and precinct are those needing the fewest moved votes to flip the
    winner (more than half the margin); otherwise a random contest and precinct, 5 % of the winner's votes there.
    """
    rng = _rng(seed, 4)
    options = []
    for cc in count.contests:
        if cc.contest.kind is not ContestKind.PLURALITY or len(cc.contest.choices) < 2 or not cc.by:
            continue
        t = cc.total.tallies[0]
        winner, runner = (int(i) for i in np.argsort(-t, kind="stable")[:2])
        need = int(t[winner] - t[runner]) // 2 + 1
        unit, held = max(((u, int(x.tallies[0, winner])) for u, x in cc.by.items()), key=lambda p: (p[1], p[0]))
        options.append((cc, winner, runner, need, unit, held))
    if outcome_changing:
        feasible = [o for o in options if o[3] <= o[5]]
        cc, winner, runner, need, unit, held = min(feasible or options, key=lambda o: (o[3] > o[5], o[3], o[0].contest.id))
        votes = min(need, held)
    else:
        cc, winner, runner, _need, _unit, _held = options[int(rng.integers(0, len(options)))]
        units = list(cc.by)
        unit = units[int(rng.integers(0, len(units)))]
        votes = max(1, round(0.05 * int(cc.by[unit].tallies[0, winner])))
        votes = min(votes, int(cc.by[unit].tallies[0, winner]))
    names = cc.contest.choice_names
    name = cc.contest.name
    deltas = {(name, names[winner], unit): -votes, (name, names[runner], unit): votes}
    planted = {"kind": "shift-votes", "contest": name, "precinct": unit, "from": names[winner],
               "to": names[runner], "votes": votes,
               "description": f"{votes} votes moved from {names[winner]} to {names[runner]} in precinct {unit} "
                              f"of {name}"}
    return _with_deltas(reported, deltas), planted


def _changed_outcomes(count: ElectionCount, reported: Reported) -> list[str]:
    """Contests (not ranked) whose reported winners differ from the true ones."""
    totals = reported.totals()
    changed = []
    for cc in count.contests:
        if cc.contest.is_ranked or cc.contest.name not in totals:
            continue
        rep = np.array([totals[cc.contest.name].get(n, 0) for n in cc.contest.choice_names], np.int64)
        if decide_winners(cc.contest, rep) != decide_winners(cc.contest, cc.total.tallies[0]):
            changed.append(cc.contest.name)
    return changed


# the ballot manifest -------------------------------------------------------------------------------------------------
MANIFEST_HEADER = ("Container", "Tabulator", "Batch Name", "Number of Ballots")


def _manifest_rows(county: County) -> list[tuple[str, str, str, int]]:
    tab = county.batch_tabulator
    return list(zip(county.containers[tab].tolist(), county.tabulators[tab].tolist(),
                    county.batch_labels.tolist(), county.batch_size.tolist()))


def _write_manifest(path: Path, rows: list[tuple[str, str, str, int]]) -> None:
    with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(MANIFEST_HEADER)
        w.writerows(rows)
