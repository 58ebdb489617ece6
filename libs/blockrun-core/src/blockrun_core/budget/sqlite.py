"""A budget store in one SQLite file, shared by the processes of one machine.

Every write is one ``BEGIN IMMEDIATE`` transaction, so a reservation checks and holds every
budget of its chain while other writers wait (WAL mode: readers never wait). Spend rows are
keyed by (budget, reservation id), which makes a repeated commit a no-op.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from blockrun_core.errors import ConfigurationError

from ._retention import commit_retention
from .store import BudgetKey, Refusal, Usage

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_SCHEMA = (
    # Committed spend per budget, kept as a running total so reads need not sum every row:
    # ``micros`` is the sum of the budget's spend rows with ``at > since`` (``since`` is NULL
    # for an all-time budget, whose old rows may be pruned; its total stays).
    """CREATE TABLE IF NOT EXISTS budget_spent (
        budget TEXT PRIMARY KEY, micros INTEGER NOT NULL, since REAL) WITHOUT ROWID""",
    # One row per commit: the idempotency record, and what moves a window's total.
    """CREATE TABLE IF NOT EXISTS budget_spend (
        budget TEXT NOT NULL, reservation TEXT NOT NULL, micros INTEGER NOT NULL,
        at REAL NOT NULL, PRIMARY KEY (budget, reservation)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS budget_spend_at ON budget_spend (budget, at, micros)",
    """CREATE TABLE IF NOT EXISTS budget_reservation (
        budget TEXT NOT NULL, reservation TEXT NOT NULL, micros INTEGER NOT NULL,
        expires REAL NOT NULL, PRIMARY KEY (budget, reservation)) WITHOUT ROWID""",
    """CREATE INDEX IF NOT EXISTS budget_reservation_expires
        ON budget_reservation (budget, expires, micros)""",
)


