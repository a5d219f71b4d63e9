"""Polling-station protocols in a wide CSV — one row per station, one column per protocol line and per candidate or
party — read into :class:`~veritally.results.PrecinctResults` through a column mapping.

A mapping (JSON; docs/formats/protocol.md) says which columns identify a station, which hold which protocol line,
and which are the choices::

    {"contest": "President 2018",
     "unit": ["region", "tik", "uik"],            # joined with " / " into the station id
     "region": "region",
     "fields": {"registered": "Voters on the list", "received": "...", "issued_early": "...",
                "issued_on_day": "...", "issued_outside": "...", "cancelled": "...", "in_portable": "...",
                "in_stationary": "...", "invalid": "...", "valid": "...", "lost": "...", "unaccounted": "..."},
     "choices": "rest",                           # or a list of columns, or {"after": col}, or {"from": a, "to": b}
     "ignore": ["url"], "leader": null, "encoding": "utf-8", "delimiter": ","}

Columns are named by their header text or by 0-based position. The built-in preset ``ru-cik`` maps the
Shpilkin/Kobak layout of Russian federal elections (dkobak/elections ``data/YYYY.csv.zip``, any year from 2000):
columns ``region``, ``tik``, ``uik`` (and ``oik``, ``level``, ``name`` where present; a station's id is "region /
[oik /] tik / uik", blank parts left out), then the protocol lines —
every column whose header starts with "Число" ("Number of"), each recognised by its wording (:data:`RU_CIK_LINES`;
lines about absentee certificates are kept as extra lines, not fields) — then one column per candidate or party,
then ``url``. The candidates are the columns after the last protocol line; the leader is the nationwide top
vote-getter. A ``.zip`` holding the CSV is read in place.

Bad input is an error naming the file, the line and the field: an empty file, a mapping that names a column the
header lacks (the mapping file and its key are named), a non-numeric or negative count. A station listed twice is
not an error here: reconciliation identity R5 reports it (its lines are summed, as published).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path

import numpy as np
import orjson
import pyarrow.compute as pc

from .._results_csv import CsvTable, parse_counts, peek_header, read_csv_table, strings
from ..errors import ConfigError, FormatError, InputError
from ..results import PROTOCOL_FIELDS, VOTE, PrecinctResults, build, encode

__all__ = ["NAME", "DESCRIPTION", "PRESETS", "RU_CIK_LINES", "ColumnMapping", "sniff", "sniff_header", "read",
           "resolve_mapping", "ru_cik_mapping", "load_mapping"]

NAME = "protocol"
DESCRIPTION = "polling-station protocols, wide CSV with a JSON column mapping (preset ru-cik)"
PRESETS = ("ru-cik",)

_MAPPING_KEYS = {"contest", "unit", "region", "fields", "choices", "ignore", "leader", "encoding", "delimiter"}

#: ru-cik: protocol field → the wording of its line (a regular expression on the header, lower-cased, ё as е,
#: blanks collapsed). Tried in this order; a line about absentee certificates ("открепительн…") is never a field.
RU_CIK_LINES: tuple[tuple[str, str], ...] = (
    ("unaccounted", r"не учтенных при получении"),
    ("lost", r"^число утраченных (избирательных )?бюллетеней"),
    ("registered", r"^число (избирателей|участников голосования), (внесенных|включенных) в спис"),
    ("received", r"^число (полученных (избирательных )?бюллетеней|(избирательных )?бюллетеней, полученных)"),
    ("issued_early", r"бюллетеней, выданных.*досрочно"),
    ("issued_outside", r"бюллетеней, выданных.*вне помещени"),
    ("issued_on_day", r"бюллетеней, выданных.*(в помещени|в день голосования)"),
    ("issued", r"^число бюллетеней, выданных участникам голосования"),
    ("cancelled", r"^число погашенных (избирательных )?бюллетеней"),
    ("in_portable", r"в переносных ящик"),
    ("in_stationary", r"в стационарных ящик"),
    ("in_boxes", r"бюллетеней, содержащихся в ящиках"),
    ("invalid", r"^число недействительных"),
    ("valid", r"^число действительных"),
)
_RU_ID_COLUMNS = ("region", "oik", "tik", "uik", "level", "name")
#: "УИК №592" (2020, 2021, 2024 files) → "592", as the other years write it
_RU_STATION_PREFIX = r"(?i)^\s*(?:уик|участок)\s*№?\s*"


@dataclass(frozen=True)
class ColumnMapping:
    """A mapping resolved against one header: column positions of the station id, region, fields and choices."""

    unit: tuple[int, ...]
    fields: dict[str, int]
    choices: tuple[int, ...]
    region: int | None = None
    contest: str | None = None
    leader: str | None = None
    extra: dict[str, int] = field(default_factory=dict)  #: protocol lines kept that are no field (certificates…)
    strip_station_prefix: bool = False  #: "УИК №592" → "592" (ru-cik), so ids match across years
    source: str = "mapping"  #: where the mapping came from ("preset ru-cik" or the mapping file), for messages


def _norm_ru(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("ё", "е").replace("Ё", "Е").replace('"', "").strip().lower())


def ru_cik_mapping(header: list[str], label: str = "the file") -> ColumnMapping:
    """The ``ru-cik`` preset applied to ``header``; FormatError when the header is not in that layout."""
    names = [h.strip().lower() for h in header]
    missing = [c for c in ("region", "tik", "uik") if c not in names]
    if missing:
        raise FormatError(f"the ru-cik preset needs columns region, tik and uik; {', '.join(missing)} missing "
                          f"(header: {', '.join(header[:8])}…)", file=label, record=1, field=missing[0],
                          expected="the Shpilkin/Kobak layout: region, tik, uik, protocol lines, candidates, url")
    lines = [i for i, h in enumerate(header) if _norm_ru(h).startswith("число ")]
    if not lines:
        raise FormatError("the ru-cik preset found no protocol lines (headers starting with 'Число')", file=label,
                          record=1, expected="the Shpilkin/Kobak layout")
    fields: dict[str, int] = {}
    extra: dict[str, int] = {}
    for i in lines:
        text = _norm_ru(header[i])
        match = None if "открепительн" in text else next(
            (name for name, pattern in RU_CIK_LINES if re.search(pattern, text)), None)
        if match is None:
            extra[header[i].strip()] = i
        elif match in fields:
            raise FormatError(f"two columns read as {match!r}: {header[fields[match]]!r} and {header[i]!r}",
                              file=label, record=1, field=header[i], expected="one column per protocol line")
        else:
            fields[match] = i
    if "registered" not in fields:
        raise FormatError("the ru-cik preset found no line of registered voters", file=label, record=1,
                          field="registered", expected="a header 'Число избирателей, включенных в список…'")
    ignored = {names.index(c) for c in _RU_ID_COLUMNS if c in names} | {i for i, n in enumerate(names) if n == "url"}
    choices = tuple(i for i in range(max(lines) + 1, len(header)) if i not in ignored and header[i].strip())
    if not choices:
        raise FormatError("no candidate columns after the protocol lines", file=label, record=1,
                          expected="one column per candidate or party after the last 'Число…' line")
    # the constituency (oik) enters the id where the file has one: 2021's remote e-voting pseudo-stations have no
    # uik and one per constituency, several in a region
    unit = tuple(names.index(c) for c in ("region", "oik", "tik", "uik") if c in names)
    return ColumnMapping(unit=unit, fields=fields, choices=choices, region=names.index("region"), extra=extra,
                         strip_station_prefix=True, source="preset ru-cik")


def sniff_header(header: list[str]) -> bool:
    """Whether the ``ru-cik`` preset fits ``header`` (other protocol layouts need ``--mapping``)."""
    try:
        ru_cik_mapping(header)
    except FormatError:
        return False
    return True


def sniff(path: Path) -> bool:
    return Path(path).is_file() and sniff_header(peek_header(Path(path)))


def load_mapping(mapping: str | PathLike[str] | Mapping) -> tuple[dict, str]:
    """A mapping as a dict and the label messages name it by (its file, or "mapping")."""
    if isinstance(mapping, Mapping):
        return dict(mapping), "mapping"
    p = Path(mapping)
    if not p.is_file():
        raise InputError("no such file" if not p.exists() else "not a file", file=p, field="--mapping")
    try:
        data = orjson.loads(p.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"not JSON: {exc}", file=p, expected="a column mapping object") from None
    if not isinstance(data, dict):
        raise FormatError("not a JSON object", file=p, expected='a column mapping {"unit": …, "fields": …}')
    return data, str(p)


def resolve_mapping(spec: Mapping, header: list[str], label: str, data_label: str) -> ColumnMapping:
    """A JSON column mapping checked against a header; errors name the mapping file, the key and the header."""
    unknown = sorted(set(spec) - _MAPPING_KEYS)
    if unknown:
        raise ConfigError(f"{label}: unknown mapping key {unknown[0]!r}; keys: {', '.join(sorted(_MAPPING_KEYS))}")
    stripped = [h.strip() for h in header]

    def column(ref: object, key: str) -> int:
        if isinstance(ref, bool) or not isinstance(ref, (str, int)):
            raise FormatError(f"must be a column name or a 0-based position, not {ref!r}", file=label, field=key)
        if isinstance(ref, int):
            if 0 <= ref < len(header):
                return ref
            raise FormatError(f"column position {ref} is outside the header of {data_label} ({len(header)} "
                              "columns)", file=label, field=key, expected=f"0 to {len(header) - 1}")
        if ref.strip() in stripped:
            return stripped.index(ref.strip())
        loose = [i for i, h in enumerate(stripped) if h.casefold() == ref.strip().casefold()]
        if len(loose) == 1:
            return loose[0]
        shown = ", ".join(repr(h) for h in stripped[:10]) + (" …" if len(stripped) > 10 else "")
        raise FormatError(f"column {ref!r} is not in the header of {data_label}", file=label, field=key,
                          expected=f"one of its columns: {shown}")

    if "unit" not in spec:
        raise FormatError("missing key 'unit' (the columns that identify a station)", file=label, field="unit")
    unit_refs = spec["unit"] if isinstance(spec["unit"], list) else [spec["unit"]]
    unit = tuple(column(r, f"unit[{i}]") for i, r in enumerate(unit_refs))
    if not unit:
        raise FormatError("'unit' names no column", file=label, field="unit")
    fields_spec = spec.get("fields", {})
    if not isinstance(fields_spec, Mapping):
        raise FormatError("must be an object of protocol field → column", file=label, field="fields")
    fields: dict[str, int] = {}
    for name, ref in fields_spec.items():
        if name not in PROTOCOL_FIELDS:
            raise ConfigError(f"{label}: unknown protocol field {name!r} under 'fields'; fields: "
                              f"{', '.join(PROTOCOL_FIELDS)}")
        fields[name] = column(ref, f"fields.{name}")
    region = column(spec["region"], "region") if spec.get("region") is not None else None
    ignore_refs = spec.get("ignore", [])
    if not isinstance(ignore_refs, list):
        raise FormatError("must be a list of columns", file=label, field="ignore")
    ignored = {column(r, f"ignore[{i}]") for i, r in enumerate(ignore_refs)}
    used = set(unit) | set(fields.values()) | ignored | ({region} if region is not None else set())
    choices_spec = spec.get("choices", "rest")
    if choices_spec == "rest":
        choices = tuple(i for i in range(len(header)) if i not in used and stripped[i])
    elif isinstance(choices_spec, list):
        choices = tuple(column(r, f"choices[{i}]") for i, r in enumerate(choices_spec))
    elif isinstance(choices_spec, Mapping) and set(choices_spec) <= {"after", "from", "to"} and choices_spec:
        start = column(choices_spec["after"], "choices.after") + 1 if "after" in choices_spec else (
            column(choices_spec["from"], "choices.from") if "from" in choices_spec else 0)
        stop = column(choices_spec["to"], "choices.to") + 1 if "to" in choices_spec else len(header)
        choices = tuple(i for i in range(start, stop) if i not in used and stripped[i])
    else:
        raise FormatError(f"must be \"rest\", a list of columns, or {{\"after\": col}} / {{\"from\": a, \"to\": b}}, "
                          f"not {choices_spec!r}", file=label, field="choices")
    if not choices:
        raise FormatError("the mapping selects no choice columns", file=label, field="choices",
                          expected="at least one candidate or party column")
    clash = sorted(set(choices) & (set(fields.values()) | set(unit)))
    if clash:
        raise FormatError(f"column {header[clash[0]]!r} is both a choice and a protocol line or id", file=label,
                          field="choices")
    contest = spec.get("contest")
    if contest is not None and not isinstance(contest, str):
        raise FormatError(f"must be a text, not {contest!r}", file=label, field="contest")
    leader = spec.get("leader")
    if leader is not None and leader not in [stripped[i] for i in choices]:
        raise FormatError(f"leader {leader!r} is not one of the choice columns", file=label, field="leader")
    return ColumnMapping(unit=unit, fields=fields, choices=choices, region=region, contest=contest, leader=leader,
                         source=label)


def read(path: str | PathLike[str], *, preset: str | None = None,
         mapping: str | PathLike[str] | Mapping | None = None) -> PrecinctResults:
    """Read a protocol CSV (or the one CSV in a zip) with a preset or a column mapping (default: ``ru-cik``)."""
    p = Path(path)
    if preset is not None and mapping is not None:
        raise ConfigError("give --preset or --mapping, not both")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown protocol preset {preset!r}; presets: {', '.join(PRESETS)}")
    spec, label = load_mapping(mapping) if mapping is not None else ({}, "")
    encoding = spec.get("encoding", "utf-8")
    delimiter = spec.get("delimiter", ",")
    if not isinstance(encoding, str) or not isinstance(delimiter, str) or len(delimiter) != 1:
        raise FormatError("encoding must be a text and delimiter one character", file=label or None,
                          field="encoding" if not isinstance(encoding, str) else "delimiter")
    tab = read_csv_table(p, encoding=encoding, delimiter=delimiter, what="a polling-station protocol CSV")
    if mapping is not None:
        cmap = resolve_mapping(spec, tab.header, label, tab.label)
    else:
        cmap = ru_cik_mapping(tab.header, tab.label)
    return _read_with(tab, cmap)


def _contest_name(tab: CsvTable, cmap: ColumnMapping) -> str:
    if cmap.contest:
        return cmap.contest
    names = [h.strip().lower() for h in tab.header]
    if "name" in names:  # the 2020 referendum file names its vote in a column
        values = pc.unique(strings(tab, names.index("name"))).to_pylist()
        if len(values) == 1 and values[0]:
            return values[0]
    stem = tab.label.rsplit(":", 1)[-1] if tab.label != str(tab.path) else tab.path.name
    return Path(stem).name.split(".")[0] or "contest"


def _drop_empty_stations(tab: CsvTable, cmap: ColumnMapping, notes: list[str]) -> CsvTable:
    """Rows whose every count is blank publish no result (the 2024 file's 2,268 stations in annexed regions):
    left out, with a note. A row with only some counts blank is an error later, naming the cell."""
    columns = [*cmap.fields.values(), *cmap.extra.values(), *cmap.choices]
    blank = np.ones(tab.n_rows, bool)
    for i in columns:  # untrimmed: a cell of blanks is not "no result" but an empty count, named later
        blank &= pc.equal(tab.column(i), "").to_numpy(zero_copy_only=False)
    if not blank.any():
        return tab
    keep = np.flatnonzero(~blank)
    if len(keep) == 0:
        raise FormatError("no station row publishes any count", file=tab.label, record=tab.line(0),
                          expected="counts in the protocol and choice columns")
    notes.append(f"{int(blank.sum()):,} station rows publish no counts at all (every cell blank); left out")
    return replace(tab, table=tab.table.take(keep), _lines=tab.lines()[keep])


def _read_with(tab: CsvTable, cmap: ColumnMapping) -> PrecinctResults:
    notes: list[str] = []
    tab = _drop_empty_stations(tab, cmap, notes)
    parts = []
    for i in cmap.unit:
        text = strings(tab, i)
        if cmap.strip_station_prefix and i == cmap.unit[-1]:
            text = pc.replace_substring_regex(text, _RU_STATION_PREFIX, "")
        parts.append(pc.if_else(pc.equal(text, ""), None, text))  # a blank part is left out of the id
    unit_text = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, " / ", null_handling="skip")
    empty = pc.fill_null(pc.equal(unit_text, ""), True).to_numpy(zero_copy_only=False)
    if empty.any():
        row = int(np.argmax(empty))
        raise FormatError("empty station id", file=tab.label, record=tab.line(row),
                          field=", ".join(tab.header[i].strip() for i in cmap.unit),
                          expected=f"a value in the id columns ({cmap.source})")
    unit_text = pc.fill_null(unit_text, "")
    unit_codes, unit_ids = encode(unit_text)
    n_units, n = len(unit_ids), tab.n_rows
    duplicated = n_units < n
    if duplicated:
        notes.append(f"{n - n_units:,} station rows repeat a station id; their lines are summed (reconciliation "
                     "identity R5 lists them)")

    def per_unit(values: np.ndarray) -> np.ndarray:
        if not duplicated:
            out = np.empty(n_units, np.int64)
            out[unit_codes] = values
            return out
        return np.rint(np.bincount(unit_codes, weights=values.astype(np.float64), minlength=n_units)).astype(
            np.int64)

    protocol = {name: per_unit(parse_counts(tab, i, what="count")) for name, i in cmap.fields.items()}
    columns = {name: tab.header[i].strip() for name, i in cmap.fields.items()}
    for total, parts_of in (("issued", ("issued_early", "issued_on_day", "issued_outside")),
                            ("in_boxes", ("in_portable", "in_stationary"))):
        given = [f for f in parts_of if f in protocol]
        if total not in protocol and given:
            protocol[total] = sum((protocol[f] for f in given), np.zeros(n_units, np.int64))
            columns[total] = " + ".join(given)
    extra = {label: per_unit(parse_counts(tab, i, what="count")) for label, i in cmap.extra.items()}
    choice_names = [tab.header[i].strip() for i in cmap.choices]
    if len(set(choice_names)) != len(choice_names):
        dup = next(c for c in choice_names if choice_names.count(c) > 1)
        raise FormatError(f"two choice columns are named {dup!r}", file=tab.label, record=1, field=dup,
                          expected="one column per candidate or party")
    counts = [parse_counts(tab, i, what="votes") for i in cmap.choices]
    k = len(counts)
    votes = np.concatenate(counts)
    totals = np.array([c.sum() for c in counts])
    leader = cmap.leader or choice_names[int(np.argmax(totals))]
    region_codes = np.full(n, -1, np.int32)
    regions: tuple[str, ...] = ()
    if cmap.region is not None:
        region_codes, regions = encode(strings(tab, cmap.region))
    lines = tab.lines()
    contest = _contest_name(tab, cmap)
    notes.append(f"{cmap.source}: {n:,} station rows, {len(cmap.fields)} protocol lines "
                 f"({', '.join(cmap.fields)}), {k} choices; leader {leader}")
    if extra:
        notes.append(f"protocol lines kept but not checked: {', '.join(extra)}")
    res = build(fmt=NAME, source=tab.label, unit_ids=unit_ids, contests=(contest,), choices=choice_names,
                modes=("",), regions=regions, contest=np.zeros(n * k, np.int32), unit=np.tile(unit_codes, k),
                choice=np.repeat(np.arange(k, dtype=np.int32), n), mode=np.zeros(n * k, np.int32),
                kind=np.full(n * k, VOTE, np.int8), region=np.tile(region_codes, k), votes=votes,
                record=np.tile(lines, k), protocol=protocol, protocol_columns=columns, protocol_contest=contest,
                leader=leader, notes=notes, rows_unique=not duplicated)
    if extra:
        res.unit_attributes.update({f"line: {label}": values for label, values in extra.items()})
    return res

