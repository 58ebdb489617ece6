"""Token counts: the gateway's fast estimate, and tiktoken when its encodings are on disk.

The fast estimate is what prices a request (see :mod:`.quote`): the UTF-8 byte length of
the compact JSON of ``messages`` (plus ``tools`` when present), divided by 4, rounded up.
UTF-8 bytes are never fewer than the UTF-16 units a JavaScript ``JSON.stringify(...).length``
counts, so this never estimates below the chars/4 every BlockRun client assumes.

``count_tokens`` uses tiktoken only when the encoding file is already in tiktoken's local
cache: it never downloads, and remembers a failure so later calls cost nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

__all__ = ["count_tokens", "encoding_name_for", "estimate_input_tokens", "estimate_text_tokens"]

_ENCODING_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "text-embedding-3", "text-embedding-ada")


class _Encoding(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...


# Encoding name -> loaded encoding, or None once loading failed (remembered for good).
_ENCODINGS: dict[str, _Encoding | None] = {}
_LOCK = threading.Lock()


def estimate_text_tokens(text: str) -> int:
    """``ceil(utf8_bytes / 4)``: the fast estimate for one string."""
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return -(-size // 4)


def estimate_input_tokens(body_or_messages: Mapping[str, Any] | Sequence[Any]) -> int:
    """Fast input-token estimate for a chat body (``messages`` + ``tools``) or a message list.

    ``ceil(n / 4)`` where ``n`` is the UTF-8 byte length of ``json.dumps(messages,
    ensure_ascii=False, separators=(",", ":"))``, plus that of ``tools`` when the body has
    any. Deterministic: the local test gateway prices its 402s with it.
    """
    if isinstance(body_or_messages, Mapping):
        size = _json_size(body_or_messages.get("messages") or [])
        tools = body_or_messages.get("tools")
        if tools:
            size += _json_size(tools)
    else:
        size = _json_size(body_or_messages)
    return -(-size // 4)


def _json_size(value: Any) -> int:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def encoding_name_for(model_id: str) -> str:
    """The tiktoken encoding used to count for ``model_id``.

    ``cl100k_base`` for GPT-4 (pre-4o) and GPT-3.5; ``o200k_base`` for everything else,
    which for non-OpenAI models is an approximation.
    """
    bare = model_id.rsplit("/", 1)[-1].lower()
    if bare == "gpt-4" or bare.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def count_tokens(text: str, model_id: str) -> int:
    """Tokens in ``text`` with tiktoken when available offline, else the fast estimate."""
    encoding = _encoding(encoding_name_for(model_id))
    if encoding is None:
        return estimate_text_tokens(text)
    return len(encoding.encode_ordinary(text))


def _encoding(name: str) -> _Encoding | None:
    try:
        return _ENCODINGS[name]
    except KeyError:
        pass
    with _LOCK:
        if name not in _ENCODINGS:
            _ENCODINGS[name] = _load_encoding(name)
        return _ENCODINGS[name]


def _load_encoding(name: str) -> _Encoding | None:
    # tiktoken would download a missing encoding (and can hang without a network), so it
    # is only asked for one whose file is already in its cache.
    if not _is_cached(name):
        return None
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        encoding: _Encoding = tiktoken.get_encoding(name)
    except Exception:  # a corrupt cache or a tiktoken change: fall back for good
        return None
    return encoding


def _is_cached(name: str) -> bool:
    url = _ENCODING_URLS.get(name)
    if url is None:
        return False
    # Mirrors tiktoken.load.read_file_cached's cache location and key.
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        import tempfile

        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:  # caching disabled: tiktoken would always download
        return False
    key = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()
    return os.path.isfile(os.path.join(cache_dir, key))
