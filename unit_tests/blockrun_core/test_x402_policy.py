"""PaymentPolicy validation, network_for_url and select_offer's refusals."""

from __future__ import annotations

import math
from typing import Any

import pytest
from blockrun_core.errors import ConfigurationError, PaymentRefusedError
from blockrun_core.x402 import (
    BASE,
    BASE_SEPOLIA,
    PaymentChallenge,
    PaymentPolicy,
    encode_b64_json,
    network_for_url,
    parse_challenge,
    select_offer,
)

from unit_tests.blockrun_core.x402_fixtures import (
    OTHER_ADDRESS,
    PAY_TO,
    challenge_doc,
    offer_doc,
    v1_offer_doc,
)


def _challenge(*offers: dict[str, Any]) -> PaymentChallenge:
    return parse_challenge({"PAYMENT-REQUIRED": encode_b64_json(challenge_doc(*offers))}, b"")


def _refusal(challenge: PaymentChallenge, policy: PaymentPolicy, **kwargs: Any) -> Any:
    kwargs.setdefault("default_network", BASE)
    with pytest.raises(PaymentRefusedError) as info:
        select_offer(challenge, policy, **kwargs)
    assert "Nothing was signed" in info.value.message
    return info.value


# --- PaymentPolicy --------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = PaymentPolicy()
    assert policy.max_per_call_usd == 1.0
    assert policy.max_per_call_micros == 1_000_000
    assert policy.networks is None
    assert policy.pay_to is None
    assert policy.max_validity_seconds == 300


@pytest.mark.parametrize(
    ("usd", "micros"),
    [(0.1, 100_000), (0.000001, 1), (0.0000019, 1), (2.5, 2_500_000), (1, 1_000_000)],
)
def test_cap_in_micros_is_exact_and_rounds_down(usd: float, micros: int) -> None:
    assert PaymentPolicy(max_per_call_usd=usd).max_per_call_micros == micros


@pytest.mark.parametrize("cap", [0, -1, 0.0000001, math.inf, -math.inf, math.nan, True, "1"])
def test_bad_caps_are_configuration_errors(cap: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_per_call_usd"):
        PaymentPolicy(max_per_call_usd=cap)


@pytest.mark.parametrize("seconds", [0, -5, 601, 86400, 1.5, True, "300"])
def test_bad_validity_is_a_configuration_error(seconds: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_validity_seconds"):
        PaymentPolicy(max_validity_seconds=seconds)


@pytest.mark.parametrize("seconds", [1, 600])
def test_validity_bounds_are_inclusive(seconds: int) -> None:
    assert PaymentPolicy(max_validity_seconds=seconds).max_validity_seconds == seconds


def test_networks_normalise_to_caip2() -> None:
    policy = PaymentPolicy(networks=("base", "eip155:84532", "BASE-SEPOLIA", "eip155:8453"))
    assert policy.networks == ("eip155:8453", "eip155:84532")


def test_single_network_string_is_accepted() -> None:
    assert PaymentPolicy(networks="base-sepolia").networks == ("eip155:84532",)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "networks", [("eip155:1",), ("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",), (), (8453,), 5]
)
def test_bad_networks_are_configuration_errors(networks: Any) -> None:
    with pytest.raises(ConfigurationError, match="networks"):
        PaymentPolicy(networks=networks)


def test_pay_to_is_validated_and_checksummed() -> None:
    policy = PaymentPolicy(pay_to=(PAY_TO.lower(), PAY_TO))
    assert policy.pay_to == (PAY_TO,)


@pytest.mark.parametrize("pay_to", [("0x1234",), ("70997970C51812dc3A010C7d01b50e0d17dc79C8",), ()])
def test_bad_pay_to_is_a_configuration_error(pay_to: Any) -> None:
    with pytest.raises(ConfigurationError, match="pay_to"):
        PaymentPolicy(pay_to=pay_to)


def test_policy_is_frozen() -> None:
    policy = PaymentPolicy()
    with pytest.raises(AttributeError):
        policy.max_per_call_usd = 100.0  # type: ignore[misc]


# --- network_for_url -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "network"),
    [
        ("https://blockrun.ai/api", BASE),
        ("https://testnet.blockrun.ai/api", BASE_SEPOLIA),
        ("https://TESTNET.blockrun.ai/api/v1/chat/completions", BASE_SEPOLIA),
        ("http://127.0.0.1:8402/api", BASE),
        ("https://blockrun.ai/testnet/api", BASE),  # the host decides, not the path
        ("not a url", BASE),
        ("http://[::1", BASE),
    ],
)
def test_network_for_url(url: str, network: Any) -> None:
    assert network_for_url(url) is network


