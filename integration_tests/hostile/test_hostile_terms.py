"""A gateway asking for terms the policy forbids: refused before anything is signed.

Each case runs over real HTTP through :class:`HostileGateway`, which forwards to the
shared LocalGateway. "Nothing signed that the policy forbids" is checked on the hostile
side: every payment header it ever received is decoded and held against the policy.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from blockrun_core import Budget, BudgetExceededError, PaymentRefusedError, PaymentRejectedError
from blockrun_core.errors import PaymentUnderpaidError
from blockrun_core.testing import LocalGateway
from blockrun_core.x402 import BASE_SEPOLIA, PaymentPolicy, decode_payment_header
from starlette.responses import Response

from integration_tests.hostile.checks import (
    ATTACKER,
    OTHER_TOKEN,
    Flavour,
    assert_signed_within_policy,
    chat,
    demand,
)
from integration_tests.hostile.server import Elsewhere, HostileGateway, Seen, challenge_headers

FLAVOURS = ["sync", "async"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_honest_pass_through_pays_once(
    flavour: Flavour, hostile: HostileGateway, gw: LocalGateway
) -> None:
    # The baseline every refusal below is measured against: the proxy itself is harmless.
    result = chat(flavour, hostile)
    assert result.content
    assert len(hostile.payment_headers) == 1
    assert [p.nonce for p in gw.payments] == [result_nonce(hostile)]
    assert_signed_within_policy(hostile, gw)


def result_nonce(hostile: HostileGateway) -> str:
    return "0x" + hostile.signed()[-1].authorization.nonce.hex()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_price_above_the_cap_is_refused(
    flavour: Flavour, hostile: HostileGateway, gw: LocalGateway
) -> None:
    policy = PaymentPolicy(max_per_call_usd=0.05)

    def inflate(document: dict[str, Any]) -> dict[str, Any]:
        document["accepts"][0]["amount"] = str(policy.max_per_call_micros + 1)
        return document

    hostile.rewrite_challenge = inflate
    with pytest.raises(PaymentRefusedError) as caught:
        chat(flavour, hostile, payment_policy=policy)
    assert caught.value.reason == "over_cap"
    assert "$0.050001" in caught.value.message and "Nothing was signed" in caught.value.message
    assert hostile.payment_headers == []
    assert gw.payments == []


def test_a_price_above_the_budget_is_refused_and_nothing_stays_reserved(
    hostile: HostileGateway, gw: LocalGateway
) -> None:
    budget = Budget(0.02, name="hostile")

    def inflate(document: dict[str, Any]) -> dict[str, Any]:
        document["accepts"][0]["amount"] = "500000"  # $0.50: within the cap, not the budget
        return document

    hostile.rewrite_challenge = inflate
    with pytest.raises(BudgetExceededError):
        chat("sync", hostile, budget=budget)
    assert hostile.payment_headers == []
    assert gw.payments == []
    assert (budget.spent, budget.reserved) == (0.0, 0.0)


# Mid-session: a first call is paid normally, then the gateway changes its terms. The
# second call's pre-authorised payment (for the old, allowed terms) is refused with a 402,
# and the new terms must then be refused before anything else is signed.
MID_SESSION = [
    pytest.param({"amount": "5000000"}, "over_cap", None, id="price-above-cap"),
    pytest.param(
        {"network": BASE_SEPOLIA.caip2, "asset": BASE_SEPOLIA.usdc},
        "network_not_allowed",
        None,
        id="network",
    ),
    pytest.param({"network": "eip155:1"}, "network_not_allowed", None, id="unknown-network"),
    pytest.param({"asset": OTHER_TOKEN}, "asset_not_allowed", None, id="asset"),
    pytest.param({"payTo": ATTACKER}, "pay_to_changed", None, id="payTo-pinned"),
    pytest.param({"payTo": ATTACKER}, "pay_to_not_allowed", "listed", id="payTo-listed"),
    pytest.param(
        {"scheme": "upto", "extra": {"assetTransferMethod": "permit2"}},
        "unsupported_scheme",
        None,
        id="scheme",
    ),
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("changes", "reason", "pay_to"), MID_SESSION)
def test_terms_switched_mid_session_are_refused(
    flavour: Flavour,
    changes: dict[str, Any],
    reason: str,
    pay_to: str | None,
    hostile: HostileGateway,
    gw: LocalGateway,
) -> None:
    policy = PaymentPolicy(pay_to=(gw.pay_to,) if pay_to else None)
    first, second = _two_calls(flavour, hostile, policy, changes)
    assert first.content
    assert isinstance(second, PaymentRefusedError), second
    assert second.reason == reason
    assert "Nothing was signed" in second.message
    # Signed: the first call's payment and the second call's pre-authorisation, both for
    # the original terms; only the first was ever settled.
    assert len(hostile.payment_headers) == 2
    assert_signed_within_policy(hostile, gw, policy)
    assert len(gw.payments) == 1


def _two_calls(
    flavour: Flavour, hostile: HostileGateway, policy: PaymentPolicy, changes: dict[str, Any]
) -> tuple[Any, BaseException | None]:
    """Two calls on one client; the gateway switches its terms between them."""
    import asyncio

    from blockrun_core import AsyncBlockRunClient, BlockRunClient

    from integration_tests.hostile.checks import HI, MODEL
    from unit_tests.conftest import HARDHAT_KEY

    options: dict[str, Any] = {
        "api_url": hostile.url,
        "wallet_key": HARDHAT_KEY,
        "ledger": False,
        "payment_policy": policy,
    }
    if flavour == "sync":
        with BlockRunClient(**options) as client:
            first = client.chat(model=MODEL, messages=HI, max_tokens=64)
            demand(hostile, **changes)
            try:
                client.chat(model=MODEL, messages=HI, max_tokens=64)
            except Exception as exc:
                return first, exc
            return first, None

    async def run() -> tuple[Any, BaseException | None]:
        async with AsyncBlockRunClient(**options) as client:
            first = await client.chat(model=MODEL, messages=HI, max_tokens=64)
            demand(hostile, **changes)
            try:
                await client.chat(model=MODEL, messages=HI, max_tokens=64)
            except Exception as exc:
                return first, exc
            return first, None

    return asyncio.run(run())


def test_a_new_pay_to_is_paid_once_the_user_lists_it(
    hostile: HostileGateway, gw: LocalGateway
) -> None:
    # The pin protects a session; a user who allows several treasuries gets to use them.
    policy = PaymentPolicy(pay_to=(gw.pay_to, ATTACKER))
    first, second = _two_calls("sync", hostile, policy, {"payTo": ATTACKER})
    assert first.content
    assert isinstance(second, PaymentRejectedError)  # the hostile side never serves it
    assert [p.authorization.to for p in hostile.signed()][-1].lower() == ATTACKER.lower()


@pytest.mark.parametrize("validity", [None, 60])
def test_a_validity_window_of_days_is_clamped_to_the_policy(
    validity: int | None, hostile: HostileGateway, gw: LocalGateway
) -> None:
    policy = PaymentPolicy() if validity is None else PaymentPolicy(max_validity_seconds=validity)

    def days(document: dict[str, Any]) -> dict[str, Any]:
        document["accepts"][0]["maxTimeoutSeconds"] = 3 * 86_400
        return document

    hostile.rewrite_challenge = days
    started = time.time()
    result = chat("sync", hostile, payment_policy=policy)
    assert result.content
    (signed,) = hostile.signed()
    window = signed.authorization.valid_before - started
    assert window <= policy.max_validity_seconds + 1
    assert window < 3 * 86_400
    assert_signed_within_policy(hostile, gw, policy, signed_before=started)
    assert len(gw.payments) == 1


def test_a_resource_url_on_another_host_is_not_signed_or_contacted(
    hostile: HostileGateway, gw: LocalGateway, elsewhere: Elsewhere
) -> None:
    def foreign(document: dict[str, Any]) -> dict[str, Any]:
        document["resource"]["url"] = elsewhere.base + "/api/v1/chat/completions"
        return document

    hostile.rewrite_challenge = foreign
    assert chat("sync", hostile).content
    (header,) = hostile.payment_headers
    resource = decode_payment_header(header)["resource"]
    assert resource["url"] == hostile.url + "/v1/chat/completions"
    assert elsewhere.base not in header
    assert len(gw.payments) == 1
    # the `elsewhere` fixture checks that the other host received nothing


def test_a_challenge_replayed_at_the_paid_request_gets_no_second_signature(
    hostile: HostileGateway, gw: LocalGateway
) -> None:
    # The paid request is answered with the very challenge that asked for it, as if the
    # payment had never arrived: the client must not sign again for it.
    def replay(seen: Seen) -> Response | None:
        if seen.payment_header is None:
            return None
        headers = challenge_headers(hostile.challenges[-1])
        return Response(b"{}", status_code=402, headers=headers, media_type="application/json")

    hostile.intercept = replay
    with pytest.raises(PaymentRejectedError):
        chat("sync", hostile)
    assert len(hostile.payment_headers) == 1
    assert gw.payments == []


def test_an_underpaid_loop_signs_at_most_one_requote(
    hostile: HostileGateway, gw: LocalGateway
) -> None:
    # "Underpaid", over and over, with the same replayed challenge: one re-quote is allowed
    # (a 402 means nothing was charged), a third signature never.
    budget = Budget(1.0, name="underpaid")

    def underpaid(seen: Seen) -> Response | None:
        if seen.payment_header is None:
            return None
        body = b'{"error": {"code": "PAYMENT_UNDERPAID", "message": "Payment below quote"}}'
        headers = challenge_headers(hostile.challenges[-1])
        return Response(body, status_code=402, headers=headers, media_type="application/json")

    hostile.intercept = underpaid
    with pytest.raises(PaymentUnderpaidError):
        chat("sync", hostile, budget=budget)
    assert len(hostile.payment_headers) == 2
    assert_signed_within_policy(hostile, gw)
    assert gw.payments == []
    assert (budget.spent, budget.reserved) == (0.0, 0.0)


def test_a_replayed_old_challenge_never_reuses_a_signature(
    hostile: HostileGateway, gw: LocalGateway
) -> None:
    # A new session is served the challenge recorded in an earlier one: the client signs
    # it afresh (new nonce, new window), so nothing old can be replayed through it.
    assert chat("sync", hostile).content
    old = hostile.challenges[-1]

    def stale(seen: Seen) -> Response | None:
        if seen.payment_header is not None:
            return None
        headers = challenge_headers(old)
        return Response(b"{}", status_code=402, headers=headers, media_type="application/json")

    hostile.intercept = stale
    assert chat("sync", hostile).content
    first, second = hostile.payment_headers
    assert first != second
    assert len({p.nonce for p in gw.payments}) == 2
    assert_signed_within_policy(hostile, gw)
