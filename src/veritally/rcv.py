"""``veritally rcv CONFIG.json``: an RCTab contest configuration counted as RCTab counts it, reports written as RCTab
writes them. A thin shell: :mod:`.formats.rctab_config` reads the configuration and the CVRs,
:mod:`.tabulate.rcv` counts, :mod:`.report.rctab_report` writes.

Multi-pass IRV (``multiPassIrv``) is RCTab's sequence of single-seat counts, each pass excluding the winners of the
earlier ones; its files carry the pass number (``1_detailed_report.json`` …). Reports by precinct or batch go in
``Tabulate by Precinct/`` and ``Tabulate by Batch/``. Every file is written to a temporary folder first and moved
into the output folder only when all of them are written.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ._io import make_temp_dir
from .errors import ConfigError
from .formats.rctab_config import ContestSource, RctabConfig, candidate_index, load_config, read_sources
from .model import UWI_NAME, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election
from .report.rctab_report import ReportInfo, Slice, csv_report, detailed_json, dump_json
from .tabulate.rcv.ballots import group_ballots, merge_ballots
from .tabulate.rcv.engine import Ballots, Count, count_rcv
from .tabulate.rcv.tiebreak import Asker

__all__ = ["RcvPass", "RcvOutcome", "run_rcv", "count_config"]

_SLICES = {"precinct": "Precinct", "batch": "Batch"}


@dataclass
class RcvPass:
    """One count: the whole contest, or one pass of multi-pass IRV (``number`` from 1)."""

    count: Count
    info: ReportInfo
    number: int | None = None

    @property
    def winners(self) -> list[str]:
        return [self.count.candidates[c] for c in self.count.winners]


@dataclass
class RcvOutcome:
    config: RctabConfig
    passes: list[RcvPass]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def winners(self) -> list[str]:
        return [w for p in self.passes for w in p.winners]


#: What RCTab's spreadsheet readers call a card's missing precinct or batch (``StreamingCvrReader``,
#: ``CsvCvrReader``); other readers leave it missing, and such cards are in no slice.
_MISSING_LABEL = {("ess", "precinct"): "missing_precinct_id", ("ess", "batch"): "missing_batch_id",
                  ("genericCsv", "precinct"): "no precinct id", ("genericCsv", "batch"): "no batch id"}


def _slices(cs: ContestSource, kinds: Sequence[str]) -> dict[str, Categorical]:
    out = {}
    for kind in kinds:
        cat = cs.election.cards.attribute(kind)
        if kind == "precinct" and cs.election.meta.get("precinct_labels", "").startswith("ids"):
            cat = Categorical.empty(cs.election.n_cards)  # RCTab has no precinct for such a Dominion export
        missing = _MISSING_LABEL.get((cs.source.provider, kind))
        if missing is not None and np.any(cat.codes < 0):
            labels = cat.labels.tolist()
            code = labels.index(missing) if missing in labels else len(labels)
            cat = Categorical(np.where(cat.codes < 0, code, cat.codes).astype(np.int32),
                              np.array(labels + ([] if missing in labels else [missing]), dtype=cat.labels.dtype))
        out[kind] = cat
    return out


def _ballots(config: RctabConfig, sources: list[ContestSource], kinds: Sequence[str]) -> tuple[Ballots, list[str]]:
    notes = []
    parts, keys = [], []
    for cs in sources:
        of = candidate_index(config, cs.contest, cs.source)
        parts.append(group_ballots(cs.contest, cs.marks, of, _slices(cs, kinds)))
        # a choice is the same in every source when it stands for the same candidate under the same label (RCTab
        # compares the readers' strings), so identical ballots of several sources become one group
        keys.append([(c, choice.id) for c, choice in zip(of, cs.contest.choices)])
    ballots = merge_ballots(parts, keys) if len(parts) > 1 else parts[0]
    for kind in kinds:
        if not any(label is not None for label in ballots.slices[kind]):
            raise ConfigError(f"Tabulate by {_SLICES[kind]} is enabled, but the CVRs do not list "
                              f"{kind}s")
    if len(sources) > 1:  # RCTab counts a card given by two sources twice: so does this count, but it says so
        ids = np.concatenate([cs.election.cards.card_id[cs.marks.present] for cs in sources])
        origin = np.concatenate([np.full(int(cs.marks.present.sum()), i) for i, cs in enumerate(sources)])
        order = np.argsort(ids, kind="stable")
        same = np.flatnonzero((ids[order][1:] == ids[order][:-1]) & (origin[order][1:] != origin[order][:-1]))
        if len(same):
            first, second = order[same[0]], order[same[0] + 1]
            notes.append(f"{len(same):,} card id(s) are in more than one source (e.g. {ids[first]} in sources "
                         f"{origin[first] + 1} and {origin[second] + 1}); RCTab counts each copy, and so does this "
                         "count: check that the sources do not overlap")
    return ballots, notes


def _info(config: RctabConfig, rules, excluded: Sequence[str]) -> ReportInfo:
    out = config.output
    names = config.candidate_names
    return ReportInfo(str(out.get("contestName") or ""), str(out.get("contestJurisdiction") or ""),
                      str(out.get("contestOffice") or ""), str(out.get("contestDate") or ""), rules,
                      len(names) - len(set(excluded)), len(names),
                      str(config.raw_rules.get("multiSeatBottomsUpPercentageThreshold") or ""))


def count_config(config: RctabConfig, *, ask: Asker | None = None,
                 sources: Sequence[ContestSource] | None = None) -> tuple[list[RcvPass], list[str]]:
    """Count the configuration's sources (read here unless given), every pass of multi-pass IRV."""
    kinds = [k for k, on in (("precinct", config.by_precinct), ("batch", config.by_batch)) if on]
    ballots, notes = _ballots(config, list(sources if sources is not None else read_sources(config)), kinds)
    names = config.candidate_names
    rules = config.rules
    if not rules.sequential:
        count = count_rcv(ballots, names, rules, excluded=config.excluded, ask=ask)
        return [RcvPass(count, _info(config, rules, config.excluded))], notes + count.tiebreak_notes
    single = replace(rules, winners=1)
    passes: list[RcvPass] = []
    winners: list[str] = []
    for number in range(1, rules.winners + 1):
        excluded = [*config.excluded, *winners]
        count = count_rcv(ballots, names, single, excluded=excluded, ask=ask)
        if len(count.winners) != 1:
            raise ConfigError(f"multi-pass IRV, seat {number}: expected exactly one new winner, found "
                              f"{len(count.winners)}")
        passes.append(RcvPass(count, _info(config, single, excluded), number))
        winners.append(names[count.winners[0]])
        notes += count.tiebreak_notes
    return passes, notes


