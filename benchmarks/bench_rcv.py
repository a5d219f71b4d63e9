"""Ranked-choice counting at scale: RCTab's 2013 Minneapolis mayor scale case, 1,041,313 ballots.

RCTab's case lists 13 byte-identical copies of the 80,101-ballot ES&S xlsx; ../shared keeps one (PROVENANCE.md), so
the benchmark lays the config next to 13 symlinks to it in a temporary folder, as the conformance test does. Each
measurement runs in a fresh process, so that its peak resident memory (VmHWM) is its own:

1. end to end: ``veritally.rcv.run_rcv`` (read the 13 xlsx, group, count, write RCTab's reports): seconds, the
   phases (timed by wrapping the functions ``run_rcv`` calls), the peak RSS of the process and of the reader
   processes ``read_sources`` starts;
2. the counting alone: ``count_rcv`` on the grouped ballots (one xlsx read once and handed 13 times to the grouping
   ``run_rcv`` uses, which child 1 checks gives its groups), repeated, median; with the groups and rounds;
3. the same ballots counted by votekit's ``IRV`` and by pyrankvote's ``instant_runoff_voting`` (conversion timed
   apart from counting), with the time ratios and whether each elects Veritally's winner (Betsy Hodges).

The libraries get each ballot as RCTab reads it under the case's rules: the ranking up to an overvote or past more
than one skipped rank, repeated candidates and undeclared write-ins struck (RCTab drops them in round 1), so both are
plain IRV of the same ballots. votekit takes Veritally's groups as weighted ballots (it cannot take a ballot without a
ranking, so those are left out); pyrankvote has no weights and gets one ``Ballot`` per ballot. ``--copies N`` counts
N of the 13 copies for the libraries (and Veritally, for the ratio) instead of all 13. Where a target is missed,
``cProfile`` figures of the counting and of the reading say where the time goes.

Run from the project root in an environment with the ``bench`` extra (votekit brings numba, pandas and scikit-learn
and pins NumPy below 2.4, so give it a venv of its own):

    python3 -m venv /tmp/bench-venv && . /tmp/bench-venv/bin/activate && pip install -q -e '.[bench]'
    python benchmarks/bench_rcv.py [--repeat 3] [--copies 13] [--no-libraries] [--profile auto|yes|no]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import os
import pstats
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from _common import peak_mib, run_child

ROOT = Path(__file__).resolve().parents[1]
CASE = "2013_minneapolis_mayor_scale"
SOURCE = (ROOT / ".." / "shared" / "conformance" / "rctab" / CASE).resolve()
COPIES = 13
TARGETS = {"end_to_end_s": 10.0, "count_s": 0.5, "peak_mib": 1024.0, "speedup": 10.0}  # peak: half RCTab's 2 GB heap


def lay_out(work: Path) -> Path:
    """The case's config next to 13 symlinks to the one stored xlsx; the config's path."""
    config = work / f"{CASE}_config.json"
    shutil.copy(SOURCE / config.name, config)
    original = SOURCE / "2013_minneapolis_mayor_cvr_1.xlsx"
    for k in range(1, COPIES + 1):
        (work / f"2013_minneapolis_mayor_cvr_{k}.xlsx").symlink_to(original)
    return config


# children ------------------------------------------------------------------------------------------------------
def _profile(fn, top: int) -> tuple[object, float, list[str]]:
    """fn() under cProfile: (its result, profiled seconds, the top functions by own time)."""
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    result = prof.runcall(fn)
    seconds = time.perf_counter() - t0
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    rows = []
    for (file, line, name), (_cc, calls, own, cum, _callers) in sorted(stats.stats.items(), key=lambda kv: -kv[1][2]):
        where = f"{Path(file).name}:{line}({name})" if line else name
        rows.append(f"{own:7.2f} s own {cum:7.2f} s cum {calls:>10,} calls  {where}")
        if len(rows) == top:
            break
    return result, seconds, rows


def child_end_to_end(config: str) -> dict:
    """``run_rcv`` as a user runs it, its phases timed by wrapping the functions it calls (one call each)."""
    from veritally import rcv

    phases: dict[str, float] = {}
    captured = {}

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            result = fn(*args, **kwargs)
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0
            captured[name] = len(result) if name == "read" else result  # run_rcv holds these anyway
            return result
        return wrapper

    wrapped = {"config": "load_config", "read": "read_sources", "group": "_ballots", "count": "count_rcv"}
    originals = {attr: getattr(rcv, attr) for attr in wrapped.values()}
    for name, attr in wrapped.items():
        setattr(rcv, attr, timed(name, originals[attr]))
    t0 = time.perf_counter()
    outcome = rcv.run_rcv(config, Path(config).parent / "out")
    seconds = time.perf_counter() - t0
    peak = peak_mib()
    # read_sources may read in worker processes: the largest one's peak (forked, so it counts pages it shares)
    workers_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    for attr, fn in originals.items():
        setattr(rcv, attr, fn)
    ballots, files = captured["group"][0], captured["read"]
    one = _one_file_ballots(config, files)[1]  # after the peak was taken: what the other children count
    return {"seconds": seconds, "peak_mib": peak, "worker_peak_mib": workers_mib,
            "workers": min(files, os.cpu_count() or 1) if workers_mib else 0, "winners": outcome.winners,
            "rounds": outcome.passes[0].count.n_rounds, "files": files, "groups": len(ballots),
            "ballots": sum(ballots.weights), "read_s": phases["config"] + phases["read"], "group_s": phases["group"],
            "count_s": phases["count"], "reports_s": seconds - sum(phases.values()),
            "groups_match_13_copies_of_one": one.rankings == ballots.rankings and one.weights == ballots.weights}


def child_count(config_path: str, repeat: str, profile: str) -> dict:
    """``count_rcv`` alone on the grouped ballots, repeated; a diagnostic; cProfile figures when asked or when the
    counting misses its target."""
    from veritally import rcv
    from veritally.formats.rctab_config import read_sources
    from veritally.tabulate.rcv.engine import Ballots, count_rcv

    config, ballots = _one_file_ballots(config_path, COPIES)
    names, rules, excluded = config.candidate_names, config.rules, config.excluded
    times, count = [], None
    for _ in range(int(repeat)):
        t0 = time.perf_counter()
        count = count_rcv(ballots, names, rules, excluded=excluded)
        times.append(time.perf_counter() - t0)
    out = {"count_s": times, "groups": len(ballots), "rounds": count.n_rounds,
           "winners": [names[w] for w in count.winners]}
    # diagnostic: the same ballots with identical rankings merged across the sources (in candidate space)
    merged: dict = {}
    for ranked, w in zip(ballots.rankings, ballots.weights):
        key = tuple((r, tuple(c if c < 0 else ballots.candidate_of[c] for c in ch)) for r, ch in ranked)
        merged[key] = merged.get(key, 0) + w
    dedup = Ballots(list(merged), list(merged.values()), list(range(len(names))))
    t0 = time.perf_counter()
    again = count_rcv(dedup, names, rules, excluded=excluded)
    out["merged_groups"], out["merged_count_s"] = len(dedup), time.perf_counter() - t0
    out["merged_same_tallies"] = [t.tallies for t in again.rounds] == [t.tallies for t in count.rounds]
    if profile == "1" or statistics.median(times) > TARGETS["count_s"]:
        _, out["count_profiled_s"], out["count_profile"] = _profile(
            lambda: count_rcv(ballots, names, rules, excluded=excluded), 8)
    if profile == "1":
        one_source = dataclasses.replace(config, sources=config.sources[:1])
        sources, out["read_profiled_s"], out["read_profile"] = _profile(lambda: read_sources(one_source), 8)
        _, out["group_profiled_s"], out["group_profile"] = _profile(
            lambda: rcv._ballots(config, sources * COPIES, []), 8)
    return out


def _one_file_ballots(config_path: str, copies: int):
    """(the config, the scale case's grouped ballots) from one xlsx read once and handed ``copies`` times to the
    grouping ``run_rcv`` uses: the 13 files are identical, so this is what ``run_rcv`` counts (the end-to-end child
    checks it) at a thirteenth of the reading."""
    from veritally import rcv
    from veritally.formats.rctab_config import load_config, read_sources

    config = load_config(config_path)
    cs = read_sources(dataclasses.replace(config, sources=config.sources[:1]))[0]
    return config, rcv._ballots(config, [cs] * copies, [])[0]


def plain_rankings(ballots, names: list[str], rules) -> list[tuple[tuple[int, ...], int]]:
    """(candidate indices in order, weight) per group, as RCTab reads the ballot under ``rules``: up to an
    overvote (exhaustImmediately) or a gap of more than ``max_skipped`` ranks; repeated candidates and undeclared
    write-ins (which RCTab eliminates in round 1) struck."""
    from veritally.model import UWI_NAME

    uwi = names.index(UWI_NAME) if UWI_NAME in names else -2
    out = []
    for ranked, weight in zip(ballots.rankings, ballots.weights):
        seq: list[int] = []
        last = 0
        for rank, choices in ranked:
            if rules.max_skipped is not None and rank - last > rules.max_skipped + 1:
                break
            last = rank
            if -1 in choices or len(choices) > 1:
                break
            c = ballots.candidate_of[choices[0]]
            if c != uwi and c not in seq:
                seq.append(c)
        out.append((tuple(seq), weight))
    return out


def child_library(which: str, config_path: str, copies: str, repeat: str) -> dict:
    from veritally.model import UWI_NAME
    from veritally.tabulate.rcv.engine import count_rcv

    config, ballots = _one_file_ballots(config_path, int(copies))
    names, rules = config.candidate_names, config.rules
    out: dict = {"ballots": sum(ballots.weights), "groups": len(ballots)}
    t0 = time.perf_counter()
    rows = plain_rankings(ballots, names, rules)
    out["rankings_s"] = time.perf_counter() - t0
    declared = [n for n in names if n != UWI_NAME]
    if which == "votekit":
        from votekit import RankBallot, RankProfile
        from votekit.elections import IRV

        t0 = time.perf_counter()
        profile = RankProfile(ballots=[RankBallot(ranking=[names[c] for c in seq], weight=w) for seq, w in rows if seq],
                              candidates=declared, max_ranking_length=config.rules.max_rankings or len(declared))
        out["convert_s"] = time.perf_counter() - t0
        out["given"] = int(profile.total_ballot_wt)
        t0 = time.perf_counter()
        election = IRV(profile, tiebreak="random", rng_seed=0)
        out["count_s"] = time.perf_counter() - t0
        out["winners"] = sorted(c for s in election.get_elected() for c in s)
        out["rounds"] = len(election.election_states) - 1
    else:
        import pyrankvote
        from pyrankvote import Ballot, Candidate

        t0 = time.perf_counter()
        cands = {n: Candidate(n) for n in declared}
        given = []
        for seq, w in rows:
            b = Ballot([cands[names[c]] for c in seq])
            given += [b] * w  # one entry per ballot (pyrankvote has no weights); identical ballots share an object
        out["convert_s"] = time.perf_counter() - t0
        out["given"] = len(given)
        t0 = time.perf_counter()
        result = pyrankvote.instant_runoff_voting(list(cands.values()), given)
        out["count_s"] = time.perf_counter() - t0
        out["winners"] = [c.name for c in result.get_winners()]
        out["rounds"] = len(result.rounds)
    if int(copies) != COPIES:  # Veritally on the same fraction, for the ratio
        times = []
        for _ in range(int(repeat)):
            t0 = time.perf_counter()
            count_rcv(ballots, names, rules, excluded=config.excluded)
            times.append(time.perf_counter() - t0)
        out["veritally_count_s"] = statistics.median(times)
    out["peak_mib"] = peak_mib()
    return out


def child(task: str, *args: str) -> None:
    fn = {"e2e": child_end_to_end, "count": child_count}.get(task)
    result = fn(*args) if fn else child_library(task, *args)
    print(json.dumps(result))


# the report ------------------------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ver_share(libs: dict, count_s: float) -> float:
    """Veritally's count time for the ballots the libraries counted (all 13 copies: the median above)."""
    return next((r["veritally_count_s"] for r in libs.values() if "veritally_count_s" in r), count_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="count_rcv repetitions (median reported)")
    ap.add_argument("--copies", type=int, default=COPIES, choices=range(1, COPIES + 1), metavar="1..13",
                    help="copies of the 80,101-ballot CVR the libraries count (default all 13)")
    ap.add_argument("--no-libraries", action="store_true", help="skip votekit and pyrankvote")
    ap.add_argument("--profile", choices=("auto", "yes", "no"), default="auto",
                    help="cProfile the counting and the reading (auto: when a time target is missed)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    if not SOURCE.exists():
        raise SystemExit(f"{SOURCE} not found (the benchmark needs ../shared)")
    with tempfile.TemporaryDirectory() as tmp:
        config = lay_out(Path(tmp))
        e2e = run_child(__file__, "e2e", config)
        missed = e2e["seconds"] > TARGETS["end_to_end_s"] or e2e["count_s"] > TARGETS["count_s"]
        profile = args.profile == "yes" or (args.profile == "auto" and missed)
        ver = run_child(__file__, "count", config, args.repeat, int(profile))
        count_s = statistics.median(ver["count_s"])
        libs = {}
        if not args.no_libraries:
            for which in ("votekit", "pyrankvote"):
                try:
                    libs[which] = run_child(__file__, which, config, args.copies, args.repeat)
                except Exception as exc:  # noqa: BLE001 - a library missing or failing is reported, not fatal
                    libs[which] = {"error": f"{type(exc).__name__}: {getattr(exc, 'stderr', '') or exc}"[-300:]}

    ballots = e2e["ballots"]
    memory = e2e["peak_mib"] + e2e["workers"] * e2e["worker_peak_mib"]
    print(f"RCTab {CASE}: {e2e['files']} xlsx × 80,101 = {ballots:,} ballots, {e2e['groups']:,} ballot groups, "
          f"{e2e['rounds']} rounds; winner {', '.join(e2e['winners'])}")
    print()
    print(f"{'measure':<52} {'value':>10}  {'target':>11}  result")
    rows = [("end to end: run_rcv (13 xlsx → reports)", f"{e2e['seconds']:.2f} s",
             f"≤ {TARGETS['end_to_end_s']:g} s", verdict(e2e["seconds"] <= TARGETS["end_to_end_s"])),
            ("  peak RSS: run_rcv's process (VmHWM)", f"{e2e['peak_mib']:.0f} MiB", "", ""),
            (f"            + its {e2e['workers']} reader processes, each ≤", f"{e2e['worker_peak_mib']:.0f} MiB", "",
             ""),
            ("            = at most, in all", f"{memory:.0f} MiB", f"≤ {TARGETS['peak_mib']:g} MiB",
             verdict(memory <= TARGETS["peak_mib"]) + " (RCTab's heap: 2 GB)"),
            ("  of which: read 13 xlsx (load_config, read_sources)", f"{e2e['read_s']:.2f} s", "", ""),
            ("            group them (rcv._ballots)", f"{e2e['group_s']:.2f} s", "", ""),
            ("            count (count_rcv)", f"{e2e['count_s']:.2f} s", "", ""),
            ("            write the reports, the rest", f"{e2e['reports_s']:.2f} s", "", ""),
            (f"counting alone: count_rcv, median of {len(ver['count_s'])}", f"{count_s:.2f} s",
             f"≤ {TARGETS['count_s']:g} s", verdict(count_s <= TARGETS["count_s"]))]
    print("\n".join(f"{a:<52} {b:>10}  {c:>11}  {d}" for a, b, c, d in rows))
    print(f"  count_rcv runs: {', '.join(f'{t:.2f}' for t in ver['count_s'])} s on {ver['groups']:,} groups × "
          f"{ver['rounds']} rounds = {ver['groups'] * ver['rounds'] / count_s / 1e6:.2f} M group-rounds/s")
    if ver["merged_groups"] < ver["groups"]:
        print(f"  diagnostic: the same ballots with identical rankings merged across the 13 sources: "
              f"{ver['merged_groups']:,} groups, count_rcv {ver['merged_count_s']:.2f} s (same tallies: "
              f"{ver['merged_same_tallies']})")
    if not e2e["groups_match_13_copies_of_one"]:
        print("  WARNING: run_rcv's groups are not one file's repeated 13 times: the counts below are not of them")

    verdicts = [("end to end ≤ 10 s", e2e["seconds"] <= TARGETS["end_to_end_s"]),
                ("counting ≤ 0.5 s", count_s <= TARGETS["count_s"]),
                ("peak memory well under RCTab's 2 GB heap (≤ 1 GiB)", memory <= TARGETS["peak_mib"])]
    if libs:
        print()
        share = ballots * args.copies // COPIES
        fraction = (f"all 13 copies ({share:,} ballots)" if args.copies == COPIES else
                    f"{args.copies} of the 13 copies ({share:,} ballots), a fraction: Veritally counted the same")
        print(f"The same ballots counted by other libraries: {fraction}. Conversion is timed apart from counting.")
        print(f"{'':<12} {'ballots given':>14} {'convert':>9} {'count':>9} {'rounds':>7} {'Veritally/them':>15} "
              f"{'speed-up':>9}  winner")
        print(f"{'Veritally':<12} {share:>14,} {'—':>9} {ver_share(libs, count_s):>8.2f}s {e2e['rounds']:>7} "
              f"{'1':>15} {'1×':>9}  {', '.join(e2e['winners'])}")
        for which, r in libs.items():
            if "error" in r:
                print(f"{which:<12} failed: {r['error']}")
                verdicts.append((f"≥ 10× faster than {which}", False))
                continue
            mine = r.get("veritally_count_s", count_s)
            agree = "agrees" if r["winners"] == e2e["winners"] else "DIFFERS"
            print(f"{which:<12} {r['given']:>14,} {r['rankings_s'] + r['convert_s']:>8.2f}s {r['count_s']:>8.2f}s "
                  f"{r['rounds']:>7} {mine / r['count_s']:>15.3f} {r['count_s'] / mine:>8.1f}×  "
                  f"{', '.join(r['winners'])} ({agree} with Veritally)")
            verdicts.append((f"≥ 10× faster than {which}", r["count_s"] / mine >= TARGETS["speedup"]))
        if share - libs.get("votekit", {}).get("given", share) > 0:
            print(f"  votekit cannot take a ballot without a valid ranking: the {share - libs['votekit']['given']:,} "
                  "exhausted from the start were left out")
        print("  rounds: Veritally's with RCTab's batch elimination; votekit's one elimination a round (to the last "
              "candidate); pyrankvote's with its own batch rule")
    print("\nTargets: " + "; ".join(f"{label}: {verdict(ok)}" for label, ok in verdicts))

    for key, label in (("count_profile", "count_rcv"), ("read_profile", "reading one of the 13 xlsx (read_sources)"),
                       ("group_profile", "grouping the 13 (rcv._ballots)")):
        if key in ver:
            seconds = ver[key.replace("profile", "profiled_s")]
            print(f"\ncProfile of {label} ({seconds:.2f} s under the profiler), by own time:")
            print("\n".join("  " + row for row in ver[key]))


if __name__ == "__main__":
    main()
