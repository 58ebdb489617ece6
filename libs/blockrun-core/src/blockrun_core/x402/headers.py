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
PAYMENT_HEADER_V1 = "X-PAYMENT"
PAYMENT_REQUIRED_HEADER = "PAYMENT-REQUIRED"
X_PAYMENT_REQUIRED_HEADER = "X-Payment-Required"
PAYMENT_RESPONSE_HEADER = "PAYMENT-RESPONSE"
PAYMENT_RESPONSE_HEADER_V1 = "X-PAYMENT-RESPONSE"
X_PAYMENT_RECEIPT_HEADER = "X-Payment-Receipt"
X_PAYMENT_SETTLED_HEADER = "X-Payment-Settled"
X_PAYMENT_SETTLE_ERROR_CLASS_HEADER = "X-Payment-Settle-Error-Class"


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
