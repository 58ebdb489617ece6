"""Bugs the chaos and load suites found, pinned down one call at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from blockrun_core import BlockRunClient, Budget, UpstreamError
from blockrun_core.ledger import Ledger
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway
from blockrun_core.transport import make_timeout

PAID = "openai/gpt-4o-mini"
HI = [{"role": "user", "content": "what is 2 + 2"}]


def _client(gw: LocalGateway, path: Path) -> BlockRunClient:
    return BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=path)


@pytest.mark.parametrize(
    "fault", [Fault.degenerate(), Fault.empty("choices"), Fault.empty("body")], ids=repr
)
def test_a_paid_answer_that_fails_keeps_its_transaction_in_the_ledger(
    gw: LocalGateway, tmp_path: Path, fault: Fault
) -> None:
    path = tmp_path / "usage.sqlite3"
    gw.inject(fault)
    with _client(gw, path) as client, pytest.raises(UpstreamError) as info:
        client.chat(model=PAID, messages=HI)
    assert info.value.paid_usd > 0
    (payment,) = gw.payments
    (row,) = Ledger(path).records()
    # Before: the row said settled with no tx_hash, so it could not be matched to the chain.
    assert (row.status, row.tx_hash) == ("settled", payment.tx_hash)
    assert round(row.paid_usd * 1e6) == payment.amount_micros


def test_an_answer_whose_payment_did_not_settle_is_in_doubt_not_settled(
    gw: LocalGateway, tmp_path: Path
) -> None:
    path = tmp_path / "usage.sqlite3"
    budget = Budget(1.0, name="run")
    gw.inject(Fault.settlement_failure("unsettled"))
    with _client(gw, path) as client:
        result = client.chat(model=PAID, messages=HI, budget=budget)
    assert result.content and result.receipt is not None and result.receipt.settled is False
    assert gw.payments == []  # the gateway says nothing settled (yet)
    (row,) = Ledger(path).records()
    # Before: "settled", a payment the gateway never recorded. The signed authorization
    # can still be settled later, so it stays counted, and the budget keeps it too.
    assert row.status == "in_doubt" and row.tx_hash is None and row.paid_usd > 0
    assert budget.spent == pytest.approx(row.paid_usd) and budget.reserved == 0


def test_a_settled_answer_is_still_settled_with_its_transaction(
    gw: LocalGateway, tmp_path: Path
) -> None:
    path = tmp_path / "usage.sqlite3"
    with _client(gw, path) as client:
        result = client.chat(model=PAID, messages=HI)
    (payment,) = gw.payments
    (row,) = Ledger(path).records()
    assert result.receipt is not None and result.receipt.transaction == payment.tx_hash
    assert (row.status, row.tx_hash) == ("settled", payment.tx_hash)


def test_waiting_for_a_pooled_connection_is_not_cut_shorter_than_a_read() -> None:
    # Before: 10 s. 2,000 concurrent streams through one client (100 pooled connections)
    # failed with PoolTimeout while the gateway was answering every one of them.
    default = make_timeout(None)
    assert default.pool is not None and default.read is not None
    assert default.pool >= default.read
    assert make_timeout(5.0).pool == 5.0  # a caller's own timeout applies to the wait too
