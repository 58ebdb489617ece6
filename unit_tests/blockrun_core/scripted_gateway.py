"""A scripted stand-in for the gateway (httpx.MockTransport) for the client's unit tests.

Tests script the answers; the gateway records every request, so a test can check what
was sent: how many requests, which carried a payment, how many distinct signatures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from blockrun_core import BlockRunClient
from blockrun_core.catalog import default_catalog, quote_micros
from blockrun_core.x402.encoding import encode_b64_json
from blockrun_core.x402.networks import BASE

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PAYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PAY_TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
API = "https://blockrun.ai/api"
PAID = "openai/gpt-4o-mini"
HEADER = "payment-signature"

Handler = Callable[[httpx.Request, "Gateway"], httpx.Response]


def challenge(
    amount: int, *, network: str = BASE.caip2, asset: str = BASE.usdc, pay_to: str = PAY_TO
) -> httpx.Response:
    required = {
        "x402Version": 2,
        "accepts": [
            {
                "scheme": "exact",
                "network": network,
                "amount": str(amount),
                "asset": asset,
                "payTo": pay_to,
                "maxTimeoutSeconds": 300,
                "extra": {"name": "USD Coin", "version": "2"},
            }
        ],
        "resource": {"url": f"{API}/v1/chat/completions", "description": "call"},
    }
    return httpx.Response(402, headers={"PAYMENT-REQUIRED": encode_b64_json(required)}, json={})


def completion(text: str = "hello", *, receipt: bool = True) -> httpx.Response:
    headers = {}
    if receipt:
        headers["PAYMENT-RESPONSE"] = encode_b64_json(
            {"success": True, "transaction": "0xabc", "network": BASE.caip2, "payer": PAYER}
        )
    body = {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": PAID,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    return httpx.Response(200, headers=headers, json=body)


def rejection(code: str) -> httpx.Response:
    return httpx.Response(
        402, json={"error": "Payment verification failed", "code": code, "message": code}
    )


def quote_for(request: httpx.Request) -> int:
    """What a gateway using the documented formula asks for this request."""
    body = json.loads(request.content)
    return quote_micros(default_catalog().get(body["model"]), body)


@dataclass
class Gateway:
    """Scripted answers; records every request and the payments it carried."""

    script: list[Handler | httpx.Response] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else completion()
        return step(request, self) if callable(step) else step

    @property
    def signatures(self) -> list[str]:
        return [r.headers[HEADER] for r in self.requests if HEADER in r.headers]

    @property
    def distinct_signatures(self) -> set[str]:
        return set(self.signatures)


def quoted(request: httpx.Request, fake: Gateway) -> httpx.Response:
    return challenge(quote_for(request))


def raise_(exc: Exception) -> Handler:
    def handler(request: httpx.Request, fake: Gateway) -> httpx.Response:
        raise exc

    return handler


def make_client(fake: Gateway, **options: Any) -> BlockRunClient:
    options.setdefault("wallet_key", KEY)
    options.setdefault("api_url", API)
    return BlockRunClient(http_client=httpx.Client(transport=httpx.MockTransport(fake)), **options)


def ask(client: BlockRunClient, model: str = PAID, **params: Any) -> Any:
    return client.chat(model=model, messages=[{"role": "user", "content": "hi"}], **params)
