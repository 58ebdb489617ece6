"""Property tests of the x402 layer: what a challenge says is what we read, what we sign is
what a gateway decodes, and no offer the policy forbids is ever selected.

Complements ``test_x402_challenge.py`` (garbage never raises outside the tree) and
``test_x402_receipt.py`` (receipt garbage never raises) with round-trip properties.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from blockrun_core.errors import PaymentRefusedError
from blockrun_core.signing import WalletSigner
from blockrun_core.x402 import (
    BASE,
    NETWORKS,
    PaymentPolicy,
    PaymentReceipt,
    decode_payment_header,
    find_network,
    match_receipt,
    parse_challenge,
    parse_payment_payload,
    select_offer,
    sign_payment,
    verify_payment_signature,
)
from blockrun_core.x402.payment import DEFAULT_TIMEOUT_SECONDS
from hypothesis import event, given, settings
from hypothesis import strategies as st

from unit_tests.conftest import HARDHAT_ADDRESS, HARDHAT_KEY

SIGNER = WalletSigner(HARDHAT_KEY)
CHAT_URL = "https://blockrun.ai/api/v1/chat/completions"
REFUSALS = {
    "no_offers",
    "unsupported_scheme",
    "network_not_allowed",
    "asset_not_allowed",
    "pay_to_not_allowed",
    "pay_to_changed",
    "over_budget",
    "over_cap",
}

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: "0x" + raw.hex())
networks = st.sampled_from(sorted(NETWORKS.values(), key=lambda n: n.caip2))
amounts = st.integers(min_value=1, max_value=10**12)


@st.composite
def offers(draw: st.DrawFn, *, usable: bool = True) -> dict[str, Any]:
    """An ``accepts`` entry; ``usable=False`` also draws unknown networks and other tokens."""
    network = draw(networks)
    name = draw(st.sampled_from([network.caip2, *network.legacy_names]))
    asset = network.usdc if draw(st.booleans()) else network.usdc.lower()
    if not usable and draw(st.integers(0, 3)) == 0:  # one offer in four breaks a rule
        name = draw(st.sampled_from([name, "eip155:1", "solana:mainnet", "base"]))
        asset = draw(st.sampled_from([asset, "0x4200000000000000000000000000000000000006"]))
    amount = draw(amounts)
    offer: dict[str, Any] = {
        "scheme": "exact" if usable else draw(st.sampled_from(["exact"] * 5 + ["upto"])),
        "network": name,
        "amount": draw(st.sampled_from([str(amount), amount])),
        "asset": asset,
        "payTo": draw(addresses),
        "extra": {"name": network.eip712_name, "version": network.eip712_version},
    }
    timeout = draw(st.none() | st.integers(min_value=1, max_value=10 * 86_400))
    if timeout is not None:
        offer["maxTimeoutSeconds"] = timeout
    return offer


def _b64(document: Any, *, urlsafe: bool, padded: bool) -> str:
    raw = json.dumps(document).encode()
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if padded else text.rstrip("=")


@settings(max_examples=100, deadline=None)
@given(
    accepts=st.lists(offers(), min_size=1, max_size=4),
    where=st.sampled_from(["PAYMENT-REQUIRED", "X-Payment-Required", "WWW-Authenticate", "body"]),
    urlsafe=st.booleans(),
    padded=st.booleans(),
    description=st.text(max_size=40),
)
def test_a_valid_challenge_reads_back_exactly(
    accepts: list[dict[str, Any]], where: str, urlsafe: bool, padded: bool, description: str
) -> None:
    document = {
        "x402Version": 2,
        "accepts": accepts,
        "resource": {"url": CHAT_URL, "description": description},
    }
    encoded = _b64(document, urlsafe=urlsafe, padded=padded)
    if where == "body":
        challenge = parse_challenge({}, json.dumps(document).encode())
    elif where == "WWW-Authenticate":
        challenge = parse_challenge({where: f'Basic realm="x", X402 requirements="{encoded}"'}, b"")
    else:
        challenge = parse_challenge({where: encoded}, b"")
    assert challenge.x402_version == 2
    assert challenge.resource == document["resource"]
    assert len(challenge.offers) == len(accepts)
    for offer, raw in zip(challenge.offers, accepts, strict=True):
        assert (offer.network, offer.asset, offer.pay_to) == (
            raw["network"],
            raw["asset"],
            raw["payTo"],
        )
        assert offer.amount == int(raw["amount"])
        assert offer.max_timeout_seconds == raw.get("maxTimeoutSeconds", 0)


@settings(max_examples=120, deadline=None)
@given(
    offer=offers(),
    version=st.sampled_from([1, 2]),
    validity=st.integers(min_value=1, max_value=600),
    now=st.integers(min_value=1_700_000_000, max_value=2_100_000_000),
)
def test_what_we_sign_is_what_a_gateway_decodes(
    offer: dict[str, Any], version: int, validity: int, now: int
) -> None:
    challenge = parse_challenge({}, json.dumps({"x402Version": version, "accepts": [offer]}))
    policy = PaymentPolicy(
        max_per_call_usd=10**6, networks=tuple(NETWORKS), max_validity_seconds=validity
    )
    chosen, network = select_offer(challenge, policy, default_network=BASE)
    signed = sign_payment(
        SIGNER, chosen, network, challenge=challenge, resource_url=CHAT_URL, policy=policy, now=now
    )

    document = decode_payment_header(signed.header_value)
    parsed = parse_payment_payload(document)
    auth = parsed.authorization
    assert verify_payment_signature(document) == HARDHAT_ADDRESS
    assert parsed.x402_version == version
    assert parsed.network == network == find_network(offer["network"])
    assert (auth.from_, auth.to.lower(), auth.value) == (
        HARDHAT_ADDRESS,
        offer["payTo"].lower(),
        int(offer["amount"]),
    )
    assert "0x" + auth.nonce.hex() == signed.nonce
    lifetime = min(offer.get("maxTimeoutSeconds") or DEFAULT_TIMEOUT_SECONDS, validity)
    assert auth.valid_before == now + lifetime == signed.valid_before
    assert auth.valid_after <= now
    if version == 2:
        assert parsed.resource == {"url": CHAT_URL}
        assert parsed.accepted is not None and parsed.accepted["amount"] == str(auth.value)


@settings(max_examples=150, deadline=None)
@given(
    accepts=st.lists(offers(usable=False), max_size=5),
    cap=st.integers(min_value=1, max_value=10**12),
    budget=st.none() | st.integers(min_value=0, max_value=10**12),
    listed=st.none() | st.lists(addresses, min_size=1, max_size=2),
    paid_to=st.none() | addresses,
    both_networks=st.booleans(),
)
def test_no_offer_the_policy_forbids_is_ever_selected(
    accepts: list[dict[str, Any]],
    cap: int,
    budget: int | None,
    listed: list[str] | None,
    paid_to: str | None,
    both_networks: bool,
) -> None:
    if listed is not None and accepts and paid_to is None:
        listed.append(accepts[0]["payTo"])  # let some draws pass the recipient check
    policy = PaymentPolicy(
        max_per_call_usd=cap / 1e6,
        networks=tuple(NETWORKS) if both_networks else None,
        pay_to=tuple(listed) if listed else None,
    )
    challenge = parse_challenge({}, json.dumps({"x402Version": 2, "accepts": accepts}))
    try:
        offer, network = select_offer(
            challenge, policy, default_network=BASE, max_amount_micros=budget, paid_to=paid_to
        )
    except PaymentRefusedError as refusal:
        reason, message = refusal.reason, refusal.message
        event(f"refused: {reason}")
        assert reason in REFUSALS
        assert "Nothing was signed" in message
        return
    event("selected")
    # Checked independently of the policy code:
    assert offer.scheme == "exact"
    assert network is find_network(offer.network)
    assert network is BASE or both_networks
    assert offer.asset.lower() == network.usdc.lower()
    assert offer.amount <= policy.max_per_call_micros
    assert budget is None or offer.amount <= budget
    if listed:
        assert offer.pay_to.lower() in {a.lower() for a in listed}
    elif paid_to is not None:
        assert offer.pay_to.lower() == paid_to.lower()


@settings(max_examples=200, deadline=None)
@given(
    payer=st.none() | st.sampled_from([HARDHAT_ADDRESS, HARDHAT_ADDRESS.lower()]) | addresses,
    amount=st.none() | st.sampled_from([25_000]) | amounts,
    network=st.none() | st.sampled_from(["eip155:8453", "base", "eip155:84532", "solana"]),
)
def test_a_receipt_is_flagged_exactly_when_it_describes_another_payment(
    payer: str | None, amount: int | None, network: str | None
) -> None:
    receipt = PaymentReceipt(
        success=True, transaction="0xabc", payer=payer, amount_micros=amount, network=network
    )
    checked = match_receipt(receipt, payer=HARDHAT_ADDRESS, amount_micros=25_000, network="base")
    wrong = {
        "payer": payer is not None and payer.lower() != HARDHAT_ADDRESS.lower(),
        "micro-USDC": amount is not None and amount != 25_000,
        "network": network is not None and find_network(network) is not BASE,
    }
    if not any(wrong.values()):
        assert checked is receipt
        return
    assert checked.mismatch is not None
    for named, is_wrong in wrong.items():
        assert (named in checked.mismatch) == is_wrong
    assert checked.transaction == receipt.transaction  # reported, not hidden
