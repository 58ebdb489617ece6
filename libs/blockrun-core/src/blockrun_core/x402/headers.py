"""HTTP header names of x402, v1 and v2, and a case-insensitive lookup."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "PAYMENT_HEADER_V1",
    "PAYMENT_HEADER_V2",
    "PAYMENT_REQUIRED_HEADER",
    "PAYMENT_RESPONSE_HEADER",
    "PAYMENT_RESPONSE_HEADER_V1",
    "X_PAYMENT_RECEIPT_HEADER",
    "X_PAYMENT_REQUIRED_HEADER",
    "X_PAYMENT_SETTLED_HEADER",
    "X_PAYMENT_SETTLE_ERROR_CLASS_HEADER",
    "get_header",
]

PAYMENT_HEADER_V2 = "PAYMENT-SIGNATURE"
"""Request header carrying a signed x402 v2 payment (base64 JSON)."""
PAYMENT_HEADER_V1 = "X-PAYMENT"
"""Request header carrying a signed x402 v1 payment."""
PAYMENT_REQUIRED_HEADER = "PAYMENT-REQUIRED"
"""Response header of a v2 402: the base64 JSON payment challenge."""
X_PAYMENT_REQUIRED_HEADER = "X-Payment-Required"
"""Alternative name of the 402 challenge header, checked after ``PAYMENT-REQUIRED``."""
PAYMENT_RESPONSE_HEADER = "PAYMENT-RESPONSE"
"""Response header of a paid v2 request: the settlement receipt."""
PAYMENT_RESPONSE_HEADER_V1 = "X-PAYMENT-RESPONSE"
"""The v1 name of the settlement receipt header."""
X_PAYMENT_RECEIPT_HEADER = "X-Payment-Receipt"
"""BlockRun response header: the on-chain transaction hash, once settlement landed."""
X_PAYMENT_SETTLED_HEADER = "X-Payment-Settled"
"""BlockRun response header; ``false`` means served, but settlement did not land in time."""
X_PAYMENT_SETTLE_ERROR_CLASS_HEADER = "X-Payment-Settle-Error-Class"
"""BlockRun response header naming why settlement did not land, when it did not."""


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` in any mapping, compared case-insensitively.

    Non-string keys or values (a hostile or buggy caller) are skipped, never raised on.
    """
    wanted = name.lower()
    direct = headers.get(name)
    if isinstance(direct, str):
        return direct
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None
