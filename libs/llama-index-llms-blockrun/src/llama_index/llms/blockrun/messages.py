"""LlamaIndex chat messages to the OpenAI-style message dicts the gateway takes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from blockrun_core.errors import ConfigurationError
from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

__all__ = ["to_wire_messages"]

# Roles some LlamaIndex integrations use for the model's own turns.
_ASSISTANT_ALIASES = frozenset({MessageRole.CHATBOT, MessageRole.MODEL})


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Convert a conversation; raises ``ConfigurationError`` for blocks the gateway can't take.

    Reasoning (``ThinkingBlock``) is model output, never input, so it is dropped; cache
    points are provider hints with no OpenAI equivalent and are dropped too.
    """
    return [_message(message, i) for i, message in enumerate(messages)]


def _message(message: ChatMessage, position: int) -> dict[str, Any]:
    role = MessageRole.ASSISTANT if message.role in _ASSISTANT_ALIASES else message.role
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block))
        elif isinstance(block, ToolCallBlock):
            calls.append(_tool_call(block))
        elif not isinstance(block, (ThinkingBlock, CachePoint)):
            raise ConfigurationError(
                f"messages[{position}] has a {block.block_type!r} block: BlockRunLLM sends "
                "text, images and tool calls only."
            )
    wire: dict[str, Any] = {"role": role.value}
    if len(parts) == len(texts):  # text only: a plain string, as every model accepts
        wire["content"] = "\n".join(texts) if texts or not calls else None
    else:
        wire["content"] = parts
    extra = message.additional_kwargs
    if not calls and extra.get("tool_calls"):  # older agents kept OpenAI tool calls here
        calls = [_legacy_tool_call(call) for call in extra["tool_calls"]]
    if calls:
        wire["tool_calls"] = calls
    for key in ("tool_call_id", "name"):
        if extra.get(key) is not None:
            wire[key] = extra[key]
    return wire


def _image_part(block: ImageBlock) -> dict[str, Any]:
    url = str(block.url) if block.url is not None and block.image is None else block.inline_url()
    image: dict[str, Any] = {"url": url}
    if block.detail:
        image["detail"] = block.detail
    return {"type": "image_url", "image_url": image}


def _tool_call(block: ToolCallBlock) -> dict[str, Any]:
    arguments = block.tool_kwargs
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {
        "id": block.tool_call_id or "",
        "type": "function",
        "function": {"name": block.tool_name, "arguments": text},
    }


def _legacy_tool_call(call: Any) -> dict[str, Any]:
    plain = call.model_dump() if hasattr(call, "model_dump") else call
    if not isinstance(plain, Mapping):
        raise ConfigurationError(f"Unreadable tool call in additional_kwargs: {call!r}")
    return dict(plain)
