"""The audit workflow: the commands an audit administrator runs, each one database transaction.

``init`` → ``add_manifest`` / ``add_cvrs`` / ``add_reported`` / ``add_contest`` → ``plan`` → ``sample`` →
``record`` (audit boards' readings, or ``mock`` from a paper-truth CVR export) → ``status`` → ``next_round`` … →
``export`` (docs/audit.md). The statistics are :mod:`veritally.audit`'s pure functions; this module only moves
data between files, the database (:mod:`.store`) and them.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import delete, insert, select, update

from .._io import atomic_write
from ..errors import ConfigError, InputError
from ..formats import detect_format, read_cvrs
from ..formats.manifest import read_manifest
from ..formats.reported import read_reported
from .contest import ReportedContest
from .sampling import veritally_sample
from .store import (AuditStore, rows, audit_table, batch_table, contest_table, draw_table, input_table, mvr_table, now,
                    risk_table, round_table, SCHEMA_VERSION)
from ._plan import choose, full_count_is_less_work, size_options
from ._state import AUDIT_TYPES, METHODS, ContestSpec, link_cvrs
from ._batch import batch_draws, batch_options, batch_status, batch_weights
from ._status import audited_votes, contest_status, sample_tally
from ._hybrid import hybrid_draws, hybrid_options, hybrid_status, require_strata, split_size, stratum_tallies
from ._oneaudit import oneaudit_options, oneaudit_outcome_checks, oneaudit_status, pool_tallies, require_pools
from ._card_style import NOT_SAMPLED, contest_view, csd_draws
from ._readings import mock_batch_readings, mock_readings, parse_batch_csv, parse_mvr_csv
from ._loaded import (AuditState, build_state, contest_spec, digest, election_bytes, file_entries, load_state,
                      reported_from_bytes, settings_row)

__all__ = ["init_audit", "add_manifest", "add_cvrs", "add_reported", "add_contest", "plan", "sample", "record",
           "status", "next_round", "compute_status", "AuditState", "load_state", "build_state", "draw_next",
           "RETRIEVAL_COLUMNS", "BATCH_RETRIEVAL_COLUMNS"]

RETRIEVAL_COLUMNS = ("ballot_id", "jurisdiction", "container", "tabulator", "batch", "position", "imprinted_id",
                     "ticket_numbers", "already_audited")
BATCH_RETRIEVAL_COLUMNS = ("batch_id", "jurisdiction", "container", "tabulator", "batch", "ballots",
                           "ticket_numbers", "already_audited")


# -------------------------------------------------------------------------------------------------------- setup
def init_audit(location: str | Path, *, risk_limit: float, seed: str, audit_type: str,
               method: str | None = None, card_style: bool = False) -> AuditStore:
    """Create an audit: the risk limit (a fraction, or a percentage ≥ 1), the public seed (recorded with the time
    it was entered), the audit type and its method (default: BRAVO, super-simple, MACRO, SUITE, ALPHA); with
    ``card_style`` (comparison audits) each targeted contest is sampled from the cards whose CVR lists it."""
    if card_style and audit_type != "comparison":
        raise ConfigError(f"card-style data narrows the samples of ballot-comparison audits (--type comparison), "
                          f"not of a {audit_type} audit")
    if audit_type not in AUDIT_TYPES:
        raise ConfigError(f"audit type {audit_type!r} is not supported; choose one of {', '.join(AUDIT_TYPES)}")
    method = method or METHODS[audit_type][0]
    if method not in METHODS[audit_type]:
        raise ConfigError(f"a {audit_type} audit uses {' or '.join(METHODS[audit_type])}, not {method!r}")
    alpha = float(risk_limit)
    alpha = alpha / 100 if alpha >= 1 else alpha
    if not 0 <= alpha < 1:
        raise ConfigError(f"the risk limit must be in [0, 1) (or a percentage below 100), not {risk_limit}")
    if not seed or not seed.strip():
        raise ConfigError("the seed must not be empty (for example 20 digits from rolled dice)")
    store = AuditStore.create(location)
    entered = now()
    with store.transaction("init", {"risk_limit": alpha, "seed": seed, "audit_type": audit_type,
                                    "method": method, "seed_entered_at": entered,
                                    "card_style": bool(card_style)}) as conn:
        conn.execute(insert(audit_table).values(id=1, schema_version=SCHEMA_VERSION, audit_type=audit_type,
                                                method=method, risk_limit=alpha, seed=seed,
                                                seed_entered_at=entered, created_at=entered,
                                                card_style=bool(card_style)))
    return store


def _no_sample_yet(conn, what: str) -> None:
    if conn.execute(select(round_table.c.number)).first() is not None:
        raise ConfigError(f"the sample has been drawn: {what} can no longer change (start a new audit)")


def add_manifest(store: AuditStore, path: str | Path, *, jurisdiction: str = "county") -> dict:
    """Add one jurisdiction's ballot manifest (Arlo's CSV); duplicate batches are an error naming the row. A hybrid
    audit needs the manifest's CVR column (Y/N per batch)."""
    path = Path(path)
    manifest = read_manifest(path)
    data = path.read_bytes()
    rows = [{"jurisdiction": jurisdiction, "container": (manifest.container[i] if manifest.container else None),
             "tabulator": (manifest.tabulator[i] if manifest.tabulator else ""), "name": manifest.batch[i],
             "ballots": int(manifest.ballots[i]), "cvr": (bool(manifest.cvr[i]) if manifest.cvr is not None else None)}
            for i in range(len(manifest))]
    detail = {"file": str(path), "sha256": digest(data), "jurisdiction": jurisdiction, "batches": len(rows),
              "ballots": manifest.total}
    with store.transaction("add-manifest", detail) as conn:
        _no_sample_yet(conn, "the manifests")
        audit_type = settings_row(conn).audit_type
        if audit_type in ("hybrid", "oneaudit") and manifest.cvr is None:
            kind = "ONEAudit" if audit_type == "oneaudit" else "hybrid"
            raise ConfigError(f"{path}: a {kind} audit needs the manifest's CVR column (Y for batches whose cards "
                              "have CVRs, N for the others)")
        if conn.execute(select(batch_table.c.id).where(batch_table.c.jurisdiction == jurisdiction)).first():
            raise InputError(f"jurisdiction {jurisdiction!r} already has a manifest", file=path,
                             expected="one manifest per jurisdiction")
        if rows:
            conn.execute(insert(batch_table), rows)
        conn.execute(insert(input_table).values(kind="manifest", jurisdiction=jurisdiction, name=path.name,
                                                sha256=detail["sha256"], files=file_entries([path]), content=data,
                                                added_at=now()))
    return detail


