"""Shared steps and assertions of the hostile-gateway tests."""

from __future__ import annotations

import copy
import time
from typing import Any, Literal

from blockrun_core import AsyncBlockRunClient, BlockRunClient, ChatResult
from blockrun_core.testing import LocalGateway
from blockrun_core.x402 import PaymentPolicy
from starlette.responses import Response

from integration_tests.hostile.server import HostileGateway, Seen, challenge_headers
from unit_tests.conftest import HARDHAT_ADDRESS, HARDHAT_KEY

MODEL = "openai/gpt-4o-mini"
HI = [{"role": "user", "content": "What is 2 + 3?"}]
ATTACKER = "0x000000000000000000000000000000000000dEaD"
OTHER_TOKEN = "0x4200000000000000000000000000000000000006"  # WETH on Base, not USDC

Flavour = Literal["sync", "async"]


def chat(flavour: Flavour, hostile: HostileGateway, **options: Any) -> ChatResult:
    """One non-streaming paid call through a new client of the given flavour."""
    call = {key: options.pop(key) for key in ("fallback_models", "budget") if key in options}
    options.setdefault("ledger", False)
    if flavour == "sync":
        with BlockRunClient(api_url=hostile.url, wallet_key=HARDHAT_KEY, **options) as client:
            return client.chat(model=MODEL, messages=HI, max_tokens=64, **call)
    import asyncio

    async def run() -> ChatResult:
        async with AsyncBlockRunClient(
            api_url=hostile.url, wallet_key=HARDHAT_KEY, **options
        ) as client:
            return await client.chat(model=MODEL, messages=HI, max_tokens=64, **call)

    return asyncio.run(run())


def demand(hostile: HostileGateway, **changes: Any) -> dict[str, Any]:
    """From now on, answer every request with a 402 asking the last terms with ``changes``.

    Paid requests are refused too (a 402: nothing was charged), so a pre-authorised
    payment signed for the old terms is turned down and the client must read the new ones.
    """
    document = copy.deepcopy(hostile.challenges[-1])
    document["accepts"][0].update(changes)
    headers = challenge_headers(document)

    def answer(seen: Seen) -> Response:
        return Response(b"{}", status_code=402, headers=headers, media_type="application/json")

    hostile.intercept = answer
    return document


def assert_signed_within_policy(
    hostile: HostileGateway,
    gw: LocalGateway,
    policy: PaymentPolicy | None = None,
    *,
    signed_before: float | None = None,
) -> None:
    """Every payment the client ever sent the hostile gateway is one the policy allows.

    Network and asset from our table, the gateway's real treasury, an amount within the
    cap, a validity window within the policy's, and a fresh nonce each time.
    """
    policy = policy or PaymentPolicy()
    now = time.time() if signed_before is None else signed_before
    nonces = []
    for payment in hostile.signed():
        auth = payment.authorization
        assert payment.network.caip2 == gw.network
        assert auth.from_ == HARDHAT_ADDRESS
        assert auth.to.lower() == gw.pay_to.lower()
        assert 0 < auth.value <= policy.max_per_call_micros
        assert auth.valid_before <= now + policy.max_validity_seconds + 1
        if payment.accepted is not None:
            assert str(payment.accepted["asset"]).lower() == _usdc(gw).lower()
            assert str(payment.accepted["payTo"]).lower() == gw.pay_to.lower()
        nonces.append(auth.nonce)
    assert len(set(nonces)) == len(nonces), "a nonce was signed twice"


def _usdc(gw: LocalGateway) -> str:
    from blockrun_core.x402 import find_network

    network = find_network(gw.network)
    assert network is not None
    return network.usdc
