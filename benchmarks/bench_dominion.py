"""Dominion CvrExport read speed (cards/s) and peak memory, msgspec and orjson side by side.

Reads RCTab's Wyoming and Alaska exports (when ../shared is there) and a synthetic export written with Veritally's
Dominion writer: N cards, 5 contests (plurality, vote-for-3, yes/no measure, a 6-candidate ranked contest with 5
ranks, and a district contest on half the cards). The synthetic election is read as CvrExport_<n>.json files of
10,000 sessions (parsed one at a time) and as one CvrExport.json, streamed with ijson or parsed whole.

Files parsed whole are read twice over: with msgspec (the reader's fast path) and with orjson (the reference path,
the reader before msgspec: ``SessionReader.use_msgspec = False``), alternately, ``--repeat`` times each, so that
both see the same machine load; the table gives medians and the ratio. Each read runs in its own process, so the
peak memory printed (VmHWM) is that read's own. ``--breakdown`` adds, for the synthetic files, where the time of a
msgspec read goes (reading the files, msgspec, the card loop, ElectionBuilder.add_card, build). Run:

    python benchmarks/bench_dominion.py --cards 200000 --breakdown
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from veritally.model import STRING, Cards, Categorical, Choice, Contest, ContestKind, ContestMarks, Election

from _common import peak_mib

SHARED = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "rctab"
REAL = {"wyoming": SHARED / "dominion_wyoming" / "wyoming_input_data",
        "alaska": SHARED / "_shared" / "dominion_alaska" / "alaska_input_data"}


def synthetic(n: int, seed: int = 1) -> Election:
    """A county-like election built straight as columns (no per-card Python)."""
    rng = np.random.default_rng(seed)

    def choices(prefix: str, names: list[str]) -> tuple[Choice, ...]:
        return tuple(Choice(f"{prefix}{i}", name) for i, name in enumerate(names))

    contests = (
        Contest("1", "Governor", ContestKind.PLURALITY, (*choices("g", ["Ada", "Bo", "Cy", "Di"]),
                                                         Choice("gw", "Write-in", write_in=True, undeclared=True))),
        Contest("2", "Council", ContestKind.VOTE_FOR_N, choices("c", [f"C{i}" for i in range(8)]), winners=3,
                votes_allowed=3),
        Contest("3", "Measure A", ContestKind.PLURALITY, choices("m", ["Yes", "No"])),
        Contest("4", "Mayor", ContestKind.RANKED, choices("r", [f"R{i}" for i in range(6)]), ranks=5),
        Contest("5", "District 2", ContestKind.PLURALITY, choices("d", ["Ed", "Flo", "Gus"])),
    )
    marks = []
    one = lambda k: (np.uint8(1) << rng.integers(0, k, n).astype(np.uint8)).astype(np.uint8)  # noqa: E731
    gov = one(5)
    gov[rng.random(n) < 0.01] |= np.uint8(1)  # some overvotes
    marks.append(ContestMarks(np.ones(n, bool), gov))
    council = np.zeros(n, np.uint16)
    for _ in range(3):
        council |= (np.uint16(1) << rng.integers(0, 8, n).astype(np.uint16))
    marks.append(ContestMarks(np.ones(n, bool), council))
    measure = one(2)
    measure[rng.random(n) < 0.05] = 0
    marks.append(ContestMarks(np.ones(n, bool), measure))
    order = np.argsort(rng.random((n, 6)), axis=1)[:, :5].astype(np.uint8)
    ranked = (np.uint8(1) << order).astype(np.uint8)
    ranked[rng.random((n, 5)) < np.array([0.02, 0.2, 0.4, 0.6, 0.7])] = 0
    marks.append(ContestMarks(np.ones(n, bool), ranked))
    district = rng.random(n) < 0.5
    marks.append(ContestMarks(district, np.where(district, one(3), 0).astype(np.uint8)))
    tab = rng.integers(0, 20, n)
    batch = tab * 100 + np.arange(n) // 300 % 100
    attrs = {
        "tabulator": Categorical(tab.astype(np.int32), np.array([f"ICC {i}" for i in range(20)], dtype=STRING)),
        "batch": Categorical(np.unique(batch, return_inverse=True)[1].astype(np.int32),
                             np.array([f"B{b}" for b in np.unique(batch)], dtype=STRING)),
        "precinct": Categorical(rng.integers(0, 200, n).astype(np.int32),
                                np.array([f"P{i:03d}" for i in range(200)], dtype=STRING)),
        "style": Categorical(rng.integers(0, 10, n).astype(np.int32),
                             np.array([f"Style {i}" for i in range(10)], dtype=STRING)),
        "counting_group": Categorical(rng.integers(0, 3, n).astype(np.int32),
                                      np.array(["Election Day", "Vote by Mail", "Early"], dtype=STRING)),
    }
    card_id = np.char.add("c", np.arange(n).astype(str)).astype(STRING)
    return Election("Bench County", contests, Cards(card_id, attrs, marks))




def measure(path: str, stream_above: int | None, decoder: str) -> None:
    """Child process: read ``path``; print cards, seconds and this process's peak RSS as JSON."""
    from veritally.formats import _dominion_read
    from veritally.formats.dominion import read

    _dominion_read.SessionReader.use_msgspec = decoder == "msgspec"
    options = {} if stream_above is None else {"stream_above": stream_above}
    start = time.perf_counter()
    election = read([Path(path)], **options)
    seconds = time.perf_counter() - start
    print(json.dumps({"cards": election.n_cards, "seconds": seconds, "peak": peak_mib()}), flush=True)


