"""LocalGateway's brk_ account rail and its /v1/models catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from blockrun_core.catalog import default_catalog, quote_micros
from blockrun_core.testing import Fault, LocalGateway

PAID = "openai/gpt-4o-mini"
FREE = "nvidia/gpt-oss-20b"
BODY: dict[str, Any] = {
    "model": PAID,
    "messages": [{"role": "user", "content": "hello account"}],
    "max_tokens": 1000,
}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def chat(
    client: httpx.Client, gw: LocalGateway, key: str | None, body: dict[str, Any] = BODY
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(gw.account_url + "/v1/chat/completions", json=body, headers=headers)


def test_paid_model_with_a_key_needs_no_402(gw: LocalGateway, client: httpx.Client) -> None:
    assert gw.api_key.startswith("brk_test_")
    response = chat(client, gw, gw.api_key)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Echo: hello account"
    assert response.headers["x-blockrun-request-id"].startswith("req_")
    assert "PAYMENT-RESPONSE" not in response.headers
    assert gw.payments == []
    assert gw.credit_usd(gw.api_key) is None  # the default key is unlimited
    assert gw.requests[-1].paid is True


def test_credit_is_charged_at_the_quote_and_runs_out(
    gw: LocalGateway, client: httpx.Client
) -> None:
    quote = quote_micros(default_catalog().get(PAID), BODY)
    key = gw.add_api_key(credit_usd=quote * 1.5 / 1_000_000)
    assert chat(client, gw, key).status_code == 200
    assert gw.credit_usd(key) == pytest.approx(quote * 0.5 / 1_000_000)
    refused = chat(client, gw, key)
    assert refused.status_code == 402
    assert refused.json()["code"] == "BALANCE_EXHAUSTED"
    assert refused.json()["error"]["type"] == "insufficient_quota"
    assert "x-blockrun-request-id" in refused.headers
    free = chat(client, gw, key, {**BODY, "model": FREE})
    assert free.status_code == 200
    assert free.headers["X-Free-Model"] == "true"


@pytest.mark.parametrize("key", [None, "brk_live_not_registered", "sk-openai-style"])
def test_paid_models_need_a_valid_key(
    gw: LocalGateway, client: httpx.Client, key: str | None
) -> None:
    response = chat(client, gw, key)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert "PAYMENT-REQUIRED" not in response.headers


def test_free_models_work_without_a_key(gw: LocalGateway, client: httpx.Client) -> None:
    assert chat(client, gw, None, {**BODY, "model": FREE}).status_code == 200


def test_x_api_key_header_is_accepted(gw: LocalGateway, client: httpx.Client) -> None:
    response = client.post(
        gw.account_url + "/v1/chat/completions", json=BODY, headers={"x-api-key": gw.api_key}
    )
    assert response.status_code == 200


def test_a_key_sent_to_the_x402_host_is_wrong_host(gw: LocalGateway, client: httpx.Client) -> None:
    headers = {"Authorization": f"Bearer {gw.api_key}"}
    for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
        response = client.request(method, gw.url + path, json=BODY, headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == "wrong_host"


def test_other_authorization_headers_are_ignored_on_the_x402_rail(
    gw: LocalGateway, client: httpx.Client
) -> None:
    # e.g. an OpenAI-compatible SDK that always sends its (dummy) api_key
    headers = {"Authorization": "Bearer sk-dummy"}
    response = client.post(gw.url + "/v1/chat/completions", json=BODY, headers=headers)
    assert response.status_code == 402


def test_account_faults_never_charge_unless_settled(gw: LocalGateway, client: httpx.Client) -> None:
    key = gw.add_api_key(credit_usd=1.0)
    gw.inject(Fault.error(502, phase="paid"))
    assert chat(client, gw, key).status_code == 502
    assert gw.credit_usd(key) == 1.0
    gw.inject(Fault.reject("DAILY_SPEND_CAP"))
    assert chat(client, gw, key).json()["code"] == "DAILY_SPEND_CAP"


def test_reset_keeps_only_the_default_key(gw: LocalGateway, client: httpx.Client) -> None:
    key = gw.add_api_key("brk_test_extra")
    gw.reset()
    assert chat(client, gw, key).status_code == 401
    assert chat(client, gw, gw.api_key).status_code == 200


@pytest.mark.parametrize("path", ["/v1/models", "/api/v1/models"])
def test_models_list_in_the_documented_shape(
    gw: LocalGateway, client: httpx.Client, path: str
) -> None:
    payload = client.get(gw.account_url + path).json()
    assert payload["object"] == "list"
    rows = {row["id"]: row for row in payload["data"]}
    assert set(rows) == {m.id for m in default_catalog().models()}
    row = rows["openai/gpt-5.5"]
    assert row["object"] == "model"
    assert isinstance(row["created"], int)
    assert row["owned_by"] == "openai"
    assert row["context_window"] == 1050000
    assert row["max_output"] == 128000
    assert row["billing_mode"] == "paid"
    assert {"input", "output"} <= set(row["pricing"])
    assert "chat" in row["categories"]
    assert rows[FREE]["billing_mode"] == "free"
    assert default_catalog().from_models_response(payload).get(PAID).id == PAID