def add_cvrs(store: AuditStore, paths: Sequence[str | Path], *, fmt: str = "auto", jurisdiction: str = "county",
             allow_gaps: bool = False) -> dict:
    """Add one jurisdiction's CVRs (any format the readers know), linked card by card to its manifest."""
    paths = [Path(p) for p in paths]
    election = read_cvrs(paths, fmt)
    fmt = fmt if fmt != "auto" else detect_format(paths[0])
    content = election_bytes(election)
    detail = {"files": [str(p) for p in paths], "format": fmt, "jurisdiction": jurisdiction,
              "cvrs": election.n_cards, "sha256": digest(content)}
    with store.transaction("add-cvrs", detail) as conn:
        _no_sample_yet(conn, "the CVRs")
        state_cards = load_state(conn).cards
        if jurisdiction not in state_cards.jurisdiction:
            raise InputError(f"jurisdiction {jurisdiction!r} has no manifest yet: add it first", file=paths[0])
        if conn.execute(select(input_table.c.id).where((input_table.c.kind == "cvrs")
                                                       & (input_table.c.jurisdiction == jurisdiction))).first():
            raise InputError(f"jurisdiction {jurisdiction!r} already has CVRs", file=paths[0])
        without = None
        audit_type = settings_row(conn).audit_type
        if audit_type in ("hybrid", "oneaudit"):  # only the CVR=Y batches have CVRs
            (require_strata if audit_type == "hybrid" else require_pools)(state_cards)
            without = ~state_cards.cvr
        link_cvrs(state_cards, jurisdiction, election, allow_gaps=allow_gaps, source=str(paths[0]),
                  without_cvrs=without)
        conn.execute(insert(input_table).values(kind="cvrs", jurisdiction=jurisdiction, name=paths[0].name,
                                                sha256=detail["sha256"], files=file_entries(paths), content=content,
                                                added_at=now()))
    return detail


