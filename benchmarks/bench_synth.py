"""Synthetic election generation speed and memory.

Each measurement runs ``write_synthetic`` (or only the card generator) in a fresh process, so the peak resident
memory printed (ru_maxrss) is its own:

1. drawing the cards only (``synth.generate``, no files), N cards;
2. ``veritally synth`` to Parquet (streamed: one 1,048,576-card chunk in memory at a time), N cards;
3. ``veritally synth`` to a Dominion export (whole election in memory, then written), N // 10 cards.

Run:

    python benchmarks/bench_synth.py --cards 5000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from veritally.synth import generate, write_synthetic
kind, n, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
t = time.perf_counter()
if kind == "generate":
    cards = sum(chunk.n_cards for chunk in generate("bench", n))
else:
    cards = write_synthetic(out / kind, seed="bench", n_cards=n, fmt=kind, plant="double-count")["cards"]
seconds = time.perf_counter() - t
size = sum(p.stat().st_size for p in (out / kind).rglob("*") if p.is_file()) if kind != "generate" else 0
print(json.dumps({"cards": cards, "seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bytes": size}))
"""


def measure(kind: str, n: int, folder: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, kind, str(n), folder], capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cards", type=int, default=5_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [("draw cards only (no files)", measure("generate", args.cards, folder)),
                ("synth --format parquet (streamed)", measure("parquet", args.cards, folder)),
                ("synth --format dominion", measure("dominion", args.cards // 10, folder))]
    print(f"{'what':38} {'cards':>12} {'seconds':>9} {'cards/s':>11} {'peak MiB':>9} {'output MiB':>11}")
    for label, r in rows:
        print(f"{label:38} {r['cards']:>12,} {r['seconds']:>9.2f} {r['cards'] / r['seconds']:>11,.0f} "
              f"{r['peak_mib']:>9,.0f} {r['bytes'] / 2**20:>11,.1f}")


if __name__ == "__main__":
    main()
