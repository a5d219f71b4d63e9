"""The audit workflow at state scale: plan and draw the sample for a 5M-card manifest with 20 targeted contests,
and ``status`` after 10,000 cards are recorded (each with a reading of all 20 contests).

    python benchmarks/bench_audit_workflow.py [--cards 5000000] [--contests 20] [--mvrs 10000] [--size N] [--db URL]

A BRAVO ballot-polling audit on SQLite (or ``--db``) in a temporary folder; prints one line per step.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from veritally.audit.workflow import add_contest, add_manifest, add_reported, init_audit, plan, record, sample, status


def write_inputs(folder: Path, cards: int, contests: int, seed: int = 5) -> tuple[Path, Path, list[str]]:
    """A manifest of 400-card batches and reported totals of ``contests`` three-way contests (margins 4–15 %)."""
    rng = np.random.default_rng(seed)
    batches = cards // 400
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Container", "Tabulator", "Batch Name", "Number of Ballots"])
        for b in range(batches):
            w.writerow([f"Box {b // 50}", f"Scanner {b % 97}", f"B{b:06d}", 400])
    names = [f"Contest {i + 1:02d}" for i in range(contests)]
    reported = folder / "reported.csv"
    shares = []
    with open(reported, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["contest", "choice", "votes"])
        for name in names:
            margin = rng.uniform(0.04, 0.15)
            a = 0.47 + margin / 2
            b = a - margin
            votes = np.array([a, b, 1 - a - b - 0.03]) * batches * 400
            shares.append(votes / votes.sum())
            for choice, v in zip(("Alpha", "Beta", "Gamma"), votes.astype(int)):
                w.writerow([name, choice, int(v)])
    return manifest, reported, names


def mvr_file(folder: Path, retrieval: list[Path], names: list[str], limit: int, seed: int = 6) -> tuple[Path, int]:
    rng = np.random.default_rng(seed)
    ids = []
    for path in retrieval:
        with open(path, newline="", encoding="utf-8") as fh:
            ids += [row["ballot_id"] for row in csv.DictReader(fh)]
    ids = ids[:limit]
    out = folder / "mvrs.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ballot_id", "contest", "choice"])
        for bid in ids:
            picks = rng.choice(["Alpha", "Beta", "Gamma", "BLANK"], p=[0.5, 0.4, 0.08, 0.02], size=len(names))
            w.writerows((bid, name, pick) for name, pick in zip(names, picks))
    return out, len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5_000_000)
    parser.add_argument("--contests", type=int, default=20)
    parser.add_argument("--mvrs", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=None, help="draws in round 1 (default: the plan's 0.9 option)")
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest, reported, names = write_inputs(folder, args.cards, args.contests)
        store = init_audit(args.db or folder / "audit.db", risk_limit=0.05, seed="05196312987654321036",
                           audit_type="polling")
        start = time.perf_counter()
        add_manifest(store, manifest)
        add_reported(store, reported)
        for name in names:
            add_contest(store, name)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        planned = plan(store)
        planning = time.perf_counter() - start
        start = time.perf_counter()
        drawn = sample(store, out_dir=folder / "retrieval", size=args.size)
        drawing = time.perf_counter() - start
        print(f"setup (manifest of {args.cards:,} cards, {args.contests} contests): {setup:.2f} s")
        biggest = max(max(o["size"] for o in c["options"].values()) for c in planned["contests"])
        print(f"plan: {planning:.2f} s (largest option {biggest:,} draws)")
        print(f"sample: {drawing:.2f} s ({drawn['draws']:,} draws, {drawn['cards']:,} cards); "
              f"plan + sample {planning + drawing:.2f} s (target ≤ 30 s)")
        mvrs, n = mvr_file(folder, [Path(p) for p in drawn["retrieval_lists"]], names, args.mvrs)
        start = time.perf_counter()
        record(store, mvrs)
        recording = time.perf_counter() - start
        print(f"record: {recording:.2f} s ({n:,} cards × {args.contests} contests = {n * args.contests:,} readings)")
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            result = status(store)
            timings.append(time.perf_counter() - start)
        states = sorted({c["state"] for c in result["contests"]})
        print(f"status after {n:,} recorded cards: {min(timings):.2f} s (best of 3: "
              f"{', '.join(f'{t:.2f}' for t in timings)}; target ≤ 2 s); states {states}")
        store.dispose()


if __name__ == "__main__":
    main()