def breakdown(path: str) -> None:
    """Child process: where the time of one read of ``path`` (msgspec path) goes."""
    from veritally import builder as builder_module
    from veritally.formats import _dominion_read
    from veritally.formats.dominion import read

    spent: dict[str, float] = {}

    def timed(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start
        setattr(owner, name, wrapper)

    class Sessions:  # msgspec's session decoder, timed
        decoder = _dominion_read._SESSION

        def decode(self, raw: object) -> object:
            start = time.perf_counter()
            try:
                return self.decoder.decode(raw)
            finally:
                spent["msgspec: each session"] = spent.get("msgspec: each session", 0.0) + time.perf_counter() - start

    timed(_dominion_read, "_read_bytes", "read files")
    timed(_dominion_read, "decode", "msgspec: file into sessions")
    timed(_dominion_read.SessionReader, "read_structs", "card loop")
    timed(builder_module.ElectionBuilder, "build", "build")
    _dominion_read._SESSION = Sessions()
    start = time.perf_counter()
    election = read([Path(path)])
    total = time.perf_counter() - start
    parts = dict(spent)  # the times of this read (the wrappers go on counting in the next one)
    parts["card loop"] -= parts["msgspec: each session"]
    # ElectionBuilder.add_card, called in the card loop: its calls recorded in a second read, replayed into a new
    # builder and timed on their own
    calls: list[tuple] = []
    record = builder_module.ElectionBuilder.add_card
    builder_module.ElectionBuilder.add_card = lambda self, *args: (calls.append(args), record(self, *args))[1]
    read([Path(path)])
    builder_module.ElectionBuilder.add_card = record
    replay = builder_module.ElectionBuilder()
    for contest in election.contests:
        replay.add_contest(contest)
    replay.start_file(path)
    start = time.perf_counter()
    for args in calls:
        replay.add_card(*args)
    parts["ElectionBuilder.add_card"] = time.perf_counter() - start
    parts["card loop"] -= parts["ElectionBuilder.add_card"]
    print(f"  {election.n_cards:,} cards in {total:.2f} s ({election.n_cards / total:,.0f} cards/s): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()), flush=True)


def once(path: Path, stream_above: int | None, decoder: str) -> dict:
    args = [sys.executable, __file__, "--measure", str(path), "--decoder", decoder]
    if stream_above is not None:
        args += ["--stream-above", str(stream_above)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(label: str, path: Path, decoders: list[str], repeat: int, stream_above: int | None = None) -> None:
    """Read ``path`` ``repeat`` times with each decoder, alternately; print the medians (and the ratio)."""
    size = sum(p.stat().st_size for p in path.glob("*.json")) / 1e6
    runs: dict[str, list[dict]] = {d: [] for d in decoders}
    for _ in range(repeat):
        for d in decoders:
            runs[d].append(once(path, stream_above, d))
    rates = {}
    for d in decoders:
        speeds = [r["cards"] / r["seconds"] for r in runs[d]]
        rates[d] = statistics.median(speeds)
        peak = statistics.median(r["peak"] for r in runs[d])
        print(f"{label:<46} {size:7.1f} MB  {d:<14} {runs[d][0]['cards']:>9,} cards  "
              f"{rates[d]:>9,.0f} cards/s (median of {repeat}; {min(speeds):,.0f}-{max(speeds):,.0f})  "
              f"peak {peak:6.0f} MiB", flush=True)
    if "msgspec" in rates and "orjson" in rates:
        print(f"{'':<46} msgspec / orjson = {rates['msgspec'] / rates['orjson']:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5, help="reads per decoder and export (medians are printed)")
    parser.add_argument("--breakdown", action="store_true", help="also print where the time of a synthetic read goes")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--breakdown-of", help=argparse.SUPPRESS)
    parser.add_argument("--stream-above", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--decoder", default="msgspec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.stream_above, args.decoder)
        return
    if args.breakdown_of:
        breakdown(args.breakdown_of)
        return
    both = ["orjson", "msgspec"]
    for name, path in REAL.items():
        if path.exists():
            run(f"RCTab {name} (1 file)", path, both, args.repeat)
            run(f"RCTab {name} (1 file)", path, ["ijson stream"], args.repeat, 0)
    from veritally.formats.dominion import write

    election = synthetic(args.cards)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write(election, Path(tmp) / "chunks", chunk_size=10_000)
        print(f"(writer: {args.cards:,} cards in {time.perf_counter() - start:.1f} s)")
        run("synthetic, CvrExport_<n>.json x10k", Path(tmp) / "chunks", both, args.repeat)
        if args.breakdown:
            for _ in range(args.repeat):
                subprocess.run([sys.executable, __file__, "--breakdown-of", str(Path(tmp) / "chunks")], check=True)
        write(election, Path(tmp) / "single", chunk_size=args.cards)
        run("synthetic, one CvrExport.json", Path(tmp) / "single", ["ijson stream"], args.repeat, 0)
        run("synthetic, one CvrExport.json, parsed whole", Path(tmp) / "single", both, args.repeat, 1 << 40)


if __name__ == "__main__":
    main()
