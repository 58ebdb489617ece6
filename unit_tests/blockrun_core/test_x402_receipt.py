"""decode_receipt: settlement headers, tolerant of garbage."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from blockrun_core.x402 import PaymentReceipt, decode_receipt
from hypothesis import given, settings
from hypothesis import strategies as st

from unit_tests.blockrun_core.x402_fixtures import HARDHAT_ADDRESS, b64

TX = "0x" + "ab" * 32


def test_no_settlement_headers_is_none() -> None:
    assert decode_receipt({}) is None
    assert decode_receipt({"Content-Type": "application/json"}) is None


def test_payment_response_v2() -> None:
    headers = {
        "PAYMENT-RESPONSE": b64(
            {"success": True, "transaction": TX, "network": "eip155:8453", "payer": HARDHAT_ADDRESS}
        )
    }
    assert decode_receipt(headers) == PaymentReceipt(
        success=True,
        transaction=TX,
        network="eip155:8453",
        payer=HARDHAT_ADDRESS,
        amount_micros=None,
        settled=True,
        error=None,
    )


def test_legacy_x_payment_response_and_alternative_keys() -> None:
    headers = httpx.Headers(
        {
            "x-payment-response": b64(
                {"success": True, "txHash": TX, "from": HARDHAT_ADDRESS, "value": "25685"}
            )
        }
    )
    receipt = decode_receipt(headers)
    assert receipt is not None
    assert (receipt.transaction, receipt.payer, receipt.amount_micros) == (
        TX,
        HARDHAT_ADDRESS,
        25685,
    )


def test_payment_response_wins_over_the_legacy_header() -> None:
    headers = {
        "PAYMENT-RESPONSE": b64({"success": True, "transactionHash": TX, "amount": 7}),
        "X-PAYMENT-RESPONSE": b64({"success": True, "transaction": "0xother"}),
    }
    receipt = decode_receipt(headers)
    assert receipt is not None
    assert (receipt.transaction, receipt.amount_micros) == (TX, 7)


def test_url_safe_unpadded_payment_response() -> None:
    headers = {
        "payment-response": b64({"success": True, "transaction": TX}, urlsafe=True, padded=False)
    }
    receipt = decode_receipt(headers)
    assert receipt is not None
    assert receipt.transaction == TX


def test_failed_settlement() -> None:
    headers = {
        "PAYMENT-RESPONSE": b64(
            {
                "success": False,
                "transaction": "",
                "errorReason": "insufficient_funds",
                "network": "base",
            }
        )
    }
    receipt = decode_receipt(headers)
    assert receipt is not None
    assert receipt.success is False
    assert receipt.transaction is None
    assert receipt.settled is False
    assert receipt.error == "insufficient_funds"


def test_x_payment_receipt_alone() -> None:
    receipt = decode_receipt({"X-Payment-Receipt": TX})
    assert receipt == PaymentReceipt(transaction=TX, settled=True)


def test_success_without_a_hash_is_not_proof_of_settlement() -> None:
    receipt = decode_receipt({"PAYMENT-RESPONSE": b64({"success": True, "network": "base"})})
    assert receipt is not None
    assert receipt.success is True
    assert receipt.settled is None


def test_settled_false_with_error_class() -> None:
    headers = {
        "PAYMENT-RESPONSE": b64({"success": True, "transaction": "", "network": "eip155:8453"}),
        "X-Payment-Settled": "false",
        "X-Payment-Settle-Error-Class": "timeout",
    }
    receipt = decode_receipt(headers)
    assert receipt is not None
    assert receipt.success is True  # the gateway's hard-coded claim...
    assert receipt.settled is False  # ...is overridden by the explicit header
    assert receipt.error == "timeout"


def test_settled_header_beats_a_hash() -> None:
    receipt = decode_receipt({"X-Payment-Receipt": TX, "x-payment-settled": "False"})
    assert receipt is not None
    assert receipt.settled is False
    assert receipt.transaction == TX


@pytest.mark.parametrize(
    "headers",
    [
        {"PAYMENT-RESPONSE": "%%%garbage%%%"},
        {"PAYMENT-RESPONSE": b64([1, 2, 3])},
        {"PAYMENT-RESPONSE": b64({"success": "yes", "transaction": 5, "amount": "-3"})},
        {"PAYMENT-RESPONSE": "A" * 100_000},
    ],
)
def test_garbage_never_raises(headers: dict[str, str]) -> None:
    receipt = decode_receipt(headers)
    assert receipt is None or receipt == PaymentReceipt()


def test_garbage_payment_response_keeps_other_headers() -> None:
    receipt = decode_receipt({"PAYMENT-RESPONSE": "%%%", "X-Payment-Receipt": TX})
    assert receipt == PaymentReceipt(transaction=TX, settled=True)


def test_control_characters_and_long_values_are_sanitised() -> None:
    receipt = decode_receipt({"X-Payment-Receipt": "0xab\r\nSet-Cookie: x\x00" + "f" * 500})
    assert receipt is not None
    assert receipt.transaction is not None
    assert "\n" not in receipt.transaction
    assert "\x00" not in receipt.transaction
    assert len(receipt.transaction) <= 200


def test_hostile_mapping_never_raises() -> None:
    class Hostile(dict[str, Any]):
        def get(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    assert decode_receipt(Hostile({"x": "y"})) is None


@settings(max_examples=200, deadline=None)
@given(
    headers=st.dictionaries(
        st.sampled_from(
            ["PAYMENT-RESPONSE", "x-payment-response", "X-Payment-Receipt", "X-Payment-Settled"]
        )
        | st.text(max_size=10),
        st.text(max_size=100)
        | st.dictionaries(st.text(max_size=12), st.text(max_size=12) | st.integers()).map(b64),
        max_size=4,
    )
)
def test_decode_receipt_never_raises(headers: dict[str, str]) -> None:
    receipt = decode_receipt(headers)
    assert receipt is None or isinstance(receipt, PaymentReceipt)
