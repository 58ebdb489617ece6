"""LocalGateway's SSE streams: frame order, reasoning, both tool-call shapes, paid streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from blockrun_core.testing import LocalGateway, Payer
from blockrun_core.x402 import decode_b64_json

FREE = "nvidia/gpt-oss-120b"  # reasoning
PLAIN = "openai/gpt-4o-mini"  # paid, tools, no reasoning
REASONING = "openai/gpt-5.5"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def frames(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON data frames, and every non-empty line, of an SSE body."""
    lines = [line for line in text.splitlines() if line]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
    return data, lines


def stream_body(model: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "stream": True,
        "max_tokens": 300,
        **extra,
    }


def paid_stream(client: httpx.Client, gw: LocalGateway, body: dict[str, Any]) -> httpx.Response:
    url = gw.url + "/v1/chat/completions"
    probe = client.post(url, json=body)
    assert probe.status_code == 402
    assert probe.headers["content-type"] == "application/json"
    header = Payer().header(decode_b64_json(probe.headers["PAYMENT-REQUIRED"]))
    return client.post(url, json=body, headers={"PAYMENT-SIGNATURE": header})


def test_free_stream_frames_in_order(gw: LocalGateway, client: httpx.Client) -> None:
    body = stream_body(FREE, "hello stream world", stream_options={"include_usage": False})
    response = client.post(gw.url + "/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    data, lines = frames(response.text)
    assert lines[-1] == "data: [DONE]"
    assert ": heartbeat" in lines
    assert data[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(d["object"] == "chat.completion.chunk" for d in data)
    assert len({d["id"] for d in data}) == 1
    content = [d["choices"][0]["delta"].get("content") for d in data[1:] if d["choices"]]
    assert "".join(c for c in content if c) == "Echo: hello stream world"
    assert len([c for c in content if c]) == 4  # word by word
    reasoning = "".join(
        d["choices"][0]["delta"].get("reasoning_content", "") for d in data if d["choices"]
    )
    assert reasoning.startswith("The user asked about: hello stream world")
    finish = data[-2]["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({}, "stop")
    usage_frame = data[-1]
    assert usage_frame["choices"] == []  # usage is always included, stream_options ignored
    assert usage_frame["usage"]["completion_tokens"] > 0
    assert usage_frame["usage"]["total_tokens"] == (
        usage_frame["usage"]["prompt_tokens"] + usage_frame["usage"]["completion_tokens"]
    )


def test_paid_stream_probes_with_json_then_streams_and_records(
    gw: LocalGateway, client: httpx.Client
) -> None:
    response = paid_stream(client, gw, stream_body(PLAIN, "hi"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    receipt = decode_b64_json(response.headers["PAYMENT-RESPONSE"])
    data, lines = frames(response.text)
    assert lines[-1] == "data: [DONE]"
    assert not any("reasoning_content" in d["choices"][0]["delta"] for d in data if d["choices"])
    [payment] = gw.payments
    assert payment.stream is True
    assert payment.tx_hash == receipt["transaction"]


def test_reasoning_model_streams_reasoning_before_content(
    gw: LocalGateway, client: httpx.Client
) -> None:
    data, _ = frames(paid_stream(client, gw, stream_body(REASONING, "think")).text)
    kinds = [next(iter(d["choices"][0]["delta"]), None) for d in data if d["choices"]]
    assert kinds.index("reasoning_content") < kinds.index("content")


def test_tool_calls_stream_as_openai_fragments_with_index(
    gw: LocalGateway, client: httpx.Client
) -> None:
    body = stream_body(PLAIN, "use get_weather for Paris", tools=[WEATHER_TOOL])
    data, _ = frames(paid_stream(client, gw, body).text)
    calls = [
        c for d in data if d["choices"] for c in d["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert len(calls) > 2
    assert all(c["index"] == 0 for c in calls)
    assert calls[0]["function"]["name"] == "get_weather"
    assert calls[0]["id"].startswith("call_")
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert json.loads(arguments) == {"city": "Paris", "days": 1}
    assert data[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_calls_can_stream_whole_without_index(client: httpx.Client) -> None:
    tools = [WEATHER_TOOL, {**WEATHER_TOOL, "function": {"name": "get_time"}}]
    body = stream_body(PLAIN, "call get_time and get_weather", tools=tools)
    with LocalGateway(tool_call_shape="whole", heartbeat=False) as gw:
        response = paid_stream(client, gw, body)
    data, lines = frames(response.text)
    assert ": heartbeat" not in lines
    calls = [
        c for d in data if d["choices"] for c in d["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert [c["function"]["name"] for c in calls] == ["get_time", "get_weather"]
    assert all("index" not in c for c in calls)
    assert json.loads(calls[1]["function"]["arguments"]) == {"city": "x", "days": 1}


def test_scripted_answer_streams_like_a_model_answer(
    gw: LocalGateway, client: httpx.Client
) -> None:
    gw.script(FREE, "scripted words here", reasoning="plan")
    response = client.post(gw.url + "/v1/chat/completions", json=stream_body(FREE, "x"))
    data, _ = frames(response.text)
    text = "".join(d["choices"][0]["delta"].get("content") or "" for d in data if d["choices"])
    assert text == "scripted words here"
