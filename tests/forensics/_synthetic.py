"""Seeded synthetic elections for the forensics tests: clean ones, in which every test's null holds, and the same
with planted manipulation (rounded turnouts, stuffed stations, invented last digits).

Clean election, per unit i (every test's null holds):
* registered N_i log-uniform on [1,000, 100,000]: two decades, so that counts' second digits follow Benford's law
  (the 2BL null), and big enough that binomial noise adds little to the spread of shares (small units make a
  mixture of spreads, whose kurtosis exceeds the normal's 3 without any fraud);
* turnout probability t_i ~ N(0.6, 0.08); ballots ~ Bin(N_i, t_i); invalid ~ Bin(ballots, 0.01);
* a previous election on the same units with leader share s⁰_i ~ N(0.52, 0.05), and the current leader share
  0.05 + 0.95·s⁰_i + N(0, 0.01²) (one swing everywhere and a little unit-to-unit noise; normal, so the shape
  tests' null holds, and close enough to logit-linear for the history model); the other two choices split the
  rest about 2:1; votes ~ Multinomial(valid, shares).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from veritally.forensics import UnitResults

CHOICES = ("Alpha", "Beta", "Gamma")


def clean_election(n: int, seed: int, *, regions: int = 8) -> tuple[UnitResults, UnitResults]:
    """(current, previous) results of ``n`` units; the leader is Alpha in both."""
    rng = np.random.default_rng(seed)
    registered = np.floor(10 ** rng.uniform(3, 5, n)).astype(np.int64)
    unit = np.array([f"u{i:06d}" for i in range(n)])
    region = np.array([f"R{r}" for r in rng.integers(0, regions, n)])

    def election(lead: np.ndarray, turnout_mean: float) -> UnitResults:
        t = np.clip(rng.normal(turnout_mean, 0.08, n), 0.05, 0.98)
        ballots = rng.binomial(registered, t)
        invalid = rng.binomial(ballots, 0.01)
        valid = ballots - invalid
        lead = np.clip(lead, 0.02, 0.98)
        second = (1 - lead) * np.clip(rng.normal(2 / 3, 0.08, n), 0.05, 0.95)
        shares = np.column_stack([lead, second, 1 - lead - second])
        votes = rng.multinomial(valid, shares)
        return UnitResults(unit=unit, choice=CHOICES, votes=votes.astype(np.int64), registered=registered,
                           ballots=ballots.astype(np.int64), region=region)

    previous_share = rng.normal(0.52, 0.05, n)
    previous = election(previous_share, 0.58)
    current = election(0.05 + 0.95 * previous_share + rng.normal(0, 0.01, n), 0.6)
    return current, previous


def round_turnouts(results: UnitResults, fraction: float, seed: int) -> tuple[UnitResults, np.ndarray]:
    """Protocols written to a target: in ``fraction`` of units, ballots set to the nearest whole percentage of the
    registered voters (the leader gets the difference). Returns the results and the indices touched."""
    rng = np.random.default_rng(seed)
    n = len(results.unit)
    touched = np.sort(rng.choice(n, int(fraction * n), replace=False))
    ballots = results.ballots.copy()
    votes = results.votes.copy()
    target = np.round(100 * ballots[touched] / results.registered[touched])
    new_ballots = np.round(target * results.registered[touched] / 100).astype(np.int64)
    # Where N is small no ballot count is within 0.05 points of a whole percentage; those stay off the comb.
    delta = new_ballots - ballots[touched]
    votes[touched, 0] = np.maximum(votes[touched, 0] + delta, 0)
    ballots[touched] = votes[touched].sum(axis=1) + (ballots[touched] - results.votes[touched].sum(axis=1))
    return replace(results, ballots=ballots, votes=votes), touched


def stuff(results: UnitResults, fraction: float, seed: int, *, share_of_nonvoters: float = 0.5
          ) -> tuple[UnitResults, np.ndarray]:
    """Ballot stuffing: in ``fraction`` of units, ``share_of_nonvoters`` of those who did not vote are added as
    ballots for the leader. Returns the results and the indices stuffed."""
    rng = np.random.default_rng(seed)
    n = len(results.unit)
    touched = np.sort(rng.choice(n, int(fraction * n), replace=False))
    added = np.floor(share_of_nonvoters * (results.registered[touched] - results.ballots[touched])).astype(np.int64)
    votes = results.votes.copy()
    ballots = results.ballots.copy()
    votes[touched, 0] += added
    ballots[touched] += added
    return replace(results, ballots=ballots, votes=votes), touched
