"""Conversions between LangChain messages and the core's wire types, both directions."""

from __future__ import annotations

from blockrun_core import ChatChunk, ChatResult
from blockrun_core.errors import AttemptFailure, UpstreamError
from blockrun_core.router.types import RoutingDecision
from blockrun_core.wire import ChatCompletion, ToolCallDelta, Usage
from blockrun_core.x402 import PaymentReceipt
from langchain_blockrun._convert import (
    StreamConverter,
    blockrun_metadata,
    to_chat_result,
    to_wire_messages,
)
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk

PNG = "iVBORw0KGgo="


def _completion(message: dict[str, object], **extra: object) -> ChatCompletion:
    return ChatCompletion.from_dict(
        {
            "id": "chatcmpl-1",
            "model": "openai/gpt-4o-mini",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
            **extra,
        }
    )


def _result(message: dict[str, object], **fields: object) -> ChatResult:
    defaults: dict[str, object] = {
        "requested_model": "openai/gpt-4o-mini",
        "cost_usd": 0.002,
        "payment": None,
        "receipt": None,
        "round_trips": 2,
    }
    return ChatResult(response=_completion(message), **{**defaults, **fields})  # type: ignore[arg-type]


def _decision(baseline: float) -> RoutingDecision:
    return RoutingDecision(
        model="openai/gpt-4o-mini",
        tier="SIMPLE",
        profile="auto",
        confidence=0.9,
        signals=("short prompt",),
        candidates=("openai/gpt-4o-mini", "nvidia/gpt-oss-120b"),
        estimated_cost_usd=0.002,
        baseline_cost_usd=baseline,
        savings=0.5,
    )


def test_assistant_turns_keep_only_their_text() -> None:
    history = [
        SystemMessage("be brief"),
        HumanMessage("hi", name="ana"),
        AIMessage(
            content=[
                {"type": "text", "text": "Let me look. "},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                {"type": "tool_call", "id": "t1", "name": "f", "args": {"a": 1}},
            ],
            tool_calls=[{"name": "f", "args": {"a": 1}, "id": "t1", "type": "tool_call"}],
        ),
        ToolMessage("42", tool_call_id="t1", status="error"),
    ]
    wire = to_wire_messages(history)
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "tool"]
    assert wire[1]["name"] == "ana"
    assert wire[2]["content"] == "Let me look. "
    assert wire[2]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert wire[3] == {"role": "tool", "tool_call_id": "t1", "content": "42"}


