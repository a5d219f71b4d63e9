"""Compress a contest's marks to distinct patterns with weights.

Every count in Veritally starts here: ``n`` cards become ``P`` distinct mark patterns (P is small: a vote-for-1
contest of 5 choices has at most a few dozen) with a count per pattern and per group (precinct, batch…). Counting
then costs O(P), not O(n). For masks of up to 16 bits this is one ``np.bincount`` (while its table of groups × mask
values stays small); otherwise ``np.unique``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pattern_counts"]

_BINCOUNT_BITS = 16


def pattern_counts(
    masks: np.ndarray, groups: np.ndarray | None = None, n_groups: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct patterns and their counts.

    ``masks``: shape ``(n,)`` (one mask per card) or ``(n, r)`` (one mask per rank); only cards to count.
    ``groups``: optional int array ``(n,)`` of group codes in ``[0, n_groups)``.
    Returns ``(patterns, counts)`` with ``patterns`` of shape ``(P,)`` or ``(P, r)`` and ``counts`` of shape
    ``(n_groups, P)`` (int64); patterns with a zero total are dropped.
    """
    n = masks.shape[0]
    if groups is None:
        groups = np.zeros(n, np.int64)
        n_groups = 1
    width = 1 << (masks.dtype.itemsize * 8)
    # one bincount over (group, mask) when its table is small next to the cards: 16-bit masks by 10,000 batches
    # would otherwise allocate 5 GB of mostly empty counters
    if masks.ndim == 1 and masks.dtype.itemsize * 8 <= _BINCOUNT_BITS and n_groups * width <= max(4 * n, 1 << 20):
        flat = np.bincount(groups.astype(np.int64) * width + masks, minlength=n_groups * width)
        counts = flat.reshape(n_groups, width)
        keep = np.flatnonzero(counts.sum(axis=0))
        return keep.astype(masks.dtype), counts[:, keep]
    if n == 0:
        shape = (0,) + masks.shape[1:]
        return np.empty(shape, masks.dtype), np.zeros((n_groups, 0), np.int64)
    patterns, inverse = np.unique(masks, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(groups.astype(np.int64) * len(patterns) + inverse, minlength=n_groups * len(patterns))
    return patterns, counts.reshape(n_groups, len(patterns))
