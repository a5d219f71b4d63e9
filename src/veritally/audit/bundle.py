"""An audit's export bundle, and its verification by anyone, from the bundle alone.

``export_bundle`` writes a folder (docs/audit.md lists every file): the audit's settings and public seed, every
input with its SHA-256 (manifests and reported results as given, CVRs normalized to Veritally's Parquet with the
hashes of the vendor files they came from, every MVR file), the sample with its tickets, every reading (amendments
included) with the CVR beside it, p-values per round, the log of every action, and ``SHA256SUMS``.

``verify_bundle`` re-derives, from those files alone, the sample (every ticket, from the seed and the manifests)
and every p-value (from the inputs and the readings as they stood when it was computed), and reports line by line
what matches and what does not. This is what observers ask of Arlo (votingworks/arlo issue #2351).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
from sqlalchemy import select

from .._io import atomic_dir
from ..errors import ConfigError, InputError
from ._card_style import csd_rounds, round_counts
from ._hybrid import hybrid_rounds, round_splits
from ._state import AuditSettings
from .store import (AuditStore, rows, audit_table, batch_table, contest_table, draw_table, input_table, log_table,
                    mvr_table, risk_table, round_table)
from .workflow import build_state, compute_status, draw_next

__all__ = ["export_bundle", "verify_bundle", "VerifyReport", "BUNDLE_FORMAT"]

BUNDLE_FORMAT = "veritally-audit-bundle 1"
SAMPLE_COLUMNS = ("round", "sequence", "ticket", "generation", "ballot_id", "jurisdiction", "tabulator", "batch",
                  "position")
P_VALUE_COLUMNS = ("round", "contest", "assertion", "p_value", "computed_at")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _csv_bytes(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _is_bundle(folder: Path) -> bool:
    try:
        return orjson.loads((folder / "audit.json").read_bytes()).get("format") == BUNDLE_FORMAT
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return False


def export_bundle(store: AuditStore, out: str | Path) -> list[str]:
    """Write the bundle into ``out`` (new, empty, or an older bundle, which is replaced); returns its files."""
    with store.read() as conn:
        audit = rows(conn, select(audit_table))[0]
        batches = rows(conn, select(batch_table).order_by(batch_table.c.id))
        inputs = rows(conn, select(input_table).order_by(input_table.c.id))
        contests = rows(conn, select(contest_table).order_by(contest_table.c.added_at, contest_table.c.name))
        rounds = rows(conn, select(round_table).order_by(round_table.c.number))
        draws = rows(conn, select(draw_table).order_by(draw_table.c.sequence))
        mvrs = rows(conn, select(mvr_table).order_by(mvr_table.c.id))
        risks = rows(conn, select(risk_table).order_by(risk_table.c.id))
        logs = rows(conn, select(log_table).order_by(log_table.c.id))
    settings = AuditSettings(audit["audit_type"], audit["method"], audit["risk_limit"], audit["seed"],
                             bool(audit["card_style"]))
    state = build_state(settings, batches, inputs, contests, rounds, draws, _mvr_tuples(mvrs))
    files: dict[str, bytes] = {}
    input_list = []
    for entry in inputs:
        suffix = ".parquet" if entry["kind"] == "cvrs" else (Path(entry["name"]).suffix or ".dat")
        name = f"inputs/{entry['id']:04d}-{entry['kind']}{suffix}"
        files[name] = entry["content"]
        input_list.append({"id": entry["id"], "kind": entry["kind"], "jurisdiction": entry["jurisdiction"],
                           "name": entry["name"], "file": name, "sha256": entry["sha256"],
                           "original_files": entry["files"], "added_at": entry["added_at"]})
    files["audit.json"] = orjson.dumps({
        "format": BUNDLE_FORMAT, "audit_type": audit["audit_type"], "method": audit["method"],
        "risk_limit": audit["risk_limit"], "seed": audit["seed"], "seed_entered_at": audit["seed_entered_at"],
        **({"card_style": True} if settings.card_style else {}),
        "created_at": audit["created_at"], "contests": [{"name": c["name"], "targeted": c["targeted"],
                                                         "added_at": c["added_at"],
                                                         "hand_count_round": c["hand_count_round"]}
                                                        for c in contests],
        "rounds": rounds, "inputs": input_list}, option=orjson.OPT_INDENT_2)
    files["batches.csv"] = _csv_bytes(("jurisdiction", "container", "tabulator", "batch", "ballots", "cvr"),
                                      [(b["jurisdiction"], b["container"] or "", b["tabulator"], b["name"],
                                        b["ballots"], _flag(b.get("cvr"))) for b in batches])
    # a card-style audit's draws each name their contest (a last column; the other types' sample is shared)
    extra = (lambda d: (d["contest"],)) if settings.card_style else (lambda d: ())
    files["sample.csv"] = _csv_bytes(SAMPLE_COLUMNS + (("contest",) if settings.card_style else ()), [
        (d["round"], d["sequence"], d["ticket"], d["generation"], bid, d["jurisdiction"], d["tabulator"], d["batch"],
         d["position"], *extra(d)) for d, bid in zip(draws, state.unit_ids(state.draw_cards) if draws else [])])
    files["mvrs.csv"] = _csv_bytes(("ballot_id", "contest", "reading", "version", "superseded", "input_id",
                                    "recorded_at"),
                                   [(m["ballot_id"], m["contest"], m["reading"], m["version"],
                                     "Y" if m["superseded"] else "N", m["input_id"], m["recorded_at"]) for m in mvrs])
    files["cvr_vs_mvr.csv"] = _csv_bytes(("ballot_id", "contest", "cvr", "mvr"), _cvr_vs_mvr(state))
    files["p_values.csv"] = _csv_bytes(P_VALUE_COLUMNS, [(r["round"], r["contest"], r["assertion"],
                                                         repr(r["p_value"]), r["computed_at"]) for r in risks])
    files["status.json"] = orjson.dumps(compute_status(state), option=orjson.OPT_INDENT_2)
    files["log.jsonl"] = b"".join(orjson.dumps(entry) + b"\n" for entry in logs)
    files["SHA256SUMS"] = "".join(f"{_sha(data)}  {name}\n" for name, data in sorted(files.items())).encode()
    with atomic_dir(out, replaceable=_is_bundle, what="Veritally audit bundle") as tmp:
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return sorted(files)


def _flag(cvr: bool | None) -> str:
    """The manifest's CVR column as the bundle writes it: Y, N, or empty (no CVR column)."""
    return "" if cvr is None else ("Y" if cvr else "N")


