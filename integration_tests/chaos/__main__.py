"""The full chaos run: ``uv run python -m integration_tests.chaos --calls 5000 --seed 7``.

Splits ``--calls`` over sync and async clients and the memory, SQLite and Redis budget
stores (Redis only when ``redis-server`` is on PATH or ``--redis-url`` is given), checks the
invariants after each run, prints the figures as JSON and exits 1 if any invariant broke.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .invariants import Figures, check, figures
from .runner import Mode, StoreKind, run_chaos


@contextlib.contextmanager
def _redis(url: str | None, directory: Path) -> Iterator[str | None]:
    if url is not None or shutil.which("redis-server") is None:
        yield url
        return
    from unit_tests.redis_server import running_redis_server

    with running_redis_server("redis-server", directory) as server:
        yield server.url


def main(argv: list[str] | None = None) -> int:
    """Run the matrix; 0 when every invariant held."""
    parser = argparse.ArgumentParser(prog="python -m integration_tests.chaos")
    parser.add_argument("--calls", type=int, default=5000, help="calls over all runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args(argv)
    # Writes to sockets the gateway dropped on purpose are expected; asyncio logs each one.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    total, broken = Figures(), 0
    with tempfile.TemporaryDirectory() as tmp, _redis(args.redis_url, Path(tmp)) as redis_url:
        stores: list[StoreKind] = ["memory", "sqlite"] + (["redis"] if redis_url else [])
        modes: list[Mode] = ["sync", "async"]
        runs = [(mode, store) for mode in modes for store in stores]
        for number, (mode, store) in enumerate(runs):
            calls = args.calls // len(runs) + (number < args.calls % len(runs))
            directory = Path(tmp) / f"{mode}-{store}"
            directory.mkdir()
            report = run_chaos(
                mode=mode,
                store=store,
                seed=args.seed + number,
                calls=calls,
                directory=directory,
                redis_url=redis_url,
            )
            problems = check(report)
            run_figures = figures(report)
            total.add(run_figures)
            broken += len(problems)
            summary = {k: run_figures.to_dict()[k] for k in ("calls", "succeeded", "payments")}
            print(f"{mode}/{store}: {summary} {len(problems)} broken", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
    print(json.dumps({"seed": args.seed, "broken": broken, **total.to_dict()}, indent=2))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
