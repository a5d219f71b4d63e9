"""What the paper truth and the ``misread`` plant cost in ``veritally synth``.

Each measurement runs ``write_synthetic`` in a fresh process, so the peak resident memory printed (ru_maxrss) is
its own:

1. Parquet, N cards, no plant: the paper streamed chunk by chunk, the CVRs a file copy of it;
2. Parquet, N cards, ``misread`` with ``outcome_changing``: the paper streamed, then the cards drawn a second time
   and streamed as the CVRs with the misread applied (memory stays one chunk);
3. Dominion, the demo's 50,000 cards, no plant (the export copied) and ``misread`` (written twice).

Run from the project root:

    python benchmarks/bench_synth_paper.py --cards 5000000
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
from veritally.synth import write_synthetic
fmt, n, plant, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
t = time.perf_counter()
truth = write_synthetic(out, seed="bench", n_cards=n, fmt=fmt, plant=None if plant == "none" else plant,
                        outcome_changing=plant == "misread")
seconds = time.perf_counter() - t
size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
planted = truth["planted"] or {}
print(json.dumps({"cards": truth["cards"], "seconds": seconds, "bytes": size,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "misread": planted.get("cards"), "batches": len(planted.get("batches", ())),
                  "contest": planted.get("contest")}))
"""


def measure(fmt: str, n: int, plant: str, folder: str) -> dict:
    out = f"{folder}/{fmt}-{plant}"
    res = subprocess.run([sys.executable, "-c", CHILD, fmt, str(n), plant, out], capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cards", type=int, default=5_000_000)
    ap.add_argument("--demo-cards", type=int, default=50_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        rows = [("parquet, no plant", measure("parquet", args.cards, "none", folder)),
                ("parquet, misread --outcome-changing", measure("parquet", args.cards, "misread", folder)),
                ("dominion, no plant", measure("dominion", args.demo_cards, "none", folder)),
                ("dominion, misread --outcome-changing", measure("dominion", args.demo_cards, "misread", folder))]
    print(f"{'what':38} {'cards':>11} {'seconds':>8} {'cards/s':>10} {'peak MiB':>9} {'output MiB':>11}  misread")
    for label, r in rows:
        batches = f"{r['batches']} batch{'es' if r['batches'] != 1 else ''}"
        misread = f"{r['misread']:,} cards in {batches} of {r['contest']}" if r["misread"] else "—"
        print(f"{label:38} {r['cards']:>11,} {r['seconds']:>8.2f} {r['cards'] / r['seconds']:>10,.0f} "
              f"{r['peak_mib']:>9,.0f} {r['bytes'] / 2**20:>11,.1f}  {misread}")


if __name__ == "__main__":
    main()