def _mvr_tuples(mvrs: list[dict]) -> list[tuple]:
    return [(m["ballot_id"], m["contest"], m["reading"], m["version"], m["recorded_at"]) for m in mvrs]


def _cvr_vs_mvr(state) -> list[tuple]:
    """Every current reading beside the CVR of the same card and contest (comparison audits)."""
    rows = []
    for spec in state.contests:
        readings = state.readings[spec.name]
        cards = np.array(sorted(readings), np.int64)
        if not cards.size:
            continue
        ids = state.unit_ids(cards)
        with_cvrs = state.cvrs is not None and not state.by_batch
        if with_cvrs:
            votes, present, over, missing = state.cvrs.votes(spec.name, spec.choices, cards)
        for k, card in enumerate(cards.tolist()):
            if not with_cvrs:
                cvr = ""
            elif missing[k] and state.oneaudit and not state.cards.cvr[state.cards.batch_of([card])[0]]:
                cvr = "POOL"  # ONEAudit: the card's CVR is its pool's mean (the pool's tally is an input)
            elif missing[k]:
                cvr = "NO_CVR"
            elif not present[k]:
                cvr = "NOT_ON_CVR"
            elif over[k]:
                cvr = "OVERVOTE"
            else:
                cvr = ";".join(c for c, v in zip(spec.choices, votes[k]) if v) or "BLANK"
            reading = readings[card]
            if state.by_batch:  # a batch's hand tally beside its reported tally
                mvr = ";".join(f"{c}={v}" for c, v in sorted((reading.votes or {}).items())) or reading.status
                cvr = ";".join(f"{c}={int(v)}" for c, v in zip(spec.choices, state.batch_tallies[spec.name].votes[card]))
            else:
                mvr = reading.status or ";".join(sorted(reading.votes or {})) or "BLANK"
            rows.append((ids[k], spec.name, cvr, mvr))
    return rows