def add_reported(store: AuditStore, path: str | Path) -> dict:
    """Add the reported results (contest totals, or per precinct/batch) whose outcomes the audit checks."""
    path = Path(path)
    reported = read_reported(path)
    data = path.read_bytes()
    detail = {"file": str(path), "sha256": digest(data), "contests": reported.contests}
    with store.transaction("add-reported", detail) as conn:
        _no_sample_yet(conn, "the reported results")
        conn.execute(delete(input_table).where(input_table.c.kind == "reported"))
        conn.execute(insert(input_table).values(kind="reported", jurisdiction="", name=path.name,
                                                sha256=detail["sha256"], files=file_entries([path]), content=data,
                                                added_at=now()))
    return detail


def add_contest(store: AuditStore, name: str, *, targeted: bool = True) -> dict:
    """Put a contest under audit: targeted (the sample is sized for it) or opportunistic (reported only)."""
    with store.transaction("add-contest", {"contest": name, "targeted": targeted}) as conn:
        _no_sample_yet(conn, "the contests")
        state = load_state(conn)
        reported_inputs = rows(conn, select(input_table).where(input_table.c.kind == "reported"))
        reported = (reported_from_bytes(reported_inputs[-1]["content"], reported_inputs[-1]["name"])
                    if reported_inputs else None)
        elections = state.cvrs.elections if state.cvrs else []
        spec = contest_spec(name, targeted, reported, elections, state.cards.total)
        if spec.reported.num_winners and not spec.reported.losers:
            raise ConfigError(f"contest {name!r} has no losing choices: there is nothing to audit")
        if state.hybrid:
            require_strata(state.cards)
            stratum_tallies(spec, state.cvrs)  # the no-CVR stratum's tally must not be negative
        if state.oneaudit:
            pool_tallies(state.cards, spec, reported)  # every pool has its reported tally
        conn.execute(delete(contest_table).where(contest_table.c.name == name))
        conn.execute(insert(contest_table).values(name=name, targeted=targeted, added_at=now()))
    return {"contest": name, "targeted": targeted, "reported_winners": list(spec.reported.winners)}


# ------------------------------------------------------------------------------------------------ plan & sample
def _observed(state: AuditState, spec: ContestSpec) -> tuple[dict[str, int], dict[str, int]]:
    """(sample tally, discrepancy counts) of a contest from the readings so far."""
    st = _status_of(state, spec) if len(state.draw_cards) else None
    if not len(state.draw_cards):
        return {}, {}
    unique, counts = np.unique(state.draw_cards, return_counts=True)
    read = np.array([c in state.readings[spec.name] for c in unique.tolist()], bool)
    votes, _, worst = audited_votes(state.readings[spec.name], unique[read], spec.choices)
    return sample_tally(spec.reported, spec.choices, votes, worst, counts[read]), st.discrepancies


def _outcome_checks(state: AuditState, spec: ContestSpec) -> list[str]:
    """Reasons the reported outcome cannot be audited as it stands (comparison: the CVRs must show it; ONEAudit:
    the CVRs with the pools' tallies)."""
    if state.oneaudit:
        return oneaudit_outcome_checks(spec, state.cvrs, state.batch_tallies[spec.name], state.cards)
    if state.settings.audit_type != "comparison" or state.cvrs is None:
        return []
    cvr_tally = state.cvrs.tally(spec.name, spec.choices)
    counted = ReportedContest(spec.name, cvr_tally, spec.reported.ballots, num_winners=spec.reported.num_winners)
    if set(counted.winners) != set(spec.reported.winners):
        return [f"the CVRs' winners ({', '.join(counted.winners)}) are not the reported winners "
                f"({', '.join(spec.reported.winners)}): the reported outcome cannot be confirmed from these CVRs; "
                "count the ballots by hand"]
    if cvr_tally != dict(spec.reported.tally):
        return ["the CVRs' totals differ from the reported totals (see `veritally compare`); the reported margins "
                "are audited"]
    return []


def plan(store: AuditStore) -> dict:
    """Per targeted contest: margins and sample-size options (additional draws), with warnings."""
    with store.read() as conn:
        state = load_state(conn)
    return _plan(state)


