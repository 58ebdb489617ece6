"""Signing an offer: a fresh EIP-3009 authorization, encoded as an x402 payment header."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from blockrun_core._keccak import checksum_address
from blockrun_core.errors import PaymentRefusedError
from blockrun_core.signing import WalletSigner

from .challenge import PaymentChallenge, PaymentOffer
from .eip3009 import TransferAuthorization, transfer_digest
from .encoding import encode_b64_json
from .headers import PAYMENT_HEADER_V1, PAYMENT_HEADER_V2
from .networks import Network, find_network
from .policy import MAX_VALIDITY_SECONDS, PaymentPolicy, check_offer, format_usd

__all__ = [
    "BUILDER_CODE",
    "DEFAULT_TIMEOUT_SECONDS",
    "VALID_AFTER_SKEW_SECONDS",
    "SignedPayment",
    "sign_payment",
]

BUILDER_CODE = "blockrun"
DEFAULT_TIMEOUT_SECONDS = 300
# validAfter is back-dated so a payer clock running ahead of the chain is still valid.
VALID_AFTER_SKEW_SECONDS = 600


@dataclass(frozen=True)
class SignedPayment:
    """A signed payment ready to send; its repr never shows the header (the signature)."""

    header_name: str
    header_value: str = field(repr=False)
    amount_micros: int
    nonce: str  # 0x + 64 hex
    payer: str
    network: str  # CAIP-2
    pay_to: str
    valid_before: int

    @property
    def headers(self) -> dict[str, str]:
        """The header to add to the paid retry."""
        return {self.header_name: self.header_value}

    @property
    def amount_usd(self) -> str:
        """The signed amount as exact dollars, e.g. ``$0.025685``."""
        return format_usd(self.amount_micros)


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def payment_resource(challenge: PaymentChallenge, resource_url: str) -> dict[str, str]:
    """The v2 ``resource`` to send: the server's URL only when it is on our request's origin.

    A 402 could otherwise name another site's URL; we substitute the URL we actually POST to.
    """
    source = challenge.resource or {}
    url = source.get("url")
    target = _origin(resource_url)
    if not isinstance(url, str) or target is None or _origin(url) != target:
        url = resource_url
    resource = {"url": url}
    for key in ("description", "mimeType"):
        value = source.get(key)
        if isinstance(value, str):
            resource[key] = value
    return resource


def _extensions(server: dict[str, Any]) -> dict[str, Any]:
    """Server extensions with BlockRun's ERC-8021 service code; a server app code is kept."""
    merged = dict(server)
    existing = merged.get("builder-code")
    builder = dict(existing) if isinstance(existing, dict) else {}
    info = builder.get("info")
    info = dict(info) if isinstance(info, dict) else {}
    info["s"] = [BUILDER_CODE]
    builder["info"] = info
    merged["builder-code"] = builder
    return merged


def _v1_network_name(offer: PaymentOffer, network: Network) -> str:
    name = offer.network.strip().lower()
    return name if name in network.legacy_names else network.legacy_names[0]


def sign_payment(
    signer: WalletSigner,
    offer: PaymentOffer,
    network: Network,
    *,
    challenge: PaymentChallenge,
    resource_url: str,
    policy: PaymentPolicy,
    amount_micros: int | None = None,
    now: int | None = None,
) -> SignedPayment:
    """Sign ``offer`` with a fresh authorization and encode the x402 payment header.

    ``amount_micros`` replaces the offer's amount (a locally computed quote); either way
    the amount must be within ``policy``'s per-call cap. The EIP-712 domain comes from
    our network table, never from the offer. Raises ``PaymentRefusedError`` when the
    offer or amount breaks the policy; nothing is signed then.
    """
    if challenge.x402_version not in (1, 2):
        raise PaymentRefusedError(
            f"Refusing to pay: x402 version {challenge.x402_version!r} is not supported. "
            f"Nothing was signed.",
            reason="malformed_challenge",
        )
    value = offer.amount if amount_micros is None else amount_micros
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PaymentRefusedError(
            f"Refusing to sign an amount of {value!r} micro-USDC: it must be a positive "
            f"integer. Nothing was signed.",
            reason="invalid_amount",
        )
    # Re-check everything select_offer checked: the caller may have built the offer itself.
    if find_network(offer.network) != network:
        raise PaymentRefusedError(
            f"Refusing to pay: the offer's network {offer.network[:80]!r} is not "
            f"{network.caip2}. Nothing was signed.",
            reason="network_not_allowed",
        )
    allowed = policy.allowed_networks(network)
    check_offer(offer, policy, allowed=allowed, amount_micros=value)

    timestamp = int(time.time()) if now is None else int(now)
    lifetime = min(
        offer.max_timeout_seconds or DEFAULT_TIMEOUT_SECONDS,
        policy.max_validity_seconds,
        MAX_VALIDITY_SECONDS,
    )
    authorization = TransferAuthorization(
        from_=signer.address,
        to=checksum_address(offer.pay_to),
        value=value,
        valid_after=max(timestamp - VALID_AFTER_SKEW_SECONDS, 0),
        valid_before=timestamp + lifetime,
        nonce=secrets.token_bytes(32),
    )
    signature = signer.sign_digest(transfer_digest(network, authorization))
    inner = {"signature": "0x" + signature.hex(), "authorization": authorization.to_json()}

    document: dict[str, Any]
    if challenge.x402_version == 1:
        header_name = PAYMENT_HEADER_V1
        document = {
            "x402Version": 1,
            "scheme": "exact",
            "network": _v1_network_name(offer, network),
            "payload": inner,
        }
    else:
        header_name = PAYMENT_HEADER_V2
        extra = dict(offer.extra)
        extra.update(name=network.eip712_name, version=network.eip712_version)
        document = {
            "x402Version": 2,
            "resource": payment_resource(challenge, resource_url),
            "accepted": {
                "scheme": offer.scheme,
                "network": offer.network,
                "amount": str(value),
                "asset": offer.asset,
                "payTo": offer.pay_to,
                "maxTimeoutSeconds": offer.max_timeout_seconds,
                "extra": extra,
            },
            "payload": inner,
            "extensions": _extensions(challenge.extensions),
        }
    return SignedPayment(
        header_name=header_name,
        header_value=encode_b64_json(document),
        amount_micros=value,
        nonce="0x" + authorization.nonce.hex(),
        payer=signer.address,
        network=network.caip2,
        pay_to=authorization.to,
        valid_before=authorization.valid_before,
    )
