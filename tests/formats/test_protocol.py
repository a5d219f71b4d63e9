"""Polling-station protocols: the ru-cik preset on the Russian 2018 stations (sums checked against the CEC result),
the same file through a JSON mapping, other years' layouts, and every bad mapping or cell as a clear error."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from veritally.errors import ConfigError, FormatError, InputError
from veritally.formats import protocol
from veritally.results import detect_results_format, read_results

from .._shared import SHARED, need

RU2018 = SHARED / "data" / "kobak_ru2018_president_uik.csv.zip"

# data/PROVENANCE.md: column sums, matching the official CEC result
RU2018_CANDIDATES = {"Путин": 56_430_712, "Грудинин": 8_659_206, "Жириновский": 4_154_985, "Собчак": 1_238_031,
                     "Явлинский": 769_644, "Титов": 556_801, "Сурайкин": 499_342, "Бабурин": 479_013}
# TASS (CEC final result): percentages of valid + invalid ballots
RU2018_PERCENT = {"Путин": 76.69, "Грудинин": 11.77, "Жириновский": 5.65, "Собчак": 1.68, "Явлинский": 1.05,
                  "Титов": 0.76, "Сурайкин": 0.68, "Бабурин": 0.65}


@pytest.fixture(scope="module")
def ru2018():
    return protocol.read(need(RU2018))


def by_surname(totals: dict[str, int]) -> dict[str, int]:
    return {name.split()[0]: votes for name, votes in totals.items()}


def test_russia_2018_candidate_sums(ru2018):
    assert ru2018.contests == ("2018",)
    assert by_surname(ru2018.totals()["2018"]) == RU2018_CANDIDATES
    assert ru2018.n_units == 97_699
    assert ru2018.leader.startswith("Путин")


def test_russia_2018_protocol_sums(ru2018):
    sums = {name: int(values.sum()) for name, values in ru2018.protocol.items()}
    assert sums["registered"] == 109_008_428
    assert sums["valid"] == 72_787_734 and sums["invalid"] == 791_258
    assert sums["issued"] == 73_629_581  # TASS's 67.54 % turnout is issued / registered
    assert round(100 * sums["issued"] / sums["registered"], 2) == 67.54
    assert round(100 * (sums["valid"] + sums["invalid"]) / sums["registered"], 2) == 67.50  # Wikipedia's turnout
    ballots = sums["valid"] + sums["invalid"]
    assert {k: round(100 * v / ballots, 2) for k, v in by_surname(ru2018.totals()["2018"]).items()} == RU2018_PERCENT


def test_russia_2018_cancelled_stations_explain_the_registered_gap(ru2018):
    # data/README.md of dkobak/elections: izbirkom.ru lists 109,001,306 registered because the results of four
    # stations (CSV rows 45559, 45563, 92554, 92561, header = row 1) were cancelled later
    lines = ru2018.record[: ru2018.n_units]  # the first choice's rows are one per station, in file order
    cancelled = np.isin(lines, [45559, 45563, 92554, 92561])
    assert cancelled.sum() == 4
    assert int(ru2018.protocol["registered"].sum() - ru2018.protocol["registered"][cancelled].sum()) == 109_001_306


def test_russia_2018_unit_results_for_forensics(ru2018):
    units = ru2018.to_unit_results("2018")
    assert units.votes.shape == (97_699, 8) and units.votes.dtype == np.int64
    assert len(set(units.unit.tolist())) == 97_699
    assert units.leader.startswith("Путин") and units.leader_name == units.leader
    assert int(units.ballots.sum()) == 73_578_992 and int(units.issued.sum()) == 73_629_581
    assert int(units.registered.sum()) == 109_008_428
    assert len(set(units.region.tolist())) > 80
    assert str(units.unit[0]) == "Республика Адыгея (Адыгея) / 1 Адыгейская / 1"


def test_the_same_file_through_a_json_mapping(tmp_path, ru2018):
    spec = {"contest": "President 2018", "unit": [0, 1, 2], "region": "region",
            "fields": {"registered": 3, "received": 4, "issued_early": 5, "issued_on_day": 6, "issued_outside": 7,
                       "cancelled": 8, "in_portable": 9, "in_stationary": 10, "invalid": 11, "valid": 12,
                       "lost": 13, "unaccounted": 14},
            "choices": {"after": 14}, "ignore": ["url"]}
    path = tmp_path / "map.json"
    path.write_text(json.dumps(spec))
    res = read_results(need(RU2018), mapping=path)
    assert res.contests == ("President 2018",)
    assert res.totals()["President 2018"] == ru2018.totals()["2018"]
    assert all((res.protocol[k] == ru2018.protocol[k]).all() for k in ru2018.protocol)
    assert detect_results_format(need(RU2018)) == "protocol"


# other years' layouts (headers written here in the same wording; values made up) ---------------------------------

LINES_2008 = ["Число избирателей, включенных в списки избирателей",
              "Число избирательных бюллетеней, полученных участковыми избирательными комиссиями",
              "Число избирательных бюллетеней, выданных избирателям, проголосовавшим досрочно",
              "Число избирательных бюллетеней, выданных в помещениях для голосования в день голосования",
              "Число избирательных бюллетеней, выданных вне помещений для голосования в день голосования",
              "Число погашенных избирательных бюллетеней",
              "Число избирательных бюллетеней в переносных ящиках для голосования",
              "Число бюллетеней в стационарных ящиках для голосования",
              "Число недействительных избирательных бюллетеней", "Число действительных избирательных бюллетеней",
              "Число полученных открепительных  удостоверений",
              "Число избирателей, проголосовавших по открепительным удостоверениям",
              "Число утраченных избирательных бюллетеней",
              "Число избирательных бюллетеней, не учтенных при получении",
              "Число утраченных открепительных удостоверений",
              "Число открепительных удостоверений, не учтенных при получении"]


def quoted(cells) -> str:
    return ",".join('"' + str(c).replace('"', '""') + '"' for c in cells) + "\n"


def test_a_layout_with_absentee_certificate_lines(tmp_path):
    header = ["region", "tik", "uik", *LINES_2008, "Иванов Иван", "Петров Петр", "url"]
    #          reg   rec  early day out canc port stat inv valid cert voted lost unacc lostc unaccc
    station = [1000, 800, 0, 600, 50, 150, 50, 600, 10, 640, 5, 2, 0, 0, 0, 0, 400, 240, "http://x"]
    path = tmp_path / "2008.csv"
    path.write_text(quoted(header) + quoted(["Область", "1 Первая", "1", *station])
                    + quoted(["Область", "1 Первая", "2", *station]), encoding="utf-8")
    res = protocol.read(path)
    assert res.choices == ("Иванов Иван", "Петров Петр")
    assert set(res.protocol) >= {"registered", "received", "issued", "in_boxes", "valid", "invalid", "lost",
                                 "unaccounted"}
    assert res.protocol["issued"].tolist() == [650, 650]
    assert res.protocol_columns["lost"] == "Число утраченных избирательных бюллетеней"
    assert "line: Число утраченных открепительных удостоверений" in res.unit_attributes
    assert res.contests == ("2008",) and res.leader == "Иванов Иван"


def test_a_referendum_layout_with_station_numbers_written_out(tmp_path):
    header = ["name", "region", "tik", "uik",
              "Число участников голосования, включенных в список участников голосования на момент окончания",
              "Число бюллетеней, выданных участникам голосования", "Число бюллетеней, содержащихся в ящиках",
              "Число недействительных бюллетеней", "ДА", "НЕТ", "url"]
    path = tmp_path / "2020.csv"
    path.write_text(quoted(header) + quoted(["Голосование", "Край", "Алейская", "УИК №554", 500, 300, 300, 5, 250,
                                             45, "u"]), encoding="utf-8")
    res = protocol.read(path)
    assert [str(u) for u in res.unit_ids] == ["Край / Алейская / 554"]
    assert res.contests == ("Голосование",) and res.choices == ("ДА", "НЕТ")
    assert res.protocol["issued"].tolist() == [300] and res.protocol["in_boxes"].tolist() == [300]
    assert "valid" not in res.protocol


# a small protocol through a mapping, and bad input ------------------------------------------------------------------

SMALL = ("station,district,voters,issued,in box,invalid,valid,Ann,Bob\n"
         "1,North,100,60,60,2,58,30,28\n"
         "2,North,120,70,70,0,70,50,20\n"
         "3,South,80,40,40,1,39,9,30\n")
SMALL_MAP = {"unit": "station", "region": "district",
             "fields": {"registered": "voters", "issued": "issued", "in_boxes": "in box", "invalid": "invalid",
                        "valid": "valid"},
             "contest": "Mayor"}


def small(tmp_path, text: str = SMALL, spec: dict | None = None):
    data = tmp_path / "stations.csv"
    data.write_text(text, encoding="utf-8")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps(SMALL_MAP if spec is None else spec))
    return data, mapping


def test_a_mapping_with_the_choices_left_over(tmp_path):
    data, mapping = small(tmp_path)
    res = protocol.read(data, mapping=mapping)
    assert res.totals() == {"Mayor": {"Ann": 89, "Bob": 78}}
    units = res.to_unit_results("Mayor")
    assert units.registered.tolist() == [100, 120, 80] and units.ballots.tolist() == [60, 70, 40]
    assert units.region.tolist() == ["North", "North", "South"] and units.leader == "Ann"


@pytest.mark.parametrize("change, error, words", [
    ({"fields": {"registered": "Voters on list"}}, FormatError, "column 'Voters on list' is not in the header"),
    ({"fields": {"registered": 42}}, FormatError, "column position 42 is outside the header"),
    ({"fields": {"voters": "voters"}}, ConfigError, "unknown protocol field 'voters'"),
    ({"colour": "red"}, ConfigError, "unknown mapping key 'colour'"),
    ({"choices": ["Ann", "Zed"]}, FormatError, "column 'Zed' is not in the header"),
    ({"choices": ["Ann", "valid"]}, FormatError, "both a choice and a protocol line"),
    ({"choices": 7}, FormatError, "must be \"rest\""),
    ({"leader": "Zed"}, FormatError, "leader 'Zed' is not one of the choice columns"),
])
def test_a_wrong_mapping_names_the_mapping_file_and_key(tmp_path, change, error, words):
    spec = {**SMALL_MAP, **change}
    if "fields" in change and "voters" not in change["fields"]:
        spec["fields"] = {**SMALL_MAP["fields"], **change["fields"]}
    data, mapping = small(tmp_path, spec=spec)
    with pytest.raises(error) as err:
        protocol.read(data, mapping=mapping)
    assert words in str(err.value) and "map.json" in str(err.value)


def test_a_wrong_mapping_field_is_named(tmp_path):
    data, mapping = small(tmp_path, spec={**SMALL_MAP, "fields": {**SMALL_MAP["fields"], "valid": "Valid ballots"}})
    with pytest.raises(FormatError) as err:
        protocol.read(data, mapping=mapping)
    assert err.value.field == "fields.valid" and err.value.file.endswith("map.json")
    assert "stations.csv" in str(err.value)


def test_mapping_that_is_not_json(tmp_path):
    data, mapping = small(tmp_path)
    mapping.write_text("{unit: station")
    with pytest.raises(FormatError, match="not JSON"):
        protocol.read(data, mapping=mapping)
    with pytest.raises(InputError, match="no such file"):
        protocol.read(data, mapping=tmp_path / "absent.json")


@pytest.mark.parametrize("line, cell, words", [
    ("2,North,120,seventy,70,0,70,50,20", "issued", "'seventy' is not a whole number"),
    ("2,North,120,70,70,0,70,-50,20", "Ann", "'-50' is negative"),
    ("2,North,,70,70,0,70,50,20", "voters", "empty count"),
    ("2,North,120,70,70,0,70,50.5,20", "Ann", "'50.5' is not a whole number"),
])
def test_bad_counts_name_the_line_and_column(tmp_path, line, cell, words):
    rows = SMALL.splitlines()
    rows[2] = line
    data, mapping = small(tmp_path, "\n".join(rows) + "\n")
    with pytest.raises(FormatError) as err:
        protocol.read(data, mapping=mapping)
    assert err.value.record == 3 and err.value.field == cell and words in str(err.value)


def test_a_repeated_station_is_read_and_noted(tmp_path):
    data, mapping = small(tmp_path, SMALL + "3,South,80,40,40,1,39,9,30\n")
    res = protocol.read(data, mapping=mapping)
    assert res.n_units == 3 and not res.rows_unique
    assert res.protocol["registered"].tolist() == [100, 120, 160]
    assert any("repeat a station id" in n for n in res.notes)


def test_empty_files_and_layouts_the_preset_does_not_fit(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FormatError, match="empty file"):
        protocol.read(empty)
    data, _ = small(tmp_path)
    with pytest.raises(FormatError, match="needs columns region, tik and uik"):
        protocol.read(data)
    with pytest.raises(ConfigError, match="unknown protocol preset"):
        protocol.read(data, preset="us-ca")
    with pytest.raises(FormatError, match="empty station id"):
        d2, m2 = small(tmp_path, SMALL.replace("3,South", ",South"))
        protocol.read(d2, mapping=m2)


def test_zip_in_place(tmp_path):
    data, mapping = small(tmp_path)
    archive = tmp_path / "stations.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(data, "stations.csv")
    res = protocol.read(archive, mapping=mapping)
    assert res.totals() == {"Mayor": {"Ann": 89, "Bob": 78}} and res.source.endswith("stations.zip:stations.csv")


def test_stations_without_figures_and_pseudo_stations_without_a_number(tmp_path):
    # the 2024 file lists stations of annexed regions with every count blank; 2021's remote e-voting
    # pseudo-stations have no uik and one per constituency (oik)
    header = ["region", "oik", "tik", "uik", *LINES_2008[:10], "Иванов Иван", "url"]
    figures = [1000, 800, 0, 600, 50, 150, 50, 600, 10, 640, 640]
    rows = [["Край", "ОИК №1", "Первая", "УИК №1", *figures, "u"],
            ["Край", "ОИК №1", "Электронное голосование", "", *figures, "u"],
            ["Край", "ОИК №2", "Электронное голосование", "", *figures, "u"],
            ["Область", "ОИК №3", "ТИК №1", "УИК №910", *[""] * 11, ""]]
    path = tmp_path / "2024.csv"
    path.write_text(quoted(header) + "".join(quoted(r) for r in rows), encoding="utf-8")
    res = protocol.read(path)
    assert [str(u) for u in res.unit_ids] == ["Край / ОИК №1 / Первая / 1", "Край / ОИК №1 / Электронное голосование",
                                              "Край / ОИК №2 / Электронное голосование"]
    assert res.rows_unique and any("1 station rows publish no counts" in n for n in res.notes)
    assert res.record[:3].tolist() == [2, 3, 4]
    rows[1][11] = ""  # one blank cell among figures is an error, not a station without data
    path.write_text(quoted(header) + "".join(quoted(r) for r in rows), encoding="utf-8")
    with pytest.raises(FormatError, match="empty count") as err:
        protocol.read(path)
    assert err.value.record == 3