def _plan(state: AuditState) -> dict:
    contests = []
    whole = state
    for spec in whole.contests:
        if not spec.targeted:
            continue
        state = contest_view(whole, spec.name)  # card-style audits: the contest's own draws
        tally, discrepancies = _observed(state, spec)
        reported = spec.reported
        notes = _outcome_checks(state, spec)
        if spec.name in state.hand_counted:
            options, notes = {}, notes + ["counted by hand: no more sampling"]
        elif _contest_confirmed(state, spec.name):
            options, notes = {}, notes + ["confirmed: the risk limit is met"]
        elif notes and notes[0].startswith("the CVRs' winners"):
            options = {"all-ballots": {"size": reported.ballots, "prob": None}}
        elif state.by_batch:
            options = batch_options(state.settings, state.cards, spec, state.batch_tallies[spec.name],
                                    state.draw_cards, state.readings[spec.name])
        elif state.oneaudit:
            options = oneaudit_options(state.settings, state.cards, spec, state.cvrs, state.batch_tallies[spec.name],
                                       state.draw_cards, state.readings[spec.name])
        elif state.hybrid:
            options = hybrid_options(state.settings, state.cards, spec, state.cvrs, state.draw_cards,
                                     state.readings[spec.name])
        else:
            options = size_options(state.settings, spec, draws=len(state.draw_cards), sample_tally=tally,
                                   discrepancies=discrepancies)
        units, what = (len(state.cards.batch), "batches") if state.by_batch else (reported.ballots, "cards")
        warnings = [f"option {k} ({v['size']:,} draws) is as much work as a full hand count of {units:,} {what}"
                    for k, v in options.items() if k != "all-ballots" and full_count_is_less_work(v["size"], units)]
        contests.append({"name": spec.name, "reported_winners": list(reported.winners),
                         "diluted_margin": reported.diluted_margin, "ballots": reported.ballots,
                         "options": options, "warnings": warnings, "notes": notes})
    state = whole
    return {"risk_limit": state.settings.risk_limit, "audit_type": state.settings.audit_type,
            "method": state.settings.method, "draws_so_far": int(len(state.draw_cards)), "contests": contests}


def _round_size(state: AuditState, size: int | None,
                option: str | None) -> tuple[int, str, list[str], tuple[int, int] | dict[str, int] | None]:
    """(additional draws, how chosen, contests escalating to a full hand count, and in a hybrid audit the draws
    per stratum (CVR, no-CVR): the largest each targeted contest asks for; in a card-style audit the draws per
    contest) for the next round. A contest whose only option is "all-ballots" is counted by hand; the others share
    the sample (card-style: each has its own, ``size`` draws each when a size is given)."""
    planned = _plan(state)
    if not planned["contests"]:
        raise ConfigError("no targeted contest: add one with `veritally audit add-contest NAME --targeted`")
    if state.by_batch and len(planned["contests"]) != 1:
        raise ConfigError("a batch audit checks one targeted contest (MACRO's batch weights are the contest's own); "
                          "add the others as --opportunistic or audit them separately")
    chosen, escalate, strata = [], [], [0, 0]
    for c in planned["contests"]:
        if not c["options"]:  # confirmed, or counted by hand
            continue
        try:
            name, n = choose(c["options"], option)
        except KeyError:
            raise ConfigError(f"contest {c['name']!r} has no option {option!r}; it has {', '.join(c['options'])}") from None
        if name == "all-ballots":
            escalate.append(c["name"])
        else:
            chosen.append((n, f"{c['name']}: {name}", c["name"]))
            if state.hybrid:
                strata = [max(strata[0], c["options"][name]["size_cvr"]),
                          max(strata[1], c["options"][name]["size_non_cvr"])]
    if not chosen and not escalate:
        raise ConfigError("every targeted contest is already confirmed or counted by hand: the audit is over")
    if size is not None and size < 1:
        raise ConfigError("the sample size must be at least 1")
    if state.settings.card_style:
        per = {name: (size if size is not None else n) for n, _, name in chosen}
        how = "; ".join([f"{label}" + (f" (size {size})" if size is not None else "") for _, label, _ in chosen]
                        + [f"{e}: full hand count" for e in escalate])
        return sum(per.values()), how, escalate, per
    if size is not None:
        split = split_size(state.cards, size, _drawn_per_stratum(state)[1]) if state.hybrid else None
        return size, f"size {size}", escalate, split
    if state.hybrid:
        how = "; ".join([f"{label} ({strata[0]} CVR, {strata[1]} no-CVR)" for _, label, _ in chosen]
                        + [f"{e}: full hand count" for e in escalate])
        return sum(strata), how, escalate, (strata[0], strata[1])
    n, how, _ = max(chosen) if chosen else (0, "", "")
    how = "; ".join(filter(None, [how] + [f"{e}: full hand count" for e in escalate]))
    return n, how, escalate, None


