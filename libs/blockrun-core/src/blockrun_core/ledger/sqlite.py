"""The usage ledger: a SQLite file that every attempt is appended to.

``Ledger.record`` returns once the row is committed; ``Ledger.arecord`` awaits the same
without blocking the event loop; ``record_many`` / ``arecord_many`` commit several rows
(one call's attempts) together, and can return as soon as they are queued (they are
committed within a second, and before a read from the same ledger). Any number of
threads, tasks and processes may append to one file. ``resolve_ledger`` turns what a
client is given (a ledger, a path, ``None`` for the default, ``False`` for off) into a
ledger or ``None``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Iterable
from concurrent.futures import Future
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import Any

from blockrun_core._home import blockrun_home
from blockrun_core.errors import ConfigurationError

from .records import UsageRecord
from .schema import (
    SELECT_COLUMNS,
    connect_for_reading,
    record_from_row,
    row_from_record,
    select_sql,
    where_clause,
)
from .timespec import Since, to_timestamp
from .writer import BatchWriter, commit_pending

__all__ = [
    "LEDGER_ENV",
    "Ledger",
    "LedgerSetting",
    "default_ledger_path",
    "resolve_ledger",
]

LEDGER_ENV = "BLOCKRUN_LEDGER"
"""Environment variable that turns the default ledger off (``off``) or on."""
_OFF = frozenset({"off", "0", "false", "no"})
_ON = frozenset({"", "on", "1", "true", "yes"})


def _env_setting() -> str:
    return os.environ.get(LEDGER_ENV, "").strip()


def default_ledger_path() -> Path:
    """``$BLOCKRUN_LEDGER`` when it holds a path, else ``<BlockRun home>/usage.sqlite3``."""
    setting = _env_setting()
    if setting.lower() in _ON | _OFF:
        return blockrun_home() / "usage.sqlite3"
    return Path(setting).expanduser()


class Ledger:
    """Usage records in a SQLite file (default ``~/.blockrun/usage.sqlite3``).

    Prompt and response text is dropped before writing unless ``store_text`` is true.
    Nothing touches the disk until the first record (or read).
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, store_text: bool = False
    ) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise ConfigurationError(f"Invalid ledger path {path!r}: expected a str or a Path.")
        self._path = default_ledger_path() if path is None else Path(path).expanduser()
        if self._path.is_dir():
            raise ConfigurationError(f"The ledger path {self._path} is a directory, not a file.")
        self._store_text = bool(store_text)
        self._lock = threading.Lock()
        self._writer: BatchWriter | None = None
        self._closed = False

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self._path

    @property
    def store_text(self) -> bool:
        """Whether prompt and response text are kept."""
        return self._store_text

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __repr__(self) -> str:
        return f"Ledger(path={str(self._path)!r}, store_text={self._store_text})"

    # ------------------------------------------------------------------ writing

    def record(self, record: UsageRecord) -> None:
        """Append ``record``; returns once it is committed to disk."""
        self._submit((record,)).result()

    async def arecord(self, record: UsageRecord) -> None:
        """Append ``record`` without blocking the event loop; returns once it is committed.

        Cancelling the caller does not drop the row: money that moved is always recorded.
        """
        await asyncio.wrap_future(self._submit((record,)))

    def record_many(self, records: Iterable[UsageRecord], *, wait: bool = True) -> None:
        """Append ``records`` (say, the attempts of one call) in one transaction: all or none.

        With ``wait=False`` it returns once they are queued; they are committed in the
        background within about a second, and at the latest by :meth:`flush`,
        :meth:`records`, :meth:`close` or when the interpreter exits.
        """
        if wait:
            self._submit(records).result()
        else:
            self._leave(records)

    async def arecord_many(self, records: Iterable[UsageRecord], *, wait: bool = True) -> None:
        """:meth:`record_many` without blocking the event loop."""
        if wait:
            await asyncio.wrap_future(self._submit(records))
        else:
            self._leave(records)

    def flush(self) -> None:
        """Commit the rows queued without waiting; returns once they are on disk."""
        commit_pending(self._path)

    def _submit(self, records: Iterable[UsageRecord]) -> Future[None]:
        rows = self._rows(records)
        if not rows:
            nothing: Future[None] = Future()
            nothing.set_result(None)
            return nothing
        return self._current_writer().submit(rows)

    def _leave(self, records: Iterable[UsageRecord]) -> None:
        rows = self._rows(records)
        if rows:
            self._current_writer().leave(rows)

    def _rows(self, records: Iterable[UsageRecord]) -> list[tuple[Any, ...]]:
        rows = []
        for record in records:
            if not isinstance(record, UsageRecord):
                raise TypeError(f"A ledger takes UsageRecords, not {type(record).__name__}.")
            rows.append(row_from_record(record, store_text=self._store_text))
        return rows

    def _current_writer(self) -> BatchWriter:
        with self._lock:
            if self._closed:
                raise ConfigurationError(f"The usage ledger {self._path} is closed.")
            # A forked child inherits the object but not the parent's writer thread.
            if self._writer is None or self._writer.pid != os.getpid():
                self._writer = BatchWriter(self._path)
                weakref.finalize(self, self._writer.close, wait=False)
            return self._writer

    def close(self) -> None:
        """Commit what is queued, stop the writer thread; later records raise."""
        with self._lock:
            self._closed = True
            writer, self._writer = self._writer, None
        if writer is not None and writer.pid == os.getpid():
            writer.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def records(
        self,
        since: Since | None = None,
        *,
        until: Since | None = None,
        call_id: str | None = None,
        run_id: str | None = None,
        agent_id: str | None = None,
    ) -> list[UsageRecord]:
        """Recorded attempts, oldest first, filtered by time (``since <= at < until``) and ids.

        Rows this process queued without waiting are committed first.
        """
        commit_pending(self._path)
        conn = connect_for_reading(self._path)
        if conn is None:
            return []
        where, params = where_clause(
            None if since is None else to_timestamp(since),
            None if until is None else to_timestamp(until),
            call_id=call_id,
            run_id=run_id,
            agent_id=agent_id,
        )
        with closing(conn):
            sql = select_sql(SELECT_COLUMNS, where, " ORDER BY at, id")
            rows = conn.execute(sql, params).fetchall()
        return [record_from_row(row) for row in rows]


LedgerSetting = Ledger | str | os.PathLike[str] | bool | None
"""What a client accepts as ``ledger=``: a ledger, a path, ``None`` (default) or ``False``."""

_shared: weakref.WeakValueDictionary[tuple[str, bool], Ledger] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def resolve_ledger(value: LedgerSetting = None, *, store_text: bool = False) -> Ledger | None:
    """The ledger a client should record to, or ``None`` when recording is off.

    ``False`` turns it off; ``None`` (or ``True``) means the default file, unless
    ``BLOCKRUN_LEDGER=off``; a path opens that file. Clients given the same path share one
    ledger (and one writer thread) while any of them holds it.
    """
    if isinstance(value, Ledger):
        return value
    if value is False:
        return None
    if value is None or value is True:
        if _env_setting().lower() in _OFF:
            return None
        path = default_ledger_path()
    elif isinstance(value, (str, os.PathLike)):
        path = Path(value).expanduser()
    else:
        raise ConfigurationError(
            f"Invalid ledger {value!r}: expected a Ledger, a path, None (default) or False (off)."
        )
    key = (os.path.abspath(path), bool(store_text))
    with _shared_lock:
        ledger = _shared.get(key)
        if ledger is None or ledger.closed:
            ledger = _shared[key] = Ledger(path, store_text=store_text)
        return ledger
