"""NIST CDF JSON write and read speed (cards/s) and peak memory.

An election of ``--cards`` cards (default 200,000) is built column-wise: a 12-choice ranked contest with 5 ranks,
two plurality contests and a vote-for-2 contest (each on ~90 % of the cards), precinct, batch, tabulator and style
attributes. It is written with ``nist_cdf.write``, then read back, each in a fresh process so that the peak resident
memory printed (VmHWM; ru_maxrss where /proc is missing, which a child inherits from its parent) is that step's own:
parsed whole with orjson, and streamed CVR by CVR with ijson. Run:

    python benchmarks/bench_cdf.py --cards 200000
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


def synthetic(n: int, seed: int = 1):
    """An election of ``n`` cards built column-wise (no per-card Python)."""
    from veritally.model import STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

    rng = np.random.default_rng(seed)
    names = [f"Candidate {chr(65 + i)}" for i in range(12)]
    contests = [
        Contest("rcv", "Mayor", ContestKind.RANKED, tuple(Choice(f"m{i}", x) for i, x in enumerate(names)), ranks=5),
        Contest("sheriff", "Sheriff", ContestKind.PLURALITY, tuple(Choice(f"s{i}", x) for i, x in
                                                                    enumerate(names[:4]))),
        Contest("prop", "Proposition 1", ContestKind.PLURALITY, (Choice("yes", "Yes"), Choice("no", "No"))),
        Contest("council", "City Council", ContestKind.VOTE_FOR_N,
                tuple(Choice(f"c{i}", x) for i, x in enumerate(names[:6])), winners=2, votes_allowed=2),
    ]
    ranks = (np.uint16(1) << rng.integers(0, 12, (n, 5)).astype(np.uint16)).astype(np.uint16)
    ranks[rng.random((n, 5)) < 0.3] = 0
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
             "tabulator": categorical("Scanner", 20), "style": categorical("Style", 40)}
    ids = np.strings.add("card-", np.arange(1, n + 1).astype(STRING))
    return Election("bench", tuple(contests), Cards(ids, attrs, marks))


def peak_mib() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss, which a child inherits from
    the benchmark parent holding the synthetic election), else ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, path: str) -> None:
    from veritally.formats import nist_cdf

    if mode == "import":
        print(json.dumps({"peak_mib": peak_mib()}))
        return
    if mode.startswith("write"):  # "write:<cards>": build the election, then write it (chunked)
        n = int(mode.split(":")[1])
        election = synthetic(n)
        built = peak_mib()
        t0 = time.perf_counter()
        nist_cdf.write(election, Path(path))
        seconds = time.perf_counter() - t0
        print(json.dumps({"cards": n, "seconds": seconds, "peak_mib": peak_mib(), "built_mib": built}))
        return
    t0 = time.perf_counter()
    n = nist_cdf.read([Path(path)], stream_above=0 if mode == "stream" else 1 << 40).n_cards
    seconds = time.perf_counter() - t0
    print(json.dumps({"cards": n, "seconds": seconds, "peak_mib": peak_mib()}))


def measure(mode: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(path)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def baseline() -> dict:
    """Peak memory of a process that only imports the reader (subtract it to see the data's share)."""
    out = subprocess.run([sys.executable, __file__, "--child", "import", ""], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=200_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    print(f"python + numpy + veritally imported: peak {baseline()['peak_mib']:.0f} MiB")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cvrs.json"
        w = measure(f"write:{args.cards}", path)
        size = path.stat().st_size
        print(f"{'write (10,000 CVRs a chunk)':<30} {w['cards']:>9,} cards {w['seconds']:6.2f} s "
              f"{w['cards'] / w['seconds']:>10,.0f} cards/s peak {w['peak_mib']:6.0f} MiB (election built: "
              f"{w['built_mib']:.0f} MiB); file {size / 2**20:.0f} MiB, {size / w['cards']:.0f} bytes a card")
        for label, mode in (("read, parsed whole (orjson)", "whole"), ("read, streamed (ijson)", "stream")):
            r = measure(mode, path)
            print(f"{label:<30} {r['cards']:>9,} cards {r['seconds']:6.2f} s {r['cards'] / r['seconds']:>10,.0f} "
                  f"cards/s peak {r['peak_mib']:6.0f} MiB")


if __name__ == "__main__":
    main()
