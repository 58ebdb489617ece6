"""Property tests of the whole streaming pipeline: bytes -> lines -> events -> deltas.

``test_sse.py`` and ``test_stream.py`` check each layer alone; these feed what the
LocalGateway puts on the wire (content, reasoning, tool calls in either shape) through
the same three stages the clients chain, cut at arbitrary byte offsets, and check the
result against what the model said. Garbage and mangled streams may only raise
``UpstreamError`` (malformed or truncated), never anything outside the error tree.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

from blockrun_core.errors import UpstreamError
from blockrun_core.testing import ModelOutput, ToolCall
from blockrun_core.testing.render import stream_chunks
from blockrun_core.wire import ChatCompletion, SSEDecoder, SSELineDecoder, StreamAssembler
from blockrun_core.wire.stream import StreamDelta
from hypothesis import given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
tool_calls = st.lists(
    st.builds(
        ToolCall,
        id=st.integers(0, 10**9).map(lambda n: f"call_{n:x}"),
        name=st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
        arguments=st.dictionaries(st.text(max_size=6), json_values, max_size=3).map(
            lambda a: json.dumps(a, ensure_ascii=False)
        ),
    ),
    max_size=3,
    unique_by=lambda call: call.id,
)
outputs = st.builds(
    ModelOutput,
    content=st.text(max_size=80),
    finish_reason=st.sampled_from(["stop", "length", "tool_calls"]),
    prompt_tokens=st.integers(0, 10_000),
    completion_tokens=st.integers(0, 10_000),
    reasoning=st.none() | st.text(min_size=1, max_size=80),
    tool_calls=tool_calls,
)


@st.composite
def wire_streams(draw: st.DrawFn) -> tuple[ModelOutput, bytes]:
    """An answer and its SSE bytes, in the dialects gateways and proxies produce."""
    output = draw(outputs)
    frames = stream_chunks(
        output,
        completion_id="chatcmpl-fuzz",
        model="openai/gpt-4o-mini",
        created=1,
        tool_call_shape=draw(st.sampled_from(["fragments", "whole"])),
    )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    space = draw(st.sampled_from(["data: ", "data:"]))
    ascii_only = draw(st.booleans())
    comments = draw(st.sets(st.integers(0, len(frames)), max_size=3))
    parts = []
    for index, frame in enumerate(frames):
        if index in comments:
            parts.append(": keep-alive" + newline + newline)  # comments between events
        parts.append(space + json.dumps(frame, ensure_ascii=ascii_only) + newline * 2)
    if draw(st.booleans()):
        parts.append(space + "[DONE]" + newline * 2)
    prefix = "\ufeff" if draw(st.booleans()) else ""
    return output, (prefix + "".join(parts)).encode()


def _cut(data: bytes, offsets: list[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(o % (len(data) + 1) for o in offsets)})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _split(text: str, offsets: list[int]) -> list[str]:
    bounds = sorted({0, len(text), *(o % (len(text) + 1) for o in offsets)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _failure(run: Callable[[], object]) -> UpstreamError | None:
    """The ``UpstreamError`` ``run`` raised (malformed, truncated, in-band), else None.

    Any other exception propagates and fails the test.
    """
    try:
        run()
    except UpstreamError as error:
        return error
    return None


def run_pipeline(pieces: list[bytes]) -> tuple[list[StreamDelta], ChatCompletion]:
    """What the clients' stream reader does with a body arriving in ``pieces``."""
    lines, events, assembler = SSELineDecoder(), SSEDecoder(), StreamAssembler()
    deltas = []

    def take(data: str | None) -> None:
        if data is not None and (delta := assembler.add(data)) is not None:
            deltas.append(delta)

    for piece in pieces:
        for line in lines.feed(piece):
            take(events.feed(line))
    for line in lines.flush():
        take(events.feed(line))
    take(events.flush())
    return deltas, assembler.finish()


