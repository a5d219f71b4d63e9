"""OpenElections precinct results CSV (openelections-data-XX repositories), read into
:class:`~veritally.results.PrecinctResults`.

The layout (openelections/docs dataentry.md; docs/formats/openelections.md): one row per unit × contest × choice,
with columns ``county``, ``precinct``, ``office``, ``district``, ``party``, ``candidate``, ``votes`` — header names
lower-case, in any order — and every variant seen across states:

* the unit column is ``precinct``, or ``election_district`` (Delaware), ``precinct_name`` or ``ward``; a file
  without one is a county-level file whose units are the counties (``county``, ``parish``, ``town`` or
  ``jurisdiction``);
* vote-mode columns (``election_day``, ``early_voting``, ``absentee``, ``mail``, ``provisional``… see
  :data:`MODE_COLUMNS`) break ``votes`` down; either may be blank or absent;
* pseudo-rows are recognised and kept apart from the choices: offices ``Registered Voters`` and ``Ballots Cast``
  (unit-wide facts), ``Straight Party``, and candidates ``Over Votes``, ``Under Votes``, ``Over/Under``, ``Total
  Votes``, ``Blank``… (negative under-votes are read, as OpenElections' own tests allow, and reported by the
  reconciliation); percentage rows (turnout %) are skipped;
* total rows are recognised, never summed: a unit labelled ``Total`` (Delaware's ``election_district == "Total"``,
  labelled county Sussex, totals the whole state), ``County Total``, or — the OpenElections convention — a blank
  precinct in a precinct file (the county's total).

A contest is the office, with its district when there is one ("State Senate, district 1"). A unit is
"County / Precinct". Counts must be whole, non-negative numbers; anything else is a FormatError naming file, line
and field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._results_csv import header_index, parse_counts, peek_header, read_csv_table, strings
from .._results_rows import (PSEUDO_CANDIDATES, PSEUDO_OFFICES, STRAIGHT_PARTY_OFFICES, assemble, classify_units,
                             is_percent, label_names, lookup, normalize, total_regions)
from ..errors import FormatError
from ..results import ALL_MODES, PSEUDO, TOTAL, UNALLOCATED, VOTE, PrecinctResults

__all__ = ["NAME", "DESCRIPTION", "sniff", "sniff_header", "read", "MODE_COLUMNS", "UNIT_COLUMNS", "REGION_COLUMNS"]

NAME = "openelections"
DESCRIPTION = "OpenElections precinct results CSV (county, precinct, office, district, party, candidate, votes)"

#: Unit columns, in order of preference.
UNIT_COLUMNS = ("precinct", "election_district", "precinct_name", "ward")
#: Region (county) columns, in order of preference.
REGION_COLUMNS = ("county", "parish", "town", "jurisdiction")
#: Vote-mode columns seen in OpenElections files (those its tests check first, then other states' spellings).
MODE_COLUMNS = ("election_day", "early_voting", "absentee", "mail", "provisional", "early_vote", "early",
                "absentee_mail", "absentee_by_mail", "absentee_in_person", "mail_in", "vote_by_mail", "in_person",
                "one_stop", "advance", "advance_voting", "polling", "machine", "military", "overseas", "uocava",
                "federal", "early_in_person", "election_day_votes", "absentee_votes", "provisional_votes")
_KNOWN = {"office", "district", "party", "candidate", "votes", "winner", *UNIT_COLUMNS, *REGION_COLUMNS,
          *MODE_COLUMNS}
_EXPECTED = "columns office, candidate and votes (or vote-mode columns), and precinct or county"
_NEGATIVE_ALLOWED = ("Under Votes", "Over/Under Votes")


def sniff_header(header: list[str]) -> bool:
    """Whether a header is an OpenElections one (office, candidate, votes or a mode column)."""
    names = {h.strip().lower() for h in header}
    return {"office", "candidate"} <= names and ("votes" in names or bool(names & set(MODE_COLUMNS))) and bool(
        names & {*UNIT_COLUMNS, *REGION_COLUMNS})


def sniff(path: Path) -> bool:
    return Path(path).is_file() and sniff_header(peek_header(Path(path)))


def _first(col: dict[str, int], names: tuple[str, ...]) -> int | None:
    return next((col[n] for n in names if n in col), None)


def read(path: str | Path) -> PrecinctResults:
    """Read an OpenElections CSV (or the one CSV in a zip)."""
    tab = read_csv_table(path, what="an OpenElections CSV")
    col = header_index(tab.header)
    for required in ("office", "candidate"):
        if required not in col:
            raise FormatError(f"missing column {required!r} (header: {', '.join(tab.header)})", file=tab.label,
                              record=1, field=required, expected=_EXPECTED)
    modes = [m for m in MODE_COLUMNS if m in col]
    if "votes" not in col and not modes:
        raise FormatError(f"no votes column (header: {', '.join(tab.header)})", file=tab.label, record=1,
                          field="votes", expected=_EXPECTED)
    i_unit, i_region = _first(col, UNIT_COLUMNS), _first(col, REGION_COLUMNS)
    if i_unit is None and i_region is None:
        raise FormatError(f"no precinct or county column (header: {', '.join(tab.header)})", file=tab.label,
                          record=1, field="precinct", expected=_EXPECTED)
    notes: list[str] = []
    ignored = [h for h in tab.header if h.strip().lower() not in _KNOWN]
    if ignored:
        notes.append(f"columns not read: {', '.join(ignored)}")
    n = tab.n_rows
    blank = pa.array([""] * n, pa.string())
    office = strings(tab, col["office"])
    district = strings(tab, col["district"]) if "district" in col else blank
    party = strings(tab, col["party"]) if "party" in col else blank
    candidate = strings(tab, col["candidate"])
    region = strings(tab, i_region) if i_region is not None else blank
    unit = strings(tab, i_unit) if i_unit is not None else region

    # what each row is
    office_n, cand_n = normalize(office), normalize(candidate)
    percent = is_percent(office, candidate)
    pseudo_office = lookup(office_n, PSEUDO_OFFICES)
    straight = np.isin(lookup(office_n, STRAIGHT_PARTY_OFFICES), -1, invert=True)
    pseudo_cand = np.where((pseudo_office < 0) & ~straight, lookup(cand_n, PSEUDO_CANDIDATES), -1)
    is_total, unallocated = classify_units(unit, region, blank_is_total=i_unit is not None)
    if i_unit is None:  # a county-level file: a blank county is not a unit
        is_total |= pc.equal(region, "").to_numpy(zero_copy_only=False)
    pseudo = (pseudo_office >= 0) | straight | (pseudo_cand >= 0)
    kind = np.full(n, VOTE, np.int8)
    kind[pseudo] = PSEUDO
    kind[unallocated & ~is_total] = UNALLOCATED
    kind[is_total] = TOTAL

    contest = pc.if_else(pc.equal(district, ""), office, pc.binary_join_element_wise(office, district, ", district "))
    contest = pc.if_else(pa.array(pseudo_office >= 0), "", pc.if_else(pa.array(straight), "Straight Party", contest))
    office_names, cand_names = list(PSEUDO_OFFICES.values()), list(PSEUDO_CANDIDATES.values())
    choice = pc.if_else(pc.equal(candidate, ""), party, candidate)
    choice = pc.if_else(pa.array(pseudo_cand >= 0), label_names(cand_names, pseudo_cand), choice)
    choice = pc.if_else(pa.array(pseudo_office >= 0), label_names(office_names, pseudo_office), choice)
    empty_choice = pc.and_(pc.equal(choice, ""), pa.array(~percent)).to_numpy(zero_copy_only=False)
    if empty_choice.any():
        i = int(np.argmax(empty_choice))
        raise FormatError("empty candidate (and party)", file=tab.label, record=tab.line(i), field="candidate",
                          expected="a candidate name, a party, or a pseudo-row label such as 'Over Votes'")
    if (kind == VOTE).any():
        empty_office = pc.equal(office, "").to_numpy(zero_copy_only=False) & ~percent
        if empty_office.any():
            i = int(np.argmax(empty_office))
            raise FormatError("empty office", file=tab.label, record=tab.line(i), field="office",
                              expected="an office name")
    if i_unit is not None or i_region is not None:
        unit_id = unit if i_unit is None or i_region is None else pc.if_else(
            pc.equal(region, ""), unit, pc.binary_join_element_wise(region, unit, " / "))
    total_region = total_regions(unit, region) if i_unit is not None else pa.array([""] * n, pa.string())
    row_region = pc.if_else(pa.array(is_total), total_region, region)

    # one block of rows per count column: votes (all modes), then each mode column
    canon = np.array(cand_names + [""], object)[np.where(pseudo_cand >= 0, pseudo_cand, -1)]
    negative_ok = np.isin(canon, _NEGATIVE_ALLOWED)
    blocks = [("votes", ALL_MODES)] if "votes" in col else []
    blocks += [(m, m) for m in modes]
    have_any = np.zeros(n, bool)
    pieces: list[tuple[np.ndarray, str, np.ndarray]] = []
    for column, mode in blocks:
        cells = strings(tab, col[column])
        empty = pc.equal(cells, "").to_numpy(zero_copy_only=False)
        values = parse_counts(tab, col[column], allow_negative=negative_ok, skip=empty | percent)
        keep = ~empty & ~percent
        have_any |= keep
        pieces.append((np.flatnonzero(keep), mode, values[keep]))
    missing = ~have_any & ~percent
    if missing.any():
        i = int(np.argmax(missing))
        raise FormatError("empty votes" + (" and vote-mode cells" if modes else ""), file=tab.label,
                          record=tab.line(i), field="votes", expected="a non-negative whole number")
    if percent.any():
        notes.append(f"{int(percent.sum()):,} percentage rows (turnout %) skipped")
    rows = np.concatenate([p[0] for p in pieces])
    take = pa.array(rows)
    lines = tab.lines()
    counts = {k: int((kind == v).sum())
              for k, v in (("total", TOTAL), ("pseudo", PSEUDO), ("unallocated", UNALLOCATED))}
    if counts["total"]:
        notes.append(f"{counts['total']:,} total rows recognised (checked against the units' sums, not added)")
    if counts["pseudo"]:
        notes.append(f"{counts['pseudo']:,} pseudo-rows (registered voters, ballots cast, over/under votes…) kept "
                     "apart from the choices")
    return assemble(fmt=NAME, source=tab.label, contest=contest.take(take), unit=unit_id.take(take),
                    choice=choice.take(take), party=party.take(take),
                    mode=pa.array(np.concatenate([np.full(len(p[0]), p[1], object) for p in pieces]), pa.string()),
                    kind=kind[rows], region=row_region.take(take),
                    votes=np.concatenate([p[2] for p in pieces]), record=lines[rows], notes=notes)