# --- select_offer -----------------------------------------------------------------------


def test_selects_the_first_qualifying_offer() -> None:
    challenge = _challenge(offer_doc(amount="100"), offer_doc(amount="200"))
    offer, network = select_offer(challenge, PaymentPolicy(), default_network=BASE)
    assert offer.amount == 100
    assert network is BASE


def test_skips_upto_and_unknown_schemes() -> None:
    challenge = _challenge(
        offer_doc(scheme="upto", amount="5"),
        offer_doc(scheme="bogus", amount="6"),
        offer_doc(amount="7"),
    )
    offer, _ = select_offer(challenge, PaymentPolicy(), default_network=BASE)
    assert offer.amount == 7


def test_networks_none_means_the_url_network() -> None:
    challenge = _challenge(offer_doc(BASE, amount="1"), offer_doc(BASE_SEPOLIA, amount="2"))
    offer, network = select_offer(challenge, PaymentPolicy(), default_network=BASE_SEPOLIA)
    assert (offer.amount, network) == (2, BASE_SEPOLIA)


def test_policy_networks_override_the_url_network() -> None:
    challenge = _challenge(offer_doc(BASE, amount="1"), offer_doc(BASE_SEPOLIA, amount="2"))
    policy = PaymentPolicy(networks=("base-sepolia",))
    offer, network = select_offer(challenge, policy, default_network=BASE)
    assert (offer.amount, network) == (2, BASE_SEPOLIA)


def test_v1_network_names_are_understood() -> None:
    body = {"x402Version": 1, "accepts": [v1_offer_doc("base-sepolia")]}
    challenge = parse_challenge({"X-Payment-Required": encode_b64_json(body)}, b"")
    offer, network = select_offer(challenge, PaymentPolicy(), default_network=BASE_SEPOLIA)
    assert (offer.network, network) == ("base-sepolia", BASE_SEPOLIA)


def test_asset_compare_is_case_insensitive() -> None:
    challenge = _challenge(offer_doc(asset=BASE.usdc.lower()))
    offer, _ = select_offer(challenge, PaymentPolicy(), default_network=BASE)
    assert offer.asset == BASE.usdc.lower()


def test_amount_equal_to_cap_and_budget_is_allowed() -> None:
    challenge = _challenge(offer_doc(amount="500000"))
    offer, _ = select_offer(
        challenge,
        PaymentPolicy(max_per_call_usd=0.5),
        default_network=BASE,
        max_amount_micros=500_000,
    )
    assert offer.amount == 500_000


def test_over_cap() -> None:
    refusal = _refusal(_challenge(offer_doc(amount="2500000")), PaymentPolicy())
    assert refusal.reason == "over_cap"
    assert "$2.500000" in refusal.message
    assert "$1.000000" in refusal.message


def test_over_budget() -> None:
    refusal = _refusal(
        _challenge(offer_doc(amount="25685")), PaymentPolicy(), max_amount_micros=20_000
    )
    assert refusal.reason == "over_budget"
    assert "$0.025685" in refusal.message
    assert "$0.020000" in refusal.message


def test_negative_budget_is_over_budget() -> None:
    refusal = _refusal(_challenge(offer_doc()), PaymentPolicy(), max_amount_micros=-3)
    assert refusal.reason == "over_budget"


def test_network_not_allowed() -> None:
    refusal = _refusal(_challenge(offer_doc(network="eip155:1")), PaymentPolicy())
    assert refusal.reason == "network_not_allowed"
    assert "eip155:1" in refusal.message
    assert "$0.025685" in refusal.message


