"""OpenAI-compatible response and stream-chunk types.

Plain frozen dataclasses. ``from_dict`` is tolerant: unknown fields are kept in
``extra`` (so upstream extras such as ``service_tier`` or provider-specific usage counters
survive a round trip through ``to_dict``), ``null`` means the default, and only the
shape is checked; a wrong shape raises ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from blockrun_core._json import loads_untrusted
from blockrun_core.errors import UpstreamError

__all__ = [
    "WIRE_TYPES",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionTokensDetails",
    "FunctionCall",
    "FunctionCallDelta",
    "PromptTokensDetails",
    "ToolCall",
    "ToolCallChunk",
    "Usage",
]

_PREVIEW_CHARS = 200
_KNOWN_FIELDS: dict[type, frozenset[str]] = {}


# --------------------------------------------------------------------------- helpers


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if type(value) is dict or isinstance(value, Mapping):
        return value
    raise ValueError(f"{what} must be an object, got {type(value).__name__}")


def _extra(data: Mapping[str, Any], cls: type) -> dict[str, Any]:
    """The fields of ``data`` that ``cls`` does not model, kept so nothing is lost."""
    known = _KNOWN_FIELDS.get(cls)
    if known is None:
        known = _KNOWN_FIELDS[cls] = frozenset(f.name for f in fields(cls)) - {"extra"}
    if data.keys() <= known:
        return {}
    return {key: value for key, value in data.items() if key not in known}


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value
    raise ValueError(f"{key} must be a string, got {type(value).__name__}")


def _required_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if isinstance(value, str):
        return value
    raise ValueError(f"{key} is required and must be a string")


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"{key} must be a string, got {type(value).__name__}")


def _int(data: Mapping[str, Any], key: str) -> int:
    """An integer; ``null`` (some upstreams send it for token counts) is 0."""
    value = data.get(key)
    if type(value) is int:
        return value
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"{key} must be an integer, got {type(value).__name__}")


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _list(data: Mapping[str, Any], key: str) -> list[Any] | None:
    value = data.get(key)
    if value is None or type(value) is list:
        return value
    raise ValueError(f"{key} must be a list, got {type(value).__name__}")


def _arguments(value: object) -> str | None:
    # Some OpenAI-compatible upstreams send tool arguments as an object, not a string.
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _merge(out: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        out.setdefault(key, value)
    return out


def _loads_object(data: bytes | str, what: str, code: str) -> Mapping[str, Any]:
    try:
        value = loads_untrusted(data)
    except ValueError as exc:
        raise UpstreamError(
            f"The gateway sent {what} that is not valid JSON ({exc}): {_preview(data)}",
            status_code=None,
            code=code,
        ) from exc
    if type(value) is not dict:
        raise UpstreamError(
            f"The gateway sent {what} that is not a JSON object: {_preview(data)}",
            status_code=None,
            code=code,
        )
    return value


def _preview(data: bytes | str) -> str:
    text = data if isinstance(data, str) else data[: _PREVIEW_CHARS * 4].decode("utf-8", "replace")
    return repr(text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "...")


# --------------------------------------------------------------------------- completions


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCall:
    """The function a tool call invokes; ``arguments`` is a JSON string."""

    name: str
    arguments: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FunctionCall:
        """Parse a wire object; an ``arguments`` object becomes a JSON string."""
        data = _mapping(data, "function")
        return cls(
            name=_required_str(data, "name"),
            arguments=_arguments(data.get("arguments")) or "",
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object."""
        out = {"name": self.name, "arguments": self.arguments}
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """A complete tool call of an assistant message."""

    id: str
    type: str = "function"
    function: FunctionCall
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCall:
        """Parse a wire object."""
        data = _mapping(data, "tool call")
        function = data.get("function")
        if function is None:
            raise ValueError("tool call has no function")
        return cls(
            id=_required_str(data, "id"),
            type=_str(data, "type", "function"),
            function=FunctionCall.from_dict(function),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object."""
        out = {"id": self.id, "type": self.type, "function": self.function.to_dict()}
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    """One conversation message; ``content`` is text or a list of content parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatMessage:
        """Parse a wire object."""
        data = _mapping(data, "message")
        content = data.get("content")
        if not (content is None or isinstance(content, str)) and (
            type(content) is not list or not all(type(part) is dict for part in content)
        ):
            raise ValueError("content must be a string or a list of content parts")
        raw_calls = _list(data, "tool_calls")
        return cls(
            role=_required_str(data, "role"),
            content=content,
            reasoning_content=_opt_str(data, "reasoning_content"),
            tool_calls=None if raw_calls is None else [ToolCall.from_dict(c) for c in raw_calls],
            tool_call_id=_opt_str(data, "tool_call_id"),
            name=_opt_str(data, "name"),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {"role": self.role}
        content = self.content
        if content is not None:
            out["content"] = content if isinstance(content, str) else [dict(p) for p in content]
        if self.reasoning_content is not None:
            out["reasoning_content"] = self.reasoning_content
        if self.tool_calls is not None:
            out["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return _merge(out, self.extra) if self.extra else out

    @property
    def text(self) -> str:
        """The text of ``content``: the string itself or its text parts joined."""
        content = self.content
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        return "".join(
            part["text"]
            for part in content
            if part.get("type") == "text" and isinstance(part.get("text"), str)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PromptTokensDetails:
    """Breakdown of ``prompt_tokens``."""

    cached_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptTokensDetails:
        """Parse a wire object; a ``null`` count is 0."""
        data = _mapping(data, "prompt_tokens_details")
        return cls(
            cached_tokens=_int(data, "cached_tokens"),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object."""
        out: dict[str, Any] = {"cached_tokens": self.cached_tokens}
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionTokensDetails:
    """Breakdown of ``completion_tokens``."""

    reasoning_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompletionTokensDetails:
        """Parse a wire object; a ``null`` count is 0."""
        data = _mapping(data, "completion_tokens_details")
        return cls(
            reasoning_tokens=_int(data, "reasoning_tokens"),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object."""
        out: dict[str, Any] = {"reasoning_tokens": self.reasoning_tokens}
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Token counts; ``prompt_tokens`` includes cache reads, completion includes reasoning."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Usage:
        """Parse a wire object; ``null`` counts are 0."""
        data = _mapping(data, "usage")
        prompt_details = data.get("prompt_tokens_details")
        completion_details = data.get("completion_tokens_details")
        return cls(
            prompt_tokens=_int(data, "prompt_tokens"),
            completion_tokens=_int(data, "completion_tokens"),
            total_tokens=_int(data, "total_tokens"),
            prompt_tokens_details=None
            if prompt_details is None
            else PromptTokensDetails.from_dict(prompt_details),
            completion_tokens_details=None
            if completion_details is None
            else CompletionTokensDetails.from_dict(completion_details),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.prompt_tokens_details is not None:
            out["prompt_tokens_details"] = self.prompt_tokens_details.to_dict()
        if self.completion_tokens_details is not None:
            out["completion_tokens_details"] = self.completion_tokens_details.to_dict()
        return _merge(out, self.extra) if self.extra else out

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens read from cache (OpenAI or Anthropic-native field)."""
        if self.prompt_tokens_details is not None and self.prompt_tokens_details.cached_tokens:
            return self.prompt_tokens_details.cached_tokens
        value = self.extra.get("cache_read_input_tokens")
        return value if type(value) is int else 0

    @property
    def reasoning_tokens(self) -> int:
        """Completion tokens spent on reasoning (0 when the model does not report them)."""
        details = self.completion_tokens_details
        return details.reasoning_tokens if details is not None else 0


def _usage(data: Mapping[str, Any]) -> Usage | None:
    raw = data.get("usage")
    return None if raw is None else Usage.from_dict(raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """One choice of a chat completion."""

    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Choice:
        """Parse a wire object."""
        data = _mapping(data, "choice")
        message = data.get("message")
        if message is None:
            raise ValueError("choice has no message")
        return cls(
            index=_int(data, "index"),
            message=ChatMessage.from_dict(message),
            finish_reason=_opt_str(data, "finish_reason"),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {"index": self.index, "message": self.message.to_dict()}
        if self.finish_reason is not None:
            out["finish_reason"] = self.finish_reason
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatCompletion:
    """A whole ``chat.completion`` response."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = field(default_factory=list)
    usage: Usage | None = None
    citations: list[str] | None = None
    system_fingerprint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatCompletion:
        """Parse a wire object; ``ValueError`` when it has the wrong shape."""
        data = _mapping(data, "completion")
        choices = _list(data, "choices")
        citations = _list(data, "citations")
        if citations is not None and not all(isinstance(c, str) for c in citations):
            raise ValueError("citations must be a list of strings")
        return cls(
            id=_str(data, "id"),
            object=_str(data, "object", "chat.completion"),
            created=_int(data, "created"),
            model=_str(data, "model"),
            choices=[] if choices is None else [Choice.from_dict(c) for c in choices],
            usage=_usage(data),
            citations=citations,
            system_fingerprint=_opt_str(data, "system_fingerprint"),
            extra=_extra(data, cls),
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ChatCompletion:
        """Parse a response body; ``UpstreamError(code="MALFORMED_RESPONSE")`` if unusable."""
        document = _loads_object(data, "a response", "MALFORMED_RESPONSE")
        try:
            return cls.from_dict(document)
        except ValueError as exc:
            raise UpstreamError(
                f"The gateway sent a response of an unexpected shape ({exc}): {_preview(data)}",
                status_code=None,
                code="MALFORMED_RESPONSE",
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": [choice.to_dict() for choice in self.choices],
        }
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        if self.citations is not None:
            out["citations"] = list(self.citations)
        if self.system_fingerprint is not None:
            out["system_fingerprint"] = self.system_fingerprint
        return _merge(out, self.extra) if self.extra else out

    @property
    def message(self) -> ChatMessage | None:
        """The message of choice 0, if any."""
        return self.choices[0].message if self.choices else None

    @property
    def content(self) -> str:
        """The text of choice 0 (``""`` when there is none)."""
        message = self.message
        return message.text if message is not None else ""

    @property
    def reasoning_content(self) -> str | None:
        """The reasoning text of choice 0, if the model returned any."""
        message = self.message
        return message.reasoning_content if message is not None else None

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls of choice 0 (empty when there are none)."""
        message = self.message
        if message is None or message.tool_calls is None:
            return []
        return message.tool_calls

    @property
    def finish_reason(self) -> str | None:
        """Why choice 0 stopped."""
        return self.choices[0].finish_reason if self.choices else None


# --------------------------------------------------------------------------- stream chunks


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionCallDelta:
    """A fragment of a streamed function call."""

    name: str | None = None
    arguments: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FunctionCallDelta:
        """Parse a wire object; an ``arguments`` object becomes a JSON string."""
        data = _mapping(data, "function")
        return cls(
            name=_opt_str(data, "name"),
            arguments=_arguments(data.get("arguments")),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {}
        if self.name is not None:
            out["name"] = self.name
        if self.arguments is not None:
            out["arguments"] = self.arguments
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCallChunk:
    """A streamed tool call: an OpenAI fragment (with ``index``) or a whole call."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCallChunk:
        """Parse a wire object."""
        data = _mapping(data, "tool call")
        function = data.get("function")
        return cls(
            index=_opt_int(data, "index"),
            id=_opt_str(data, "id"),
            type=_opt_str(data, "type"),
            function=None if function is None else FunctionCallDelta.from_dict(function),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {}
        if self.index is not None:
            out["index"] = self.index
        if self.id is not None:
            out["id"] = self.id
        if self.type is not None:
            out["type"] = self.type
        if self.function is not None:
            out["function"] = self.function.to_dict()
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChoiceDelta:
    """What one stream chunk adds to a choice."""

    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallChunk] | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChoiceDelta:
        """Parse a wire object."""
        data = _mapping(data, "delta")
        raw_calls = _list(data, "tool_calls")
        return cls(
            role=_opt_str(data, "role"),
            content=_opt_str(data, "content"),
            reasoning_content=_opt_str(data, "reasoning_content"),
            tool_calls=None
            if raw_calls is None
            else [ToolCallChunk.from_dict(c) for c in raw_calls],
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {}
        if self.role is not None:
            out["role"] = self.role
        if self.content is not None:
            out["content"] = self.content
        if self.reasoning_content is not None:
            out["reasoning_content"] = self.reasoning_content
        if self.tool_calls is not None:
            out["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkChoice:
    """One choice of a stream chunk."""

    index: int = 0
    delta: ChoiceDelta = field(default_factory=ChoiceDelta)
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChunkChoice:
        """Parse a wire object."""
        data = _mapping(data, "choice")
        delta = data.get("delta")
        return cls(
            index=_int(data, "index"),
            delta=ChoiceDelta() if delta is None else ChoiceDelta.from_dict(delta),
            finish_reason=_opt_str(data, "finish_reason"),
            extra=_extra(data, cls),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {"index": self.index, "delta": self.delta.to_dict()}
        if self.finish_reason is not None:
            out["finish_reason"] = self.finish_reason
        return _merge(out, self.extra) if self.extra else out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatCompletionChunk:
    """One ``chat.completion.chunk``; the final usage frame has empty ``choices``.

    For typing and for producing streams; the consuming hot path
    (:class:`~blockrun_core.wire.stream.StreamAssembler`) reads raw dicts instead.
    """

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = field(default_factory=list)
    usage: Usage | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatCompletionChunk:
        """Parse a wire object; ``ValueError`` when it has the wrong shape."""
        data = _mapping(data, "chunk")
        choices = _list(data, "choices")
        return cls(
            id=_str(data, "id"),
            object=_str(data, "object", "chat.completion.chunk"),
            created=_int(data, "created"),
            model=_str(data, "model"),
            choices=[] if choices is None else [ChunkChoice.from_dict(c) for c in choices],
            usage=_usage(data),
            extra=_extra(data, cls),
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> ChatCompletionChunk:
        """Parse one stream payload; ``UpstreamError(code="STREAM_MALFORMED")`` if unusable."""
        document = _loads_object(data, "a stream chunk", "STREAM_MALFORMED")
        try:
            return cls.from_dict(document)
        except ValueError as exc:
            raise UpstreamError(
                f"The gateway sent a stream chunk of an unexpected shape ({exc}): {_preview(data)}",
                status_code=None,
                code="STREAM_MALFORMED",
            ) from exc

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready wire object, without ``None`` fields."""
        out: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "created": self.created,
            "model": self.model,
            "choices": [choice.to_dict() for choice in self.choices],
        }
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        return _merge(out, self.extra) if self.extra else out


WIRE_TYPES = (
    ChatMessage,
    ToolCall,
    FunctionCall,
    Usage,
    PromptTokensDetails,
    CompletionTokensDetails,
    Choice,
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    ChoiceDelta,
    ToolCallChunk,
    FunctionCallDelta,
)
"""Every wire type; each has ``from_dict`` and ``to_dict``."""
