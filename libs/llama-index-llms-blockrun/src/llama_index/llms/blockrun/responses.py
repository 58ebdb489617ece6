"""Core results to LlamaIndex ``ChatResponse`` objects, whole or folded from a stream."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from blockrun_core.results import ChatChunk, ChatResult
from blockrun_core.wire import Usage
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ContentBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from .events import BlockRunCallEvent

__all__ = ["CallReport", "StreamFolder", "to_chat_response"]


@dataclass(frozen=True, slots=True)
class CallReport:
    """The BlockRun facts of one call: who served it, why, what it cost, the receipt.

    ``savings`` is the fraction saved against the routing baseline, from what was paid.
    """

    requested_model: str
    model: str
    cost_usd: float | None
    savings: float | None
    routing: dict[str, Any] | None
    receipt: dict[str, Any] | None

    @classmethod
    def of(cls, requested_model: str, source: ChatResult | ChatChunk) -> CallReport:
        """The report of a result, or of a stream from any of its chunks."""
        decision, cost = source.routing, source.cost_usd
        savings = None
        if decision is not None and cost is not None and decision.baseline_cost_usd > 0:
            savings = max(0.0, 1.0 - cost / decision.baseline_cost_usd)
        return cls(
            requested_model=requested_model,
            model=source.model,
            cost_usd=cost,
            savings=savings,
            routing=decision.to_dict() if decision is not None else None,
            receipt=asdict(source.receipt) if source.receipt is not None else None,
        )

    def response_kwargs(self, usage: Usage | None, finish_reason: str | None) -> dict[str, Any]:
        """``ChatResponse.additional_kwargs``: token counts (as LlamaIndex's token counter
        reads them), cost, served model, routing decision and receipt."""
        out: dict[str, Any] = {}
        if usage is not None:
            out["prompt_tokens"] = usage.prompt_tokens
            out["completion_tokens"] = usage.completion_tokens
            out["total_tokens"] = usage.total_tokens
        out["cost_usd"] = self.cost_usd
        out["savings"] = self.savings
        out["model"] = self.model
        out["finish_reason"] = finish_reason
        out["routing"] = self.routing
        out["receipt"] = self.receipt
        return out

    def event(self, usage: Usage | None, *, streamed: bool) -> BlockRunCallEvent:
        """The instrumentation event reporting this call."""
        return BlockRunCallEvent(
            model=self.model,
            requested_model=self.requested_model,
            cost_usd=self.cost_usd,
            savings=self.savings,
            prompt_tokens=usage.prompt_tokens if usage is not None else None,
            completion_tokens=usage.completion_tokens if usage is not None else None,
            routing=self.routing,
            receipt=self.receipt,
            streamed=streamed,
        )


def to_chat_response(result: ChatResult, report: CallReport) -> ChatResponse:
    """A whole answer: reasoning, text and tool calls as blocks; the wire body as ``raw``."""
    calls = [(c.id, c.function.name, c.function.arguments) for c in result.tool_calls]
    blocks = _blocks(result.reasoning_content or "", result.content, calls, final=True)
    return ChatResponse(
        message=ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks),
        raw=result.response.to_dict(),
        additional_kwargs=report.response_kwargs(result.usage, result.finish_reason),
    )


class StreamFolder:
    """Folds stream chunks into LlamaIndex's streaming shape: each ``ChatResponse`` holds
    the whole message so far, and ``delta`` the new text. Shared by sync and async."""

    def __init__(self, requested_model: str) -> None:
        self._requested = requested_model
        self.report: CallReport | None = None
        self.usage: Usage | None = None
        self._text = ""
        self._reasoning = ""
        self._finish: str | None = None
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]

    def add(self, chunk: ChatChunk) -> ChatResponse:
        """The response after ``chunk``."""
        if self.report is None:
            self.report = CallReport.of(self._requested, chunk)
        self._text += chunk.delta
        self._reasoning += chunk.reasoning
        for piece in chunk.tool_calls:
            call = self._calls.setdefault(piece.index, ["", "", ""])
            call[0] = call[0] or piece.id or ""
            call[1] = call[1] or piece.name or ""
            call[2] += piece.arguments
        self._finish = chunk.finish_reason or self._finish
        self.usage = chunk.usage or self.usage
        calls = [(i, n, a) for i, n, a in self._calls.values()]
        blocks = _blocks(self._reasoning, self._text, calls, final=self._finish is not None)
        extra = self.report.response_kwargs(self.usage, self._finish)
        if chunk.reasoning:
            extra["thinking_delta"] = chunk.reasoning
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks),
            delta=chunk.delta,
            raw=_chunk_raw(chunk),
            additional_kwargs=extra,
        )

    def event(self) -> BlockRunCallEvent | None:
        """The call's event, once a chunk has arrived (the payment precedes the first)."""
        return None if self.report is None else self.report.event(self.usage, streamed=True)


def _blocks(
    reasoning: str, text: str, calls: list[tuple[str, str, str]], *, final: bool
) -> list[ContentBlock]:
    blocks: list[ContentBlock] = []
    if reasoning:
        blocks.append(ThinkingBlock(content=reasoning))
    blocks.append(TextBlock(text=text))
    for call_id, name, arguments in calls:
        kwargs = _parsed(arguments) if final else arguments
        blocks.append(
            ToolCallBlock(tool_call_id=call_id or None, tool_name=name, tool_kwargs=kwargs)
        )
    return blocks


def _parsed(arguments: str) -> dict[str, Any] | str:
    """Complete arguments as a dict; text that is not a JSON object stays text, so that
    ``get_tool_calls_from_response`` can say what is wrong with it."""
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


def _chunk_raw(chunk: ChatChunk) -> dict[str, Any]:
    return {
        "model": chunk.model,
        "delta": chunk.delta,
        "reasoning": chunk.reasoning,
        "tool_calls": [asdict(c) for c in chunk.tool_calls],
        "finish_reason": chunk.finish_reason,
        "usage": chunk.usage.to_dict() if chunk.usage is not None else None,
    }
