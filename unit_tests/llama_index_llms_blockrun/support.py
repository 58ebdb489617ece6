"""Constants and helpers shared by BlockRunLLM's tests."""

from __future__ import annotations

from typing import Any

from blockrun_core.testing import LocalGateway
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.llms.blockrun import BlockRunLLM
from pydantic import Field

PAID = "openai/gpt-4o-mini"  # a cheap paid model with tools and structured output
FREE = "nvidia/gpt-oss-120b"  # free, reasons, no tools

METHODS = [
    "chat",
    "stream_chat",
    "achat",
    "astream_chat",
    "complete",
    "stream_complete",
    "acomplete",
    "astream_complete",
]

Response = ChatResponse | CompletionResponse


async def call(llm: BlockRunLLM, method: str, prompt: str, **kwargs: Any) -> list[Response]:
    """Every response ``method`` produced for ``prompt`` (one, unless it streams)."""
    arg: Any = [ChatMessage(role="user", content=prompt)] if "chat" in method else prompt
    result = getattr(llm, method)(arg, **kwargs)
    if method.startswith("a"):
        result = await result
    if "stream" not in method:
        return [result]
    if method.startswith("a"):
        return [r async for r in result]
    return list(result)


def text_of(response: Response) -> str:
    """The answer's text, for chat and completion responses alike."""
    if isinstance(response, ChatResponse):
        return response.message.content or ""
    return response.text


def paid_usd(gw: LocalGateway) -> float:
    """Everything the gateway was paid, in USD."""
    return sum(p.amount_micros for p in gw.payments) / 1e6


class EventLog(BaseEventHandler):
    """Every instrumentation event, in order."""

    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventLog"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, kind: type[BaseEvent]) -> list[Any]:
        """The events of one kind."""
        return [e for e in self.events if isinstance(e, kind)]
