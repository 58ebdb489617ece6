"""Turn a gateway error response into an exception of our tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ._json import loads_untrusted
from .errors import (
    BlockRunError,
    ContextOverflowError,
    CredentialError,
    PaymentRejectedError,
    RateLimitError,
    UpstreamError,
)

__all__ = ["error_from_response", "parse_retry_after"]

_MAX_MESSAGE = 500
_ACCOUNT_CREDIT_CODES = frozenset({"BALANCE_EXHAUSTED", "CREDIT_LIMIT_REACHED", "DAILY_SPEND_CAP"})


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds form only), if present and sane."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def _envelope(body: bytes) -> tuple[str | None, str | None]:
    """(message, code) from the nested or flat error envelope; never the ``debug`` field."""
    try:
        data: Any = loads_untrusted(body) if body else None
    except ValueError:
        text = body[:_MAX_MESSAGE].decode("utf-8", "replace").strip()
        return (text or None), None
    if not isinstance(data, dict):
        return None, None
    error = data.get("error")
    message = data.get("message")
    code = data.get("code")
    if isinstance(error, dict):
        message = error.get("message", message)
        code = error.get("code", code)
    elif isinstance(error, str) and not isinstance(message, str):
        message = error
    message = message if isinstance(message, str) else None
    code = code if isinstance(code, str) else None
    return (message[:_MAX_MESSAGE] if message else None), code


def _redirect_message(status: int, headers: Mapping[str, str], model: str) -> str:
    try:
        target = urlsplit(headers.get("location", "")).netloc[:100]
    except ValueError:
        target = ""
    return (
        f"{model}: HTTP {status}: the gateway redirected the request"
        + (f" to {target!r}" if target else "")
        + "; redirects are never followed, so requests, payments and keys go only to the "
        "configured api_url. Nothing was signed for it."
    )


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes, *, model: str
) -> BlockRunError:
    """The exception for a non-2xx answer that the caller cannot recover from here."""
    if 300 <= status < 400:
        return UpstreamError(_redirect_message(status, headers, model), status_code=status)
    message, code = _envelope(body)
    text = (
        f"{model}: HTTP {status}"
        + (f" {code}" if code else "")
        + (f": {message}" if message else "")
    )
    if status == 429:
        return RateLimitError(text, retry_after=parse_retry_after(headers), code=code)
    if code == "CONTEXT_LENGTH_EXCEEDED":
        return ContextOverflowError(text, code=code)
    if status == 401:
        return CredentialError(f"The gateway rejected the account key ({text}).")
    if status == 402 and code in _ACCOUNT_CREDIT_CODES:
        return PaymentRejectedError(f"{text}. Top up the account's credit.", code=code)
    return UpstreamError(text, status_code=status, code=code)
