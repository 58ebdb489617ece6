"""The ledger's writer: one thread that appends rows, one transaction per batch.

Callers either wait for their rows (they go on a queue, and the thread commits everything
pending, then resolves each future) or leave them to be committed later: such rows wake
the thread once per batch, and are committed within ``COMMIT_DELAY`` seconds, with the
next waited-for batch, on a flush, or before the interpreter exits. Under load the
batches grow, so 1,000 concurrent writers cost a handful of commits, not 1,000. A row is
durable when its future resolves; a killed process leaves whole batches or nothing of
them, and loses the rows left for later that were not yet committed.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sqlite3
import threading
import time
import weakref
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from blockrun_core.errors import ConfigurationError

from .schema import INSERT_SQL, connect_for_writing

__all__ = ["COMMIT_DELAY", "BatchWriter", "commit_pending"]

logger = logging.getLogger("blockrun_core.ledger")

MAX_BATCH = 5_000  # rows: bounds one transaction; more waits for the next commit
COMMIT_DELAY = 1.0
"""Seconds a row nobody waits for may stay queued before its commit."""

_Row = tuple[Any, ...]
_Item = tuple[list[_Row], Future[None]]


class _Signal:
    """A queue entry that carries no rows, only news for the thread."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_LATER = _Signal("rows left for later: commit them within COMMIT_DELAY")
_NOW = _Signal("enough rows left for later: commit them now")
_STOP = _Signal("closed: commit what is pending and stop")
_Entry = _Item | _Signal

_open_writers: weakref.WeakSet[BatchWriter] = weakref.WeakSet()


@atexit.register
def _commit_before_exit() -> None:
    """The thread is a daemon: let it commit what callers left for later."""
    for writer in list(_open_writers):
        writer.close()


def commit_pending(path: Path) -> None:
    """Commit what any writer of this process left for later in the ledger at ``path``.

    Readers call it first, so a process always reads the rows it wrote.
    """
    target = os.path.abspath(path)
    for writer in list(_open_writers):
        if writer.pid == os.getpid() and os.path.abspath(writer.path) == target:
            writer.flush()


class BatchWriter:
    """Appends rows to the ledger at ``path`` from a thread started on the first rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid = os.getpid()
        self._queue: queue.SimpleQueue[_Entry] = queue.SimpleQueue()
        self._later: list[list[_Row]] = []
        self._later_rows = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, rows: list[_Row]) -> Future[None]:
        """Queue ``rows``; the future resolves once they are committed (or fails with the error).

        The rows of one submission always share a transaction.
        """
        future: Future[None] = Future()
        with self._lock:
            self._start()
            self._queue.put((rows, future))
        return future

    def leave(self, rows: list[_Row]) -> None:
        """Queue ``rows`` for the next batch, without waking the thread for them.

        They are committed within ``COMMIT_DELAY`` seconds, together; a failed commit is
        logged, since nobody waits to hear of it.
        """
        with self._lock:
            self._start()
            self._later.append(rows)
            before, self._later_rows = self._later_rows, self._later_rows + len(rows)
            if before == 0:
                self._queue.put(_LATER)
            elif before < MAX_BATCH <= self._later_rows:
                self._queue.put(_NOW)

    def _start(self) -> None:
        """Refuse rows once closed; start the thread on the first rows. Holds ``_lock``."""
        if self._closed:
            raise ConfigurationError(f"The usage ledger {self.path} is closed.")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="blockrun-ledger", daemon=True)
            self._thread.start()
            _open_writers.add(self)

    def flush(self) -> None:
        """Return once every row submitted so far is committed; raises what a commit raised."""
        try:
            future = self.submit([])
        except ConfigurationError:  # closed: the thread commits what is pending, then stops
            self.close()
            return
        future.result()

    def close(self, *, wait: bool = True) -> None:
        """Refuse new rows, let the thread commit what is pending, then (if ``wait``) join it."""
        with self._lock:
            thread = self._thread
            if not self._closed and thread is not None:
                self._queue.put(_STOP)
            self._closed = True
        # Joined even when already closed: a close without waiting may have come first.
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()

    def _take_later(self) -> list[_Row]:
        with self._lock:
            later, self._later, self._later_rows = self._later, [], 0
        return [row for rows in later for row in rows]

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        due: float | None = None  # when the rows left for later must be committed
        try:
            while True:
                try:
                    timeout = None if due is None else max(0.0, due - time.monotonic())
                    first: _Entry | None = self._queue.get(timeout=timeout)
                except queue.Empty:
                    first = None  # the delay is up
                if first is _LATER:
                    due = due or time.monotonic() + COMMIT_DELAY
                    continue
                waited, stop = _drain(first, self._queue)
                later = self._take_later()
                due = None
                if later or waited:
                    conn = _commit(conn, self.path, later, waited)
                if stop:
                    return
        finally:
            if conn is not None:
                conn.close()


def _drain(first: _Entry | None, entries: queue.SimpleQueue[_Entry]) -> tuple[list[_Item], bool]:
    """The rows in ``first`` and in whatever else is already queued; ``True`` on ``_STOP``."""
    batch: list[_Item] = []
    size = 0
    entry = first
    while True:
        if entry is _STOP:
            return batch, True
        if isinstance(entry, tuple):
            batch.append(entry)
            size += len(entry[0])
            if size >= MAX_BATCH:
                return batch, False
        try:
            entry = entries.get_nowait()
        except queue.Empty:
            return batch, False


def _commit(
    conn: sqlite3.Connection | None, path: Path, later: list[_Row], waited: list[_Item]
) -> sqlite3.Connection | None:
    """Insert the rows left for ``later`` and the ``waited`` for ones in one transaction,
    then resolve the futures; returns the connection.

    Rows whose caller stopped waiting (a cancelled task) are written all the same.
    """
    rows = later + [row for rows, _ in waited for row in rows]
    try:
        if rows:
            if conn is None:
                conn = connect_for_writing(path)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(INSERT_SQL, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.close()  # closing rolls back; the next batch reconnects
                conn = None
                raise
    except Exception as exc:
        if later:
            logger.warning("could not write %d usage rows to %s", len(later), path, exc_info=True)
        for _, future in waited:
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)
        return conn
    for _, future in waited:
        if future.set_running_or_notify_cancel():
            future.set_result(None)
    return conn
