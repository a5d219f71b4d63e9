"""Reconciliation: the arithmetic identities published results must satisfy, checked per unit and in aggregate.

These are the strongest non-statistical checks a verifier has (notes/forensics.md §4): exact, and each violation
names a unit, an identity and the amounts. The identities, numbered as in notes §4.2 (docs/results.md):

======  ==========================================================================================================
R1      ballots received = issued + cancelled + lost − not accounted for at receipt (lost / not-accounted count 0
        where not published)
R3a     ballots in the boxes = valid + invalid
R3b     Σ choices = valid ballots (a protocol: one mark per ballot)
R3c     ballots in the boxes = Σ choices + invalid (a protocol without a valid line, e.g. a referendum)
R3d     Σ choices = the unit's "Total Votes" row (US files)
R3e     Σ choices ≤ ballots cast × votes allowed (US files, when both are published)
R4a     ballots issued (or cast) ≤ registered voters (+ same-day registrations, when published)
R4b     ballots in the boxes ≤ ballots issued
R5a     Σ units = the published total row (contest-wide or a county's), figure by figure and mode by mode
R5b     no duplicate keys: each (contest, unit, choice, mode) is published once
R6      Σ vote modes = the all-modes figure (a breakdown that leaves a mode out shows here too)
N       over / under-vote rows are not negative (OpenElections' files sometimes publish negative under-votes)
======  ==========================================================================================================

R2 (poll-book sign-ins ≈ ballots cast) needs poll-book counts, which none of the results formats carries.
Arithmetic consistency does not rule out forged protocols: the integer-percent anomaly of the Russian 2018 data
sits in protocols that satisfy R1 and R3 at every station.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .results import PSEUDO, TOTAL, UNALLOCATED, VOTE, PrecinctResults, _group, _sum_by

__all__ = ["Violation", "IdentityCheck", "Reconciliation", "reconcile", "STATEMENTS"]

#: identity → its statement, as findings.json and the summary print it.
STATEMENTS: dict[str, str] = {
    "R1": "ballots received = issued + cancelled + lost − not accounted for at receipt",
    "R3a": "ballots in the boxes = valid + invalid",
    "R3b": "Σ choices = valid ballots",
    "R3c": "ballots in the boxes = Σ choices + invalid",
    "R3d": "Σ choices = Total Votes row",
    "R3e": "Σ choices ≤ ballots cast × votes allowed",
    "R4a": "ballots issued ≤ registered voters (+ same-day registrations)",
    "R4b": "ballots in the boxes ≤ ballots issued",
    "R5a": "Σ units = published total row",
    "R5b": "no duplicate (contest, unit, choice, mode) keys",
    "R6": "Σ vote modes = all-modes figure",
    "N": "over / under votes are not negative",
}


@dataclass(frozen=True)
class Violation:
    """One unit (or total row, or key) where an identity fails, with the amounts on both sides."""

    identity: str
    unit: str | None  #: the unit id; None for a contest-wide total row
    contest: str | None
    amounts: dict[str, int]  #: the terms, and ``left``, ``right`` and ``difference`` (= left − right)
    detail: str = ""  #: e.g. "choice 'Clinton H', mode absentee" or the lines of duplicate rows

    def to_json(self) -> dict:
        out: dict = {"identity": self.identity, "statement": STATEMENTS[self.identity], "unit": self.unit,
                     "contest": self.contest, **self.amounts}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class IdentityCheck:
    """One identity over every unit (or key) it applies to: how many were checked, how many hold, the aggregate
    sides (Σ over the checked units) and the violations. ``skipped`` says why an identity was not checked."""

    identity: str
    checked: int
    holding: int
    left_total: int | None = None
    right_total: int | None = None
    violations: tuple[Violation, ...] = ()
    skipped: str | None = None

    @property
    def statement(self) -> str:
        return STATEMENTS[self.identity]

    @property
    def holds(self) -> bool:
        return not self.violations

    def to_json(self) -> dict:
        return {"identity": self.identity, "statement": self.statement, "checked": self.checked,
                "holding": self.holding, "violations": len(self.violations), "left_total": self.left_total,
                "right_total": self.right_total, "skipped": self.skipped}


@dataclass
class Reconciliation:
    """Every identity checked on one set of results."""

    checks: list[IdentityCheck] = field(default_factory=list)

    @property
    def violations(self) -> list[Violation]:
        return [v for c in self.checks for v in c.violations]

    @property
    def holds(self) -> bool:
        return all(c.holds for c in self.checks)

    def check(self, identity: str) -> IdentityCheck:
        """The check of ``identity`` ("R1"…); KeyError when it was not run (e.g. R3d without Total Votes rows)."""
        for c in self.checks:
            if c.identity == identity:
                return c
        raise KeyError(f"identity {identity!r} was not checked; checked: {', '.join(c.identity for c in self.checks)}")

    def to_json(self, limit: int = 1000) -> dict:
        """``holds``, ``checks`` (one per identity) and ``violations`` — at most ``limit`` listed per identity
        (``violations_total`` counts them all)."""
        listed = [v.to_json() for c in self.checks for v in c.violations[:limit]]
        return {"holds": self.holds, "checks": [c.to_json() for c in self.checks],
                "violations_total": len(self.violations), "violations_listed": len(listed),
                "violations": listed}


# -- per-unit protocol identities -------------------------------------------------------------------------------

def _unit_check(res: PrecinctResults, identity: str, terms: dict[str, np.ndarray], left: np.ndarray,
                right: np.ndarray, checked: np.ndarray, *, relation: str = "=", contest: str | None = None,
                units: np.ndarray | None = None) -> IdentityCheck:
    """An identity ``left (= or ≤) right`` over units where ``checked``; ``terms`` are reported per violation."""
    holds = (left == right) if relation == "=" else (left <= right)
    bad = np.flatnonzero(checked & ~holds)
    ids = res.unit_ids if units is None else res.unit_ids[units]
    violations = tuple(
        Violation(identity, str(ids[i]), contest,
                  {**{k: int(v[i]) for k, v in terms.items()}, "left": int(left[i]), "right": int(right[i]),
                   "difference": int(left[i] - right[i])})
        for i in bad)
    n = int(checked.sum())
    return IdentityCheck(identity, n, n - len(bad), int(left[checked].sum()), int(right[checked].sum()), violations)


def _skip(identity: str, why: str) -> IdentityCheck:
    return IdentityCheck(identity, 0, 0, skipped=why)


def _protocol_checks(res: PrecinctResults) -> list[IdentityCheck]:
    p = res.protocol
    n = res.n_units
    zero = np.zeros(n, np.int64)

    def have(*names: str) -> bool:
        return all(name in p for name in names)

    def present(*names: str) -> np.ndarray:
        mask = np.ones(n, bool)
        for name in names:
            mask &= p[name] >= 0
        return mask

    def value(name: str) -> np.ndarray:
        return np.where(p[name] >= 0, p[name], 0) if name in p else zero

    checks: list[IdentityCheck] = []
    contest = res.protocol_contest
    if have("received", "issued", "cancelled"):
        terms = {f: value(f) for f in ("received", "issued", "cancelled", "lost", "unaccounted") if f in p}
        right = value("issued") + value("cancelled") + value("lost") - value("unaccounted")
        checks.append(_unit_check(res, "R1", terms, value("received"), right,
                                  present("received", "issued", "cancelled"), contest=contest))
    else:
        checks.append(_skip("R1", "ballots received, issued and cancelled are not all published"))
    if have("in_boxes", "valid", "invalid"):
        terms = {f: value(f) for f in ("in_boxes", "valid", "invalid")}
        checks.append(_unit_check(res, "R3a", terms, value("in_boxes"), value("valid") + value("invalid"),
                                  present("in_boxes", "valid", "invalid"), contest=contest))
    else:
        checks.append(_skip("R3a", "ballots in boxes, valid and invalid are not all published"))
    if contest is not None and (have("valid") or have("in_boxes", "invalid")):
        units, _, votes = res.unit_votes(res.contests.index(contest))
        marks = np.zeros(n, np.int64)
        marks[units] = votes.sum(axis=1)
        on_list = np.zeros(n, bool)
        on_list[units] = True
        if have("valid"):
            checks.append(_unit_check(res, "R3b", {"choices": marks, "valid": value("valid")}, marks, value("valid"),
                                      on_list & present("valid"), contest=contest))
        else:
            checks.append(_unit_check(res, "R3c", {"in_boxes": value("in_boxes"), "choices": marks,
                                                   "invalid": value("invalid")}, value("in_boxes"),
                                      marks + value("invalid"), on_list & present("in_boxes", "invalid"),
                                      contest=contest))
    else:
        checks.append(_skip("R3b", "no protocol with valid ballots (or ballots in boxes and invalid) per unit"))
    issued_name = "issued" if "issued" in p else ("ballots_cast" if "ballots_cast" in p else None)
    if issued_name is not None and have("registered"):
        terms = {issued_name: value(issued_name), "registered": value("registered")}
        right = value("registered")
        if "same_day_registered" in p:
            terms["same_day_registered"] = value("same_day_registered")
            right = right + value("same_day_registered")
        checks.append(_unit_check(res, "R4a", terms, value(issued_name), right, present(issued_name, "registered"),
                                  relation="≤", contest=contest))
    else:
        checks.append(_skip("R4a", "ballots issued (or cast) and registered voters are not both published"))
    if have("in_boxes", "issued"):
        checks.append(_unit_check(res, "R4b", {"in_boxes": value("in_boxes"), "issued": value("issued")},
                                  value("in_boxes"), value("issued"), present("in_boxes", "issued"), relation="≤",
                                  contest=contest))
    else:
        checks.append(_skip("R4b", "ballots in boxes and ballots issued are not both published"))
    return checks


# -- US per-contest identities ------------------------------------------------------------------------------------

def _contest_pseudo_checks(res: PrecinctResults) -> list[IdentityCheck]:
    """R3d (Σ choices = Total Votes) and R3e (Σ choices ≤ ballots cast × votes allowed), per contest and unit."""
    out: list[IdentityCheck] = []
    f = res.figures
    for identity, pseudo_name in (("R3d", "Total Votes"), ("R3e", "Ballots Cast")):
        if pseudo_name not in res.choices:
            continue
        checks: list[IdentityCheck] = []
        for code in sorted(set(f.contest[(f.kind == VOTE) & (f.contest >= 0)].tolist())):
            name = res.contests[code]
            ref = res.pseudo(pseudo_name, code)
            factor = 1
            if identity == "R3e":
                if name not in res.votes_allowed:
                    continue
                factor = res.votes_allowed[name]
                ref = ref if ref is not None else res.pseudo(pseudo_name)
            if ref is None:
                continue
            units, _, votes = res.unit_votes(code)
            marks, limit = votes.sum(axis=1), ref[units]
            terms = {"choices": marks, pseudo_name.lower().replace(" ", "_"): limit}
            checks.append(_unit_check(res, identity, terms, marks, limit * factor, limit >= 0,
                                      relation="=" if identity == "R3d" else "≤", contest=name, units=units))
        if checks:
            out.append(IdentityCheck(identity, sum(c.checked for c in checks), sum(c.holding for c in checks),
                                     sum(c.left_total or 0 for c in checks), sum(c.right_total or 0 for c in checks),
                                     tuple(v for c in checks for v in c.violations)))
    return out


# -- totals, duplicates, modes ------------------------------------------------------------------------------------

def _choice_label(res: PrecinctResults, choice: int, mode: int | None = None, region: int | None = None) -> str:
    text = f"choice {res.choices[choice]!r}"
    if mode:
        text += f", mode {res.modes[mode]}"
    if region is not None and region >= 0:
        text += f", region {res.regions[region]!r}"
    return text


def _totals_check(res: PrecinctResults) -> IdentityCheck:
    """R5a: each published total row against the sum of the units it totals (its region's, or all)."""
    if not (res.kind == TOTAL).any():
        return _skip("R5a", "the file publishes no total rows")
    violations: list[Violation] = []
    tally = {"checked": 0, "holding": 0, "left": 0, "right": 0}

    def sums(*keys: np.ndarray, values: np.ndarray) -> dict[tuple[int, ...], int]:
        inv, first = _group(*keys)
        total = _sum_by(inv, values, len(first))
        return {tuple(int(k[i]) for k in keys): int(v) for i, v in zip(first, total)}

    def compare(totals: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], mode: int) -> None:
        """``totals`` and ``parts`` are (contest, choice, region, value) arrays."""
        t_contest, t_choice, t_region, t_value = totals
        p_contest, p_choice, p_region, p_value = parts
        whole = sums(p_contest, p_choice, values=p_value)
        by_region = sums(p_contest, p_choice, p_region, values=p_value)
        for c, ch, r, reported in zip(t_contest.tolist(), t_choice.tolist(), t_region.tolist(), t_value.tolist()):
            if mode and (c, ch) not in whole:
                continue  # the units give no breakdown in this mode: nothing to compare with
            expected = whole.get((c, ch), 0) if r < 0 else by_region.get((c, ch, r), 0)
            tally["checked"] += 1
            tally["left"] += reported
            tally["right"] += expected
            if reported == expected:
                tally["holding"] += 1
            else:
                violations.append(Violation("R5a", None, res.contests[c] if c >= 0 else None,
                                            {"reported": reported, "sum_of_units": expected, "left": reported,
                                             "right": expected, "difference": reported - expected},
                                            _choice_label(res, ch, mode, r)))

    def part_mask(kind: np.ndarray, unit: np.ndarray) -> np.ndarray:
        return np.isin(kind, (VOTE, UNALLOCATED, PSEUDO)) & ((unit >= 0) | (kind == UNALLOCATED))

    # all-modes figures (resolved over modes), then mode by mode from the rows
    f = res.figures
    tot, part = f.kind == TOTAL, part_mask(f.kind, f.unit)
    compare((f.contest[tot], f.choice[tot], f.region[tot], f.value[tot]),
            (f.contest[part], f.choice[part], f.region[part], f.value[part]), 0)
    for m in range(1, len(res.modes)):
        in_mode = res.mode == m
        tot = in_mode & (res.kind == TOTAL)
        if tot.any():
            part = in_mode & part_mask(res.kind, res.unit)
            compare((res.contest[tot], res.choice[tot], res.region[tot], res.votes[tot]),
                    (res.contest[part], res.choice[part], res.region[part], res.votes[part]), m)
    return IdentityCheck("R5a", tally["checked"], tally["holding"], tally["left"], tally["right"], tuple(violations))