class SQLiteStore:
    """Budgets in a SQLite file that every process on this machine may share.

    ``path`` is created (with its folder) when missing. ``timeout`` is how long a write waits
    for another process's transaction before failing with ``sqlite3.OperationalError``.
    One connection per store, used under a lock; async methods run on the store's own worker
    thread, so they never block the event loop.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self.path = _prepare(path)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(f"Cannot open the budget store {self.path!r}: {exc}.") from exc
        try:
            _use_wal(self._conn, timeout)
            # With WAL, NORMAL survives any process crash; only a power cut may lose the
            # last commits.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._write(_create_schema)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ConfigurationError(f"Cannot use {self.path!r} as a budget store: {exc}.") from exc

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def reserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        return self._write(partial(_reserve, chain, reservation_id, micros, now, ttl_seconds))

    def commit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        self._write(partial(_commit, chain, reservation_id, micros, now))

    def release(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        self._write(partial(_release, chain, reservation_id))

    def usage(self, budget: BudgetKey, *, now: float) -> Usage:
        # A deferred transaction: one snapshot for all its reads, and writers do not wait.
        return self._transaction(partial(_usage, budget=budget, now=now, advance=False), "BEGIN")

    async def areserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        return await self._off_loop(
            partial(self.reserve, chain, reservation_id, micros, now=now, ttl_seconds=ttl_seconds)
        )

    async def acommit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        await self._off_loop(partial(self.commit, chain, reservation_id, micros, now=now))

    async def arelease(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        await self._off_loop(partial(self.release, chain, reservation_id))

    async def ausage(self, budget: BudgetKey, *, now: float) -> Usage:
        return await self._off_loop(partial(self.usage, budget, now=now))

    def close(self) -> None:
        """Stop the worker thread and close the connection."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._lock:
            self._conn.close()

    async def aclose(self) -> None:
        """:meth:`close`, waiting for the worker thread off the event loop."""
        await asyncio.to_thread(self.close)

    def _write(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` in one immediate transaction: other writers wait, none interleave."""
        return self._transaction(operation, "BEGIN IMMEDIATE")

    def _transaction(self, operation: Callable[[sqlite3.Connection], T], begin: str) -> T:
        with self._lock:
            self._conn.execute(begin)
            try:
                result = operation(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            return result

    async def _off_loop(self, call: Callable[[], T]) -> T:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="blockrun-budget")
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


def _prepare(path: str | os.PathLike[str]) -> str:
    """The database path as a string, with its folder created."""
    text = os.fspath(path)
    if text == ":memory:":
        return text
    resolved = Path(text).expanduser()
    try:
        resolved.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot create the folder of the budget store {text!r}: {exc}."
        ) from exc
    return str(resolved)


def _use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL. The switch does not wait for a busy file as other statements do, and
    processes opening a new file together collide on it: retry until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        conn.execute(statement)


def _usage(conn: sqlite3.Connection, *, budget: BudgetKey, now: float, advance: bool) -> Usage:
    """The budget's usage at ``now``; ``advance`` (inside a write) also stores the moved window."""
    reserved = conn.execute(
        "SELECT COALESCE(SUM(micros), 0) FROM budget_reservation WHERE budget = ? AND expires > ?",
        (budget.key, now),
    ).fetchone()[0]
    return Usage(_spent(conn, budget, now, advance=advance), reserved)


def _spent(conn: sqlite3.Connection, budget: BudgetKey, now: float, *, advance: bool) -> int:
    row = conn.execute(
        "SELECT micros, since FROM budget_spent WHERE budget = ?", (budget.key,)
    ).fetchone()
    if row is None:
        return 0
    micros, since = row
    if budget.window_seconds is None or since is None:
        return int(micros)
    start = now - budget.window_seconds
    if start > since:  # spend that left the window since the total was last moved
        micros -= _spend_between(conn, budget.key, since, start)
        if advance:
            conn.execute(
                "UPDATE budget_spent SET micros = ?, since = ? WHERE budget = ?",
                (micros, start, budget.key),
            )
    elif start < since:  # a clock behind the last writer's: count what it still sees
        micros += _spend_between(conn, budget.key, start, since)
    return int(micros)


def _spend_between(conn: sqlite3.Connection, budget: str, after: float, upto: float) -> int:
    return int(
        conn.execute(
            "SELECT COALESCE(SUM(micros), 0) FROM budget_spend"
            " WHERE budget = ? AND at > ? AND at <= ?",
            (budget, after, upto),
        ).fetchone()[0]
    )


def _reserve(
    chain: Sequence[BudgetKey],
    reservation_id: str,
    micros: int,
    now: float,
    ttl_seconds: float,
    conn: sqlite3.Connection,
) -> Refusal | None:
    for key in chain:
        usage = _usage(conn, budget=key, now=now, advance=True)
        if usage.spent_micros + usage.reserved_micros + micros > key.limit_micros:
            return Refusal(key, usage)
    expires = now + ttl_seconds
    for key in chain:
        conn.execute(
            "DELETE FROM budget_reservation WHERE budget = ? AND expires <= ?", (key.key, now)
        )
        conn.execute(
            "INSERT OR REPLACE INTO budget_reservation VALUES (?, ?, ?, ?)",
            (key.key, reservation_id, micros, expires),
        )
    return None


def _commit(
    chain: Sequence[BudgetKey],
    reservation_id: str,
    micros: int,
    now: float,
    conn: sqlite3.Connection,
) -> None:
    for key in chain:
        conn.execute(
            "DELETE FROM budget_reservation WHERE budget = ? AND reservation = ?",
            (key.key, reservation_id),
        )
        if key.window_seconds is not None:
            _spent(conn, key, now, advance=True)  # the total must move past rows before pruning
        # Rows older than the window and the retention only served idempotency: drop them.
        conn.execute(
            "DELETE FROM budget_spend WHERE budget = ? AND at <= ?",
            (key.key, now - commit_retention(key.window_seconds)),
        )
        added = conn.execute(
            "INSERT OR IGNORE INTO budget_spend VALUES (?, ?, ?, ?)",
            (key.key, reservation_id, micros, now),
        ).rowcount
        if added:
            since = None if key.window_seconds is None else now - key.window_seconds
            conn.execute(
                "INSERT INTO budget_spent VALUES (?1, ?2, ?3) ON CONFLICT (budget) DO UPDATE"
                " SET micros = micros + CASE WHEN since IS NULL OR ?4 > since"
                " THEN excluded.micros ELSE 0 END",
                (key.key, micros, since, now),
            )


def _release(chain: Sequence[BudgetKey], reservation_id: str, conn: sqlite3.Connection) -> None:
    for key in chain:
        conn.execute(
            "DELETE FROM budget_reservation WHERE budget = ? AND reservation = ?",
            (key.key, reservation_id),
        )
