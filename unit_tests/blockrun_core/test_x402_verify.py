"""The gateway side (decode_payment_header, verify_payment_signature) and interop with the
official ``x402`` package, through committed fixtures and, when importable, live."""

from __future__ import annotations

import copy
import importlib.util
import json
from typing import Any

import pytest
from blockrun_core.signing import WalletSigner
from blockrun_core.x402 import (
    BASE,
    BASE_SEPOLIA,
    PaymentPolicy,
    decode_payment_header,
    encode_b64_json,
    parse_challenge,
    parse_payment_payload,
    select_offer,
    sign_payment,
    verify_payment_signature,
)

from unit_tests.blockrun_core.x402_fixtures import (
    BASE_USDC,
    CHAT_URL,
    FIXTURES,
    HARDHAT_ADDRESS,
    HARDHAT_KEY,
    NOW,
    OTHER_ADDRESS,
    b64,
    challenge_doc,
    load_fixture,
    offer_doc,
)

SIGNER = WalletSigner(HARDHAT_KEY)
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _payload(network: Any = BASE) -> dict[str, Any]:
    challenge = parse_challenge(
        {"PAYMENT-REQUIRED": encode_b64_json(challenge_doc(offer_doc(network)))}, b""
    )
    policy = PaymentPolicy(networks=(network.caip2,))
    offer, net = select_offer(challenge, policy, default_network=network)
    signed = sign_payment(
        SIGNER, offer, net, challenge=challenge, resource_url=CHAT_URL, policy=policy, now=NOW
    )
    return decode_payment_header(signed.header_value)


# --- decode_payment_header ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("urlsafe", "padded"), [(False, True), (False, False), (True, True), (True, False)]
)
def test_decode_is_tolerant_of_base64_variants(urlsafe: bool, padded: bool) -> None:
    doc = {"x402Version": 2, "note": "ÿÿÿ>>>???"}
    assert decode_payment_header(b64(doc, urlsafe=urlsafe, padded=padded)) == doc


def test_decode_accepts_raw_json_and_whitespace() -> None:
    assert decode_payment_header('  {"x402Version": 1}  ') == {"x402Version": 1}
    assert decode_payment_header(" " + b64({"a": 1}) + "\n") == {"a": 1}


@pytest.mark.parametrize(
    "value", ["", "!!!", "e30=garbage", b64([1, 2]), b64("text"), "{not json", "A" * 70_000]
)
def test_decode_rejects_garbage(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError is the contract
        decode_payment_header(value)


def test_decode_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="string"):
        decode_payment_header(b"abc")  # type: ignore[arg-type]


# --- verify_payment_signature ---------------------------------------------------------------


@pytest.mark.parametrize("network", [BASE, BASE_SEPOLIA])
def test_our_payments_verify(network: Any) -> None:
    assert verify_payment_signature(_payload(network)) == HARDHAT_ADDRESS


def test_parse_payment_payload_exposes_the_authorization() -> None:
    parsed = parse_payment_payload(_payload())
    assert parsed.x402_version == 2
    assert parsed.network is BASE
    assert parsed.authorization.value == 25685
    assert parsed.authorization.valid_before == NOW + 300
    assert len(parsed.authorization.nonce) == 32
    assert parsed.accepted is not None
    assert parsed.accepted["asset"] == BASE_USDC
    assert "signature" not in repr(parsed)


def _mutated(path: tuple[str, ...], value: Any, network: Any = BASE) -> dict[str, Any]:
    payload = copy.deepcopy(_payload(network))
    target = payload
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return payload


_DELETE = object()
_AUTH = ("payload", "authorization")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("x402Version",), 3, "x402Version"),
        (("x402Version",), True, "x402Version"),
        (("x402Version",), _DELETE, "x402Version"),
        (("accepted",), _DELETE, "accepted"),
        (("accepted", "network"), "eip155:1", "network"),
        (("accepted", "scheme"), "upto", "scheme"),
        (("accepted", "asset"), OTHER_ADDRESS, "USDC"),
        (("accepted", "payTo"), OTHER_ADDRESS, "payTo"),
        (("accepted", "amount"), "1", "amount"),
        (("payload",), _DELETE, "payload"),
        (("payload", "authorization"), "x", "authorization"),
        ((*_AUTH, "value"), "1.5", "value"),
        ((*_AUTH, "value"), -1, "value"),
        ((*_AUTH, "validBefore"), None, "validBefore"),
        ((*_AUTH, "from"), "0x1234", "from"),
        ((*_AUTH, "to"), 5, "to"),
        ((*_AUTH, "nonce"), "0x1234", "nonce"),
        (("payload", "signature"), "0xdead", "signature"),
        (("payload", "signature"), None, "signature"),
    ],
)
def test_malformed_payloads_raise_value_error(
    path: tuple[str, ...], value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        verify_payment_signature(_mutated(path, value))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("value", "25686"),
        ("validBefore", str(NOW + 301)),
        ("validAfter", "0"),
        ("to", OTHER_ADDRESS),
        ("nonce", "0x" + "00" * 32),
        ("from", OTHER_ADDRESS),
    ],
)
def test_tampered_authorization_is_rejected(field: str, value: str) -> None:
    payload = _mutated((*_AUTH, field), value)
    if field == "value":
        payload["accepted"]["amount"] = value
    if field == "to":
        payload["accepted"]["payTo"] = value
    with pytest.raises(ValueError):  # noqa: PT011
        verify_payment_signature(payload)


def test_signature_for_another_network_is_rejected() -> None:
    payload = _payload(BASE)
    payload["accepted"]["network"] = BASE_SEPOLIA.caip2
    payload["accepted"]["asset"] = BASE_SEPOLIA.usdc
    with pytest.raises(ValueError, match=r"authorization\.from"):
        verify_payment_signature(payload)


