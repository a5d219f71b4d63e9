"""The files of a synthetic election (:func:`veritally.synth.write_synthetic`): the paper truth and the CVRs of
the same cards, ballot manifest, reported results, optional planted miscount, and the truth.

Kept apart from :mod:`veritally.synth` (which only draws cards) because it is about files and plants. The drawn
cards are the paper (``paper/``); the CVRs (``cvrs/``) are a copy of them, except under the ``misread`` plant,
where a tabulator recorded some of the winner's votes of one contest as votes for the runner-up. Choosing those
cards needs the whole count (the margin) and per-batch vote counts, so a streamed (Parquet) election is drawn a
second time for its CVRs: drawing is deterministic, and memory stays one chunk.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._io import atomic_write
from .errors import ConfigError
from .formats import write_cvrs
from .formats.parquet import ChunkedWriter, concat
from .formats.reported import Reported, write_reported_csv
from .model import Cards, ContestKind, ContestMarks, Election, popcount
from .report.json_out import write_json
from .synth import CVR_FILE, GENERATOR_VERSION, County, _rng, generate, plan_county
from .tabulate import ElectionCount, tabulate_chunks
from .tabulate.plurality import decide_winners

__all__ = ["write_files"]

#: Flipped card ids listed in truth.json (all of them up to this many, otherwise the first this many).
LISTED_CARD_IDS = 1000


def write_files(out: Path, *, seed: str, n_cards: int, fmt: str, plant: str | None, outcome_changing: bool) -> dict:
    """Write everything into the (new, empty) folder ``out``; returns the truth."""
    county = plan_county(seed, n_cards)
    planted_batch = int(_rng(seed, 3).integers(0, len(county.batch_size))) if plant in (
        "double-count", "drop-batch") else None
    manifest = _manifest_rows(county)
    in_batch: list[Election] = []
    kept: list[Election] = []
    single_votes = _SingleVotes.empty(county) if plant == "misread" else None

    def chunks() -> Iterator[Election]:
        for chunk in generate(seed, n_cards, county):
            if planted_batch is not None:
                in_batch.append(chunk.take(chunk.cards.attribute("batch").codes == planted_batch))
            if single_votes is not None:
                single_votes.add(chunk)
            if fmt != "parquet":
                kept.append(chunk)
            yield chunk

    file_name = CVR_FILE[fmt]
    paper, cvrs = out / "paper", out / "cvrs"
    paper_target = paper if file_name is None else paper / file_name
    cvr_target = cvrs if file_name is None else cvrs / file_name
    election: Election | None = None
    if fmt == "parquet":  # streamed: one chunk in memory at a time
        paper.mkdir()
        with ChunkedWriter(paper_target) as writer:
            count = tabulate_chunks((writer.write(c) for c in chunks()), by="precinct")
    else:
        count = tabulate_chunks(chunks(), by="precinct")
        election = concat(kept) if len(kept) > 1 else kept[0]
        kept.clear()
        if file_name is not None:
            paper.mkdir()
        write_cvrs(election, paper_target, fmt)
    misread = None
    if single_votes is not None:
        misread = _choose_misread(single_votes, count, county, seed, outcome_changing)
        if election is None:  # Parquet: draw the same cards again, chunk by chunk, misreading as they pass
            cvrs.mkdir()
            with ChunkedWriter(cvr_target) as writer:
                for chunk in generate(seed, n_cards):
                    writer.write(misread.apply(chunk))
        else:
            if file_name is not None:
                cvrs.mkdir()
            write_cvrs(misread.apply(election), cvr_target, fmt)
    else:  # the scanners read every card right: the CVRs are the paper, file for file
        shutil.copytree(paper, cvrs, copy_function=shutil.copyfile)
    del election
    reported = Reported.from_count(count)  # the paper's count; under a misread, corrected to the CVRs' below
    planted = None
    if plant in ("double-count", "drop-batch"):
        batch_count = tabulate_chunks(in_batch, by="precinct")
        reported, planted = _plant_batch(reported, batch_count, county, planted_batch, plant)
    elif plant == "shift-votes":
        reported, planted = _plant_shift(reported, count, seed, outcome_changing)
    elif misread is not None:
        reported, planted = _with_deltas(reported, misread.deltas()), misread.to_json(county)
    if planted is not None:
        planted["changes_outcome"] = _changed_outcomes(count, reported)
        if misread is not None:
            planted["description"] += (f"; the CVRs' winner is {misread.to_name}" if planted["changes_outcome"]
                                       else "; the winner stays the same")
    write_reported_csv(reported, out / "reported.csv")
    _write_manifest(out / "manifest.csv", manifest)
    truth = {
        "generator": f"veritally.synth {GENERATOR_VERSION}",
        "seed": seed,
        "cards": count.cards,
        "format": fmt,
        "cvrs": str(cvr_target.relative_to(out)),
        "paper": str(paper_target.relative_to(out)),
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


# the misread plant (in the CVRs) --------------------------------------------------------------------------------------
@dataclass
class _SingleVotes:
    """Per plurality (vote-for-1) contest, the cards with exactly one vote, per batch and choice: ``(batches, k)``.

    These are the votes a tabulator can misread into another candidate's vote, one card each; their column sums
    are the contest's tallies. Drawn chunks carry the county's batch indices as their batch codes.
    """

    n_batches: int
    counts: dict[int, np.ndarray] = field(default_factory=dict)  #: contest index → counts

    @classmethod
    def empty(cls, county: County) -> _SingleVotes:
        return cls(len(county.batch_size))

    def add(self, chunk: Election) -> None:
        batch = chunk.cards.attribute("batch").codes.astype(np.int64)
        for i, (contest, marks) in enumerate(zip(chunk.contests, chunk.cards.marks)):
            if contest.kind is not ContestKind.PLURALITY or contest.votes_allowed != 1:
                continue
            k = len(contest.choices)
            one = marks.present & (popcount(marks.masks) == 1)
            # the choice of a one-bit mask m is the number of bits below it: popcount(m - 1)
            choice = popcount(marks.masks[one] - 1).astype(np.int64)
            flat = np.bincount(batch[one] * k + choice, minlength=self.n_batches * k)
            self.counts[i] = self.counts.get(i, 0) + flat.reshape(self.n_batches, k)


@dataclass
class _Misread:
    """A tabulator's misreading of the cards ranked ``ranks`` (0-based, in card order) among the cards of
    ``batches`` whose only vote in contest ``contest`` is for ``winner``: their CVRs record ``runner`` instead.

    :meth:`apply` must see every card once, in order (it counts the eligible cards as they pass).
    """

    contest: int
    contest_name: str
    winner: int
    runner: int
    from_name: str
    to_name: str
    paper_margin: int
    batches: np.ndarray  #: county batch indices, most single winner votes first
    batch_labels: np.ndarray  #: their labels (how a chunk names its batches)
    ranks: np.ndarray  #: sorted
    seen: int = 0
    flipped: int = 0
    card_ids: list[str] = field(default_factory=list)
    by_precinct: dict[str, int] = field(default_factory=dict)

    def apply(self, chunk: Election) -> Election:
        """``chunk`` as the tabulator recorded it: the planted cards' vote moved from winner to runner-up."""
        marks = chunk.cards.marks[self.contest]
        batch = chunk.cards.attribute("batch")
        in_batches = np.isin(batch.labels, self.batch_labels)[batch.codes] & (batch.codes >= 0)
        bit = marks.masks.dtype.type
        eligible = np.flatnonzero(in_batches & marks.present & (marks.masks == bit(1 << self.winner)))
        rank = self.seen + np.arange(len(eligible))
        self.seen += len(eligible)
        hit = eligible[np.isin(rank, self.ranks, assume_unique=True)]
        if not len(hit):
            return chunk
        masks = marks.masks.copy()
        masks[hit] = bit(1 << self.runner)
        self.flipped += len(hit)
        room = LISTED_CARD_IDS - len(self.card_ids)
        if room > 0:
            self.card_ids += chunk.cards.card_id[hit[:room]].tolist()
        precinct = chunk.cards.attribute("precinct")
        codes, n = np.unique(precinct.codes[hit], return_counts=True)
        for label, v in zip(precinct.labels[codes].tolist(), n.tolist()):
            self.by_precinct[label] = self.by_precinct.get(label, 0) + v
        new_marks = list(chunk.cards.marks)
        new_marks[self.contest] = ContestMarks(marks.present, masks)
        return Election(chunk.name, chunk.contests, Cards(chunk.cards.card_id, chunk.cards.attributes, new_marks),
                        dict(chunk.meta))

    def deltas(self) -> dict[tuple[str, str, str], int]:
        """The CVRs' count minus the paper's, per (contest, choice, precinct), once every card was applied."""
        if self.flipped != len(self.ranks):
            raise RuntimeError(f"misread {self.flipped} cards, planned {len(self.ranks)}")  # a bug, not bad input
        out: dict[tuple[str, str, str], int] = {}
        for precinct, v in self.by_precinct.items():
            out[(self.contest_name, self.from_name, precinct)] = -v
            out[(self.contest_name, self.to_name, precinct)] = v
        return out

    def to_json(self, county: County) -> dict:
        labels = county.batch_labels[np.sort(self.batches)].tolist()
        tabulators = sorted(set(county.tabulators[county.batch_tabulator[self.batches]].tolist()))
        where = f"tabulator {tabulators[0]}" if len(tabulators) == 1 else f"tabulators {', '.join(tabulators)}"
        shown = ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")
        return {"kind": "misread", "contest": self.contest_name, "from": self.from_name, "to": self.to_name,
                "cards": self.flipped, "paper_margin": self.paper_margin, "batches": labels,
                "tabulator": tabulators[0] if len(tabulators) == 1 else None, "tabulators": tabulators,
                "precincts": sorted(self.by_precinct), "card_ids": self.card_ids,
                "card_ids_complete": len(self.card_ids) == self.flipped,
                "description": f"{where} misread {self.flipped} cards of {self.contest_name} in batch"
                               f"{'es' if len(labels) > 1 else ''} {shown}: the paper shows a vote for "
                               f"{self.from_name}, the CVR records {self.to_name}"}


