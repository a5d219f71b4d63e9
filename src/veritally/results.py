"""Published precinct results: one columnar model for every results format, its totals, and the per-contest arrays
the forensic tests take.

Most elections publish results per precinct or polling station, not ballots. The readers
(:mod:`veritally.formats.openelections`, :mod:`~veritally.formats.medsl`, :mod:`~veritally.formats.protocol`, and
NIST SP 1500-100 JSON through :func:`from_reported`) all produce a :class:`PrecinctResults`:

* **rows**, columnar: contest, unit, choice, vote mode, votes, and a row *kind* — a choice's votes in a unit
  (``vote``), a published **total** row (Delaware's ``election_district == "Total"``, a county-total row, a NIST
  contest total), a **pseudo**-row (Registered Voters, Ballots Cast, Over/Under Votes, Total Votes, Straight Party)
  or an **unallocated** row (votes reported for a whole county, such as MEDSL's ``COUNTYWIDE`` write-ins). Total
  rows are recognised and never summed: :func:`veritally.reconcile.reconcile` checks them against the sum of the
  units (identity R5). Pseudo-rows are kept apart from the choices.
* **per-unit protocol fields**, where published: registered voters, ballots received / issued early / issued on the
  day / issued outside / cancelled / in portable and stationary boxes, valid, invalid, lost, unaccounted, and US
  "Ballots Cast" (:data:`PROTOCOL_FIELDS`).

A row whose mode is ``""`` (:data:`ALL_MODES`) gives the figure over every vote mode; rows of other modes
(``election_day``, ``absentee``…) break it down. A figure is the all-modes row when the file gives one, else the sum
of the mode rows — never both (the MEDSL rule: never add a TOTAL row on top of mode rows; R6 checks they agree).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from os import PathLike
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ConfigError, FormatError, InputError
from .forensics._types import UnitResults
from .model import STRING

__all__ = [
    "PrecinctResults", "Figures", "read_results", "detect_results_format", "from_reported", "RESULT_FORMATS",
    "VOTE", "TOTAL", "PSEUDO", "UNALLOCATED", "KIND_NAMES", "ALL_MODES", "MISSING", "PROTOCOL_FIELDS",
    "PSEUDO_NAMES", "normalized_name", "encode",
]

#: ``--format`` values of ``veritally results check``, in the order auto-detection tries them.
RESULT_FORMATS = ("nist-err", "medsl", "openelections", "protocol")

VOTE, TOTAL, PSEUDO, UNALLOCATED = 0, 1, 2, 3
KIND_NAMES = ("vote", "total", "pseudo", "unallocated")
ALL_MODES = ""  #: the mode of a row giving the figure over every vote mode
MISSING = -1  #: a protocol field a unit does not publish (counts are never negative, so -1 cannot be a count)

#: Canonical pseudo-row names (what the readers map "REGISTERED VOTERS", "Over Votes", "OVERVOTES"… to).
PSEUDO_NAMES = ("Registered Voters", "Ballots Cast", "Over Votes", "Under Votes", "Over/Under Votes", "Total Votes",
                "Straight Party", "Blank Votes", "Rejected Ballots")

#: Per-unit protocol fields: name → meaning. ``issued`` and ``in_boxes`` are derived from their parts when a file
#: gives only the parts.
PROTOCOL_FIELDS: dict[str, str] = {
    "registered": "registered voters",
    "same_day_registered": "voters registered on election day",
    "received": "ballots received by the commission",
    "issued_early": "ballots issued to early voters",
    "issued_on_day": "ballots issued in the station on election day",
    "issued_outside": "ballots issued outside the station (mobile / home voting)",
    "issued": "ballots issued (the three above when not published)",
    "cancelled": "cancelled (unused) ballots",
    "in_portable": "ballots in portable boxes",
    "in_stationary": "ballots in stationary boxes",
    "in_boxes": "ballots in the boxes (portable + stationary when not published)",
    "invalid": "invalid ballots",
    "valid": "valid ballots",
    "lost": "lost ballots",
    "unaccounted": "ballots not accounted for at receipt",
    "ballots_cast": "ballots cast (a US 'Ballots Cast' row)",
}

_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def normalized_name(name: str) -> str:
    """A name compared loosely: case-folded, punctuation and spaces removed ("U.S. Senate" ~ "US SENATE")."""
    return _NON_ALNUM.sub("", name.casefold())


def encode(values: pa.Array | pa.ChunkedArray | Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Strings as (int32 codes, names in order of first appearance), dictionary-encoded in C."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(list(values), pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    enc = pc.dictionary_encode(arr)
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int32), tuple(enc.dictionary.to_pylist())


def _group(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group rows by the tuple of their codes (each ≥ -1): (group of each row, first row of each group).

    One mixed-radix int64 key and one ``np.unique`` when the key fits, else a lexicographic sort.
    """
    n = len(codes[0])
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    radices = [int(c.max()) + 2 for c in codes]
    if float(np.prod([float(r) for r in radices])) < 2.0 ** 62:
        key = np.zeros(n, np.int64)
        for c, r in zip(codes, radices):
            key = key * r + (c.astype(np.int64) + 1)
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        return inverse.reshape(-1), first
    order = np.lexsort(codes[::-1])
    stacked = np.stack([c[order] for c in codes])
    new = np.ones(n, bool)
    new[1:] = (stacked[:, 1:] != stacked[:, :-1]).any(axis=0)
    group_sorted = np.cumsum(new) - 1
    inverse = np.empty(n, np.int64)
    inverse[order] = group_sorted
    return inverse, order[new]


