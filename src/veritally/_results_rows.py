"""What the US long-format readers share (OpenElections, MEDSL): recognising pseudo-rows, total rows and unallocated
rows by their labels, and assembling row columns (Arrow strings) into a :class:`~veritally.results.PrecinctResults`.

Labels are compared after lower-casing and dropping everything but letters and digits ("Over Votes", "OVERVOTES"
and "over_votes" are one label), and vectorized with ``pyarrow.compute`` (``index_in`` against a small table), so
a state's file of a million rows is classified without a Python loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .results import PSEUDO, TOTAL, UNALLOCATED, VOTE, PrecinctResults, build, encode

__all__ = ["normalize", "lookup", "PSEUDO_CANDIDATES", "PSEUDO_OFFICES", "STATE_TOTAL_UNITS", "COUNTY_TOTAL_UNITS",
           "UNALLOCATED_UNITS", "PERCENT_MARKS", "encode_optional", "assemble", "label_names", "classify_units",
           "total_regions", "is_percent", "STRAIGHT_PARTY_OFFICES"]

#: Candidate labels of pseudo-rows inside a contest → canonical name (results.PSEUDO_NAMES).
PSEUDO_CANDIDATES: dict[str, str] = {
    "overvotes": "Over Votes", "overvote": "Over Votes", "over": "Over Votes", "overvoted": "Over Votes",
    "undervotes": "Under Votes", "undervote": "Under Votes", "under": "Under Votes", "undervoted": "Under Votes",
    "overunder": "Over/Under Votes", "underover": "Over/Under Votes", "overundervotes": "Over/Under Votes",
    "underovervotes": "Over/Under Votes",
    "totalvotes": "Total Votes", "totalvotescast": "Total Votes", "total": "Total Votes", "totals": "Total Votes",
    "blank": "Blank Votes", "blanks": "Blank Votes", "blankvotes": "Blank Votes", "blankballots": "Blank Votes",
    "rejected": "Rejected Ballots", "rejectedballots": "Rejected Ballots", "spoiled": "Rejected Ballots",
    "spoiledballots": "Rejected Ballots",
    "registeredvoters": "Registered Voters", "registeredvoterstotal": "Registered Voters",
    "ballotscast": "Ballots Cast", "ballotscasttotal": "Ballots Cast", "totalballotscast": "Ballots Cast",
}

#: Office labels that are not contests but facts about the whole unit → canonical name.
PSEUDO_OFFICES: dict[str, str] = {
    "registeredvoters": "Registered Voters", "registeredvoterstotal": "Registered Voters",
    "ballotscast": "Ballots Cast", "ballotscasttotal": "Ballots Cast", "totalballotscast": "Ballots Cast",
    "ballotscastblank": "Blank Votes",
}

#: Office labels of straight-party (straight-ticket) rows: a pseudo-contest whose choices are parties.
STRAIGHT_PARTY_OFFICES = ("straightparty", "straightticket", "straightpartyticket", "straightpartyvoting")

#: Unit labels of contest-wide total rows (Delaware's "Total", labelled county Sussex, totals the whole state).
STATE_TOTAL_UNITS = ("total", "totals", "grandtotal", "grandtotals", "statetotal", "statetotals",
                     "statewidetotal", "statewidetotals")
#: Unit labels of a county's total row.
COUNTY_TOTAL_UNITS = ("countytotal", "countytotals", "totalcounty", "countytotalvotes")
#: Unit labels of votes reported for a whole county, not for a precinct (MEDSL's "COUNTYWIDE" write-ins): counted in
#: the totals, not a unit of the per-unit tests.
UNALLOCATED_UNITS = ("countywide", "statewide")

#: Label fragments of percentage rows (turnout %), skipped as OpenElections' own tests skip them.
PERCENT_MARKS = ("%", "pct", "percent")


def normalize(arr: pa.Array) -> pa.Array:
    """Lower-cased labels without anything but letters and digits."""
    return pc.replace_substring_regex(pc.utf8_lower(arr), r"[^\p{L}\p{N}]+", "")


def lookup(norm: pa.Array, table: Mapping[str, str] | tuple[str, ...]) -> np.ndarray:
    """Position of each normalized label in ``table``'s keys (-1 when absent)."""
    keys = list(table.keys()) if isinstance(table, Mapping) else list(table)
    idx = pc.index_in(norm, value_set=pa.array(keys, pa.string()))
    return pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def is_percent(*arrays: pa.Array) -> np.ndarray:
    """Rows whose label mentions a percentage."""
    out = None
    for arr in arrays:
        low = pc.utf8_lower(arr)
        for mark in PERCENT_MARKS:
            hit = pc.match_substring(low, mark)
            out = hit if out is None else pc.or_(out, hit)
    return np.zeros(0, bool) if out is None else out.to_numpy(zero_copy_only=False)


