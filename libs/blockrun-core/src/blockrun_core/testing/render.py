"""Putting the fake model's output and the gateway's errors on the wire, as BlockRun does.

Pure functions returning JSON-ready dicts: the ``chat.completion`` body, the stream's
``chat.completion.chunk`` frames, and the error envelopes of ``blockrun-wire.md`` §6.1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .model import ModelOutput

__all__ = [
    "ErrorReply",
    "ToolCallShape",
    "completion_body",
    "error_body",
    "error_reply",
    "stream_chunks",
    "usage_body",
]

ToolCallShape = Literal["fragments", "whole"]

_WORD_RE = re.compile(r"\s*\S+\s*|\s+")


def error_body(
    status: int,
    code: str,
    message: str,
    *,
    error_type: str | None = None,
    param: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The gateway's error envelope: OpenAI's nested ``error`` plus top-level copies."""
    if error_type is None:
        if status == 429:
            error_type = "rate_limit_error"
        elif status == 402:
            error_type = "payment_required"
        elif status < 500:
            error_type = "invalid_request_error"
        else:
            error_type = "api_error"
    body: dict[str, Any] = {
        "error": {"message": message, "type": error_type, "code": code, "param": param},
        "message": message,
        "code": code,
    }
    body.update(extra)
    return body


@dataclass(frozen=True)
class ErrorReply:
    """An error answer: status, JSON body and extra headers."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


def error_reply(
    status: int,
    code: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    error_type: str | None = None,
    param: str | None = None,
    **extra: Any,
) -> ErrorReply:
    """An :class:`ErrorReply` with the standard envelope."""
    body = error_body(status, code, message, error_type=error_type, param=param, **extra)
    return ErrorReply(status, body, dict(headers or {}))


def usage_body(output: ModelOutput) -> dict[str, Any]:
    """The ``usage`` object of an answer."""
    return {
        "prompt_tokens": output.prompt_tokens,
        "completion_tokens": output.completion_tokens,
        "total_tokens": output.prompt_tokens + output.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": output.reasoning_tokens},
    }


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def completion_body(
    output: ModelOutput, *, completion_id: str, model: str, created: int
) -> dict[str, Any]:
    """The ``chat.completion`` JSON body (a scripted raw body is served verbatim)."""
    if output.raw is not None:
        return dict(output.raw)
    message: dict[str, Any] = {"role": "assistant", "content": output.content}
    if output.reasoning:
        message["reasoning_content"] = output.reasoning
    if output.tool_calls:
        message["tool_calls"] = [_tool_call(c.id, c.name, c.arguments) for c in output.tool_calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": output.finish_reason}],
        "usage": usage_body(output),
    }


def _pieces(text: str, count: int) -> list[str]:
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_chunks(
    output: ModelOutput,
    *,
    completion_id: str,
    model: str,
    created: int,
    tool_call_shape: ToolCallShape = "fragments",
) -> list[dict[str, Any]]:
    """Every ``data:`` frame of the answer as a stream, in order, without ``[DONE]``.

    Role first, then reasoning and content word by word, tool calls (OpenAI fragments with
    ``index``, or whole calls without), a ``finish_reason`` frame, and the usage frame
    with ``choices: []``.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    frames = [chunk({"role": "assistant", "content": ""})]
    if output.reasoning:
        frames += [chunk({"reasoning_content": w}) for w in _WORD_RE.findall(output.reasoning)]
    frames += [chunk({"content": w}) for w in _WORD_RE.findall(output.content)]
    for index, call in enumerate(output.tool_calls):
        if tool_call_shape == "whole":
            frames.append(chunk({"tool_calls": [_tool_call(call.id, call.name, call.arguments)]}))
            continue
        opening = _tool_call(call.id, call.name, "")
        frames.append(chunk({"tool_calls": [{"index": index, **opening}]}))
        for piece in _pieces(call.arguments, 3):
            fragment = {"index": index, "function": {"arguments": piece}}
            frames.append(chunk({"tool_calls": [fragment]}))
    frames.append(chunk({}, output.finish_reason))
    frames.append(
        {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage_body(output),
        }
    )
    return frames
