"""Checking a chat request before anything is quoted, paid or run.

Invalid requests are refused with the gateway's 400s and never cost anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from blockrun_core._json import loads_untrusted
from blockrun_core.catalog import ModelInfo
from blockrun_core.catalog.quote import effective_max_tokens
from blockrun_core.catalog.tokens import estimate_input_tokens

from .render import ErrorReply, error_reply

__all__ = ["ChatCall", "parse_chat"]

_ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))
_INSTRUCTION_ROLES = frozenset(("system", "developer"))
_IMAGE_PARTS = frozenset(("image_url", "image", "input_image"))
_IMAGE_URL_PREFIXES = ("http://", "https://", "data:image/")


@dataclass(frozen=True)
class ChatCall:
    """A valid chat request and what the gateway derived from it."""

    body: dict[str, Any]
    model: ModelInfo
    stream: bool
    input_tokens: int
    max_tokens: int  # effective: requested and clamped, or the default
    requested_max_tokens: int | None

    @property
    def capped(self) -> bool:
        """Whether the requested ``max_tokens`` was over the model's ceiling."""
        return self.requested_max_tokens is not None and self.requested_max_tokens > self.max_tokens

    def max_tokens_headers(self) -> dict[str, str]:
        """``X-Max-Tokens-*`` when the request was clamped."""
        if not self.capped:
            return {}
        return {
            "X-Max-Tokens-Capped": "true",
            "X-Max-Tokens-Requested": str(self.requested_max_tokens),
            "X-Max-Tokens-Effective": str(self.max_tokens),
        }


def _invalid_body(path: str, message: str) -> ErrorReply:
    return error_reply(
        400,
        "INVALID_REQUEST_BODY",
        f"Invalid request body: {path}: {message}",
        details=[{"path": path, "message": message}],
    )


def _invalid_parameter(param: str, message: str) -> ErrorReply:
    return error_reply(400, "INVALID_PARAMETER", message, param=param)


def _number(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(key)
    return float(value)


def _check_parameters(body: Mapping[str, Any]) -> ErrorReply | None:
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            return _invalid_parameter(key, f"{key} must be an integer")
        if isinstance(value, int) and value < 1:
            return _invalid_parameter(key, f"{key} must be at least 1")
    for key, low, high in (("temperature", 0.0, 2.0), ("top_p", 0.0, 1.0)):
        try:
            number = _number(body, key)
        except TypeError:
            return _invalid_parameter(key, f"{key} must be a number")
        if number is not None and not low <= number <= high:
            return _invalid_parameter(key, f"{key} must be between {low:g} and {high:g}")
    if "stream" in body and not isinstance(body["stream"], bool):
        return _invalid_parameter("stream", "stream must be a boolean")
    return None


def _check_messages(messages: object) -> ErrorReply | None:
    if not isinstance(messages, list):
        return _invalid_body("messages", "expected an array of messages")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            return _invalid_body(f"messages[{i}]", "expected an object")
        if message.get("role") not in _ROLES:
            return _invalid_body(f"messages[{i}].role", "expected system, user, assistant or tool")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            return _invalid_body(f"messages[{i}].content", "expected a string or an array")
    if not any(m.get("role") not in _INSTRUCTION_ROLES for m in messages):
        return error_reply(
            400,
            "EMPTY_CONVERSATION",
            "The conversation has no user or assistant message.",
            param="messages",
        )
    return None


def _images(messages: list[Mapping[str, Any]]) -> list[object]:
    urls: list[object] = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, Mapping) and part.get("type") in _IMAGE_PARTS:
                image = part.get("image_url", part.get("image"))
                urls.append(image.get("url") if isinstance(image, Mapping) else image)
    return urls


def _check_capabilities(body: Mapping[str, Any], model: ModelInfo) -> ErrorReply | None:
    images = _images(body["messages"])
    if images and not model.supports_vision:
        return _invalid_parameter("messages", f"Model {model.id} does not accept image inputs.")
    for url in images:
        if not isinstance(url, str) or not url.startswith(_IMAGE_URL_PREFIXES):
            return error_reply(
                400,
                "INVALID_IMAGE_URL",
                "Image URLs must be http(s) URLs or data:image/ URIs.",
                param="messages",
            )
    tools = body.get("tools")
    if tools and body.get("tool_choice") != "none" and not model.supports_tools:
        return _invalid_parameter("tools", f"Model {model.id} does not support tool calling.")
    if body.get("stream") is True:
        search = body.get("search_parameters")
        if not model.supports_streaming or (
            isinstance(search, Mapping) and search.get("mode") != "off"
        ):
            return error_reply(
                400,
                "STREAM_UNSUPPORTED",
                f"Streaming is not supported for {model.id} with these parameters.",
                param="stream",
            )
    return None


def parse_chat(
    raw: bytes, resolve: Callable[[str], ModelInfo | ErrorReply]
) -> ChatCall | ErrorReply:
    """Parse and check a chat body; ``resolve`` maps the model id to a model or an error."""
    try:
        body = loads_untrusted(raw)
    except ValueError:
        return error_reply(400, "INVALID_JSON", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return _invalid_body("", "expected a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"].strip():
        return _invalid_body("model", "expected a model id")
    problem = _check_messages(body.get("messages")) or _check_parameters(body)
    if problem is not None:
        return problem
    model = resolve(body["model"])
    if isinstance(model, ErrorReply):
        return model
    problem = _check_capabilities(body, model)
    if problem is not None:
        return problem
    input_tokens = estimate_input_tokens(body)
    if input_tokens > model.context_window:
        return error_reply(
            400,
            "CONTEXT_LENGTH_EXCEEDED",
            f"The conversation (~{input_tokens} tokens) exceeds {model.id}'s context window "
            f"of {model.context_window} tokens.",
            param="messages",
        )
    requested = [
        body[k] for k in ("max_tokens", "max_completion_tokens") if body.get(k) is not None
    ]
    return ChatCall(
        body=body,
        model=model,
        stream=body.get("stream") is True,
        input_tokens=input_tokens,
        max_tokens=effective_max_tokens(model, body),
        requested_max_tokens=max(requested) if requested else None,
    )
