"""Where an audit's state lives: one SQL database per audit (SQLite file by default, PostgreSQL when shared).

Every command of the workflow runs in one transaction (:meth:`AuditStore.transaction`): killed at any point, the
database holds all of a command's effect or none of it. The tables (SQLAlchemy Core, no ORM):

======================  ==============================================================================
``audit``               one row: type, method, risk limit, the public seed and when it was entered, and
                        whether card-style data narrows each contest's sample to its cards
``input``               every file added: kind, jurisdiction, name, SHA-256, the bytes (manifest, reported
                        results, MVR files) or the CVRs normalized to Veritally's Parquet
``batch``               the ballot manifests: jurisdiction, container, tabulator, batch, ballots, CVR (Y/N)
``contest``             the contests under audit: targeted or opportunistic, escalated to a hand count or not
``round``               each round: number, size asked for, how it was chosen, when
``draw``                each draw: round, ticket, the card (jurisdiction, tabulator, batch, position) or batch
                        (in a hybrid audit the stratum follows from the card's batch); in a card-style
                        audit the contest it was drawn for
``mvr``                 the audit boards' reading of each sampled card (or batch tally), per contest
``risk``                p-values per round, contest and assertion, as ``status`` computed them
``log``                 every action with its time and details
======================  ==============================================================================

A path (``audit.db``) means SQLite; a URL (``postgresql://…``, ``sqlite:///…``) is used as given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
from sqlalchemy import (JSON, Boolean, Column, Float, ForeignKey, Integer, LargeBinary, MetaData, String, Table,
                        Text, UniqueConstraint, create_engine, event, insert, select)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import ConfigError

__all__ = ["AuditStore", "SCHEMA_VERSION", "metadata", "now", "rows", "log"]

SCHEMA_VERSION = 3  # 2: batch.cvr (the manifest's CVR column, for hybrid audits); 3: audit.card_style, draw.contest
metadata = MetaData()

audit_table = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("schema_version", Integer, nullable=False),
    Column("audit_type", String(20), nullable=False),
    Column("method", String(20), nullable=False),
    Column("risk_limit", Float, nullable=False),
    Column("seed", Text, nullable=False),
    Column("seed_entered_at", String(40), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("card_style", Boolean, nullable=False, default=False),  # comparison: each contest drawn from its pool
)
input_table = Table(
    "input", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # manifest, cvrs, reported, mvrs, batch-tallies
    Column("jurisdiction", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("files", JSON, nullable=False),  # [{name, sha256, bytes}] of the original files
    Column("content", LargeBinary, nullable=False),
    Column("added_at", String(40), nullable=False),
)
batch_table = Table(
    "batch", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("jurisdiction", Text, nullable=False),
    Column("container", Text),
    Column("tabulator", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("ballots", Integer, nullable=False),
    Column("cvr", Boolean),  # the manifest's CVR column (Y/N: the cards have CVRs; hybrid strata), None without
    UniqueConstraint("jurisdiction", "tabulator", "name", name="batch_key"),
)
contest_table = Table(
    "contest", metadata,
    Column("name", Text, primary_key=True),
    Column("targeted", Boolean, nullable=False),
    Column("added_at", String(40), nullable=False),
    Column("hand_count_round", Integer),  # the round from which this contest is counted by hand (None: sampled)
)
round_table = Table(
    "round", metadata,
    Column("number", Integer, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("chosen_by", Text, nullable=False),
    Column("full_hand_count", Boolean, nullable=False),
    Column("started_at", String(40), nullable=False),
)
draw_table = Table(
    "draw", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("round", Integer, ForeignKey("round.number"), nullable=False),
    Column("sequence", Integer, nullable=False),  # 1, 2, … over the whole audit, in ticket order
    Column("ticket", Text, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("jurisdiction", Text, nullable=False),
    Column("tabulator", Text, nullable=False),
    Column("batch", Text, nullable=False),
    Column("position", Integer, nullable=False),  # 0 for a batch draw (batch audits)
    Column("contest", Text),  # card-style audits: the contest the draw is for; NULL where contests share a sample
    UniqueConstraint("sequence", name="draw_sequence"),
)
mvr_table = Table(
    "mvr", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ballot_id", Text, nullable=False),
    Column("contest", Text, nullable=False),
    Column("reading", Text, nullable=False),  # JSON text: {"choices": {name: votes}} or {"status": "NOT_FOUND"}
    Column("version", Integer, nullable=False),  # 1; each explicit amendment adds one
    Column("superseded", Boolean, nullable=False),
    Column("input_id", Integer, ForeignKey("input.id"), nullable=False),
    Column("recorded_at", String(40), nullable=False),
)
risk_table = Table(
    "risk", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("round", Integer, nullable=False),
    Column("contest", Text, nullable=False),
    Column("assertion", Text, nullable=False),
    Column("p_value", Float, nullable=False),
    Column("computed_at", String(40), nullable=False),
)
log_table = Table(
    "log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("action", String(40), nullable=False),
    Column("detail", JSON, nullable=False),
)


def now() -> str:
    """The current time in UTC, ISO 8601 with microseconds (what the log and the export record)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _url(location: str | Path) -> str:
    """A SQLAlchemy URL: a path is a SQLite file; ``postgresql://`` uses psycopg 3 (the driver Veritally ships)."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).resolve()}"


class AuditStore:
    """The database of one audit; open with :meth:`create` (new) or :meth:`open` (existing)."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location

    @classmethod
    def _engine(cls, location: str | Path) -> Engine:
        url = _url(location)
        try:
            engine = create_engine(url, future=True)
        except (SQLAlchemyError, ImportError, ValueError) as err:
            raise ConfigError(f"cannot open audit database {location}: {err}") from None
        if engine.dialect.name == "sqlite":
            @event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):  # durability: a commit is on disk before it returns
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()
        return engine

    @classmethod
    def create(cls, location: str | Path) -> AuditStore:
        """A new, empty audit database (the file or database must not already hold an audit)."""
        engine = cls._engine(location)
        try:
            with engine.begin() as conn:
                if engine.dialect.has_table(conn, "audit"):
                    raise ConfigError(f"{location} already holds an audit; choose another file or database")
                metadata.create_all(conn)
        except SQLAlchemyError as err:
            raise ConfigError(f"cannot create the audit database {location}: {err.__class__.__name__}: {err}") from None
        return cls(engine, str(location))

    @classmethod
    def open(cls, location: str | Path) -> AuditStore:
        """An existing audit database."""
        if "://" not in str(location) and not Path(location).is_file():
            raise ConfigError(f"no audit at {location} (create one with `veritally audit init`)")
        engine = cls._engine(location)
        try:
            with engine.connect() as conn:
                if not engine.dialect.has_table(conn, "audit"):
                    raise ConfigError(f"{location} holds no audit")
                row = conn.execute(select(audit_table.c.schema_version)).first()
        except SQLAlchemyError as err:
            raise ConfigError(f"cannot open the audit database {location}: {err.__class__.__name__}: {err}") from None
        if row is None:
            raise ConfigError(f"{location} holds no audit")
        if row[0] != SCHEMA_VERSION:
            raise ConfigError(f"{location} was written by audit schema {row[0]}; this Veritally reads {SCHEMA_VERSION}")
        return cls(engine, str(location))

    @contextmanager
    def transaction(self, action: str, detail: dict | None = None) -> Iterator[Connection]:
        """One command's transaction, logged as ``action`` with ``detail`` inside the same transaction."""
        with self.engine.begin() as conn:
            yield conn
            log(conn, action, detail or {})

    def read(self) -> Connection:
        """A connection for reading only (use as a context manager)."""
        return self.engine.connect()

    def dispose(self) -> None:
        self.engine.dispose()


def rows(conn: Connection, statement) -> list[dict]:
    """The result rows as plain dicts with ``str`` keys (SQLAlchemy's keys are a ``str`` subclass JSON refuses)."""
    return [{str(k): v for k, v in m.items()} for m in conn.execute(statement).mappings()]


def log(conn: Connection, action: str, detail: dict) -> None:
    """Append one entry to the audit log (JSON details round-tripped through orjson to keep them plain)."""
    conn.execute(insert(log_table).values(at=now(), action=action, detail=orjson.loads(orjson.dumps(detail))))
