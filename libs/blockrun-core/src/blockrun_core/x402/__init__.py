"""x402 payments, as pure functions: parse a 402, choose an offer, sign, read the outcome.

Client flow: :func:`parse_challenge` -> :func:`select_offer` -> :func:`sign_payment` ->
send ``SignedPayment.headers`` -> :func:`decode_receipt`, or :func:`rejection_error` when
the paid request is refused. A gateway uses :func:`decode_payment_header` and
:func:`verify_payment_signature`. Nothing here does I/O.
"""

from __future__ import annotations

from .challenge import PaymentChallenge, PaymentOffer, parse_challenge
from .eip3009 import TransferAuthorization, domain_separator, transfer_digest
from .encoding import decode_b64_json, encode_b64_json
from .headers import (
    PAYMENT_HEADER_V1,
    PAYMENT_HEADER_V2,
    PAYMENT_REQUIRED_HEADER,
    PAYMENT_RESPONSE_HEADER,
    PAYMENT_RESPONSE_HEADER_V1,
    X_PAYMENT_RECEIPT_HEADER,
    X_PAYMENT_REQUIRED_HEADER,
    X_PAYMENT_SETTLE_ERROR_CLASS_HEADER,
    X_PAYMENT_SETTLED_HEADER,
)
from .networks import BASE, BASE_SEPOLIA, NETWORKS, Network, find_network
from .payment import SignedPayment, payment_resource, sign_payment
from .pin import PayeePin
from .policy import PaymentPolicy, check_offer, format_usd, network_for_url, select_offer
from .receipt import PaymentReceipt, decode_receipt, match_receipt
from .rejection import rejection_error
from .verify import (
    ParsedPayment,
    decode_payment_header,
    parse_payment_payload,
    verify_payment_signature,
)

__all__ = [
    "BASE",
    "BASE_SEPOLIA",
    "NETWORKS",
    "PAYMENT_HEADER_V1",
    "PAYMENT_HEADER_V2",
    "PAYMENT_REQUIRED_HEADER",
    "PAYMENT_RESPONSE_HEADER",
    "PAYMENT_RESPONSE_HEADER_V1",
    "X_PAYMENT_RECEIPT_HEADER",
    "X_PAYMENT_REQUIRED_HEADER",
    "X_PAYMENT_SETTLED_HEADER",
    "X_PAYMENT_SETTLE_ERROR_CLASS_HEADER",
    "Network",
    "ParsedPayment",
    "PayeePin",
    "PaymentChallenge",
    "PaymentOffer",
    "PaymentPolicy",
    "PaymentReceipt",
    "SignedPayment",
    "TransferAuthorization",
    "check_offer",
    "decode_b64_json",
    "decode_payment_header",
    "decode_receipt",
    "domain_separator",
    "encode_b64_json",
    "find_network",
    "format_usd",
    "match_receipt",
    "network_for_url",
    "parse_challenge",
    "parse_payment_payload",
    "payment_resource",
    "rejection_error",
    "select_offer",
    "sign_payment",
    "transfer_digest",
    "verify_payment_signature",
]