@dataclass
class VerifyReport:
    lines: list[str] = field(default_factory=list)
    mismatches: int = 0

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def good(self, text: str) -> None:
        self.lines.append(f"match     {text}")

    def bad(self, text: str) -> None:
        self.lines.append(f"MISMATCH  {text}")
        self.mismatches += 1


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def verify_bundle(folder: str | Path) -> VerifyReport:
    """Re-derive the sample and the p-values of a bundle; every check is one line of the report."""
    folder = Path(folder)
    report = VerifyReport()
    if not (folder / "audit.json").is_file():
        raise InputError("not an audit bundle (no audit.json)", file=folder)
    _check_sums(folder, report)
    try:
        audit = orjson.loads((folder / "audit.json").read_bytes())
        inputs = []
        for entry in audit["inputs"]:
            data = (folder / entry["file"]).read_bytes()
            (report.good if _sha(data) == entry["sha256"] else report.bad)(
                f"input {entry['file']} ({entry['kind']}) sha256 {entry['sha256'][:16]}…")
            inputs.append({**entry, "content": data})
        batches = [{"jurisdiction": b["jurisdiction"], "container": b["container"] or None,
                    "tabulator": b["tabulator"], "name": b["batch"], "ballots": int(b["ballots"]),
                    "cvr": {"Y": True, "N": False}.get(b.get("cvr") or "")}
                   for b in _read_csv(folder / "batches.csv")]
        sample_rows = _read_csv(folder / "sample.csv")
        mvrs = [(m["ballot_id"], m["contest"], m["reading"], int(m["version"]), m["recorded_at"])
                for m in _read_csv(folder / "mvrs.csv")]
        risks = _read_csv(folder / "p_values.csv")
        settings = AuditSettings(audit["audit_type"], audit["method"], float(audit["risk_limit"]), audit["seed"],
                                 bool(audit.get("card_style", False)))
    except (OSError, KeyError, ValueError, orjson.JSONDecodeError) as err:
        raise InputError(f"unreadable bundle: {err}", file=folder) from None
    _check_manifests(inputs, batches, report)
    draws = _check_sample(settings, batches, inputs, audit, sample_rows, report)
    _check_p_values(settings, batches, inputs, audit, draws, mvrs, risks, report)
    return report


def _check_sums(folder: Path, report: VerifyReport) -> None:
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        report.bad("SHA256SUMS is missing")
        return
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        path = folder / name
        if not path.is_file():
            report.bad(f"{name}: listed in SHA256SUMS but missing")
        elif _sha(path.read_bytes()) != digest:
            report.bad(f"{name}: its SHA-256 is not the one in SHA256SUMS (the file was changed)")
        else:
            report.good(f"{name} sha256")