def _drawn_per_stratum(state: AuditState) -> tuple[int, int]:
    """Draws so far in the CVR stratum and in the no-CVR stratum (hybrid audits)."""
    if not len(state.draw_cards):
        return 0, 0
    in_cvr = int(np.repeat(state.cards.cvr, state.cards.ballots)[state.draw_cards].sum())
    return in_cvr, int(len(state.draw_cards) - in_cvr)


def _status_of(state: AuditState, spec: ContestSpec):
    """One contest's status (batch audits: MACRO on the hand-tallied batches)."""
    hand = spec.name in state.hand_counted
    if state.hybrid and not hand:
        return _hybrid_status_of(state, spec)
    if state.oneaudit and not hand:
        st = contest_status(state.settings, state.cards, spec, state.draw_cards, state.readings[spec.name],
                            state.cvrs, full_hand_count=False)
        oneaudit_status(state.settings, state.cards, spec, state.cvrs, state.batch_tallies[spec.name],
                        state.draw_cards, state.readings[spec.name], st)
        st.p_value = max(st.assertions.values(), default=1.0)
        st.state = "confirmed" if st.assertions and st.p_value <= state.settings.risk_limit else "in_progress"
        return st
    if not state.by_batch or hand:
        return contest_status(state.settings, state.cards, spec, state.draw_cards, state.readings[spec.name],
                              state.cvrs, full_hand_count=hand, by_batch=state.by_batch,
                              use_style=state.settings.card_style)
    st = contest_status(state.settings, state.cards, spec, state.draw_cards, {}, None, full_hand_count=False)
    read = [b for b in np.unique(state.draw_cards).tolist() if b in state.readings[spec.name]]
    st.cards_audited, st.to_audit = len(read), int(len(np.unique(state.draw_cards)) - len(read))
    st.sample_size = int(sum(1 for b in state.draw_cards.tolist() if b in state.readings[spec.name]))
    batch_status(state.settings, state.cards, spec, state.batch_tallies[spec.name], state.draw_cards,
                 state.readings[spec.name], st)
    st.p_value = max(st.assertions.values(), default=1.0)
    st.state = "confirmed" if st.p_value <= state.settings.risk_limit else "in_progress"
    return st


def _hybrid_status_of(state: AuditState, spec: ContestSpec):
    """One contest's status in a hybrid audit: SUITE on the CVR stratum's comparisons and the no-CVR stratum's
    poll."""
    st = contest_status(state.settings, state.cards, spec, state.draw_cards, state.readings[spec.name], state.cvrs,
                        full_hand_count=False)
    hybrid_status(state.settings, state.cards, spec, state.cvrs, state.draw_cards, state.readings[spec.name], st)
    st.p_value = max(st.assertions.values(), default=1.0)
    st.state = "confirmed" if st.assertions and st.p_value <= state.settings.risk_limit else "in_progress"
    return st


def _contest_confirmed(state: AuditState, name: str) -> bool:
    state = contest_view(state, name)
    if not len(state.draw_cards):
        return False
    return _status_of(state, state.contest(name)).state == "confirmed"