def test_testnet_offer_refused_for_a_mainnet_url() -> None:
    refusal = _refusal(_challenge(offer_doc(BASE_SEPOLIA)), PaymentPolicy())
    assert refusal.reason == "network_not_allowed"


def test_asset_not_allowed() -> None:
    refusal = _refusal(_challenge(offer_doc(asset=OTHER_ADDRESS)), PaymentPolicy())
    assert refusal.reason == "asset_not_allowed"
    assert OTHER_ADDRESS in refusal.message


def test_sepolia_usdc_on_mainnet_is_asset_not_allowed() -> None:
    refusal = _refusal(_challenge(offer_doc(BASE, asset=BASE_SEPOLIA.usdc)), PaymentPolicy())
    assert refusal.reason == "asset_not_allowed"


def test_pay_to_not_allowed() -> None:
    refusal = _refusal(_challenge(offer_doc(payTo=OTHER_ADDRESS)), PaymentPolicy(pay_to=(PAY_TO,)))
    assert refusal.reason == "pay_to_not_allowed"
    assert OTHER_ADDRESS in refusal.message


def test_pay_to_allow_list_is_case_insensitive() -> None:
    challenge = _challenge(offer_doc(payTo=PAY_TO.lower()))
    offer, _ = select_offer(challenge, PaymentPolicy(pay_to=(PAY_TO,)), default_network=BASE)
    assert offer.pay_to == PAY_TO.lower()


def test_malformed_pay_to_is_refused() -> None:
    refusal = _refusal(_challenge(offer_doc(payTo="0xnot-an-address")), PaymentPolicy())
    assert refusal.reason == "pay_to_not_allowed"


def test_unsupported_scheme() -> None:
    refusal = _refusal(_challenge(offer_doc(scheme="upto")), PaymentPolicy())
    assert refusal.reason == "unsupported_scheme"
    assert "upto" in refusal.message


@pytest.mark.parametrize(
    "extra",
    [
        {"name": "USD Coin", "version": "2", "assetTransferMethod": "permit2"},
        {"name": "USD Coin", "version": "2", "paymentFlow": "escrow"},
    ],
)
def test_non_eip3009_exact_offers_are_unsupported(extra: dict[str, str]) -> None:
    refusal = _refusal(_challenge(offer_doc(extra=extra)), PaymentPolicy())
    assert refusal.reason == "unsupported_scheme"


def test_explicit_eip3009_method_is_fine() -> None:
    extra = {"name": "USD Coin", "version": "2", "assetTransferMethod": "eip3009"}
    offer, _ = select_offer(
        _challenge(offer_doc(extra=extra)), PaymentPolicy(), default_network=BASE
    )
    assert offer.extra["assetTransferMethod"] == "eip3009"


def test_no_offers() -> None:
    challenge = parse_challenge(
        {"PAYMENT-REQUIRED": encode_b64_json(challenge_doc(accepts=[]))}, b""
    )
    assert _refusal(challenge, PaymentPolicy()).reason == "no_offers"


@pytest.mark.parametrize(
    ("offers", "reason"),
    [
        # The offer that got furthest through the checks explains the refusal.
        ([offer_doc(scheme="upto"), offer_doc(network="eip155:1")], "network_not_allowed"),
        ([offer_doc(network="eip155:1"), offer_doc(asset=OTHER_ADDRESS)], "asset_not_allowed"),
        ([offer_doc(asset=OTHER_ADDRESS), offer_doc(payTo=OTHER_ADDRESS)], "pay_to_not_allowed"),
        ([offer_doc(payTo=OTHER_ADDRESS), offer_doc(amount="30000")], "over_budget"),
        ([offer_doc(amount="30000"), offer_doc(amount="5000000")], "over_cap"),
        ([offer_doc(amount="5000000"), offer_doc(scheme="upto")], "over_cap"),
    ],
)
def test_most_specific_reason_wins(offers: list[dict[str, Any]], reason: str) -> None:
    refusal = _refusal(
        _challenge(*offers),
        PaymentPolicy(pay_to=(PAY_TO,)),
        max_amount_micros=20_000,
    )
    assert refusal.reason == reason
