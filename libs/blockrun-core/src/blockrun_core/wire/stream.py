"""Assemble an OpenAI-compatible chat stream, one SSE data payload at a time.

Completeness rule: a stream is complete when it delivered ``[DONE]`` *or* a
``finish_reason`` (either one is enough; proxies drop one or the other). A stream with
neither was cut off, and :meth:`StreamAssembler.finish` raises
:class:`~blockrun_core.errors.StreamTruncatedError`.

Only choice 0 is assembled (the clients never ask for ``n > 1``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from blockrun_core._json import loads_untrusted
from blockrun_core.errors import StreamTruncatedError, UpstreamError
from blockrun_core.wire.types import (
    ChatCompletion,
    ChatMessage,
    Choice,
    FunctionCall,
    ToolCall,
    Usage,
)

__all__ = ["DONE", "StreamAssembler", "StreamDelta", "ToolCallDelta"]

DONE = "[DONE]"
"""The SSE data line that ends an OpenAI-compatible stream."""
_PREVIEW_CHARS = 200


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of one tool call; ``index`` identifies the call within the stream."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class StreamDelta:
    """What one stream chunk added."""

    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    role: str | None = None


class _CallBuilder:
    __slots__ = ("arguments", "id", "index", "name")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []


class StreamAssembler:
    """Accumulate stream payloads into a :class:`ChatCompletion`.

    Tool calls arrive in two shapes and both are handled:

    * OpenAI fragments carrying ``index``: ``id`` and ``name`` on the first fragment,
      ``arguments`` spread over many. Fragments of parallel calls may interleave.
    * Whole calls without ``index`` (BlockRun's usual shape), possibly several per chunk;
      each gets the next free index. An index-less fragment with no ``id`` and no
      ``name`` continues the previous call.

    A fragment whose ``id`` differs from the call already at its ``index`` starts a new
    call (some upstreams send every call with index 0).
    """

    __slots__ = (
        "_by_index",
        "_by_wire_index",
        "_citations",
        "_content",
        "_created",
        "_done",
        "_finish_reason",
        "_id",
        "_last_call",
        "_model",
        "_reasoning",
        "_system_fingerprint",
        "_usage",
    )

    def __init__(self) -> None:
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._by_index: dict[int, _CallBuilder] = {}
        self._by_wire_index: dict[int, _CallBuilder] = {}
        self._last_call: _CallBuilder | None = None
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self._model: str | None = None
        self._id: str | None = None
        self._created = 0
        self._citations: list[str] | None = None
        self._system_fingerprint: str | None = None
        self._done = False

    def add(self, data: str) -> StreamDelta | None:
        """Consume one SSE data payload.

        Returns ``None`` for ``[DONE]``, blank keep-alive payloads and anything after
        ``[DONE]``. Raises :class:`UpstreamError` for malformed JSON or an in-band
        ``{"error": ...}`` object.
        """
        if self._done:
            return None
        if data == DONE:
            self._done = True
            return None
        try:
            chunk = loads_untrusted(data)
        except ValueError as exc:
            stripped = data.strip()
            if stripped == DONE:
                self._done = True
                return None
            if not stripped:
                return None
            raise UpstreamError(
                f"The stream sent a chunk that is not valid JSON: {_preview(data)}",
                status_code=None,
                code="STREAM_MALFORMED",
            ) from exc
        if type(chunk) is not dict:
            raise UpstreamError(
                f"The stream sent a chunk that is not a JSON object: {_preview(data)}",
                status_code=None,
                code="STREAM_MALFORMED",
            )
        error = chunk.get("error")
        if error:
            raise _in_band_error(error)
        try:
            return self._apply(chunk)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise UpstreamError(
                f"The stream sent a chunk of an unexpected shape: {_preview(data)}",
                status_code=None,
                code="STREAM_MALFORMED",
            ) from exc

    def _apply(self, chunk: dict[str, Any]) -> StreamDelta:
        model = chunk.get("model")
        if model and type(model) is str:
            self._model = model
        else:
            model = None
        if self._id is None:
            chunk_id = chunk.get("id")
            if chunk_id and type(chunk_id) is str:
                self._id = chunk_id
                created = chunk.get("created")
                if type(created) is int:
                    self._created = created
        usage = None
        raw_usage = chunk.get("usage")
        if raw_usage:
            usage = self._usage = Usage.from_dict(raw_usage)
        citations = chunk.get("citations")
        if type(citations) is list:
            self._citations = citations
        fingerprint = chunk.get("system_fingerprint")
        if type(fingerprint) is str:
            self._system_fingerprint = fingerprint

        choices = chunk.get("choices")
        if not choices:  # e.g. the final usage frame
            return StreamDelta(usage=usage, model=model)
        choice = choices[0]
        if choice.get("index", 0) != 0:
            choice = next((c for c in choices if c.get("index", 0) == 0), None)
            if choice is None:
                return StreamDelta(usage=usage, model=model)

        delta = choice.get("delta") or choice.get("message") or {}
        content = delta.get("content")
        if content and type(content) is str:
            self._content.append(content)
        else:
            content = ""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and type(reasoning) is str:
            self._reasoning.append(reasoning)
        else:
            reasoning = ""
        raw_calls = delta.get("tool_calls")
        tool_calls = tuple(self._add_tool_call(c) for c in raw_calls) if raw_calls else ()
        finish_reason = choice.get("finish_reason") or None
        if finish_reason is not None:
            self._finish_reason = finish_reason
        return StreamDelta(
            content=content,
            reasoning=reasoning,
            tool_calls=tool_calls,
            finish_reason=finish_reason,
            usage=usage,
            model=model,
            role=delta.get("role"),
        )

    def _add_tool_call(self, raw: dict[str, Any]) -> ToolCallDelta:
        function = raw.get("function") or {}
        name = function.get("name") or None
        arguments = function.get("arguments")
        if arguments is None:
            arguments = ""
        elif type(arguments) is not str:
            arguments = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        call_id = raw.get("id") or None
        wire_index = raw.get("index")
        if type(wire_index) is int:
            call = self._by_wire_index.get(wire_index)
            if call is None or (call_id is not None and call.id not in (None, call_id)):
                call = self._new_call(wire_index)
                self._by_wire_index[wire_index] = call
        else:
            call = self._match_indexless(call_id, name)
        if call.id is None:
            call.id = call_id
        if call.name is None:
            call.name = name
        if arguments:
            call.arguments.append(arguments)
        self._last_call = call
        return ToolCallDelta(call.index, call_id, name, arguments)

    def _match_indexless(self, call_id: str | None, name: str | None) -> _CallBuilder:
        if call_id is not None:
            for call in self._by_index.values():
                if call.id == call_id:
                    return call
        elif name is None and self._last_call is not None:
            return self._last_call
        return self._new_call(None)

    def _new_call(self, preferred: int | None) -> _CallBuilder:
        if preferred is None or preferred in self._by_index:
            preferred = max(self._by_index, default=-1) + 1
        call = self._by_index[preferred] = _CallBuilder(preferred)
        return call

    @property
    def done(self) -> bool:
        """Whether ``[DONE]`` arrived."""
        return self._done

    @property
    def complete(self) -> bool:
        """Whether the stream ended properly: ``[DONE]`` or a ``finish_reason`` arrived."""
        return self._done or self._finish_reason is not None

    @property
    def content(self) -> str:
        """The text received so far."""
        return "".join(self._content)

    @property
    def reasoning(self) -> str:
        """The reasoning text received so far."""
        return "".join(self._reasoning)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls assembled so far, by index; a missing id becomes ``call_<index>``."""
        return [
            ToolCall(
                id=call.id or f"call_{call.index}",
                function=FunctionCall(name=call.name or "", arguments="".join(call.arguments)),
            )
            for _, call in sorted(self._by_index.items())
        ]

    @property
    def finish_reason(self) -> str | None:
        """The last ``finish_reason`` received."""
        return self._finish_reason

    @property
    def usage(self) -> Usage | None:
        """The last usage received (normally from the final, empty-``choices`` frame)."""
        return self._usage

    @property
    def model(self) -> str | None:
        """The model that served the stream, as the chunks named it."""
        return self._model

    @property
    def id(self) -> str | None:
        """The completion id of the stream."""
        return self._id

    def finish(self) -> ChatCompletion:
        """The whole response the stream amounted to.

        Raises :class:`StreamTruncatedError` if the stream is not :attr:`complete`; the
        partial result stays readable through the properties.
        """
        if not self.complete:
            raise StreamTruncatedError(
                "The stream ended without [DONE] or a finish_reason: the answer is incomplete."
            )
        tool_calls = self.tool_calls
        message = ChatMessage(
            role="assistant",
            content=self.content,
            reasoning_content=self.reasoning or None,
            tool_calls=tool_calls or None,
        )
        return ChatCompletion(
            id=self._id or "",
            created=self._created,
            model=self._model or "",
            choices=[Choice(index=0, message=message, finish_reason=self._finish_reason)],
            usage=self._usage,
            citations=self._citations,
            system_fingerprint=self._system_fingerprint,
        )


def _preview(data: str) -> str:
    return repr(data if len(data) <= _PREVIEW_CHARS else data[:_PREVIEW_CHARS] + "...")


def _in_band_error(error: object) -> UpstreamError:
    status_code: int | None = None
    code: str | None = None
    if isinstance(error, dict):
        message = error.get("message")
        raw_code = error.get("code") or error.get("type")
        raw_status = error.get("status_code", error.get("status"))
        if type(raw_status) is int and 100 <= raw_status <= 599:
            status_code = raw_status
        elif type(raw_code) is int and 400 <= raw_code <= 599:
            status_code = raw_code
        if raw_code is not None:
            code = str(raw_code)
    else:
        message = error
    text = str(message) if message else "unknown error"
    if len(text) > _PREVIEW_CHARS:
        text = text[:_PREVIEW_CHARS] + "..."
    return UpstreamError(
        f"The stream reported an error: {text}", status_code=status_code, code=code
    )