@settings(max_examples=80, deadline=None)
@given(stream=wire_streams(), offsets=st.lists(st.integers(0, 100_000), max_size=25))
def test_any_chunking_of_a_gateway_stream_gives_the_same_deltas_and_answer(
    stream: tuple[ModelOutput, bytes], offsets: list[int]
) -> None:
    output, body = stream
    whole_deltas, whole = run_pipeline([body])
    cut_deltas, cut = run_pipeline(_cut(body, offsets))
    assert cut_deltas == whole_deltas
    assert cut.to_dict() == whole.to_dict()
    # ...and both say what the model said.
    assert whole.content == output.content
    assert (whole.reasoning_content or "") == (output.reasoning or "")
    assert [(c.id, c.function.name, c.function.arguments) for c in whole.tool_calls] == [
        (c.id, c.name, c.arguments) for c in output.tool_calls
    ]
    assert whole.finish_reason == output.finish_reason
    assert whole.usage is not None
    assert whole.usage.prompt_tokens == output.prompt_tokens


@settings(max_examples=80, deadline=None)
@given(
    stream=wire_streams(),
    edits=st.lists(st.tuples(st.integers(0, 100_000), st.binary(max_size=4)), max_size=6),
    keep=st.integers(0, 100_000),
    offsets=st.lists(st.integers(0, 100_000), max_size=8),
)
def test_a_mangled_stream_only_raises_upstream_errors(
    stream: tuple[ModelOutput, bytes],
    edits: list[tuple[int, bytes]],
    keep: int,
    offsets: list[int],
) -> None:
    _, body = stream
    mangled = bytearray(body[: keep % (len(body) + 1)])  # cut short, then bytes replaced
    for at, replacement in edits:
        if mangled:
            position = at % len(mangled)
            mangled[position : position + len(replacement)] = replacement
    error = _failure(lambda: run_pipeline(_cut(bytes(mangled), offsets)))
    assert error is None or (error.message and error.code is not None)


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(
        st.binary(max_size=60)
        | st.text(max_size=60).map(str.encode)
        | st.sampled_from([b"data: ", b"\n\n", b"[DONE]", b'{"choices":[', b"event: error\n"]),
        max_size=20,
    )
)
def test_garbage_only_raises_upstream_errors(chunks: list[bytes]) -> None:
    error = _failure(lambda: run_pipeline(chunks))
    assert error is None or error.message


@settings(max_examples=100, deadline=None)
@given(
    calls=tool_calls.filter(bool),
    data=st.data(),
)
def test_tool_call_arguments_assemble_from_any_split_and_either_shape(
    calls: list[ToolCall], data: st.DataObject
) -> None:
    # Each call in its own shape: indexed fragments cut at random points, or one whole
    # call without an index whose arguments come as a string or as a JSON object.
    payloads: list[dict[str, Any]] = []
    indexed = data.draw(st.booleans())
    for index, call in enumerate(calls):
        if indexed:
            payloads.append(_tool_delta({"index": index, "id": call.id, "name": call.name}))
            cuts = data.draw(st.lists(st.integers(0, 1_000), max_size=6))
            for piece in _split(call.arguments, cuts):
                payloads.append(_tool_delta({"index": index, "arguments": piece}))
        else:
            as_object = data.draw(st.booleans())
            arguments: Any = json.loads(call.arguments) if as_object else call.arguments
            payloads.append(_tool_delta({"id": call.id, "name": call.name, "arguments": arguments}))
    assembler = StreamAssembler()
    for payload in payloads:
        assembler.add(json.dumps(payload))
    assembler.add(json.dumps(_finish("tool_calls")))
    answer = assembler.finish()
    got = [(c.id, c.function.name, json.loads(c.function.arguments)) for c in answer.tool_calls]
    assert got == [(c.id, c.name, json.loads(c.arguments)) for c in calls]
    if indexed:  # fragments are concatenated byte for byte
        assert [c.function.arguments for c in answer.tool_calls] == [c.arguments for c in calls]


def _tool_delta(call: dict[str, Any]) -> dict[str, Any]:
    function = {k: call.pop(k) for k in ("name", "arguments") if k in call}
    wire = {**call, "type": "function", "function": function}
    return {"choices": [{"index": 0, "delta": {"tool_calls": [wire]}, "finish_reason": None}]}


def _finish(reason: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
