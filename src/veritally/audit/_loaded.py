"""An audit's state as the statistics need it, loaded from its database or built from an export bundle's rows —
one function, :func:`build_state`, for both, so that ``verify`` re-derives exactly what the audit computed.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ..errors import ConfigError
from ..formats.parquet import read as read_parquet, write as write_parquet
from ..formats.reported import read_reported
from ..model import Election
from .contest import ReportedContest
from .store import audit_table, batch_table, contest_table, draw_table, input_table, mvr_table, round_table, rows
from ._state import AuditSettings, Cards, ContestSpec, Reading, link_cvrs, parse_ballot_id
from ._batch import BatchTallies, batch_id, batch_tallies
from ._status import CvrLookup
from ._oneaudit import pool_tallies
from ._card_style import card_style_pools


__all__ = ["AuditState", "load_state", "build_state", "contest_spec", "settings_row", "digest", "file_entries",
           "election_bytes", "election_from_bytes", "reported_from_bytes"]


@dataclass
class AuditState:
    """Everything the statistics need, loaded from the database (or from an export bundle)."""

    settings: AuditSettings
    cards: Cards
    contests: list[ContestSpec]
    cvrs: CvrLookup | None
    imprinted: np.ndarray | None  # CVR card id per card ("" for none)
    draw_cards: np.ndarray  # card index per draw, in sequence order
    draw_rounds: np.ndarray
    draw_tickets: list[str]
    rounds: list[dict]
    readings: dict[str, dict[int, Reading]]  # contest → card → reading (current versions)
    hand_counted: set[str]  # contests escalated to a full hand count
    batch_tallies: dict[str, BatchTallies]  # batch audits: each contest's reported votes per batch; ONEAudit: per pool
    pools: dict[str, np.ndarray] = field(default_factory=dict)  # card-style audits: each contest's cards
    draw_contests: np.ndarray | None = None  # card-style audits: the contest of each draw (object array)

    @property
    def by_batch(self) -> bool:
        """A batch audit: draws, readings and retrieval lists are of batches (their index), not cards."""
        return self.settings.audit_type == "batch"

    @property
    def hybrid(self) -> bool:
        """A hybrid (SUITE) audit: the cards of CVR=Y batches are compared, those of CVR=N batches polled."""
        return self.settings.audit_type == "hybrid"

    @property
    def oneaudit(self) -> bool:
        """A ONEAudit audit: cards of CVR=Y batches compared with their CVRs, those of CVR=N batches (pools) with
        their pool's mean."""
        return self.settings.audit_type == "oneaudit"

    @property
    def units(self) -> int:
        return len(self.cards.batch) if self.by_batch else self.cards.total

    def cards_to_record(self, contest: str) -> np.ndarray:
        """The cards (batches) the audit boards must read for a contest: every one once the contest is counted by
        hand, else the sample (card-style audits: a targeted contest's own draws; every contest may be read on
        every sampled card)."""
        if contest in self.hand_counted:
            return np.arange(self.units)
        if self.settings.card_style and self.draw_contests is not None and self.contest(contest).targeted:
            return np.unique(self.draw_cards[self.draw_contests == contest])
        return np.unique(self.draw_cards)

    def unit_ids(self, units: Sequence[int]) -> list[str]:
        if self.by_batch:
            return [batch_id(self.cards, int(u)) for u in units]
        return self.cards.ballot_ids(units)

    def contest(self, name: str) -> ContestSpec:
        for spec in self.contests:
            if spec.name == name:
                return spec
        raise ConfigError(f"no contest {name!r} in this audit")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entries(paths: Sequence[Path]) -> list[dict]:
    entries = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            data = f.read_bytes()
            entries.append({"name": str(f), "sha256": digest(data), "bytes": len(data)})
    return entries


def election_bytes(election: Election) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cvrs.parquet"
        write_parquet(election, out)
        return out.read_bytes()


def election_from_bytes(data: bytes) -> Election:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cvrs.parquet"
        path.write_bytes(data)
        return read_parquet([path])


def reported_from_bytes(data: bytes, name: str):
    suffix = ".json" if data.lstrip()[:1] == b"{" else ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(name).stem + suffix)
        path.write_bytes(data)
        return read_reported(path)


def load_state(conn, *, as_of: str | None = None, rounds_up_to: int | None = None) -> AuditState:
    """Read the audit's whole state in one transaction (``as_of``: only readings recorded by then;
    ``rounds_up_to``: only that many rounds)."""
    row = conn.execute(select(audit_table)).mappings().first()
    return build_state(
        AuditSettings(row["audit_type"], row["method"], row["risk_limit"], row["seed"], bool(row["card_style"])),
        rows(conn, select(batch_table).order_by(batch_table.c.id)),
        rows(conn, select(input_table).order_by(input_table.c.id)),
        rows(conn, select(contest_table).order_by(contest_table.c.added_at, contest_table.c.name)),
        rows(conn, select(round_table).order_by(round_table.c.number)),
        rows(conn, select(draw_table).order_by(draw_table.c.sequence)),
        conn.execute(select(mvr_table.c.ballot_id, mvr_table.c.contest, mvr_table.c.reading, mvr_table.c.version,
                            mvr_table.c.recorded_at).order_by(mvr_table.c.id)).all(),
        as_of=as_of, rounds_up_to=rounds_up_to)


