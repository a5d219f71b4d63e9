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
import tempfile
import time
from pathlib import Path

from _common import peak_mib, run_child, synthetic


def child(task: str, path: str) -> None:
    from veritally.formats import clearballot, generic_csv

    if task == "import":
        print(json.dumps({"peak_mib": peak_mib()}))
        return
    module = {"clearballot": clearballot, "csv": generic_csv}[task]
    t0 = time.perf_counter()
    n = module.read([Path(path)]).n_cards
    seconds = time.perf_counter() - t0
    print(json.dumps({"cards": n, "seconds": seconds, "peak_mib": peak_mib()}))


def baseline() -> dict:
    """Peak memory of a process that only imports the readers (subtract it to see the data's share)."""
    return run_child(__file__, "import", "")


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
            show(label, run_child(__file__, task, path), path.stat().st_size)


if __name__ == "__main__":
    main()
