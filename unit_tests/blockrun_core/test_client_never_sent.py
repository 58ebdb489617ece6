"""A signed request that never left the client (no connection, no free pooled connection)
delivered no payment: it is resent as it is, never re-signed, and failing for good is a
connection error with nothing charged, not a payment in doubt."""

from __future__ import annotations

import httpx
import pytest
from blockrun_core import Budget, PaymentInDoubtError, UpstreamError

from unit_tests.blockrun_core.scripted_gateway import (
    HEADER,
    Gateway,
    ask,
    completion,
    make_client,
    quoted,
    raise_,
)

NEVER_SENT = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("no route"),
    httpx.PoolTimeout("no free connection"),
]
IDS = ["connect-error", "connect-timeout", "pool-timeout"]


@pytest.mark.parametrize("error", NEVER_SENT, ids=IDS)
def test_a_preauthorised_payment_that_never_left_is_not_in_doubt(
    fake: Gateway, error: Exception
) -> None:
    client = make_client(fake, max_retries=2)
    client._backoff_seconds = 0.0
    fake.script = [quoted, completion()]
    ask(client)  # learns the price: the next call is signed before it is sent
    signatures = len(fake.distinct_signatures)
    budget = Budget(1.0)
    fake.script = [raise_(error)] * 3
    with pytest.raises(UpstreamError) as info:
        ask(client, budget=budget)
    assert not isinstance(info.value, PaymentInDoubtError)
    assert info.value.code in ("CONNECTION_ERROR", "TIMEOUT")
    assert len(fake.distinct_signatures) == signatures + 1  # one signature, sent as it was
    assert all(HEADER in r.headers for r in fake.requests[-3:])
    assert budget.spent == 0 and budget.reserved == 0


@pytest.mark.parametrize("error", NEVER_SENT, ids=IDS)
def test_a_payment_that_never_left_is_resent_and_paid_once(fake: Gateway, error: Exception) -> None:
    client = make_client(fake)
    client._backoff_seconds = 0.0
    fake.script = [quoted, raise_(error), completion()]
    result = ask(client)
    assert result.cost_usd is not None and result.cost_usd > 0
    assert len(fake.distinct_signatures) == 1 and len(fake.signatures) == 2


def test_once_a_payment_may_have_arrived_it_stays_in_doubt(fake: Gateway) -> None:
    client = make_client(fake)
    client._backoff_seconds = 0.0
    budget = Budget(1.0)
    refused = raise_(httpx.ConnectError("refused"))
    fake.script = [quoted, raise_(httpx.ReadTimeout("slow")), refused, refused]
    with pytest.raises(PaymentInDoubtError) as info:
        ask(client, budget=budget)
    assert len(fake.distinct_signatures) == 1
    assert budget.spent == pytest.approx(info.value.amount_usd)
