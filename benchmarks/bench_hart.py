"""Hart Verity CVR XML read speed (cards/s) and peak memory, and write speed.

Writes a synthetic election with Veritally's Hart writer — N cards (default 20,000), one XML file each, 5 contests
(plurality with a write-in line, vote-for-3, yes/no measure, a 6-candidate ranked contest with 5 ranks, and a
district contest on half the cards) — as a folder and as a CVR archive zip, then reads each back in its own
process, so the peak memory printed (VmHWM) is that read's own. Run:

    python benchmarks/bench_hart.py --cards 20000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from veritally.model import STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

from _common import peak_mib


def synthetic(n: int, seed: int = 1) -> Election:
    """A county-like election built straight as columns (no per-card Python)."""
    rng = np.random.default_rng(seed)

    def choices(prefix: str, names: list[str]) -> tuple[Choice, ...]:
        return tuple(Choice(f"{prefix}-{i:04d}-guid", name) for i, name in enumerate(names))

    contests = (
        Contest("c1", "Governor", ContestKind.PLURALITY, (*choices("g", ["Ada", "Bo", "Cy", "Di"]),
                                                          Choice("gw", "Write-in", write_in=True))),
        Contest("c2", "Council", ContestKind.VOTE_FOR_N, choices("c", [f"C{i}" for i in range(8)]), winners=3,
                votes_allowed=3),
        Contest("c3", "Measure A", ContestKind.PLURALITY, choices("m", ["Yes", "No"])),
        Contest("c4", "Mayor", ContestKind.RANKED, choices("r", [f"R{i}" for i in range(6)]), ranks=5),
        Contest("c5", "District 2", ContestKind.PLURALITY, choices("d", ["Ed", "Flo", "Gus"])),
    )
    one = lambda k: (np.uint8(1) << rng.integers(0, k, n).astype(np.uint8)).astype(np.uint8)  # noqa: E731
    council = np.zeros(n, np.uint16)
    for _ in range(3):
        council |= (np.uint16(1) << rng.integers(0, 8, n).astype(np.uint16))
    measure = one(2)
    measure[rng.random(n) < 0.05] = 0
    order = np.argsort(rng.random((n, 6)), axis=1)[:, :5].astype(np.uint8)
    ranked = (np.uint8(1) << order).astype(np.uint8)
    ranked[rng.random((n, 5)) < np.array([0.02, 0.2, 0.4, 0.6, 0.7])] = 0
    district = rng.random(n) < 0.5
    marks = [ContestMarks(np.ones(n, bool), one(5)), ContestMarks(np.ones(n, bool), council),
             ContestMarks(np.ones(n, bool), measure), ContestMarks(np.ones(n, bool), ranked),
             ContestMarks(district, np.where(district, one(3), 0).astype(np.uint8))]
    attrs = {
        "tabulator": Categorical(rng.integers(0, 4, n).astype(np.int32),
                                 np.array([f"VD{i:05d}" for i in range(4)], dtype=STRING)),
        "batch": Categorical((np.arange(n) // 300).astype(np.int32),
                             np.array([str(b) for b in range(n // 300 + 1)], dtype=STRING)),
        "precinct": Categorical(rng.integers(0, 200, n).astype(np.int32),
                                np.array([f"{i:03d}-1" for i in range(200)], dtype=STRING)),
    }
    card_id = np.array([f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(n)], dtype=STRING)
    return Election("Bench County", contests, Cards(card_id, attrs, marks))




def measure(path: str) -> None:
    """Child process: read ``path`` and print cards, seconds, cards/s and this process's peak RSS."""
    from veritally.formats.hart import read

    start = time.perf_counter()
    election = read([Path(path)])
    seconds = time.perf_counter() - start
    print(f"{election.n_cards:>9,} cards {seconds:7.2f} s {election.n_cards / seconds:>10,.0f} cards/s "
          f"peak {peak_mib():6.0f} MiB", flush=True)


def run(label: str, path: Path) -> None:
    size = (sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size) / 1e6
    print(f"{label:<34} {size:8.1f} MB  ", end="", flush=True)
    subprocess.run([sys.executable, __file__, "--measure", str(path)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=20_000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    from veritally.formats.hart import write

    election = synthetic(args.cards)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("cvrs", "cvrs.zip"):
            start = time.perf_counter()
            write(election, Path(tmp) / name)
            seconds = time.perf_counter() - start
            print(f"(writer: {args.cards:,} cards to {name} in {seconds:.2f} s, {args.cards / seconds:,.0f} cards/s)")
        run("synthetic, folder of XML files", Path(tmp) / "cvrs")
        run("synthetic, one zip archive", Path(tmp) / "cvrs.zip")


if __name__ == "__main__":
    main()
