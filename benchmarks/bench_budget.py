"""Budget benchmark: the cost of one reservation and its commit, per store.

Times ``reserve`` + ``commit`` (what a paid call adds to hold its budget) on the three stores:
in memory, a SQLite file and a real ``redis-server`` on loopback, synchronously and from
asyncio, for one budget, a budget with its parent, and a windowed budget whose window already
holds many spends. Cases are interleaved in rounds so drift falls on all of them. Prints a
markdown table and writes it to ``benchmarks/results/budget-<date>.md`` (``--smoke``: tiny
counts, print only).

Timings are reported, never asserted: the run fails only on errors (a refused reservation,
a wrong total).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import itertools
import math
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_foundation import environment, publish
from suite_table import SuiteRow

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for unit_tests.redis_server

LIMIT = 10**15  # never refuses: only the bookkeeping is measured
TTL = 60.0
WINDOW = 3_600.0
TARGETS_US = {"memory": 20.0, "SQLite file": 1_000.0, "Redis, loopback": 1_000.0}


@dataclass(frozen=True)
class Counts:
    rounds: int
    block: int  # calls per case per round
    window_spends: int  # spends already inside the window of the windowed case


FULL = Counts(rounds=20, block=500, window_spends=10_000)
SMOKE = Counts(rounds=2, block=20, window_spends=200)


@dataclass
class Case:
    store: str
    name: str
    run: Callable[[int], list[float]]  # n calls -> µs per call
    samples: list[float] = field(default_factory=list)


def p99(values: list[float]) -> float:
    """Nearest-rank 99th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def _ids(prefix: str) -> Iterator[str]:
    return (f"{prefix}-{n}" for n in itertools.count())


def sync_case(store: Any, chain: list[Any]) -> Callable[[int], list[float]]:
    ids = _ids(chain[0].key)

    def run(n: int) -> list[float]:
        out = []
        for rid in itertools.islice(ids, n):
            start = time.perf_counter()
            refusal = store.reserve(chain, rid, 1, now=time.time(), ttl_seconds=TTL)
            store.commit(chain, rid, 1, now=time.time())
            out.append((time.perf_counter() - start) * 1e6)
            if refusal is not None:
                raise RuntimeError(f"{store!r} refused a reservation: {refusal}")
        return out

    return run


def async_case(
    store: Any, chain: list[Any], loop: asyncio.AbstractEventLoop
) -> Callable[[int], list[float]]:
    ids = _ids(chain[0].key)

    async def calls(n: int) -> list[float]:
        out = []
        for rid in itertools.islice(ids, n):
            start = time.perf_counter()
            refusal = await store.areserve(chain, rid, 1, now=time.time(), ttl_seconds=TTL)
            await store.acommit(chain, rid, 1, now=time.time())
            out.append((time.perf_counter() - start) * 1e6)
            if refusal is not None:
                raise RuntimeError(f"{store!r} refused a reservation: {refusal}")
        return out

    return lambda n: loop.run_until_complete(calls(n))


def cases_for(
    label: str, store: Any, loop: asyncio.AbstractEventLoop, counts: Counts
) -> list[Case]:
    from blockrun_core.budget.store import BudgetKey

    team = BudgetKey(f"bench/{label}/team", LIMIT)
    solo = BudgetKey(f"bench/{label}/solo", LIMIT)
    agent = BudgetKey(f"bench/{label}/agent", LIMIT)
    async_agent = BudgetKey(f"bench/{label}/async-agent", LIMIT)
    hourly = BudgetKey(f"bench/{label}/hourly", LIMIT, WINDOW)
    # Fill the hourly window with spends from the last 50 minutes.
    now = time.time()
    for n in range(counts.window_spends):
        at = now - 3_000 + n * 3_000 / counts.window_spends
        store.commit([hourly, team], f"old-{n}", 1, now=at)
    if store.usage(hourly, now=time.time()).spent_micros != counts.window_spends:
        raise RuntimeError(f"{store!r} lost spends of the window")
    return [
        Case(label, "sync, one budget", sync_case(store, [solo])),
        Case(label, "sync, budget + parent", sync_case(store, [agent, team])),
        Case(label, "async, budget + parent", async_case(store, [async_agent, team], loop)),
        Case(
            label,
            f"sync, 1-hour window holding {counts.window_spends:,} spends + parent",
            sync_case(store, [hourly, team]),
        ),
    ]


