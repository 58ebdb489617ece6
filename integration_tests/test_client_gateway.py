"""BlockRunClient and AsyncBlockRunClient against LocalGateway over real loopback HTTP.

The gateway verifies every signature and records every settled payment, so these tests
check money on the server's side of the wire: what was actually paid, and how often.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from blockrun_core import (
    AsyncBlockRunClient,
    BlockRunClient,
    PaymentInDoubtError,
    PaymentPolicy,
    PaymentRefusedError,
    StreamTruncatedError,
    errors,
)
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway
from blockrun_core.x402 import BASE_SEPOLIA, decode_payment_header

PAYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PAID = "openai/gpt-4o-mini"
FREE = "nvidia/gpt-oss-120b"
HI = [{"role": "user", "content": "what is 12 * 7"}]


@pytest.fixture
def client(gw: LocalGateway) -> Iterator[BlockRunClient]:
    with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, timeout=5.0) as c:
        c._backoff_seconds = 0.01
        yield c


def test_paid_call_is_paid_exactly_once_for_the_quoted_amount(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    result = client.chat(model=PAID, messages=HI, max_tokens=64)
    assert result.content == "84"
    [payment] = gw.payments
    assert payment.payer == PAYER and payment.model == PAID
    assert result.cost_usd == pytest.approx(payment.amount_micros / 1e6)
    assert result.receipt is not None and result.receipt.transaction == payment.tx_hash
    assert result.usage is not None and result.usage.total_tokens > 0
    assert [r.paid for r in gw.requests] == [False, True]


def test_free_call_pays_nothing(gw: LocalGateway, client: BlockRunClient) -> None:
    result = client.chat(model=FREE, messages=HI)
    assert result.content == "84" and result.cost_usd == 0.0
    assert not gw.payments and len(gw.requests) == 1


def test_repeated_paid_call_takes_one_round_trip(gw: LocalGateway, client: BlockRunClient) -> None:
    client.chat(model=PAID, messages=HI, max_tokens=64)
    before = len(gw.requests)
    second = client.chat(model=PAID, messages=[{"role": "user", "content": "say hello"}])
    assert second.round_trips == 1 and len(gw.requests) == before + 1
    assert len(gw.payments) == 2
    # pre-authorised for exactly the gateway's own quote: no overpayment
    assert gw.payments[1].amount_micros == second.payment.amount_micros  # type: ignore[union-attr]


def test_paid_stream(gw: LocalGateway, client: BlockRunClient) -> None:
    chunks = list(client.stream(model=PAID, messages=[{"role": "user", "content": "tell a story"}]))
    text = "".join(c.delta for c in chunks)
    assert text.startswith("Echo: tell a story")
    assert chunks[-1].usage is not None
    [payment] = gw.payments
    assert payment.stream and chunks[0].cost_usd == pytest.approx(payment.amount_micros / 1e6)


def test_truncated_stream_is_reported(gw: LocalGateway, client: BlockRunClient) -> None:
    gw.inject(Fault.truncate(after_chunks=2))
    with pytest.raises(StreamTruncatedError):
        list(client.stream(model=PAID, messages=HI))


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(503, phase="paid", times=None),
        Fault.error(500, phase="paid", times=None, at="before_claim"),
        Fault.reset(phase="paid", times=None),
    ],
    ids=["503-after-claim", "500-before-claim", "reset"],
)
def test_failure_after_paying_never_pays_twice(
    gw: LocalGateway, client: BlockRunClient, fault: Fault
) -> None:
    gw.inject(fault)
    with pytest.raises(PaymentInDoubtError):
        client.chat(model=PAID, messages=HI)
    assert len(gw.payments) <= 1
    assert len(set(gw.claimed_nonces)) <= 1


def test_timeout_after_paying_resends_the_same_payment() -> None:
    # Its own gateway: the stalled request settles after the client gave up, and must
    # not leak into the shared gateway's records of later tests.
    with LocalGateway() as gw:
        gw.inject(Fault.delay(0.6, phase="paid"))
        with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, timeout=0.3) as client:
            client._backoff_seconds = 0.01
            with pytest.raises(PaymentInDoubtError):
                client.chat(model=PAID, messages=HI)
        # one signature only: the resends carried the same nonce and were refused as replays
        assert len(set(gw.claimed_nonces)) == 1 and len(gw.payments) <= 1


def test_transient_failure_before_claim_is_recovered_with_one_payment(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    gw.inject(Fault.error(502, phase="paid", at="before_claim"))
    result = client.chat(model=PAID, messages=HI)
    assert result.content == "84" and len(gw.payments) == 1


def test_price_rise_between_probe_and_payment_requotes_once(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    gw.inject(Fault.price_change(9_000))
    result = client.chat(model=PAID, messages=HI)
    assert [p.amount_micros for p in gw.payments] == [9_000]
    assert result.cost_usd == pytest.approx(0.009)


def test_price_over_cap_is_refused_before_signing(gw: LocalGateway) -> None:
    gw.set_price(PAID, 60_000)
    policy = PaymentPolicy(max_per_call_usd=0.05)
    client = BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, payment_policy=policy)
    with client, pytest.raises(PaymentRefusedError) as info:
        client.chat(model=PAID, messages=HI)
    assert info.value.reason == "over_cap"
    assert not gw.payments and not gw.claimed_nonces
    assert [r.paid for r in gw.requests] == [False]


def test_rejected_payment_is_typed_and_not_retried(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    gw.inject(Fault.reject("PAYMENT_UNFUNDED"))
    with pytest.raises(errors.PaymentUnfundedError):
        client.chat(model=PAID, messages=HI)
    assert not gw.payments and [r.paid for r in gw.requests] == [False, True]


def test_account_key_call(gw: LocalGateway) -> None:
    with BlockRunClient(api_url=gw.account_url, api_key=gw.api_key) as client:
        result = client.chat(model=PAID, messages=HI)
    assert result.content == "84" and result.cost_usd is None
    assert not gw.payments and client.rail == "account"


def test_base_sepolia_by_network(tmp_path: Path) -> None:
    with LocalGateway(network=BASE_SEPOLIA.caip2) as gw:
        policy = PaymentPolicy(networks=(BASE_SEPOLIA.caip2,))
        with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, payment_policy=policy) as c:
            result = c.chat(model=PAID, messages=HI)
        assert gw.payments[0].network == BASE_SEPOLIA.caip2
        assert result.payment is not None and result.payment.network == BASE_SEPOLIA.caip2
        # the default policy (Base mainnet for this URL) refuses the testnet offer
        mainnet = BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY)
        with mainnet, pytest.raises(PaymentRefusedError) as info:
            mainnet.chat(model=PAID, messages=HI)
        assert info.value.reason == "network_not_allowed"


async def test_async_client_pays_once_and_streams(gw: LocalGateway) -> None:
    async with AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY) as client:
        result = await client.chat(model=PAID, messages=HI)
        pieces = [c.delta async for c in client.stream(model=PAID, messages=HI)]
    assert result.content == "84" and "".join(pieces) == "84"
    assert len(gw.payments) == 2


def test_in_process_gateway_via_asgi(gw: LocalGateway) -> None:
    async def run() -> str:
        transport = httpx.ASGITransport(app=gw.app)
        http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
        client = AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, http_client=http)
        result = await client.chat(model=PAID, messages=HI)
        await client.aclose()
        return result.content

    assert asyncio.run(run()) == "84"


def test_debug_logs_hold_no_key_and_no_payment_header(
    gw: LocalGateway, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[str] = []

    def record(request: httpx.Request) -> None:
        if "payment-signature" in request.headers:
            sent.append(request.headers["payment-signature"])

    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx and httpcore
    http = httpx.Client(event_hooks={"request": [record]})
    client = BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, http_client=http)
    client._backoff_seconds = 0.01
    client.chat(model=PAID, messages=HI)
    gw.inject(Fault.error(503, phase="paid", times=None))
    with pytest.raises(PaymentInDoubtError) as info:
        client.chat(model=PAID, messages=[{"role": "user", "content": "again"}])
    client.close()

    text = caplog.text + str(info.value) + repr(info.value) + repr(client)
    assert "paying openai/gpt-4o-mini" in caplog.text  # the logs did capture our records
    assert len(set(sent)) == 2
    signatures = [decode_payment_header(h)["payload"]["signature"][2:] for h in sent]
    for secret in [HARDHAT_KEY[2:], *sent, *signatures]:
        assert secret not in text