def _sanitize(text: str) -> str:
    """RCTab's ``sanitizeStringForOutput``: anything but letters, digits, ``_-.`` becomes ``_``."""
    return re.sub(r"[^a-zA-Z0-9_\-.]", "_", text)


class _SliceNames:
    """File-name forms of slice labels, unique across the run, as RCTab makes them
    (``sanitizeSliceWithoutCollisions``: a repeat gets ``_1``, ``_2`` …)."""

    def __init__(self) -> None:
        self.of: dict[str, str] = {}
        self.used: set[str] = set()

    def __call__(self, label: str) -> str:
        if label not in self.of:
            safe, k = _sanitize(label), 1
            while safe in self.used:
                safe, k = f"{_sanitize(label)}_{k}", k + 1
            self.used.add(safe)
            self.of[label] = safe
        return self.of[label]


def _files(p: RcvPass, names: _SliceNames) -> list[tuple[str, str]]:
    """(relative path, text) of every report of one pass."""
    prefix = f"{p.number}_" if p.number is not None else ""
    files = [(f"{prefix}detailed_report.json", dump_json(detailed_json(p.count, p.info))),
             (f"{prefix}detailed_report.csv", csv_report(p.count, p.info)),
             (f"{prefix}summary_report.csv", csv_report(p.count, p.info, detailed=False))]
    for kind, by_label in p.count.slices.items():
        for label in by_label:
            s = Slice(_SLICES[kind], label)
            stem = f"Tabulate by {_SLICES[kind]}/{prefix}{names(label)}_{kind}_detailed_report"
            files += [(f"{stem}.csv", csv_report(p.count, p.info, slice_=s)),
                      (f"{stem}.json", dump_json(detailed_json(p.count, p.info, s)))]
    return files