def draw_next(state: AuditState, additional: int, split: tuple[int, int] | None = None,
              ) -> list[tuple[int, str, int, tuple[str, str, str, int]]]:
    """The next draws as (unit index, ticket, generation, (jurisdiction, tabulator, batch, position)): cards by
    Veritally's card sampler, or for a batch audit batches by PPEB (position 0); in a hybrid audit ``split`` more
    draws per stratum (CVR with replacement, then no-CVR without), each continuing its own stream."""
    start = len(state.draw_cards)
    if state.hybrid:
        if split is None or sum(split) != additional:
            raise ConfigError("a hybrid audit draws a number of cards per stratum (CVR, no-CVR)")
        return hybrid_draws(state.settings, state.cards, _drawn_per_stratum(state), split)
    if state.by_batch:
        (spec,) = [c for c in state.contests if c.targeted]
        weights = batch_weights(spec, state.cards, state.batch_tallies[spec.name])
        return [(d.index, d.ticket, d.generation, (*d.batch, 0))
                for d in batch_draws(state.settings, state.cards, weights, additional, start)]
    draws = veritally_sample(state.cards.columns(), state.settings.seed, start + additional,
                             with_replacement=True)[start:]
    return [(d.index, d.ticket, d.generation, d.card) for d in draws]


def sample(store: AuditStore, *, out_dir: str | Path, size: int | None = None, option: str | None = None) -> dict:
    """Draw the first round's sample and write its retrieval lists (one CSV per jurisdiction)."""
    with store.read() as conn:
        if conn.execute(select(round_table.c.number)).first() is not None:
            raise ConfigError("the first round has been drawn; use `veritally audit next-round`")
    return _new_round(store, out_dir=out_dir, size=size, option=option, action="sample")


def next_round(store: AuditStore, *, out_dir: str | Path, size: int | None = None, option: str | None = None) -> dict:
    """Escalate: draw the next round, sized from what has been observed (or a full hand count when that is what
    the risk limit now needs)."""
    with store.read() as conn:
        state = load_state(conn)
    if not state.rounds:
        raise ConfigError("no round has been drawn yet; use `veritally audit sample`")
    unread = sum(int(np.sum([c not in state.readings[s.name] for c in state.cards_to_record(s.name).tolist()]))
                 for s in state.contests if s.targeted)
    if unread:
        raise ConfigError(f"{unread} readings of the cards to audit are missing; record them before the next round")
    return _new_round(store, out_dir=out_dir, size=size, option=option, action="next-round")


def _new_round(store: AuditStore, *, out_dir, size, option, action) -> dict:
    out_dir = Path(out_dir)
    with store.transaction(action, {"size": size, "option": option, "out": str(out_dir)}) as conn:
        state = load_state(conn)
        if not state.cards.total:
            raise ConfigError("there is no ballot manifest: add one with `veritally audit add-manifest`")
        additional, how, escalate, split = _round_size(state, size, option)
        number = len(state.rounds) + 1
        conn.execute(insert(round_table).values(number=number, size=additional, chosen_by=how,
                                                full_hand_count=bool(escalate), started_at=now()))
        for name in escalate:
            conn.execute(update(contest_table).where(contest_table.c.name == name).values(hand_count_round=number))
        if state.settings.card_style:  # each contest's draws continue its own pool's stream
            drawn = {name: int(np.sum(state.draw_contests == name)) for name in split}
            draws = csd_draws(state.settings.seed, state.cards, state.pools, drawn, split)
        else:
            draws = draw_next(state, additional, split) if additional else []
        start = len(state.draw_cards)
        if draws:
            conn.execute(insert(draw_table), [
                {"round": number, "sequence": start + k + 1, "ticket": d[1], "generation": d[2],
                 "jurisdiction": d[3][0], "tabulator": d[3][1], "batch": d[3][2], "position": int(d[3][3]),
                 "contest": d[4] if len(d) > 4 else None}
                for k, d in enumerate(draws)])
        cards = np.arange(state.units) if escalate else np.array([d[0] for d in draws], np.int64)
        tickets: dict[int, list[str]] = {}
        for unit, ticket, *_ in draws:  # a card drawn for several contests is retrieved once, with every ticket
            tickets.setdefault(unit, []).append(ticket)
        files = _write_retrieval(state, number, cards, tickets, out_dir)
        full = bool(escalate)
    return {"round": number, "draws": len(draws), "cards": int(len(np.unique(cards))), "chosen_by": how,
            "full_hand_count": full, "hand_counted": escalate, "retrieval_lists": [str(f) for f in files]}


