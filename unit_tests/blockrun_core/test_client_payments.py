"""The client's money rules, against a scripted gateway (httpx.MockTransport).

Each test checks what was *sent*: how many requests, which carried a payment, and how
many distinct signatures exist. A second signature after an ambiguous failure, or any
signature beyond the policy, fails these tests.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from blockrun_core import (
    AsyncBlockRunClient,
    BlockRunClient,
    ConfigurationError,
    PaymentInDoubtError,
    PaymentPolicy,
    PaymentRefusedError,
    RateLimitError,
    StreamTruncatedError,
    UpstreamError,
    errors,
    transport,
)
from blockrun_core.catalog import default_catalog, quote_micros
from blockrun_core.x402 import decode_payment_header, verify_payment_signature
from blockrun_core.x402.encoding import encode_b64_json
from blockrun_core.x402.networks import BASE, BASE_SEPOLIA

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


def quoted(request: httpx.Request, gw: Gateway) -> httpx.Response:
    return challenge(quote_for(request))


def raise_(exc: Exception) -> Handler:
    def handler(request: httpx.Request, gw: Gateway) -> httpx.Response:
        raise exc

    return handler


@pytest.fixture(autouse=True)
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(transport, "_sleep", slept.append)
    monkeypatch.setattr(transport, "_async_sleep", async_sleep)
    return slept


@pytest.fixture
def gw() -> Gateway:
    return Gateway()


def make_client(gw: Gateway, **options: Any) -> BlockRunClient:
    options.setdefault("wallet_key", KEY)
    options.setdefault("api_url", API)
    return BlockRunClient(http_client=httpx.Client(transport=httpx.MockTransport(gw)), **options)


def ask(client: BlockRunClient, model: str = PAID, **params: Any) -> Any:
    return client.chat(model=model, messages=[{"role": "user", "content": "hi"}], **params)


# -- the happy paths --------------------------------------------------------------------------


def test_paid_call_signs_the_quote_once_and_reports_cost_and_receipt(gw: Gateway) -> None:
    gw.script = [quoted, completion("paid answer")]
    result = ask(make_client(gw))

    assert result.content == "paid answer"
    assert len(gw.requests) == 2 and result.round_trips == 2
    assert HEADER not in gw.requests[0].headers
    payload = decode_payment_header(gw.requests[1].headers[HEADER])
    amount = int(payload["payload"]["authorization"]["value"])
    assert amount == quote_for(gw.requests[0])
    assert verify_payment_signature(payload) == PAYER
    assert gw.requests[0].content == gw.requests[1].content  # byte-identical retry
    assert result.cost_usd == pytest.approx(amount / 1e6)
    assert result.payment is not None and result.payment.payer == PAYER
    assert result.receipt is not None and result.receipt.transaction == "0xabc"


def test_free_model_sends_no_payment_and_costs_nothing(gw: Gateway) -> None:
    free = next(m.id for m in default_catalog().models() if m.is_free)
    gw.script = [completion("free", receipt=False)]
    result = ask(make_client(gw), model=free)
    assert result.cost_usd == 0.0 and result.payment is None
    assert len(gw.requests) == 1 and not gw.signatures


def test_max_tokens_is_always_sent_and_unknown_params_pass_through(gw: Gateway) -> None:
    gw.script = [quoted, completion()]
    ask(make_client(gw), seed=7, reasoning_effort="low")
    body = json.loads(gw.requests[0].content)
    assert body["max_tokens"] == 1024
    assert body["seed"] == 7 and body["reasoning_effort"] == "low"


def test_repeated_call_is_preauthorised_in_one_round_trip(gw: Gateway) -> None:
    client = make_client(gw)
    gw.script = [quoted, completion()]
    ask(client)
    first = len(gw.requests)

    def exact_quote(request: httpx.Request, gw: Gateway) -> httpx.Response:
        paid = decode_payment_header(request.headers[HEADER])
        assert int(paid["payload"]["authorization"]["value"]) == quote_for(request)
        return completion()

    gw.script = [exact_quote]
    result = ask(client)
    assert result.round_trips == 1 and len(gw.requests) == first + 1
    assert len(gw.distinct_signatures) == 2  # one payment per call


def test_refused_preauthorisation_falls_back_to_a_fresh_quote(gw: Gateway) -> None:
    client = make_client(gw)
    gw.script = [quoted, completion()]
    ask(client)
    gw.script = [rejection("PAYMENT_UNDERPAID"), quoted, completion()]
    result = ask(client)
    assert result.round_trips == 3
    # the refused pre-authorisation was not charged (402), so the new signature is the only spend
    assert result.cost_usd == pytest.approx(quote_for(gw.requests[-1]) / 1e6)


# -- refusals: nothing is signed -------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer", "policy", "reason"),
    [
        ({"amount": 60_000}, PaymentPolicy(max_per_call_usd=0.05), "over_cap"),
        ({"amount": 1000, "network": BASE_SEPOLIA.caip2}, PaymentPolicy(), "network_not_allowed"),
        ({"amount": 1000, "asset": "0x" + "11" * 20}, PaymentPolicy(), "asset_not_allowed"),
        ({"amount": 1000}, PaymentPolicy(pay_to=("0x" + "22" * 20,)), "pay_to_not_allowed"),
    ],
)
def test_policy_refusals_sign_nothing(
    gw: Gateway, offer: dict[str, Any], policy: PaymentPolicy, reason: str
) -> None:
    amount = offer.pop("amount")
    gw.script = [challenge(amount, **offer)]
    with pytest.raises(PaymentRefusedError) as info:
        ask(make_client(gw, payment_policy=policy))
    assert info.value.reason == reason
    assert len(gw.requests) == 1 and not gw.signatures


def test_paid_model_without_wallet_is_refused_clearly(gw: Gateway) -> None:
    gw.script = [quoted]
    client = BlockRunClient(
        api_url=API, http_client=httpx.Client(transport=httpx.MockTransport(gw))
    )
    with pytest.raises(PaymentRefusedError, match="no wallet") as info:
        ask(client)
    assert info.value.reason == "no_wallet" and not gw.signatures


# -- ambiguous failures after paying: same header, never a second signature -------------------


@pytest.mark.parametrize(
    "failure",
    [
        raise_(httpx.ReadTimeout("slow")),
        raise_(httpx.RemoteProtocolError("reset")),
        httpx.Response(503, json={"error": "busy"}),
        httpx.Response(500),
    ],
    ids=["timeout", "reset", "503", "500"],
)
def test_failure_after_paying_resends_same_header_then_reports_in_doubt(
    gw: Gateway, failure: Handler | httpx.Response
) -> None:
    gw.script = [quoted, failure, failure, failure, failure]
    with pytest.raises(PaymentInDoubtError) as info:
        ask(make_client(gw))
    assert len(gw.distinct_signatures) == 1
    assert len(gw.signatures) == 3  # the payment and two resends of the very same header
    assert info.value.attempts == 3 and info.value.amount_usd > 0
    assert "no second payment" in str(info.value)


def test_failure_then_success_pays_exactly_once(gw: Gateway) -> None:
    gw.script = [quoted, raise_(httpx.ReadTimeout("slow")), completion()]
    result = ask(make_client(gw))
    assert len(gw.distinct_signatures) == 1 and len(gw.signatures) == 2
    assert result.cost_usd is not None and result.cost_usd > 0


def test_replay_after_resend_is_in_doubt_not_resigned(gw: Gateway) -> None:
    gw.script = [quoted, httpx.Response(502), rejection("PAYMENT_REPLAY")]
    with pytest.raises(PaymentInDoubtError):
        ask(make_client(gw))
    assert len(gw.distinct_signatures) == 1


def test_failure_after_preauthorised_payment_never_signs_again(gw: Gateway) -> None:
    client = make_client(gw)
    gw.script = [quoted, completion()]
    ask(client)
    before = len(gw.distinct_signatures)
    gw.script = [raise_(httpx.ReadTimeout("slow"))] * 3
    with pytest.raises(PaymentInDoubtError):
        ask(client)
    assert len(gw.distinct_signatures) == before + 1
    assert all(HEADER in r.headers for r in gw.requests[-3:])


# -- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("PAYMENT_UNFUNDED", errors.PaymentUnfundedError),
        ("PAYMENT_INVALID", errors.PaymentInvalidError),
        ("PAYMENT_VERIFICATION_UNAVAILABLE", errors.PaymentVerificationUnavailableError),
        ("PAYMENT_BLOCKHASH_STALE", errors.PaymentRejectedError),
    ],
)
def test_rejections_raise_their_class_without_resigning(
    gw: Gateway, code: str, error: type[Exception]
) -> None:
    gw.script = [quoted, rejection(code)]
    with pytest.raises(error) as info:
        ask(make_client(gw))
    assert getattr(info.value, "code", None) == code
    assert len(gw.distinct_signatures) == 1 and len(gw.requests) == 2


@pytest.mark.parametrize("code", ["PAYMENT_REPLAY", "SETTLEMENT_FAILED"])
def test_replay_or_settlement_failure_is_in_doubt(gw: Gateway, code: str) -> None:
    gw.script = [quoted, rejection(code)]
    with pytest.raises(PaymentInDoubtError):
        ask(make_client(gw))
    assert len(gw.distinct_signatures) == 1


def test_underpaid_requotes_once_then_gives_up(gw: Gateway) -> None:
    gw.script = [quoted, rejection("PAYMENT_UNDERPAID"), quoted, rejection("PAYMENT_UNDERPAID")]
    with pytest.raises(errors.PaymentUnderpaidError):
        ask(make_client(gw))
    assert len(gw.distinct_signatures) == 2  # both refused with 402: nothing was charged


# -- retries before paying ------------------------------------------------------------------


def test_unpaid_probe_is_retried_with_backoff(gw: Gateway, slept: list[float]) -> None:
    gw.script = [httpx.Response(503), quoted, completion()]
    result = ask(make_client(gw))
    assert result.round_trips == 3 and slept == [0.5]


def test_rate_limit_honours_retry_after_then_raises(gw: Gateway, slept: list[float]) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "2"}, json={"code": "RATE_LIMITED"})
    gw.script = [limited, limited, limited]
    with pytest.raises(RateLimitError) as info:
        ask(make_client(gw))
    assert info.value.retry_after == 2.0 and info.value.retryable
    assert slept == [2.0, 2.0] and not gw.signatures


def test_context_overflow_is_typed(gw: Gateway) -> None:
    gw.script = [
        httpx.Response(
            400, json={"error": {"message": "too long", "code": "CONTEXT_LENGTH_EXCEEDED"}}
        )
    ]
    with pytest.raises(errors.ContextOverflowError):
        ask(make_client(gw))


def test_empty_200_is_an_error(gw: Gateway) -> None:
    gw.script = [quoted, httpx.Response(200, json={"id": "x", "model": PAID, "choices": []})]
    with pytest.raises(UpstreamError, match="no choices") as info:
        ask(make_client(gw))
    assert info.value.code == "EMPTY_RESPONSE"


# -- account rail ------------------------------------------------------------------------------

ACCOUNT_KEY = "brk_live_0123456789abcdef"


def test_account_key_goes_as_bearer_and_5xx_is_not_replayed(gw: Gateway) -> None:
    gw.script = [httpx.Response(502)]
    client = make_client(
        gw, wallet_key=None, api_key=ACCOUNT_KEY, api_url="https://api.blockrun.ai"
    )
    with pytest.raises(UpstreamError):
        ask(client)
    assert len(gw.requests) == 1
    request = gw.requests[0]
    assert request.url.host == "api.blockrun.ai" and request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {ACCOUNT_KEY}"
    assert HEADER not in request.headers


def test_account_call_reports_no_cost(gw: Gateway) -> None:
    gw.script = [completion(receipt=False)]
    client = make_client(
        gw, wallet_key=None, api_key=ACCOUNT_KEY, api_url="https://api.blockrun.ai"
    )
    result = ask(client)
    assert result.cost_usd is None and result.payment is None and client.rail == "account"


# -- bad input: clear errors, nothing sent --------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"wallet_key": "0x1234"}, "malformed"),
        ({"api_url": "http://blockrun.example/api"}, "plain HTTP"),
        ({"api_url": "ftp://x"}, "Invalid API URL"),
        ({"wallet_key": KEY, "api_key": ACCOUNT_KEY}, "not both"),
        ({"wallet_key": None, "api_key": "sk-123"}, "malformed"),
        (
            {"wallet_key": None, "api_key": ACCOUNT_KEY, "api_url": "https://blockrun.ai/api"},
            "never",
        ),
    ],
)
def test_bad_configuration_is_refused_before_any_request(
    gw: Gateway, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        make_client(gw, **options)
    assert KEY not in str(info.value) and "0x1234" not in str(info.value)
    assert not gw.requests


def test_unknown_model_names_close_matches_and_sends_nothing(gw: Gateway) -> None:
    with pytest.raises(ConfigurationError, match="Did you mean") as info:
        ask(make_client(gw), model="openai/gpt-4o-mino")
    assert PAID in info.value.suggestions
    assert not gw.requests


# -- secrets -------------------------------------------------------------------------------


def test_key_never_printed_pickled_or_logged(gw: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(gw)
    gw.script = [quoted, raise_(httpx.ReadTimeout("slow"))] + [httpx.Response(503)] * 3
    with pytest.raises(PaymentInDoubtError) as info:
        ask(client)
    signature = decode_payment_header(gw.signatures[0])["payload"]["signature"]
    texts = [repr(client), str(client), str(info.value), repr(info.value), caplog.text]
    for text in texts:
        assert KEY[2:] not in text and signature[2:] not in text
    assert PAYER in repr(client)
    with pytest.raises(TypeError):
        pickle.dumps(client)


# -- streaming -----------------------------------------------------------------------------


def sse(*events: dict[str, Any] | str, done: bool = True) -> httpx.Response:
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    if done:
        lines.append("data: [DONE]\n\n")
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content="".join(lines).encode()
    )


def delta(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "s",
        "model": PAID,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }


USAGE = {
    "id": "s",
    "model": PAID,
    "choices": [],
    "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4},
}


def stream_all(client: BlockRunClient) -> Iterator[Any]:
    return client.stream(model=PAID, messages=[{"role": "user", "content": "hi"}])


def test_paid_stream_pays_before_the_first_chunk(gw: Gateway) -> None:
    gw.script = [quoted, sse(delta("Hel"), delta("lo", "stop"), USAGE)]
    chunks = list(stream_all(make_client(gw)))
    assert "".join(c.delta for c in chunks) == "Hello"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 4
    assert all(c.cost_usd and c.cost_usd > 0 for c in chunks)
    assert len(gw.distinct_signatures) == 1
    assert json.loads(gw.requests[0].content)["stream"] is True


def test_truncated_stream_is_reported(gw: Gateway) -> None:
    gw.script = [quoted, sse(delta("Hel"), done=False)]
    with pytest.raises(StreamTruncatedError):
        list(stream_all(make_client(gw)))
    assert len(gw.distinct_signatures) == 1


# -- async twin ----------------------------------------------------------------------------


async def test_async_client_follows_the_same_rules(gw: Gateway) -> None:
    gw.script = [quoted, raise_(httpx.ReadTimeout("slow")), completion("async")]
    client = AsyncBlockRunClient(
        wallet_key=KEY,
        api_url=API,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(gw)),
    )
    result = await client.chat(model=PAID, messages=[{"role": "user", "content": "hi"}])
    assert result.content == "async" and len(gw.distinct_signatures) == 1

    gw.script = [sse(delta("a"), delta("b", "stop"), USAGE)]
    pieces = [
        c.delta
        async for c in client.stream(model=PAID, messages=[{"role": "user", "content": "x"}])
    ]
    assert "".join(pieces) == "ab"
    await client.aclose()


class BrokenBody(httpx.SyncByteStream):
    """A body that breaks off after its first bytes, and remembers being closed."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"id": "c1", "cho'
        raise httpx.ReadError("connection reset mid-body")

    def close(self) -> None:
        self.closed = True


def test_body_broken_after_paying_is_closed_and_the_same_header_resent(gw: Gateway) -> None:
    broken = BrokenBody()
    gw.script = [quoted, httpx.Response(200, stream=broken), completion("recovered")]
    result = ask(make_client(gw))
    assert broken.closed
    assert result.content == "recovered"
    assert len(gw.signatures) == 2 and len(gw.distinct_signatures) == 1
