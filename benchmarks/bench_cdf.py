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
import tempfile
import time
from pathlib import Path

from _common import peak_mib, run_child, synthetic


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
    return run_child(__file__, mode, path)


def baseline() -> dict:
    """Peak memory of a process that only imports the reader (subtract it to see the data's share)."""
    return run_child(__file__, "import", "")


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
