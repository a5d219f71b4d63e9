"""The workflow under bad input, tampering and sudden death: clear errors (exit 2) that change nothing, a bundle
that fails verification when an MVR or a digit of the seed is changed, and commands that, killed with SIGKILL at
any moment, leave all of their effect or none of it — on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from veritally.audit.bundle import export_bundle, verify_bundle
from veritally.audit.store import AuditStore, log_table, mvr_table
from veritally.audit.workflow import (add_contest, add_cvrs, add_manifest, add_reported, init_audit, record, sample,
                                      status)
from veritally.errors import FormatError, InputError, ManifestMismatch

from ._workflow_fixtures import POSTGRES_URL, election, postgres_database

SEED = "38214907563218765432"


def cli(*args) -> subprocess.CompletedProcess:
    """The command line as a user runs it (so that exit statuses and stderr are the real ones)."""
    return subprocess.run([sys.executable, "-m", "veritally", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    folder = tmp_path_factory.mktemp("county") / "election"
    return folder, election(folder, planted=False, cards=3000, seed="safety")


def comparison_audit(location: str, folder: Path, truth: dict) -> AuditStore:
    store = init_audit(location, risk_limit=0.05, seed=SEED, audit_type="comparison")
    add_manifest(store, folder / "manifest.csv")
    add_cvrs(store, [folder / truth["cvrs"]])
    add_reported(store, folder / "reported.csv")
    add_contest(store, "President")
    return store


def _edit_manifest(folder: Path, out: Path, change) -> Path:
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    change(rows)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return out


def test_a_manifest_that_disagrees_with_the_cvrs_is_refused_and_nothing_is_added(tmp_path, county):
    folder, truth = county
    wrong = _edit_manifest(folder, tmp_path / "manifest.csv", lambda rows: rows[1].__setitem__(3, str(int(rows[1][3]) + 1)))
    store = init_audit(str(tmp_path / "a.db"), risk_limit=0.05, seed=SEED, audit_type="comparison")
    add_manifest(store, wrong)
    with pytest.raises(ManifestMismatch, match="CVRs but the manifest lists"):
        add_cvrs(store, [folder / truth["cvrs"]])
    result = cli("audit", "add-cvrs", tmp_path / "a.db", folder / truth["cvrs"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Number of Ballots" in result.stderr
    with store.read() as conn:
        assert [r.action for r in conn.execute(select(log_table.c.action))] == ["init", "add-manifest"]


def test_duplicate_batch_names_are_an_error_naming_the_row(tmp_path, county):
    folder, _ = county
    dup = _edit_manifest(folder, tmp_path / "manifest.csv", lambda rows: rows.append(list(rows[1])))
    store = init_audit(str(tmp_path / "a.db"), risk_limit=0.05, seed=SEED, audit_type="polling")
    with pytest.raises(FormatError, match="appears twice"):
        add_manifest(store, dup)
    result = cli("audit", "add-manifest", tmp_path / "a.db", dup)
    assert result.returncode == 2 and "appears twice" in result.stderr and "Traceback" not in result.stderr


def _mvr_file(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["ballot_id", "contest", "choice"])
        writer.writerows(rows)
    return path


def test_mvrs_for_cards_outside_the_sample_and_second_readings(tmp_path, county):
    folder, truth = county
    store = comparison_audit(str(tmp_path / "a.db"), folder, truth)
    drawn = sample(store, out_dir=tmp_path / "r", size=10)
    with open(drawn["retrieval_lists"][0], newline="", encoding="utf-8") as fh:
        sampled = [row["ballot_id"] for row in csv.DictReader(fh)]
    outside = "county/ICP 101/101-1/9999"
    with pytest.raises(InputError, match="not in the sample"):
        record(store, _mvr_file(tmp_path / "m1.csv", [(outside, "President", "BLANK")]))
    with pytest.raises(InputError, match="is not a choice of President"):
        record(store, _mvr_file(tmp_path / "m2.csv", [(sampled[0], "President", "Nobody At All")]))
    first = record(store, _mvr_file(tmp_path / "m3.csv", [(sampled[0], "President", "BLANK")]))
    assert first == {"recorded": 1, "amended": 0, "unchanged": 0}
    other = _mvr_file(tmp_path / "m4.csv", [(sampled[0], "President", "NOT_FOUND")])
    with pytest.raises(InputError, match="already has a different reading"):
        record(store, other)
    result = cli("audit", "record", tmp_path / "a.db", other)
    assert result.returncode == 2 and "--amend" in result.stderr and "Traceback" not in result.stderr
    assert record(store, other, amend=True) == {"recorded": 0, "amended": 1, "unchanged": 0}
    with store.read() as conn:
        versions = conn.execute(select(mvr_table.c.version, mvr_table.c.superseded)
                                .where(mvr_table.c.ballot_id == sampled[0])).all()
        actions = [r.action for r in conn.execute(select(log_table.c.action))]
    assert sorted(versions) == [(1, True), (2, False)]
    assert actions.count("record") == 2  # the failed attempts left no trace; the amendment is logged


def test_verify_catches_a_changed_mvr_and_a_changed_seed_digit(tmp_path, county):
    folder, truth = county
    store = comparison_audit(str(tmp_path / "a.db"), folder, truth)
    sample(store, out_dir=tmp_path / "r")
    record(store, mock=[folder / truth["paper"]])
    (president,) = status(store)["contests"]
    winner, loser = president["reported_winners"][0], next(iter(president["assertions"])).split(" v ")[1]
    good = tmp_path / "bundle"
    export_bundle(store, good)
    assert verify_bundle(good).ok

    mvr = tmp_path / "mvr-tampered"
    shutil.copytree(good, mvr)
    lines = (mvr / "mvrs.csv").read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if winner in line)  # a winner's vote read as the loser's
    lines[row] = lines[row].replace(winner, loser)
    (mvr / "mvrs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _reseal(mvr)  # even with matching checksums, the p-value no longer follows from the readings
    report = verify_bundle(mvr)
    assert not report.ok and any("MISMATCH" in line and "President" in line for line in report.lines)
    assert cli("audit", "verify", mvr).returncode == 1

    seed = tmp_path / "seed-tampered"
    shutil.copytree(good, seed)
    audit = json.loads((seed / "audit.json").read_text())
    audit["seed"] = SEED[:-1] + str((int(SEED[-1]) + 1) % 10)
    (seed / "audit.json").write_text(json.dumps(audit), encoding="utf-8")
    _reseal(seed)
    report = verify_bundle(seed)
    assert not report.ok and any(line.startswith("MISMATCH  sample.csv line") for line in report.lines)


def _reseal(folder: Path) -> None:
    """Recompute SHA256SUMS, as a careful tamperer would."""
    import hashlib

    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    (folder / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in names), encoding="utf-8")


# --------------------------------------------------------------------------------------------------- kill -9
def _counts(location: str) -> tuple[int, int]:
    store = AuditStore.open(location)
    try:
        with store.read() as conn:
            mvrs = conn.execute(select(func.count()).select_from(mvr_table)).scalar_one()
            records = conn.execute(select(func.count()).select_from(log_table)
                                   .where(log_table.c.action == "record")).scalar_one()
    finally:
        store.dispose()
    return mvrs, records


def _record_command(location: str, paper: Path) -> list[str]:
    return [sys.executable, "-m", "veritally", "audit", "record", location, "--mock", str(paper)]


def _kill_at(command: list[str], delay: float) -> int:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    return process.wait()


def _prepare_hand_count(location: str, folder: Path, truth: dict, out_dir: Path) -> None:
    store = init_audit(location, risk_limit=0, seed=SEED, audit_type="comparison")  # a full hand count: many rows
    add_manifest(store, folder / "manifest.csv")
    add_cvrs(store, [folder / truth["cvrs"]])
    add_reported(store, folder / "reported.csv")
    for name in ("President", "County Treasurer", "County Executive"):
        add_contest(store, name)
    sample(store, out_dir=out_dir)
    store.dispose()


def _check_all_or_nothing(copies, command_for, expected_rows: int) -> list[tuple[float, int, int]]:
    seen = []
    for delay, location in copies:
        code = _kill_at(command_for(location), delay)
        rows, records = _counts(location)
        seen.append((delay, code, rows))
        assert (rows, records) in ((0, 0), (expected_rows, 1)), (delay, code, rows, records)
    return seen


def test_a_killed_record_leaves_all_or_nothing_on_sqlite(tmp_path, county):
    folder, truth = county
    template = str(tmp_path / "template.db")
    _prepare_hand_count(template, folder, truth, tmp_path / "r")
    full = str(tmp_path / "full.db")
    shutil.copy(template, full)
    started = time.perf_counter()
    subprocess.run(_record_command(full, folder / truth["paper"]), check=True, capture_output=True)
    duration = time.perf_counter() - started
    expected = _counts(full)[0]
    assert expected == 3 * truth["cards"]
    copies = []
    for k, fraction in enumerate((0.1, 0.3, 0.5, 0.7, 0.85, 0.95, 1.1)):
        copy = str(tmp_path / f"kill-{k}.db")
        shutil.copy(template, copy)
        copies.append((fraction * duration, copy))
    seen = _check_all_or_nothing(copies, lambda loc: _record_command(loc, folder / truth["paper"]), expected)
    codes = {code for _, code, _ in seen}
    assert -signal.SIGKILL in codes  # some runs really were killed mid-command


@pytest.mark.skipif(not POSTGRES_URL, reason="VERITALLY_TEST_DATABASE_URL is not set (.ci/run sets it)")
def test_a_killed_record_leaves_all_or_nothing_on_postgresql(county, tmp_path):
    import psycopg

    folder, truth = county
    template_url, drop_template = postgres_database()
    made = []
    try:
        _prepare_hand_count(template_url, folder, truth, tmp_path / "r")
        admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
        base, template_name = template_url.rsplit("/", 1)

        def clone(suffix: str) -> str:
            name = f"{template_name}_{suffix}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
            made.append(name)
            return f"{base}/{name}"

        full = clone("full")
        started = time.perf_counter()
        subprocess.run(_record_command(full, folder / truth["paper"]), check=True, capture_output=True)
        duration = time.perf_counter() - started
        expected = _counts(full)[0]
        copies = [(fraction * duration, clone(f"k{k}")) for k, fraction in enumerate((0.2, 0.5, 0.8, 0.95))]
        seen = _check_all_or_nothing(copies, lambda loc: _record_command(loc, folder / truth["paper"]), expected)
        assert -signal.SIGKILL in {code for _, code, _ in seen}
    finally:
        with psycopg.connect(POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        drop_template()
