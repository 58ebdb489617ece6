"""sign_payment: the signed authorization, the header it builds, and what it refuses."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
from blockrun_core.errors import PaymentRefusedError
from blockrun_core.signing import WalletSigner
from blockrun_core.x402 import (
    BASE,
    BASE_SEPOLIA,
    PAYMENT_HEADER_V1,
    PAYMENT_HEADER_V2,
    Network,
    PaymentChallenge,
    PaymentOffer,
    PaymentPolicy,
    SignedPayment,
    TransferAuthorization,
    domain_separator,
    encode_b64_json,
    parse_challenge,
    select_offer,
    sign_payment,
    transfer_digest,
)
from blockrun_core.x402 import payment as payment_module

from unit_tests.blockrun_core.x402_fixtures import (
    CHAT_URL,
    HARDHAT_ADDRESS,
    HARDHAT_KEY,
    NOW,
    OTHER_ADDRESS,
    PAY_TO,
    TESTNET_CHAT_URL,
    challenge_doc,
    decode_header,
    eth_account_recover,
    offer_doc,
    v1_offer_doc,
)

SIGNER = WalletSigner(HARDHAT_KEY)


def _challenge(doc: dict[str, Any]) -> PaymentChallenge:
    return parse_challenge({"PAYMENT-REQUIRED": encode_b64_json(doc)}, b"")


def _sign(
    doc: dict[str, Any] | None = None,
    *,
    network: Network = BASE,
    policy: PaymentPolicy | None = None,
    resource_url: str = CHAT_URL,
    **kwargs: Any,
) -> tuple[SignedPayment, dict[str, Any]]:
    challenge = _challenge(doc or challenge_doc(offer_doc(network)))
    policy = policy or PaymentPolicy(networks=(network.caip2,))
    offer, net = select_offer(challenge, policy, default_network=network)
    kwargs.setdefault("now", NOW)
    signed = sign_payment(
        SIGNER, offer, net, challenge=challenge, resource_url=resource_url, policy=policy, **kwargs
    )
    return signed, decode_header(signed.header_value)


class _SpySigner:
    address = HARDHAT_ADDRESS

    def __init__(self) -> None:
        self.calls = 0

    def sign_digest(self, digest: bytes) -> bytes:
        self.calls += 1
        return SIGNER.sign_digest(digest)


# --- conformance vectors ------------------------------------------------------------


def test_blockrun_wire_vector_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """blockrun-wire.md section 3.4, reproduced through sign_payment with a fixed nonce."""
    monkeypatch.setattr(
        payment_module, "secrets", SimpleNamespace(token_bytes=lambda n: b"\x11" * n)
    )
    signed, payload = _sign(challenge_doc(offer_doc(amount="25685")), now=1_700_000_000)

    auth = payload["payload"]["authorization"]
    assert auth == {
        "from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "to": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "value": "25685",
        "validAfter": "1699999400",
        "validBefore": "1700000300",
        "nonce": "0x" + "11" * 32,
    }
    assert payload["payload"]["signature"] == (
        "0xc95b517535a6ad11edd0472a40c9140434c0dff45822ee45029e2bb8bc6c0b87"
        "4183be5944f7f0a77d62c20d9be0b96c0dcc6c66d5c2c6af1226789f77f3598c1b"
    )
    assert signed.nonce == "0x" + "11" * 32
    assert signed.valid_before == 1_700_000_300


def test_blockrun_wire_vector_digest() -> None:
    auth = TransferAuthorization(
        from_=HARDHAT_ADDRESS,
        to=PAY_TO,
        value=25685,
        valid_after=1_699_999_400,
        valid_before=1_700_000_300,
        nonce=b"\x11" * 32,
    )
    assert domain_separator(BASE).hex() == (
        "02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f"
    )
    assert domain_separator(BASE_SEPOLIA).hex() == (
        "71f17a3b2ff373b803d70a5a07c046c1a2bc8e89c09ef722fcb047abe94c9818"
    )
    assert transfer_digest(BASE, auth).hex() == (
        "7fa88e82cf2ddab76127a66cedf7754d843011a4eeaa4880e52f9bd885fb9e03"
    )


def test_x402_reference_vector_on_base_sepolia() -> None:
    """x402.md section 2.1: key 0x11..11 on the Base Sepolia domain."""
    signer = WalletSigner("0x" + "11" * 32)
    assert signer.address == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"
    auth = TransferAuthorization(
        from_=signer.address,
        to="0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
        value=10000,
        valid_after=0,
        valid_before=1_900_000_000,
        nonce=b"\xab" * 32,
    )
    digest = transfer_digest(BASE_SEPOLIA, auth)
    assert digest.hex() == "05b92ff489e8e5e9e1d1f855628f5062a7bc971a40aac5b901b7338f8f529734"
    assert signer.sign_digest(digest).hex() == (
        "4447f0ea468ceb43335c61c42ddff853e442501c1f29b89dba5886804a9cc030"
        "54f3cf9fad15e47a338917ed9b4edc790c703c212a8cdf3f5f3e9affb44017b81b"
    )


# --- signatures recover to the signer (eth-account is the reference) ------------------


@pytest.mark.parametrize(("network", "url"), [(BASE, CHAT_URL), (BASE_SEPOLIA, TESTNET_CHAT_URL)])
def test_v2_signature_recovers_with_eth_account(network: Network, url: str) -> None:
    signed, payload = _sign(challenge_doc(offer_doc(network)), network=network, resource_url=url)

    assert signed.header_name == PAYMENT_HEADER_V2 == "PAYMENT-SIGNATURE"
    assert payload["x402Version"] == 2
    assert eth_account_recover(payload, network) == SIGNER.address
    assert payload["accepted"]["network"] == network.caip2
    assert signed.network == network.caip2


@pytest.mark.parametrize(("name", "network"), [("base", BASE), ("base-sepolia", BASE_SEPOLIA)])
def test_v1_signature_recovers_with_eth_account(name: str, network: Network) -> None:
    doc = {"x402Version": 1, "accepts": [v1_offer_doc(name)]}
    signed, payload = _sign(doc, network=network)

    assert signed.header_name == PAYMENT_HEADER_V1 == "X-PAYMENT"
    assert set(payload) == {"x402Version", "scheme", "network", "payload"}
    assert (payload["x402Version"], payload["scheme"], payload["network"]) == (1, "exact", name)
    assert payload["payload"]["authorization"]["value"] == "1000"
    assert eth_account_recover(payload, network) == SIGNER.address


def test_v1_caip2_offer_network_is_sent_as_its_v1_name() -> None:
    doc = {"x402Version": 1, "accepts": [v1_offer_doc("base", network="eip155:8453")]}
    _, payload = _sign(doc)
    assert payload["network"] == "base"


# --- the authorization ------------------------------------------------------------------


def test_nonce_is_fresh_every_call() -> None:
    signed = [_sign()[0] for _ in range(5)]
    assert len({s.nonce for s in signed}) == 5
    assert len({s.header_value for s in signed}) == 5
    for s in signed:
        assert len(bytes.fromhex(s.nonce[2:])) == 32


def test_time_window() -> None:
    signed, payload = _sign()
    auth = payload["payload"]["authorization"]
    assert auth["validAfter"] == str(NOW - 600)
    assert auth["validBefore"] == str(NOW + 300)
    assert signed.valid_before == NOW + 300


@pytest.mark.parametrize(
    ("offer_timeout", "policy_validity", "expected"),
    [
        (86400, 300, 300),
        (86400, 600, 600),
        (60, 600, 60),
        (0, 600, 300),  # no timeout from the server: 300 s default
        (0, 120, 120),
        (2**31 - 1, 600, 600),
    ],
)
def test_valid_before_is_clamped(offer_timeout: int, policy_validity: int, expected: int) -> None:
    doc = challenge_doc(offer_doc(maxTimeoutSeconds=offer_timeout))
    policy = PaymentPolicy(max_validity_seconds=policy_validity)
    signed, payload = _sign(doc, policy=policy)
    assert signed.valid_before == NOW + expected
    assert int(payload["payload"]["authorization"]["validBefore"]) <= NOW + 600
    # The offer's own value is still echoed, as servers match it exactly.
    assert payload["accepted"]["maxTimeoutSeconds"] == offer_timeout


def test_now_defaults_to_the_clock() -> None:
    before = int(time.time())
    challenge = _challenge(challenge_doc())
    policy = PaymentPolicy()
    offer, network = select_offer(challenge, policy, default_network=BASE)
    signed = sign_payment(
        SIGNER, offer, network, challenge=challenge, resource_url=CHAT_URL, policy=policy
    )
    assert before + 300 <= signed.valid_before <= int(time.time()) + 300


def test_domain_comes_from_our_table_even_when_the_offer_lies() -> None:
    lying = offer_doc(extra={"name": "Totally USDC", "version": "9", "chainId": 1})
    _, payload = _sign(challenge_doc(lying))

    assert payload["accepted"]["extra"]["name"] == "USD Coin"
    assert payload["accepted"]["extra"]["version"] == "2"
    assert eth_account_recover(payload, BASE) == SIGNER.address
    fake = Network(
        caip2=BASE.caip2,
        chain_id=BASE.chain_id,
        usdc=BASE.usdc,
        eip712_name="Totally USDC",
        eip712_version="9",
    )
    assert eth_account_recover(payload, fake) != SIGNER.address


def test_accepted_echoes_the_offer_verbatim() -> None:
    offer = offer_doc(
        asset=BASE.usdc.lower(),
        payTo=PAY_TO.lower(),
        maxTimeoutSeconds=120,
        extra={"name": "USD Coin", "version": "2", "note": "kept"},
    )
    signed, payload = _sign(challenge_doc(offer))

    assert payload["accepted"] == {
        "scheme": "exact",
        "network": "eip155:8453",
        "amount": "25685",
        "asset": BASE.usdc.lower(),
        "payTo": PAY_TO.lower(),
        "maxTimeoutSeconds": 120,
        "extra": {"name": "USD Coin", "version": "2", "note": "kept"},
    }
    assert payload["payload"]["authorization"]["to"] == PAY_TO  # checksummed
    assert signed.pay_to == PAY_TO
    assert signed.payer == HARDHAT_ADDRESS


def test_header_is_standard_padded_base64() -> None:
    signed, _ = _sign()
    assert len(signed.header_value) % 4 == 0
    assert "-" not in signed.header_value
    assert "_" not in signed.header_value


# --- extensions and resource ------------------------------------------------------------


def test_builder_code_is_added_to_server_extensions() -> None:
    _, payload = _sign()
    assert payload["extensions"] == {
        "bazaar": {"info": {"x": 1}},
        "builder-code": {"info": {"s": ["blockrun"]}},
    }


def test_builder_code_keeps_the_server_app_code() -> None:
    doc = challenge_doc(
        extensions={"builder-code": {"info": {"a": ["app"], "s": ["other"]}, "schema": {"v": 1}}}
    )
    _, payload = _sign(doc)
    assert payload["extensions"] == {
        "builder-code": {"info": {"a": ["app"], "s": ["blockrun"]}, "schema": {"v": 1}}
    }


def test_resource_from_the_challenge_when_same_origin() -> None:
    _, payload = _sign()
    assert payload["resource"] == {
        "url": CHAT_URL,
        "description": "GPT-5.5 API call (~17 input, 8192 max output tokens)",
        "mimeType": "application/json",
    }


@pytest.mark.parametrize(
    ("server_url", "kept"),
    [
        ("https://evil.example/steal", False),
        ("http://blockrun.ai/api/v1/chat/completions", False),  # other scheme
        ("https://blockrun.ai:8443/api/v1/chat/completions", False),  # other port
        ("https://blockrun.ai.evil.example/api", False),
        ("https://user@evil.example/api", False),
        ("not a url", False),
        ("https://BLOCKRUN.ai:443/api/v1/other", True),
    ],
)
def test_resource_url_from_a_foreign_origin_is_substituted(server_url: str, kept: bool) -> None:
    doc = challenge_doc(resource={"url": server_url, "description": "d", "mimeType": "m"})
    _, payload = _sign(doc)
    expected = server_url if kept else CHAT_URL
    assert payload["resource"] == {"url": expected, "description": "d", "mimeType": "m"}


def test_missing_resource_uses_the_request_url() -> None:
    doc = challenge_doc()
    del doc["resource"]
    _, payload = _sign(doc)
    assert payload["resource"] == {"url": CHAT_URL}


# --- amounts and refusals ---------------------------------------------------------------


def test_amount_override_signs_the_local_quote() -> None:
    signed, payload = _sign(amount_micros=30_000)
    assert signed.amount_micros == 30_000
    assert payload["payload"]["authorization"]["value"] == "30000"
    assert payload["accepted"]["amount"] == "30000"
    assert eth_account_recover(payload, BASE) == SIGNER.address


def test_amount_override_over_cap_is_refused() -> None:
    with pytest.raises(PaymentRefusedError) as info:
        _sign(policy=PaymentPolicy(max_per_call_usd=0.05), amount_micros=50_001)
    assert info.value.reason == "over_cap"
    assert "$0.050001" in info.value.message


@pytest.mark.parametrize("amount", [0, -1, True, 1.5])
def test_amount_override_must_be_positive_integer(amount: Any) -> None:
    with pytest.raises(PaymentRefusedError) as info:
        _sign(amount_micros=amount)
    assert info.value.reason == "invalid_amount"


def _offer(**overrides: Any) -> PaymentOffer:
    challenge = _challenge(challenge_doc(offer_doc(**overrides)))
    return challenge.offers[0]


@pytest.mark.parametrize(
    ("offer", "network", "policy", "reason"),
    [
        (_offer(asset=OTHER_ADDRESS), BASE, PaymentPolicy(), "asset_not_allowed"),
        (_offer(asset=BASE_SEPOLIA.usdc), BASE, PaymentPolicy(), "asset_not_allowed"),
        (_offer(), BASE_SEPOLIA, PaymentPolicy(), "network_not_allowed"),
        (_offer(), BASE, PaymentPolicy(networks=("base-sepolia",)), "network_not_allowed"),
        (_offer(scheme="upto"), BASE, PaymentPolicy(), "unsupported_scheme"),
        (_offer(payTo=OTHER_ADDRESS), BASE, PaymentPolicy(pay_to=(PAY_TO,)), "pay_to_not_allowed"),
        (_offer(amount="1000001"), BASE, PaymentPolicy(), "over_cap"),
    ],
)
def test_sign_payment_rechecks_and_signs_nothing(
    offer: PaymentOffer, network: Network, policy: PaymentPolicy, reason: str
) -> None:
    spy = _SpySigner()
    with pytest.raises(PaymentRefusedError) as info:
        sign_payment(
            cast(WalletSigner, spy),
            offer,
            network,
            challenge=_challenge(challenge_doc()),
            resource_url=CHAT_URL,
            policy=policy,
            now=NOW,
        )
    assert info.value.reason == reason
    assert spy.calls == 0


def test_unknown_challenge_version_is_refused() -> None:
    challenge = _challenge(challenge_doc())
    odd = PaymentChallenge(x402_version=7, offers=challenge.offers)
    with pytest.raises(PaymentRefusedError) as info:
        sign_payment(
            SIGNER,
            challenge.offers[0],
            BASE,
            challenge=odd,
            resource_url=CHAT_URL,
            policy=PaymentPolicy(),
        )
    assert info.value.reason == "malformed_challenge"


# --- SignedPayment ----------------------------------------------------------------------


def test_signed_payment_repr_hides_the_signature() -> None:
    signed, payload = _sign()
    signature = payload["payload"]["signature"]
    for text in (repr(signed), str(signed), f"{signed}"):
        assert signed.header_value not in text
        assert signature[2:] not in text
        assert "header_value" not in text
    assert signed.nonce in repr(signed)


def test_signed_payment_fields_match_the_header() -> None:
    signed, payload = _sign()
    auth = payload["payload"]["authorization"]
    assert signed.headers == {"PAYMENT-SIGNATURE": signed.header_value}
    assert signed.nonce == auth["nonce"]
    assert signed.valid_before == int(auth["validBefore"])
    assert signed.amount_micros == int(auth["value"]) == 25685
    assert signed.amount_usd == "$0.025685"
    with pytest.raises(AttributeError):
        signed.amount_micros = 1  # type: ignore[misc]
