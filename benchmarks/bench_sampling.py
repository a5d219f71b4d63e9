"""Consistent sampling at state scale: Veritally against Rivest's ``consistent_sampler`` package on Arlo-style ids.

The input is what Arlo hashes: ballots ``((jurisdiction, tabulator, batch), position)``, 500 ballots a batch, 20
jurisdictions. The call is Arlo's first round: ``take=1000``, with replacement, ``digits=18``. Each measurement runs
in a fresh process (``run_child``), so its peak resident memory is its own:

* ``list``: ``veritally.audit.consistent_sample`` on the list of tuple ids, the package's own input;
* ``manifest``: ``veritally.audit.arlo_draw_sample`` on Arlo's manifest mapping (batch key → list of positions),
  which is how Arlo calls it and needs no list of ten million tuples;
* ``package``: ``list(consistent_sampler.sampler(ids, seed, take=1000, with_replacement=True, output="tuple",
  digits=18))`` on the same list;
* ``cards``: ``veritally_sample`` (Veritally's own encoding) on the same ballots as four columns.

Each child prints the seconds the sampling took (building the input is timed apart), the RSS holding the input, the
peak RSS (VmHWM, reset after the input is built) while sampling, the largest peak RSS of its worker processes
(forked, so they share the input's pages with the parent and count them too), and a SHA-256 of its output triples,
so the parent can say whether Veritally and the package drew the identical sample. The package's 10M run takes over
a minute and several GB; it is measured only with ``--package-sizes 1000000,10000000``, and otherwise the 10M figure
is extrapolated linearly from 1M and labelled as such.

Run from the project root:

    python benchmarks/bench_sampling.py [--sizes 1000000,10000000] [--package-sizes 1000000] [--workers N]
                                        [--repeat 3] [--package-repeat 1] [--kinds list,manifest,cards]

The machine may be shared: each Veritally figure is the best of ``--repeat`` runs, and the CPU seconds (this
process and its workers) are printed beside the wall time, since they do not depend on what else is running.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time

from _common import peak_mib, run_child

SEED = "17350925480982349857"  # twenty decimal dice
TAKE = 1000
BATCH = 500
JURISDICTIONS = 20
TARGETS = {"seconds_10m": 10.0, "speedup": 10.0}


def manifest(n: int) -> dict[tuple[str, str, str], range]:
    """n ballots: 20 jurisdictions, batches of 500 (the last one shorter), keyed as Arlo keys them in production."""
    out = {}
    batches = -(-n // BATCH)
    for b in range(batches):
        size = min(BATCH, n - b * BATCH)
        out[(f"County {b % JURISDICTIONS:02d}", f"ICP-{b % 7}", f"Batch {b // JURISDICTIONS}")] = range(1, size + 1)
    return out


def ballots(n: int) -> list:
    return [(key, p) for key, positions in manifest(n).items() for p in positions]


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


def reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0), so the peak measured is the sampling's, not
    that of building the input; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def digest(triples) -> str:
    return hashlib.sha256(repr([tuple(t) for t in triples]).encode()).hexdigest()


def sampler(kind: str, workers: int | None):
    """The call measured, imported before the clock starts (importing veritally.audit loads SciPy)."""
    if kind == "package":
        import consistent_sampler

        return lambda data: list(consistent_sampler.sampler(data, seed=SEED, take=TAKE, with_replacement=True,
                                                            output="tuple", digits=18))
    from veritally.audit import arlo_draw_sample, consistent_sample, veritally_sample

    if kind == "list":
        return lambda data: [(d.ticket, d.id, d.generation) for d in consistent_sample(
            data, SEED, take=TAKE, with_replacement=True, digits=18, workers=workers)]
    if kind == "manifest":
        return lambda data: [(d.ticket, d.id, d.generation) for d in arlo_draw_sample(SEED, data, TAKE,
                                                                                      workers=workers)]
    return lambda data: [(d.ticket, d.card, d.generation) for d in veritally_sample(data, SEED, TAKE,
                                                                                    with_replacement=True,
                                                                                    workers=workers)]


def child(kind: str, n: int, workers: int | None, repeat: int) -> dict:
    import numpy as np

    run = sampler(kind, workers)
    t0 = time.perf_counter()
    if kind in ("list", "package"):
        data = ballots(n)
    elif kind == "manifest":
        data = {key: list(positions) for key, positions in manifest(n).items()}  # Arlo's manifests are lists
    else:
        rows = ballots(n)
        data = {"jurisdiction": np.array([k[0] for k, _ in rows], dtype="T"),
                "tabulator": np.array([k[1] for k, _ in rows], dtype="T"),
                "batch": np.array([k[2] for k, _ in rows], dtype="T"),
                "position": np.array([p for _, p in rows], dtype=np.int64)}
        del rows
    build = time.perf_counter() - t0
    before = rss_mib()
    peak_reset = reset_peak()
    runs = []
    for _ in range(repeat):
        wall, cpu, children = time.perf_counter(), time.process_time(), os.times()
        out = run(data)
        after = os.times()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu,
                     after.children_user + after.children_system - children.children_user - children.children_system))
    seconds, cpu, worker_cpu = min(runs)
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"kind": kind, "n": n, "build_s": build, "seconds": seconds, "all_seconds": [r[0] for r in runs],
            "cpu_s": cpu, "worker_cpu_s": worker_cpu, "rss_before_mib": before, "peak_mib": peak_mib(),
            "peak_reset": peak_reset,
            "worker_peak_mib": worker_peak, "output": digest(out), "draws": len(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--package-sizes", default="1000000")
    parser.add_argument("--workers", type=int, default=None, help="processes for Veritally (default: auto)")
    parser.add_argument("--kinds", default="list,manifest,cards", help="Veritally measurements to run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each Veritally sampler (best is kept)")
    parser.add_argument("--package-repeat", type=int, default=1, help="runs of the package (best is kept)")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "N", "WORKERS", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n, workers, repeat = args.child
        print(json.dumps(child(kind, int(n), None if workers == "auto" else int(workers), int(repeat))))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    package_sizes = {int(s) for s in args.package_sizes.split(",") if s}
    workers = "auto" if args.workers is None else args.workers
    print(f"Python {sys.version.split()[0]}; take={TAKE}, with replacement, digits=18; ids ((county, tabulator, "
          f"batch), position), {BATCH} ballots a batch; workers={workers}")
    results: dict[tuple[str, int], dict] = {}
    for n in sorted(sizes):
        kinds = [k for k in args.kinds.split(",") if k] + (["package"] if n in package_sizes else [])
        for kind in kinds:
            repeat = args.package_repeat if kind == "package" else args.repeat
            r = run_child(__file__, kind, n, workers, repeat)
            results[kind, n] = r
            print(f"{kind:>8} {n:>11,}: {r['seconds']:6.2f} s (best of {repeat}: "
                  f"{', '.join(f'{x:.2f}' for x in r['all_seconds'])}; {n / r['seconds'] / 1e6:4.2f} M ids/s; CPU "
                  f"{r['cpu_s']:.2f} s + workers {r['worker_cpu_s']:.2f} s); input built in {r['build_s']:4.1f} s; "
                  f"RSS {r['rss_before_mib']:6.0f} MiB with the input, peak {r['peak_mib']:6.0f} MiB while sampling"
                  f"{'' if r['peak_reset'] else ' (incl. building the input)'}, workers' peak "
                  f"{r['worker_peak_mib']:5.0f} MiB; output {r['output'][:12]} ({r['draws']} draws)", flush=True)
    print()
    base = min(package_sizes & set(sizes), default=None)
    for n in sorted(sizes):
        if ("package", n) in results:
            package_s, label = results["package", n]["seconds"], "measured"
            same = all(results[k, n]["output"] == results["package", n]["output"] for k in ("list", "manifest")
                       if (k, n) in results)
        elif base is not None:
            package_s, label = results["package", base]["seconds"] * n / base, f"extrapolated linearly from {base:,}"
            same = None
        else:
            continue
        for kind in [k for k in ("list", "manifest") if (k, n) in results]:
            ratio = package_s / results[kind, n]["seconds"]
            print(f"{n:>11,} {kind:>8}: package {package_s:6.1f} s ({label}) / Veritally "
                  f"{results[kind, n]['seconds']:5.2f} s = {ratio:5.1f}x (target >= {TARGETS['speedup']:.0f}x)")
        print(f"{'':>11} identical output to the package: "
              f"{'yes' if same else 'NO' if same is False else 'not checked (package not run at this size)'}")
    if (n10 := 10_000_000) in sizes:
        for kind in [k for k in ("list", "manifest", "cards") if (k, n10) in results]:
            s = results[kind, n10]["seconds"]
            print(f"10M {kind}: {s:.2f} s (target <= {TARGETS['seconds_10m']:.0f} s on 2 cores): "
                  f"{'met' if s <= TARGETS['seconds_10m'] else 'MISSED'}")
        if ("list", n10) in results and ("manifest", n10) in results:
            print(f"10M Veritally outputs agree (list = manifest): "
                  f"{results['list', n10]['output'] == results['manifest', n10]['output']}")


if __name__ == "__main__":
    main()
