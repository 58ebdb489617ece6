"""rejection_error: each gateway PAYMENT_* refusal maps to its own class."""

from __future__ import annotations

import json
from typing import Any

import pytest
from blockrun_core.errors import (
    PaymentInvalidError,
    PaymentRejectedError,
    PaymentReplayError,
    PaymentUnderpaidError,
    PaymentUnfundedError,
    PaymentVerificationUnavailableError,
    SettlementFailedError,
)
from blockrun_core.x402 import rejection_error

_CODES = [
    ("PAYMENT_UNFUNDED", PaymentUnfundedError, "Add USDC"),
    ("PAYMENT_INVALID", PaymentInvalidError, "same network"),
    ("PAYMENT_REPLAY", PaymentReplayError, "already used"),
    ("PAYMENT_UNDERPAID", PaymentUnderpaidError, "fresh quote"),
    ("PAYMENT_VERIFICATION_UNAVAILABLE", PaymentVerificationUnavailableError, "retry later"),
    ("SETTLEMENT_FAILED", SettlementFailedError, "in doubt"),
]


def _body(code: str, **extra: Any) -> bytes:
    doc = {
        "error": "Payment verification failed",
        "code": code,
        "message": "The payment authorization could not be executed on-chain.",
        "debug": "SECRET-UPSTREAM-TEXT facilitator said insufficient_funds",
        "payer": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    }
    doc.update(extra)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("code", "cls", "hint"), _CODES)
def test_each_code_maps_to_its_own_class(
    code: str, cls: type[PaymentRejectedError], hint: str
) -> None:
    error = rejection_error(402, _body(code))
    assert type(error) is cls
    assert error.code == code
    assert error.status_code == 402
    assert "could not be executed on-chain" in error.message
    assert hint in error.message
    assert code in error.message
    assert "SECRET-UPSTREAM-TEXT" not in error.message


def test_classes_are_distinct() -> None:
    classes = [cls for _, cls, _ in _CODES]
    assert len(set(classes)) == len(classes)
    errors = [rejection_error(402, _body(code)) for code, _, _ in _CODES]
    for error, cls in zip(errors, classes, strict=True):
        others = [c for c in classes if c is not cls]
        assert not any(isinstance(error, c) for c in others)


def test_only_verification_unavailable_is_retryable() -> None:
    for code, cls, _ in _CODES:
        error = rejection_error(402, _body(code))
        assert error is not None
        assert error.retryable is (cls is PaymentVerificationUnavailableError)


@pytest.mark.parametrize("code", ["PAYMENT_BLOCKHASH_STALE", "PAYMENT_SOMETHING_NEW"])
def test_other_payment_codes_map_to_the_base_class(code: str) -> None:
    error = rejection_error(402, _body(code))
    assert type(error) is PaymentRejectedError
    assert error.code == code


def test_blockhash_stale_has_a_hint() -> None:
    error = rejection_error(402, _body("PAYMENT_BLOCKHASH_STALE"))
    assert error is not None
    assert "blockhash" in error.message


def test_code_inside_the_openai_envelope() -> None:
    body = {
        "error": {
            "message": "Signature invalid",
            "type": "payment_required",
            "code": "PAYMENT_INVALID",
        },
        "debug": "SECRET",
    }
    error = rejection_error(402, body)
    assert type(error) is PaymentInvalidError
    assert "Signature invalid" in error.message
    assert "SECRET" not in error.message


def test_lowercase_code_is_normalised() -> None:
    assert type(rejection_error(402, {"code": "payment_replay"})) is PaymentReplayError


def test_replay_string_form() -> None:
    error = rejection_error(402, {"error": "Payment authorization already used"})
    assert type(error) is PaymentReplayError


@pytest.mark.parametrize(
    "body",
    [
        {"error": "Payment settlement failed"},
        {"error": "Settlement failed"},
        {"error": "settlement failed."},
        {"message": "Payment settlement failed", "error": "Internal"},
    ],
)
def test_settlement_failed_string_forms(body: dict[str, str]) -> None:
    error = rejection_error(402, body)
    assert type(error) is SettlementFailedError
    assert error.code == "SETTLEMENT_FAILED"


def test_legacy_insufficient_funds_body_is_unfunded() -> None:
    details = (
        'Verification failed: {"invalidReason":"insufficient_funds",'
        '"invalidMessage":"insufficient balance: 251 < 11463","payer":"0xabc"}\n'
    )
    body = json.dumps({"error": "Payment verification failed", "details": details}).encode()
    error = rejection_error(402, body)
    assert type(error) is PaymentUnfundedError
    assert error.code == "PAYMENT_UNFUNDED"
    assert "insufficient_funds: insufficient balance: 251 < 11463" in error.message


def test_legacy_verification_failure_of_another_kind_is_a_base_rejection() -> None:
    body = {"error": "Payment verification failed", "details": '{"invalidReason":"bad_sig"}'}
    error = rejection_error(402, body)
    assert type(error) is PaymentRejectedError
    assert error.code == "PAYMENT_VERIFICATION_FAILED"
    assert "bad_sig" in error.message


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (402, None),
        (402, b""),
        (402, b"{}"),
        (402, b"not json"),
        (402, b"[1]"),
        (402, json.dumps({"x402Version": 2, "accepts": [], "error": "Payment required"}).encode()),
        (402, {"error": {"code": "BALANCE_EXHAUSTED", "message": "no credit"}}),
        (400, {"code": "INVALID_PARAMETER", "message": "bad"}),
        (429, {"code": "RATE_LIMITED"}),
        (200, _body("PAYMENT_UNFUNDED")),
        (402, b"[" * 50_000),
    ],
)
def test_non_rejections_are_none(status: int, body: Any) -> None:
    assert rejection_error(status, body) is None


def test_status_code_is_kept() -> None:
    error = rejection_error(409, {"code": "PAYMENT_REPLAY"})
    assert error is not None
    assert error.status_code == 409


def test_message_is_sanitised_and_bounded() -> None:
    error = rejection_error(
        402, {"code": "PAYMENT_INVALID", "message": "bad\r\nX-Evil: 1" + "z" * 5000}
    )
    assert error is not None
    assert "\n" not in error.message
    assert len(error.message) < 700


def test_missing_message_still_reads_well() -> None:
    error = rejection_error(402, {"code": "PAYMENT_UNDERPAID"})
    assert error is not None
    assert error.message.startswith(
        "The gateway rejected the payment (PAYMENT_UNDERPAID, HTTP 402): payment rejected."
    )
