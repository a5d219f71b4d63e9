"""Published-results reading, reconciliation and the whole ``veritally results check`` on the Russian 2018 stations.

The file is ../shared/data/kobak_ru2018_president_uik.csv.zip (97,699 polling stations, 3.1 MB zipped, 32.6 MB of
CSV, read in place with the ``ru-cik`` preset). Each step runs in a fresh process, ``--repeat`` times (the best is
shown with the median): the read (zip → ``PrecinctResults``), the reconciliation (R1–R6 on every station) and the
per-contest arrays for forensics (with Arrow's system allocator, as the CLI uses), then the whole command as a
user runs it (``python -m veritally results check``: interpreter start, imports, read, reconcile, the forensic
battery with ``--mc-replicates`` Monte Carlo replicates, plots, findings.json). The Delaware files are timed too
(small, for scale). Run from the project root:

    python benchmarks/bench_results.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import peak_mib, run_child

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FILES = {"ru2018": DATA / "kobak_ru2018_president_uik.csv.zip",
         "de2016": DATA / "openelections_20161108__de__general__precinct.csv",
         "de2018": DATA / "medsl_2018-de-precinct-general.zip"}


def child(key: str) -> None:
    t0 = time.perf_counter()
    from veritally.reconcile import reconcile
    from veritally.results import read_results
    t1 = time.perf_counter()
    res = read_results(FILES[key])
    t2 = time.perf_counter()
    rec = reconcile(res)
    t3 = time.perf_counter()
    contest = max(res.contest_names(), key=lambda c: len(res.unit_votes(res.contests.index(c))[0]))
    units = res.to_unit_results(contest)
    t4 = time.perf_counter()
    print(json.dumps({"units": res.n_units, "rows": len(res), "violations": len(rec.violations),
                      "unit_results": len(units.unit), "import": t1 - t0, "read": t2 - t1, "reconcile": t3 - t2,
                      "to_unit_results": t4 - t3, "peak_mib": peak_mib()}))


def whole_command(path: Path, replicates: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "veritally", "results", "check", str(path), "--out",
                               str(Path(tmp) / "out"), "--mc-replicates", str(replicates)], capture_output=True,
                              text=True)
        seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"results check failed: {done.stderr.strip()}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mc-replicates", type=int, default=1000)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")  # as the CLI sets it (veritally.cli.main)
    for key, path in FILES.items():
        if not path.exists():
            print(f"{key}: {path} not found (../shared/data is needed)")
            continue
        runs = [run_child(__file__, key) for _ in range(args.repeat)]
        first = runs[0]
        print(f"{key}: {path.name} ({path.stat().st_size / 2**20:.1f} MiB), {first['units']:,} units, "
              f"{first['rows']:,} rows, {first['violations']} violations, peak {first['peak_mib']:.0f} MiB")
        for step in ("import", "read", "reconcile", "to_unit_results"):
            times = [r[step] for r in runs]
            print(f"  {step:<16} best {min(times):6.3f} s   median {statistics.median(times):6.3f} s")
        total = [r["read"] + r["reconcile"] for r in runs]
        print(f"  {'read+reconcile':<16} best {min(total):6.3f} s   median {statistics.median(total):6.3f} s")
    ru = FILES["ru2018"]
    if ru.exists():
        times = [whole_command(ru, args.mc_replicates) for _ in range(args.repeat)]
        print(f"veritally results check {ru.name} --mc-replicates {args.mc_replicates} (fresh process, wall "
              f"clock): best {min(times):.2f} s, median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
