"""When a call returns, its ledger row is on disk if money moved; a free call does not wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from blockrun_core import (
    AsyncBlockRunClient,
    BlockRunClient,
    PaymentPolicy,
    PaymentRefusedError,
    PaymentRejectedError,
)
from blockrun_core.ledger import Ledger
from blockrun_core.testing import Fault, LocalGateway

from unit_tests.conftest import HARDHAT_KEY

PAID, FREE = "openai/gpt-4o-mini", "nvidia/gpt-oss-120b"
HI = [{"role": "user", "content": "hi"}]


class WaitSpy(Ledger):
    """A ledger that remembers, per call, whether the client waited for the commit."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.waits: list[bool] = []

    def record_many(self, records: Any, *, wait: bool = True) -> None:
        self.waits.append(wait)
        super().record_many(records, wait=wait)

    async def arecord_many(self, records: Any, *, wait: bool = True) -> None:
        self.waits.append(wait)
        await super().arecord_many(records, wait=wait)


def test_a_paid_row_is_committed_before_chat_returns(gw: LocalGateway, tmp_path: Path) -> None:
    ledger = WaitSpy(tmp_path / "usage.sqlite3")
    with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=ledger) as client:
        client.chat(model=PAID, messages=HI)
        client.chat(model=FREE, messages=HI)
        # Read by another connection, before anything is closed: the paid row is there.
        paid = [r for r in Ledger(ledger.path).records() if r.status == "settled"]
        assert len(paid) == 1 and paid[0].paid_usd == gw.payments[0].amount_micros / 1e6
    assert ledger.waits == [True, False]
    ledger.close()
    assert [r.status for r in Ledger(ledger.path).records()] == ["settled", "free"]


async def test_the_async_client_waits_only_where_money_moved(
    gw: LocalGateway, tmp_path: Path
) -> None:
    ledger = WaitSpy(tmp_path / "usage.sqlite3")
    async with AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=ledger) as client:
        await client.chat(model=FREE, messages=HI)
        [chunk async for chunk in client.stream(model=PAID, messages=HI)]
    assert ledger.waits == [False, True]
    ledger.close()
    assert sorted(r.status for r in Ledger(ledger.path).records()) == ["free", "settled"]


@pytest.mark.parametrize("status", ["rejected", "failed"])
def test_calls_that_moved_no_money_do_not_wait(
    gw: LocalGateway, tmp_path: Path, status: str
) -> None:
    ledger = WaitSpy(tmp_path / "usage.sqlite3")
    policy = PaymentPolicy(max_per_call_usd=1e-6) if status == "failed" else None
    if status == "rejected":
        gw.inject(Fault.reject())
    client = BlockRunClient(
        api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=ledger, payment_policy=policy
    )
    with client, pytest.raises((PaymentRefusedError, PaymentRejectedError)):
        client.chat(model=PAID, messages=HI)
    assert ledger.waits == [False] and not gw.payments
