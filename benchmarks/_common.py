"""What the reader benchmarks share: a synthetic election built column-wise, a fresh-process runner, peak memory.

Run any benchmark from the project root (``python benchmarks/bench_X.py``): this folder is then on ``sys.path``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

from veritally.model import STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

__all__ = ["synthetic", "peak_mib", "run_child"]


def synthetic(n: int, seed: int = 1, repeats: bool = False) -> Election:
    """An election of ``n`` cards built column-wise (no per-card Python): a ranked contest of 12 choices and 5 ranks,
    two plurality contests and a vote-for-2 contest (~10 % of cards without each), precinct, batch, tabulator and
    style attributes. With ``repeats``, one card in a thousand ranks its first choice again at rank 3. No overvote
    whose choices are unknown, so every writer can write it."""
    rng = np.random.default_rng(seed)
    names = [f"Candidate {chr(65 + i)}" for i in range(12)]

    def choices(prefix: str, labels: list[str]) -> tuple[Choice, ...]:
        return tuple(Choice(f"{prefix}{i + 1}", x) for i, x in enumerate(labels))

    contests = [
        Contest("rcv", "Mayor", ContestKind.RANKED, choices("m", names), ranks=5),
        Contest("sheriff", "Sheriff", ContestKind.PLURALITY, choices("s", names[:4])),
        Contest("prop", "Proposition 1", ContestKind.PLURALITY, choices("p", ["Yes", "No"])),
        Contest("council", "City Council", ContestKind.VOTE_FOR_N, choices("c", names[:6]), winners=2,
                votes_allowed=2),
    ]
    ranks = (np.uint16(1) << rng.integers(0, 12, (n, 5)).astype(np.uint16)).astype(np.uint16)
    ranks[rng.random((n, 5)) < 0.3] = 0
    if repeats:  # cells "1|3" in Veritally's CSV
        again = rng.random(n) < 0.001
        ranks[again, 2] = ranks[again, 0]
    marks = [ContestMarks(np.ones(n, bool), ranks)]
    for contest in contests[1:]:
        k = len(contest.choices)
        masks = (np.uint8(1) << rng.integers(0, k, n).astype(np.uint8)).astype(np.uint8)
        if contest.votes_allowed == 2:
            masks |= (np.uint8(1) << rng.integers(0, k, n).astype(np.uint8)).astype(np.uint8)
        masks[rng.random(n) < 0.03] = 0
        present = rng.random(n) >= 0.1
        masks[~present] = 0
        marks.append(ContestMarks(present, masks))

    def categorical(prefix: str, count: int) -> Categorical:
        return Categorical(rng.integers(0, count, n).astype(np.int32),
                           np.array([f"{prefix} {i:03d}" for i in range(count)], STRING))

    attrs = {"precinct": categorical("Precinct", 500), "batch": categorical("Batch", 2000),
             "tabulator": categorical("Scanner", 20), "style": categorical("Style", 40)}
    ids = np.strings.add("card-", np.arange(1, n + 1).astype(STRING))
    return Election("bench", tuple(contests), Cards(ids, attrs, marks))


def peak_mib() -> float:
    """This process's peak resident memory: VmHWM (reset by exec, unlike ru_maxrss, which a child inherits from
    the benchmark parent holding the synthetic election), else ru_maxrss."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(script: str, *args: object) -> dict:
    """Run ``script --child ARGS…`` in a fresh process (so its peak memory is its own); its last line is JSON."""
    out = subprocess.run([sys.executable, str(Path(script)), "--child", *map(str, args)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
