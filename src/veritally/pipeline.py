"""From files to a count: the one place the CLI and :func:`veritally.compare.compare_paths` read and count CVRs.

Parquet is streamed by row group (memory for one, and only the columns the count needs); other formats are read
whole by their reader. With a ballot manifest, the cards per batch are checked against it on the way, and a
disagreement is a :class:`~veritally.errors.ManifestMismatch` before any figure is reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .formats.manifest import BallotManifest, BatchCards, ManifestReconciliation, check_cvrs
from .model import Election
from .tabulate import ElectionCount, tabulate_chunks
from .tabulate.rcv import RcvRules, contest_ballots, count_contest, count_json, merge_ballots
from .tabulate.rcv.tiebreak import TieNeedsOperator

__all__ = ["count_paths", "load_chunks"]


def load_chunks(paths: Sequence[Path], fmt: str = "auto", attributes: Sequence[str] = (),
                options: Mapping[str, Any] | None = None) -> Iterable[Election]:
    """The cards of CVR files in consecutive chunks; a single Parquet file streams with only ``attributes``.
    ``options`` are the reader's keyword options (Parquet has none)."""
    from .formats import detect_format, read_cvrs

    paths = [Path(p) for p in paths]
    name = detect_format(paths[0]) if fmt == "auto" and len(paths) == 1 else fmt
    if name == "parquet" and len(paths) == 1 and not options:
        from .formats.parquet import iter_chunks

        return iter_chunks(paths[0], card_ids=False, attributes=list(attributes))
    return [read_cvrs(paths, name, **(options or {}))]


def count_paths(paths: Sequence[Path], fmt: str = "auto", *, contests: Sequence[str] | None = None,
                by: str | None = None,
                manifest: BallotManifest | None = None,
                options: Mapping[str, Any] | None = None,
                rcv_rules: RcvRules | None = None) -> tuple[ElectionCount, ManifestReconciliation | None]:
    """Count the CVRs in ``paths`` (per ``by`` group), checking ``manifest`` when given; ``options`` go to the
    reader. With ``rcv_rules``, ranked contests are also counted round by round (their ballots grouped chunk by
    chunk, so a streamed file is still read once)."""
    wanted = [a for a in dict.fromkeys([*([by] if by else []), *(["batch", "tabulator"] if manifest else [])])]
    chunks = iter(load_chunks(paths, fmt, wanted, options))
    first = next(chunks, None)
    batches = BatchCards() if manifest is not None else None

    ranked: dict[str, list] = {}

    def tallied() -> Iterator[Election]:
        for chunk in itertools.chain([first], chunks):
            if batches is not None:
                batches.add(chunk)
            if rcv_rules is not None:
                for contest, marks in zip(chunk.contests, chunk.cards.marks):
                    if contest.is_ranked and (not contests or contest.name in contests or contest.id in contests):
                        ranked.setdefault(contest.id, []).append(contest_ballots(contest, marks))
            yield chunk

    count = None if first is None else tabulate_chunks(tallied(), contests, by)
    if count is None or count.cards == 0:
        raise InputError("the CVRs hold no cards", file=paths[0], expected="at least one ballot card")
    checked = check_cvrs(manifest, batches) if manifest is not None else None
    for cc in count.contests:
        if cc.contest.id in ranked:
            contest = cc.contest  # the same contest in every chunk: its choices are the same choices
            parts = ranked[contest.id]
            try:
                result = count_contest(contest, merge_ballots(parts, [list(range(len(contest.choices)))] * len(parts)),
                                       rcv_rules)
            except TieNeedsOperator as exc:  # this contest stops; the others are still counted and reported
                cc.rcv = {"rules": rcv_rules.winner_mode.value, "seats": rcv_rules.winners, "rounds": [],
                          "winners": [], "unresolved_tie": str(exc)}
                continue
            cc.rcv = count_json(result, rcv_rules)
    return count, checked
