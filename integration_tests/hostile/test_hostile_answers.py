"""A gateway answering with redirects, garbage or lying receipts.

Redirects are never followed (nothing reaches another host, keys and payments included);
unusable JSON ends in a documented error, however large or deep; a receipt that is not
about our payment keeps the answer we paid for but marks the payment as in doubt.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from blockrun_core import (
    BlockRunClient,
    Budget,
    PaymentInDoubtError,
    PaymentRefusedError,
    UpstreamError,
)
from blockrun_core.ledger import Ledger
from blockrun_core.testing import LocalGateway
from starlette.responses import Response

from integration_tests.hostile.checks import (
    HI,
    MODEL,
    Flavour,
    assert_signed_within_policy,
    chat,
)
from integration_tests.hostile.server import Elsewhere, HostileGateway, Seen
from unit_tests.conftest import HARDHAT_KEY

FLAVOURS = ["sync", "async"]
DEEP = 200_000  # far below the 256 KiB body limit, far above any recursion limit


def _redirect(elsewhere: Elsewhere, status: int, *, paid: bool | None) -> Callable[..., Any]:
    """Redirect requests (only paid or only unpaid ones, or all) to the other host."""

    def answer(seen: Seen) -> Response | None:
        if paid is not None and (seen.payment_header is not None) != paid:
            return None
        location = elsewhere.base + seen.path
        return Response(b"", status_code=status, headers={"location": location})

    return answer


# --- redirects ------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirected_probe_is_not_followed_and_nothing_is_signed(
    status: int, hostile: HostileGateway, gw: LocalGateway, elsewhere: Elsewhere
) -> None:
    hostile.intercept = _redirect(elsewhere, status, paid=False)
    with pytest.raises(UpstreamError) as caught:
        chat("sync", hostile, fallback_models=["openai/gpt-4o"])
    assert caught.value.status_code == status
    assert "never followed" in caught.value.message
    assert f"localhost:{elsewhere.port}" in caught.value.message
    assert hostile.payment_headers == []
    assert gw.payments == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_redirected_paid_request_is_in_doubt_and_not_followed(
    flavour: Flavour,
    hostile: HostileGateway,
    gw: LocalGateway,
    elsewhere: Elsewhere,
    tmp_path: Path,
) -> None:
    budget = Budget(1.0, name="redirect")
    hostile.intercept = _redirect(elsewhere, 307, paid=True)
    ledger = tmp_path / "usage.sqlite3"
    with pytest.raises(PaymentInDoubtError) as caught:
        chat(flavour, hostile, budget=budget, ledger=ledger, fallback_models=["openai/gpt-4o"])
    assert "redirect" in caught.value.cause
    # One signature, sent only to the configured host; no second model was paid.
    assert len(hostile.payment_headers) == 1
    assert_signed_within_policy(hostile, gw)
    paid = hostile.signed()[0].authorization.value
    # The configured host had the signed header: the budget counts it, the ledger says so.
    assert budget.spent == pytest.approx(paid / 1e6)
    (row,) = Ledger(ledger).records()
    assert row.status == "in_doubt"


def test_a_redirected_stream_is_in_doubt(
    hostile: HostileGateway, gw: LocalGateway, elsewhere: Elsewhere
) -> None:
    hostile.intercept = _redirect(elsewhere, 302, paid=True)
    with (
        BlockRunClient(api_url=hostile.url, wallet_key=HARDHAT_KEY, ledger=False) as client,
        pytest.raises(PaymentInDoubtError),
    ):
        list(client.stream(model=MODEL, messages=HI, max_tokens=64))
    assert len(hostile.payment_headers) == 1


def test_an_account_key_is_never_sent_after_a_redirect(
    hostile: HostileGateway, gw: LocalGateway, elsewhere: Elsewhere
) -> None:
    hostile.intercept = _redirect(elsewhere, 308, paid=None)
    with (
        BlockRunClient(api_url=hostile.account_url, api_key=gw.api_key, ledger=False) as client,
        pytest.raises(UpstreamError) as caught,
    ):
        client.chat(model=MODEL, messages=HI, max_tokens=64)
    assert caught.value.status_code == 308
    assert gw.api_key not in caught.value.message
    (seen,) = hostile.requests
    assert seen.headers["authorization"] == f"Bearer {gw.api_key}"  # the configured host only


# --- malformed, oversized and deeply nested JSON ---------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CHALLENGES = [
    pytest.param({}, b"<html>Payment Required</html>", id="no-challenge"),
    pytest.param({"PAYMENT-REQUIRED": _b64(b"{not json")}, b"", id="malformed-header"),
    pytest.param({"PAYMENT-REQUIRED": "%%%not base64%%%"}, b"", id="not-base64"),
    pytest.param({"PAYMENT-REQUIRED": _b64(b"[" * 10_000)}, b"", id="deep-header"),
    pytest.param({}, b'{"accepts": ' + b"[" * DEEP + b"]" * DEEP + b"}", id="deep-body"),
    pytest.param(
        {},
        b'{"accepts": [], "pad": "' + b"x" * 2_000_000 + b'"}',
        id="oversized-body",
    ),
    pytest.param(
        {"PAYMENT-REQUIRED": _b64(b'{"x402Version": 2, "accepts": [{"amount": "1"}]}')},
        b"",
        id="offer-without-terms",
    ),
]


@pytest.mark.parametrize(("headers", "body"), CHALLENGES)
def test_an_unusable_challenge_is_refused_and_nothing_is_signed(
    headers: dict[str, str], body: bytes, hostile: HostileGateway, gw: LocalGateway
) -> None:
    def answer(seen: Seen) -> Response:
        return Response(body, status_code=402, headers=headers, media_type="application/json")

    hostile.intercept = answer
    with pytest.raises(PaymentRefusedError) as caught:
        chat("sync", hostile)
    assert caught.value.reason == "malformed_challenge"
    assert "Nothing was signed" in caught.value.message
    assert len(caught.value.message) < 2_000
    assert hostile.payment_headers == []
    assert gw.payments == []


def test_an_oversized_challenge_header_fails_the_connection_and_nothing_is_signed(
    hostile: HostileGateway, gw: LocalGateway
) -> None:
    # httpx's HTTP/1.1 parser refuses header blocks this large before we see them.
    headers = {"PAYMENT-REQUIRED": "A" * 2_000_000}
    hostile.intercept = lambda seen: Response(b"{}", status_code=402, headers=headers)
    with pytest.raises(UpstreamError) as caught:
        chat("sync", hostile, max_retries=0)
    assert caught.value.code == "CONNECTION_ERROR"
    assert hostile.payment_headers == []
    assert gw.payments == []


ANSWERS = [
    pytest.param(b"this is not JSON", id="malformed"),
    pytest.param(b'{"choices": ' + b"[" * DEEP + b"]" * DEEP + b"}", id="deep"),
    pytest.param(b'{"choices": "' + b"x" * 3_000_000 + b'"}', id="oversized"),
    pytest.param(b"[" * 5_000_000, id="oversized-deep"),
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("answer", ANSWERS)
def test_a_paid_unusable_answer_is_an_error_and_never_paid_twice(
    flavour: Flavour, answer: bytes, hostile: HostileGateway, gw: LocalGateway
) -> None:
    hostile.rewrite_answer = lambda body: answer
    with pytest.raises(UpstreamError) as caught:
        # a fallback model is offered: moving on would be a second payment, never made
        chat(flavour, hostile, fallback_models=["openai/gpt-4o"])
    error = caught.value
    assert error.code == "MALFORMED_RESPONSE"
    assert error.paid_usd > 0 and "was accepted" in error.message
    assert len(error.message) < 2_000
    assert len(hostile.payment_headers) == 1
    assert len(gw.payments) == 1


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(b"data: {not json}\n\n", id="malformed"),
        pytest.param(b"data: " + b"[" * DEEP + b"\n\n", id="deep"),
        pytest.param(b'data: {"choices": [{"delta": 7}]}\n\n', id="wrong-shape"),
    ],
)
def test_a_paid_stream_with_an_unusable_frame_raises_inside_the_tree(
    frame: bytes, hostile: HostileGateway, gw: LocalGateway
) -> None:
    hostile.rewrite_answer = lambda body: frame + body
    with (
        BlockRunClient(api_url=hostile.url, wallet_key=HARDHAT_KEY, ledger=False) as client,
        pytest.raises(UpstreamError) as caught,
    ):
        list(client.stream(model=MODEL, messages=HI, max_tokens=64))
    assert caught.value.code == "STREAM_MALFORMED"
    assert len(hostile.payment_headers) == 1
    assert len(gw.payments) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"error": ' + b"[" * DEEP + b"}", id="deep"),
        pytest.param(b'{"error": {"message": "' + b"m" * 3_000_000 + b'"}}', id="oversized"),
        pytest.param(b"\xff\xfe garbage \x00", id="binary"),
    ],
)
def test_an_unusable_error_body_is_a_short_upstream_error(
    body: bytes, hostile: HostileGateway, gw: LocalGateway
) -> None:
    hostile.intercept = lambda seen: Response(body, status_code=500)
    with pytest.raises(UpstreamError) as caught:
        chat("sync", hostile, max_retries=0)
    assert caught.value.status_code == 500
    assert len(caught.value.message) < 1_000
    assert hostile.payment_headers == []


# --- settlement receipts that are not about our payment ---------------------------------


RECEIPTS = [
    pytest.param({"payer": "0x000000000000000000000000000000000000bEEF"}, "payer", id="payer"),
    pytest.param({"amount": "999999"}, "micro-USDC", id="amount"),
    pytest.param({"network": "eip155:84532"}, "network", id="network"),
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("changes", "named"), RECEIPTS)
def test_a_receipt_for_another_payment_keeps_the_answer_but_reports_doubt(
    flavour: Flavour,
    changes: dict[str, Any],
    named: str,
    hostile: HostileGateway,
    gw: LocalGateway,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hostile.rewrite_receipt = lambda document: {**document, **changes}
    budget = Budget(1.0, name="receipts")
    ledger = tmp_path / "usage.sqlite3"
    with caplog.at_level(logging.WARNING, logger="blockrun"):
        result = chat(flavour, hostile, budget=budget, ledger=ledger)
    assert result.content  # the answer we paid for is not lost
    assert result.receipt is not None
    assert result.receipt.mismatch is not None and named in result.receipt.mismatch
    assert any("in doubt" in r.getMessage() for r in caplog.records)
    (row,) = Ledger(ledger).records()
    assert row.status == "in_doubt"
    assert row.error is not None and named in row.error
    # The budget keeps what we signed, the most our authorization can move.
    assert budget.spent == pytest.approx(result.cost_usd)
    assert len(gw.payments) == 1


def test_a_matching_receipt_is_not_flagged(
    hostile: HostileGateway, gw: LocalGateway, tmp_path: Path
) -> None:
    ledger = tmp_path / "usage.sqlite3"
    result = chat("sync", hostile, ledger=ledger)
    assert result.receipt is not None and result.receipt.mismatch is None
    assert result.receipt.payer == gw.payments[0].payer
    assert [r.status for r in Ledger(ledger).records()] == ["settled"]


def test_a_streamed_answer_with_a_foreign_receipt_is_flagged(
    hostile: HostileGateway, gw: LocalGateway
) -> None:
    hostile.rewrite_receipt = lambda document: {**document, "amount": "1"}
    with BlockRunClient(api_url=hostile.url, wallet_key=HARDHAT_KEY, ledger=False) as client:
        chunks = list(client.stream(model=MODEL, messages=HI, max_tokens=64))
    assert "".join(c.delta for c in chunks)
    receipts = {c.receipt for c in chunks}
    assert len(receipts) == 1
    (receipt,) = receipts
    assert receipt is not None and receipt.mismatch is not None
