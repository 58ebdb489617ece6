"""Faithfulness: BlockRun's official SDK (blockrun-llm 1.21.1) pays our LocalGateway.

If the gateway's 402, verification or receipts drifted from the real protocol, the
official client would fail to sign, be refused, or book a different amount.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from blockrun_core.catalog import default_catalog, quote_micros
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway

blockrun_llm = pytest.importorskip("blockrun_llm")

HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
MODEL = "openai/gpt-5.5"
MESSAGES = [{"role": "user", "content": "what is 12 * 7"}]
MAX_TOKENS = 3000


@pytest.fixture
def sdk(gw: LocalGateway) -> Iterator[Any]:
    client = blockrun_llm.LLMClient(private_key=HARDHAT_KEY, api_url=gw.url)
    yield client
    client.close()


def expected_micros(**extra: Any) -> int:
    # The SDK's exact wire body: model, messages, max_tokens (+ stream).
    body = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS, **extra}
    return quote_micros(default_catalog().get(MODEL), body)


def test_official_sdk_pays_for_a_chat(gw: LocalGateway, sdk: Any) -> None:
    response = sdk.chat_completion(MODEL, MESSAGES, max_tokens=MAX_TOKENS)
    assert response.choices[0].message.content == "84"
    [payment] = gw.payments
    amount = expected_micros()
    assert amount > 2000  # priced by the body, not the floor
    assert (payment.payer, payment.amount_micros, payment.model, payment.stream) == (
        HARDHAT_ADDRESS,
        amount,
        MODEL,
        False,
    )
    assert response.cost_usd == pytest.approx(amount / 1_000_000)
    assert response.settlement["tx_hash"] == payment.tx_hash
    assert [(r.paid, r.status) for r in gw.requests] == [(False, 402), (True, 200)]


def test_official_sdk_pays_for_a_stream(gw: LocalGateway, sdk: Any) -> None:
    chunks = list(sdk.chat_completion_stream(MODEL, MESSAGES, max_tokens=MAX_TOKENS))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "84"
    [payment] = gw.payments
    assert (payment.payer, payment.amount_micros, payment.stream) == (
        HARDHAT_ADDRESS,
        expected_micros(stream=True),
        True,
    )
    assert chunks[-1].usage is not None


async def test_official_async_sdk_pays_for_a_chat(gw: LocalGateway) -> None:
    client = blockrun_llm.AsyncLLMClient(private_key=HARDHAT_KEY, api_url=gw.url)
    try:
        response = await client.chat_completion(MODEL, MESSAGES, max_tokens=MAX_TOKENS)
    finally:
        await client.close()
    assert response.choices[0].message.content == "84"
    assert [(p.payer, p.amount_micros) for p in gw.payments] == [
        (HARDHAT_ADDRESS, expected_micros())
    ]


def test_official_sdk_surfaces_a_replay_without_paying_twice(
    gw: LocalGateway, sdk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("time.sleep", lambda _seconds: None)  # the SDK's 1 s retry pause
    # The SDK resends the same signed header once after a 503: our gateway has claimed
    # the nonce, so the resend is a replay and nothing is charged.
    gw.inject(Fault.error(503, phase="paid"))
    with pytest.raises(blockrun_llm.PaymentError, match="PAYMENT_REPLAY"):
        sdk.chat_completion(MODEL, MESSAGES, max_tokens=MAX_TOKENS)
    assert gw.payments == []
    assert len(gw.claimed_nonces) == 1
