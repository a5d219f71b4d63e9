"""Matching a previous election's units to this election's, for the outlier test against history.

Unit ids rarely agree letter for letter across elections and sources ("New Castle / 01-01" in OpenElections,
"NEW CASTLE / 01-01" in MEDSL; a Russian station whose territorial commission was renamed). Units are matched in
three passes, each only among the units still unmatched and only where a key is unique on both sides, so that no
unit is ever matched twice or by a guess between two candidates:

1. the exact id;
2. the id compared loosely: case-folded, blanks collapsed, leading zeros of numbers dropped ("01-01" ~ "1-1");
3. the first and last parts of the id only, compared loosely ("Region / UIK", skipping the territorial commission
   in between; "County / Precinct" ids have only those two parts already).

The report says how many units matched at each pass; redistricting and renumbering break any id-based match, so
the outlier test runs on the matched units only and says so.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from .forensics._types import UnitResults

__all__ = ["UnitMatch", "match_previous", "loose_id"]

_BLANKS = re.compile(r"\s+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def loose_id(unit: str) -> str:
    """An id compared loosely: case-folded, blanks collapsed, blanks around "/" dropped, no leading zeros."""
    text = _BLANKS.sub(" ", unit.casefold()).strip()
    text = re.sub(r"\s*/\s*", "/", text)
    return _LEADING_ZEROS.sub("", text)


def _ends(unit: str) -> str | None:
    parts = [p for p in loose_id(unit).split("/")]
    return f"{parts[0]}/{parts[-1]}" if len(parts) >= 3 else None


@dataclass(frozen=True)
class UnitMatch:
    """How the previous election's units were matched: per pass, and in all."""

    current: int
    previous: int
    by_pass: dict[str, int] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return sum(self.by_pass.values())

    def to_json(self) -> dict:
        return {"matched": self.matched, "current_units": self.current, "previous_units": self.previous,
                "by_pass": dict(self.by_pass)}

    def describe(self) -> str:
        passes = ", ".join(f"{n:,} {name}" for name, n in self.by_pass.items() if n)
        return (f"{self.matched:,} of {self.current:,} units matched a unit of the previous election "
                f"({self.previous:,} units)" + (f": {passes}" if passes else ""))


def match_previous(current: UnitResults, previous: UnitResults) -> tuple[UnitResults | None, UnitMatch]:
    """``previous`` restricted to the units matched to ``current``'s, renamed to ``current``'s ids (so a test
    joining the two by id finds them); None when no unit matched."""
    cur_ids = [str(u) for u in current.unit]
    prev_ids = [str(u) for u in previous.unit]
    pairs: dict[int, int] = {}  # previous position → current position
    free_cur = set(range(len(cur_ids)))
    free_prev = set(range(len(prev_ids)))
    by_pass: dict[str, int] = {}
    for name, key in (("exact", str), ("compared loosely", loose_id), ("by first and last id parts", _ends)):
        cur_keys = {i: key(cur_ids[i]) for i in free_cur}
        prev_keys = {j: key(prev_ids[j]) for j in free_prev}
        cur_count = Counter(k for k in cur_keys.values() if k is not None)
        prev_count = Counter(k for k in prev_keys.values() if k is not None)
        unique_cur = {k: i for i, k in cur_keys.items() if k is not None and cur_count[k] == 1}
        found = 0
        for j, k in prev_keys.items():
            if k is not None and prev_count[k] == 1 and k in unique_cur:
                i = unique_cur[k]
                pairs[j] = i
                free_cur.discard(i)
                free_prev.discard(j)
                found += 1
        by_pass[name] = found
    report = UnitMatch(len(cur_ids), len(prev_ids), by_pass)
    if not pairs:
        return None, report
    prev_pos = np.array(sorted(pairs, key=pairs.__getitem__), np.int64)
    cur_pos = np.array([pairs[j] for j in prev_pos], np.int64)

    def take(values):
        return None if values is None else np.asarray(values)[prev_pos]

    aligned = replace(previous, unit=np.asarray(current.unit)[cur_pos], votes=np.asarray(previous.votes)[prev_pos],
                      registered=take(previous.registered), ballots=take(previous.ballots),
                      region=take(previous.region), issued=take(getattr(previous, "issued", None)))
    return aligned, report
