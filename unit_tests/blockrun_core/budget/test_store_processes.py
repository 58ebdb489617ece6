"""Budgets shared by processes: SQLite and Redis hold their limits across process lines."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from blockrun_core.budget.store import Usage

from unit_tests.blockrun_core.budget.stores import NOW, StoreSpec, key

ROOT = Path(__file__).resolve().parents[3]
WORKER = "unit_tests.blockrun_core.budget.store_worker"

pytestmark = pytest.mark.timeout(60)


@contextmanager
def _spawn(*args: str) -> Iterator[subprocess.Popen[str]]:
    """A worker process; killed (if still running) and its pipes closed on exit."""
    with subprocess.Popen(
        [sys.executable, "-m", WORKER, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        process.wait()
        pytest.fail(f"worker exited ({process.returncode}) without answering")
    return line


def test_four_processes_never_overspend_a_shared_parent(shared_spec: StoreSpec) -> None:
    micros, attempts = 1_000, 150
    parent = ["team", 250 * micros]
    children = [[f"team/agent-{n}", 100 * micros] for n in range(4)]
    with ExitStack() as stack:
        workers = [
            stack.enter_context(
                _spawn(
                    "hammer",
                    *(shared_spec.to_json(), json.dumps(child), json.dumps(parent)),
                    *(str(micros), str(attempts)),
                )
            )
            for child in children
        ]
        for worker in workers:
            assert _line(worker) == "ready"
        for worker in workers:  # release them together, so their transactions interleave
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        counts = [json.loads(_line(worker)) for worker in workers]
        for worker in workers:
            assert worker.wait(10) == 0

    # 600 attempts for room for 250: the parent fills exactly, no child passes its own 100.
    assert sum(c["committed"] for c in counts) == 250
    assert all(c["committed"] + c["refused"] == attempts for c in counts)
    store = shared_spec.open()
    try:
        assert store.usage(key(*parent), now=NOW * 2) == Usage(250 * micros, 0)
        for child, count in zip(children, counts, strict=True):
            assert count["committed"] <= 100
            assert store.usage(key(*child), now=NOW * 2) == Usage(count["committed"] * micros, 0)
    finally:
        store.close()


def test_a_process_killed_between_reserve_and_commit_unlocks_after_the_ttl(
    shared_spec: StoreSpec,
) -> None:
    held = key("held", 500)
    with _spawn("hold", shared_spec.to_json(), repr(NOW), "30", "500") as worker:
        assert _line(worker) == "reserved"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)

    store = shared_spec.open()
    try:
        assert store.usage(held, now=NOW + 29) == Usage(0, 500)
        assert store.reserve([held], "after", 1, now=NOW + 29, ttl_seconds=30) is not None
        assert store.usage(held, now=NOW + 30) == Usage(0, 0)
        assert store.reserve([held], "after", 500, now=NOW + 30, ttl_seconds=30) is None
    finally:
        store.close()


def test_a_process_killed_mid_write_leaves_a_consistent_usable_store(
    shared_spec: StoreSpec,
) -> None:
    looped = key("looped", 10**15)
    with _spawn("loop", shared_spec.to_json(), "3") as worker:
        while _line(worker) != "committed 40":
            pass
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert worker.stdout is not None
        printed = [line for line in worker.stdout.read().splitlines() if line]
    last = int(printed[-1].split()[1]) if printed else 40

    store = shared_spec.open()
    try:
        # Every commit it announced counts; at most one more finished unannounced.
        spent = store.usage(looped, now=NOW * 2).spent_micros
        assert spent in (3 * last, 3 * (last + 1))
        # The store is not locked: a new writer gets through at once.
        store.commit([looped], "after-kill", 3, now=NOW * 2)
        assert store.usage(looped, now=NOW * 2).spent_micros == spent + 3
    finally:
        store.close()