def _write_retrieval(state: AuditState, number: int, cards: np.ndarray, tickets: dict[int, list[str]],
                     out_dir: Path) -> list[Path]:
    """One retrieval list per jurisdiction, sorted the way audit boards walk the storage: container, tabulator,
    batch, position. A batch audit lists batches (``batch_id``, ``ballots``) instead of cards."""
    unique = np.unique(cards)
    earlier = set(state.draw_cards.tolist())
    audited = {c for r in state.readings.values() for c in r}
    if state.by_batch:
        rows, positions = unique, np.zeros(len(unique), np.int64)
    else:
        rows, positions = state.cards.batch_of(unique), state.cards.position_of(unique)
    ids = state.unit_ids(unique)
    order = np.lexsort((positions, [state.cards.batch[r] for r in rows], [state.cards.tabulator[r] for r in rows],
                        [state.cards.container[r] or "" for r in rows], [state.cards.jurisdiction[r] for r in rows]))
    by_jurisdiction: dict[str, list[list]] = {}
    for k in order.tolist():
        unit, r = int(unique[k]), int(rows[k])
        where = [ids[k], state.cards.jurisdiction[r], state.cards.container[r] or "", state.cards.tabulator[r],
                 state.cards.batch[r]]
        tail = [";".join(tickets.get(unit, [])), "Y" if unit in earlier and unit in audited else "N"]
        if state.by_batch:
            line = where + [int(state.cards.ballots[r])] + tail
        else:
            imprinted = state.imprinted[unit] if state.imprinted is not None else ""
            line = where + [int(positions[k]), imprinted] + tail
        by_jurisdiction.setdefault(state.cards.jurisdiction[r], []).append(line)
    columns = BATCH_RETRIEVAL_COLUMNS if state.by_batch else RETRIEVAL_COLUMNS
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for jurisdiction, lines in sorted(by_jurisdiction.items()):
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in jurisdiction)
        path = out_dir / f"retrieval-round-{number}-{safe}.csv"
        with atomic_write(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(lines)
        files.append(path)
    return files


# -------------------------------------------------------------------------------------------------------- record
def record(store: AuditStore, path: str | Path | None = None, *, mock: Sequence[str | Path] | None = None,
           fmt: str = "auto", amend: bool = False, jurisdiction: str | None = None) -> dict:
    """Import audit boards' readings (CSV ``ballot_id, contest, choice``, or a CVR export of the audited cards),
    or with ``mock`` the paper truth of the sampled cards. A card outside the sample is an error; a second,
    different reading of a card is an error unless ``amend`` (then it is logged as an amendment)."""
    if (path is None) == (mock is None):
        raise ConfigError("give either an MVR file or --mock PAPER_CVRS")
    with store.transaction("record", {"file": str(path) if path else None,
                                      "mock": [str(m) for m in mock] if mock else None, "amend": amend}) as conn:
        state = load_state(conn)
        # card-style audits: any contest may be read on any retrieved card (only its own draws count for it)
        allowed = {s.name: set(state.unit_ids(np.union1d(state.cards_to_record(s.name), state.draw_cards)
                                              if state.settings.card_style else state.cards_to_record(s.name)))
                   for s in state.contests}
        if mock is not None:
            paths = [Path(m) for m in mock]
            pending = {s.name: np.array([c for c in state.cards_to_record(s.name).tolist()
                                         if c not in state.readings[s.name]], np.int64) for s in state.contests}
            reader = mock_batch_readings if state.by_batch else mock_readings
            readings = reader(state, paths, fmt, pending, jurisdiction)
            data, name = b"mock:" + "\n".join(digest(p.read_bytes()) if p.is_file() else str(p)
                                               for p in paths).encode(), paths[0].name
            files = file_entries(paths)
        else:
            p = Path(path)
            if not p.is_file():
                raise InputError("no such file", file=p)
            data, name, files = p.read_bytes(), p.name, file_entries([p])
            head = data.lstrip().removeprefix(b"\xef\xbb\xbf")[:64].lower()
            if state.by_batch:
                readings = parse_batch_csv(data, str(p), state)
            elif p.suffix.lower() == ".csv" and head.startswith(b"ballot_id"):
                readings = parse_mvr_csv(data, str(p), state)
            else:  # the audited cards as a CVR export, in any format the readers know
                readings = mock_readings(state, [p], fmt, {s.name: state.cards_to_record(s.name)
                                                            for s in state.contests}, jurisdiction,
                                          missing_as_not_found=False)
        for bid, contest in readings:
            if bid not in allowed[contest]:
                raise InputError(f"ballot {bid} is not in the sample", file=str(path or mock[0]), field="ballot_id",
                                 expected="a ballot_id from the retrieval lists")
        current = {(m.ballot_id, m.contest): (m.id, m.reading, m.version) for m in conn.execute(
            select(mvr_table.c.id, mvr_table.c.ballot_id, mvr_table.c.contest, mvr_table.c.reading,
                   mvr_table.c.version).where(mvr_table.c.superseded.is_(False)))}
        input_id = conn.execute(insert(input_table).values(
            kind="mvrs", jurisdiction=jurisdiction or "", name=name, sha256=digest(data), files=files, content=data,
            added_at=now())).inserted_primary_key[0]
        new, amended, unchanged = [], 0, 0
        stamp = now()
        for (bid, contest), reading in readings.items():
            as_json = reading.to_text()
            old = current.get((bid, contest))
            version = 1
            if old is not None:
                if old[1] == as_json:
                    unchanged += 1
                    continue
                if not amend:
                    raise InputError(f"ballot {bid} already has a different reading of {contest} ({old[1]}; now "
                                     f"{as_json}); record it with --amend to replace it, which is logged",
                                     file=str(path or mock[0]), field="choice")
                conn.execute(update(mvr_table).where(mvr_table.c.id == old[0]).values(superseded=True))
                version, amended = old[2] + 1, amended + 1
            new.append({"ballot_id": bid, "contest": contest, "reading": as_json, "version": version,
                        "superseded": False, "input_id": input_id, "recorded_at": stamp})
        if new:
            conn.execute(insert(mvr_table), new)
        summary = {"recorded": len(new) - amended, "amended": amended, "unchanged": unchanged}
        from .store import log
        log(conn, "record-summary", summary)
    return summary


# -------------------------------------------------------------------------------------------------------- status
def status(store: AuditStore, *, save: bool = True) -> dict:
    """Each contest's p-values, state and progress; saved to the risk table for the current round."""
    with store.transaction("status", {}) if save else store.read() as conn:
        state = load_state(conn)
        result = compute_status(state)
        if save and state.rounds:
            number = state.rounds[-1]["number"]
            conn.execute(delete(risk_table).where(risk_table.c.round == number))
            stamp = now()
            rows = [{"round": number, "contest": c["name"], "assertion": a, "p_value": float(p), "computed_at": stamp}
                    for c in result["contests"] for a, p in c["assertions"].items()]
            if rows:
                conn.execute(insert(risk_table), rows)
    return result


def _not_sampled(state: AuditState, spec: ContestSpec) -> dict:
    """An opportunistic contest of a card-style audit: no sample is drawn for it, so it has no p-value
    (the cards sampled for the targeted contests are no random sample of its pool)."""
    return {"name": spec.name, "targeted": False, "state": NOT_SAMPLED, "p_value": None, "assertions": {},
            "sample_size": 0, "cards_audited": 0, "ballots_to_audit": 0, "discrepancies": {},
            "reported_winners": list(spec.reported.winners), "hand_count": None,
            "notes": ["card-style audit: no sample is drawn for an opportunistic contest, so it has no p-value; "
                      "target it to audit it"]}


def compute_status(state: AuditState) -> dict:
    """The status JSON of an audit state (no database): the function ``verify`` re-runs on a bundle."""
    contests = []
    for spec in state.contests:
        if state.settings.card_style and not spec.targeted and spec.name not in state.hand_counted:
            contests.append(_not_sampled(state, spec))
            continue
        st = _status_of(contest_view(state, spec.name), spec)
        st.notes += _outcome_checks(state, spec)
        if st.notes and st.notes[0].startswith("the CVRs' winners") and st.state == "confirmed":
            st.state = "in_progress"
        contests.append(st.to_json())
    done = all(c["state"] in ("confirmed",) or (c["hand_count"] or {}).get("complete") for c in contests
               if c["targeted"])
    return {"risk_limit": state.settings.risk_limit, "audit_type": state.settings.audit_type,
            "method": state.settings.method, "rounds": len(state.rounds), "draws": int(len(state.draw_cards)),
            "complete": bool(contests) and done, "contests": contests}

