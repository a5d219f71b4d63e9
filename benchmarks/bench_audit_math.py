"""Sample-size and risk timing of Veritally's RLA mathematics, side by side with SHANGRLA and Arlo when available.

    python benchmarks/bench_audit_math.py [--peers DIR]

``DIR`` (default ``$VERITALLY_PEERS`` or /tmp/peers) may hold the reference implementations, unpacked from
their public repositories and never committed here: ``DIR/shangrla_core/NonnegMean.py`` (pbstark/SHANGRLA
``shangrla/core/NonnegMean.py``) and ``DIR/arlo/server/audit_math/`` (votingworks/arlo). Whatever is absent is
reported as not measured. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from veritally.audit.contest import ReportedContest
from veritally.audit.risk import alpha_mart, bravo_risk
from veritally.audit.sizes import bravo_sample_size_options, simulated_sample_size, supersimple_sample_size
from veritally.audit.suite import ComparisonStratum, PollingStratum, suite_sample_size


def timed(fn, *args, repeat: int = 1, **kwargs):
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, value


def load_peer(path: Path, module: str):
    if not path.exists():
        return None
    sys.path.insert(0, str(path))
    try:
        return importlib.import_module(module)
    except Exception as error:  # a peer that does not import is reported, not fatal
        print(f"  (could not import {module} from {path}: {error})")
        return None


def simulated_alpha(peers: Path) -> None:
    """SHANGRLA NonnegMean.sample_size: ALPHA shrink_trunc, N = 100,000, a 55/45 pilot, quantile 0.9."""
    population = np.r_[np.ones(55), np.zeros(45)]
    N, reps = 100_000, 100
    ours_s, ours = timed(simulated_sample_size, alpha_mart, population, 0.05, N=N, reps=reps, quantile=0.9,
                         estim="shrink_trunc", eta=0.55, repeat=3)
    big_s, big = timed(simulated_sample_size, alpha_mart, population, 0.05, N=N, reps=10_000, quantile=0.9,
                       estim="shrink_trunc", eta=0.55)
    print(f"simulated ALPHA size, N={N:,}, {reps} replicates, q=0.9: veritally {ours} in {ours_s:.3f} s; "
          f"with 10,000 replicates {big} in {big_s:.2f} s")
    module = load_peer(peers / "shangrla_core", "NonnegMean")
    if module is None:
        print("  SHANGRLA: not measured (NonnegMean.py not found under --peers)")
        return
    test = module.NonnegMean(test=module.NonnegMean.alpha_mart, estim=module.NonnegMean.shrink_trunc, N=N,
                             u=1, t=0.5, eta=0.55)
    peer_s, peer = timed(test.sample_size, population, alpha=0.05, reps=reps, quantile=0.9)
    print(f"  SHANGRLA NonnegMean.sample_size: {peer} in {peer_s:.2f} s  ->  veritally {peer_s / ours_s:.0f}x faster "
          f"(sizes differ by {abs(peer - ours)}: different random draws; 10,000-replicate value {big})")


def closed_forms(peers: Path) -> None:
    contest = ReportedContest("c", {"w": 505_000, "l": 495_000}, 1_000_000)
    seconds, options = timed(bravo_sample_size_options, contest, None, 10, repeat=5)
    sizes = {k: v.size for k, v in options.items()}
    print(f"BRAVO options, 1M ballots, 1 % margin: {sizes} in {seconds * 1e3:.2f} ms")
    tally = {"Trump": 2457924, "Biden": 2471981, "Jorgensen": 62058, "Write-in": 457}  # Arlo's GA 2020 fixture
    risk_contest = ReportedContest("GA", tally, 4992420)
    seconds, size = timed(supersimple_sample_size, risk_contest, 10, repeat=20)
    print(f"super-simple size, GA 2020 president, 10 %: {size} in {seconds * 1e3:.3f} ms")
    sample = {"Trump": 2457924, "Biden": 2471971, "Jorgensen": 62058}
    seconds, risk = timed(bravo_risk, risk_contest, sample, 10, repeat=20)
    print(f"BRAVO risk, GA 2020 full count less 10 Biden ballots: p={risk.p_value:.6g} in {seconds * 1e3:.3f} ms")
    contest = ReportedContest("c", {"winner": 1011000, "loser": 989000}, 2000000)
    seconds, size = timed(suite_sample_size, contest, PollingStratum(100000, {"winner": 51000, "loser": 49000}),
                          ComparisonStratum(1900000, {"winner": 960000, "loser": 940000}), 5)
    print(f"SUITE size, 2M-card hybrid: {size} in {seconds:.2f} s")
    arlo = load_peer(peers / "arlo" / "server", "audit_math.bravo")
    if arlo is None:
        print("  Arlo: not measured (server/audit_math not found under --peers)")
        return
    sampler_contest = importlib.import_module("audit_math.sampler_contest")
    peer_contest = sampler_contest.Contest("c", {"w": 505_000, "l": 495_000, "ballots": 1_000_000,
                                                 "numWinners": 1, "votesAllowed": 1})
    peer_s, peer = timed(arlo.get_sample_size, 10, peer_contest, None, None, repeat=5)
    print(f"  Arlo bravo.get_sample_size: {({k: v['size'] for k, v in peer.items()})} in {peer_s * 1e3:.2f} ms")
    supersimple = importlib.import_module("audit_math.supersimple")
    ga = sampler_contest.Contest("GA", {**tally, "ballots": 4992420, "numWinners": 1, "votesAllowed": 1})
    peer_s, peer = timed(supersimple.get_sample_sizes, 10, ga, None, repeat=20)
    print(f"  Arlo supersimple.get_sample_sizes, GA 2020: {peer} in {peer_s * 1e3:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, default=Path(os.environ.get("VERITALLY_PEERS", "/tmp/peers")))
    args = parser.parse_args()
    simulated_alpha(args.peers)
    closed_forms(args.peers)


if __name__ == "__main__":
    main()