def cdf_election(config: RctabConfig, sources: Sequence[ContestSource]) -> Election:
    """The counted contest's ballots from every source as one election of one ranked contest whose choices are
    the configuration's candidates (undeclared write-ins last), for the CDF CVR export (``generateCdfJson``):
    the same ballots, ranks, contest and candidates as RCTab's export (ids differ: card ids are prefixed with the
    source's number when there are several sources)."""
    names = config.candidate_names
    ranks = max(cs.contest.ranks for cs in sources)
    contest = Contest("contest-001", config.contest_name or "Contest", ContestKind.RANKED,
                      tuple(Choice(n, n, write_in=n == UWI_NAME, undeclared=n == UWI_NAME) for n in names),
                      winners=max(config.rules.winners, 1), ranks=ranks)
    dtype, flag = contest.mask_dtype, contest.overvote_flag
    masks, ids, attrs = [], [], {"precinct": [], "batch": []}
    for k, cs in enumerate(sources):
        present = np.flatnonzero(cs.marks.present)
        src = cs.marks.masks[present].astype(np.uint64)
        out = np.zeros((len(present), ranks), np.uint64)
        for i, c in enumerate(candidate_index(config, cs.contest, cs.source)):
            if c >= 0:
                out[:, : src.shape[1]] |= ((src >> np.uint64(i)) & np.uint64(1)) << np.uint64(c)
        labelled = (src & np.uint64(cs.contest.overvote_flag)) != 0
        out[:, : src.shape[1]] |= np.where(labelled, np.uint64(flag), np.uint64(0))
        masks.append(out.astype(dtype))
        card = cs.election.cards.card_id[present]
        ids.append(np.strings.add(f"{k + 1}:", card) if len(sources) > 1 else card)
        for key in attrs:
            values = cs.election.cards.attribute(key).values()
            attrs[key] += [values[i] for i in present.tolist()]
    n = sum(len(m) for m in masks)
    cards = Cards(np.concatenate(ids), {k: Categorical.from_values(v) for k, v in attrs.items() if any(v)},
                  [ContestMarks(np.ones(n, bool), np.concatenate(masks))])
    return Election(config.contest_name, (contest,), cards, {"format": "rctab"})


def run_rcv(config_path: str | Path, out_dir: str | Path | None = None, *, ask: Asker | None = None,
            convert_to_cdf: bool = False) -> RcvOutcome:
    """Count an RCTab configuration and write its reports to ``out_dir`` (default: its ``outputDirectory``).

    ``convert_to_cdf`` (RCTab's ``--convert-to-cdf``): only write the CVRs as ``cdf_cvr.json``, no count.
    """
    config = load_config(config_path)
    sources = read_sources(config)
    passes, notes = ([], []) if convert_to_cdf else count_config(config, ask=ask, sources=sources)
    target = Path(out_dir) if out_dir is not None else config.output_dir()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} exists and is not a folder; give another output folder")
    target.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(target / "reports")
    written = []
    try:
        names = _SliceNames()
        texts = [f for p in passes for f in _files(p, names)]
        if config.cdf_export or convert_to_cdf:
            from .formats.nist_cdf import write as write_cdf

            write_cdf(cdf_election(config, sources), tmp / "cdf_cvr.json")
            texts.append(("cdf_cvr.json", None))
        for rel, text in texts:  # everything is rendered and written before anything is moved into place
            if text is None:  # written already
                continue
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="")
        for rel, _ in texts:
            final = target / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, final)
            written.append(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return RcvOutcome(config, passes, written, notes)
