"""Mapping the gateway's refusal of a signed payment onto our error classes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from blockrun_core.errors import (
    PaymentInvalidError,
    PaymentRejectedError,
    PaymentReplayError,
    PaymentUnderpaidError,
    PaymentUnfundedError,
    PaymentVerificationUnavailableError,
    SettlementFailedError,
)

from ._bounds import loads_bounded

__all__ = ["rejection_error"]

_MAX_TEXT = 300
_UNPRINTABLE_RE = re.compile(r"[\x00-\x1f\x7f]+")
_REASON_RE = re.compile(r'"?invalidReason"?\s*:\s*"([A-Za-z0-9_.:-]{1,80})"')
_REASON_MESSAGE_RE = re.compile(r'"?invalidMessage"?\s*:\s*"([^"\\]{1,160})"')

_CLASSES: dict[str, type[PaymentRejectedError]] = {
    "PAYMENT_UNFUNDED": PaymentUnfundedError,
    "PAYMENT_INVALID": PaymentInvalidError,
    "PAYMENT_REPLAY": PaymentReplayError,
    "PAYMENT_UNDERPAID": PaymentUnderpaidError,
    "PAYMENT_VERIFICATION_UNAVAILABLE": PaymentVerificationUnavailableError,
    "SETTLEMENT_FAILED": SettlementFailedError,
}
_HINTS = {
    "PAYMENT_UNFUNDED": "Nothing was charged. Add USDC to the paying wallet on this network, "
    "and check that the system clock is right.",
    "PAYMENT_INVALID": "Nothing was charged. Check that the wallet and gateway URL are on "
    "the same network (mainnet or testnet) and that the system clock is right.",
    "PAYMENT_REPLAY": "This authorization was already used: an earlier send of it was "
    "served and paid. Do not sign again for the same request.",
    "PAYMENT_UNDERPAID": "Nothing was charged. The signed amount was below the gateway's "
    "quote; request a fresh quote and sign its amount.",
    "PAYMENT_VERIFICATION_UNAVAILABLE": "Nothing was charged. The payment facilitator was "
    "unreachable; retry later with the same signed payment.",
    "SETTLEMENT_FAILED": "Settlement was attempted and failed: treat the payment as in "
    "doubt and check the wallet's history before paying again.",
    "PAYMENT_BLOCKHASH_STALE": "Nothing was charged. The transaction's blockhash expired; "
    "sign a fresh payment.",
}
_DEFAULT_HINT = "Nothing was charged unless the gateway says otherwise."
_SETTLEMENT_TEXTS = ("payment settlement failed", "settlement failed")
_UNFUNDED_REASONS = ("insufficient_funds", "insufficient_balance")


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = _UNPRINTABLE_RE.sub(" ", value).strip()
    if len(cleaned) > _MAX_TEXT:
        cleaned = cleaned[: _MAX_TEXT - 3] + "..."
    return cleaned or None


def _normalised(value: Any) -> str:
    return value.strip().rstrip(".").lower() if isinstance(value, str) else ""


def _document(body: bytes | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if body is None:
        return None
    if isinstance(body, Mapping):
        return body
    try:
        document = loads_bounded(body)
    except (ValueError, TypeError):
        return None
    return document if isinstance(document, dict) else None


def _code_and_message(document: Mapping[str, Any]) -> tuple[str | None, str | None]:
    nested = document.get("error")
    nested = nested if isinstance(nested, Mapping) else {}
    code = document.get("code")
    if not isinstance(code, str):
        code = nested.get("code")
    message = (
        _text(document.get("message"))
        or _text(nested.get("message"))
        or _text(document.get("error"))
    )
    return (code.strip().upper() if isinstance(code, str) else None), message


def _classify(document: Mapping[str, Any], code: str | None) -> tuple[str, str | None] | None:
    """The ``PAYMENT_*`` code for a body, and a facilitator reason worth showing."""
    details = document.get("details")
    details_text = details if isinstance(details, str) else ""
    reason = _REASON_RE.search(details_text)
    reason_message = _REASON_MESSAGE_RE.search(details_text)
    extra = None
    if reason:
        extra = reason.group(1) + (f": {reason_message.group(1)}" if reason_message else "")
    if code is not None:
        if code in _CLASSES or code.startswith("PAYMENT_"):
            return code, extra
        return None
    error, message = _normalised(document.get("error")), _normalised(document.get("message"))
    if error in _SETTLEMENT_TEXTS or message in _SETTLEMENT_TEXTS:
        return "SETTLEMENT_FAILED", extra
    if error == "payment authorization already used":
        return "PAYMENT_REPLAY", extra
    if error == "payment verification failed":
        lowered = details_text.lower()
        if any(r in lowered for r in _UNFUNDED_REASONS):
            return "PAYMENT_UNFUNDED", extra
        return "PAYMENT_VERIFICATION_FAILED", extra
    return None


def rejection_error(
    status_code: int, body: bytes | Mapping[str, Any] | None
) -> PaymentRejectedError | None:
    """The error for a gateway's refusal of a *paid* request, or None if it is not one.

    Recognises the ``PAYMENT_*`` and ``SETTLEMENT_FAILED`` codes (top level or inside
    ``error``) and the older string-only bodies. The message carries the gateway's own
    message (never its ``debug`` field) and what to do next.
    """
    if status_code < 400:
        return None
    document = _document(body)
    if document is None:
        return None
    code, message = _code_and_message(document)
    classified = _classify(document, code)
    if classified is None:
        return None
    code, extra = classified
    cls = _CLASSES.get(code, PaymentRejectedError)
    said = (message or "payment rejected").rstrip(". ")
    if extra and extra.lower() not in said.lower():
        said = f"{said} ({extra})"
    hint = _HINTS.get(code, _DEFAULT_HINT)
    return cls(
        f"The gateway rejected the payment ({code}, HTTP {status_code}): {said}. {hint}",
        code=code,
        status_code=status_code,
    )
