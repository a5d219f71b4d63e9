"""Random ranked elections for the differential tests, drawn with a seeded NumPy generator.

3–8 candidates, 20–400 ballots, each ballot a Plackett–Luce ranking (Gumbel trick: argsort of log-weight + Gumbel
noise) from one of 1–3 voter blocs with their own weights (one mildly skewed bloc ≈ impartial culture, up to three
strongly polarised ones), cut to a random length 1..k, so that ballots exhaust and counts run several rounds. No
overvotes, skipped ranks or repeated candidates: plain IRV, counted by Veritally under ``RULES`` (RCTab's
singleWinnerMajority, ties broken by candidate order so that a test can see where a tie-break was used).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from veritally.tabulate.rcv.engine import Ballots, Count, count_rcv
from veritally.tabulate.rcv.rules import RcvRules, TiebreakMode

SEED = 20_250_601
NAMES = [chr(ord("A") + i) for i in range(8)]
RULES = RcvRules(max_skipped=None, tiebreak=TiebreakMode.CANDIDATE_ORDER)


def draw_election(rng: np.random.Generator) -> np.ndarray:
    """One election: an (n, k) array of candidate indices per ballot, best first, ``-1`` past the ballot's length."""
    k = int(rng.integers(3, 9))
    n = int(rng.integers(20, 401))
    blocs = int(rng.integers(1, 4))
    spread = rng.uniform(0.0, 0.7) if blocs == 1 else rng.uniform(0.5, 2.0)
    log_weights = spread * rng.standard_normal((blocs, k))
    bloc = rng.choice(blocs, n, p=rng.dirichlet(np.full(blocs, 2.0)))
    order = np.argsort(-(log_weights[bloc] + rng.gumbel(size=(n, k))), axis=1)
    lengths = 1 + rng.binomial(k - 1, rng.uniform(0.0, 1.0), n)
    order[np.arange(k)[None, :] >= lengths[:, None]] = -1
    return order


def veritally_ballots(order: np.ndarray) -> Ballots:
    """Identical ballots as one weighted group; rank r holds one choice, choice i is candidate i."""
    rows, weights = np.unique(order, axis=0, return_counts=True)
    rankings = [tuple((r + 1, (c,)) for r, c in enumerate(row) if c >= 0) for row in rows.tolist()]
    return Ballots(rankings, weights.tolist(), list(range(order.shape[1])))


def election_to_tamper_with(compare: Callable[[np.ndarray, Count, Counter], None]) -> tuple[np.ndarray, Count]:
    """The first election (seed ``SEED + 1``) that ``compare`` compares rather than skips and whose count runs three
    rounds or more: (its ballots, Veritally's count), for a test that spoils the count and expects ``compare`` to
    fail."""
    rng = np.random.default_rng(SEED + 1)
    for _ in range(200):
        order = draw_election(rng)
        count = count_rcv(veritally_ballots(order), NAMES[: order.shape[1]], RULES)
        stats: Counter = Counter()
        compare(order, count, stats)
        if stats["compared"] and len(count.rounds) >= 3:
            return order, count
    pytest.fail("no multi-round election to tamper with")
