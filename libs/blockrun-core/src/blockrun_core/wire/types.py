"""OpenAI-compatible request, response and stream-chunk types.

Every model tolerates unknown fields (``extra="allow"``) so upstream extras such as
``system_fingerprint`` or provider-specific usage counters survive a round trip.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
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


def _none_to_zero(value: Any) -> Any:
    return 0 if value is None else value


# Some upstreams send ``null`` for token counts; treat it as zero.
TokenCount = Annotated[int, BeforeValidator(_none_to_zero)]


def _arguments_to_json(value: Any) -> Any:
    # Some OpenAI-compatible upstreams send tool arguments as an object, not a string.
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _arguments_to_str(value: Any) -> Any:
    return "" if value is None else _arguments_to_json(value)


Arguments = Annotated[str, BeforeValidator(_arguments_to_str)]
ArgumentsDelta = Annotated[str | None, BeforeValidator(_arguments_to_json)]


class WireModel(BaseModel):
    """Base of the wire types: keeps unknown fields."""

    model_config = ConfigDict(extra="allow")


class FunctionCall(WireModel):
    """The function a tool call invokes; ``arguments`` is a JSON string."""

    name: str
    arguments: Arguments = ""


class ToolCall(WireModel):
    """A complete tool call of an assistant message."""

    id: str
    type: str = "function"
    function: FunctionCall


class ChatMessage(WireModel):
    """One conversation message; ``content`` is text or a list of content parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None

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


class PromptTokensDetails(WireModel):
    """Breakdown of ``prompt_tokens``."""

    cached_tokens: TokenCount = 0


class CompletionTokensDetails(WireModel):
    """Breakdown of ``completion_tokens``."""

    reasoning_tokens: TokenCount = 0


class Usage(WireModel):
    """Token counts; ``prompt_tokens`` includes cache reads, completion includes reasoning."""

    prompt_tokens: TokenCount = 0
    completion_tokens: TokenCount = 0
    total_tokens: TokenCount = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens read from cache (OpenAI or Anthropic-native field)."""
        if self.prompt_tokens_details is not None and self.prompt_tokens_details.cached_tokens:
            return self.prompt_tokens_details.cached_tokens
        extra = self.model_extra or {}
        value = extra.get("cache_read_input_tokens")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def reasoning_tokens(self) -> int:
        """Completion tokens spent on reasoning (0 when the model does not report them)."""
        details = self.completion_tokens_details
        return details.reasoning_tokens if details is not None else 0


class Choice(WireModel):
    """One choice of a chat completion."""

    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(WireModel):
    """A whole ``chat.completion`` response."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[Choice] = Field(default_factory=list)
    usage: Usage | None = None
    citations: list[str] | None = None
    system_fingerprint: str | None = None

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


class FunctionCallDelta(WireModel):
    """A fragment of a streamed function call."""

    name: str | None = None
    arguments: ArgumentsDelta = None


class ToolCallChunk(WireModel):
    """A streamed tool call: an OpenAI fragment (with ``index``) or a whole call."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class ChoiceDelta(WireModel):
    """What one stream chunk adds to a choice."""

    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallChunk] | None = None


class ChunkChoice(WireModel):
    """One choice of a stream chunk."""

    index: int = 0
    delta: ChoiceDelta = Field(default_factory=ChoiceDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(WireModel):
    """One ``chat.completion.chunk``; the final usage frame has empty ``choices``.

    For typing and for producing streams; the consuming hot path
    (:class:`~blockrun_core.wire.stream.StreamAssembler`) reads raw dicts instead.
    """

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: Usage | None = None
