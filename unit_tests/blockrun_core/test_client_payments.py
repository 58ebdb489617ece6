"""The client's money rules, against a scripted gateway (httpx.MockTransport).

Each test checks what was *sent*: how many requests, which carried a payment, and how
many distinct signatures exist. A second signature after an ambiguous failure, or any
signature beyond the policy, fails these tests.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Iterator
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
)
from blockrun_core.catalog import default_catalog
from blockrun_core.x402 import decode_payment_header, verify_payment_signature
from blockrun_core.x402.networks import BASE_SEPOLIA

from unit_tests.blockrun_core.scripted_gateway import (
    API,
    HEADER,
    KEY,
    PAID,
    PAYER,
    Gateway,
    Handler,
    ask,
    challenge,
    completion,
    make_client,
    quote_for,
    quoted,
    raise_,
    rejection,
)

pytestmark = pytest.mark.usefixtures("slept")


# -- the happy paths --------------------------------------------------------------------------


def test_paid_call_signs_the_quote_once_and_reports_cost_and_receipt(fake: Gateway) -> None:
    fake.script = [quoted, completion("paid answer")]
    result = ask(make_client(fake))

    assert result.content == "paid answer"
    assert len(fake.requests) == 2 and result.round_trips == 2
    assert HEADER not in fake.requests[0].headers
    payload = decode_payment_header(fake.requests[1].headers[HEADER])
    amount = int(payload["payload"]["authorization"]["value"])
    assert amount == quote_for(fake.requests[0])
    assert verify_payment_signature(payload) == PAYER
    assert fake.requests[0].content == fake.requests[1].content  # byte-identical retry
    assert result.cost_usd == pytest.approx(amount / 1e6)
    assert result.payment is not None and result.payment.payer == PAYER
    assert result.receipt is not None and result.receipt.transaction == "0xabc"


def test_free_model_sends_no_payment_and_costs_nothing(fake: Gateway) -> None:
    free = next(m.id for m in default_catalog().models() if m.is_free)
    fake.script = [completion("free", receipt=False)]
    result = ask(make_client(fake), model=free)
    assert result.cost_usd == 0.0 and result.payment is None
    assert len(fake.requests) == 1 and not fake.signatures


def test_max_tokens_is_always_sent_and_unknown_params_pass_through(fake: Gateway) -> None:
    fake.script = [quoted, completion()]
    ask(make_client(fake), seed=7, reasoning_effort="low")
    body = json.loads(fake.requests[0].content)
    assert body["max_tokens"] == 1024
    assert body["seed"] == 7 and body["reasoning_effort"] == "low"


def test_repeated_call_is_preauthorised_in_one_round_trip(fake: Gateway) -> None:
    client = make_client(fake)
    fake.script = [quoted, completion()]
    ask(client)
    first = len(fake.requests)

    def exact_quote(request: httpx.Request, fake: Gateway) -> httpx.Response:
        paid = decode_payment_header(request.headers[HEADER])
        assert int(paid["payload"]["authorization"]["value"]) == quote_for(request)
        return completion()

    fake.script = [exact_quote]
    result = ask(client)
    assert result.round_trips == 1 and len(fake.requests) == first + 1
    assert len(fake.distinct_signatures) == 2  # one payment per call


def test_refused_preauthorisation_falls_back_to_a_fresh_quote(fake: Gateway) -> None:
    client = make_client(fake)
    fake.script = [quoted, completion()]
    ask(client)
    fake.script = [rejection("PAYMENT_UNDERPAID"), quoted, completion()]
    result = ask(client)
    assert result.round_trips == 3
    # the refused pre-authorisation was not charged (402), so the new signature is the only spend
    assert result.cost_usd == pytest.approx(quote_for(fake.requests[-1]) / 1e6)


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
    fake: Gateway, offer: dict[str, Any], policy: PaymentPolicy, reason: str
) -> None:
    amount = offer.pop("amount")
    fake.script = [challenge(amount, **offer)]
    with pytest.raises(PaymentRefusedError) as info:
        ask(make_client(fake, payment_policy=policy))
    assert info.value.reason == reason
    assert len(fake.requests) == 1 and not fake.signatures


def test_paid_model_without_wallet_is_refused_clearly(fake: Gateway) -> None:
    fake.script = [quoted]
    client = BlockRunClient(
        api_url=API, http_client=httpx.Client(transport=httpx.MockTransport(fake))
    )
    with pytest.raises(PaymentRefusedError, match="no wallet") as info:
        ask(client)
    assert info.value.reason == "no_wallet" and not fake.signatures


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
    fake: Gateway, failure: Handler | httpx.Response
) -> None:
    fake.script = [quoted, failure, failure, failure, failure]
    with pytest.raises(PaymentInDoubtError) as info:
        ask(make_client(fake))
    assert len(fake.distinct_signatures) == 1
    assert len(fake.signatures) == 3  # the payment and two resends of the very same header
    assert info.value.attempts == 3 and info.value.amount_usd > 0
    assert "no second payment" in str(info.value)


def test_failure_then_success_pays_exactly_once(fake: Gateway) -> None:
    fake.script = [quoted, raise_(httpx.ReadTimeout("slow")), completion()]
    result = ask(make_client(fake))
    assert len(fake.distinct_signatures) == 1 and len(fake.signatures) == 2
    assert result.cost_usd is not None and result.cost_usd > 0


def test_replay_after_resend_is_in_doubt_not_resigned(fake: Gateway) -> None:
    fake.script = [quoted, httpx.Response(502), rejection("PAYMENT_REPLAY")]
    with pytest.raises(PaymentInDoubtError):
        ask(make_client(fake))
    assert len(fake.distinct_signatures) == 1


def test_failure_after_preauthorised_payment_never_signs_again(fake: Gateway) -> None:
    client = make_client(fake)
    fake.script = [quoted, completion()]
    ask(client)
    before = len(fake.distinct_signatures)
    fake.script = [raise_(httpx.ReadTimeout("slow"))] * 3
    with pytest.raises(PaymentInDoubtError):
        ask(client)
    assert len(fake.distinct_signatures) == before + 1
    assert all(HEADER in r.headers for r in fake.requests[-3:])


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
    fake: Gateway, code: str, error: type[Exception]
) -> None:
    fake.script = [quoted, rejection(code)]
    with pytest.raises(error) as info:
        ask(make_client(fake))
    assert getattr(info.value, "code", None) == code
    assert len(fake.distinct_signatures) == 1 and len(fake.requests) == 2


@pytest.mark.parametrize("code", ["PAYMENT_REPLAY", "SETTLEMENT_FAILED"])
def test_replay_or_settlement_failure_is_in_doubt(fake: Gateway, code: str) -> None:
    fake.script = [quoted, rejection(code)]
    with pytest.raises(PaymentInDoubtError):
        ask(make_client(fake))
    assert len(fake.distinct_signatures) == 1


def test_underpaid_requotes_once_then_gives_up(fake: Gateway) -> None:
    fake.script = [quoted, rejection("PAYMENT_UNDERPAID"), quoted, rejection("PAYMENT_UNDERPAID")]
    with pytest.raises(errors.PaymentUnderpaidError):
        ask(make_client(fake))
    assert len(fake.distinct_signatures) == 2  # both refused with 402: nothing was charged


# -- retries before paying ------------------------------------------------------------------


def test_unpaid_probe_is_retried_with_backoff(fake: Gateway, slept: list[float]) -> None:
    fake.script = [httpx.Response(503), quoted, completion()]
    result = ask(make_client(fake))
    assert result.round_trips == 3 and slept == [0.5]


def test_rate_limit_honours_retry_after_then_raises(fake: Gateway, slept: list[float]) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "2"}, json={"code": "RATE_LIMITED"})
    fake.script = [limited, limited, limited]
    with pytest.raises(RateLimitError) as info:
        ask(make_client(fake))
    assert info.value.retry_after == 2.0 and info.value.retryable
    assert slept == [2.0, 2.0] and not fake.signatures


def test_context_overflow_is_typed(fake: Gateway) -> None:
    fake.script = [
        httpx.Response(
            400, json={"error": {"message": "too long", "code": "CONTEXT_LENGTH_EXCEEDED"}}
        )
    ]
    with pytest.raises(errors.ContextOverflowError):
        ask(make_client(fake))


def test_empty_200_is_an_error(fake: Gateway) -> None:
    fake.script = [quoted, httpx.Response(200, json={"id": "x", "model": PAID, "choices": []})]
    with pytest.raises(UpstreamError, match="no choices") as info:
        ask(make_client(fake))
    assert info.value.code == "EMPTY_RESPONSE"


# -- account rail ------------------------------------------------------------------------------

ACCOUNT_KEY = "brk_live_0123456789abcdef"


def test_account_key_goes_as_bearer_and_5xx_is_not_replayed(fake: Gateway) -> None:
    fake.script = [httpx.Response(502)]
    client = make_client(
        fake, wallet_key=None, api_key=ACCOUNT_KEY, api_url="https://api.blockrun.ai"
    )
    with pytest.raises(UpstreamError):
        ask(client)
    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.url.host == "api.blockrun.ai" and request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {ACCOUNT_KEY}"
    assert HEADER not in request.headers


def test_account_call_reports_no_cost(fake: Gateway) -> None:
    fake.script = [completion(receipt=False)]
    client = make_client(
        fake, wallet_key=None, api_key=ACCOUNT_KEY, api_url="https://api.blockrun.ai"
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
    fake: Gateway, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        make_client(fake, **options)
    assert KEY not in str(info.value) and "0x1234" not in str(info.value)
    assert not fake.requests


def test_unknown_model_names_close_matches_and_sends_nothing(fake: Gateway) -> None:
    with pytest.raises(ConfigurationError, match="Did you mean") as info:
        ask(make_client(fake), model="openai/gpt-4o-mino")
    assert PAID in info.value.suggestions
    assert not fake.requests


# -- secrets -------------------------------------------------------------------------------


def test_key_never_printed_pickled_or_logged(
    fake: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(fake)
    fake.script = [quoted, raise_(httpx.ReadTimeout("slow"))] + [httpx.Response(503)] * 3
    with pytest.raises(PaymentInDoubtError) as info:
        ask(client)
    signature = decode_payment_header(fake.signatures[0])["payload"]["signature"]
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


def test_paid_stream_pays_before_the_first_chunk(fake: Gateway) -> None:
    fake.script = [quoted, sse(delta("Hel"), delta("lo", "stop"), USAGE)]
    chunks = list(stream_all(make_client(fake)))
    assert "".join(c.delta for c in chunks) == "Hello"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 4
    assert all(c.cost_usd and c.cost_usd > 0 for c in chunks)
    assert len(fake.distinct_signatures) == 1
    assert json.loads(fake.requests[0].content)["stream"] is True


def test_truncated_stream_is_reported(fake: Gateway) -> None:
    fake.script = [quoted, sse(delta("Hel"), done=False)]
    with pytest.raises(StreamTruncatedError):
        list(stream_all(make_client(fake)))
    assert len(fake.distinct_signatures) == 1


# -- async twin ----------------------------------------------------------------------------


async def test_async_client_follows_the_same_rules(fake: Gateway) -> None:
    fake.script = [quoted, raise_(httpx.ReadTimeout("slow")), completion("async")]
    client = AsyncBlockRunClient(
        wallet_key=KEY,
        api_url=API,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)),
    )
    result = await client.chat(model=PAID, messages=[{"role": "user", "content": "hi"}])
    assert result.content == "async" and len(fake.distinct_signatures) == 1

    fake.script = [sse(delta("a"), delta("b", "stop"), USAGE)]
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


def test_body_broken_after_paying_is_closed_and_the_same_header_resent(fake: Gateway) -> None:
    broken = BrokenBody()
    fake.script = [quoted, httpx.Response(200, stream=broken), completion("recovered")]
    result = ask(make_client(fake))
    assert broken.closed
    assert result.content == "recovered"
    assert len(fake.signatures) == 2 and len(fake.distinct_signatures) == 1
