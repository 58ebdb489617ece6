"""The ledger's SQLite file: schema and version, connections, and rows <-> records.

One table, ``usage``, one row per attempt. ``PRAGMA user_version`` holds the schema
version. The file runs in WAL mode with ``synchronous=NORMAL``: a committed row survives a
killed process (the WAL is in the OS's hands once the commit returns), readers never wait
for the writer, and a call does not pay an fsync; only a power cut may lose the last rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from blockrun_core.errors import ConfigurationError

from .records import UsageRecord, redact

__all__ = [
    "COLUMNS",
    "INSERT_SQL",
    "SCHEMA_VERSION",
    "SELECT_COLUMNS",
    "connect_for_reading",
    "connect_for_writing",
    "record_from_row",
    "row_from_record",
    "select_sql",
    "where_clause",
]

SCHEMA_VERSION = 1
COLUMNS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(UsageRecord))
BUSY_TIMEOUT_MS = 30_000  # other processes hold the write lock for one short batch at most

_DDL = (
    """
    CREATE TABLE IF NOT EXISTS usage (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        call_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        run_id TEXT,
        thread_id TEXT,
        agent_id TEXT,
        budget TEXT,
        requested_model TEXT NOT NULL,
        served_model TEXT,
        tier TEXT,
        profile TEXT,
        input_tokens INTEGER,
        output_tokens INTEGER,
        quoted_usd REAL,
        paid_usd REAL NOT NULL,
        baseline_usd REAL,
        savings_usd REAL,
        latency_ms REAL NOT NULL,
        status TEXT NOT NULL,
        tx_hash TEXT,
        error TEXT,
        prompt TEXT,
        response TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS usage_at ON usage (at)",
    "CREATE INDEX IF NOT EXISTS usage_call ON usage (call_id)",
)
# Queries are assembled from fixed column names and clauses in this package; values are bound.
INSERT_SQL = f"INSERT INTO usage ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
SELECT_COLUMNS = ", ".join(COLUMNS)
_values = operator.attrgetter(*COLUMNS)
_ERROR = COLUMNS.index("error")


def row_from_record(record: UsageRecord, *, store_text: bool) -> tuple[Any, ...]:
    """The values to insert, in :data:`COLUMNS` order; text dropped unless ``store_text``."""
    row = _values(record)
    if record.error:
        row = (*row[:_ERROR], redact(record.error), *row[_ERROR + 1 :])
    return row if store_text else (*row[:-2], None, None)


def record_from_row(row: sqlite3.Row | tuple[Any, ...]) -> UsageRecord:
    """A record from a ``SELECT`` of :data:`SELECT_COLUMNS`."""
    return UsageRecord(**dict(zip(COLUMNS, row, strict=True)))


def _create_private(path: Path) -> None:
    """Create the ledger, whole and readable by the owner only (it may hold text).

    Processes racing to create one file must not each start a database in it (two WAL
    headers written over each other lose commits), so the file is built aside, schema
    and WAL mode included, and linked into place only if nothing is there yet.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        return
    aside = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.new")
    try:
        os.close(os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with contextlib.closing(sqlite3.connect(aside, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            _write_schema(conn)
        with contextlib.suppress(FileExistsError):  # another process got there first
            os.link(aside, path)
    finally:
        for leftover in (aside, *(Path(f"{aside}{suffix}") for suffix in ("-wal", "-shm"))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _write_schema(conn: sqlite3.Connection) -> None:
    for statement in _DDL:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _check_version(conn: sqlite3.Connection, path: Path) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise ConfigurationError(
            f"{path} has ledger schema {version}, newer than this blockrun-core knows "
            f"({SCHEMA_VERSION}); upgrade blockrun-core to use it."
        )
    return int(version)


def _not_a_ledger(path: Path, exc: sqlite3.Error) -> ConfigurationError:
    return ConfigurationError(f"{path} is not a usable BlockRun usage ledger: {exc}.")


def connect_for_writing(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the ledger for appending, in autocommit mode."""
    try:
        _create_private(path)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot create the usage ledger {path}: {exc.strerror or exc}."
        ) from None
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if _check_version(conn, path) < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            if _check_version(conn, path) < SCHEMA_VERSION:  # another process may have won
                _write_schema(conn)
            conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _not_a_ledger(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


def connect_for_reading(path: Path) -> sqlite3.Connection | None:
    """Open an existing ledger for queries; ``None`` when there is none yet (nothing created)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000
        )
    except sqlite3.Error as exc:
        raise _not_a_ledger(path, exc) from None
    try:
        if _check_version(conn, path) < SCHEMA_VERSION:  # created, schema not yet written
            conn.close()
            return None
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _not_a_ledger(path, exc) from None
    return conn


def where_clause(
    since: float | None = None, until: float | None = None, **equal: str | None
) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause (or ``""``) and its parameters: ``since <= at < until``, columns equal."""
    terms: list[str] = []
    params: list[Any] = []
    if since is not None:
        terms.append("at >= ?")
        params.append(since)
    if until is not None:
        terms.append("at < ?")
        params.append(until)
    for column, value in equal.items():
        if column not in COLUMNS:
            raise ValueError(f"unknown ledger column {column!r}")
        if value is not None:
            terms.append(f"{column} = ?")
            params.append(value)
    return (f" WHERE {' AND '.join(terms)}" if terms else ""), params


def select_sql(columns: str, where: str = "", tail: str = "") -> str:
    """``SELECT columns FROM usage`` + ``where`` + ``tail``, all fixed SQL from this package."""
    return f"SELECT {columns} FROM usage{where}{tail}"  # noqa: S608