def test_images_in_both_forms_become_image_url_parts() -> None:
    message = HumanMessage(
        content=[
            {"type": "text", "text": "what is this?"},
            {"type": "image", "base64": PNG, "mime_type": "image/png"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ]
    )
    [wire] = to_wire_messages([message])
    parts = wire["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert {p["image_url"]["url"] for p in parts[1:]} == {f"data:image/png;base64,{PNG}"}


def test_result_carries_usage_cost_routing_and_receipt() -> None:
    receipt = PaymentReceipt(success=True, transaction="0xabc", network="eip155:8453")
    result = _result(
        {"role": "assistant", "content": "84", "reasoning_content": "12 times 7"},
        receipt=receipt,
        routing=_decision(baseline=0.008),
        attempts=(AttemptFailure("x/y", UpstreamError("down", status_code=503)),),
    )
    chat = to_chat_result(result)
    [generation] = chat.generations
    message = generation.message
    assert isinstance(message, AIMessage)
    assert message.content == "84" and message.id == "chatcmpl-1"
    assert message.additional_kwargs == {"reasoning_content": "12 times 7"}
    assert message.usage_metadata == {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14}
    assert message.response_metadata == {
        "model_name": "openai/gpt-4o-mini",
        "model_provider": "blockrun",
    }
    info = generation.generation_info or {}
    assert info["finish_reason"] == "stop"
    blockrun = info["blockrun"]
    assert blockrun["cost_usd"] == 0.002 and blockrun["baseline_cost_usd"] == 0.008
    assert blockrun["savings"] == 0.75
    assert blockrun["routing"]["tier"] == "SIMPLE" and blockrun["receipt"]["transaction"] == "0xabc"
    assert blockrun["attempts"] == [{"model": "x/y", "error": "down"}]
    assert chat.llm_output == {
        "model_name": "openai/gpt-4o-mini",
        "model_provider": "blockrun",
        "blockrun": blockrun,
    }


def test_malformed_tool_call_is_kept_as_invalid_not_raised() -> None:
    calls = [
        {"id": "a", "type": "function", "function": {"name": "ok", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "bad", "arguments": "{nope"}},
    ]
    message = to_chat_result(_result({"role": "assistant", "content": "", "tool_calls": calls}))
    ai = message.generations[0].message
    assert isinstance(ai, AIMessage)
    assert ai.tool_calls == [{"name": "ok", "args": {"x": 1}, "id": "a", "type": "tool_call"}]
    [invalid] = ai.invalid_tool_calls
    assert invalid["name"] == "bad" and invalid["args"] == "{nope" and invalid["error"]


def test_savings_need_a_paid_cost_and_a_baseline() -> None:
    assert (
        blockrun_metadata(cost_usd=None, routing=_decision(0.01), receipt=None)["savings"] is None
    )
    assert blockrun_metadata(cost_usd=0.02, routing=_decision(0.01), receipt=None)["savings"] == 0.0
    assert blockrun_metadata(cost_usd=0.0, routing=None, receipt=None)["savings"] is None


def _chunk(delta: str = "", **fields: object) -> ChatChunk:
    base: dict[str, object] = {
        "delta": delta,
        "reasoning": "",
        "tool_calls": (),
        "finish_reason": None,
        "usage": None,
        "model": "openai/gpt-4o-mini",
        "cost_usd": 0.002,
        "receipt": None,
    }
    return ChatChunk(**{**base, **fields})  # type: ignore[arg-type]


def _aggregate(chunks: list[ChatGenerationChunk]) -> ChatGenerationChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def test_stream_counts_usage_and_cost_once_on_a_closing_chunk() -> None:
    converter = StreamConverter()
    pieces = [
        _chunk("Hel"),
        _chunk("lo", reasoning="thinking"),
        _chunk(finish_reason="stop"),
        _chunk(usage=Usage(prompt_tokens=7, completion_tokens=2, total_tokens=9)),
    ]
    shown = [c for c in map(converter.feed, pieces) if c is not None]
    assert [c.text for c in shown] == ["Hel", "lo"]
    closing = converter.finish()
    assert closing.message.chunk_position == "last"  # type: ignore[attr-defined]
    whole = _aggregate([*shown, closing])
    message = whole.message
    assert message.content == "Hello"
    assert message.additional_kwargs == {"reasoning_content": "thinking"}
    assert message.usage_metadata == {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}  # type: ignore[attr-defined]
    assert message.response_metadata["model_name"] == "openai/gpt-4o-mini"
    assert message.response_metadata["finish_reason"] == "stop"
    assert (whole.generation_info or {})["blockrun"]["cost_usd"] == 0.002
    assert [c.message.usage_metadata for c in shown] == [None, None]  # type: ignore[attr-defined]


def test_stream_tool_call_fragments_merge_by_index() -> None:
    converter = StreamConverter()
    pieces = [
        _chunk(tool_calls=(ToolCallDelta(0, "call_a", "add", '{"a":'),)),
        _chunk(tool_calls=(ToolCallDelta(1, "call_b", "mul", '{"b": 2}'),)),
        _chunk(tool_calls=(ToolCallDelta(0, None, None, " 1}"),)),
        _chunk(finish_reason="tool_calls"),
    ]
    shown = [c for c in map(converter.feed, pieces) if c is not None]
    whole = _aggregate([*shown, converter.finish()]).message
    assert whole.tool_calls == [  # type: ignore[attr-defined]
        {"name": "add", "args": {"a": 1}, "id": "call_a", "type": "tool_call"},
        {"name": "mul", "args": {"b": 2}, "id": "call_b", "type": "tool_call"},
    ]


def test_stream_without_usage_when_asked() -> None:
    converter = StreamConverter(include_usage=False)
    converter.feed(_chunk("x", usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2)))
    assert converter.finish().message.usage_metadata is None  # type: ignore[attr-defined]
