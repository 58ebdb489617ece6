"""Incremental Server-Sent Events decoding, shared by the sync and async paths.

Two layers, both pure state machines fed by thin sync/async helpers:

* :class:`SSELineDecoder` turns byte (or text) chunks into lines, splitting only on
  CR, LF and CRLF as the SSE spec says. ``httpx.Response.iter_lines()`` also splits on
  U+2028, U+0085 and friends, which may legally appear unescaped inside JSON strings
  and would corrupt a chunk, so feed ``response.iter_bytes()`` through
  :func:`iter_sse_lines` instead.
* :class:`SSEDecoder` turns lines into event data payloads.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

__all__ = [
    "SSEDecoder",
    "SSELineDecoder",
    "aiter_sse_data",
    "aiter_sse_lines",
    "iter_sse_data",
    "iter_sse_lines",
]


class SSELineDecoder:
    """Split a stream of byte or text chunks into lines (without line terminators).

    Bytes are decoded as UTF-8 (invalid sequences become U+FFFD, a multi-byte
    character may straddle chunks) and a leading byte-order mark is dropped.
    """

    __slots__ = ("_pending", "_skip_lf", "_utf8")

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._pending: list[str] = []
        self._skip_lf = False

    def feed(self, chunk: bytes | str) -> list[str]:
        """Return the lines completed by ``chunk``."""
        text = self._utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
        return self._split(text)

    def flush(self) -> list[str]:
        """End of input: return the last, unterminated line if there is one."""
        lines = self._split(self._utf8.decode(b"", final=True))
        if self._pending:
            lines.append("".join(self._pending))
            self._pending = []
        return lines

    def _split(self, text: str) -> list[str]:
        if not text:
            return []
        if self._skip_lf:
            # The previous chunk ended with CR; a leading LF completes that CRLF.
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            if text:
                self._pending.append(text)
            return []
        lines = text.split("\n")
        if self._pending:
            self._pending.append(lines[0])
            lines[0] = "".join(self._pending)
            self._pending = []
        tail = lines.pop()
        if tail:
            self._pending.append(tail)
        return lines


class SSEDecoder:
    """Turn SSE lines into the data payloads of completed events.

    Follows the SSE spec for the ``data`` field: ``data:`` with or without one leading
    space, several ``data`` lines joined with ``"\\n"``, an event dispatched by a blank
    line. Comments (``: heartbeat``) and the ``event``, ``id`` and ``retry`` fields are
    ignored. Trailing CR/LF on a line is tolerated.
    """

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """Consume one line; return the event's data when ``line`` completes an event."""
        if line and line[-1] in "\r\n":
            line = line.rstrip("\r\n")
        if not line:
            return self.flush()
        if line.startswith("data: "):  # the common shape, first
            self._data.append(line[6:])
        elif line.startswith("data"):
            if len(line) == 4:  # a bare field name means an empty value
                self._data.append("")
            elif line[4] == ":":  # "data:" without a space (with one took the fast path)
                self._data.append(line[5:])
            # else: another field whose name starts with "data"; ignored.
        return None

    def flush(self) -> str | None:
        """Dispatch the pending event, if any (also used at end of input)."""
        if not self._data:
            return None
        data = self._data[0] if len(self._data) == 1 else "\n".join(self._data)
        self._data = []
        return data


def iter_sse_lines(chunks: Iterable[bytes | str]) -> Iterator[str]:
    """Lines of an SSE byte or text stream, e.g. ``iter_sse_lines(resp.iter_bytes())``."""
    decoder = SSELineDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()


async def aiter_sse_lines(chunks: AsyncIterable[bytes | str]) -> AsyncIterator[str]:
    """Async twin of :func:`iter_sse_lines`."""
    decoder = SSELineDecoder()
    async for chunk in chunks:
        for line in decoder.feed(chunk):
            yield line
    for line in decoder.flush():
        yield line


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """Data payloads of the events in ``lines``; a last event without a blank line counts."""
    decoder = SSEDecoder()
    for line in lines:
        data = decoder.feed(line)
        if data is not None:
            yield data
    data = decoder.flush()
    if data is not None:
        yield data


async def aiter_sse_data(lines: AsyncIterable[str]) -> AsyncIterator[str]:
    """Async twin of :func:`iter_sse_data`."""
    decoder = SSEDecoder()
    async for line in lines:
        data = decoder.feed(line)
        if data is not None:
            yield data
    data = decoder.flush()
    if data is not None:
        yield data
