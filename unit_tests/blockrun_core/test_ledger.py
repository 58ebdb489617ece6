"""The usage ledger: durable appends from threads, tasks and processes, and reading back."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from blockrun_core.errors import ConfigurationError, PaymentRejectedError
from blockrun_core.ledger import (
    Ledger,
    UsageRecord,
    default_ledger_path,
    describe_error,
    resolve_ledger,
    usage_stats,
)
from blockrun_core.ledger import writer as writer_module

from unit_tests.blockrun_core.usage_records import NOV_1, index_of, make_record

REPO = Path(__file__).resolve().parents[2]
KEY = "0x" + "ab" * 32


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "usage.sqlite3"


def _indices(ledger: Ledger) -> list[int]:
    return sorted(index_of(record) for record in ledger.records())


def _file_bytes(path: Path) -> bytes:
    """The database and its write-ahead log, as they are on disk."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@contextmanager
def _write_locked(path: Path) -> Iterator[None]:
    """Hold the file's write lock (as another process would) until the block ends."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("COMMIT")


# --------------------------------------------------------------------------- basics


def test_round_trip_keeps_every_field(path: Path) -> None:
    records = [
        make_record(0),
        make_record(1, attempt=1, status="failed", paid_usd=0.0, error="UpstreamError: 503"),
        make_record(2, served_model=None, input_tokens=None, quoted_usd=None, savings_usd=None),
        make_record(3, status="free", paid_usd=0.0, savings_usd=-0.25, run_id=None),
    ]
    with Ledger(path, store_text=True) as ledger:
        for record in records:
            ledger.record(record)
        assert ledger.records() == records
    assert Ledger(path).records() == records  # another handle reads the same rows


def test_text_is_dropped_unless_opted_in(path: Path, tmp_path: Path) -> None:
    secret = make_record(0, prompt="my private prompt", response="its private answer")
    with Ledger(path) as ledger:
        ledger.record(secret)
        (stored,) = ledger.records()
    assert stored == replace(secret, prompt=None, response=None)
    assert b"private" not in _file_bytes(path)

    kept = tmp_path / "kept.sqlite3"
    with Ledger(kept, store_text=True) as ledger:
        ledger.record(secret)
        assert ledger.records() == [secret]


async def test_record_many_commits_a_calls_attempts_together(path: Path) -> None:
    attempts = [make_record(0, attempt=n, status="failed", paid_usd=0.0) for n in range(2)]
    with Ledger(path, store_text=True) as ledger:
        ledger.record_many(attempts)
        await ledger.arecord_many(make_record(1, attempt=n) for n in range(3))
        ledger.record_many([])
        assert [(index_of(r), r.attempt) for r in ledger.records()] == [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (1, 2),
        ]
        with pytest.raises(TypeError, match="takes UsageRecords, not str"):
            ledger.record_many([make_record(2), "not a record"])  # type: ignore[list-item]
        assert len(ledger.records()) == 5  # nothing of the refused batch was written


def test_records_filters_by_time_and_ids(path: Path) -> None:
    with Ledger(path) as ledger:
        for i in range(12):
            ledger.record(make_record(i, prompt=None, response=None))
        assert _indices(ledger) == list(range(12))
        assert [index_of(r) for r in ledger.records(since=NOV_1 + 3)] == list(range(6, 12))
        assert [index_of(r) for r in ledger.records(until=NOV_1 + 1)] == [0, 1]
        assert [index_of(r) for r in ledger.records(run_id="run-1")] == [1, 4, 7, 10]
        assert [index_of(r) for r in ledger.records(agent_id="agent-2", since="2026-11-01")] == [
            2,
            6,
            10,
        ]
        assert [index_of(r) for r in ledger.records(call_id="call-5")] == [5]
        assert ledger.records(since="2026-11-02") == []


def test_file_is_created_on_first_record_private_and_versioned(path: Path) -> None:
    ledger = Ledger(path)
    assert ledger.records() == []
    assert not path.exists(), "reading must not create the ledger"

    ledger.record(make_record(0))
    assert path.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    ledger.close()
    ledger.close()  # closing twice is fine


def test_default_path_follows_blockrun_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Ledger().path == home / ".blockrun" / "usage.sqlite3"
    monkeypatch.setenv("BLOCKRUN_HOME", str(home / "elsewhere"))
    assert default_ledger_path() == home / "elsewhere" / "usage.sqlite3"
    monkeypatch.setenv("BLOCKRUN_LEDGER", str(home / "mine.sqlite3"))
    assert Ledger().path == home / "mine.sqlite3"


def test_error_text_is_short_and_never_holds_a_key(path: Path) -> None:
    error = PaymentRejectedError(f"rejected   for {KEY}\n and brk_live_abcdefghij", code="X")
    text = describe_error(error)
    assert text == "PaymentRejectedError: rejected for [redacted] and [redacted]"
    assert describe_error(TimeoutError()) == "TimeoutError"
    assert len(describe_error(ValueError("x" * 5000))) <= 300

    with Ledger(path) as ledger:
        ledger.record(make_record(0, error=f"raw {KEY}"))
        assert ledger.records()[0].error == "raw [redacted]"
    assert KEY[2:].encode() not in _file_bytes(path)


# --------------------------------------------------------------------------- concurrency


def _committed(path: Path) -> list[int]:
    """Indices on disk now, read past this process's writers (nothing is flushed)."""
    if not path.exists():
        return []
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT call_id FROM usage").fetchall()
    return sorted(int(call_id.rsplit("-", 1)[1]) for (call_id,) in rows)


