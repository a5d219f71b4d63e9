"""Elections and databases for the workflow tests: small synthetic counties (clean, and with an outcome-changing
misread in the CVRs), and an audit database on SQLite or on PostgreSQL (a fresh database per test, on the server
named by ``VERITALLY_TEST_DATABASE_URL``, which .ci/run sets)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from veritally.synth import write_synthetic

POSTGRES_URL = os.environ.get("VERITALLY_TEST_DATABASE_URL")


def election(folder: Path, *, planted: bool, cards: int = 4000, seed: str = "audit-tests") -> dict:
    """A synthetic county in ``folder`` (Parquet CVRs and paper truth, and ``reported-batches.csv``: the CVRs'
    count per batch, what a batch audit checks); returns its truth."""
    from veritally.formats import read_cvrs
    from veritally.formats.reported import Reported, write_reported_csv
    from veritally.tabulate import tabulate

    truth = write_synthetic(folder, seed=seed, n_cards=cards, fmt="parquet", plant="misread" if planted else None,
                            outcome_changing=planted)
    count = tabulate(read_cvrs(folder / truth["cvrs"]), by="batch")
    write_reported_csv(Reported.from_count(count), folder / "reported-batches.csv")
    return truth


def split_county(folder: Path, *, planted: bool, cards: int, manifest: str, cvr_folder: str) -> dict:
    """:func:`election` plus a manifest copy ``manifest`` with a CVR column (central-count batches Y, polling
    places N), the CVRs of the Y batches only in ``cvr_folder/cvrs.parquet`` and the others in
    ``cvrs-election-day.parquet`` (hybrid and ONEAudit audits); returns the truth."""
    import csv

    import numpy as np

    from veritally.formats import read_cvrs
    from veritally.formats.parquet import write as write_parquet

    truth = election(folder, planted=planted, cards=cards)
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    with open(folder / manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(rows[0] + ["CVR"])
        writer.writerows(r + ["Y" if r[0] == "Central Count" else "N"] for r in rows[1:])
    everything = read_cvrs(folder / truth["cvrs"])
    central = np.array([str(t).startswith("Central") for t in everything.cards.attribute("tabulator").values()])
    assert 0 < central.sum() < len(central)
    (folder / cvr_folder).mkdir()
    write_parquet(everything.take(np.flatnonzero(central)), folder / cvr_folder / "cvrs.parquet")
    write_parquet(everything.take(np.flatnonzero(~central)), folder / "cvrs-election-day.parquet")
    return truth


def run_to_the_end(store, folder: Path, truth: dict, out: Path, rounds: int = 8) -> dict:
    """Sample, read the drawn cards' paper truth (mock audit boards), and escalate until every targeted contest
    is done; fails the test if that takes more than ``rounds`` rounds."""
    from veritally.audit.workflow import next_round, record, sample, status

    sample(store, out_dir=out)
    result = None
    for _ in range(rounds):
        record(store, mock=[folder / truth["paper"]])
        result = status(store)
        if result["complete"]:
            return result
        next_round(store, out_dir=out)
    raise AssertionError(f"the audit did not finish in {rounds} rounds: {result}")


def true_winners(truth: dict, contest: str) -> list[str]:
    """The paper's winners of a contest, from the synthetic election's truth."""
    return next(c["winners"] for c in truth["contests"] if c["name"] == contest)


def postgres_database():
    """A new, empty PostgreSQL database (URL) and a function that drops it."""
    if not POSTGRES_URL:
        pytest.skip("VERITALLY_TEST_DATABASE_URL is not set (.ci/run sets it to the local PostgreSQL)")
    import psycopg

    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"veritally_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as err:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {err}")
    url = admin.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_location(request, tmp_path):
    """Where a test's audit lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "audit.db")
        return
    url, drop = postgres_database()
    try:
        yield url
    finally:
        drop()
