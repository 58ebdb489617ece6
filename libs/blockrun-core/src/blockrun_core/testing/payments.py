"""The gateway's side of x402 and of the account rail.

Challenges (the 402), verification of a payment header, the nonce replay store, fake
balances, settlement with deterministic receipts, and ``brk_`` account credit. Money only
"moves" in :meth:`PaymentLedger.settle`; everything recorded there moved exactly once.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any

from blockrun_core._keccak import keccak256
from blockrun_core.x402 import (
    PAYMENT_REQUIRED_HEADER,
    PAYMENT_RESPONSE_HEADER,
    X_PAYMENT_RECEIPT_HEADER,
    X_PAYMENT_REQUIRED_HEADER,
    X_PAYMENT_SETTLE_ERROR_CLASS_HEADER,
    X_PAYMENT_SETTLED_HEADER,
    Network,
    decode_payment_header,
    encode_b64_json,
    format_usd,
    parse_payment_payload,
    verify_payment_signature,
)

__all__ = [
    "DEFAULT_PAY_TO",
    "AccountLedger",
    "PaymentLedger",
    "PaymentRejection",
    "PaymentTerms",
    "RecordedPayment",
    "VerifiedPayment",
    "challenge_response",
    "new_api_key",
    "settlement_headers",
    "unsettled_headers",
    "verify_payment",
]

DEFAULT_PAY_TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
"""The treasury the gateway asks to be paid to (Hardhat account #1, as in BlockRun's tests)."""
#: The soonest a validBefore may fall (x402 facilitators require ``now + 6``).
MIN_REMAINING_SECONDS = 6
#: The longest authorization accepted, and the clock skew tolerated on top of it.
MAX_VALIDITY_SECONDS = 600
CLOCK_SKEW_SECONDS = 30

_ERRORS = {
    "PAYMENT_REPLAY": "Payment authorization already used",
    "PAYMENT_UNDERPAID": "Payment below quoted price",
    "SETTLEMENT_FAILED": "Payment settlement failed",
}
_MESSAGES = {
    "PAYMENT_INVALID": "The payment authorization is invalid: check the network, asset, "
    "recipient, amount and signature against the 402 offer.",
    "PAYMENT_UNFUNDED": "The payment authorization could not be executed on-chain. Check the "
    "wallet's USDC balance and that the system clock is correct.",
    "PAYMENT_REPLAY": "This payment authorization was already used by an earlier request, "
    "which was accepted. Do not sign a new payment for the same request.",
    "PAYMENT_UNDERPAID": "The signed amount is below the current quote; fetch a fresh 402 "
    "and sign its amount.",
    "PAYMENT_VERIFICATION_UNAVAILABLE": "The payment could not be verified right now; retry "
    "the same signed payment.",
    "SETTLEMENT_FAILED": "The payment was verified but settling it failed; its outcome is in "
    "doubt.",
}


@dataclass(frozen=True)
class PaymentTerms:
    """What this gateway accepts: one exact-USDC offer on ``network`` to ``pay_to``."""

    network: Network
    pay_to: str
    max_timeout_seconds: int = 300

    def offer(self, amount_micros: int) -> dict[str, Any]:
        """The ``accepts`` entry for ``amount_micros``."""
        return {
            "scheme": "exact",
            "network": self.network.caip2,
            "amount": str(amount_micros),
            "asset": self.network.usdc,
            "payTo": self.pay_to,
            "maxTimeoutSeconds": self.max_timeout_seconds,
            "extra": {"name": self.network.eip712_name, "version": self.network.eip712_version},
        }


def challenge_response(
    terms: PaymentTerms, *, amount_micros: int, resource_url: str, description: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and JSON body of a ``402 Payment Required`` asking ``amount_micros``."""
    required = {
        "x402Version": 2,
        "accepts": [terms.offer(amount_micros)],
        "resource": {
            "url": resource_url,
            "description": description,
            "mimeType": "application/json",
        },
    }
    encoded = encode_b64_json(required)
    headers = {
        PAYMENT_REQUIRED_HEADER: encoded,
        X_PAYMENT_REQUIRED_HEADER: encoded,
        "WWW-Authenticate": f'X402 requirements="{encoded}"',
        "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0",
    }
    legacy = terms.network.legacy_names[0] if terms.network.legacy_names else terms.network.caip2
    body = {
        "error": "Payment Required",
        "message": "This endpoint requires x402 payment",
        "price": {"amount": format_usd(amount_micros).removeprefix("$"), "currency": "USD"},
        "paymentInfo": {"network": legacy, "asset": "USDC", "x402Version": 2},
    }
    return headers, body


@dataclass(frozen=True)
class PaymentRejection:
    """A refused payment: ``402`` with a ``PAYMENT_*`` (or ``SETTLEMENT_FAILED``) code."""

    code: str
    debug: str | None = None
    payer: str | None = None
    message: str | None = None

    def body(self) -> dict[str, Any]:
        """The JSON body of the 402, as BlockRun sends it."""
        body: dict[str, Any] = {
            "error": _ERRORS.get(self.code, "Payment verification failed"),
            "code": self.code,
            "message": self.message or _MESSAGES.get(self.code, "The payment was refused."),
        }
        if self.debug:
            body["debug"] = self.debug
        if self.payer:
            body["payer"] = self.payer
        return body


@dataclass(frozen=True)
class VerifiedPayment:
    """A payment whose terms, time window and signature checked out (not yet claimed)."""

    payer: str
    amount_micros: int
    nonce: str  # 0x + 64 lower-case hex
    network: Network
    pay_to: str
    x402_version: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The replay key: (network, asset, payer, nonce), lower-cased."""
        return (self.network.caip2, self.network.usdc.lower(), self.payer.lower(), self.nonce)

    @property
    def tx_hash(self) -> str:
        """The deterministic fake transaction hash this payment settles under."""
        return "0x" + keccak256("|".join(("blockrun-local", *self.key)).encode()).hex()


@dataclass(frozen=True)
class RecordedPayment:
    """A settled payment: money that moved from ``payer`` to ``pay_to``, once."""

    payer: str
    amount_micros: int
    nonce: str
    model: str
    network: str  # CAIP-2
    pay_to: str
    tx_hash: str
    stream: bool


def verify_payment(
    header: str, *, terms: PaymentTerms, quote_micros: int, now: int
) -> VerifiedPayment | PaymentRejection:
    """Check a ``PAYMENT-SIGNATURE`` / ``X-PAYMENT`` value against this gateway's offer.

    Order: decoding and shape, network/asset/recipient against the offer, amount against
    the current quote (over-payment is accepted), time window, then the signature.
    Replay and balance are checked when the nonce is claimed (:meth:`PaymentLedger.claim`).
    """
    try:
        document = decode_payment_header(header)
        parsed = parse_payment_payload(document)
    except ValueError as exc:
        return PaymentRejection("PAYMENT_INVALID", debug=f"malformed payment: {exc}")
    auth = parsed.authorization
    payer = auth.from_
    if parsed.network != terms.network:
        return PaymentRejection(
            "PAYMENT_INVALID",
            debug=f"network {parsed.network.caip2} is not {terms.network.caip2}",
            payer=payer,
        )
    pay_to = terms.pay_to.lower()
    accepted = parsed.accepted
    if accepted is not None and str(accepted.get("payTo", "")).lower() != pay_to:
        return PaymentRejection("PAYMENT_INVALID", debug="accepted.payTo mismatch", payer=payer)
    if auth.to.lower() != pay_to:
        return PaymentRejection("PAYMENT_INVALID", debug="recipient mismatch", payer=payer)
    if auth.value < quote_micros:
        return PaymentRejection(
            "PAYMENT_UNDERPAID",
            debug=f"signed {auth.value} < quote {quote_micros} micro-USDC",
            payer=payer,
        )
    if auth.valid_after > now:
        return PaymentRejection(
            "PAYMENT_UNFUNDED", debug="authorization not yet valid (validAfter)", payer=payer
        )
    if auth.valid_before < now + MIN_REMAINING_SECONDS:
        return PaymentRejection(
            "PAYMENT_UNFUNDED", debug="authorization expired (validBefore)", payer=payer
        )
    if auth.valid_before > now + MAX_VALIDITY_SECONDS + CLOCK_SKEW_SECONDS:
        return PaymentRejection(
            "PAYMENT_INVALID",
            debug=f"validBefore more than {MAX_VALIDITY_SECONDS}s ahead",
            payer=payer,
        )
    try:
        verify_payment_signature(document)
    except ValueError as exc:
        return PaymentRejection("PAYMENT_INVALID", debug=f"invalid signature: {exc}", payer=payer)
    return VerifiedPayment(
        payer=payer,
        amount_micros=auth.value,
        nonce="0x" + auth.nonce.hex(),
        network=parsed.network,
        pay_to=auth.to,
        x402_version=parsed.x402_version,
    )


def settlement_headers(payment: RecordedPayment) -> dict[str, str]:
    """``PAYMENT-RESPONSE`` and ``X-Payment-Receipt`` of a settled payment."""
    receipt = {
        "success": True,
        "transaction": payment.tx_hash,
        "network": payment.network,
        "payer": payment.payer,
    }
    return {
        PAYMENT_RESPONSE_HEADER: encode_b64_json(receipt),
        X_PAYMENT_RECEIPT_HEADER: payment.tx_hash,
    }


def unsettled_headers(payment: VerifiedPayment) -> dict[str, str]:
    """Headers of a request served while its settlement did not land.

    Like BlockRun, ``success`` stays ``true``; only the missing transaction and
    ``X-Payment-Settled: false`` tell.
    """
    receipt = {
        "success": True,
        "transaction": "",
        "network": payment.network.caip2,
        "payer": payment.payer,
    }
    return {
        PAYMENT_RESPONSE_HEADER: encode_b64_json(receipt),
        X_PAYMENT_SETTLED_HEADER: "false",
        X_PAYMENT_SETTLE_ERROR_CLASS_HEADER: "timeout",
    }


class PaymentLedger:
    """Claimed nonces, fake balances and settled payments. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._claimed: dict[tuple[str, str, str, str], None] = {}
        self._payments: list[RecordedPayment] = []
        self._balances: dict[str, int] = {}

    def claim(self, payment: VerifiedPayment) -> PaymentRejection | None:
        """Consume the payment's nonce; a rejection if it was used or is unfunded."""
        with self._lock:
            if payment.key in self._claimed:
                return PaymentRejection(
                    "PAYMENT_REPLAY", debug="nonce already used", payer=payment.payer
                )
            balance = self._balances.get(payment.payer.lower())
            if balance is not None and balance < payment.amount_micros:
                return PaymentRejection(
                    "PAYMENT_UNFUNDED",
                    debug=f"insufficient balance: {balance} < {payment.amount_micros}",
                    payer=payment.payer,
                )
            self._claimed[payment.key] = None
            return None

    def settle(self, payment: VerifiedPayment, *, model: str, stream: bool) -> RecordedPayment:
        """Move the money: debit the fake balance and record the payment."""
        record = RecordedPayment(
            payer=payment.payer,
            amount_micros=payment.amount_micros,
            nonce=payment.nonce,
            model=model,
            network=payment.network.caip2,
            pay_to=payment.pay_to,
            tx_hash=payment.tx_hash,
            stream=stream,
        )
        with self._lock:
            balance = self._balances.get(payment.payer.lower())
            if balance is not None:
                self._balances[payment.payer.lower()] = balance - payment.amount_micros
            self._payments.append(record)
        return record

    @property
    def payments(self) -> list[RecordedPayment]:
        """Every settled payment, oldest first (a copy)."""
        with self._lock:
            return list(self._payments)

    @property
    def claimed_nonces(self) -> list[str]:
        """Every claimed nonce, settled or not, oldest first."""
        with self._lock:
            return [key[3] for key in self._claimed]

    def set_balance(self, payer: str, micros: int | None) -> None:
        """Give ``payer`` a fake USDC balance (``None``: unlimited, the default)."""
        with self._lock:
            if micros is None:
                self._balances.pop(payer.lower(), None)
            else:
                self._balances[payer.lower()] = micros

    def balance(self, payer: str) -> int | None:
        """``payer``'s remaining fake balance, ``None`` when unlimited."""
        with self._lock:
            return self._balances.get(payer.lower())

    def reset(self) -> None:
        """Forget every nonce, payment and balance."""
        with self._lock:
            self._claimed.clear()
            self._payments.clear()
            self._balances.clear()


def new_api_key() -> str:
    """A fresh ``brk_test_`` account key."""
    return "brk_test_" + secrets.token_hex(16)


class AccountLedger:
    """``brk_`` keys and their credit in micro-USD (``None``: unlimited). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._credit: dict[str, int | None] = {}

    def add(self, key: str, credit_micros: int | None) -> None:
        """Register ``key`` (or replace its credit)."""
        if not key.startswith("brk_"):
            raise ValueError("account keys start with 'brk_'")
        with self._lock:
            self._credit[key] = credit_micros

    def known(self, key: str) -> bool:
        """Whether ``key`` is a registered account key."""
        with self._lock:
            return key in self._credit

    def remaining(self, key: str) -> int | None:
        """The key's remaining credit; ``None`` when unlimited. ``KeyError`` if unknown."""
        with self._lock:
            return self._credit[key]

    def can_pay(self, key: str, micros: int) -> bool:
        """Whether ``key`` has at least ``micros`` of credit left."""
        with self._lock:
            credit = self._credit.get(key)
            return key in self._credit and (credit is None or credit >= micros)

    def charge(self, key: str, micros: int) -> None:
        """Debit ``micros`` from ``key``'s credit."""
        with self._lock:
            credit = self._credit.get(key)
            if credit is not None:
                self._credit[key] = credit - micros

    def reset(self) -> None:
        """Forget every key."""
        with self._lock:
            self._credit.clear()
