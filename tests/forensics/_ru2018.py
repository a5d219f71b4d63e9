"""A test-only loader for the Russian 2018 presidential polling-station file (../shared/data, PROVENANCE.md §1).

Just zipfile + csv, so the forensics tests do not depend on the ``ru-cik`` reader written at the same time. Column
meanings (0-based): 0 region, 1 tik, 2 uik, 3 registered voters, 4 ballots received, 5 issued early, 6 issued in the
station, 7 issued outside it, 8 cancelled, 9 in portable boxes, 10 in stationary boxes, 11 invalid, 12 valid,
13 lost, 14 not accounted for at receipt, 15–22 the eight candidates (Baburin … Yavlinsky), 23 url.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from veritally.forensics import UnitResults

from .._shared import SHARED, need

RU2018 = SHARED / "data" / "kobak_ru2018_president_uik.csv.zip"
CANDIDATES = ("Baburin", "Grudinin", "Zhirinovsky", "Putin", "Sobchak", "Suraykin", "Titov", "Yavlinsky")


@dataclass(frozen=True)
class Ru2018:
    region: np.ndarray
    unit: np.ndarray
    registered: np.ndarray
    issued: np.ndarray  # early + in the station + outside: Kobak's turnout numerator
    invalid: np.ndarray
    valid: np.ndarray
    votes: np.ndarray  # (n, 8) in CANDIDATES order

    @property
    def received(self) -> np.ndarray:
        """valid + invalid: the denominator of Kobak's leader share (his variable name)."""
        return self.valid + self.invalid

    @property
    def putin(self) -> np.ndarray:
        return self.votes[:, CANDIDATES.index("Putin")]

    def unit_results(self) -> UnitResults:
        return UnitResults(unit=self.unit, choice=CANDIDATES, votes=self.votes, registered=self.registered,
                           ballots=self.received, region=self.region, issued=self.issued)


@lru_cache(maxsize=1)
def load_ru2018() -> Ru2018:
    """The whole file as arrays (about 1 s); skips the test when ../shared is absent."""
    with zipfile.ZipFile(need(RU2018)) as archive, archive.open("2018.csv") as raw:
        rows = list(csv.reader(io.TextIOWrapper(raw, encoding="utf-8")))
    header, body = rows[0], rows[1:]
    assert len(header) == 24 and header[2] == "uik"
    numbers = np.array([row[3:23] for row in body], dtype=np.int64)
    region = np.array([row[0] for row in body])
    # uik numbers repeat across regions; region + tik + uik is unique.
    unit = np.array([f"{row[0]}|{row[1]}|{row[2]}" for row in body])
    return Ru2018(region=region, unit=unit, registered=numbers[:, 0],
                  issued=numbers[:, 2] + numbers[:, 3] + numbers[:, 4], invalid=numbers[:, 8],
                  valid=numbers[:, 9], votes=numbers[:, 12:20])
