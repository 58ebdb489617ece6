"""Parse untrusted JSON with the stdlib, without ever overflowing the C stack.

The stdlib's C decoder recurses once per nesting level and only stops at the interpreter's
recursion limit; once something (hypothesis, user code) raises that limit, a deeply
nested document segfaults the process. So documents that could nest deeper than
``max_depth`` are measured first, in linear time, and refused when too deep.
"""

from __future__ import annotations

import json
from itertools import accumulate
from typing import Any

__all__ = ["JSONDepthError", "loads_untrusted"]

# Below this length a document nests at most this deep, which measured ~200 bytes of C
# stack per level on CPython 3.11: safe even in a thread with a 512 KiB stack.
_SHORT = 2048

# Bytes to keep when reducing a document to its brackets; everything else is deleted.
_BRACKET_BYTES = b"[]{}"
_DELETE = bytes(b for b in range(256) if b not in _BRACKET_BYTES)
_FOLD = bytes.maketrans(b"{}", b"[]")
_STEP = [0] * 256
_STEP[ord("[")] = 1
_STEP[ord("]")] = -1


class JSONDepthError(ValueError):
    """The document nests deeper than allowed."""


def loads_untrusted(data: str | bytes, *, max_depth: int = 512) -> Any:
    """``json.loads`` for untrusted input: ``ValueError`` on anything bad, never a crash.

    Raises :class:`JSONDepthError` (a ``ValueError``) when arrays and objects nest
    deeper than ``max_depth``, and ``ValueError`` for invalid JSON or text encoding.
    """
    if len(data) > _SHORT and _openers(data) > max_depth:
        # Decoded as json.loads would decode it, lone surrogates included.
        text = (
            data
            if isinstance(data, str)
            else data.decode(json.detect_encoding(data), "surrogatepass")
        )
        if _depth(text) > max_depth:
            raise JSONDepthError("JSON nests too deeply")
        data = text
    try:
        return json.loads(data)
    except RecursionError as exc:  # a low recursion limit or an already deep caller
        raise JSONDepthError("JSON nests too deeply") from exc


def _openers(data: str | bytes) -> int:
    # An upper bound of the depth, brackets inside strings included. For UTF-16/32 bytes
    # a 0x5B/0x7B byte may belong to another character, which only raises the bound.
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects outside string literals.

    Exact for every valid prefix of a document, so never below what the decoder reaches
    before it stops at an error.
    """
    # Inside strings, drop escaped backslashes, then escaped quotes: what is left of each
    # string literal is free of quotes, so splitting on '"' alternates outside/inside.
    text = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(text.split('"')[::2])
    brackets = outside.encode("utf-8", "surrogatepass").translate(_FOLD, _DELETE)
    if not brackets:
        return 0
    return max(accumulate(map(_STEP.__getitem__, brackets)))
