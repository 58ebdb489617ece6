"""A reservation interrupted after the store acted is undone at once, not left to its TTL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from blockrun_core import Budget, MemoryStore
from blockrun_core.budget.store import BudgetKey, Refusal


class SlowAfterActing(MemoryStore):
    """Reserves, then stalls before answering, like a store whose reply is still in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.acted = asyncio.Event()

    async def areserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        refusal = self.reserve(chain, reservation_id, micros, now=now, ttl_seconds=ttl_seconds)
        self.acted.set()
        await asyncio.sleep(3600)
        return refusal


class FailsAfterActing(MemoryStore):
    def reserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        super().reserve(chain, reservation_id, micros, now=now, ttl_seconds=ttl_seconds)
        raise ConnectionError("the reply was lost")


async def test_a_cancelled_reservation_gives_its_room_back_at_once() -> None:
    store = SlowAfterActing()
    team = Budget(1.0, store=store)
    budget = Budget(0.5, parent=team, store=store)
    task = asyncio.create_task(budget.areserve(400_000))
    await store.acted.wait()
    assert budget.reserved == pytest.approx(0.4) and team.reserved == pytest.approx(0.4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert budget.reserved == 0 and team.reserved == 0 and budget.remaining == 0.5


def test_a_reservation_whose_reply_failed_is_released() -> None:
    budget = Budget(0.5, store=FailsAfterActing())
    with pytest.raises(ConnectionError):
        budget.reserve(100_000)
    assert budget.reserved == 0 and budget.remaining == 0.5
