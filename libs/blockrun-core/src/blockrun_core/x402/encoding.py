"""Base64-JSON, the encoding of every x402 header."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from blockrun_core._json import JSONDepthError, loads_untrusted

__all__ = ["decode_b64_json", "encode_b64_json"]

MAX_HEADER_CHARS = 64 * 1024


def encode_b64_json(value: Any) -> str:
    """Standard, padded base64 of compact UTF-8 JSON."""
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(raw).decode("ascii")


def decode_b64_json(text: str) -> Any:
    """Decode base64 (standard or URL-safe, padding optional) holding UTF-8 JSON.

    Raises ``ValueError`` on anything else, including oversized input.
    """
    text = text.strip()
    if len(text) > MAX_HEADER_CHARS:
        raise ValueError("x402 header is too large")
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except binascii.Error as exc:
        raise ValueError("x402 header is not base64-encoded JSON") from exc
    try:
        return loads_untrusted(raw)
    except JSONDepthError as exc:
        raise ValueError("x402 header JSON nests too deeply") from exc
    except ValueError as exc:
        raise ValueError("x402 header is not base64-encoded JSON") from exc
