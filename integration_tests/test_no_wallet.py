"""Without a wallet or an account key, a routed call goes straight to the free models."""

from __future__ import annotations

import pytest
from blockrun_core import BlockRunClient, CredentialError, PaymentRefusedError
from blockrun_core.testing import LocalGateway

HI = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.mark.parametrize("profile", ["auto", "premium", "blockrun/eco"])
def test_a_routed_call_without_a_wallet_tries_only_free_models(
    gw: LocalGateway, profile: str
) -> None:
    with BlockRunClient(api_url=gw.url, ledger=False) as client:
        result = client.chat(model=profile, messages=HI)
    assert result.routing is not None
    assert all(client.catalog.get(m).is_free for m in result.routing.candidates)
    assert result.model == result.routing.model and result.cost_usd == 0
    assert "no wallet or account key: free models only" in result.routing.signals
    assert len(gw.requests) == 1 and not gw.payments  # no 402 from a paid candidate first


def test_a_request_no_free_model_can_serve_says_a_wallet_is_missing(gw: LocalGateway) -> None:
    ask = [{"role": "user", "content": "Use get_weather for Paris."}]
    client = BlockRunClient(api_url=gw.url, ledger=False)
    with client, pytest.raises(CredentialError, match="BLOCKRUN_WALLET_KEY") as info:
        client.chat(model="auto", messages=ask, tools=[WEATHER_TOOL])
    assert "tool calling" in info.value.message
    assert not gw.requests


def test_a_concrete_paid_model_without_a_wallet_is_refused_after_one_probe(
    gw: LocalGateway,
) -> None:
    client = BlockRunClient(api_url=gw.url, ledger=False)
    with client, pytest.raises(PaymentRefusedError):
        client.chat(model="openai/gpt-4o-mini", messages=HI)
    assert len(gw.requests) == 1 and not gw.payments
