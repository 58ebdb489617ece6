"""The OpenAI-compatible wire layer: request bodies, response types, SSE streams. No I/O.

Streaming, sync or async, is three pure steps over the response bytes::

    assembler = StreamAssembler()
    for data in iter_sse_data(iter_sse_lines(response.iter_bytes())):
        delta = assembler.add(data)
        ...
    completion = assembler.finish()  # StreamTruncatedError if the stream was cut off
"""

from __future__ import annotations

from blockrun_core.wire.request import (
    CLIENT_ONLY_PARAMS,
    DEFAULT_MAX_TOKENS,
    MAX_TOKENS_LIMIT,
    build_chat_body,
    encode_body,
)
from blockrun_core.wire.sse import (
    SSEDecoder,
    SSELineDecoder,
    aiter_sse_data,
    aiter_sse_lines,
    iter_sse_data,
    iter_sse_lines,
)
from blockrun_core.wire.stream import DONE, StreamAssembler, StreamDelta, ToolCallDelta
from blockrun_core.wire.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    CompletionTokensDetails,
    FunctionCall,
    FunctionCallDelta,
    PromptTokensDetails,
    ToolCall,
    ToolCallChunk,
    Usage,
)

__all__ = [
    "CLIENT_ONLY_PARAMS",
    "DEFAULT_MAX_TOKENS",
    "DONE",
    "MAX_TOKENS_LIMIT",
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
    "SSEDecoder",
    "SSELineDecoder",
    "StreamAssembler",
    "StreamDelta",
    "ToolCall",
    "ToolCallChunk",
    "ToolCallDelta",
    "Usage",
    "aiter_sse_data",
    "aiter_sse_lines",
    "build_chat_body",
    "encode_body",
    "iter_sse_data",
    "iter_sse_lines",
]