def label_names(names: list[str], index: np.ndarray) -> pa.Array:
    """``names[index]`` per row, "" where ``index`` is -1."""
    return pa.array(names + [""], pa.string()).take(pa.array(np.where(index >= 0, index, len(names))))


def encode_optional(arr: pa.Array) -> tuple[np.ndarray, tuple[str, ...]]:
    """Like :func:`~veritally.results.encode`, with "" coded -1 and left out of the names."""
    codes, names = encode(arr)
    if "" not in names:
        return codes, names
    blank = names.index("")
    remap = np.arange(len(names), dtype=np.int32)
    remap[blank + 1:] -= 1
    remap[blank] = -1
    return remap[codes], names[:blank] + names[blank + 1:]


def assemble(*, fmt: str, source: str, contest: pa.Array, unit: pa.Array, choice: pa.Array, party: pa.Array | None,
             mode: pa.Array, kind: np.ndarray, region: pa.Array, votes: np.ndarray, record: np.ndarray,
             notes: list[str], **extra) -> PrecinctResults:
    """Rows given as strings (contest "" = a unit-wide pseudo-row, unit "" = no unit, region "" = none) into a
    :class:`PrecinctResults`.

    A candidate listed for two parties in one contest (fusion voting, as in New York) becomes one choice per party,
    "Name (Party)", so the two lines are not taken for duplicates; other choices keep their name.
    """
    contest_codes, contests = encode_optional(contest)
    if party is not None:
        choice = _qualify_fusion(contest_codes, choice, party, kind, notes)
    choice_codes, choices = encode(choice)
    mode_codes, modes = encode(mode)
    region_codes, regions = encode_optional(region)
    # units are the unit labels of vote and pseudo rows; total / unallocated rows keep their label out of the ids
    unit = pc.if_else(pa.array(np.isin(kind, (VOTE, PSEUDO))), unit, "")
    unit_codes, unit_ids = encode_optional(unit)
    return build(fmt=fmt, source=source, unit_ids=unit_ids, contests=contests, choices=choices, modes=modes,
                 regions=regions, contest=contest_codes, unit=unit_codes, choice=choice_codes, mode=mode_codes,
                 kind=kind, region=region_codes, votes=votes, record=record, notes=notes, **extra)


def _qualify_fusion(contest: np.ndarray, choice: pa.Array, party: pa.Array, kind: np.ndarray,
                    notes: list[str]) -> pa.Array:
    choice_codes, choice_names = encode(choice)
    party_codes, party_names = encode(party)
    real = np.isin(kind, (VOTE, TOTAL, UNALLOCATED))
    triples = np.unique(np.stack([contest[real].astype(np.int64), choice_codes[real], party_codes[real]], 1), axis=0)
    if len(triples) == 0:
        return choice
    pairs, counts = np.unique(triples[:, :2], axis=0, return_counts=True)
    fused = {(int(c), int(ch)) for (c, ch), n in zip(pairs, counts) if n > 1}
    if not fused:
        return choice
    key = contest.astype(np.int64) * (len(choice_names) + 1) + choice_codes
    fused_keys = np.array([c * (len(choice_names) + 1) + ch for c, ch in fused], np.int64)
    mask = np.isin(key, fused_keys) & real
    qualified = pc.binary_join_element_wise(choice, pa.array(
        [f"({p})" if p else "(no party)" for p in party_names], pa.string()).take(pa.array(party_codes)), " ")
    notes.append(f"{len(fused)} candidate(s) appear for more than one party in a contest (fusion voting); each "
                 "party line is its own choice, 'Name (Party)'")
    return pc.if_else(pa.array(mask), qualified, choice)


def classify_units(unit: pa.Array, region: pa.Array, blank_is_total: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (is a total row, is an unallocated row), from the unit label.

    A unit labelled like "Total" totals the whole contest; "County Total" totals its county; with
    ``blank_is_total``, a blank unit (OpenElections' convention for county totals in a precinct file) totals its
    county, or the whole contest when the county is blank too. "COUNTYWIDE" / "STATEWIDE" rows are unallocated.
    """
    norm = normalize(unit)
    state = np.isin(lookup(norm, STATE_TOTAL_UNITS), -1, invert=True)
    county = np.isin(lookup(norm, COUNTY_TOTAL_UNITS), -1, invert=True)
    if blank_is_total:
        county |= pc.equal(unit, "").to_numpy(zero_copy_only=False)
    unallocated = np.isin(lookup(norm, UNALLOCATED_UNITS), -1, invert=True)
    return state | county, unallocated


def total_regions(unit: pa.Array, region: pa.Array) -> pa.Array:
    """The area a total row totals: "" (the whole contest) for "Total"-like labels, else the row's county."""
    state = np.isin(lookup(normalize(unit), STATE_TOTAL_UNITS), -1, invert=True)
    return pc.if_else(pa.array(state), "", region)
