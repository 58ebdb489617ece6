"""One strict budget under fire, for each store: the gateway is never paid more than it.

1,000 concurrent async calls and 8 threads of sync calls share one budget. Afterwards the
total the gateway recorded is within the limit, the budget's spend equals it, and the
usage ledger holds exactly the gateway's payments, call for call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from blockrun_core import AsyncBlockRunClient, BlockRunClient, Budget, BudgetExceededError
from blockrun_core.budget import BudgetStore, MemoryStore, SQLiteStore
from blockrun_core.ledger import Ledger
from blockrun_core.testing import HARDHAT_KEY, LocalGateway

PAID = "openai/gpt-4o-mini"
HI = [{"role": "user", "content": "what is 12 * 7"}]
ASYNC_CALLS = 1_000
THREADS, CALLS_PER_THREAD = 8, 10
FITTING_CALLS = 60


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], BudgetStore]]:
    stores: list[BudgetStore] = []

    def make() -> BudgetStore:
        if request.param == "memory":
            store: BudgetStore = MemoryStore()
        elif request.param == "sqlite":
            store = SQLiteStore(tmp_path / "budgets.sqlite3")
        else:
            from blockrun_core.budget import RedisStore

            url = request.getfixturevalue("redis_url")
            store = RedisStore(url, prefix=f"test:{request.node.name}:")
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def test_one_strict_budget_holds_under_async_and_thread_load(
    gw: LocalGateway, make_store: Callable[[], BudgetStore], tmp_path: Path
) -> None:
    quote = gw.quote({"model": PAID, "messages": HI, "max_tokens": 1024})
    limit_usd = quote * FITTING_CALLS / 1e6
    budget = Budget(limit_usd, name="fleet", store=make_store())
    ledger = Ledger(tmp_path / "usage.sqlite3")
    refused: list[BaseException] = []

    def thread_calls() -> None:
        with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=ledger) as client:
            for _ in range(CALLS_PER_THREAD):
                try:
                    client.chat(model=PAID, messages=HI, budget=budget)
                except BudgetExceededError as exc:
                    refused.append(exc)

    async def async_calls() -> list[object]:
        async with AsyncBlockRunClient(
            api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=ledger
        ) as client:
            return await asyncio.gather(
                *(client.chat(model=PAID, messages=HI, budget=budget) for _ in range(ASYNC_CALLS)),
                return_exceptions=True,
            )

    threads = [threading.Thread(target=thread_calls) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    results = asyncio.run(async_calls())
    for thread in threads:
        thread.join()

    unexpected = [r for r in results if isinstance(r, BaseException)]
    unexpected = [e for e in unexpected if not isinstance(e, BudgetExceededError)]
    assert not unexpected
    paid_micros = sum(p.amount_micros for p in gw.payments)
    assert 0 < paid_micros <= round(limit_usd * 1e6)
    assert budget.spent == pytest.approx(paid_micros / 1e6) and budget.reserved == 0
    assert (
        len(gw.payments) + len(refused) + sum(isinstance(r, BudgetExceededError) for r in results)
        == ASYNC_CALLS + THREADS * CALLS_PER_THREAD
    )

    settled = [r for r in ledger.records() if r.status == "settled"]
    assert sorted(r.tx_hash or "" for r in settled) == sorted(p.tx_hash for p in gw.payments)
    by_hash = {p.tx_hash: p.amount_micros for p in gw.payments}
    assert all(round(r.paid_usd * 1e6) == by_hash[r.tx_hash or ""] for r in settled)
    ledger.close()