def _fewest_batches(eligible: np.ndarray, tabulator: np.ndarray, need: int,
                    rng: np.random.Generator) -> np.ndarray:
    """The fewest batches of one tabulator holding ``need`` eligible cards (most eligible first; among
    tabulators needing equally few, one drawn from ``rng``); when no tabulator holds that many, the fewest batches
    of any tabulators. Returns the batch indices."""
    n = len(eligible)
    order = np.lexsort((np.arange(n), -eligible, tabulator))  # by tabulator, then most eligible first
    e, t = eligible[order], tabulator[order]
    starts = np.r_[True, t[1:] != t[:-1]]
    start_index = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    cumulative = np.cumsum(e)
    within = cumulative - (cumulative - e)[start_index]  # running sum inside each tabulator's run
    taken = np.arange(n) - start_index + 1  # batches taken so far from that tabulator
    reach = within >= need
    if reach.any():
        fewest = int(taken[reach].min())
        tied = np.unique(t[reach & (taken == fewest)])
        chosen = tied[int(rng.integers(0, len(tied)))]
        run = order[t == chosen]
        return run[:fewest]
    order = np.lexsort((np.arange(n), -eligible))
    k = int(np.searchsorted(np.cumsum(eligible[order]), need)) + 1
    return order[:k]


def _choose_misread(single: _SingleVotes, count: ElectionCount, county: County, seed: str,
                    outcome_changing: bool) -> _Misread:
    """Which contest, batches and cards a tabulator misreads (winner's vote read as the runner-up's).

    With ``outcome_changing``: the plurality contest needing the fewest misread cards to make the runner-up the
    CVRs' winner (⌊margin / 2⌋ + 1 cards, each moving one vote from winner to runner-up), the cards taken from the
    fewest batches of one tabulator (of several when no tabulator holds enough). Otherwise a random contest and
    batch, 5 % of the winner's votes there. Within the chosen batches, the misread cards are drawn at random
    among the winner's single votes.
    """
    rng = _rng(seed, 5)
    options = []
    for i, per_batch in single.counts.items():
        cc = count.contests[i]
        t = cc.total.tallies[0]
        winner, runner = (int(j) for j in np.argsort(-t, kind="stable")[:2])
        if t[winner] == t[runner]:  # no winner (a tie or no votes): nothing to misread away
            continue
        need = int(t[winner] - t[runner]) // 2 + 1
        flipped = t.copy()
        flipped[winner] -= need
        flipped[runner] += need
        changes = decide_winners(cc.contest, flipped) == ([runner], [])
        options.append((cc, i, winner, runner, need, per_batch[:, winner], changes))
    if not options:
        raise ConfigError("no plurality contest of this election has a winner whose votes could be misread")
    if outcome_changing:  # the fewest cards first (a contest whose flip would crown a third choice last)
        cc, i, winner, runner, n_cards, eligible, _changes = min(
            options, key=lambda o: (not o[6], o[4], o[0].contest.id))
        batches = _fewest_batches(eligible, county.batch_tabulator, n_cards, rng)
    else:
        cc, i, winner, runner, _need, eligible, _changes = options[int(rng.integers(0, len(options)))]
        batches = np.array([rng.choice(np.flatnonzero(eligible))])
        n_cards = max(1, round(0.05 * int(eligible[batches[0]])))
    pool = int(eligible[batches].sum())
    ranks = np.sort(rng.choice(pool, n_cards, replace=False))
    t = cc.total.tallies[0]
    names = cc.contest.choice_names
    batches = np.asarray(batches, np.int64)
    return _Misread(i, cc.contest.name, winner, runner, names[winner], names[runner], int(t[winner] - t[runner]),
                    batches, county.batch_labels[batches], ranks)


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
