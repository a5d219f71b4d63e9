"""The two types that join the halves of issue 7: :class:`UnitResults` (what the readers hand to forensics) and
:class:`Finding` (what every forensic test hands back, and what ``findings.json`` lists under ``tests``).

Kept in a module of their own, with no dependency beyond NumPy, so the readers and the CLI can build against them
without importing the statistics or matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

__all__ = ["UnitResults", "Finding"]


@dataclass(frozen=True)
class UnitResults:
    """One contest's results per reporting unit (precinct / polling station), as arrays forensics needs."""

    unit: np.ndarray  # (n,) str unit ids, unique
    choice: tuple[str, ...]  # (k,) choice names, in column order of votes
    votes: np.ndarray  # (n, k) int64 votes per unit and choice
    registered: np.ndarray | None = None  # (n,) int64 registered voters, when published
    ballots: np.ndarray | None = None  # (n,) int64 ballots cast = turnout count (protocols: valid + invalid)
    region: np.ndarray | None = None  # (n,) str region / county per unit, when known
    leader: str | None = None  # the nationwide/contest-wide top vote-getter (default: argmax of totals)
    # Optional addition to the contract (compatible: last, defaults to None). Ballots issued to voters (Russian
    # protocols: issued early + in the station + outside it), when published. Kobak, Shpilkin & Pshenichnikov
    # define turnout as issued / registered; without it forensics uses ballots / registered and says so.
    issued: np.ndarray | None = None  # (n,) int64

    def __post_init__(self) -> None:
        # Shapes are checked once here so that no test has to: a reader that hands over ragged arrays gets one
        # clear message instead of a broadcasting error deep inside a statistic.
        votes = np.asarray(self.votes)
        n = len(self.unit)
        if votes.ndim != 2 or votes.shape != (n, len(self.choice)):
            raise InputError(f"votes has shape {votes.shape}", field="votes",
                             expected=f"(units, choices) = ({n}, {len(self.choice)})")
        for name in ("registered", "ballots", "region", "issued"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise InputError(f"{name} has {len(value)} entries for {n} units", field=name,
                                 expected="one entry per unit")
        if self.leader is not None and self.leader not in self.choice:
            raise InputError(f"leader {self.leader!r} is not one of the choices", field="leader",
                             expected=", ".join(self.choice))

    @property
    def leader_name(self) -> str:
        """The leader: as given, else the choice with the most votes over all units (first on a tie)."""
        if self.leader is not None:
            return self.leader
        if not self.choice:
            raise InputError("no choices to find a leader among", field="choice", expected="at least one choice")
        return self.choice[int(np.argmax(np.asarray(self.votes, dtype=np.int64).sum(axis=0)))]

    @property
    def leader_index(self) -> int:
        """Column of :attr:`leader_name` in :attr:`votes`."""
        return self.choice.index(self.leader_name)


def _plain(value: object) -> object:
    """A JSON-ready copy of ``value``: NumPy scalars and arrays to Python, non-finite floats to ``None``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Finding:
    """The outcome of one forensic test on one scope. A flag is a question for auditors, never a verdict of fraud."""

    name: str  # test name, e.g. "integer_percent", "second_digit_benford", "last_digit", ...
    scope: str  # what was tested, e.g. "turnout", "Putin", "all units", "region=Moscow"
    statistic: float | None  # the test statistic (e.g. Pearson X², mean second digit, excess count)
    effect: float | None  # an effect size (e.g. deviation from expected mean, Cramér's V, excess ratio)
    p_value: float | None
    interval: tuple[float, float] | None  # a CI when that is the natural output (bootstrap, MC)
    flagged_units: tuple[str, ...]  # unit ids flagged (after multiple-testing control where relevant)
    caveat: str  # plain-language caveat: a flag is a question for auditors, never a verdict of fraud
    details: Mapping[str, object] = field(default_factory=dict)  # extra JSON fields (observed, expected, …)

    def to_json(self) -> dict:
        """``{"name", "scope", "statistic", "effect", "p_value", "interval", "flagged_units", "caveat", **details}``,
        with NumPy values made plain and NaN/inf written as ``null``."""
        out: dict = {
            "name": self.name,
            "scope": self.scope,
            "statistic": _plain(None if self.statistic is None else float(self.statistic)),
            "effect": _plain(None if self.effect is None else float(self.effect)),
            "p_value": _plain(None if self.p_value is None else float(self.p_value)),
            "interval": None if self.interval is None else [_plain(float(v)) for v in self.interval],
            "flagged_units": [str(u) for u in self.flagged_units],
            "caveat": self.caveat,
        }
        for key, value in self.details.items():
            if key in out:
                raise ValueError(f"Finding.details may not override the field {key!r}")
            out[str(key)] = _plain(value)
        return out
