"""LocalGateway's fault injection, and what each fault does to nonces and recorded payments."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from blockrun_core.testing import Fault, LocalGateway, Payer
from blockrun_core.x402 import decode_b64_json

PAID = "openai/gpt-4o-mini"
OTHER = "anthropic/claude-haiku-4.5"
FREE = "nvidia/gpt-oss-20b"
BODY: dict[str, Any] = {
    "model": PAID,
    "messages": [{"role": "user", "content": "hello faults"}],
    "max_tokens": 500,
}
STREAM = {**BODY, "stream": True}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def url(gw: LocalGateway) -> str:
    return gw.url + "/v1/chat/completions"


def payment_header(client: httpx.Client, gw: LocalGateway, body: dict[str, Any] = BODY) -> str:
    probe = client.post(url(gw), json=body)
    assert probe.status_code == 402, probe.text
    return Payer().header(decode_b64_json(probe.headers["PAYMENT-REQUIRED"]))


def pay(
    client: httpx.Client, gw: LocalGateway, header: str, body: dict[str, Any] = BODY
) -> httpx.Response:
    return client.post(url(gw), json=body, headers={"PAYMENT-SIGNATURE": header})


def data_frames(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def wait_for(predicate: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_429_with_retry_after(gw: LocalGateway, client: httpx.Client) -> None:
    gw.inject(Fault.error(429, retry_after=7))
    response = client.post(url(gw), json=BODY)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    body = response.json()
    assert body["code"] == body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["type"] == "rate_limit_error"
    assert body["retry_after_seconds"] == 7
    assert client.post(url(gw), json=BODY).status_code == 402  # fired once


def test_429_without_retry_after(gw: LocalGateway, client: httpx.Client) -> None:
    gw.inject(Fault.error(429))
    response = client.post(url(gw), json=BODY)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "INTERNAL_ERROR"),
        (502, "UPSTREAM_ERROR"),
        (503, "MODEL_UNAVAILABLE"),
        (504, "TIMEOUT"),
        (529, "OVERLOADED"),
    ],
)
def test_server_errors_on_the_probe(
    gw: LocalGateway, client: httpx.Client, status: int, code: str
) -> None:
    gw.inject(Fault.error(status, phase="unpaid"))
    response = client.post(url(gw), json=BODY)
    assert response.status_code == status
    assert response.json()["error"] == {
        "message": response.json()["message"],
        "type": "api_error",
        "code": code,
        "param": None,
    }


def test_faults_target_a_model_and_a_number_of_times(
    gw: LocalGateway, client: httpx.Client
) -> None:
    gw.inject(Fault.error(503, model=OTHER, times=2))
    assert client.post(url(gw), json=BODY).status_code == 402
    other = {**BODY, "model": OTHER}
    assert [client.post(url(gw), json=other).status_code for _ in range(3)] == [503, 503, 402]
    assert gw.pending_faults == []


def test_free_models_get_faults_too(gw: LocalGateway, client: httpx.Client) -> None:
    gw.inject(Fault.error(502, model=FREE))
    free = {**BODY, "model": FREE}
    assert client.post(url(gw), json=free).status_code == 502
    assert client.post(url(gw), json=free).status_code == 200


def test_paid_5xx_after_claim_consumes_the_nonce_but_charges_nothing(
    gw: LocalGateway, client: httpx.Client
) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.error(503, phase="paid"))
    assert pay(client, gw, header).status_code == 503
    assert gw.payments == []
    assert len(gw.claimed_nonces) == 1
    again = pay(client, gw, header)
    assert again.json()["code"] == "PAYMENT_REPLAY"
    assert gw.payments == []


def test_paid_5xx_before_claim_leaves_the_payment_usable(
    gw: LocalGateway, client: httpx.Client
) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.error(502, phase="paid", at="before_claim"))
    assert pay(client, gw, header).status_code == 502
    assert gw.claimed_nonces == []
    assert pay(client, gw, header).status_code == 200
    assert len(gw.payments) == 1


def test_paid_5xx_after_settlement_is_charged(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.error(500, phase="paid", at="after_settle"))
    assert pay(client, gw, header).status_code == 500
    assert len(gw.payments) == 1
    assert pay(client, gw, header).json()["code"] == "PAYMENT_REPLAY"
    assert len(gw.payments) == 1


def test_delay_triggers_a_client_read_timeout(gw: LocalGateway) -> None:
    gw.inject(Fault.delay(0.3, phase="unpaid"))
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.05)) as fast,
        pytest.raises(httpx.ReadTimeout),
    ):
        fast.post(url(gw), json=BODY)
    wait_for(lambda: len(gw.requests) == 1)  # the server still answers, late


def test_paid_delay_claims_first_then_settles_once(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.delay(0.3, phase="paid"))
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.05)) as fast,
        pytest.raises(httpx.ReadTimeout),
    ):
        pay(fast, gw, header)
    assert pay(client, gw, header).json()["code"] == "PAYMENT_REPLAY"  # resend while running
    wait_for(lambda: len(gw.payments) == 1)  # the first send completes and settles


def test_a_stall_in_the_middle_of_a_stream(gw: LocalGateway) -> None:
    gw.inject(Fault.delay(0.3, after_chunks=2))
    timeout = httpx.Timeout(5, read=0.05)
    with (
        httpx.Client(timeout=timeout) as fast,
        fast.stream("POST", url(gw), json={**STREAM, "model": FREE}) as response,
    ):
        lines = response.iter_lines()
        assert next(lines).startswith("data: {")
        with pytest.raises(httpx.ReadTimeout):
            list(lines)


def test_after_chunks_is_ignored_without_a_stream(gw: LocalGateway, client: httpx.Client) -> None:
    gw.inject(Fault.reset(after_chunks=2))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.post(url(gw), json=BODY)


def test_reset_before_any_response(gw: LocalGateway, client: httpx.Client) -> None:
    gw.inject(Fault.reset(phase="unpaid"))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.post(url(gw), json=BODY)
    assert gw.requests[-1].status == 0
    assert client.post(url(gw), json=BODY).status_code == 402


def test_paid_reset_consumes_the_nonce_without_charging(
    gw: LocalGateway, client: httpx.Client
) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.reset(phase="paid"))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        pay(client, gw, header)
    assert gw.payments == []
    assert len(gw.claimed_nonces) == 1


def test_reset_in_the_middle_of_a_stream(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw, STREAM)
    gw.inject(Fault.reset(after_chunks=2, phase="paid"))
    received: list[str] = []
    with client.stream(
        "POST", url(gw), json=STREAM, headers={"PAYMENT-SIGNATURE": header}
    ) as response:
        assert response.status_code == 200
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            received.extend(response.iter_lines())
    assert "data: [DONE]" not in received
    assert len(gw.payments) == 1  # the stream had started: it was settled


def test_truncated_stream_ends_without_finish_or_done(
    gw: LocalGateway, client: httpx.Client
) -> None:
    header = payment_header(client, gw, STREAM)
    gw.inject(Fault.truncate(after_chunks=3))
    response = pay(client, gw, header, STREAM)
    assert response.status_code == 200
    frames = data_frames(response.text)
    assert len(frames) == 3
    assert "[DONE]" not in response.text
    assert all(f["choices"][0]["finish_reason"] is None for f in frames)
    assert len(gw.payments) == 1


def test_truncation_never_reaches_the_finish_frame(gw: LocalGateway, client: httpx.Client) -> None:
    gw.inject(Fault.truncate(after_chunks=1000))
    response = client.post(url(gw), json={**STREAM, "model": FREE})
    frames = data_frames(response.text)
    assert frames
    assert all(f["choices"] and f["choices"][0]["finish_reason"] is None for f in frames)


def test_empty_body(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.empty())
    response = pay(client, gw, header)
    assert (response.status_code, response.content) == (200, b"")
    assert len(gw.payments) == 1  # served, so charged


def test_empty_choices(gw: LocalGateway, client: httpx.Client) -> None:
    gw.inject(Fault.empty("choices", model=FREE))
    response = client.post(url(gw), json={**BODY, "model": FREE})
    assert response.json()["choices"] == []


def test_empty_choices_stream_has_only_the_usage_frame(
    gw: LocalGateway, client: httpx.Client
) -> None:
    gw.inject(Fault.empty("choices"))
    response = client.post(url(gw), json={**STREAM, "model": FREE})
    [frame] = data_frames(response.text)
    assert frame["choices"] == []
    assert response.text.endswith("data: [DONE]\n\n")


def test_degenerate_answer(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.degenerate())
    choice = pay(client, gw, header).json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("", "stop")
    assert len(gw.payments) == 1


def test_price_change_between_probe_and_paid_retry(gw: LocalGateway, client: httpx.Client) -> None:
    old = gw.quote(BODY)
    gw.inject(Fault.price_change(old * 2, model=PAID))
    header = payment_header(client, gw)  # quoted at the old price
    refused = pay(client, gw, header)
    assert refused.json()["code"] == "PAYMENT_UNDERPAID"
    assert gw.payments == []
    assert gw.quote(BODY) == old * 2
    assert pay(client, gw, payment_header(client, gw)).status_code == 200
    assert [p.amount_micros for p in gw.payments] == [old * 2]


def test_settlement_that_does_not_land(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.settlement_failure())
    response = pay(client, gw, header)
    assert response.status_code == 200
    assert response.headers["X-Payment-Settled"] == "false"
    assert "X-Payment-Receipt" not in response.headers
    assert decode_b64_json(response.headers["PAYMENT-RESPONSE"])["transaction"] == ""
    assert gw.payments == []
    assert len(gw.claimed_nonces) == 1


def test_settlement_refused(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.settlement_failure("rejected"))
    response = pay(client, gw, header)
    assert response.status_code == 402
    assert response.json()["code"] == "SETTLEMENT_FAILED"
    assert gw.payments == []
    assert len(gw.claimed_nonces) == 1


@pytest.mark.parametrize(
    "code", ["PAYMENT_UNFUNDED", "PAYMENT_INVALID", "PAYMENT_VERIFICATION_UNAVAILABLE"]
)
def test_forced_rejection_consumes_nothing(
    gw: LocalGateway, client: httpx.Client, code: str
) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.reject(code))
    refused = pay(client, gw, header)
    assert (refused.status_code, refused.json()["code"]) == (402, code)
    assert gw.claimed_nonces == []
    assert pay(client, gw, header).status_code == 200


def test_unpaid_phase_faults_skip_paid_requests(gw: LocalGateway, client: httpx.Client) -> None:
    header = payment_header(client, gw)
    gw.inject(Fault.error(503, phase="unpaid"))
    assert pay(client, gw, header).status_code == 200
    assert len(gw.pending_faults) == 1


async def test_in_process_reset_raises_like_a_dropped_socket(gw: LocalGateway) -> None:
    gw.inject(Fault.reset())
    transport = httpx.ASGITransport(app=gw.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/api/v1/chat/completions", json=BODY)
        assert (await client.post("/api/v1/chat/completions", json=BODY)).status_code == 402
