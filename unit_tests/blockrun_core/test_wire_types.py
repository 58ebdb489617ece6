"""Wire types: parsing real response shapes, tolerance, convenience properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from blockrun_core.wire import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    FunctionCall,
    ToolCall,
    Usage,
)
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

REFERENCE_RESPONSE = """
{"id": "chatcmpl-abc123", "object": "chat.completion", "created": 1703123456,
 "model": "gpt-5.5",
 "choices": [{"index": 0,
              "message": {"role": "assistant", "content": "",
                          "reasoning_content": "thinking",
                          "tool_calls": [{"id": "call_abc", "type": "function",
                                          "function": {"name": "get_weather",
                                                       "arguments": "{\\"city\\":\\"SF\\"}"}}]},
              "finish_reason": "tool_calls", "logprobs": null}],
 "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20,
           "prompt_tokens_details": {"cached_tokens": 2, "cached_creation_tokens": 1},
           "completion_tokens_details": {"reasoning_tokens": 5}},
 "citations": ["https://example.com"],
 "system_fingerprint": "fp_x", "service_tier": "default"}
"""


def test_reference_response_parses_with_convenience_properties() -> None:
    completion = ChatCompletion.model_validate_json(REFERENCE_RESPONSE)
    assert completion.id == "chatcmpl-abc123"
    assert completion.model == "gpt-5.5"
    assert completion.content == ""
    assert completion.reasoning_content == "thinking"
    assert completion.finish_reason == "tool_calls"
    [call] = completion.tool_calls
    assert call == ToolCall(
        id="call_abc", function=FunctionCall(name="get_weather", arguments='{"city":"SF"}')
    )
    assert completion.usage is not None
    assert completion.usage.cached_tokens == 2
    assert completion.usage.reasoning_tokens == 5
    assert completion.citations == ["https://example.com"]
    assert completion.system_fingerprint == "fp_x"


def test_unknown_fields_survive_a_round_trip() -> None:
    completion = ChatCompletion.model_validate_json(REFERENCE_RESPONSE)
    assert completion.model_extra == {"service_tier": "default"}
    dumped = completion.model_dump(mode="json")
    assert dumped["service_tier"] == "default"
    assert dumped["usage"]["prompt_tokens_details"]["cached_creation_tokens"] == 1
    assert "logprobs" in dumped["choices"][0]
    assert ChatCompletion.model_validate(dumped) == completion


def test_empty_response_has_safe_defaults() -> None:
    completion = ChatCompletion.model_validate({"choices": []})
    assert completion.content == ""
    assert completion.tool_calls == []
    assert completion.finish_reason is None
    assert completion.reasoning_content is None
    assert completion.message is None
    assert completion.usage is None


def test_null_content_and_list_content() -> None:
    assert ChatMessage(role="assistant", content=None).text == ""
    parts: list[dict[str, Any]] = [
        {"type": "text", "text": "a"},
        {"type": "image_url", "image_url": {"url": "data:,"}},
        {"type": "text", "text": "b"},
    ]
    message = ChatMessage(role="user", content=parts)
    assert message.text == "ab"
    completion = ChatCompletion(choices=[Choice(message=message)])
    assert completion.content == "ab"


def test_usage_tolerates_nulls_and_anthropic_cache_fields() -> None:
    usage = Usage.model_validate(
        {
            "prompt_tokens": 10,
            "completion_tokens": None,
            "total_tokens": 10,
            "prompt_tokens_details": None,
            "completion_tokens_details": {"reasoning_tokens": None},
            "cache_read_input_tokens": 7,
        }
    )
    assert usage.completion_tokens == 0
    assert usage.reasoning_tokens == 0
    assert usage.cached_tokens == 7
    assert Usage().cached_tokens == 0


def test_usage_rejects_garbage_counts() -> None:
    with pytest.raises(ValidationError):
        Usage.model_validate({"prompt_tokens": "many"})


def test_function_arguments_object_becomes_json_string() -> None:
    call = ToolCall.model_validate(
        {"id": "c", "function": {"name": "f", "arguments": {"x": [1, "é"]}}}
    )
    assert call.function.arguments == '{"x":[1,"é"]}'
    assert FunctionCall.model_validate({"name": "f", "arguments": None}).arguments == ""
    assert FunctionCall(name="f").arguments == ""


def test_tool_call_requires_id_and_name() -> None:
    with pytest.raises(ValidationError):
        ToolCall.model_validate({"function": {"name": "f"}})
    with pytest.raises(ValidationError):
        ToolCall.model_validate({"id": "c", "function": {"arguments": "{}"}})


def test_chunk_types_cover_usage_frame_and_whole_tool_calls() -> None:
    frame = ChatCompletionChunk.model_validate_json(
        '{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
    )
    assert frame.choices == []
    assert frame.usage is not None
    assert frame.usage.total_tokens == 3

    chunk = ChatCompletionChunk.model_validate(
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"id": "a", "function": {"name": "f", "arguments": {"k": 1}}},
                            {"index": 1, "function": {"arguments": "{"}},
                        ]
                    }
                }
            ]
        }
    )
    calls = chunk.choices[0].delta.tool_calls
    assert calls is not None
    assert calls[0].index is None
    assert calls[0].function is not None
    assert calls[0].function.arguments == '{"k":1}'
    assert calls[1].index == 1


def test_chat_message_dump_excludes_none() -> None:
    message = ChatMessage(role="tool", content="42", tool_call_id="call_1")
    assert message.model_dump(exclude_none=True) == {
        "role": "tool",
        "content": "42",
        "tool_call_id": "call_1",
    }


@given(
    content=st.text(),
    reasoning=st.none() | st.text(min_size=1),
    counts=st.tuples(*[st.integers(0, 10**9)] * 3),
    finish=st.none() | st.sampled_from(["stop", "length", "tool_calls", "content_filter"]),
)
def test_json_round_trip(
    content: str, reasoning: str | None, counts: tuple[int, int, int], finish: str | None
) -> None:
    message = ChatMessage(role="assistant", content=content, reasoning_content=reasoning)
    completion = ChatCompletion(
        id="c",
        model="m",
        choices=[Choice(message=message, finish_reason=finish)],
        usage=Usage(prompt_tokens=counts[0], completion_tokens=counts[1], total_tokens=counts[2]),
    )
    again = ChatCompletion.model_validate_json(completion.model_dump_json())
    assert again == completion
    assert again.content == content
    assert again.reasoning_content == reasoning
    assert again.finish_reason == finish
    assert json.loads(completion.model_dump_json())["usage"]["total_tokens"] == counts[2]
