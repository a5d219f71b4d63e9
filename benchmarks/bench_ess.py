"""ES&S reader speed and memory.

1. The 2013 Minneapolis mayor xlsx of RCTab's suite (80,101 ballots; needs ../shared): calamine's whole-sheet
   ``to_python()`` against lazy ``iter_rows()``, then ``ess.read`` with the case's RCTab options.
2. A large ES&S-style CSV generated here with ``ess.write`` (default 1,000,000 cards: a ranked contest of 5 ranks,
   two plurality contests and a vote-for-2 contest, ~10 % of cards without each non-ranked contest), read back.

Each measurement runs in a fresh process so that its peak resident memory (ru_maxrss) is its own. Run:

    python benchmarks/bench_ess.py --cards 1000000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import peak_mib, run_child, synthetic

ROOT = Path(__file__).resolve().parents[1]
MINNEAPOLIS = (ROOT / ".." / "shared" / "conformance" / "rctab" / "2013_minneapolis_mayor").resolve()


def child(task: str, path: str) -> None:
    from veritally.formats import ess

    t0 = time.perf_counter()
    if task == "to_python":
        from python_calamine import CalamineWorkbook

        rows = CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
        n = len(rows) - 1
    elif task == "iter_rows":
        from python_calamine import CalamineWorkbook

        n = sum(1 for _ in CalamineWorkbook.from_path(path).get_sheet_by_index(0).iter_rows()) - 1
    elif task == "read_minneapolis":
        config = json.loads((Path(path).parent / "2013_minneapolis_mayor_config.json").read_text())
        opts = ess.options_from_rctab_source(config["cvrFileSources"][0], config["candidates"], config["rules"])
        n = ess.read([Path(path)], **opts).n_cards
    elif task == "read":
        n = ess.read([Path(path)]).n_cards
    else:
        raise SystemExit(f"unknown task {task}")
    seconds = time.perf_counter() - t0
    print(json.dumps({"cards": n, "seconds": seconds, "peak_mib": peak_mib()}))


def measure(task: str, path: Path) -> dict:
    return run_child(__file__, task, path)


def show(label: str, r: dict) -> None:
    print(f"{label:<44} {r['cards']:>10,} cards {r['seconds']:8.2f} s {r['cards'] / r['seconds']:>12,.0f} cards/s "
          f"peak {r['peak_mib']:7.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cards", type=int, default=1_000_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    xlsx = MINNEAPOLIS / "2013_minneapolis_mayor_cvr.xlsx"
    if xlsx.exists():
        show("calamine to_python (whole sheet)", measure("to_python", xlsx))
        show("calamine iter_rows (lazy rows)", measure("iter_rows", xlsx))
        show("ess.read 2013 Minneapolis xlsx", measure("read_minneapolis", xlsx))
    else:
        print(f"(skipping Minneapolis: {xlsx} not found)")
    from veritally.formats import ess

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ess_bench.csv"
        t0 = time.perf_counter()
        ess.write(synthetic(args.cards), path)
        print(f"ess.write {args.cards:,} cards: {time.perf_counter() - t0:.2f} s, "
              f"{path.stat().st_size / 2**20:.0f} MiB CSV")
        show("ess.read generated CSV (4 contests, 10 cols)", measure("read", path))


if __name__ == "__main__":
    main()