def _counting_commits(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[int]:
    """The number of rows in each commit to ``path`` from now on (another test's ledger
    may still commit the rows it left for later)."""
    commits: list[int] = []
    commit = writer_module._commit

    def counting(conn: Any, target: Path, later: list[Any], waited: list[Any]) -> Any:
        if target == path:
            commits.append(len(later) + sum(len(rows) for rows, _ in waited))
        return commit(conn, target, later, waited)

    monkeypatch.setattr(writer_module, "_commit", counting)
    return commits


async def test_1000_concurrent_arecords_commit_in_a_few_batches(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = _counting_commits(monkeypatch, path)
    with Ledger(path) as ledger:
        await ledger.arecord(make_record(1000))  # the writer is running
        with _write_locked(path):
            tasks = [asyncio.create_task(ledger.arecord(make_record(i))) for i in range(1000)]
            await asyncio.sleep(0)  # every task has queued its row; the writer waits for the lock
            assert not any(task.done() for task in tasks)
        await asyncio.gather(*tasks)
        assert _indices(ledger) == list(range(1001))  # all present, exactly once
    batches = [rows for rows in commits if rows]  # a flush of nothing is no batch
    assert batches[0] == 1
    assert sum(batches[1:]) == 1000
    assert len(batches[1:]) <= 2  # one batch taken before the lock, one for the rest


async def test_the_event_loop_keeps_running_while_a_write_waits(path: Path) -> None:
    with Ledger(path) as ledger:
        ledger.record(make_record(0))
        ticks = 0
        with _write_locked(path):
            task = asyncio.create_task(ledger.arecord(make_record(1)))
            for _ in range(200):
                await asyncio.sleep(0)
                ticks += 1
                assert not task.done()
        await task
        assert ticks == 200
        assert _indices(ledger) == [0, 1]


async def test_a_cancelled_arecord_still_records(path: Path) -> None:
    ledger = Ledger(path)
    ledger.record(make_record(0))
    with _write_locked(path):
        task = asyncio.create_task(ledger.arecord(make_record(1)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    ledger.close()  # waits for what is queued
    assert _indices(Ledger(path)) == [0, 1]


def test_many_threads_record_every_row_once(path: Path) -> None:
    threads, per_thread = 8, 150
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    with Ledger(path) as ledger:

        def work(t: int) -> None:
            start.wait()
            try:
                for n in range(per_thread):
                    ledger.record(make_record(t * per_thread + n, prompt=None, response=None))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        assert _indices(ledger) == list(range(threads * per_thread))


APPEND_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from blockrun_core.ledger import Ledger
    from unit_tests.blockrun_core.usage_records import make_record

    path, first, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    with Ledger(path) as ledger:
        def work(offset):
            for i in range(first + offset, first + count, 2):
                ledger.record(make_record(i, prompt=None, response=None))
        workers = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    print("ok")
    """
)


def test_two_processes_append_to_one_file(path: Path) -> None:
    count = 300
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPEND_SCRIPT, str(REPO), str(path), str(first), str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first in (0, count)
    ]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-2000:]
        assert out.strip() == "ok"
    ledger = Ledger(path)
    assert _indices(ledger) == list(range(2 * count))
    assert all(r == make_record(index_of(r), prompt=None, response=None) for r in ledger.records())


def test_rows_queued_without_waiting_are_committed_by_close(path: Path) -> None:
    ledger = Ledger(path)
    for i in range(50):
        ledger.record_many([make_record(i)], wait=False)
    ledger.close()
    assert _indices(Ledger(path)) == list(range(50))


async def test_async_rows_queued_without_waiting_are_committed_by_close(path: Path) -> None:
    ledger = Ledger(path)
    await ledger.arecord_many([make_record(0), make_record(0, attempt=1)], wait=False)
    ledger.close()
    assert [r.attempt for r in Ledger(path).records()] == [0, 1]


def test_rows_left_for_later_share_one_commit_within_the_delay(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "COMMIT_DELAY", 0.3)
    commits = _counting_commits(monkeypatch, path)
    ledger = Ledger(path)
    for i in range(100):
        ledger.record_many([make_record(i)], wait=False)
    assert _committed(path) == []  # nobody waited: nothing was committed for them yet
    for _ in range(200):  # up to 10 s: the delay, on a busy machine
        if _committed(path):
            break
        threading.Event().wait(0.05)
    assert _committed(path) == list(range(100))
    assert commits == [100]
    ledger.close()


def test_a_waited_for_row_takes_the_rows_left_before_it_along(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = _counting_commits(monkeypatch, path)
    with Ledger(path) as ledger:
        ledger.record_many([make_record(0)], wait=False)
        ledger.record_many([make_record(1)], wait=False)
        ledger.record(make_record(2))
        assert _committed(path) == [0, 1, 2]
    assert commits == [3]


def test_too_many_rows_left_for_later_are_committed_without_waiting_out_the_delay(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "COMMIT_DELAY", 3600.0)
    monkeypatch.setattr(writer_module, "MAX_BATCH", 10)
    with Ledger(path) as ledger:
        for i in range(10):
            ledger.record_many([make_record(i)], wait=False)
        for _ in range(200):
            if _committed(path):
                break
            threading.Event().wait(0.05)
        assert _committed(path) == list(range(10))


def test_a_reader_in_the_same_process_sees_the_rows_left_for_later(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "COMMIT_DELAY", 3600.0)
    ledger = Ledger(path)
    ledger.record_many([make_record(0)], wait=False)
    assert _indices(ledger) == [0]  # records() commits them first
    ledger.record_many([make_record(1)], wait=False)
    assert _indices(Ledger(path)) == [0, 1]  # so does another ledger on the same file
    ledger.record_many([make_record(2)], wait=False)
    assert usage_stats(path).total.calls == 3  # and the stats, given only the path
    ledger.record_many([make_record(3)], wait=False)
    ledger.flush()
    assert _committed(path) == [0, 1, 2, 3]
    ledger.close()


def test_a_failed_commit_of_rows_left_for_later_is_logged(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(path: Path) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(writer_module, "connect_for_writing", failing)
    ledger = Ledger(path)
    ledger.record_many([make_record(0), make_record(0, attempt=1)], wait=False)
    with caplog.at_level("WARNING", logger="blockrun_core.ledger"):
        ledger.close()
    assert "could not write 2 usage rows" in caplog.text
    assert "disk I/O error" in caplog.text


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from blockrun_core.ledger import Ledger
    from unit_tests.blockrun_core.usage_records import make_record

    ledger = Ledger(sys.argv[2])
    for i in range(200):
        ledger.record_many([make_record(i)], wait=False)
    """
)


def test_rows_queued_without_waiting_are_committed_before_the_interpreter_exits(
    path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(REPO), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _indices(Ledger(path)) == list(range(200))


def test_a_creator_that_lost_the_race_leaves_the_winners_file_alone(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blockrun_core.ledger import schema

    with Ledger(path) as winner:
        winner.record(make_record(1))
    # The loser checked before the winner's file appeared: it builds its own aside, and
    # must neither replace the winner's file nor leave its draft behind.
    monkeypatch.setattr(Path, "exists", lambda self: False)
    schema._create_private(path)
    monkeypatch.undo()
    assert _indices(Ledger(path)) == [1]
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    from blockrun_core.ledger import Ledger
    from unit_tests.blockrun_core.usage_records import make_record

    ledger = Ledger(sys.argv[2], store_text=True)
    printing = threading.Lock()

    def work(first):
        for i in range(first, 10**9, 4):
            if i % 2:  # two attempts of one call, committed together
                ledger.record_many([make_record(i), make_record(i, attempt=1)])
            else:
                ledger.record(make_record(i))
            with printing:
                print(i, flush=True)

    for first in range(4):
        threading.Thread(target=work, args=(first,), daemon=True).start()
    threading.Event().wait()
    """
)


def test_a_killed_process_leaves_only_whole_rows_and_loses_none(path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(REPO), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    reported: set[int] = set()
    try:
        for line in child.stdout:
            reported.add(int(line))
            if len(reported) >= 300:
                break
        child.send_signal(signal.SIGKILL)  # while its threads are recording
        rest, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL, err[-2000:]
    reported |= {int(line) for line in rest.splitlines(keepends=True) if line.endswith("\n")}
    assert len(reported) >= 300

    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    records = Ledger(path).records()
    present = [(index_of(r), r.attempt) for r in records]
    assert len(present) == len(set(present)), "a row was written twice"
    calls = {i for i, _ in present}
    assert reported <= calls, "a row reported as recorded is missing"
    assert all(r == make_record(index_of(r), attempt=r.attempt) for r in records), "a torn row"
    expected = {(i, attempt) for i in calls for attempt in ((0, 1) if i % 2 else (0,))}
    assert set(present) == expected, "a call's attempts were written in part"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_records_through_its_own_writer(path: Path) -> None:
    ledger = Ledger(path)
    ledger.record(make_record(0))  # the parent's writer thread is running
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            ledger.record(make_record(1))
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    ledger.record(make_record(2))
    assert _indices(ledger) == [0, 1, 2]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", "paid", "Invalid usage status 'paid'"),
        ("attempt", -1, "Invalid attempt -1"),
        ("attempt", True, "Invalid attempt True"),
        ("paid_usd", -0.01, "Invalid paid_usd -0.01"),
        ("paid_usd", math.nan, "Invalid paid_usd nan"),
        ("quoted_usd", math.inf, "Invalid quoted_usd inf"),
        ("savings_usd", math.nan, "Invalid savings_usd nan"),
        ("latency_ms", "12", "Invalid latency_ms '12'"),
        ("input_tokens", -3, "Invalid input_tokens -3"),
        ("output_tokens", 1.5, "Invalid output_tokens 1.5"),
        ("call_id", "", "needs a call_id"),
        ("requested_model", "", "needs the requested model"),
    ],
)
def test_invalid_records_are_refused_before_anything_is_written(
    path: Path, field: str, value: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_record(0, **{field: value})
    assert not path.exists()


def test_record_takes_only_usage_records(path: Path) -> None:
    ledger = Ledger(path)
    with pytest.raises(TypeError, match="takes UsageRecords, not dict"):
        ledger.record({"call_id": "x"})  # type: ignore[arg-type]
    assert not path.exists()


async def test_a_closed_ledger_refuses_records(path: Path) -> None:
    ledger = Ledger(path)
    ledger.record(make_record(0))
    ledger.close()
    with pytest.raises(ConfigurationError, match="is closed"):
        ledger.record(make_record(1))
    with pytest.raises(ConfigurationError, match="is closed"):
        await ledger.arecord(make_record(1))
    assert _indices(ledger) == [0]


@pytest.mark.parametrize("value", [123, b"/tmp/x", 1.5])
def test_a_bad_path_type_is_refused(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="Invalid ledger path"):
        Ledger(value)


def test_a_directory_is_not_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a directory"):
        Ledger(tmp_path)


async def test_a_file_that_is_not_a_ledger_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    before = path.read_bytes()
    ledger = Ledger(path)
    with pytest.raises(ConfigurationError, match="is not a usable BlockRun usage ledger"):
        ledger.record(make_record(0))
    with pytest.raises(ConfigurationError, match="is not a usable BlockRun usage ledger"):
        await ledger.arecord(make_record(0))
    with pytest.raises(ConfigurationError, match="is not a usable BlockRun usage ledger"):
        ledger.records()
    assert path.read_bytes() == before


def test_a_ledger_from_a_newer_version_is_refused(path: Path) -> None:
    path.parent.mkdir()
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigurationError, match="schema 99, newer than"):
        Ledger(path).record(make_record(0))
    with pytest.raises(ConfigurationError, match="schema 99, newer than"):
        Ledger(path).records()


def test_an_uncreatable_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    ledger = Ledger(blocker / "usage.sqlite3")
    with pytest.raises(ConfigurationError, match="Cannot create the usage ledger"):
        ledger.record(make_record(0))
    assert blocker.read_text() == "x"


# --------------------------------------------------------------------------- resolve_ledger


def test_resolve_ledger_settings(home: Path, tmp_path: Path) -> None:
    default = resolve_ledger(None)
    assert isinstance(default, Ledger)
    assert default.path == home / ".blockrun" / "usage.sqlite3"
    assert resolve_ledger(None) is default  # clients share one ledger and one writer
    assert resolve_ledger(True) is default
    assert resolve_ledger(False) is None

    mine = Ledger(tmp_path / "mine.sqlite3")
    assert resolve_ledger(mine) is mine
    by_path = resolve_ledger(str(tmp_path / "p.sqlite3"))
    assert by_path is not None
    assert by_path.path == tmp_path / "p.sqlite3"
    assert resolve_ledger(tmp_path / "p.sqlite3") is by_path
    with_text = resolve_ledger(tmp_path / "p.sqlite3", store_text=True)
    assert with_text is not None
    assert with_text.store_text
    assert with_text is not by_path

    by_path.close()
    reopened = resolve_ledger(tmp_path / "p.sqlite3")
    assert reopened is not by_path
    assert reopened is not None
    assert not reopened.closed


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no"])
def test_blockrun_ledger_off_turns_the_default_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("BLOCKRUN_LEDGER", value)
    assert resolve_ledger(None) is None
    explicit = resolve_ledger(tmp_path / "explicit.sqlite3")  # an explicit path still records
    assert explicit is not None


@pytest.mark.parametrize("value", [0, 1.0, ["a"], object()])
def test_resolve_ledger_refuses_other_values(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="expected a Ledger, a path, None"):
        resolve_ledger(value)


def test_repr_shows_where_not_what(path: Path) -> None:
    assert repr(Ledger(path)) == f"Ledger(path={str(path)!r}, store_text=False)"


def test_usage_record_is_frozen() -> None:
    record = make_record(0)
    with pytest.raises(AttributeError):
        record.paid_usd = 1.0  # type: ignore[misc]
    assert isinstance(record, UsageRecord)