def _sum_by(groups: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Integer sums of ``values`` per group (float bincount is exact below 2**53, far above any vote count)."""
    return np.rint(np.bincount(groups, weights=values.astype(np.float64), minlength=size)).astype(np.int64)


@dataclass(frozen=True)
class Figures:
    """Figures resolved over vote modes, one per (contest, unit, choice, kind, region) key (see the module doc).

    ``value`` is the figure; ``has_all`` / ``has_modes`` say whether all-modes rows / mode rows were published for
    the key, ``all_sum`` and ``modes_sum`` are their sums (0 when none) — what identity R6 compares — and
    ``first_row`` is the key's first row.
    """

    contest: np.ndarray
    unit: np.ndarray
    choice: np.ndarray
    kind: np.ndarray
    region: np.ndarray
    value: np.ndarray
    has_all: np.ndarray
    has_modes: np.ndarray
    all_sum: np.ndarray
    modes_sum: np.ndarray
    first_row: np.ndarray

    def __len__(self) -> int:
        return len(self.value)


@dataclass
class PrecinctResults:
    """Published results of one election, as columnar rows plus per-unit protocol fields (see the module doc).

    Row arrays (one entry per row, codes into the name tuples; ``-1`` = none): ``contest`` (-1 for a pseudo-row
    about the whole unit, such as Registered Voters), ``unit`` (-1 for a total or unallocated row), ``choice``,
    ``mode`` (into ``modes``, whose first entry is :data:`ALL_MODES`), ``kind`` (:data:`VOTE`, :data:`TOTAL`,
    :data:`PSEUDO`, :data:`UNALLOCATED`), ``region`` (county or region; a total row's region is the area it totals,
    -1 for the whole contest), ``votes`` (int64) and ``record`` (the file line, for messages; 0 when none).
    """

    format: str
    source: str
    unit_ids: np.ndarray  #: (n_units,) unit ids, unique ("County / Precinct", "Region / TIK / UIK"…)
    contests: tuple[str, ...]
    choices: tuple[str, ...]
    modes: tuple[str, ...]
    regions: tuple[str, ...]
    contest: np.ndarray
    unit: np.ndarray
    choice: np.ndarray
    mode: np.ndarray
    kind: np.ndarray
    region: np.ndarray
    votes: np.ndarray
    record: np.ndarray
    unit_region: np.ndarray  #: (n_units,) region code per unit, -1 when unknown
    protocol: dict[str, np.ndarray] = field(default_factory=dict)  #: field → (n_units,) int64, MISSING if not given
    protocol_columns: dict[str, str] = field(default_factory=dict)  #: field → the column it was read from
    protocol_contest: str | None = None  #: the contest a protocol's valid/invalid lines belong to
    leader: str | None = None  #: the nationwide top vote-getter, when the reader knows it
    votes_allowed: dict[str, int] = field(default_factory=dict)  #: contest → votes allowed, when published
    unit_attributes: dict[str, np.ndarray] = field(default_factory=dict)  #: e.g. county_fips per unit, as text
    notes: list[str] = field(default_factory=list)  #: what the reader recognised, left out, or assumed
    rows_unique: bool = False  #: the reader knows no two rows share a key (lets :attr:`figures` skip grouping)

    def __post_init__(self) -> None:
        if self.modes[:1] != (ALL_MODES,):
            raise ValueError("modes[0] must be ALL_MODES")
        m = len(self.votes)
        for name in ("contest", "unit", "choice", "mode", "kind", "region", "record"):
            if len(getattr(self, name)) != m:
                raise ValueError(f"PrecinctResults.{name} has {len(getattr(self, name))} rows, votes {m}")

    # -- shape ------------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.votes)

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    def kind_counts(self) -> dict[str, int]:
        """Rows of each kind."""
        counts = np.bincount(self.kind.astype(np.int64), minlength=len(KIND_NAMES))
        return {k: int(c) for k, c in zip(KIND_NAMES, counts)}

    def contest_names(self, kinds: Sequence[int] = (VOTE, UNALLOCATED, TOTAL)) -> list[str]:
        """Contests having rows of ``kinds`` (default: real contests, not pseudo-offices), in file order."""
        mask = np.isin(self.kind, kinds) & (self.contest >= 0)
        return [self.contests[c] for c in np.unique(self.contest[mask])]

    def contest_code(self, name: str) -> int:
        """The code of contest ``name``: exact, else compared loosely (:func:`normalized_name`); ConfigError listing
        the contests when none (or several) match."""
        names = self.contest_names()
        if name in names:
            return self.contests.index(name)
        loose = [c for c in names if normalized_name(c) == normalized_name(name)]
        if len(loose) == 1:
            return self.contests.index(loose[0])
        shown = ", ".join(repr(c) for c in names[:12]) + (f" … ({len(names)} in all)" if len(names) > 12 else "")
        raise ConfigError(f"no contest {name!r} in {self.source}" + (f" (several match loosely: {loose})" if loose
                                                                       else "") + f"; contests: {shown}")

    # -- figures and totals ----------------------------------------------------------------------------------------

    @cached_property
    def figures(self) -> Figures:
        """Every figure, resolved over vote modes (all-modes row if given, else the sum of mode rows)."""
        if self.rows_unique and not self.mode.any():  # a protocol: one all-modes row per figure already
            n = len(self.votes)
            yes, no = np.ones(n, bool), np.zeros(n, bool)
            return Figures(self.contest, self.unit, self.choice, self.kind, self.region, self.votes, yes, no,
                           self.votes, np.zeros(n, np.int64), np.arange(n))
        inv, first = _group(self.contest, self.unit, self.choice, self.kind.astype(np.int32), self.region)
        size = len(first)
        is_all = self.mode == 0
        all_rows = np.bincount(inv, weights=is_all, minlength=size) > 0
        mode_rows = np.bincount(inv, weights=~is_all, minlength=size) > 0
        all_sum = _sum_by(inv[is_all], self.votes[is_all], size)
        modes_sum = _sum_by(inv[~is_all], self.votes[~is_all], size)
        value = np.where(all_rows, all_sum, modes_sum)
        return Figures(self.contest[first], self.unit[first], self.choice[first], self.kind[first],
                       self.region[first], value, all_rows, mode_rows, all_sum, modes_sum, first)

    def totals(self) -> dict[str, dict[str, int]]:
        """contest → choice → votes: the sum of every unit's figure (and of unallocated rows). Total rows and
        pseudo-rows are not added (identity R5 compares the total rows with these sums)."""
        f = self.figures
        sel = np.isin(f.kind, (VOTE, UNALLOCATED)) & (f.contest >= 0)
        return self._by_contest_choice(f.contest[sel], f.choice[sel], f.value[sel])

    def reported_totals(self) -> dict[str, dict[str, int]]:
        """contest → choice → votes from the published contest-wide total rows (empty when the file has none)."""
        f = self.figures
        sel = (f.kind == TOTAL) & (f.region == -1) & (f.contest >= 0) & ~np.isin(f.choice, self._pseudo_codes)
        return self._by_contest_choice(f.contest[sel], f.choice[sel], f.value[sel])

    def _by_contest_choice(self, contest: np.ndarray, choice: np.ndarray, value: np.ndarray) -> dict:
        out: dict[str, dict[str, int]] = {}
        if len(value) == 0:
            return out
        inv, first = _group(contest, choice)
        sums = _sum_by(inv, value, len(first))
        order = np.lexsort((first, contest[first]))  # contests in code order, choices in file order
        for g in order:
            out.setdefault(self.contests[contest[first[g]]], {})[self.choices[choice[first[g]]]] = int(sums[g])
        return out

    @cached_property
    def _pseudo_codes(self) -> np.ndarray:
        return np.array([i for i, c in enumerate(self.choices) if c in PSEUDO_NAMES], np.int32)

    def pseudo(self, name: str, contest: int = -1) -> np.ndarray | None:
        """Per-unit figure of pseudo-row ``name`` (e.g. "Registered Voters") of ``contest`` (-1: the unit-wide
        rows), as (n_units,) int64 with :data:`MISSING` where a unit has none; None when the file has none at all.

        Meant for the pseudo-rows that cannot be negative (registered voters, ballots cast, total votes); under-votes
        may be published negative, so read those from the rows themselves."""
        if name not in self.choices:
            return None
        f = self.figures
        sel = (f.kind == PSEUDO) & (f.choice == self.choices.index(name)) & (f.contest == contest) & (f.unit >= 0)
        if not sel.any():
            return None
        out = np.full(self.n_units, MISSING, np.int64)
        out[f.unit[sel]] = f.value[sel]
        return out

    def unit_votes(self, contest: int) -> tuple[np.ndarray, tuple[int, ...], np.ndarray]:
        """(unit codes, choice codes, votes matrix (units × choices)) of one contest's vote rows."""
        f = self.figures
        sel = (f.contest == contest) & (f.kind == VOTE) & (f.unit >= 0)
        units = np.unique(f.unit[sel])
        ch = f.choice[sel]
        uniq, first = np.unique(ch, return_index=True)
        choice_codes = uniq[np.argsort(first, kind="stable")]
        col = np.empty(len(self.choices), np.int64)
        col[choice_codes] = np.arange(len(choice_codes))
        row = np.searchsorted(units, f.unit[sel])
        k = len(choice_codes)
        flat = np.bincount(row * k + col[ch], weights=f.value[sel].astype(np.float64), minlength=len(units) * k)
        return units, tuple(int(c) for c in choice_codes), np.rint(flat).astype(np.int64).reshape(len(units), k)

    # -- the forensics contract -------------------------------------------------------------------------------------

    def to_unit_results(self, contest: str) -> UnitResults:
        """One contest's results per unit as :class:`~veritally.forensics.UnitResults` (the forensics contract)."""
        return self.unit_results(contest)[0]

    def unit_results(self, contest: str) -> tuple[UnitResults, list[str]]:
        """:meth:`to_unit_results` and notes on what could not be given (e.g. registered voters missing somewhere).

        ``registered`` comes from the protocol (or a Registered Voters row of the contest, else of the unit);
        ``ballots`` is valid + invalid for a protocol, else the ballots in the boxes, else Ballots Cast;
        ``issued`` is a protocol's ballots issued (early + on the day + outside), Kobak's turnout numerator.
        """
        code = self.contest_code(contest)
        name = self.contests[code]
        units, choice_codes, votes = self.unit_votes(code)
        if len(units) == 0:
            raise InputError(f"contest {name!r} has no per-unit vote rows (only totals or pseudo-rows)",
                             file=self.source, field="contest")
        notes: list[str] = []

        def per_unit(label: str, candidates: list[tuple[str, np.ndarray | None]]) -> np.ndarray | None:
            for source, values in candidates:
                if values is None:
                    continue
                picked = values[units]
                missing = int((picked < 0).sum())
                if missing == 0:
                    return picked
                notes.append(f"{name}: {label} ({source}) missing for {missing:,} of {len(units):,} units; "
                             f"tests that need {label} were given none")
                return None
            return None

        proto = self.protocol
        valid_invalid = None
        if "valid" in proto and "invalid" in proto:
            v, i = proto["valid"], proto["invalid"]
            valid_invalid = np.where((v >= 0) & (i >= 0), v + i, MISSING)
        registered = per_unit("registered voters", [
            ("protocol", proto.get("registered")), ("Registered Voters rows", self.pseudo("Registered Voters", code)),
            ("Registered Voters rows", self.pseudo("Registered Voters"))])
        ballots = per_unit("ballots cast", [
            ("valid + invalid", valid_invalid), ("ballots in boxes", proto.get("in_boxes")),
            ("Ballots Cast rows", self.pseudo("Ballots Cast", code)), ("Ballots Cast", proto.get("ballots_cast"))])
        issued = per_unit("ballots issued", [("protocol", proto.get("issued"))])
        region = None
        if (self.unit_region[units] >= 0).any():
            names = np.array(self.regions + ("",), dtype=str)
            region = names[self.unit_region[units]]  # -1 indexes the trailing "" (unknown)
        choices = tuple(self.choices[c] for c in choice_codes)
        leader = self.leader if self.leader in choices else None
        # plain NumPy str arrays (not StringDType) for the forensics: every NumPy function takes them
        ids = self.unit_ids[units].astype(object).astype(str)
        return UnitResults(unit=ids, choice=choices, votes=votes, registered=registered, ballots=ballots,
                           region=region, leader=leader, issued=issued), notes


# -- building -----------------------------------------------------------------------------------------------------

def build(*, fmt: str, source: str, unit_ids: Sequence[str] | np.ndarray, contests: Sequence[str],
          choices: Sequence[str], modes: Sequence[str], regions: Sequence[str], contest: np.ndarray, unit: np.ndarray,
          choice: np.ndarray, mode: np.ndarray, kind: np.ndarray, region: np.ndarray, votes: np.ndarray,
          record: np.ndarray, unit_region: np.ndarray | None = None, **extra) -> PrecinctResults:
    """A :class:`PrecinctResults` from coded columns (readers call this); fills the unit-wide protocol fields
    ``registered`` and ``ballots_cast`` from Registered Voters / Ballots Cast pseudo-rows when the reader gave no
    protocol, and each unit's region from its rows when not given."""
    modes = tuple(modes)
    if modes[:1] != (ALL_MODES,):  # put the all-modes name first, recoding the rows
        modes_list = [ALL_MODES] + [m for m in modes if m != ALL_MODES]
        remap = np.array([modes_list.index(m) for m in modes], np.int32)
        mode = remap[mode] if len(modes) else mode
        modes = tuple(modes_list)
    ids = np.asarray(unit_ids, dtype=STRING) if not isinstance(unit_ids, np.ndarray) else unit_ids.astype(STRING)
    n_units = len(ids)
    unit = np.asarray(unit, np.int32)
    region = np.asarray(region, np.int32)
    if unit_region is None:
        unit_region = np.full(n_units, -1, np.int32)
        has = unit >= 0
        unit_region[unit[has]] = region[has]
    res = PrecinctResults(fmt, source, ids, tuple(contests), tuple(choices), modes, tuple(regions),
                          np.asarray(contest, np.int32), unit, np.asarray(choice, np.int32),
                          np.asarray(mode, np.int32), np.asarray(kind, np.int8), region,
                          np.asarray(votes, np.int64), np.asarray(record, np.int64), unit_region, **extra)
    if not res.protocol:
        for pseudo_name, proto_field in (("Registered Voters", "registered"), ("Ballots Cast", "ballots_cast")):
            values = res.pseudo(pseudo_name)
            if values is not None:
                res.protocol[proto_field] = values
                res.protocol_columns[proto_field] = f"{pseudo_name} rows"
    return res


def from_reported(rep) -> PrecinctResults:
    """NIST SP 1500-100 results read by :func:`veritally.formats.nist_err.read_nist_err` (a
    :class:`~veritally.formats.reported.Reported`): per-GpUnit counts as unit rows, contest-wide counts as total
    rows."""
    contest, contests = encode(rep.contest)
    choice, choices = encode(rep.choice)
    has_unit = np.array([u is not None for u in rep.unit], bool)
    unit_text = pa.array([u if u is not None else "" for u in rep.unit], pa.string())
    codes, names = encode(unit_text)
    unit_names = [n for n in names]
    # units are the named GpUnits; contest-wide rows have no unit
    keep = sorted({int(c) for c in codes[has_unit]})
    remap = np.full(len(unit_names), -1, np.int32)
    remap[keep] = np.arange(len(keep), dtype=np.int32)
    unit = np.where(has_unit, remap[codes], -1).astype(np.int32)
    n = len(rep)
    res = build(fmt="nist-err", source=str(rep.source), unit_ids=[unit_names[k] for k in keep], contests=contests,
                choices=choices, modes=(ALL_MODES,), regions=(), contest=contest, unit=unit, choice=choice,
                mode=np.zeros(n, np.int32), kind=np.where(has_unit, VOTE, TOTAL).astype(np.int8),
                region=np.full(n, -1, np.int32), votes=rep.votes, record=np.zeros(n, np.int64),
                notes=list(rep.notes))
    return res


# -- reading ------------------------------------------------------------------------------------------------------

def detect_results_format(path: str | PathLike[str]) -> str:
    """The results format of ``path`` by its content: NIST JSON, MEDSL, OpenElections, or a protocol CSV that the
    ``ru-cik`` preset recognises. FormatError when none fits (then give ``--format``)."""
    from ._results_csv import peek_header
    from .formats import medsl, openelections, protocol

    p = Path(path)
    if not p.exists():
        raise InputError("no such file", file=p)
    if p.is_file() and _looks_like_json(p):
        return "nist-err"
    header = peek_header(p)
    if medsl.sniff_header(header):
        return "medsl"
    if openelections.sniff_header(header):
        return "openelections"
    if protocol.sniff_header(header):
        return "protocol"
    raise FormatError("cannot tell the results format; give --format (and --preset or --mapping for a protocol)",
                      file=p, expected="OpenElections or MEDSL CSV, NIST SP 1500-100 JSON, or a protocol CSV")


def _looks_like_json(p: Path) -> bool:
    if p.suffix.lower() == ".json":
        return True
    with open(p, "rb") as fh:
        return fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def read_results(path: str | PathLike[str], fmt: str | None = None, *, preset: str | None = None,
                 mapping: str | PathLike[str] | dict | None = None) -> PrecinctResults:
    """Read published precinct results in ``fmt`` (one of :data:`RESULT_FORMATS`; detected when None).

    ``preset`` (``"ru-cik"``) or ``mapping`` (a JSON column mapping, as a path or a dict) say how a protocol CSV's
    columns map to protocol lines and choices (docs/formats/protocol.md); either implies ``fmt="protocol"``.
    """
    p = Path(path)
    if preset is not None and mapping is not None:
        raise ConfigError("give --preset or --mapping, not both")
    if fmt is None or fmt == "auto":
        fmt = "protocol" if (preset is not None or mapping is not None) else detect_results_format(p)
    if fmt != "protocol" and (preset is not None or mapping is not None):
        raise ConfigError(f"--preset and --mapping apply to the protocol format, not {fmt}")
    if fmt == "openelections":
        from .formats.openelections import read

        return read(p)
    if fmt == "medsl":
        from .formats.medsl import read

        return read(p)
    if fmt == "protocol":
        from .formats.protocol import read

        return read(p, preset=preset, mapping=mapping)
    if fmt == "nist-err":
        from .formats.nist_err import read_nist_err

        if not p.is_file():
            raise InputError("no such file" if not p.exists() else "not a file", file=p)
        return from_reported(read_nist_err(p))
    raise ConfigError(f"unknown results format {fmt!r}; choose one of: auto, {', '.join(RESULT_FORMATS)}")
