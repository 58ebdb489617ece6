"""LocalGateway's x402 rail over real loopback HTTP: challenges, verification, receipts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from blockrun_core.catalog import default_catalog, quote_micros
from blockrun_core.signing import WalletSigner
from blockrun_core.testing import LocalGateway, Payer, RecordedPayment
from blockrun_core.x402 import (
    BASE,
    BASE_SEPOLIA,
    PaymentPolicy,
    decode_b64_json,
    parse_challenge,
    select_offer,
    sign_payment,
)

PAID = "openai/gpt-5.5"
FREE = "nvidia/gpt-oss-120b"
OTHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # Hardhat #2
BODY: dict[str, Any] = {
    "model": PAID,
    "messages": [{"role": "user", "content": "Say hello to the gateway"}],
    "max_tokens": 2000,
}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def chat_url(gw: LocalGateway) -> str:
    return gw.url + "/v1/chat/completions"


def probe(client: httpx.Client, gw: LocalGateway, body: dict[str, Any] = BODY) -> dict[str, Any]:
    response = client.post(chat_url(gw), json=body)
    assert response.status_code == 402
    challenge = decode_b64_json(response.headers["PAYMENT-REQUIRED"])
    assert isinstance(challenge, dict)
    return challenge


def pay(
    client: httpx.Client, gw: LocalGateway, header: str, body: dict[str, Any] = BODY
) -> httpx.Response:
    return client.post(chat_url(gw), json=body, headers={"PAYMENT-SIGNATURE": header})


def test_free_model_answers_without_payment(gw: LocalGateway, client: httpx.Client) -> None:
    body = {"model": FREE, "messages": [{"role": "user", "content": "what is 2+2"}]}
    response = client.post(chat_url(gw), json=body)
    assert response.status_code == 200
    assert response.headers["X-Free-Model"] == "true"
    assert "PAYMENT-REQUIRED" not in response.headers
    assert response.json()["choices"][0]["message"]["content"] == "4"
    assert gw.payments == []


def test_probe_headers_agree_and_ask_the_catalog_quote(
    gw: LocalGateway, client: httpx.Client
) -> None:
    response = client.post(chat_url(gw), json=BODY)
    assert response.status_code == 402
    header = response.headers["PAYMENT-REQUIRED"]
    assert response.headers["X-Payment-Required"] == header
    assert response.headers["WWW-Authenticate"] == f'X402 requirements="{header}"'
    assert "no-store" in response.headers["Cache-Control"]
    challenge = decode_b64_json(header)
    expected = quote_micros(default_catalog().get(PAID), BODY)
    assert expected > 2000  # not just the floor: the amount really depends on the body
    assert challenge["x402Version"] == 2
    assert challenge["accepts"] == [
        {
            "scheme": "exact",
            "network": "eip155:8453",
            "amount": str(expected),
            "asset": BASE.usdc,
            "payTo": gw.pay_to,
            "maxTimeoutSeconds": 300,
            "extra": {"name": "USD Coin", "version": "2"},
        }
    ]
    assert challenge["resource"]["url"] == chat_url(gw)
    assert challenge["resource"]["mimeType"] == "application/json"
    assert challenge["resource"]["description"].startswith("GPT-5.5 API call (~")
    assert challenge["resource"]["description"].endswith(", 2000 max output tokens)")
    body = response.json()
    assert body["error"] == "Payment Required"
    assert body["price"] == {"amount": f"0.{expected:06d}", "currency": "USD"}
    assert body["paymentInfo"] == {"network": "base", "asset": "USDC", "x402Version": 2}
    assert gw.quote(BODY) == expected
    assert gw.payments == []
    assert gw.claimed_nonces == []


def test_signed_payment_is_served_and_recorded_once(gw: LocalGateway, client: httpx.Client) -> None:
    payer = Payer()
    challenge = probe(client, gw)
    response = pay(client, gw, payer.header(challenge))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Echo: Say hello to the gateway"
    receipt = decode_b64_json(response.headers["PAYMENT-RESPONSE"])
    amount = int(challenge["accepts"][0]["amount"])
    [payment] = gw.payments
    assert payment == RecordedPayment(
        payer=payer.address,
        amount_micros=amount,
        nonce=payment.nonce,
        model=PAID,
        network="eip155:8453",
        pay_to=gw.pay_to,
        tx_hash=receipt["transaction"],
        stream=False,
    )
    assert receipt == {
        "success": True,
        "transaction": payment.tx_hash,
        "network": "eip155:8453",
        "payer": payer.address,
    }
    assert response.headers["X-Payment-Receipt"] == payment.tx_hash
    assert gw.claimed_nonces == [payment.nonce]
    assert [(r.paid, r.status) for r in gw.requests] == [(False, 402), (True, 200)]


def test_replay_is_refused_and_paid_only_once(gw: LocalGateway, client: httpx.Client) -> None:
    header = Payer().header(probe(client, gw))
    assert pay(client, gw, header).status_code == 200
    again = pay(client, gw, header)
    assert again.status_code == 402
    assert again.json()["code"] == "PAYMENT_REPLAY"
    assert again.json()["error"] == "Payment authorization already used"
    assert len(gw.payments) == 1


def test_concurrent_replays_settle_exactly_once(gw: LocalGateway) -> None:
    with httpx.Client(timeout=5) as first:
        header = Payer().header(probe(first, gw))
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        with httpx.Client(timeout=5) as own:
            barrier.wait()
            statuses.append(pay(own, gw, header).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 402, 402, 402, 402, 402]
    assert len(gw.payments) == 1


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong_pay_to", "PAYMENT_INVALID"),
        ("accepted_pay_to_only", "PAYMENT_INVALID"),
        ("other_asset", "PAYMENT_INVALID"),
        ("underpaid", "PAYMENT_UNDERPAID"),
        ("expired", "PAYMENT_UNFUNDED"),
        ("expiring_now", "PAYMENT_UNFUNDED"),
        ("not_yet_valid", "PAYMENT_UNFUNDED"),
        ("far_future", "PAYMENT_INVALID"),
        ("high_s", "PAYMENT_INVALID"),
        ("wrong_signer", "PAYMENT_INVALID"),
        ("other_chain_domain", "PAYMENT_INVALID"),
        ("not_base64", "PAYMENT_INVALID"),
    ],
)
def test_bad_payments_are_refused_and_nothing_is_recorded(
    gw: LocalGateway, client: httpx.Client, case: str, code: str
) -> None:
    payer = Payer()
    challenge = probe(client, gw)
    amount = int(challenge["accepts"][0]["amount"])
    now = int(time.time())
    other = WalletSigner(OTHER_KEY).address
    variants: dict[str, Any] = {
        "wrong_pay_to": {"pay_to": other},
        "accepted_pay_to_only": {"accepted": {"payTo": other}},
        "other_asset": {"accepted": {"asset": BASE_SEPOLIA.usdc}},
        "underpaid": {"amount": amount - 1},
        "expired": {"valid_before": now - 60},
        "expiring_now": {"valid_before": now + 2},
        "not_yet_valid": {"valid_after": now + 120},
        "far_future": {"valid_before": now + 3600},
        "high_s": {"high_s": True},
        "wrong_signer": {"signed_by": OTHER_KEY},
        "other_chain_domain": {"sign_network": "eip155:84532"},
    }
    header = (
        "not base64 at all" if case == "not_base64" else payer.header(challenge, **variants[case])
    )
    response = pay(client, gw, header)
    assert response.status_code == 402
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    if code != "PAYMENT_UNDERPAID":
        assert body["error"] == "Payment verification failed"
    assert "PAYMENT-RESPONSE" not in response.headers
    assert gw.payments == []
    assert gw.claimed_nonces == []


def test_the_same_valid_signature_passes_where_its_high_s_twin_failed(
    gw: LocalGateway, client: httpx.Client
) -> None:
    payer = Payer()
    challenge = probe(client, gw)
    nonce = bytes(range(32))
    assert pay(client, gw, payer.header(challenge, nonce=nonce, high_s=True)).status_code == 402
    assert pay(client, gw, payer.header(challenge, nonce=nonce)).status_code == 200


def test_overpayment_is_accepted_and_the_signed_value_recorded(
    gw: LocalGateway, client: httpx.Client
) -> None:
    challenge = probe(client, gw)
    amount = int(challenge["accepts"][0]["amount"])
    response = pay(client, gw, Payer().header(challenge, amount=amount + 500))
    assert response.status_code == 200
    assert [p.amount_micros for p in gw.payments] == [amount + 500]


def test_amount_must_match_what_accepted_claims(gw: LocalGateway, client: httpx.Client) -> None:
    challenge = probe(client, gw)
    amount = int(challenge["accepts"][0]["amount"])
    header = Payer().header(challenge, accepted={"amount": str(amount + 1)})
    response = pay(client, gw, header)
    assert response.json()["code"] == "PAYMENT_INVALID"
    assert gw.payments == []


def test_v1_x_payment_header_is_accepted(gw: LocalGateway, client: httpx.Client) -> None:
    header = Payer().header(probe(client, gw), version=1)
    response = client.post(chat_url(gw), json=BODY, headers={"X-PAYMENT": header})
    assert response.status_code == 200
    assert len(gw.payments) == 1


def test_our_own_client_signer_pays_the_gateway(gw: LocalGateway, client: httpx.Client) -> None:
    response = client.post(chat_url(gw), json=BODY)
    challenge = parse_challenge(response.headers, response.content)
    policy = PaymentPolicy(max_per_call_usd=0.5)
    offer, network = select_offer(challenge, policy, default_network=BASE)
    signer = WalletSigner(OTHER_KEY)
    signed = sign_payment(
        signer, offer, network, challenge=challenge, resource_url=chat_url(gw), policy=policy
    )
    paid = client.post(chat_url(gw), json=BODY, headers=signed.headers)
    assert paid.status_code == 200, paid.text
    [payment] = gw.payments
    assert (payment.payer, payment.amount_micros, payment.nonce) == (
        signer.address,
        signed.amount_micros,
        signed.nonce,
    )


def test_a_payment_for_another_body_is_checked_against_this_bodys_quote(
    gw: LocalGateway, client: httpx.Client
) -> None:
    cheap = {**BODY, "max_tokens": 100}
    header = Payer().header(probe(client, gw, cheap))
    response = pay(client, gw, header, BODY)
    assert response.json()["code"] == "PAYMENT_UNDERPAID"
    assert gw.payments == []


def test_fake_balance_refuses_unfunded_payers(gw: LocalGateway, client: httpx.Client) -> None:
    payer = Payer()
    challenge = probe(client, gw)
    amount = int(challenge["accepts"][0]["amount"])
    gw.set_balance(payer.address, amount - 1)
    refused = pay(client, gw, payer.header(challenge))
    assert refused.json()["code"] == "PAYMENT_UNFUNDED"
    assert gw.payments == []
    gw.set_balance(payer.address, amount * 3)
    assert pay(client, gw, payer.header(challenge)).status_code == 200
    assert gw.balance(payer.address) == amount * 2


def test_max_tokens_over_the_ceiling_is_clamped_and_priced_at_the_clamp(
    gw: LocalGateway, client: httpx.Client
) -> None:
    body = {**BODY, "max_tokens": 10_000_000}
    response = client.post(chat_url(gw), json=body)
    assert response.headers["X-Max-Tokens-Capped"] == "true"
    assert response.headers["X-Max-Tokens-Requested"] == "10000000"
    assert response.headers["X-Max-Tokens-Effective"] == "128000"
    clamped = {**BODY, "max_tokens": 128_000}
    amount = decode_b64_json(response.headers["PAYMENT-REQUIRED"])["accepts"][0]["amount"]
    assert int(amount) == quote_micros(default_catalog().get(PAID), clamped)
    paid = pay(
        client, gw, Payer().header(decode_b64_json(response.headers["PAYMENT-REQUIRED"])), body
    )
    assert paid.status_code == 200
    assert paid.headers["X-Max-Tokens-Effective"] == "128000"


def test_sepolia_gateway_asks_for_sepolia_usdc() -> None:
    body = {**BODY, "model": "openai/gpt-4o-mini"}
    with LocalGateway(network="eip155:84532") as gw, httpx.Client(timeout=5) as client:
        challenge = probe(client, gw, body)
        [offer] = challenge["accepts"]
        assert (offer["network"], offer["asset"], offer["extra"]) == (
            "eip155:84532",
            BASE_SEPOLIA.usdc,
            {"name": "USDC", "version": "2"},
        )
        mainnet = Payer().header(challenge, sign_network="eip155:8453")
        assert pay(client, gw, mainnet, body).json()["code"] == "PAYMENT_INVALID"
        assert pay(client, gw, Payer().header(challenge), body).status_code == 200
        assert [p.network for p in gw.payments] == ["eip155:84532"]