def _duplicates_check(res: PrecinctResults) -> IdentityCheck:
    """R5b: rows sharing (contest, unit, choice, mode, kind, region); one violation per duplicated unit."""
    if res.rows_unique:  # the reader saw every key once (a protocol whose station ids are all distinct)
        n = res.n_units if res.protocol_contest is not None else len(res)
        return IdentityCheck("R5b", n, n)
    inv, first = _group(res.contest, res.unit, res.choice, res.mode, res.kind.astype(np.int32), res.region)
    counts = np.bincount(inv, minlength=len(first))
    dup_rows = np.flatnonzero(counts[inv] > 1)
    violations: list[Violation] = []
    if len(dup_rows):
        by_unit: dict[tuple[int, int], list[int]] = {}
        for i in dup_rows.tolist():
            by_unit.setdefault((int(res.contest[i]), int(res.unit[i])), []).append(i)
        for (c, u), rows in by_unit.items():
            keys = {int(inv[i]) for i in rows}
            lines = sorted({int(res.record[i]) for i in rows if res.record[i] > 0})
            choices = sorted({res.choices[res.choice[i]] for i in rows})
            shown = ", ".join(map(str, lines[:8])) + (" …" if len(lines) > 8 else "")
            violations.append(Violation(
                "R5b", str(res.unit_ids[u]) if u >= 0 else None, res.contests[c] if c >= 0 else None,
                {"keys": len(keys), "rows": len(rows), "votes": int(res.votes[rows].sum()), "left": len(rows),
                 "right": len(keys), "difference": len(rows) - len(keys)},
                f"{len(keys)} key(s) published more than once ({', '.join(repr(x) for x in choices[:4])}"
                f"{' …' if len(choices) > 4 else ''})" + (f"; lines {shown}" if lines else "")))
    n_keys = len(first)
    return IdentityCheck("R5b", n_keys, n_keys - int((counts > 1).sum()), violations=tuple(violations))


