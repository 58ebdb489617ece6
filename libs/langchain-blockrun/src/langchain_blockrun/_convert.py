"""Pure conversions between LangChain's types and the core's wire types, both directions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    InvalidToolCall,
    ToolCall,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

if TYPE_CHECKING:
    from blockrun_core import ChatChunk
    from blockrun_core import ChatResult as CoreResult
    from blockrun_core.router.types import RoutingDecision
    from blockrun_core.wire import Usage
    from blockrun_core.x402 import PaymentReceipt

__all__ = [
    "PROVIDER",
    "StreamConverter",
    "blockrun_metadata",
    "to_chat_result",
    "to_usage_metadata",
    "to_wire_messages",
]

PROVIDER = "blockrun"


# --------------------------------------------------------------------------- outbound


def to_wire_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """OpenAI chat dicts: images, tool calls, tool results and names included.

    Assistant turns keep only their text: tool calls travel in ``tool_calls``, and the
    provider blocks LangChain may keep in ``content`` (``tool_use``, ``tool_call``,
    ``reasoning``) are not valid chat-completions content.
    """
    wire: list[dict[str, Any]] = convert_to_openai_messages(list(messages))
    for message in wire:
        content = message.get("content")
        if message["role"] == "assistant" and isinstance(content, list):
            message["content"] = "".join(
                part.get("text", "") for part in content if part.get("type") == "text"
            )
    return wire


# --------------------------------------------------------------------------- inbound


def to_usage_metadata(usage: Usage) -> UsageMetadata:
    """LangChain's usage record for the gateway's token counts."""
    metadata = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    )
    if usage.cached_tokens:
        metadata["input_token_details"] = InputTokenDetails(cache_read=usage.cached_tokens)
    if usage.reasoning_tokens:
        metadata["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    return metadata


def blockrun_metadata(
    *,
    cost_usd: float | None,
    routing: RoutingDecision | None,
    receipt: PaymentReceipt | None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``response_metadata["blockrun"]`` entry: cost, saving, routing and receipt.

    ``cost_usd`` is what was paid (0.0 for a free model, None on the account rail);
    ``savings`` is the fraction saved against the routing baseline, from that cost.
    """
    baseline = routing.baseline_cost_usd if routing is not None else None
    savings = None
    if cost_usd is not None and baseline:
        savings = max(0.0, 1.0 - cost_usd / baseline)
    return {
        "cost_usd": cost_usd,
        "baseline_cost_usd": baseline,
        "savings": savings,
        "routing": routing.to_dict() if routing is not None else None,
        "receipt": asdict(receipt) if receipt is not None else None,
        **extra,
    }


def _tool_calls(result: CoreResult) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in result.tool_calls:
        raw = call.to_dict()
        try:
            valid.append(parse_tool_call(raw, return_id=True))  # type: ignore[arg-type]
        except Exception as exc:  # a malformed call is data on the message, not an error
            invalid.append(make_invalid_tool_call(raw, str(exc)))
    return valid, invalid


def _reasoning(text: str | None) -> dict[str, Any]:
    # DeepSeek/xAI convention: LangChain reads it into a leading ``reasoning`` block.
    return {"reasoning_content": text} if text else {}


def to_chat_result(result: CoreResult) -> ChatResult:
    """The LangChain result of one completed call, with cost and routing metadata."""
    tool_calls, invalid = _tool_calls(result)
    usage = result.usage
    message = AIMessage(
        content=result.content,
        additional_kwargs=_reasoning(result.reasoning_content),
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        usage_metadata=to_usage_metadata(usage) if usage is not None else None,
        response_metadata={"model_name": result.model, "model_provider": PROVIDER},
        id=result.response.id or None,
    )
    info = blockrun_metadata(
        cost_usd=result.cost_usd,
        routing=result.routing,
        receipt=result.receipt,
        requested_model=result.requested_model,
        request_id=result.request_id,
        round_trips=result.round_trips,
        attempts=[{"model": a.model, "error": a.error.message} for a in result.attempts],
    )
    generation = ChatGeneration(
        message=message, generation_info={"finish_reason": result.finish_reason, "blockrun": info}
    )
    llm_output = {"model_name": result.model, "model_provider": PROVIDER, "blockrun": info}
    return ChatResult(generations=[generation], llm_output=llm_output)


class StreamConverter:
    """Turns the core's stream chunks into LangChain chunks, plus one closing chunk.

    Content, reasoning and tool-call pieces go out as they arrive. Usage, the served
    model, ``finish_reason`` and the ``blockrun`` metadata go out once, on a final
    ``chunk_position="last"`` chunk, so aggregation counts tokens and cost exactly once.
    """

    def __init__(self, *, include_usage: bool = True) -> None:
        self._include_usage = include_usage
        self._last: ChatChunk | None = None
        self._usage: Usage | None = None
        self._finish_reason: str | None = None

    def feed(self, chunk: ChatChunk) -> ChatGenerationChunk | None:
        """The LangChain chunk for ``chunk``, or None if it carries nothing to show yet."""
        self._last = chunk
        if chunk.usage is not None:
            self._usage = chunk.usage
        if chunk.finish_reason:
            self._finish_reason = chunk.finish_reason
        if not (chunk.delta or chunk.reasoning or chunk.tool_calls):
            return None
        message = AIMessageChunk(
            content=chunk.delta,
            additional_kwargs=_reasoning(chunk.reasoning),
            tool_call_chunks=[
                tool_call_chunk(name=d.name, args=d.arguments, id=d.id, index=d.index)
                for d in chunk.tool_calls
            ],
            response_metadata={"model_provider": PROVIDER},
        )
        return ChatGenerationChunk(message=message)

    def finish(self) -> ChatGenerationChunk:
        """The closing chunk: usage, served model, finish reason, cost and routing."""
        last = self._last
        info = (
            blockrun_metadata(cost_usd=last.cost_usd, routing=last.routing, receipt=last.receipt)
            if last is not None
            else None
        )
        usage = self._usage if self._include_usage else None
        message = AIMessageChunk(
            content="",
            usage_metadata=to_usage_metadata(usage) if usage is not None else None,
            response_metadata={
                "model_provider": PROVIDER,
                "model_name": last.model if last is not None else None,
                "finish_reason": self._finish_reason,
            },
            chunk_position="last",
        )
        return ChatGenerationChunk(
            message=message,
            generation_info={"finish_reason": self._finish_reason, "blockrun": info},
        )
