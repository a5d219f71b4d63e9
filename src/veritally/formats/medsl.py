"""MIT Election Data + Science Lab (MEDSL) precinct returns, read into :class:`~veritally.results.PrecinctResults`.

Layout (MEDSL/2020-elections-official field_details.md; docs/formats/medsl.md): one row per precinct × office ×
candidate × mode, 25 columns (``precinct, office, party_detailed, party_simplified, mode, votes, county_name,
county_fips, jurisdiction_name, jurisdiction_fips, candidate, district, magnitude, dataverse, year, stage, state,
special, writein, state_po, state_fips, state_cen, state_ic, date, readme_check``). What the reader takes care of:

* ``mode`` is ``TOTAL`` or a breakdown (ABSENTEE, ELECTION DAY, MACHINE, PROVISIONAL, ONE-STOP…): a figure is the
  TOTAL row when there is one, else the sum of the mode rows — a TOTAL row is never added on top of mode rows (and
  reconciliation identity R6 checks the two agree when both are given);
* stats rows (magnitude 0, or candidates such as REGISTERED VOTERS, OVERVOTES, UNDERVOTES, BALLOTS CAST) are
  pseudo-rows, kept apart from the choices; a stats row whose votes are a percentage (Texas) is skipped;
* FIPS codes stay text ("10003", never 10003): every column is read as text, and ``county_fips`` is kept per unit;
* precinct ``COUNTYWIDE`` (Delaware's county-wide write-ins) is votes not allocated to a precinct: counted in the
  totals, not a unit of the per-unit tests;
* ``votes`` may be written as a float ("12.0"); a fraction is an error, as is any negative or non-numeric count.

A contest is the office with its district unless the district is ``STATEWIDE``, blank or all zeros (an at-large
seat, "000") — "STATE SENATE, district 004" — with its county (or town) for a local office (dataverse LOCAL: each
county's SHERIFF or COUNTY COUNCIL district 004 is its own contest), marked "(special)" for a special election and
with its stage when the file holds several. A unit is "COUNTY / PRECINCT" (with the jurisdiction between them
where jurisdictions differ from counties, as in New England). The zip MEDSL publishes is read in place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._results_csv import _WHOLE, header_index, parse_counts, peek_header, read_csv_table, strings
from .._results_rows import (PSEUDO_CANDIDATES, PSEUDO_OFFICES, STRAIGHT_PARTY_OFFICES, assemble, classify_units,
                             label_names, lookup, normalize, total_regions)
from ..errors import FormatError
from ..results import ALL_MODES, PSEUDO, TOTAL, UNALLOCATED, VOTE, PrecinctResults

__all__ = ["NAME", "DESCRIPTION", "sniff", "sniff_header", "read"]

NAME = "medsl"
DESCRIPTION = "MEDSL precinct returns (precinct, office, party_detailed, mode, votes, county_fips, magnitude…)"

_REQUIRED = ("precinct", "office", "candidate", "mode", "votes")
_EXPECTED = "MEDSL columns precinct, office, candidate, mode, votes (and county_name, district, magnitude…)"
_USED = {*_REQUIRED, "party_detailed", "party_simplified", "county_name", "county_fips", "jurisdiction_name",
         "jurisdiction_fips", "district", "magnitude", "stage", "special", "writein"}


def sniff_header(header: list[str]) -> bool:
    """Whether a header is a MEDSL one (the required columns and at least one MEDSL-only column)."""
    names = {h.strip().lower() for h in header}
    return set(_REQUIRED) <= names and bool(names & {"county_fips", "party_detailed", "magnitude", "dataverse"})


def sniff(path: Path) -> bool:
    return Path(path).is_file() and sniff_header(peek_header(Path(path)))


def read(path: str | Path) -> PrecinctResults:
    """Read MEDSL precinct returns: the CSV, or MEDSL's zip holding it (read in place)."""
    tab = read_csv_table(path, what="a MEDSL precinct-returns CSV")
    col = header_index(tab.header)
    for required in _REQUIRED:
        if required not in col:
            raise FormatError(f"missing column {required!r} (header: {', '.join(tab.header)})", file=tab.label,
                              record=1, field=required, expected=_EXPECTED)
    n = tab.n_rows
    blank = pa.array([""] * n, pa.string())

    def text(name: str) -> pa.Array:
        return strings(tab, col[name]) if name in col else blank

    precinct, office, candidate, mode_text = text("precinct"), text("office"), text("candidate"), text("mode")
    party = text("party_detailed")
    county, jurisdiction, district = text("county_name"), text("jurisdiction_name"), text("district")
    region = pc.if_else(pc.equal(county, ""), jurisdiction, county)
    notes: list[str] = []
    for name, value in (("precinct", precinct), ("office", office), ("mode", mode_text)):
        empty = pc.equal(value, "").to_numpy(zero_copy_only=False)
        if empty.any():
            i = int(np.argmax(empty))
            raise FormatError(f"empty {name}", file=tab.label, record=tab.line(i), field=name,
                              expected=f"a {name} on every row")

    # stats rows: magnitude 0, or a stats label as candidate or office
    magnitude = np.ones(n)
    if "magnitude" in col:
        mag_text = text("magnitude")
        numeric = pc.match_substring_regex(mag_text, r"^[0-9]+(\.[0-9]*)?$").to_numpy(zero_copy_only=False)
        magnitude = np.where(numeric, pc.cast(pc.if_else(pa.array(numeric), mag_text, "0"), pa.float64())
                             .to_numpy(zero_copy_only=False), np.nan)
    office_n, cand_n = normalize(office), normalize(candidate)
    pseudo_office = lookup(office_n, PSEUDO_OFFICES)
    straight = np.isin(lookup(office_n, STRAIGHT_PARTY_OFFICES), -1, invert=True)
    pseudo_cand = np.where((pseudo_office < 0) & ~straight, lookup(cand_n, PSEUDO_CANDIDATES), -1)
    stats = (magnitude == 0) | (pseudo_office >= 0) | (pseudo_cand >= 0) | straight
    is_total, unallocated = classify_units(precinct, region, blank_is_total=False)
    kind = np.full(n, VOTE, np.int8)
    kind[stats] = PSEUDO
    kind[unallocated & ~is_total] = UNALLOCATED
    kind[is_total] = TOTAL

    # contest names
    # STATEWIDE, blank, or all zeros (an at-large U.S. House seat, "000") is no district
    statewide = pc.or_(pc.equal(district, ""), pc.or_(pc.equal(pc.utf8_upper(district), "STATEWIDE"),
                                                      pc.match_substring_regex(district, r"^0+$")))
    contest = pc.if_else(statewide, office, pc.binary_join_element_wise(office, district, ", district "))
    if "dataverse" in col:  # a local office is elected within one county (or town): its county names the contest
        local = pc.equal(pc.utf8_upper(text("dataverse")), "LOCAL")
        where = pc.if_else(pc.equal(jurisdiction, ""), county, jurisdiction)
        named = pc.and_(local, pc.not_equal(where, ""))
        contest = pc.if_else(named, pc.binary_join_element_wise(pc.binary_join_element_wise(contest, where, " ("),
                                                                 "", ")"), contest)
    if "special" in col:
        special = pc.equal(pc.utf8_upper(text("special")), "TRUE")
        contest = pc.if_else(special, pc.binary_join_element_wise(contest, "(special)", " "), contest)
    if "stage" in col and len(pc.unique(text("stage"))) > 1:
        contest = pc.binary_join_element_wise(pc.binary_join_element_wise(contest, text("stage"), " ("), "", ")")
    contest = pc.if_else(pa.array(pseudo_office >= 0), "", pc.if_else(pa.array(straight), "Straight Party",
                                                                     contest))
    cand_names, office_names = list(PSEUDO_CANDIDATES.values()), list(PSEUDO_OFFICES.values())
    choice = pc.if_else(pc.equal(candidate, ""), party, candidate)
    choice = pc.if_else(pa.array(pseudo_cand >= 0), label_names(cand_names, pseudo_cand), choice)
    choice = pc.if_else(pa.array(pseudo_office >= 0), label_names(office_names, pseudo_office), choice)
    # a magnitude-0 stats row with an unknown label keeps its label as a pseudo choice
    empty_choice = pc.equal(choice, "").to_numpy(zero_copy_only=False)
    if empty_choice.any():
        i = int(np.argmax(empty_choice))
        raise FormatError("empty candidate (and party_detailed)", file=tab.label, record=tab.line(i),
                          field="candidate", expected="a candidate name, a party or a stats label")

    # modes: TOTAL is the all-modes figure
    mode_upper = pc.utf8_upper(mode_text)
    mode = pc.if_else(pc.equal(mode_upper, "TOTAL"), ALL_MODES,
                      pc.replace_substring_regex(pc.utf8_lower(mode_text), r"[\s\-]+", "_"))

    # votes: whole numbers; a stats row with a percentage is skipped
    votes_text = text("votes")
    whole = pc.match_substring_regex(votes_text, _WHOLE).to_numpy(zero_copy_only=False)
    skip = stats & ~whole
    if skip.any():
        notes.append(f"{int(skip.sum()):,} stats rows with non-integer values (percentages) skipped")
    negative_ok = np.isin(np.array(cand_names + [""], object)[np.where(pseudo_cand >= 0, pseudo_cand, -1)],
                          ("Under Votes", "Over/Under Votes"))
    votes = parse_counts(tab, col["votes"], allow_negative=negative_ok, skip=skip)

    # units: county / precinct, with the jurisdiction when it differs from the county anywhere
    with_jurisdiction = "jurisdiction_name" in col and "county_name" in col and bool(pc.any(pc.and_(
        pc.not_equal(jurisdiction, county), pc.not_equal(county, ""))).as_py())
    unit = precinct
    if with_jurisdiction:
        unit = pc.binary_join_element_wise(jurisdiction, unit, " / ")
    unit = pc.if_else(pc.equal(region, ""), unit, pc.binary_join_element_wise(
        county if with_jurisdiction else region, unit, " / "))
    row_region = pc.if_else(pa.array(is_total), total_regions(precinct, region), region)

    votes_allowed: dict[str, int] = {}
    if "magnitude" in col:
        real = (kind == VOTE) & np.isfinite(magnitude) & (magnitude > 0)
        if real.any():
            names_codes = pc.dictionary_encode(contest.filter(pa.array(real)))
            codes = names_codes.indices.to_numpy(zero_copy_only=False)
            top = np.zeros(len(names_codes.dictionary))
            np.maximum.at(top, codes, magnitude[real])
            votes_allowed = {str(c): int(m) for c, m in zip(names_codes.dictionary.to_pylist(), top)}
    keep = ~skip
    take = pa.array(np.flatnonzero(keep))
    counts = {k: int((kind[keep] == v).sum()) for k, v in (("total", TOTAL), ("pseudo", PSEUDO),
                                                           ("unallocated", UNALLOCATED))}
    if counts["unallocated"]:
        notes.append(f"{counts['unallocated']:,} rows reported for a whole county (e.g. COUNTYWIDE write-ins): "
                     "counted in the totals, not as units")
    if counts["pseudo"]:
        notes.append(f"{counts['pseudo']:,} stats rows (registered voters, over/under votes…) kept apart")
    if counts["total"]:
        notes.append(f"{counts['total']:,} total rows recognised (checked against the units' sums, not added)")
    res = assemble(fmt=NAME, source=tab.label, contest=contest.take(take), unit=unit.take(take),
                   choice=choice.take(take), party=party.take(take), mode=mode.take(take), kind=kind[keep],
                   region=row_region.take(take), votes=votes[keep], record=tab.lines()[keep], notes=notes,
                   votes_allowed=votes_allowed)
    if "county_fips" in col:
        fips = text("county_fips").take(take).to_numpy(zero_copy_only=False)
        has = res.unit >= 0
        units, first = np.unique(res.unit[has], return_index=True)
        per_unit = np.full(res.n_units, "", object)
        per_unit[units] = fips[np.flatnonzero(has)[first]]
        res.unit_attributes["county_fips"] = per_unit.astype(str)
    return res

