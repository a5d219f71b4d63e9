"""Clear Ballot CSV and Veritally CSV reader speed and memory.

An election of ``--cards`` cards (default 500,000) is built column-wise: a ranked contest of 12 choices and 5 ranks,
two plurality contests and a vote-for-2 contest, ~10 % of cards without each non-ranked contest, precinct, batch
and tabulator attributes. It is written with ``clearballot.write`` and ``generic_csv.write`` (the latter also with
a few cards ranking one choice twice, so that cells hold ``1|3`` and the reader takes its text path), and each file
is read back in a fresh process so that its peak resident memory (ru_maxrss) is its own. Run:

    python benchmarks/bench_csv.py --cards 500000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic(n: int, seed: int = 1, repeats: bool = False):
    """An election of ``n`` cards built column-wise (no per-card Python); no overvote whose choices are unknown."""
    from veritally.model import STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

    rng = np.random.default_rng(seed)
    names = [f"Candidate {chr(65 + i)}" for i in range(12)]
    contests = [
        Contest("rcv", "Mayor", ContestKind.RANKED, tuple(Choice(str(i + 1), x) for i, x in enumerate(names)), ranks=5),
        Contest("sheriff", "Sheriff", ContestKind.PLURALITY, tuple(Choice(str(i + 1), x) for i, x in
                                                                    enumerate(names[:4]))),
        Contest("prop", "Proposition 1", ContestKind.PLURALITY, (Choice("1", "Yes"), Choice("2", "No"))),
        Contest("council", "City Council", ContestKind.VOTE_FOR_N,
                tuple(Choice(str(i + 1), x) for i, x in enumerate(names[:6])), winners=2, votes_allowed=2),
    ]
    ranks = (np.uint16(1) << rng.integers(0, 12, (n, 5)).astype(np.uint16)).astype(np.uint16)
    ranks[rng.random((n, 5)) < 0.3] = 0
    if repeats:  # one card in a thousand ranks its first choice again at rank 3: cells "1|3"
        again = rng.random(n) < 0.001
        ranks[again, 2] = ranks[again, 0]
    marks = [ContestMarks(np.ones(n, bool), ranks)]
    for contest in contests[1:]:
        k = len(contest.choices)
        masks = (np.uint8(1) << rng.integers(0, k, n).astype(np.uint8)).astype(np.uint8)
        if contest.votes_allowed == 2:
            masks |= (np.uint8(1) << rng.integers(0, k, n).astype(np.uint8)).astype(np.uint8)
        masks[rng.random(n) < 0.03] = 0
        present = rng.random(n) >= 0.1
        masks[~present] = 0
        marks.append(ContestMarks(present, masks))

    def categorical(prefix: str, count: int) -> Categorical:
        return Categorical(rng.integers(0, count, n).astype(np.int32),
                           np.array([f"{prefix} {i:03d}" for i in range(count)], STRING))

    attrs = {"precinct": categorical("Precinct", 500), "batch": categorical("Batch", 2000),
             "tabulator": categorical("Scanner", 20)}
    ids = np.strings.add("card-", np.arange(1, n + 1).astype(STRING))
    return Election("bench", tuple(contests), Cards(ids, attrs, marks))


def child(task: str, path: str) -> None:
    from veritally.formats import clearballot, generic_csv

    module = {"clearballot": clearballot, "csv": generic_csv}[task]
    t0 = time.perf_counter()
    n = module.read([Path(path)]).n_cards
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cards": n, "seconds": seconds, "peak_mib": peak}))


def measure(task: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", task, str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def baseline() -> dict:
    """Peak memory of a process that only imports the readers (subtract it to see the data's share)."""
    code = ("import resource, json; from veritally.formats import clearballot, generic_csv; "
            "print(json.dumps({'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))")
    return json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                     text=True).stdout)


def show(label: str, r: dict, size: int) -> None:
    print(f"{label:<46} {size / 2**20:6.0f} MiB {r['cards']:>9,} cards {r['seconds']:6.2f} s "
          f"{r['cards'] / r['seconds']:>10,.0f} cards/s peak {r['peak_mib']:6.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=500_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    from veritally.formats import clearballot, generic_csv

    print(f"python + numpy + pyarrow + veritally imported: peak {baseline()['peak_mib']:.0f} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        election = synthetic(args.cards)
        for label, module, task, name, elec in (
                ("Clear Ballot CSV (83 0/1 columns)", clearballot, "clearballot", "cb.csv", election),
                ("Veritally CSV (24 columns, integer path)", generic_csv, "csv", "vt.csv", election),
                ("Veritally CSV with '1|3' cells (text path)", generic_csv, "csv", "vt_text.csv",
                 synthetic(args.cards, repeats=True))):
            path = Path(tmp) / name
            t0 = time.perf_counter()
            module.write(elec, path)
            print(f"{task}.write {args.cards:,} cards: {time.perf_counter() - t0:.2f} s")
            show(label, measure(task, path), path.stat().st_size)


if __name__ == "__main__":
    main()