def _check_manifests(inputs, batches, report) -> None:
    import tempfile

    from ..formats.manifest import read_manifest

    derived = []
    for entry in (i for i in inputs if i["kind"] == "manifest"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "manifest.csv"
            path.write_bytes(entry["content"])
            m = read_manifest(path)
        derived += [(entry["jurisdiction"], m.batch[k], int(m.ballots[k]),
                     None if m.cvr is None else bool(m.cvr[k])) for k in range(len(m))]
    listed = [(b["jurisdiction"], b["name"], b["ballots"], b["cvr"]) for b in batches]
    (report.good if derived == listed else report.bad)(f"batches.csv: {len(listed)} batches from the manifests")


def _check_sample(settings, batches, inputs, audit, sample_rows, report) -> list[dict]:
    """Redraw every round from the seed and the manifests; compare draw by draw."""
    state = build_state(settings, batches, inputs, audit["contests"], [], [], [])
    total = sum(r["size"] for r in audit["rounds"])
    if state.hybrid and total:
        # each round's split between the strata is read off its draws' batches (their manifest CVR flag)
        keys: dict[int, list] = {}
        for row in sample_rows:
            keys.setdefault(int(row["round"]), []).append((row["jurisdiction"], row["tabulator"], row["batch"]))
        splits = round_splits(state.cards, keys, {r["number"]: r["size"] for r in audit["rounds"]})
        derived = hybrid_rounds(settings, state.cards, splits)
    elif settings.card_style:
        # each round's draws per contest are read off the sample's contest column; each contest's stream is then
        # redrawn from the seed on its pool (from the CVRs), so a draw moved between contests fails ticket by ticket
        if any("contest" not in row for row in sample_rows):
            report.bad("sample.csv has no contest column, which a card-style audit's sample needs")
        order = [c["name"] for c in audit["contests"]]
        per_round = round_counts([{"round": r["round"], "contest": r.get("contest", "")} for r in sample_rows],
                                 audit["rounds"], order)
        try:
            derived = csd_rounds(settings.seed, state.cards, state.pools, per_round)
        except ConfigError as err:
            report.bad(f"sample.csv: {err}")
            derived = []
    else:
        derived = draw_next(state, total) if total else []
    bounds, start = [], 0
    for r in audit["rounds"]:
        size = r["size"]
        bounds += [r["number"]] * size
        start += size
    ids = state.unit_ids([d[0] for d in derived]) if derived else []
    draws, bad = [], 0
    if settings.card_style and len(derived) != total:
        bad += 1
        report.bad(f"sample.csv: the contests' draws add up to {len(derived)}, the rounds' sizes to {total}")
        derived = derived[:total]
    for k, (_, ticket, generation, card, *contest) in enumerate(derived):
        row = sample_rows[k] if k < len(sample_rows) else None
        expected = (str(bounds[k]), str(k + 1), ticket, str(generation), ids[k],
                    *contest)
        found = None if row is None else (row["round"], row["sequence"], row["ticket"], row["generation"],
                                          row["ballot_id"], *([row.get("contest")] if contest else []))
        if found != expected:
            bad += 1
            report.bad(f"sample.csv line {k + 2}: derived {expected}, bundle has {found}")
        draws.append({"round": bounds[k], "sequence": k + 1, "ticket": ticket,
                      "generation": generation, "jurisdiction": card[0], "tabulator": card[1], "batch": card[2],
                      "position": int(card[3]), "contest": contest[0] if contest else None})
    if len(sample_rows) > len(derived):
        bad += 1
        report.bad(f"sample.csv has {len(sample_rows) - len(derived)} draws more than the rounds' sizes give")
    if not bad:
        report.good(f"sample: {len(derived)} draws re-derived from the seed, ticket for ticket")
    return draws


def _check_p_values(settings, batches, inputs, audit, draws, mvrs, risks, report) -> None:
    """Recompute each round's p-values from the readings recorded by the time they were computed."""
    contests = audit["contests"]
    by_round: dict[int, list[dict]] = {}
    for r in risks:
        by_round.setdefault(int(r["round"]), []).append(r)
    for number, rows in sorted(by_round.items()):
        as_of = max(r["computed_at"] for r in rows)
        state = build_state(settings, batches, inputs, contests, audit["rounds"], draws, mvrs, as_of=as_of,
                            rounds_up_to=number)
        derived = {(c["name"], a): p for c in compute_status(state)["contests"] for a, p in c["assertions"].items()}
        for r in rows:
            key = (r["contest"], r["assertion"])
            stated = float(r["p_value"])
            got = derived.get(key)
            same = got is not None and (got == stated or math.isclose(got, stated, rel_tol=1e-12, abs_tol=1e-300))
            (report.good if same else report.bad)(
                f"round {number} {r['contest']} [{r['assertion']}]: stated p = {stated!r}, derived p = {got!r}")
