"""Counting speed and memory from the columnar model.

Writes a Parquet file of N cards × C contests (random plurality/vote-for-2 masks, 5-6 choices, ~10 % of cards
without each contest) and counts it with `veritally tabulate`'s streaming path, reporting cards/s, the Parquet size
and the peak resident memory of the counting process. Run:

    python benchmarks/bench_count.py --cards 10000000 --contests 20
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from veritally.formats.parquet import _META_KEY, _FORMAT_VERSION
from veritally.model import Choice, Contest, ContestKind, contest_to_dict

import orjson


def make_file(path: Path, n: int, n_contests: int, seed: int = 1, chunk: int = 1 << 20) -> None:
    rng = np.random.default_rng(seed)
    contests = []
    for j in range(n_contests):
        k = 5 + j % 2
        kind, allowed = (ContestKind.VOTE_FOR_N, 2) if j % 4 == 3 else (ContestKind.PLURALITY, 1)
        contests.append(Contest(str(j), f"Contest {j}", kind, tuple(Choice(f"{j}-{i}", f"C{i}") for i in range(k)),
                                winners=allowed, votes_allowed=allowed))
    meta = {"version": _FORMAT_VERSION, "name": "bench", "meta": {}, "attributes": ["precinct"],
            "contests": [contest_to_dict(c) for c in contests]}
    writer = None
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        arrays = [pa.array(np.char.add("c", np.arange(start, start + m).astype(str)).astype(np.dtypes.StringDType())),
                  pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 2000, m, dtype=np.int32)),
                                                 pa.array([f"P{i:04d}" for i in range(2000)]))]
        names = ["card_id", "attr.precinct"]
        for j, c in enumerate(contests):
            k = len(c.choices)
            vote = rng.integers(0, k, m)
            masks = (np.uint8(1) << vote.astype(np.uint8)).astype(np.uint8)
            masks[rng.random(m) < 0.03] = 0
            masks[rng.random(m) < 0.003] |= np.uint8(1)
            arrays.append(pa.array(masks, mask=rng.random(m) < 0.1))
            names.append(f"c{j}")
        table = pa.Table.from_arrays(arrays, names=names).replace_schema_metadata({_META_KEY: orjson.dumps(meta)})
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=chunk)
    writer.close()


COUNT = """
import os; os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
import resource, sys, time
from pathlib import Path
from veritally.formats.parquet import iter_chunks
from veritally.tabulate import tabulate_chunks
t = time.perf_counter()
by = sys.argv[2] if len(sys.argv) > 2 else None
chunks = iter_chunks(Path(sys.argv[1]), card_ids=False, attributes=[by] if by else [])
count = tabulate_chunks(chunks, by=by)
dt = time.perf_counter() - t
# VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(dt, hwm * 1024, count.cards)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=10_000_000)
    ap.add_argument("--contests", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.parquet"
        t = time.perf_counter()
        make_file(path, args.cards, args.contests)
        print(f"wrote {args.cards:,} cards × {args.contests} contests in {time.perf_counter() - t:.1f} s; "
              f"Parquet {path.stat().st_size / 2**20:.0f} MiB")
        for by in (None, "precinct"):
            out = subprocess.run([sys.executable, "-c", COUNT, str(path)] + ([by] if by else []),
                                 capture_output=True, text=True, check=True).stdout.split()
            dt, rss, cards = float(out[0]), int(out[1]), int(out[2])
            print(f"count{' by ' + by if by else ''}: {dt:.2f} s, {cards / dt / 1e6:.1f} M cards/s, "
                  f"peak RSS {rss / 2**20:.0f} MiB ({rss / path.stat().st_size:.2f}× the Parquet size)")


if __name__ == "__main__":
    main()
