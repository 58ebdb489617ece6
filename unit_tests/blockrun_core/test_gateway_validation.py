"""LocalGateway refuses bad requests with BlockRun's 400s, before quoting or charging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from blockrun_core.testing import LocalGateway

PAID = "openai/gpt-4o-mini"  # vision, tools, 128k context
NO_VISION = "openai/gpt-5.4-nano"
NO_TOOLS = "nvidia/gpt-oss-120b"
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
FILE_IMAGE = {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}
TOOL = {"type": "function", "function": {"name": "f"}}
SYSTEM_ONLY = [{"role": "system", "content": "be nice"}]
SEARCH = {"search_parameters": {"mode": "on"}}
WITH_IMAGE = [{"type": "text", "text": "?"}, IMAGE]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def post(client: httpx.Client, gw: LocalGateway, body: Any) -> httpx.Response:
    return client.post(gw.url + "/v1/chat/completions", json=body)


def user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": PAID}, "INVALID_REQUEST_BODY"),
        ({"messages": user("hi")}, "INVALID_REQUEST_BODY"),
        ({"model": PAID, "messages": "hi"}, "INVALID_REQUEST_BODY"),
        ({"model": PAID, "messages": [{"role": "robot", "content": "hi"}]}, "INVALID_REQUEST_BODY"),
        ({"model": PAID, "messages": []}, "EMPTY_CONVERSATION"),
        ({"model": PAID, "messages": SYSTEM_ONLY}, "EMPTY_CONVERSATION"),
        ({"model": PAID, "messages": user("hi"), "temperature": 3}, "INVALID_PARAMETER"),
        ({"model": PAID, "messages": user("hi"), "top_p": -0.1}, "INVALID_PARAMETER"),
        ({"model": PAID, "messages": user("hi"), "max_tokens": 0}, "INVALID_PARAMETER"),
        ({"model": PAID, "messages": user("hi"), "max_tokens": True}, "INVALID_PARAMETER"),
        ({"model": PAID, "messages": user("hi"), "stream": "yes"}, "INVALID_PARAMETER"),
        ({"model": NO_VISION, "messages": user(WITH_IMAGE)}, "INVALID_PARAMETER"),
        ({"model": PAID, "messages": user([FILE_IMAGE])}, "INVALID_IMAGE_URL"),
        ({"model": NO_TOOLS, "messages": user("hi"), "tools": [TOOL]}, "INVALID_PARAMETER"),
        ({"model": PAID, "messages": user("hi"), "stream": True, **SEARCH}, "STREAM_UNSUPPORTED"),
        ({"model": PAID, "messages": user("x" * 600_000)}, "CONTEXT_LENGTH_EXCEEDED"),
    ],
)  # fmt: skip
def test_bad_requests_get_400_with_a_code(
    gw: LocalGateway, client: httpx.Client, body: dict[str, Any], code: str
) -> None:
    response = post(client, gw, body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["code"] == payload["error"]["code"] == code
    assert payload["error"]["type"] == "invalid_request_error"
    assert "PAYMENT-REQUIRED" not in response.headers
    assert gw.payments == []


def test_invalid_json(gw: LocalGateway, client: httpx.Client) -> None:
    response = client.post(
        gw.url + "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_JSON")


def test_body_errors_name_the_path(gw: LocalGateway, client: httpx.Client) -> None:
    payload = post(client, gw, {"model": PAID, "messages": [{"role": "user"}, 3]}).json()
    assert payload["details"] == [{"path": "messages[1]", "message": "expected an object"}]


@pytest.mark.parametrize("model", ["openai/gpt-5.55", "sonnet", "gpt-4o-mini"])
def test_unknown_models_get_the_flat_error_with_suggestions(
    gw: LocalGateway, client: httpx.Client, model: str
) -> None:
    response = post(client, gw, {"model": model, "messages": user("hi")})
    assert response.status_code == 400
    error = response.json()["error"]
    assert isinstance(error, str)
    assert error.startswith(f"Unknown model: {model}. Try one of: ")
    assert error.endswith(". Full list: GET /v1/models")
    if model == "sonnet":
        assert "anthropic/claude-sonnet-4.6" in error


def test_retired_ids_are_redirected_to_their_replacement(
    gw: LocalGateway, client: httpx.Client
) -> None:
    response = post(client, gw, {"model": "nvidia/glm-4.7", "messages": user("hi")})
    assert response.status_code == 200
    assert response.json()["model"] == "nvidia/gpt-oss-120b"


def test_vision_models_accept_images(gw: LocalGateway, client: httpx.Client) -> None:
    body = {
        "model": "nvidia/llama-3.2-11b-vision",
        "messages": user([{"type": "text", "text": "what?"}, IMAGE]),
    }
    response = post(client, gw, body)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Echo: what?"


def test_tool_choice_none_does_not_need_tool_support(
    gw: LocalGateway, client: httpx.Client
) -> None:
    body = {
        "model": NO_TOOLS,
        "messages": user("hi"),
        "tools": [TOOL],
        "tool_choice": "none",
    }
    assert post(client, gw, body).status_code == 200


def test_unknown_paths_and_methods_get_envelopes(gw: LocalGateway, client: httpx.Client) -> None:
    missing = client.get(gw.url + "/v1/nothing")
    assert (missing.status_code, missing.json()["code"]) == (404, "unsupported_endpoint")
    wrong = client.get(gw.url + "/v1/chat/completions")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")
