"""SSE framing: lines from bytes, payloads from lines, sync and async."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterable

import httpx
import pytest
from blockrun_core.wire import (
    SSEDecoder,
    SSELineDecoder,
    aiter_sse_data,
    aiter_sse_lines,
    iter_sse_data,
    iter_sse_lines,
)
from hypothesis import given
from hypothesis import strategies as st


def payloads(lines: Iterable[str]) -> list[str]:
    return list(iter_sse_data(lines))


async def alines(items: Iterable[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


# --- SSEDecoder -------------------------------------------------------------------


def test_data_with_and_without_space() -> None:
    assert payloads(["data: a", "", "data:b", ""]) == ["a", "b"]


def test_only_one_leading_space_is_stripped() -> None:
    assert payloads(["data:  two", "", "data:\tx", ""]) == [" two", "\tx"]


def test_comments_and_other_fields_are_ignored() -> None:
    lines = [": heartbeat", "event: message", "id: 7", "retry: 100", "data: x", "", ":", ""]
    assert payloads(lines) == ["x"]


def test_crlf_and_cr_line_endings_tolerated() -> None:
    assert payloads(["data: x\r\n", "\r\n", "data: y\r", "\r"]) == ["x", "y"]


def test_multi_line_data_is_joined_with_newline() -> None:
    assert payloads(["data: {", 'data:  "a": 1', "data: }", ""]) == ['{\n "a": 1\n}']


def test_blank_line_without_data_dispatches_nothing() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("") is None
    assert decoder.feed(": hb") is None
    assert decoder.feed("") is None


def test_feed_returns_payload_only_on_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: a") is None
    assert decoder.feed("data: b") is None
    assert decoder.feed("") == "a\nb"
    assert decoder.feed("") is None


def test_empty_data_field_dispatches_empty_payload() -> None:
    assert payloads(["data:", "", "data", ""]) == ["", ""]


def test_fields_that_only_start_with_data_are_ignored() -> None:
    assert payloads(["dataset: x", "data x", "data: real", ""]) == ["real"]


def test_last_event_without_blank_line_is_flushed() -> None:
    assert payloads(["data: a", "", "data: [DONE]"]) == ["a", "[DONE]"]


async def test_async_helper_matches_sync() -> None:
    lines = ["data: a", "", ": c", "data:b", "data: c", "", "data: [DONE]"]
    got = [data async for data in aiter_sse_data(alines(lines))]
    assert got == payloads(lines) == ["a", "b\nc", "[DONE]"]


# --- SSELineDecoder -----------------------------------------------------------------


def lines_of(chunks: Iterable[bytes | str]) -> list[str]:
    return list(iter_sse_lines(chunks))


def test_lines_split_on_lf_crlf_and_cr() -> None:
    assert lines_of([b"a\nb\r\nc\rd"]) == ["a", "b", "c", "d"]


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    assert lines_of([b"a\r", b"\nb\r", b"", b"\n", b"\n"]) == ["a", "b", ""]


def test_unicode_line_separators_do_not_split() -> None:
    # httpx's iter_lines() would split here and corrupt the JSON.
    text = 'data: {"c":"a\u2028b\u0085c\x0bd"}\n\n'
    assert lines_of([text.encode()]) == [text[:-2], ""]


def test_multibyte_character_split_across_chunks() -> None:
    raw = "data: é€😀\n".encode()
    assert lines_of([raw[i : i + 1] for i in range(len(raw))]) == ["data: é€😀"]


def test_invalid_utf8_becomes_replacement_character() -> None:
    assert lines_of([b"data: \xff\xfe!\n"]) == ["data: \ufffd\ufffd!"]


def test_leading_bom_is_dropped_even_when_split() -> None:
    assert lines_of([b"\xef\xbb", b"\xbfdata: x\n"]) == ["data: x"]


def test_text_chunks_accepted() -> None:
    decoder = SSELineDecoder()
    assert decoder.feed("data: a") == []
    assert decoder.feed("bc\n") == ["data: abc"]
    assert decoder.feed("tail") == []
    assert decoder.flush() == ["tail"]


def test_httpx_byte_stream_end_to_end() -> None:
    body = [b'data: {"x":"a\xe2\x80\xa8b"}\r', b"\n\r\n: hb\n\ndata:", b" [DONE]\n\n"]
    response = httpx.Response(200, content=iter(body))
    assert list(iter_sse_data(iter_sse_lines(response.iter_bytes()))) == [
        '{"x":"a\u2028b"}',
        "[DONE]",
    ]


async def test_httpx_async_byte_stream_end_to_end() -> None:
    async def body() -> AsyncIterator[bytes]:
        for chunk in (b"data: a\n", b"\ndata", b": b\n\n"):
            yield chunk

    response = httpx.Response(200, content=body())
    got = [d async for d in aiter_sse_data(aiter_sse_lines(response.aiter_bytes()))]
    assert got == ["a", "b"]


# --- properties ---------------------------------------------------------------------

payload_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_characters="\r"),
        st.sampled_from("\n\u2028\u2029\x85\x0b\x0c\x1c"),
    ),
    max_size=40,
)


@st.composite
def sse_stream(draw: st.DrawFn) -> tuple[list[str], bytes]:
    """A list of payloads and one valid SSE encoding of them."""
    events = draw(st.lists(payload_text, max_size=8))
    parts: list[str] = []

    def line(text: str) -> None:
        terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
        if not text and terminator == "\n" and parts and parts[-1].endswith("\r"):
            terminator = "\r\n"  # a CR then a bare LF would read as one CRLF
        parts.append(text + terminator)

    for payload in events:
        if draw(st.booleans()):
            line(": heartbeat")
        if draw(st.booleans()):
            line("event: message")
        for data_line in payload.split("\n"):
            space = draw(st.booleans()) or data_line.startswith(" ")
            line(("data: " if space else "data:") + data_line)
        line("")
    return events, "".join(parts).encode("utf-8")


@given(sse_stream(), st.lists(st.integers(min_value=0, max_value=10_000), max_size=20))
def test_any_chunking_yields_the_same_payloads(
    stream: tuple[list[str], bytes], cuts: list[int]
) -> None:
    events, raw = stream
    bounds = sorted({0, len(raw), *(c % (len(raw) + 1) for c in cuts)})
    chunks = [raw[a:b] for a, b in itertools.pairwise(bounds)]
    assert list(iter_sse_data(iter_sse_lines(chunks))) == events


@given(sse_stream())
def test_line_by_line_feeding_yields_the_same_payloads(stream: tuple[list[str], bytes]) -> None:
    events, raw = stream
    lines = raw.decode().replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert payloads(lines) == events


@given(st.lists(st.text()))
def test_decoder_never_raises_on_arbitrary_lines(lines: list[str]) -> None:
    decoder = SSEDecoder()
    for line in lines:
        result = decoder.feed(line)
        assert result is None or isinstance(result, str)
    result = decoder.flush()
    assert result is None or isinstance(result, str)


@given(st.lists(st.one_of(st.binary(), st.text())))
def test_line_decoder_never_raises_on_arbitrary_chunks(chunks: list[bytes | str]) -> None:
    for line in iter_sse_lines(chunks):
        assert "\n" not in line
        assert "\r" not in line


@pytest.mark.parametrize("terminator", ["\n", "\r\n", "\r"])
def test_each_terminator_dispatches(terminator: str) -> None:
    raw = f"data: x{terminator}{terminator}data: y{terminator}{terminator}".encode()
    assert list(iter_sse_data(iter_sse_lines([raw]))) == ["x", "y"]
