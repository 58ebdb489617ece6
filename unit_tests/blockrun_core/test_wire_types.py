"""Wire types: parsing real response shapes, tolerance, convenience properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from blockrun_core.errors import UpstreamError
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
    completion = ChatCompletion.from_json(REFERENCE_RESPONSE)
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
    completion = ChatCompletion.from_json(REFERENCE_RESPONSE)
    assert completion.extra == {"service_tier": "default"}
    assert completion.choices[0].extra == {"logprobs": None}
    dumped = completion.to_dict()
    assert dumped["service_tier"] == "default"
    assert dumped["usage"]["prompt_tokens_details"]["cached_creation_tokens"] == 1
    assert "logprobs" in dumped["choices"][0]
    assert json.loads(json.dumps(dumped)) == dumped
    assert ChatCompletion.from_dict(dumped) == completion
    assert dumped == json.loads(REFERENCE_RESPONSE)  # nothing lost, nothing invented


def test_to_dict_omits_none_fields() -> None:
    completion = ChatCompletion(choices=[Choice(message=ChatMessage(role="assistant"))])
    assert completion.to_dict() == {
        "id": "",
        "object": "chat.completion",
        "created": 0,
        "model": "",
        "choices": [{"index": 0, "message": {"role": "assistant"}}],
    }


def test_empty_response_has_safe_defaults() -> None:
    completion = ChatCompletion.from_dict({"choices": []})
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
    usage = Usage.from_dict(
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


@pytest.mark.parametrize("count", ["many", [1], True, 1.5])
def test_usage_rejects_garbage_counts(count: object) -> None:
    with pytest.raises(ValueError, match="prompt_tokens"):
        Usage.from_dict({"prompt_tokens": count})


def test_integral_float_counts_are_accepted() -> None:
    assert Usage.from_dict({"prompt_tokens": 3.0}).prompt_tokens == 3


def test_function_arguments_object_becomes_json_string() -> None:
    call = ToolCall.from_dict({"id": "c", "function": {"name": "f", "arguments": {"x": [1, "é"]}}})
    assert call.function.arguments == '{"x":[1,"é"]}'
    assert FunctionCall.from_dict({"name": "f", "arguments": None}).arguments == ""
    assert FunctionCall(name="f").arguments == ""


def test_tool_call_requires_id_and_name() -> None:
    with pytest.raises(ValueError, match="id"):
        ToolCall.from_dict({"function": {"name": "f"}})
    with pytest.raises(ValueError, match="name"):
        ToolCall.from_dict({"id": "c", "function": {"arguments": "{}"}})
    with pytest.raises(ValueError, match="function"):
        ToolCall.from_dict({"id": "c"})


def test_chunk_types_cover_usage_frame_and_whole_tool_calls() -> None:
    frame = ChatCompletionChunk.from_json(
        '{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'
    )
    assert frame.choices == []
    assert frame.usage is not None
    assert frame.usage.total_tokens == 3

    chunk = ChatCompletionChunk.from_dict(
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
    assert message.to_dict() == {
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
    again = ChatCompletion.from_json(json.dumps(completion.to_dict()))
    assert again == completion
    assert again.content == content
    assert again.reasoning_content == reasoning
    assert again.finish_reason == finish
    assert completion.to_dict()["usage"]["total_tokens"] == counts[2]


def test_unknown_fields_kept_at_every_level() -> None:
    usage = Usage.from_dict(
        {
            "prompt_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": None, "audio_tokens": 0},
            "cache_creation_input_tokens": 4,
        }
    )
    assert usage.extra == {"cache_creation_input_tokens": 4}
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.extra == {"audio_tokens": 0}
    assert usage.to_dict()["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    message = ChatMessage.from_dict({"role": "assistant", "content": "x", "refusal": None})
    assert message.extra == {"refusal": None}
    assert message.to_dict() == {"role": "assistant", "content": "x", "refusal": None}
    assert "extra" not in repr(message)


def test_null_fields_take_their_defaults() -> None:
    completion = ChatCompletion.from_dict(
        {"id": None, "created": None, "model": None, "choices": None, "usage": None}
    )
    assert (completion.id, completion.created, completion.model) == ("", 0, "")
    assert completion.choices == []
    assert ToolCall.from_dict({"id": "c", "type": None, "function": {"name": "f"}}).type == (
        "function"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"choices": {"0": {}}}',
        b'{"choices": [{"message": {"role": "assistant", "content": 5}}]}',
        b'{"choices": [{"message": "hi"}]}',
        b'{"choices": [{"index": 0}]}',
        b'{"choices": [], "usage": []}',
        b'{"choices": [], "citations": [1]}',
        b'{"model": 7}',
        b"\xff\xfe\x00",
        b"[" * 10_000 + b"]" * 10_000,
    ],
)
def test_malformed_response_is_an_upstream_error(body: bytes) -> None:
    with pytest.raises(UpstreamError) as info:
        ChatCompletion.from_json(body)
    assert info.value.code == "MALFORMED_RESPONSE"
    assert len(info.value.message) < 400  # a short preview, never the whole body


def test_chunk_from_json_reports_stream_malformed() -> None:
    with pytest.raises(UpstreamError) as info:
        ChatCompletionChunk.from_json('{"choices": "x"}')
    assert info.value.code == "STREAM_MALFORMED"


def test_from_dict_accepts_any_mapping() -> None:
    from types import MappingProxyType

    message = ChatMessage.from_dict(MappingProxyType({"role": "user", "content": "hi"}))
    assert message == ChatMessage(role="user", content="hi")


def test_chunk_round_trip() -> None:
    raw = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "role": "assistant",
                    "tool_calls": [{"index": 0, "id": "a", "function": {"name": "f"}}],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    chunk = ChatCompletionChunk.from_dict(raw)
    assert chunk.to_dict() == raw
    assert ChatCompletionChunk.from_dict(chunk.to_dict()) == chunk


def test_wire_types_are_frozen() -> None:
    message = ChatMessage(role="user", content="hi")
    with pytest.raises(AttributeError):
        message.content = "changed"  # type: ignore[misc]
