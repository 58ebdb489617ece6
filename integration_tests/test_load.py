"""Load: many concurrent streaming calls through one AsyncBlockRunClient.

Every stream must complete with its own answer (no cross-talk), each paid one be paid once
and recorded in the ledger, the library's objects must come back to their count before
the burst, and no file descriptor may leak.

It runs two bursts (the first one warms up) of ``BLOCKRUN_LOAD_CALLS`` (default 2,000, the
issue's figure) concurrent streams: about 20 s on a 2-core machine, client and gateway in
one interpreter. Calls beyond the client's 100 connections wait at its gate, so the time
grows linearly with the burst (it took ~3 minutes when they queued inside httpcore's pool).
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from blockrun_core import AsyncBlockRunClient
from blockrun_core.ledger import Ledger
from blockrun_core.testing import HARDHAT_KEY, LocalGateway

from integration_tests.chaos.runner import open_descriptors, wait_for

CALLS = int(os.environ.get("BLOCKRUN_LOAD_CALLS", "2000"))
PAID_EVERY = 10  # one call in ten goes to a paid model
FREE = "nvidia/gpt-oss-120b"
PAID = "openai/gpt-4o-mini"
#: Whose live objects are counted: a leak per call would add at least CALLS of them.
LIBRARIES = ("blockrun_core", "httpx", "httpcore", "h11", "anyio", "asyncio", "sqlite3")


def _model(index: int) -> str:
    return PAID if index % PAID_EVERY == 0 else FREE


async def _stream(client: AsyncBlockRunClient, index: int) -> tuple[str, str | None]:
    """One streamed call asking ``index + 1``; its text and finish reason."""
    text, finish = [], None
    messages = [{"role": "user", "content": f"what is {index} + 1"}]
    async for chunk in client.stream(model=_model(index), messages=messages, max_tokens=32):
        text.append(chunk.delta or "")
        finish = chunk.finish_reason or finish
    return "".join(text), finish


async def _burst(client: AsyncBlockRunClient, calls: int) -> list[tuple[str, str | None]]:
    return list(await asyncio.gather(*(_stream(client, i) for i in range(calls))))


def _live_library_objects() -> Counter[str]:
    """Live objects of the libraries, by type."""
    gc.collect()
    types = (type(o) for o in gc.get_objects())
    return Counter(
        f"{t.__module__}.{t.__qualname__}"
        for t in types
        if isinstance(t.__module__, str) and t.__module__.startswith(LIBRARIES)
    )


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.timeout(600)
async def test_concurrent_streams_complete_and_release_everything(tmp_path: Path) -> None:
    descriptors = open_descriptors()
    async with LocalGateway() as gw:
        ledger = Ledger(tmp_path / "usage.sqlite3")
        async with AsyncBlockRunClient(
            api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=ledger
        ) as client:
            # The same burst first: imports, caches, the pool, the pre-authorisation, and the
            # objects some libraries free lazily (anyio's per-task state) reach their level.
            await _burst(client, CALLS)
            gw.reset()
            objects, blocks, rss = _live_library_objects(), sys.getallocatedblocks(), _rss_bytes()
            answers = await _burst(client, CALLS)
            unfinished = [i for i, (_, finish) in enumerate(answers) if finish != "stop"]
            wrong = [i for i, (text, _) in enumerate(answers) if str(i + 1) not in text]
            payments = [(p.model, p.amount_micros) for p in gw.payments]
            requests = len(gw.requests)
            gw.reset()  # the gateway's own record of the burst is not a leak
            del answers
            objects_after = _live_library_objects()
            # Connections closing and tasks finishing move a few hundred objects of many
            # types either way; a leak of one object per call grows one type by CALLS.
            grown = {name: objects_after[name] - count for name, count in objects.items()}
            grown.update({name: n for name, n in objects_after.items() if name not in objects})
            most_grown = max(grown.items(), key=lambda item: item[1])
            objects_left = objects_after.total() - objects.total()
            blocks_left = sys.getallocatedblocks() - blocks
            rss_left = _rss_bytes() - rss
        ledger.close()
    print(
        f"\nload: {CALLS} concurrent streams; afterwards {objects_left:+d} library objects "
        f"(most grown: {most_grown[0]} {most_grown[1]:+d}), "
        f"{blocks_left:+d} allocated blocks, RSS {rss_left / 1e6:+.2f} MB"
    )

    assert unfinished == [] and wrong == []
    paid = [i for i in range(CALLS) if _model(i) == PAID]
    assert len(payments) == len(paid) and {model for model, _ in payments} == {PAID}
    assert requests == CALLS  # pre-authorised: one request per call, no retries
    records = Ledger(tmp_path / "usage.sqlite3").records()[CALLS:]
    assert len(records) == CALLS
    assert sorted(r.status for r in records) == sorted(
        "settled" if _model(i) == PAID else "free" for i in range(CALLS)
    )
    assert most_grown[1] < CALLS / 2, most_grown  # a per-call leak grows one type by CALLS
    assert wait_for(lambda: open_descriptors() <= descriptors)
