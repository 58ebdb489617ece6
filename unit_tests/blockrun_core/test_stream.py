"""StreamAssembler: deltas, accumulation, both tool-call shapes, completeness, errors."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpx
import pytest
from blockrun_core.errors import StreamTruncatedError, UpstreamError
from blockrun_core.wire import (
    StreamAssembler,
    StreamDelta,
    ToolCallDelta,
    aiter_sse_data,
    aiter_sse_lines,
    iter_sse_data,
    iter_sse_lines,
)
from hypothesis import given
from hypothesis import strategies as st


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "openai/gpt-5.5",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
    }
    body.update(top)
    return json.dumps(body)


def usage_frame(**usage: Any) -> str:
    return json.dumps(
        {"id": "chatcmpl-1", "model": "openai/gpt-5.5", "choices": [], "usage": usage}
    )


def fragment(index: int | None, call_id: str | None = None, name: str | None = None,
             arguments: str | None = None) -> dict[str, Any]:  # fmt: skip
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if arguments is not None:
        function["arguments"] = arguments
    call: dict[str, Any] = {"function": function}
    if index is not None:
        call["index"] = index
    if call_id is not None:
        call["id"] = call_id
        call["type"] = "function"
    return call


def tool_chunk(*calls: dict[str, Any], finish: str | None = None) -> str:
    return chunk({"tool_calls": list(calls)}, finish)


def feed(payloads: Iterable[str]) -> tuple[StreamAssembler, list[StreamDelta]]:
    assembler = StreamAssembler()
    deltas = [d for p in payloads if (d := assembler.add(p)) is not None]
    return assembler, deltas


# --- text, reasoning, usage -------------------------------------------------------------


def test_content_stream_with_usage_frame() -> None:
    assembler, deltas = feed(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            usage_frame(
                prompt_tokens=12,
                completion_tokens=8,
                total_tokens=20,
                prompt_tokens_details={"cached_tokens": 4},
                completion_tokens_details={"reasoning_tokens": 3},
            ),
            "[DONE]",
        ]
    )
    assert [d.content for d in deltas] == ["", "Hel", "lo", "", ""]
    assert deltas[0].role == "assistant"
    assert deltas[3].finish_reason == "stop"
    assert deltas[1].model == "openai/gpt-5.5"
    usage = deltas[4].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 8, 20)
    assert (usage.cached_tokens, usage.reasoning_tokens) == (4, 3)
    assert assembler.done and assembler.complete

    completion = assembler.finish()
    assert completion.content == "Hello"
    assert completion.finish_reason == "stop"
    assert completion.usage == usage
    assert completion.id == "chatcmpl-1"
    assert completion.created == 1700000000
    assert completion.model == "openai/gpt-5.5"
    assert completion.tool_calls == []
    assert completion.reasoning_content is None


def test_reasoning_content_and_reasoning_alias() -> None:
    assembler, deltas = feed(
        [
            chunk({"reasoning_content": "Think "}),
            chunk({"reasoning": "more."}),
            chunk({"content": "42"}, "stop"),
        ]
    )
    assert [d.reasoning for d in deltas] == ["Think ", "more.", ""]
    assert assembler.reasoning == "Think more."
    completion = assembler.finish()
    assert completion.reasoning_content == "Think more."
    assert completion.content == "42"


def test_usage_inside_last_content_chunk_is_kept() -> None:
    assembler, _ = feed([chunk({"content": "x"}, "stop", usage={"prompt_tokens": 1})])
    assert assembler.usage is not None
    assert assembler.usage.prompt_tokens == 1


def test_model_and_extras_are_captured() -> None:
    assembler, _ = feed(
        [chunk({"content": "x"}, system_fingerprint="fp_1"), chunk({}, "stop", model="other/m")]
    )
    completion = assembler.finish()
    assert completion.model == "other/m"  # a failover shows up as the last model named
    assert completion.system_fingerprint == "fp_1"


def test_other_choices_are_ignored() -> None:
    payload = json.dumps(
        {
            "choices": [
                {"index": 1, "delta": {"content": "B"}},
                {"index": 0, "delta": {"content": "A"}},
            ]
        }
    )
    other_only = json.dumps({"choices": [{"index": 1, "delta": {"content": "B"}}]})
    assembler, _ = feed([payload, other_only, "[DONE]"])
    assert assembler.content == "A"


# --- tool calls ---------------------------------------------------------------------


def test_openai_fragments_single_call() -> None:
    assembler, deltas = feed(
        [
            chunk({"role": "assistant", "content": None}),
            tool_chunk(fragment(0, "call_a", "get_weather", "")),
            tool_chunk(fragment(0, arguments='{"ci')),
            tool_chunk(fragment(0, arguments='ty":"SF"}')),
            chunk({}, "tool_calls"),
            "[DONE]",
        ]
    )
    assert deltas[1].tool_calls == (ToolCallDelta(0, "call_a", "get_weather", ""),)
    assert deltas[2].tool_calls == (ToolCallDelta(0, None, None, '{"ci'),)
    completion = assembler.finish()
    assert completion.finish_reason == "tool_calls"
    assert completion.content == ""
    [call] = completion.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_a", "function", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "SF"}


def test_two_parallel_fragmented_calls_interleaved_by_index() -> None:
    assembler, _ = feed(
        [
            tool_chunk(fragment(0, "call_a", "f", "")),
            tool_chunk(fragment(1, "call_b", "g", "")),
            tool_chunk(fragment(1, arguments='{"y"')),
            tool_chunk(fragment(0, arguments='{"x"')),
            tool_chunk(fragment(0, arguments=":1}"), fragment(1, arguments=":2}")),
            chunk({}, "tool_calls"),
        ]
    )
    calls = assembler.finish().tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "f", '{"x":1}'),
        ("call_b", "g", '{"y":2}'),
    ]


def test_whole_calls_without_index_get_the_next_free_index() -> None:
    assembler, deltas = feed(
        [
            tool_chunk(fragment(None, "call_a", "f", '{"x":1}')),
            tool_chunk(fragment(None, "call_b", "g", '{"y":2}'), finish="tool_calls"),
        ]
    )
    assert [d.tool_calls[0].index for d in deltas] == [0, 1]
    calls = assembler.finish().tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "f", '{"x":1}'),
        ("call_b", "g", '{"y":2}'),
    ]


def test_two_whole_calls_in_one_chunk_get_two_indices() -> None:
    assembler, [delta] = feed(
        [
            tool_chunk(
                fragment(None, "call_a", "f", "{}"),
                fragment(None, "call_b", "f", '{"z":0}'),
                finish="tool_calls",
            )
        ]
    )
    assert [(t.index, t.id) for t in delta.tool_calls] == [(0, "call_a"), (1, "call_b")]
    assert [c.function.arguments for c in assembler.tool_calls] == ["{}", '{"z":0}']


def test_object_arguments_become_a_json_string() -> None:
    payload = tool_chunk({"id": "c", "function": {"name": "f", "arguments": {"a": [1, "é"]}}})
    assembler, [delta] = feed([payload, "[DONE]"])
    assert delta.tool_calls[0].arguments == '{"a":[1,"é"]}'
    assert assembler.finish().tool_calls[0].function.arguments == '{"a":[1,"é"]}'


def test_indexless_continuation_fragments_extend_the_last_call() -> None:
    assembler, _ = feed(
        [
            tool_chunk(fragment(None, "call_a", "f", '{"x"')),
            tool_chunk(fragment(None, arguments=":1}")),
            tool_chunk(fragment(None, "call_a", arguments="")),
            "[DONE]",
        ]
    )
    [call] = assembler.tool_calls
    assert call.function.arguments == '{"x":1}'


def test_reused_index_with_a_new_id_starts_a_new_call() -> None:
    assembler, _ = feed(
        [
            tool_chunk(fragment(0, "call_a", "f", "{}")),
            tool_chunk(fragment(0, "call_b", "g", "{")),
            tool_chunk(fragment(0, arguments="}")),
            "[DONE]",
        ]
    )
    assert [(c.id, c.function.arguments) for c in assembler.tool_calls] == [
        ("call_a", "{}"),
        ("call_b", "{}"),
    ]


def test_wire_index_is_kept_and_missing_id_is_synthesised() -> None:
    assembler, [delta] = feed([tool_chunk(fragment(1, None, "f", "{}"), finish="tool_calls")])
    assert delta.tool_calls[0].index == 1
    assert assembler.tool_calls[0].id == "call_1"


# --- completeness -----------------------------------------------------------------------


def test_truncated_stream_raises_and_keeps_the_partial_result() -> None:
    assembler, _ = feed([chunk({"role": "assistant"}), chunk({"content": "Half an ans"})])
    assert not assembler.complete
    with pytest.raises(StreamTruncatedError) as info:
        assembler.finish()
    assert info.value.code == "STREAM_TRUNCATED"
    assert info.value.retryable
    assert assembler.content == "Half an ans"


def test_truncated_tool_call_stream_raises() -> None:
    assembler, _ = feed([tool_chunk(fragment(0, "call_a", "f", '{"x":'))])
    with pytest.raises(StreamTruncatedError):
        assembler.finish()


def test_done_only_stream_is_complete_and_empty() -> None:
    assembler, deltas = feed(["[DONE]"])
    assert deltas == []
    completion = assembler.finish()
    assert completion.content == ""
    assert completion.finish_reason is None
    assert completion.usage is None


def test_done_without_finish_reason_is_complete() -> None:
    assembler, _ = feed([chunk({"content": "ok"}), "[DONE]"])
    assert assembler.finish().content == "ok"


def test_finish_reason_without_done_is_complete() -> None:
    assembler, _ = feed([chunk({"content": "ok"}, "length")])
    assert not assembler.done
    assert assembler.finish().finish_reason == "length"


def test_payloads_after_done_are_ignored() -> None:
    assembler = StreamAssembler()
    assert assembler.add("[DONE]") is None
    assert assembler.add("not json") is None
    assert assembler.add(chunk({"content": "late"})) is None
    assert assembler.content == ""


@pytest.mark.parametrize("payload", ["", "   ", "\n", " [DONE] "])
def test_blank_payloads_and_padded_done(payload: str) -> None:
    assert StreamAssembler().add(payload) is None


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ['{"choices": [', "garbage", "{'a': 1}"])
def test_malformed_json_raises_a_clear_upstream_error(payload: str) -> None:
    with pytest.raises(UpstreamError, match="not valid JSON") as info:
        StreamAssembler().add(payload)
    assert info.value.code == "STREAM_MALFORMED"
    assert repr(payload)[:10] in info.value.message


@pytest.mark.parametrize("payload", ["[1, 2]", "42", '"text"', "null"])
def test_non_object_json_raises(payload: str) -> None:
    with pytest.raises(UpstreamError, match="not a JSON object"):
        StreamAssembler().add(payload)


@pytest.mark.parametrize(
    "payload",
    [
        '{"choices": {"delta": {}}}',
        '{"choices": [{"delta": "text"}]}',
        '{"choices": [{"delta": {"tool_calls": [1]}}]}',
        '{"choices": [], "usage": {"prompt_tokens": "many"}}',
    ],
)
def test_unexpected_chunk_shapes_raise_upstream_error(payload: str) -> None:
    with pytest.raises(UpstreamError, match="unexpected shape"):
        StreamAssembler().add(payload)


def test_in_band_error_object_raises_with_message_and_code() -> None:
    assembler = StreamAssembler()
    assembler.add(chunk({"content": "partial"}))
    error = {
        "error": {"message": "Upstream overloaded", "type": "api_error", "code": "STREAM_FAILED"}
    }
    with pytest.raises(UpstreamError) as info:
        assembler.add(json.dumps(error))
    assert "Upstream overloaded" in info.value.message
    assert info.value.code == "STREAM_FAILED"
    assert info.value.status_code is None


def test_in_band_error_with_numeric_code_and_flat_string() -> None:
    with pytest.raises(UpstreamError) as info:
        StreamAssembler().add('{"error": {"message": "slow down", "code": 429}}')
    assert (info.value.status_code, info.value.code) == (429, "429")
    with pytest.raises(UpstreamError, match="Unknown model: x"):
        StreamAssembler().add('{"error": "Unknown model: x"}')


def test_null_error_field_is_not_an_error() -> None:
    delta = StreamAssembler().add(chunk({"content": "fine"}, error=None))
    assert delta is not None
    assert delta.content == "fine"


# --- end to end over bytes ------------------------------------------------------------------

STREAM_BYTES = (
    b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant"}}]}\r\n\r\n'
    b": heartbeat\n\n"
    b'data:{"choices":[{"index":0,"delta":{"tool_calls":[{"id":"a","type":"function",'
    b'"function":{"name":"f","arguments":"{\\"q\\":\\"\xe2\x80\xa8\\"}"}}]}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}\n\n'
    b"data: [DONE]\n\n"
)


def check_stream_result(assembler: StreamAssembler) -> None:
    completion = assembler.finish()
    assert completion.finish_reason == "tool_calls"
    assert completion.tool_calls[0].function.arguments == '{"q":"\u2028"}'
    assert completion.usage is not None
    assert completion.usage.total_tokens == 12


def test_sync_bytes_to_completion() -> None:
    response = httpx.Response(
        200, content=iter([STREAM_BYTES[i : i + 5] for i in range(0, 500, 5)])
    )
    assembler = StreamAssembler()
    for data in iter_sse_data(iter_sse_lines(response.iter_bytes())):
        assembler.add(data)
    check_stream_result(assembler)


async def test_async_bytes_to_completion() -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(STREAM_BYTES), 3):
            yield STREAM_BYTES[i : i + 3]

    response = httpx.Response(200, content=body())
    assembler = StreamAssembler()
    async for data in aiter_sse_data(aiter_sse_lines(response.aiter_bytes())):
        assembler.add(data)
    check_stream_result(assembler)


# --- properties -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def split(text: str, cuts: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@given(
    st.data(), st.lists(st.dictionaries(st.text(max_size=5), json_values), min_size=1, max_size=3)
)
def test_fragmented_arguments_reassemble_exactly(
    data: st.DataObject, args: list[dict[str, Any]]
) -> None:
    texts = [json.dumps(a, ensure_ascii=data.draw(st.booleans())) for a in args]
    queues: list[list[dict[str, Any]]] = []
    for index, text in enumerate(texts):
        pieces = split(text, data.draw(st.lists(st.integers(0, 10_000), max_size=8)))
        queue = [fragment(index, f"call_{index}x", f"tool{index}", "")]
        queue += [fragment(index, arguments=piece) for piece in pieces]
        queues.append(queue)
    payloads: list[str] = []
    while any(queues):  # interleave the calls' fragments in a random order
        live = [q for q in queues if q]
        queue = live[data.draw(st.integers(0, len(live) - 1))]
        payloads.append(tool_chunk(queue.pop(0)))
    payloads += [chunk({}, "tool_calls"), "[DONE]"]

    assembler, _ = feed(payloads)
    calls = assembler.finish().tool_calls
    assert [c.function.arguments for c in calls] == texts
    assert [(c.id, c.function.name) for c in calls] == [
        (f"call_{i}x", f"tool{i}") for i in range(len(texts))
    ]


@given(st.text(), st.lists(st.integers(0, 10_000), max_size=10))
def test_fragmented_content_reassembles_exactly(text: str, cuts: list[int]) -> None:
    payloads = [chunk({"content": piece}) for piece in split(text, cuts)]
    assembler, deltas = feed([*payloads, "[DONE]"])
    assert assembler.finish().content == text
    assert "".join(d.content for d in deltas) == text
