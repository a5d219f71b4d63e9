"""The forensic battery on the 97,699 polling stations of Russia's 2018 presidential election, 1000 MC replicates.

Target (issue 7): the whole battery in ≤ 10 s on 2 cores. Printed: the time of each test on all stations (called as
``run_battery`` calls it), then ``run_battery`` end to end without and with plots, each the median of ``--repeat``
runs in this process after one warm-up run (which pays for imports and matplotlib's font cache), and the warm-up run
itself. The data are read from ../shared/data (PROVENANCE.md §1) with zipfile + csv.

    python benchmarks/bench_forensics.py [--repeat 3] [--replicates 1000]
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kobak_ru2018_president_uik.csv.zip"
CANDIDATES = ("Baburin", "Grudinin", "Zhirinovsky", "Putin", "Sobchak", "Suraykin", "Titov", "Yavlinsky")


def load():
    from veritally.forensics import UnitResults

    with zipfile.ZipFile(DATA) as archive, archive.open("2018.csv") as raw:
        rows = list(csv.reader(io.TextIOWrapper(raw, encoding="utf-8")))[1:]
    numbers = np.array([row[3:23] for row in rows], dtype=np.int64)
    return UnitResults(unit=np.array([f"{r[0]}|{r[1]}|{r[2]}" for r in rows]), choice=CANDIDATES,
                       votes=numbers[:, 12:20], registered=numbers[:, 0], ballots=numbers[:, 8] + numbers[:, 9],
                       region=np.array([r[0] for r in rows]), issued=numbers[:, 2] + numbers[:, 3] + numbers[:, 4])


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return time.perf_counter() - start, out


def per_test(units, replicates: int) -> list[tuple[str, float]]:
    from veritally.forensics import battery, digits, shape
    from veritally.forensics.fingerprint import fit_klimek
    from veritally.forensics.integer_percent import integer_percent_findings

    data = battery._prepare(units)
    keep, turnout, share = battery._fractions(data, 100)
    rows = []
    columns = [(name, data.votes[:, j]) for j, name in enumerate(units.choice)] + [("turnout", data.turnout_count)]
    rows.append(("digit tests (2BL + 5 last-digit), 9 columns", timed(lambda: [
        battery._digit_findings(c, s, min_count=100, seed=1, replicates=replicates) for s, c in columns])[0]))
    rows.append(("P05s, turnout and leader share", timed(lambda: [
        digits.percent_last_digit_05(data.turnout_count, data.registered, scope="t", replicates=replicates),
        digits.percent_last_digit_05(data.leader_votes, data.denominator, scope="v", replicates=replicates)])[0]))
    rows.append(("integer percent, all + 85 regions", timed(
        integer_percent_findings, data.unit, data.registered, data.turnout_count, data.denominator,
        data.leader_votes, region=data.region, turnout_numerator="issued", leader_name="Putin",
        replicates=replicates)[0]))
    rows.append(("shape: skewness, kurtosis, dip (turnout, share)", timed(lambda: [
        f(x, scope="x") for x in (turnout, share) for f in (shape.skewness, shape.kurtosis, shape.dip_test)])[0]))
    rows.append(("correlation + Sobyanin slope", timed(lambda: [
        shape.turnout_share_correlation(turnout, share, scope="x"),
        shape.sobyanin_slope(turnout, share, scope="x")])[0]))
    rows.append(("Klimek fit + bootstraps", timed(fit_klimek, turnout, share, bootstrap=replicates // 5,
                                                  null_bootstrap=100)[0]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--replicates", type=int, default=1000)
    args = parser.parse_args()
    start = time.perf_counter()
    from veritally.forensics import run_battery

    units = load()
    print(f"loaded {len(units.unit):,} stations in {time.perf_counter() - start:.2f} s (not part of the battery)")
    with tempfile.TemporaryDirectory() as folder:
        cold, findings = timed(run_battery, units, mc_replicates=args.replicates, plots_dir=Path(folder))
        print(f"warm-up run_battery with plots (imports, font cache): {cold:.2f} s, {len(findings)} findings")
        print(f"\nper test, {args.replicates} replicates:")
        for label, seconds in per_test(units, args.replicates):
            print(f"  {label:52s} {seconds:6.2f} s")
        bare = [timed(run_battery, units, mc_replicates=args.replicates)[0] for _ in range(args.repeat)]
        plotted = [timed(run_battery, units, mc_replicates=args.replicates, plots_dir=Path(folder))[0]
                   for _ in range(args.repeat)]
    print(f"\nrun_battery, no plots:   median {statistics.median(bare):.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in bare)})")
    print(f"run_battery, with plots: median {statistics.median(plotted):.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in plotted)})  target ≤ 10 s")


if __name__ == "__main__":
    main()