def test_high_s_twin_is_rejected() -> None:
    payload = _payload()
    signature = bytes.fromhex(payload["payload"]["signature"][2:])
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (_SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    payload["payload"]["signature"] = "0x" + twin.hex()
    with pytest.raises(ValueError, match="high s"):
        verify_payment_signature(payload)


@pytest.mark.parametrize("v", [0, 1, 29])
def test_unusual_v_is_rejected(v: int) -> None:
    payload = _payload()
    signature = bytes.fromhex(payload["payload"]["signature"][2:])
    payload["payload"]["signature"] = "0x" + (signature[:64] + bytes([v])).hex()
    with pytest.raises(ValueError, match="v in"):
        verify_payment_signature(payload)


def test_unrecoverable_signature_is_a_value_error() -> None:
    payload = _payload()
    payload["payload"]["signature"] = "0x" + "00" * 64 + "1b"
    with pytest.raises(ValueError):  # noqa: PT011
        verify_payment_signature(payload)


def test_signature_without_0x_prefix_is_tolerated() -> None:
    payload = _payload()
    payload["payload"]["signature"] = payload["payload"]["signature"][2:]
    assert verify_payment_signature(payload) == HARDHAT_ADDRESS


# --- interop with the official x402 package ----------------------------------------------

_OFFICIAL = load_fixture("x402_official_payments.json")
_OURS = load_fixture("x402_our_payments.json")


def test_fixtures_cover_v1_and_v2_on_both_networks() -> None:
    for fixture in (_OFFICIAL, _OURS):
        assert fixture["key_address"] == HARDHAT_ADDRESS
        names = {case["name"] for case in fixture["cases"]}
        assert names == {"v2-base", "v2-base-sepolia", "v1-base", "v1-base-sepolia"}


@pytest.mark.parametrize("case", _OFFICIAL["cases"], ids=lambda c: c["name"])
def test_official_client_headers_verify(case: dict[str, Any]) -> None:
    payload = decode_payment_header(case["header_value"])
    assert verify_payment_signature(payload) == case["payer"] == HARDHAT_ADDRESS
    parsed = parse_payment_payload(payload)
    offer = case["offer"]
    amount = offer.get("amount", offer.get("maxAmountRequired"))
    assert parsed.authorization.value == int(amount)
    assert parsed.authorization.to.lower() == offer["payTo"].lower()


@pytest.mark.parametrize("case", _OFFICIAL["cases"], ids=lambda c: c["name"])
def test_tampered_official_headers_fail(case: dict[str, Any]) -> None:
    payload = decode_payment_header(case["header_value"])
    payload["payload"]["authorization"]["value"] = "1"
    if "accepted" in payload:
        payload["accepted"]["amount"] = "1"
    with pytest.raises(ValueError, match=r"authorization\.from"):
        verify_payment_signature(payload)


@pytest.mark.parametrize("case", _OFFICIAL["cases"], ids=lambda c: c["name"])
def test_we_parse_the_challenges_the_official_package_accepts(case: dict[str, Any]) -> None:
    challenge = parse_challenge({}, json.dumps(case["challenge"]).encode())
    assert challenge.x402_version == case["x402_version"]
    network = BASE if case["offer"]["network"] in ("base", "eip155:8453") else BASE_SEPOLIA
    offer, net = select_offer(challenge, PaymentPolicy(), default_network=network)
    assert net is network
    assert offer.raw == case["offer"]


@pytest.mark.parametrize("case", _OURS["cases"], ids=lambda c: c["name"])
def test_official_package_accepted_our_headers(case: dict[str, Any]) -> None:
    verdict = case["official_verdict"]
    assert verdict["eoa_signature_valid"] is True
    assert verdict["matches_offer"] is True
    assert verdict["payer"] == HARDHAT_ADDRESS
    if case["x402_version"] == 2:
        assert verdict["decoded_as"] == "PaymentPayload"
        assert verdict["strict_match"] is True
        assert verdict["facilitator_verify"]["is_valid"] is True
    else:
        assert verdict["decoded_as"] == "PaymentPayloadV1"
    # ...and the digest the official package computed is the one we signed.
    payload = decode_payment_header(case["header_value"])
    parsed = parse_payment_payload(payload)
    from blockrun_core.x402 import transfer_digest

    assert "0x" + transfer_digest(parsed.network, parsed.authorization).hex() == verdict["digest"]
    assert verify_payment_signature(payload) == HARDHAT_ADDRESS


def _official_checker() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_x402_fixtures", FIXTURES / "make_x402_fixtures.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_official_package_live() -> None:
    """Run the official checks on fresh headers; only where ``x402[evm]`` is installed."""
    pytest.importorskip("x402.mechanisms.evm", reason="the official x402[evm] is not installed")
    checker = _official_checker()
    for case in _OURS["cases"]:
        challenge = parse_challenge({}, json.dumps(case["challenge"]).encode())
        network = BASE if case["offer"]["network"] in ("base", "eip155:8453") else BASE_SEPOLIA
        policy = PaymentPolicy(networks=(network.caip2,))
        offer, net = select_offer(challenge, policy, default_network=network)
        url = challenge.resource["url"] if challenge.resource else CHAT_URL
        signed = sign_payment(
            SIGNER, offer, net, challenge=challenge, resource_url=url, policy=policy
        )
        verdict = checker.official_verdict(signed.header_value, case["offer"])
        assert verdict["eoa_signature_valid"] is True, case["name"]
        assert verdict["matches_offer"] is True, case["name"]
        if case["x402_version"] == 2:
            assert verdict["strict_match"] is True, case["name"]
            assert verdict["facilitator_verify"]["is_valid"] is True, verdict
