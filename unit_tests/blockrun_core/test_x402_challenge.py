"""parse_challenge: every location, the lookup order, and hostile input."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from blockrun_core.errors import PaymentRefusedError
from blockrun_core.x402 import (
    BASE_SEPOLIA,
    PaymentChallenge,
    PaymentOffer,
    decode_b64_json,
    encode_b64_json,
    parse_challenge,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unit_tests.blockrun_core.x402_fixtures import (
    BASE_USDC,
    CHAT_URL,
    PAY_TO,
    b64,
    challenge_doc,
    offer_doc,
    v1_offer_doc,
)


def _amounts(challenge: PaymentChallenge) -> list[int]:
    return [offer.amount for offer in challenge.offers]


def test_payment_required_header_is_parsed_into_typed_offers() -> None:
    challenge = parse_challenge({"PAYMENT-REQUIRED": b64(challenge_doc())}, b"{}")

    assert challenge.x402_version == 2
    assert challenge.error == "Payment required"
    assert challenge.resource is not None
    assert challenge.resource["url"] == CHAT_URL
    assert challenge.extensions == {"bazaar": {"info": {"x": 1}}}
    (offer,) = challenge.offers
    assert offer == PaymentOffer(
        scheme="exact",
        network="eip155:8453",
        amount=25685,
        asset=BASE_USDC,
        pay_to=PAY_TO,
        max_timeout_seconds=300,
        extra={"name": "USD Coin", "version": "2"},
        raw=offer_doc(),
    )
    assert offer.raw == offer_doc()


@pytest.mark.parametrize(
    "name", ["PAYMENT-REQUIRED", "payment-required", "Payment-Required", "X-Payment-Required"]
)
def test_header_lookup_is_case_insensitive(name: str) -> None:
    challenge = parse_challenge({name: b64(challenge_doc())}, b"")
    assert _amounts(challenge) == [25685]


def test_httpx_headers_work() -> None:
    headers = httpx.Headers({"payment-required": b64(challenge_doc())})
    assert _amounts(parse_challenge(headers, b"")) == [25685]


def _doc_with_amount(amount: str) -> dict[str, Any]:
    return challenge_doc(offer_doc(amount=amount))


def test_order_payment_required_first() -> None:
    headers = {
        "WWW-Authenticate": f'X402 requirements="{b64(_doc_with_amount("3"))}"',
        "X-Payment-Required": b64(_doc_with_amount("2")),
        "PAYMENT-REQUIRED": b64(_doc_with_amount("1")),
    }
    body = json.dumps(_doc_with_amount("4")).encode()
    assert _amounts(parse_challenge(headers, body)) == [1]


def test_order_x_payment_required_second() -> None:
    headers = {
        "WWW-Authenticate": f'X402 requirements="{b64(_doc_with_amount("3"))}"',
        "X-Payment-Required": b64(_doc_with_amount("2")),
    }
    assert _amounts(parse_challenge(headers, json.dumps(_doc_with_amount("4")).encode())) == [2]


def test_order_www_authenticate_before_body() -> None:
    headers = {"WWW-Authenticate": f'X402 requirements="{b64(_doc_with_amount("3"))}"'}
    assert _amounts(parse_challenge(headers, json.dumps(_doc_with_amount("4")).encode())) == [3]


def test_order_body_last() -> None:
    assert _amounts(parse_challenge({}, json.dumps(_doc_with_amount("4")).encode())) == [4]


def test_garbage_header_falls_through_to_the_next_location() -> None:
    headers = {"PAYMENT-REQUIRED": "!!!not base64!!!", "X-Payment-Required": b64(challenge_doc())}
    assert _amounts(parse_challenge(headers, b"")) == [25685]


@pytest.mark.parametrize(
    "value",
    [
        'X402 requirements="{v}"',
        "X402 requirements={v}",
        'x402 realm="blockrun", requirements="{v}"',
        'Bearer realm="api", X402 requirements="{v}"',
        'Basic realm="x", X402 requirements={v}, Bearer error="invalid_token"',
        'X402  requirements = "{v}"',
    ],
)
def test_www_authenticate_forms(value: str) -> None:
    headers = {"www-authenticate": value.format(v=b64(challenge_doc()))}
    assert _amounts(parse_challenge(headers, b"")) == [25685]


def test_www_authenticate_of_another_scheme_only_is_ignored() -> None:
    headers = {"WWW-Authenticate": f'Bearer requirements="{b64(challenge_doc())}"'}
    with pytest.raises(PaymentRefusedError) as info:
        parse_challenge(headers, b"")
    assert info.value.reason == "malformed_challenge"


def test_v2_body_with_accepts() -> None:
    challenge = parse_challenge({}, json.dumps(challenge_doc()).encode())
    assert challenge.x402_version == 2
    assert _amounts(challenge) == [25685]


def test_v1_body_with_max_amount_required() -> None:
    body = json.dumps(
        {"x402Version": 1, "error": "X-PAYMENT header is required", "accepts": [v1_offer_doc()]}
    ).encode()
    challenge = parse_challenge({"Content-Type": "application/json"}, body)

    assert challenge.x402_version == 1
    (offer,) = challenge.offers
    assert offer.amount == 1000
    assert offer.network == "base"
    assert offer.max_timeout_seconds == 60
    assert challenge.resource == {
        "url": CHAT_URL,
        "description": "v1 call",
        "mimeType": "application/json",
    }


def test_v1_is_inferred_when_version_is_missing_and_offers_use_max_amount_required() -> None:
    body = json.dumps({"accepts": [v1_offer_doc("base-sepolia")]}).encode()
    challenge = parse_challenge({}, body)
    assert challenge.x402_version == 1
    assert challenge.offers[0].asset == BASE_SEPOLIA.usdc


def test_missing_version_with_amount_defaults_to_v2() -> None:
    doc = challenge_doc()
    del doc["x402Version"]
    assert parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"").x402_version == 2


def test_blockrun_informational_body_alone_is_not_a_challenge() -> None:
    body = json.dumps(
        {
            "error": "Payment Required",
            "price": {"amount": "0.025685", "currency": "USD"},
            "paymentInfo": {"network": "base", "asset": "USDC", "x402Version": 2},
        }
    ).encode()
    with pytest.raises(PaymentRefusedError, match="without x402 payment requirements") as info:
        parse_challenge({}, body)
    assert info.value.reason == "malformed_challenge"


@pytest.mark.parametrize(
    ("urlsafe", "padded"), [(False, True), (False, False), (True, True), (True, False)]
)
def test_base64_alphabets_and_padding(urlsafe: bool, padded: bool) -> None:
    # A description with characters whose base64 needs '+' / '/' in the standard alphabet.
    doc = challenge_doc(resource={"url": CHAT_URL, "description": "ÿÿÿ>>>???~~~"})
    challenge = parse_challenge({"PAYMENT-REQUIRED": b64(doc, urlsafe=urlsafe, padded=padded)}, b"")
    assert challenge.resource == {"url": CHAT_URL, "description": "ÿÿÿ>>>???~~~"}


def test_raw_json_header_is_tolerated() -> None:
    challenge = parse_challenge({"X-Payment-Required": json.dumps(challenge_doc())}, b"")
    assert _amounts(challenge) == [25685]


@pytest.mark.parametrize(
    "amount", ["abc", "-1", "1.5", "", " 10", "0x10", "0", 1.5, -3, True, None, [1], "9" * 100]
)
def test_offers_with_bad_amounts_are_dropped(amount: Any) -> None:
    doc = challenge_doc(offer_doc(), offer_doc(amount="777"))
    doc["accepts"][0]["amount"] = amount
    assert _amounts(parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"")) == [777]


def test_integer_json_amount_is_accepted() -> None:
    doc = challenge_doc(offer_doc(amount=5000))
    assert _amounts(parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"")) == [5000]


@pytest.mark.parametrize("field", ["network", "asset", "payTo", "amount"])
def test_offers_missing_required_fields_are_dropped(field: str) -> None:
    doc = challenge_doc(offer_doc(**{field: None}), offer_doc(amount="9"))
    assert _amounts(parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"")) == [9]


def test_bad_max_timeout_becomes_zero() -> None:
    doc = challenge_doc(offer_doc(maxTimeoutSeconds="soon"))
    assert parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"").offers[0].max_timeout_seconds == 0


def test_every_offer_malformed_is_a_clear_refusal() -> None:
    doc = challenge_doc(offer_doc(amount="-5"), offer_doc(amount="lots"))
    with pytest.raises(PaymentRefusedError, match="every offer is malformed") as info:
        parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"")
    assert info.value.reason == "malformed_challenge"
    assert "Nothing was signed" in info.value.message


def test_empty_accepts_is_a_challenge_with_no_offers() -> None:
    challenge = parse_challenge({"PAYMENT-REQUIRED": b64(challenge_doc(accepts=[]))}, b"")
    assert challenge.offers == ()


def test_unknown_version_is_refused() -> None:
    with pytest.raises(PaymentRefusedError, match="x402Version 3") as info:
        parse_challenge({"PAYMENT-REQUIRED": b64(challenge_doc(x402Version=3))}, b"")
    assert info.value.reason == "malformed_challenge"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b""),
        ({}, b"<html>402</html>"),
        ({}, b"[1, 2, 3]"),
        ({}, b'{"accepts": "everything"}'),
        ({"PAYMENT-REQUIRED": "%%%%"}, b""),
        ({"PAYMENT-REQUIRED": b64([1, 2])}, b""),
        ({"PAYMENT-REQUIRED": b64({"x402Version": 2})}, b""),
        ({"PAYMENT-REQUIRED": encode_b64_json("just a string")}, b""),
        ({"X-Payment-Required": "e30"}, b"\xff\xfe\x00garbage"),
    ],
)
def test_nothing_parseable_raises_malformed_challenge(headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(PaymentRefusedError) as info:
        parse_challenge(headers, body)
    assert info.value.reason == "malformed_challenge"
    assert "Nothing was signed" in info.value.message


def test_oversized_header_is_refused_not_decoded() -> None:
    huge = b64(challenge_doc(resource={"url": CHAT_URL, "description": "x" * 200_000}))
    with pytest.raises(PaymentRefusedError, match="too large"):
        parse_challenge({"PAYMENT-REQUIRED": huge}, b"")


def test_deeply_nested_json_is_refused() -> None:
    nested: Any = {}
    for _ in range(200):
        nested = {"a": nested}
    doc = challenge_doc(extensions=nested)
    with pytest.raises(PaymentRefusedError, match="nests too deeply"):
        parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"")


def test_pathological_nesting_in_body_does_not_blow_up() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(PaymentRefusedError):
        parse_challenge({}, body)
    with pytest.raises(PaymentRefusedError):
        parse_challenge({"PAYMENT-REQUIRED": encode_b64_json("x")[:4] + "W" * 60_000}, b"")


def test_oversized_body_is_not_parsed() -> None:
    body = json.dumps(challenge_doc(resource={"url": "x" * 300_000})).encode()
    with pytest.raises(PaymentRefusedError, match="too large"):
        parse_challenge({}, body)


def test_number_of_offers_is_bounded() -> None:
    doc = challenge_doc(*[offer_doc(amount=str(i + 1)) for i in range(100)])
    assert len(parse_challenge({"PAYMENT-REQUIRED": b64(doc)}, b"").offers) == 32


# --- property tests -------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
_offer_like = st.fixed_dictionaries(
    {},
    optional={
        "scheme": st.sampled_from(["exact", "upto", ""]) | _json,
        "network": st.sampled_from(["eip155:8453", "base", "solana:x"]) | _json,
        "amount": st.integers(-5, 10**80).map(str) | _json,
        "maxAmountRequired": st.integers(-5, 10**80).map(str) | _json,
        "asset": st.just(BASE_USDC) | _json,
        "payTo": st.just(PAY_TO) | _json,
        "maxTimeoutSeconds": _json,
        "extra": _json,
        "resource": _json,
    },
)
_challenge_like = st.fixed_dictionaries(
    {},
    optional={
        "x402Version": st.sampled_from([1, 2, 3, "2", None, True]),
        "accepts": st.lists(_offer_like | _json, max_size=4) | _json,
        "resource": _json,
        "extensions": _json,
        "error": _json,
    },
)
_header_value = st.one_of(
    st.text(max_size=200),
    _challenge_like.map(b64),
    _challenge_like.map(lambda d: b64(d, urlsafe=True, padded=False)),
    _challenge_like.map(lambda d: f'X402 requirements="{b64(d)}"'),
    _challenge_like.map(json.dumps),
)
_header_name = st.sampled_from(
    ["PAYMENT-REQUIRED", "x-payment-required", "WWW-Authenticate", "Content-Type"]
) | st.text(max_size=20)
_body = st.one_of(
    st.binary(max_size=300),
    _challenge_like.map(lambda d: json.dumps(d).encode()),
    _json.map(lambda d: json.dumps(d).encode()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=st.dictionaries(_header_name, _header_value, max_size=4), body=_body)
def test_parse_challenge_raises_nothing_but_payment_refused(
    headers: dict[str, str], body: bytes
) -> None:
    reason = None
    try:
        challenge = parse_challenge(headers, body)
    except PaymentRefusedError as exc:
        reason = exc.reason
    if reason is not None:
        assert reason == "malformed_challenge"
        return
    assert challenge.x402_version in (1, 2)
    for offer in challenge.offers:
        assert isinstance(offer.amount, int)
        assert 0 < offer.amount < 2**256
        assert isinstance(offer.network, str)
        assert isinstance(offer.pay_to, str)
        assert offer.max_timeout_seconds >= 0


@settings(max_examples=200, deadline=None)
@given(value=_json)
def test_b64_json_round_trip(value: Any) -> None:
    encoded = encode_b64_json(value)
    assert decode_b64_json(encoded) == value
    url_safe = encoded.replace("+", "-").replace("/", "_").rstrip("=")
    assert decode_b64_json(url_safe) == value
