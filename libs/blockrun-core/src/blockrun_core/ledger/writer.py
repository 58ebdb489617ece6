"""The ledger's writer: one thread that appends rows, one transaction per batch.

Callers put rows and a future on a queue; the thread takes everything pending, inserts it
in one transaction, commits, then resolves each future. Under load the batches grow, so
1,000 concurrent writers cost a handful of commits, not 1,000. A row is durable when its
future resolves; a killed process leaves whole batches or nothing of them. Rows queued
without waiting are committed before the interpreter exits.
"""

from __future__ import annotations

import atexit
import os
import queue
import sqlite3
import threading
import weakref
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from blockrun_core.errors import ConfigurationError

from .schema import INSERT_SQL, connect_for_writing

__all__ = ["BatchWriter"]

MAX_BATCH = 5_000  # rows: bounds one transaction; more waits for the next commit

_Row = tuple[Any, ...]
_Item = tuple[list[_Row], Future[None]]

_open_writers: weakref.WeakSet[BatchWriter] = weakref.WeakSet()


@atexit.register
def _commit_before_exit() -> None:
    """The thread is a daemon: let it commit what callers queued without waiting."""
    for writer in list(_open_writers):
        writer.close()


class BatchWriter:
    """Appends rows to the ledger at ``path`` from a thread started on the first rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid = os.getpid()
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, rows: list[_Row]) -> Future[None]:
        """Queue ``rows``; the future resolves once they are committed (or fails with the error).

        The rows of one submission always share a transaction.
        """
        future: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise ConfigurationError(f"The usage ledger {self.path} is closed.")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_run, args=(self.path, self._queue), name="blockrun-ledger", daemon=True
                )
                self._thread.start()
                _open_writers.add(self)
            self._queue.put((rows, future))
        return future

    def close(self, *, wait: bool = True) -> None:
        """Refuse new rows, let the thread commit what is queued, then (if ``wait``) join it."""
        with self._lock:
            thread = self._thread
            if not self._closed and thread is not None:
                self._queue.put(None)
            self._closed = True
        # Joined even when already closed: a close without waiting may have come first.
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()


def _run(path: Path, items: queue.SimpleQueue[_Item | None]) -> None:
    conn: sqlite3.Connection | None = None
    try:
        while True:
            first = items.get()
            if first is None:
                return
            batch, stop = _drain(first, items)
            conn = _commit(conn, path, batch)
            if stop:
                return
    finally:
        if conn is not None:
            conn.close()


def _drain(first: _Item, items: queue.SimpleQueue[_Item | None]) -> tuple[list[_Item], bool]:
    """``first`` and whatever else is already queued; ``True`` when the close marker came."""
    batch = [first]
    size = len(first[0])
    while size < MAX_BATCH:
        try:
            item = items.get_nowait()
        except queue.Empty:
            return batch, False
        if item is None:
            return batch, True
        batch.append(item)
        size += len(item[0])
    return batch, False


def _commit(
    conn: sqlite3.Connection | None, path: Path, batch: list[_Item]
) -> sqlite3.Connection | None:
    """Insert ``batch`` in one transaction and resolve its futures; returns the connection.

    Rows whose caller stopped waiting (a cancelled task) are written all the same.
    """
    try:
        if conn is None:
            conn = connect_for_writing(path)
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(INSERT_SQL, [row for rows, _ in batch for row in rows])
            conn.execute("COMMIT")
        except BaseException:
            conn.close()  # closing rolls back; the next batch reconnects
            conn = None
            raise
    except Exception as exc:
        for _, future in batch:
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)
        return conn
    for _, future in batch:
        if future.set_running_or_notify_cancel():
            future.set_result(None)
    return conn
