"""From the election model to the grouped ballots the RCV count walks (:class:`~.engine.Ballots`).

Cards of one ranked contest are compressed to distinct (rankings, precinct, batch) rows with ``np.unique``; each
row becomes a group with its weight. Choices map to candidates by name: several choices may stand for one
candidate (aliases), and the undeclared write-in choices all stand for RCTab's "Undeclared Write-ins".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...errors import ConfigError
from ...model import UWI_NAME, Categorical, Contest, ContestMarks
from .engine import Ballots

__all__ = ["group_ballots", "candidate_map"]


def candidate_map(contest: Contest, candidates: Sequence[str]) -> list[int]:
    """Choice index → candidate index (by name; undeclared write-ins → ``UWI_NAME``)."""
    index = {name: i for i, name in enumerate(candidates)}
    out = []
    for choice in contest.choices:
        name = UWI_NAME if choice.undeclared else choice.name
        if name not in index:
            raise ConfigError(f"contest {contest.name!r}: choice {choice.name!r} is not a declared candidate",
                              ) from None
        out.append(index[name])
    return out


def group_ballots(contest: Contest, marks: ContestMarks, candidates: Sequence[str],
                  slices: Mapping[str, Categorical] | None = None) -> Ballots:
    """The contest's cards (those holding it) as weighted groups of identical rankings (and slice labels)."""
    if not contest.is_ranked:
        raise ConfigError(f"contest {contest.name!r} is not ranked")
    present = np.flatnonzero(marks.present)
    masks = marks.masks[present].astype(np.uint64)
    kinds = list(slices or {})
    columns = [masks] + [slices[k].codes[present].astype(np.int64).astype(np.uint64)[:, None] for k in kinds]
    rows = np.concatenate(columns, axis=1) if kinds else masks
    if len(rows):
        unique, counts = np.unique(rows, axis=0, return_counts=True)
    else:
        unique, counts = np.zeros((0, rows.shape[1]), np.uint64), np.zeros(0, np.int64)
    k = len(contest.choices)
    flag = contest.overvote_flag
    rankings = []
    for row in unique[:, : contest.ranks].tolist():
        ranked = []
        for r, mask in enumerate(row, start=1):
            if mask:
                chosen = tuple(i for i in range(k) if mask >> i & 1)
                ranked.append((r, (-1,) + chosen if mask & flag else chosen))
        rankings.append(tuple(ranked))
    labels: dict[str, list[str | None]] = {}
    for j, kind in enumerate(kinds):
        names = slices[kind].labels.tolist()
        codes = unique[:, contest.ranks + j].astype(np.int64)
        labels[kind] = [None if c < 0 else names[c] for c in codes.view(np.int64).tolist()]
    return Ballots(rankings, counts.tolist(), candidate_map(contest, candidates), labels)
