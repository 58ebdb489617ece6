"""Build and encode the ``/v1/chat/completions`` request body."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from blockrun_core.errors import ConfigurationError
from blockrun_core.wire.types import WIRE_TYPES

__all__ = [
    "CLIENT_ONLY_PARAMS",
    "DEFAULT_MAX_TOKENS",
    "MAX_TOKENS_LIMIT",
    "build_chat_body",
    "encode_body",
]

DEFAULT_MAX_TOKENS = 1024
"""The output ceiling when a call names none; it also sets the price quoted."""
MAX_TOKENS_LIMIT = 1_000_000
"""The largest ``max_tokens`` a request body may carry."""

# Never on the wire: the gateway sets stream_options itself; the others are walked or
# resolved client-side.
CLIENT_ONLY_PARAMS = frozenset({"stream_options", "fallback_models", "routing_profile"})
"""Parameters the client consumes and never puts in the request body."""

_SYSTEM_ROLES = frozenset({"system", "developer"})
_RANGES = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0)}


def build_chat_body(
    *,
    model: str,
    messages: Sequence[Any],
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    stream: bool = False,
    **params: Any,
) -> dict[str, Any]:
    """Return the JSON body of a chat request, validated.

    ``messages`` are mappings, :class:`ChatMessage` objects or pydantic-style models
    (anything with ``model_dump``, e.g. from LangChain). ``max_tokens`` is always sent
    because it sets the price (``None`` means the default). Params whose value is
    ``None`` are dropped, client-only params are stripped, unknown params pass through
    verbatim. ``"stream": true`` is sent only when streaming. Raises
    :class:`ConfigurationError` on invalid input.
    """
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError("model must be a non-empty string.")
    body: dict[str, Any] = {
        "model": model,
        "messages": _convert_messages(messages),
        "max_tokens": _check_max_tokens(DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens),
    }
    for key, value in params.items():
        if value is None or key in CLIENT_ONLY_PARAMS:
            continue
        if key in _RANGES:
            _check_range(key, value)
        body[key] = _plain(value)
    if stream:
        if "search_parameters" in body:
            raise ConfigurationError(
                "search_parameters cannot be combined with stream=True; "
                "the gateway rejects live search on streams."
            )
        body["stream"] = True
    return body


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; encode once and reuse the bytes for the paid retry."""
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"The request body is not JSON-serialisable: {exc}") from exc
    return text.encode("utf-8")


def _check_max_tokens(value: object) -> int:
    if type(value) is bool or not isinstance(value, int):
        raise ConfigurationError(
            f"max_tokens must be an integer, got {type(value).__name__} {value!r}."
        )
    if not 1 <= value <= MAX_TOKENS_LIMIT:
        raise ConfigurationError(
            f"max_tokens must be between 1 and {MAX_TOKENS_LIMIT:,}, got {value}."
        )
    return int(value)


def _check_range(name: str, value: object) -> None:
    low, high = _RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number, got {type(value).__name__}.")
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g}, got {value!r}.")


def _convert_messages(messages: Sequence[Any]) -> list[Any]:
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise ConfigurationError("messages must be a list of message objects.")
    if not messages:
        raise ConfigurationError("messages is empty: send at least one user message.")
    converted: list[Any] = []
    roles: set[str] = set()
    for position, message in enumerate(messages):
        plain: Any = _plain(message)
        if not isinstance(plain, dict):
            raise ConfigurationError(
                f"messages[{position}] must be a mapping or a ChatMessage, "
                f"got {type(message).__name__}."
            )
        role = plain.get("role")
        if not isinstance(role, str) or not role:
            raise ConfigurationError(f"messages[{position}] has no role.")
        roles.add(role)
        converted.append(plain)
    if roles <= _SYSTEM_ROLES:
        raise ConfigurationError(
            "The conversation has only system messages: add at least one user message."
        )
    return converted


def _plain(value: Any) -> Any:
    """Copy ``value`` as plain JSON containers, dumping wire types and models on the way."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, WIRE_TYPES):
        return value.to_dict()
    # Duck-typed pydantic models (LangChain, LlamaIndex and user types), without
    # importing pydantic here.
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump) and not isinstance(value, type):
        return model_dump(mode="json", exclude_none=True)
    return value