def _modes_check(res: PrecinctResults) -> IdentityCheck:
    """R6: where a figure has an all-modes row and mode rows, they agree."""
    if len(res.modes) == 1:
        return _skip("R6", "the file gives no vote-mode breakdown")
    f = res.figures
    both = f.has_all & f.has_modes
    if not both.any():
        return _skip("R6", "no figure is given both as a total and broken down by mode")
    bad = np.flatnonzero(both & (f.all_sum != f.modes_sum))
    violations = tuple(
        Violation("R6", str(res.unit_ids[f.unit[i]]) if f.unit[i] >= 0 else None,
                  res.contests[f.contest[i]] if f.contest[i] >= 0 else None,
                  {"all_modes": int(f.all_sum[i]), "sum_of_modes": int(f.modes_sum[i]), "left": int(f.modes_sum[i]),
                   "right": int(f.all_sum[i]), "difference": int(f.modes_sum[i] - f.all_sum[i])},
                  _choice_label(res, int(f.choice[i])) + (" (total row)" if f.kind[i] == TOTAL else ""))
        for i in bad)
    n = int(both.sum())
    return IdentityCheck("R6", n, n - len(bad), int(f.modes_sum[both].sum()), int(f.all_sum[both].sum()), violations)


def _negative_check(res: PrecinctResults) -> IdentityCheck | None:
    pseudo = res.kind == PSEUDO
    if not pseudo.any():
        return None
    bad = np.flatnonzero(pseudo & (res.votes < 0))
    violations = tuple(
        Violation("N", str(res.unit_ids[res.unit[i]]) if res.unit[i] >= 0 else None,
                  res.contests[res.contest[i]] if res.contest[i] >= 0 else None,
                  {"votes": int(res.votes[i]), "left": int(res.votes[i]), "right": 0,
                   "difference": int(res.votes[i])},
                  _choice_label(res, int(res.choice[i]), int(res.mode[i])) + f", line {int(res.record[i])}")
        for i in bad)
    n = int(pseudo.sum())
    return IdentityCheck("N", n, n - len(bad), violations=violations)


def reconcile(res: PrecinctResults) -> Reconciliation:
    """Check every identity the published fields allow (see the module doc); vectorized over units."""
    checks: list[IdentityCheck] = []
    checks += _protocol_checks(res)
    checks += _contest_pseudo_checks(res)
    checks.append(_totals_check(res))
    checks.append(_duplicates_check(res))
    checks.append(_modes_check(res))
    negative = _negative_check(res)
    if negative is not None:
        checks.append(negative)
    return Reconciliation(checks)