def build_state(settings: AuditSettings, batches: list[dict], inputs: list[dict], contest_rows: list[dict],
                rounds: list[dict], draws: list[dict], mvrs: Sequence[tuple], *, as_of: str | None = None,
                rounds_up_to: int | None = None) -> AuditState:
    """The state from its rows — the database's, or an export bundle's (``verify`` builds it the same way).

    ``mvrs`` are tuples (ballot_id, contest, reading JSON text, version, recorded_at), in the order recorded."""
    if rounds_up_to is not None:
        rounds = [r for r in rounds if r["number"] <= rounds_up_to]
        draws = [d for d in draws if d["round"] <= rounds_up_to]
    flags = [b.get("cvr") for b in batches]
    cards = Cards([b["jurisdiction"] for b in batches], [b["container"] for b in batches],
                  [b["tabulator"] for b in batches], [b["name"] for b in batches],
                  np.array([b["ballots"] for b in batches], np.int64),
                  cvr=np.array(flags, bool) if flags and all(f is not None for f in flags) else None)
    elections, jurisdiction_of, row_of, imprinted = [], None, None, None
    cvr_inputs = [i for i in inputs if i["kind"] == "cvrs"]
    if cvr_inputs and cards.total:
        jurisdiction_of = np.full(cards.total, -1, np.int64)
        row_of = np.full(cards.total, -1, np.int64)
        imprinted = np.full(cards.total, "", dtype=object)
        for k, entry in enumerate(cvr_inputs):
            election = election_from_bytes(entry["content"])
            linked = link_cvrs(cards, entry["jurisdiction"], election, allow_gaps=True, source=entry["name"])
            elections.append(election)
            jurisdiction_of[linked] = k
            row_of[linked] = np.arange(election.n_cards)
            imprinted[linked] = election.cards.card_id.astype(object)
    cvrs = CvrLookup(elections, jurisdiction_of, row_of) if elections else None
    reported_inputs = [i for i in inputs if i["kind"] == "reported"]
    reported = (reported_from_bytes(reported_inputs[-1]["content"], reported_inputs[-1]["name"])
                if reported_inputs else None)
    pools = card_style_pools(cards, cvrs, [c["name"] for c in contest_rows]) if settings.card_style else {}
    contests = [contest_spec(c["name"], c["targeted"], reported, elections,
                              len(pools[c["name"]]) if settings.card_style else cards.total) for c in contest_rows]
    limit = rounds_up_to if rounds_up_to is not None else math.inf
    hand_counted = {c["name"] for c in contest_rows
                    if c.get("hand_count_round") is not None and c["hand_count_round"] <= limit}
    index = cards.batch_index()
    by_batch = settings.audit_type == "batch"

    def unit(j: str, t: str, b: str, p: int) -> int | None:
        return index.get((j, t, b)) if by_batch else cards.card_index(j, t, b, p, index)

    draw_cards = np.array([unit(d["jurisdiction"], d["tabulator"], d["batch"], d["position"]) for d in draws],
                          np.int64)
    readings: dict[str, dict[int, Reading]] = {c.name: {} for c in contests}
    latest: dict[tuple[str, str], tuple] = {}
    for m in mvrs:  # the current version of each reading (as of a time, when asked)
        if as_of is not None and m[4] > as_of:
            continue
        key = (m[0], m[1])
        if key not in latest or m[3] > latest[key][3]:
            latest[key] = m
    card_of: dict[str, int | None] = {}
    for (bid, contest), m in latest.items():
        if bid not in card_of:  # a card has a reading per contest: parse its id once
            card_of[bid] = unit(*parse_ballot_id(bid))
        card = card_of[bid]
        if card is not None and contest in readings:
            readings[contest][card] = Reading.from_text(m[2])
    if by_batch:
        tallies = {c.name: batch_tallies(cards, c, reported) for c in contests}
    elif settings.audit_type == "oneaudit":
        tallies = {c.name: pool_tallies(cards, c, reported) for c in contests}
    else:
        tallies = {}
    return AuditState(settings, cards, contests, cvrs, imprinted, draw_cards,
                      np.array([d["round"] for d in draws], np.int64), [d["ticket"] for d in draws], rounds, readings,
                      hand_counted, tallies, pools,
                      np.array([d.get("contest") for d in draws], dtype=object) if settings.card_style else None)


def contest_spec(name: str, targeted: bool, reported, elections: list[Election], ballots: int) -> ContestSpec:
    if reported is None or name not in reported.totals():
        raise ConfigError(f"contest {name!r} has no reported results: add them with `veritally audit add-reported`")
    tally = reported.totals()[name]
    winners, votes_allowed, choices = reported.number_elected.get(name, 1), 1, list(tally)
    for election in elections:
        try:
            contest = election.contests[election.contest_index(name)]
        except KeyError:
            continue
        if contest.kind.value in ("ranked", "threshold"):
            raise ConfigError(f"contest {name!r} is {contest.kind.value}: the workflow audits plurality, vote-for-N "
                              "and approval contests (ranked contests need RAIRE assertions, threshold contests a "
                              "supermajority assertion; neither is run by the workflow yet)")
        winners, votes_allowed = contest.winners or 1, contest.max_votes
        choices += [c for c in contest.choice_names if c not in choices]
        break
    full = {c: tally.get(c, 0) for c in choices}
    return ContestSpec(name, targeted, ReportedContest(name, full, ballots, num_winners=winners,
                                                       votes_allowed=votes_allowed), tuple(choices))


def settings_row(conn) -> AuditSettings:
    row = conn.execute(select(audit_table)).mappings().first()
    return AuditSettings(row["audit_type"], row["method"], row["risk_limit"], row["seed"], bool(row["card_style"]))
