"""Dominion CvrExport read speed (cards/s) and peak memory.

Reads RCTab's Wyoming and Alaska exports (when ../shared is there) and a synthetic export written with Veritally's
Dominion writer: N cards, 5 contests (plurality, vote-for-3, yes/no measure, a 6-candidate ranked contest with 5
ranks, and a district contest on half the cards). The synthetic election is read twice: as CvrExport_<n>.json files
of 10,000 sessions (orjson, one file at a time) and as one CvrExport.json streamed with ijson. Each read runs in
its own process, so the peak memory printed (VmHWM) is that read's own. Run:

    python benchmarks/bench_dominion.py --cards 200000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from veritally.model import STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

SHARED = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "rctab"
REAL = {"wyoming": SHARED / "dominion_wyoming" / "wyoming_input_data",
        "alaska": SHARED / "_shared" / "dominion_alaska" / "alaska_input_data"}


def synthetic(n: int, seed: int = 1) -> Election:
    """A county-like election built straight as columns (no per-card Python)."""
    rng = np.random.default_rng(seed)

    def choices(prefix: str, names: list[str]) -> tuple[Choice, ...]:
        return tuple(Choice(f"{prefix}{i}", name) for i, name in enumerate(names))

    contests = (
        Contest("1", "Governor", ContestKind.PLURALITY, (*choices("g", ["Ada", "Bo", "Cy", "Di"]),
                                                         Choice("gw", "Write-in", write_in=True, undeclared=True))),
        Contest("2", "Council", ContestKind.VOTE_FOR_N, choices("c", [f"C{i}" for i in range(8)]), winners=3,
                votes_allowed=3),
        Contest("3", "Measure A", ContestKind.PLURALITY, choices("m", ["Yes", "No"])),
        Contest("4", "Mayor", ContestKind.RANKED, choices("r", [f"R{i}" for i in range(6)]), ranks=5),
        Contest("5", "District 2", ContestKind.PLURALITY, choices("d", ["Ed", "Flo", "Gus"])),
    )
    marks = []
    one = lambda k: (np.uint8(1) << rng.integers(0, k, n).astype(np.uint8)).astype(np.uint8)  # noqa: E731
    gov = one(5)
    gov[rng.random(n) < 0.01] |= np.uint8(1)  # some overvotes
    marks.append(ContestMarks(np.ones(n, bool), gov))
    council = np.zeros(n, np.uint16)
    for _ in range(3):
        council |= (np.uint16(1) << rng.integers(0, 8, n).astype(np.uint16))
    marks.append(ContestMarks(np.ones(n, bool), council))
    measure = one(2)
    measure[rng.random(n) < 0.05] = 0
    marks.append(ContestMarks(np.ones(n, bool), measure))
    order = np.argsort(rng.random((n, 6)), axis=1)[:, :5].astype(np.uint8)
    ranked = (np.uint8(1) << order).astype(np.uint8)
    ranked[rng.random((n, 5)) < np.array([0.02, 0.2, 0.4, 0.6, 0.7])] = 0
    marks.append(ContestMarks(np.ones(n, bool), ranked))
    district = rng.random(n) < 0.5
    marks.append(ContestMarks(district, np.where(district, one(3), 0).astype(np.uint8)))
    tab = rng.integers(0, 20, n)
    batch = tab * 100 + np.arange(n) // 300 % 100
    attrs = {
        "tabulator": Categorical(tab.astype(np.int32), np.array([f"ICC {i}" for i in range(20)], dtype=STRING)),
        "batch": Categorical(np.unique(batch, return_inverse=True)[1].astype(np.int32),
                             np.array([f"B{b}" for b in np.unique(batch)], dtype=STRING)),
        "precinct": Categorical(rng.integers(0, 200, n).astype(np.int32),
                                np.array([f"P{i:03d}" for i in range(200)], dtype=STRING)),
        "style": Categorical(rng.integers(0, 10, n).astype(np.int32),
                             np.array([f"Style {i}" for i in range(10)], dtype=STRING)),
        "counting_group": Categorical(rng.integers(0, 3, n).astype(np.int32),
                                      np.array(["Election Day", "Vote by Mail", "Early"], dtype=STRING)),
    }
    card_id = np.char.add("c", np.arange(n).astype(str)).astype(STRING)
    return Election("Bench County", contests, Cards(card_id, attrs, marks))


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


def measure(path: str, stream_above: int | None) -> None:
    """Child process: read ``path`` and print cards, seconds, cards/s and this process's peak RSS."""
    from veritally.formats.dominion import read

    options = {} if stream_above is None else {"stream_above": stream_above}
    start = time.perf_counter()
    election = read([Path(path)], **options)
    seconds = time.perf_counter() - start
    peak = peak_mib()
    print(f"{election.n_cards:>9,} cards {seconds:7.2f} s {election.n_cards / seconds:>10,.0f} cards/s "
          f"peak {peak:6.0f} MiB", flush=True)


def run(label: str, path: Path, stream_above: int | None = None) -> None:
    size = sum(p.stat().st_size for p in path.glob("*.json")) / 1e6
    print(f"{label:<44} {size:8.1f} MB JSON  ", end="", flush=True)
    args = [sys.executable, __file__, "--measure", str(path)]
    if stream_above is not None:
        args += ["--stream-above", str(stream_above)]
    subprocess.run(args, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=200_000)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--stream-above", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.stream_above)
        return
    for name, path in REAL.items():
        if path.exists():
            run(f"RCTab {name} (1 file, orjson)", path)
            run(f"RCTab {name} (1 file, ijson stream)", path, 0)
    from veritally.formats.dominion import write

    election = synthetic(args.cards)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write(election, Path(tmp) / "chunks", chunk_size=10_000)
        print(f"(writer: {args.cards:,} cards in {time.perf_counter() - start:.1f} s)")
        run("synthetic, CvrExport_<n>.json x10k (orjson)", Path(tmp) / "chunks")
        write(election, Path(tmp) / "single", chunk_size=args.cards)
        run("synthetic, one CvrExport.json (ijson stream)", Path(tmp) / "single", 0)
        run("synthetic, one CvrExport.json (orjson whole)", Path(tmp) / "single", 1 << 40)


if __name__ == "__main__":
    main()