def _redis_server_version(executable: str) -> str:
    said = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    version = [part for part in said.stdout.split() if part.startswith("v=")]
    return version[0][2:] if version else said.stdout.strip()


def _filesystem(path: Path) -> str:
    """The file system type holding ``path`` (Linux), for the header."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            _, mount, fstype, *_ = line.split()
            if str(path).startswith(mount) and len(mount) > len(best):
                best, kind = mount, fstype
    except OSError:
        pass
    return kind


def bench(counts: Counts) -> tuple[list[Case], list[str]]:
    from blockrun_core.budget.memory import MemoryStore
    from blockrun_core.budget.redis import RedisStore
    from blockrun_core.budget.sqlite import SQLiteStore

    notes = []
    loop = asyncio.new_event_loop()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-budget-")))
        stores: list[tuple[str, Any]] = [
            ("memory", MemoryStore()),
            ("SQLite file", SQLiteStore(folder / "budgets.sqlite3")),
        ]
        notes.append(
            f"- SQLite: {sqlite3.sqlite_version}, WAL, synchronous=NORMAL, a file on "
            f"{_filesystem(folder)}"
        )
        executable = shutil.which("redis-server")
        if executable is None:
            notes.append("- Redis: **skipped**, redis-server is not on PATH")
        else:
            from unit_tests.redis_server import running_redis_server

            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-redis-")))
            server = stack.enter_context(running_redis_server(executable, scratch))
            stores.append(("Redis, loopback", RedisStore(server.url)))
            notes.append(
                f"- Redis: redis-server {_redis_server_version(executable)} on 127.0.0.1 "
                f"(no persistence), redis-py {importlib.metadata.version('redis')}"
            )
        try:
            cases = [
                case for label, store in stores for case in cases_for(label, store, loop, counts)
            ]
            for case in cases:  # warm-up: connections, prepared statements, script loading
                case.run(max(5, counts.block // 10))
            for round_ in range(counts.rounds):
                shift = round_ % len(cases)
                for case in cases[shift:] + cases[:shift]:
                    case.samples += case.run(counts.block)
        finally:
            for _, store in stores:
                loop.run_until_complete(store.aclose())
            loop.close()
    return cases, notes


SUITE = Counts(rounds=8, block=150, window_spends=2_000)
SUITE_CASES = ("sync, budget + parent", "async, budget + parent")


def suite_rows(counts: Counts) -> tuple[list[SuiteRow], list[str]]:
    """Reserve + commit per store, the per-call cases (no peer): rows and header notes."""
    cases, notes = bench(counts)
    rows = []
    for case in cases:
        if case.name not in SUITE_CASES:
            continue
        limit = TARGETS_US[case.store]
        rows.append(
            SuiteRow(
                "budget: reserve + commit per paid call",
                f"{case.store}, {case.name}",
                "µs",
                case.samples,
                target=f"ours <= {limit:,.0f} µs",
                met=lambda ours, _peer, limit=limit: ours <= limit,
            )
        )
    return rows, notes


def render(cases: list[Case], notes: list[str], counts: Counts, today: str) -> str:
    lines = [
        f"# Budget store benchmark, {today}",
        "",
        *environment(),
        *notes,
        f"- Samples: {counts.rounds * counts.block:,} calls per row ({counts.rounds} rounds of "
        f"{counts.block}, cases rotated each round, one warm-up block discarded); one call = "
        "`reserve` + `commit` of 1 micro-USD with a fresh id and `time.time()`, GC on",
        "",
        "| store | call | median | p99 | target (median) | met |",
        "|---|---|---:|---:|---|:---:|",
    ]
    for case in cases:
        median = statistics.median(case.samples)
        target = TARGETS_US[case.store]
        met = "yes" if median <= target else "**no**"
        lines.append(
            f"| {case.store} | {case.name} | {median:.1f} µs | {p99(case.samples):.1f} µs "
            f"| <= {target:,.0f} µs | {met} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; print, do not save")
    parser.add_argument("--out", type=Path, help="write the table here (default: results/)")
    args = parser.parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()

    cases, notes = bench(counts)
    publish(
        render(cases, notes, counts, today), args.out, None if args.smoke else f"budget-{today}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
