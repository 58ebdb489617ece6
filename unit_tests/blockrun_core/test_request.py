"""Chat request bodies: defaults, validation, stripping, passthrough, byte encoding."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from blockrun_core.errors import ConfigurationError
from blockrun_core.wire import (
    CLIENT_ONLY_PARAMS,
    ChatMessage,
    FunctionCall,
    ToolCall,
    build_chat_body,
    encode_body,
)
from hypothesis import given
from hypothesis import strategies as st

USER = [{"role": "user", "content": "Hello"}]


def body(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("model", "openai/gpt-5.5")
    kwargs.setdefault("messages", USER)
    return build_chat_body(**kwargs)


def test_minimal_body_always_sends_max_tokens() -> None:
    assert body() == {"model": "openai/gpt-5.5", "messages": USER, "max_tokens": 1024}


def test_none_max_tokens_means_the_default() -> None:
    assert body(max_tokens=None)["max_tokens"] == 1024


def test_stream_flag() -> None:
    assert "stream" not in body(stream=False)
    assert body(stream=True)["stream"] is True


def test_client_only_params_are_never_sent() -> None:
    result = body(
        stream=True,
        stream_options={"include_usage": True},
        fallback_models=["a", "b"],
        routing_profile="eco",
    )
    assert CLIENT_ONLY_PARAMS.isdisjoint(result)
    assert {"stream_options", "fallback_models", "routing_profile"} == CLIENT_ONLY_PARAMS


def test_none_params_dropped_and_unknown_params_passed_verbatim() -> None:
    thinking = {"type": "enabled", "budget_tokens": 2048}
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    result = body(
        temperature=None,
        top_p=None,
        seed=7,
        top_k=40,
        reasoning_effort="high",
        thinking=thinking,
        tools=tools,
        tool_choice="auto",
        stop=["END"],
        response_format={"type": "json_object"},
    )
    assert "temperature" not in result
    assert "top_p" not in result
    assert result["seed"] == 7
    assert result["top_k"] == 40
    assert result["reasoning_effort"] == "high"
    assert result["thinking"] == thinking
    assert result["tools"] == tools
    assert result["tool_choice"] == "auto"
    assert result["stop"] == ["END"]
    assert result["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("value", [1, 1024, 1_000_000])
def test_max_tokens_accepted(value: int) -> None:
    assert body(max_tokens=value)["max_tokens"] == value


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (0, "between 1 and 1,000,000"),
        (-5, "between 1 and 1,000,000"),
        (1_000_001, "between 1 and 1,000,000"),
        (True, "must be an integer"),
        (False, "must be an integer"),
        (1.5, "must be an integer"),
        (100.0, "must be an integer"),
        ("100", "must be an integer"),
    ],
)
def test_max_tokens_rejected(value: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        body(max_tokens=value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("temperature", 0), ("temperature", 0.7), ("temperature", 2), ("top_p", 0), ("top_p", 1.0)],
)
def test_sampling_params_accepted(name: str, value: float) -> None:
    assert body(**{name: value})[name] == value


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("temperature", -0.01, "must be between 0 and 2"),
        ("temperature", 2.01, "must be between 0 and 2"),
        ("temperature", math.nan, "must be between 0 and 2"),
        ("temperature", math.inf, "must be between 0 and 2"),
        ("temperature", True, "must be a number"),
        ("temperature", "0.5", "must be a number"),
        ("top_p", 1.01, "must be between 0 and 1"),
        ("top_p", -1, "must be between 0 and 1"),
        ("top_p", False, "must be a number"),
    ],
)
def test_sampling_params_rejected(name: str, value: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name} {match}"):
        body(**{name: value})


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        body(max_tokens=0)


@pytest.mark.parametrize("model", ["", "   "])
def test_empty_model_rejected(model: str) -> None:
    with pytest.raises(ConfigurationError, match="model"):
        body(model=model)


def test_chat_messages_become_plain_dicts_without_nones() -> None:
    call = ToolCall(id="call_1", function=FunctionCall(name="f", arguments='{"x":1}'))
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content=[{"type": "text", "text": "hi"}]),
        ChatMessage(role="assistant", content="", reasoning_content="hm", tool_calls=[call]),
        ChatMessage(role="tool", content="1", tool_call_id="call_1"),
    ]
    result = body(messages=messages)["messages"]
    assert result == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "hm",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"x":1}'},
                }
            ],
        },
        {"role": "tool", "content": "1", "tool_call_id": "call_1"},
    ]
    assert all(type(m) is dict for m in result)
    json.dumps(result)


def test_mapping_messages_are_copied_and_nested_models_dumped() -> None:
    call = ToolCall(id="c", function=FunctionCall(name="f"))
    original: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": (call,)}
    [result] = body(messages=[USER[0], original])["messages"][1:]
    assert result == {
        "role": "assistant",
        "content": None,  # explicit nulls in plain dicts are the caller's choice
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}],
    }
    result["role"] = "changed"
    assert original["role"] == "assistant"


class DumpableMessage:
    """Stands in for a pydantic model from LangChain or LlamaIndex (duck-typed)."""

    def __init__(self, **fields: Any) -> None:
        self.fields = fields
        self.calls: list[dict[str, Any]] = []

    def model_dump(self, **options: Any) -> dict[str, Any]:
        self.calls.append(options)
        return {key: value for key, value in self.fields.items() if value is not None}


def test_objects_with_model_dump_are_dumped_as_json_without_nones() -> None:
    message = DumpableMessage(role="user", content="hi", name=None)
    nested = DumpableMessage(type="text", text="part")
    [first, second] = body(messages=[message, {"role": "user", "content": [nested]}])["messages"]
    assert first == {"role": "user", "content": "hi"}
    assert second == {"role": "user", "content": [{"type": "text", "text": "part"}]}
    assert message.calls == [{"mode": "json", "exclude_none": True}]


def test_real_pydantic_models_are_accepted() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Message(pydantic.BaseModel):  # type: ignore[misc]
        role: str
        content: str | None = None

    [result] = body(messages=[Message(role="user", content="hi")])["messages"]
    assert result == {"role": "user", "content": "hi"}


def test_a_class_with_model_dump_is_not_called() -> None:
    with pytest.raises(ConfigurationError, match=r"messages\[0\] must be a mapping"):
        body(messages=[DumpableMessage])


def test_empty_message_list_rejected() -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        body(messages=[])


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "system", "content": "x"}],
        [ChatMessage(role="system", content="a"), {"role": "developer", "content": "b"}],
    ],
)
def test_system_only_conversation_rejected(messages: list[Any]) -> None:
    with pytest.raises(ConfigurationError, match="only system messages"):
        body(messages=messages)


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([{"content": "no role"}], r"messages\[0\] has no role"),
        ([USER[0], {"role": "", "content": "x"}], r"messages\[1\] has no role"),
        ([USER[0], "hello"], r"messages\[1\] must be a mapping"),
        ("hello", "must be a list"),
    ],
)
def test_malformed_messages_rejected(messages: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        body(messages=messages)


def test_search_parameters_with_stream_rejected() -> None:
    assert body(search_parameters={"mode": "on"})["search_parameters"] == {"mode": "on"}
    with pytest.raises(ConfigurationError, match="search_parameters"):
        body(search_parameters={"mode": "on"}, stream=True)


def test_encode_body_is_compact_utf8_and_deterministic() -> None:
    result = body(messages=[{"role": "user", "content": "héllo ☃ \u2028"}], temperature=0.5)
    raw = encode_body(result)
    assert raw == encode_body(result)
    assert b": " not in raw
    assert b", " not in raw
    assert "héllo ☃".encode() in raw
    assert json.loads(raw) == result
    assert raw.startswith(b'{"model":"openai/gpt-5.5","messages":[{"role":"user"')


@pytest.mark.parametrize("bad", [math.nan, object(), {1, 2}])
def test_encode_body_rejects_non_json(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="not JSON-serialisable"):
        encode_body(body(extra=bad))


@given(
    max_tokens=st.integers(1, 1_000_000),
    temperature=st.none() | st.floats(0, 2),
    top_p=st.none() | st.floats(0, 1),
    text=st.text(),
)
def test_valid_params_always_build_and_round_trip(
    max_tokens: int, temperature: float | None, top_p: float | None, text: str
) -> None:
    result = build_chat_body(
        model="m",
        messages=[{"role": "user", "content": text}],
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
    )
    assert json.loads(encode_body(result)) == result
    assert ("temperature" in result) == (temperature is not None)


@given(st.floats(allow_nan=True).filter(lambda t: not 0 <= t <= 2))
def test_out_of_range_temperature_always_rejected(temperature: float) -> None:
    with pytest.raises(ConfigurationError):
        body(temperature=temperature)
