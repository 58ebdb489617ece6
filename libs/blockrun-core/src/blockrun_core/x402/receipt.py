"""Reading the settlement headers of a paid response. Never raises on garbage."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ._bounds import within_bounds
from .encoding import decode_b64_json
from .headers import (
    PAYMENT_RESPONSE_HEADER,
    PAYMENT_RESPONSE_HEADER_V1,
    X_PAYMENT_RECEIPT_HEADER,
    X_PAYMENT_SETTLE_ERROR_CLASS_HEADER,
    X_PAYMENT_SETTLED_HEADER,
    get_header,
)
from .networks import find_network

__all__ = ["PaymentReceipt", "decode_receipt", "match_receipt"]

_MAX_TEXT = 200
_UINT_RE = re.compile(r"[0-9]{1,78}")
_UNPRINTABLE_RE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True)
class PaymentReceipt:
    """What the gateway said about settlement.

    Only ``transaction`` (an on-chain hash) proves money moved: gateways may report
    ``success`` even when settlement did not land. ``settled`` is the
    ``X-Payment-Settled`` header when sent, else inferred from ``success: false`` or a hash.
    ``mismatch`` says why the receipt does not describe the payment we signed (another
    payer, amount or network; see :func:`match_receipt`), else None.
    """

    success: bool | None = None
    transaction: str | None = None
    network: str | None = None
    payer: str | None = None
    amount_micros: int | None = None
    settled: bool | None = None
    error: str | None = None
    mismatch: str | None = None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = _UNPRINTABLE_RE.sub("", value).strip()[:_MAX_TEXT]
    return cleaned or None


def _first_text(document: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = _text(document.get(key))
        if value is not None:
            return value
    return None


def _amount(document: dict[str, Any]) -> int | None:
    for key in ("amount", "value"):
        value = document.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, str) and _UINT_RE.fullmatch(value.strip()):
            return int(value.strip())
    return None


def _settle_response(headers: Mapping[str, str]) -> dict[str, Any] | None:
    for name in (PAYMENT_RESPONSE_HEADER, PAYMENT_RESPONSE_HEADER_V1):
        value = get_header(headers, name)
        if value is None:
            continue
        try:
            document = decode_b64_json(value)
        except ValueError:
            continue
        if isinstance(document, dict) and within_bounds(document):
            return document
    return None


def decode_receipt(headers: Mapping[str, str]) -> PaymentReceipt | None:
    """The settlement receipt of a paid response, or None when it carries none.

    Reads ``PAYMENT-RESPONSE`` (fallback ``X-PAYMENT-RESPONSE``), ``X-Payment-Receipt``,
    ``X-Payment-Settled`` and ``X-Payment-Settle-Error-Class``.
    """
    try:
        return _decode(headers)
    except Exception:  # a receipt is informational: garbage must never break a paid call
        return None


def _decode(headers: Mapping[str, str]) -> PaymentReceipt | None:
    document = _settle_response(headers)
    receipt_hash = _text(get_header(headers, X_PAYMENT_RECEIPT_HEADER))
    settled_header = (get_header(headers, X_PAYMENT_SETTLED_HEADER) or "").strip().lower()
    error_class = _text(get_header(headers, X_PAYMENT_SETTLE_ERROR_CLASS_HEADER))
    if document is None and receipt_hash is None and not settled_header and error_class is None:
        return None

    doc = document or {}
    success = doc.get("success") if isinstance(doc.get("success"), bool) else None
    transaction = _first_text(doc, "transaction", "txHash", "transactionHash") or receipt_hash
    error = error_class or _first_text(doc, "errorReason", "errorMessage", "error")
    if settled_header in ("true", "false"):
        settled: bool | None = settled_header == "true"
    elif success is False:
        settled = False
    elif transaction is not None:
        settled = True
    else:
        settled = None
    return PaymentReceipt(
        success=success,
        transaction=transaction,
        network=_text(doc.get("network")),
        payer=_first_text(doc, "payer", "from"),
        amount_micros=_amount(doc),
        settled=settled,
        error=error,
    )


def match_receipt(
    receipt: PaymentReceipt, *, payer: str, amount_micros: int, network: str
) -> PaymentReceipt:
    """``receipt``, with ``mismatch`` set when it names another payer, amount or network.

    Our signature fixes who pays how much to whom, so a receipt that disagrees cannot be
    about our payment: its transaction proves nothing and the payment is in doubt. The
    answer it came with is still the one we paid for, so this reports, never raises.
    """
    problems = []
    if receipt.payer is not None and receipt.payer.lower() != payer.lower():
        problems.append(f"payer {receipt.payer[:42]} instead of {payer}")
    if receipt.amount_micros is not None and receipt.amount_micros != amount_micros:
        problems.append(f"{receipt.amount_micros} micro-USDC instead of the {amount_micros} signed")
    if receipt.network is not None and find_network(receipt.network) != find_network(network):
        problems.append(f"network {receipt.network[:40]} instead of {network}")
    if not problems:
        return receipt
    return replace(receipt, mismatch="the settlement receipt names " + ", ".join(problems))
