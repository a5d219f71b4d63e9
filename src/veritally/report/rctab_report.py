"""RCTab's round-by-round reports, written as RCTab writes them (``OutputWriter.java`` of RCTab v2.0.1).

* ``detailed_report.json`` — the Universal RCV Tabulator (URCVT) JSON that rcvis and rcvformats read: ``config``,
  ``jsonFormatVersion``, ``results`` (per round: ``tally``, ``tallyResults`` with elected/eliminated candidates and
  their transfers, ``inactiveBallots``, ``threshold``) and ``summary``; every vote figure a string, keys sorted,
  Jackson's pretty-printing (``"key" : value``, ``[ {`` … ``} ]``).
* ``detailed_report.csv`` / ``summary_report.csv`` — "Contest Information" and "Contest Summary" blocks, then a
  row per candidate with votes, % of vote (truncated, RCTab's way) and transfer per round, and the totals rows;
  the summary lacks the "Inactive Ballots by …" rows. Apache Commons CSV's default format (minimal quoting,
  CRLF).

The same functions write the per-precinct and per-batch ("slice") reports from a slice's rounds.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .. import __version__
from ..model import UWI_NAME
from ..tabulate.rcv.engine import EXHAUSTED, Count, RoundTally, Status
from ..tabulate.rcv.javautil import hash_order, java_string_key
from ..tabulate.rcv.rules import RcvRules, WinnerMode

__all__ = ["ReportInfo", "Slice", "detailed_json", "dump_json", "csv_report", "candidate_order"]

GENERATED_BY = f"Veritally {__version__}"
#: The inactive categories the reports list, in RCTab's order (``OutputWriter.STATUSES_TO_PRINT``).
PRINTED_STATUSES = (Status.OVERVOTE, Status.SKIPPED, Status.EXHAUSTED, Status.REPEATED)
_KEYS = {Status.OVERVOTE: "overvotes", Status.SKIPPED: "skippedRankings", Status.EXHAUSTED: "exhaustedChoices",
         Status.REPEATED: "repeatedRankings", Status.FINAL_SURPLUS: "finalRoundSurplus"}
_TITLES = {Status.OVERVOTE: "Inactive Ballots by Overvotes", Status.SKIPPED: "Inactive Ballots by Skipped Rankings",
           Status.EXHAUSTED: "Inactive Ballots by Exhausted Choices",
           Status.REPEATED: "Inactive Ballots by Repeated Rankings", Status.FINAL_SURPLUS: "Final Round Surplus"}
_PERCENT = decimal.Context(prec=7, rounding=decimal.ROUND_HALF_EVEN)  # Java's MathContext.DECIMAL32


@dataclass(frozen=True)
class ReportInfo:
    """What the reports say about the contest besides the count (the configuration's output settings)."""

    contest: str
    jurisdiction: str
    office: str
    date: str
    rules: RcvRules
    n_candidates: int  #: candidates not excluded (RCTab's getNumCandidates)
    n_candidate_names: int  #: every candidate name, undeclared write-ins and excluded ones included
    percentage_text: str = ""  #: multiSeatBottomsUpPercentageThreshold as written in the configuration


@dataclass(frozen=True)
class Slice:
    kind: str  #: "Precinct" or "Batch"
    label: str


def _rounds(count: Count, slice_: Slice | None) -> list[RoundTally]:
    return count.rounds if slice_ is None else count.slices[slice_.kind.lower()][slice_.label]


def _transfers(count: Count, slice_: Slice | None) -> Mapping[int, Mapping[str, Mapping[str, Decimal]]]:
    return count.transfers if slice_ is None else count.slice_transfers[slice_.kind.lower()][slice_.label]


def _decided(count: Count, r: int, elected: bool) -> list:
    """The round's decisions of one kind, sorted by name (``getCandidatesByDecisionType``)."""
    return sorted((d for d in count.decisions.get(r, []) if d.elected == elected),
                  key=lambda d: java_string_key(count.candidates[d.candidate]))


# JSON ---------------------------------------------------------------------------------------------------------------
def detailed_json(count: Count, info: ReportInfo, slice_: Slice | None = None) -> dict:
    """The URCVT JSON object of the contest (or of one slice)."""
    rounds = _rounds(count, slice_)
    transfers = _transfers(count, slice_)
    names = count.candidates
    config = {"contest": info.contest, "date": info.date, "generatedBy": GENERATED_BY,
              "jurisdiction": info.jurisdiction, "office": info.office}
    if slice_ is not None:
        config[slice_.kind.lower()] = slice_.label
    results = []
    for t in rounds:
        actions = []
        for kind, elected in (("elected", True), ("eliminated", False)):
            for d in _decided(count, t.round, elected):
                name = names[d.candidate]
                moved = transfers.get(t.round + 1, {}).get(name, {})
                actions.append({kind: name, "transfers": {k: _s(v) for k, v in moved.items()}})
        inactive = {_KEYS[s]: _s(t.statuses[s]) for s in PRINTED_STATUSES}
        if info.rules.uses_surpluses and t.round == len(rounds):
            inactive[_KEYS[Status.FINAL_SURPLUS]] = _s(t.statuses[Status.FINAL_SURPLUS])
        results.append({"inactiveBallots": inactive, "round": t.round,
                        "tally": {names[c]: _s(v) for c, v in t.tallies.items()},
                        "tallyResults": actions, "threshold": _s(t.threshold)})
    first = rounds[0]
    summary = {"finalThreshold": _s(rounds[-1].threshold), "numCandidates": info.n_candidate_names,
               "numWinners": info.rules.winners, "totalNumBallots": _s(first.active + first.inactive),
               "undervotes": int(first.statuses[Status.NO_RANKINGS])}
    return {"config": config, "jsonFormatVersion": "1", "results": results, "summary": summary}


def _s(value: Decimal | None) -> str | None:
    """A vote figure as Java's ``BigDecimal.toString`` writes it (same scale, same notation)."""
    return None if value is None else str(value)


def dump_json(data: object, indent: int = 0) -> str:
    """JSON as Jackson's ``DefaultPrettyPrinter`` writes it, keys sorted (RCTab's ORDER_MAP_ENTRIES_BY_KEYS)."""
    pad = "  " * (indent + 1)
    if isinstance(data, dict):
        if not data:
            return "{ }"
        items = [f'{pad}{json.dumps(k, ensure_ascii=False)} : {dump_json(data[k], indent + 1)}' for k in sorted(data)]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(data, (list, tuple)):
        if not data:
            return "[ ]"
        return "[ " + ", ".join(dump_json(x, indent) for x in data) + " ]"
    return json.dumps(data, ensure_ascii=False)


# CSV ----------------------------------------------------------------------------------------------------------------
def candidate_order(count: Count) -> list[int]:
    """The candidates' row order: round 1's tallies, highest first, ties in the HashMap order of round 1's tally
    (RCTab's ``getSortedCandidatesByTally``), undeclared write-ins last."""
    first = count.rounds[0].tallies
    order = [count.candidates.index(n) for n in hash_order([count.candidates[c] for c in first])]
    uwi = [c for c in order if count.candidates[c] == UWI_NAME]
    rest = sorted((c for c in order if count.candidates[c] != UWI_NAME), key=lambda c: -first[c])
    return rest + uwi


def _cell(value: object, first: bool) -> str:
    """Apache Commons CSV's minimal quoting (CSVFormat.DEFAULT)."""
    text = "" if value is None else str(value)
    if not text:
        return '""' if first else ""
    quote = text[0] <= "#" or text[-1] <= " " or any(ch in text for ch in ',"\r\n')
    return '"' + text.replace('"', '""') + '"' if quote else text


def _record(cells: Sequence[object]) -> str:
    return ",".join(_cell(c, i == 0) for i, c in enumerate(cells)) + "\r\n"


def _percent(votes: Decimal, divisor: Decimal) -> str:
    """``intValue(votes / divisor (7 digits) × 10⁴) / 100.0 + "%"``, as Java prints the double."""
    share = _PERCENT.divide(votes, divisor).scaleb(4)
    return repr(int(share) / 100.0) + "%"


def _java_zero(value: Decimal) -> bool:
    """``BigDecimal.equals(ZERO)``: zero *with scale 0* (0.0000 is not equal)."""
    return value == 0 and value.as_tuple().exponent == 0


def csv_report(count: Count, info: ReportInfo, *, detailed: bool = True, slice_: Slice | None = None) -> str:
    """The detailed (or summary) CSV of the contest, or of one slice."""
    rules = info.rules
    rounds = _rounds(count, slice_)
    n = len(rounds)
    names = count.candidates
    out: list[str] = []
    winners = [names[d.candidate] for r in range(1, n + 1) for d in _decided(count, r, True)]
    out += [_record(["Contest Information"]), _record(["Generated By", GENERATED_BY]),
            _record(["CSV Format Version", "1"]),
            _record(["Type of Election", "Single-Winner" if rules.winner_mode is WinnerMode.SINGLE else "Multi-Winner"]),
            _record(["Contest", info.contest]), _record(["Jurisdiction", info.jurisdiction]),
            _record(["Office", info.office]), _record(["Date", info.date]),
            _record(["Winner(s)", ", ".join(winners)])]
    out.append(_record([slice_.kind, slice_.label] if slice_ else ["Final Threshold", rounds[-1].threshold]))
    out.append("\r\n")
    first = rounds[0]
    elected_text = (f"All candidates over the {info.percentage_text}% threshold"
                    if rules.winner_mode is WinnerMode.BOTTOMS_UP_PERCENTAGE else str(rules.winners))
    out += [_record(["Contest Summary"]), _record(["Number to be Elected", elected_text]),
            _record(["Number of Candidates", info.n_candidates]),
            _record(["Total Number of Ballots", first.active + first.inactive]),
            _record(["Number of Undervotes (No Rankings)", first.statuses[Status.NO_RANKINGS]]), "\r\n"]
    header = ["Rounds"]
    for r in range(1, n + 1):
        header += [f"Round {r} Votes", "% of vote", "transfer"]
    out.append(_record(header))
    tie_broken = any(d.by_tiebreak for ds in count.decisions.values() for d in ds)
    mark = "†" if slice_ else ""
    for label, elected in (("Eliminated", False), ("Elected", True)):
        row: list[object] = [label + mark]
        for r in range(1, n + 1):
            decided = _decided(count, r, elected)
            row += ["; ".join(names[d.candidate] + ("*" if d.by_tiebreak else "") for d in decided), "", ""]
        out.append(_record(row))
    single_like = rules.winner_mode in (WinnerMode.SINGLE, WinnerMode.BOTTOMS_UP_PERCENTAGE)
    for c in candidate_order(count):
        row = [names[c]]
        for i, t in enumerate(rounds):
            votes = t.tallies.get(c, Decimal(0))
            base = rounds[0] if not single_like or rules.first_round_determines_threshold else t
            divisor = base.active + base.locked_in
            row.append(votes)
            row.append("" if divisor == 0 else _percent(votes, divisor))
            row.append(rounds[i + 1].tallies.get(c, Decimal(0)) - votes if i + 1 < n else 0)
        out.append(_record(row))
    out.append(_record(["Active Ballots", *[x for t in rounds for x in (t.active + t.locked_in, "", "")]]))
    if slice_ is None:
        out.append(_record(["Current Round Threshold", *[x for t in rounds for x in (t.threshold, "", "")]]))
    if detailed:
        for status in PRINTED_STATUSES:
            row = [_TITLES[status]]
            for i, t in enumerate(rounds):
                row += [t.statuses[status], "",
                        rounds[i + 1].statuses[status] - t.statuses[status] if i + 1 < n else 0]
            out.append(_record(row))
    no_rankings = first.statuses[Status.NO_RANKINGS]
    row = ["Inactive Ballots Total"]
    for i, t in enumerate(rounds):
        row += [t.inactive - no_rankings, "", rounds[i + 1].inactive - t.inactive if i + 1 < n else 0]
    out.append(_record(row))
    if slice_ is None and count.residual[n] > 0:
        out.append(_record(["Residual surplus", *[x for r in range(1, n + 1) for x in (count.residual[r], "", "")]]))
    if rules.uses_surpluses:
        out.append(_record([_TITLES[Status.FINAL_SURPLUS], *[
            x for t in rounds for x in ("" if _java_zero(t.statuses[Status.FINAL_SURPLUS])
                                        else t.statuses[Status.FINAL_SURPLUS], "", "")]]))
    if slice_:
        out += ["\r\n", _record([f"†Elect/Eliminate decisions are from the full contest. All other results on this "
                                 f"report are at the {slice_.kind.lower()} level."])]
    if tie_broken:
        out += ["\r\n", _record(["*Tie resolved in accordance with election law"])]
    return "".join(out)


def transfer_target_names(count: Count) -> set[str]:
    """Every name a transfer may go to: the candidates, 'exhausted' and 'residual surplus'."""
    return {*count.candidates, EXHAUSTED, "residual surplus"}
