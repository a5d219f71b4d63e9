"""From the election model to the grouped ballots the RCV count walks (:class:`~.engine.Ballots`).

Cards of one ranked contest are compressed to distinct (rankings, precinct, batch) rows with ``np.unique``; each
row becomes a group with its weight. Several choices may stand for one candidate (aliases; every undeclared
write-in choice stands for RCTab's "Undeclared Write-ins"), so the caller maps choices to candidates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...errors import ConfigError
from ...model import Categorical, Contest, ContestMarks
from .engine import Ballots

__all__ = ["group_ballots", "merge_ballots"]


def group_ballots(contest: Contest, marks: ContestMarks, candidate_of: Sequence[int],
                  slices: Mapping[str, Categorical] | None = None) -> Ballots:
    """The contest's cards (those holding it) as weighted groups of identical rankings (and slice labels).

    ``candidate_of[choice]`` is the candidate a choice stands for; a choice mapped to a negative index is a
    ConfigError when some ballot ranks it (a candidate the count does not know)."""
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
        labels[kind] = [None if c < 0 else names[c] for c in codes.tolist()]
    used = np.bitwise_or.reduce(unique[:, : contest.ranks].ravel()) if len(unique) else np.uint64(0)
    unknown = [c.name for i, c in enumerate(contest.choices) if int(used) >> i & 1 and candidate_of[i] < 0]
    if unknown:
        raise ConfigError(f"contest {contest.name!r}: ballots rank {', '.join(repr(u) for u in unknown)}, which no "
                          "configured candidate (name or alias) matches")
    return Ballots(rankings, counts.tolist(), list(candidate_of), labels)


def merge_ballots(parts: Sequence[Ballots], choice_keys: Sequence[Sequence[object]] | None = None) -> Ballots:
    """Ballots of several sources (or chunks) as one, identical groups merged (their weights summed).

    ``choice_keys[k][i]`` names choice ``i`` of part ``k``: choices of one key are the same choice in every part
    (the same candidate under the same label), so the parts' rankings compare. Without keys, each part's choices
    are its own (indices shifted past the previous parts').
    """
    index: dict[object, int] = {}
    candidate_of: list[int] = []
    merged: dict[tuple, int] = {}
    order: list[tuple] = []
    kinds = list(dict.fromkeys(k for p in parts for k in p.slices))
    for k, part in enumerate(parts):
        keys = choice_keys[k] if choice_keys is not None else [(k, i) for i in range(len(part.candidate_of))]
        remap = []
        for key, candidate in zip(keys, part.candidate_of):
            if key not in index:
                index[key] = len(candidate_of)
                candidate_of.append(candidate)
            remap.append(index[key])
        labels = [part.slices.get(kind, [None] * len(part)) for kind in kinds]
        for g, (ranked, weight) in enumerate(zip(part.rankings, part.weights)):
            row = (tuple((r, tuple(c if c < 0 else remap[c] for c in chosen)) for r, chosen in ranked),
                   tuple(lab[g] for lab in labels))
            if row in merged:
                merged[row] += weight
            else:
                merged[row] = weight
                order.append(row)
    return Ballots([row[0] for row in order], [merged[row] for row in order], candidate_of,
                   {kind: [row[1][j] for row in order] for j, kind in enumerate(kinds)})
