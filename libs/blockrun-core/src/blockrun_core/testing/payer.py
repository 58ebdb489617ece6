"""``Payer``: signs x402 payments for a 402 by hand, with knobs to break them.

For tests of gateways and of rejection handling: every field of the authorization can be
overridden (amount, recipient, time window, nonce, network) and the signature can be
made high-``s`` or by another key. Real clients use :func:`blockrun_core.x402.sign_payment`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from blockrun_core.signing import WalletSigner
from blockrun_core.x402 import (
    Network,
    TransferAuthorization,
    decode_b64_json,
    encode_b64_json,
    find_network,
    transfer_digest,
)

__all__ = ["HARDHAT_KEY", "Payer"]

HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
"""Hardhat's well-known test account #0 (address 0xf39F...2266). Never fund it."""
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _required(challenge: Mapping[str, Any] | str) -> Mapping[str, Any]:
    document = decode_b64_json(challenge) if isinstance(challenge, str) else challenge
    if not isinstance(document, Mapping) or not document.get("accepts"):
        raise ValueError("not an x402 PaymentRequired document")
    return document


class Payer:
    """A test wallet that answers 402s with (optionally broken) EIP-3009 payments."""

    def __init__(self, private_key: str = HARDHAT_KEY) -> None:
        self._signer = WalletSigner(private_key)
        self.address = self._signer.address

    def __repr__(self) -> str:
        return f"Payer(address={self.address!r})"

    def header(
        self,
        challenge: Mapping[str, Any] | str,
        *,
        amount: int | None = None,
        pay_to: str | None = None,
        accepted: Mapping[str, Any] | None = None,
        valid_after: int | None = None,
        valid_before: int | None = None,
        nonce: bytes | None = None,
        sign_network: str | None = None,
        high_s: bool = False,
        signed_by: str | None = None,
        version: int = 2,
    ) -> str:
        """A ``PAYMENT-SIGNATURE`` (``version=2``) or ``X-PAYMENT`` (1) value for ``challenge``.

        ``challenge`` is the decoded ``PaymentRequired`` or its base64 header. By default
        the payment is valid: the offer's amount and ``payTo``, a window of now-600 to
        now+300, a fresh nonce. ``amount`` and ``pay_to`` change the signed authorization
        (and ``accepted`` accordingly); ``accepted`` overrides fields of the echoed offer
        only; ``sign_network`` signs with another network's EIP-712 domain; ``high_s``
        flips the signature to its high-``s`` twin; ``signed_by`` signs with another key
        while claiming to be this payer.
        """
        required = _required(challenge)
        offer = dict(required["accepts"][0])
        network = find_network(sign_network or str(offer["network"]))
        if network is None:
            raise ValueError(f"unknown network {offer['network']!r}")
        now = int(time.time())
        authorization = TransferAuthorization(
            from_=self.address,
            to=pay_to or str(offer["payTo"]),
            value=int(offer["amount"]) if amount is None else amount,
            valid_after=now - 600 if valid_after is None else valid_after,
            valid_before=now + 300 if valid_before is None else valid_before,
            nonce=secrets.token_bytes(32) if nonce is None else nonce,
        )
        signature = self._sign(network, authorization, high_s=high_s, signed_by=signed_by)
        inner = {"signature": "0x" + signature.hex(), "authorization": authorization.to_json()}
        if version == 1:
            legacy = network.legacy_names[0] if network.legacy_names else network.caip2
            document: dict[str, Any] = {
                "x402Version": 1,
                "scheme": "exact",
                "network": legacy,
                "payload": inner,
            }
        else:
            offer.update(amount=str(authorization.value), payTo=authorization.to)
            offer.update(accepted or {})
            document = {
                "x402Version": 2,
                "resource": required.get("resource"),
                "accepted": offer,
                "payload": inner,
            }
        return encode_b64_json(document)

    def _sign(
        self,
        network: Network,
        authorization: TransferAuthorization,
        *,
        high_s: bool,
        signed_by: str | None,
    ) -> bytes:
        signer = WalletSigner(signed_by) if signed_by else self._signer
        signature = signer.sign_digest(transfer_digest(network, authorization))
        if not high_s:
            return signature
        s = _SECP256K1_N - int.from_bytes(signature[32:64], "big")
        flipped_v = 55 - signature[64]  # 27 <-> 28
        return signature[:32] + s.to_bytes(32, "big") + bytes([flipped_v])
