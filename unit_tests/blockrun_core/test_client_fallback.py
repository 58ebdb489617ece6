"""Walking a chain of models: which failures move on, which stop, and what gets paid.

The scripted gateway answers per model, so each test states exactly how every model of
the chain behaves, and checks which models were tried and how many payments were signed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx
import pytest
from blockrun_core import (
    AllModelsFailedError,
    PaymentInDoubtError,
    PaymentPolicy,
    RateLimitError,
    UpstreamError,
    errors,
)

from unit_tests.blockrun_core.scripted_gateway import (
    Gateway,
    Handler,
    ask,
    challenge,
    completion,
    make_client,
    quoted,
    raise_,
    rejection,
)

pytestmark = pytest.mark.usefixtures("slept")

A = "openai/gpt-4o-mini"
B = "anthropic/claude-haiku-4.5"
C = "google/gemini-2.5-flash"
FREE = "nvidia/gpt-oss-120b"

Step = Handler | httpx.Response


def per_model(fake: Gateway, **scripts: Sequence[Step]) -> None:
    """Answer each model from its own script (keyed by the model id with / as __)."""
    queues = {model.replace("__", "/"): list(steps) for model, steps in scripts.items()}

    def dispatch(request: httpx.Request, gateway: Gateway) -> httpx.Response:
        model = json.loads(request.content)["model"]
        step = queues[model].pop(0) if queues.get(model) else completion(f"from {model}")
        return step(request, gateway) if callable(step) else step

    fake.script = [dispatch] * 50


def models_tried(fake: Gateway) -> list[str]:
    return [json.loads(r.content)["model"] for r in fake.requests]


def paid(fake: Gateway) -> int:
    return len(fake.distinct_signatures)


K = {"A": "openai__gpt-4o-mini", "B": "anthropic__claude-haiku-4.5"}


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(503, json={"error": "busy"}),
        httpx.Response(529),
        httpx.Response(500),
        raise_(httpx.ConnectError("refused")),
        raise_(httpx.ReadTimeout("slow")),
    ],
    ids=["503", "529", "500", "connect", "timeout"],
)
def test_transient_failure_before_paying_moves_to_the_next_model(
    fake: Gateway, failure: Step
) -> None:
    per_model(fake, **{K["A"]: [failure], K["B"]: [quoted, completion("from B")]})
    result = ask(make_client(fake, fallback_models=[B, C]), model=A)
    assert result.content == "from B" and result.model != "" and result.requested_model == B
    assert models_tried(fake) == [A, B, B]
    assert [a.model for a in result.attempts] == [A]
    assert paid(fake) == 1


def test_rate_limit_retries_the_same_model_once_then_moves_on(
    fake: Gateway, slept: list[float]
) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "2"}, json={"code": "RATE_LIMITED"})
    per_model(fake, **{K["A"]: [limited, limited], K["B"]: [quoted, completion("from B")]})
    result = ask(make_client(fake, fallback_models=[B]), model=A)
    assert result.content == "from B"
    assert models_tried(fake) == [A, A, B, B]
    assert slept == [2.0]
    assert isinstance(result.attempts[0].error, RateLimitError)


def test_long_retry_after_moves_on_without_waiting(fake: Gateway, slept: list[float]) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "120"})
    per_model(fake, **{K["A"]: [limited], K["B"]: [quoted, completion("from B")]})
    assert ask(make_client(fake, fallback_models=[B]), model=A).content == "from B"
    assert slept == [] and models_tried(fake) == [A, B, B]


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"content": ""}, "blank"),
        ({"content": "\n"}, "blank"),
        ({"content": "the " * 12}, "repeated"),
    ],
)
def test_degenerate_free_answer_moves_on(
    fake: Gateway, answer: dict[str, str], problem: str
) -> None:
    body = {
        "id": "x",
        "model": FREE,
        "choices": [{"index": 0, "message": {"role": "assistant", **answer}}],
    }
    per_model(fake, **{"nvidia__gpt-oss-120b": [httpx.Response(200, json=body)]})
    result = ask(make_client(fake, fallback_models=[B]), model=FREE)
    assert result.requested_model == B
    error = result.attempts[0].error
    assert isinstance(error, UpstreamError) and problem in error.message


def test_degenerate_paid_answer_stops_unless_a_second_spend_is_allowed(fake: Gateway) -> None:
    blank = completion("   ")
    per_model(fake, **{K["A"]: [quoted, blank], K["B"]: [quoted, completion("from B")]})
    with pytest.raises(UpstreamError, match="after a payment") as info:
        ask(make_client(fake, fallback_models=[B]), model=A)
    assert info.value.paid_usd > 0 and paid(fake) == 1

    fake.requests.clear()
    per_model(fake, **{K["A"]: [quoted, blank], K["B"]: [quoted, completion("from B")]})
    client = make_client(fake, fallback_models=[B], allow_second_spend=True)
    result = ask(client, model=A)
    assert result.content == "from B" and paid(fake) == 2  # recorded as a second spend
    assert result.attempts[0].error.paid_usd > 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "failure",
    [
        raise_(httpx.ReadTimeout("slow")),
        httpx.Response(503),
        rejection("PAYMENT_REPLAY"),
        rejection("SETTLEMENT_FAILED"),
    ],
    ids=["timeout", "503", "replay", "settlement"],
)
def test_payment_in_doubt_stops_the_chain(fake: Gateway, failure: Step) -> None:
    per_model(fake, **{K["A"]: [quoted, failure, failure, failure]})
    with pytest.raises(PaymentInDoubtError):
        ask(make_client(fake, fallback_models=[B, C]), model=A)
    assert set(models_tried(fake)) == {A}
    assert paid(fake) == 1


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.Response(400, json={"code": "INVALID_PARAMETER"}), UpstreamError),
        (
            httpx.Response(400, json={"error": {"code": "CONTEXT_LENGTH_EXCEEDED"}}),
            errors.ContextOverflowError,
        ),
        (rejection("PAYMENT_UNFUNDED"), errors.PaymentUnfundedError),
        (rejection("PAYMENT_INVALID"), errors.PaymentInvalidError),
    ],
    ids=["400", "context", "unfunded", "invalid"],
)
def test_request_and_payment_errors_stop_the_chain(
    fake: Gateway, failure: httpx.Response, error: type[Exception]
) -> None:
    script = [failure] if failure.status_code == 400 else [quoted, failure]
    per_model(fake, **{K["A"]: script})
    with pytest.raises(error):
        ask(make_client(fake, fallback_models=[B, C]), model=A)
    assert set(models_tried(fake)) == {A}


def test_price_above_the_cap_moves_to_the_next_model_without_signing(fake: Gateway) -> None:
    per_model(fake, **{K["A"]: [challenge(90_000)], K["B"]: [challenge(2_000), completion("B")]})
    client = make_client(fake, fallback_models=[B], payment_policy=PaymentPolicy(0.05))
    result = ask(client, model=A)
    assert result.content == "B" and paid(fake) == 1
    assert result.attempts[0].error.reason == "over_cap"  # type: ignore[attr-defined]


def test_all_failed_lists_every_attempt(fake: Gateway) -> None:
    per_model(
        fake,
        **{
            K["A"]: [httpx.Response(503)],
            K["B"]: [httpx.Response(502)],
            "google__gemini-2.5-flash": [raise_(httpx.ConnectError("down"))],
        },
    )
    with pytest.raises(AllModelsFailedError) as info:
        ask(make_client(fake, fallback_models=[B, C]), model=A)
    assert [a.model for a in info.value.attempts] == [A, B, C]
    assert all(isinstance(a.error, UpstreamError) for a in info.value.attempts)
    text = str(info.value)
    assert A in text and "HTTP 502" in text and "ConnectError" in text
    assert info.value.retryable and paid(fake) == 0


def test_failed_model_is_cooled_down_per_model(fake: Gateway) -> None:
    client = make_client(fake, fallback_models=[B])
    per_model(fake, **{K["A"]: [httpx.Response(503)], K["B"]: [quoted, completion("B")]})
    ask(client, model=A)
    fake.requests.clear()
    per_model(fake, **{K["B"]: [quoted, completion("B again")]})
    assert ask(client, model=A).content == "B again"
    assert models_tried(fake)[0] == B  # A is cooling down: not tried first
    # same provider, other model: not cooled
    fake.requests.clear()
    per_model(fake, **{"openai__gpt-4.1-mini": [quoted, completion("mini")]})
    assert ask(client, model="openai/gpt-4.1-mini").content == "mini"


def test_cooled_model_is_still_tried_when_it_is_the_only_one(fake: Gateway) -> None:
    client = make_client(fake, cooldown_seconds=600)
    per_model(fake, **{K["A"]: [httpx.Response(503)] * 3})
    with pytest.raises(UpstreamError):
        ask(client, model=A)
    fake.requests.clear()
    per_model(fake, **{K["A"]: [quoted, completion("back")]})
    assert ask(client, model=A).content == "back"


def test_single_model_keeps_its_own_retries(fake: Gateway, slept: list[float]) -> None:
    per_model(fake, **{K["A"]: [httpx.Response(503), quoted, completion("ok")]})
    assert ask(make_client(fake), model=A).content == "ok"
    assert models_tried(fake) == [A, A, A] and slept == [0.5]


def test_per_call_fallback_models_override_the_client_default(fake: Gateway) -> None:
    per_model(fake, **{K["A"]: [httpx.Response(503)], "google__gemini-2.5-flash": [quoted]})
    result = ask(make_client(fake, fallback_models=[B]), model=A, fallback_models=[C])
    assert result.requested_model == C
    assert "fallback_models" not in json.loads(fake.requests[0].content)
