"""The gateway side: decoding a payment header and recovering who signed it.

Only what can be checked offline lives here: shape, domain and signature. Matching the
payload to an offer, the time window and nonce replay are the gateway's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from blockrun_core._keccak import checksum_address
from blockrun_core.signing import recover_signer

from ._bounds import loads_bounded, within_bounds
from .eip3009 import TransferAuthorization, transfer_digest
from .encoding import decode_b64_json
from .networks import Network, find_network
from .policy import is_address

__all__ = [
    "ParsedPayment",
    "decode_payment_header",
    "parse_payment_payload",
    "verify_payment_signature",
]

_UINT_RE = re.compile(r"[0-9]{1,78}")
_NONCE_RE = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE_RE = re.compile(r"(?:0x)?([0-9a-fA-F]{130})")


@dataclass(frozen=True)
class ParsedPayment:
    """A well-formed x402 exact-EVM payment payload, parsed (signature not yet checked)."""

    x402_version: int
    network: Network
    authorization: TransferAuthorization
    signature: bytes = field(repr=False)
    accepted: dict[str, Any] | None  # v2 only: the offer the payer says it accepted
    resource: dict[str, Any] | None  # v2 only


def decode_payment_header(value: str) -> dict[str, Any]:
    """Decode a ``PAYMENT-SIGNATURE`` / ``X-PAYMENT`` value (base64 of either alphabet,
    padding optional, or raw JSON) into its JSON object; ``ValueError`` on anything else."""
    if not isinstance(value, str):
        raise ValueError("a payment header is a string")
    text = value.strip()
    document = loads_bounded(text) if text.startswith("{") else decode_b64_json(text)
    if not isinstance(document, dict) or not within_bounds(document):
        raise ValueError("a payment header must hold a JSON object")
    return document


def _uint(auth: dict[str, Any], key: str) -> int:
    value = auth.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _UINT_RE.fullmatch(value):
        number = int(value)
    else:
        raise ValueError(f"authorization.{key} must be a decimal integer string")
    if not 0 <= number < 2**256:
        raise ValueError(f"authorization.{key} is out of range")
    return number


def _address(auth: dict[str, Any], key: str) -> str:
    value = auth.get(key)
    if not is_address(value):
        raise ValueError(f"authorization.{key} must be a 0x-prefixed 20-byte address")
    return checksum_address(str(value))


def _network(name: Any) -> Network:
    network = find_network(name) if isinstance(name, str) else None
    if network is None:
        raise ValueError(f"unknown or unsupported network {str(name)[:80]!r}")
    return network


def parse_payment_payload(payload: dict[str, Any]) -> ParsedPayment:
    """Check the shape of a decoded exact-EVM payment payload (v1 or v2) and parse it.

    The network must be in our table; in v2, ``accepted`` must name that network's USDC
    and agree with the authorization's recipient and amount. ``ValueError`` otherwise.
    """
    if not isinstance(payload, dict):
        raise ValueError("a payment payload is a JSON object")
    version = payload.get("x402Version")
    accepted: dict[str, Any] | None = None
    resource: dict[str, Any] | None = None
    if version == 2 and not isinstance(version, bool):
        accepted = payload.get("accepted")
        if not isinstance(accepted, dict):
            raise ValueError("v2 payload lacks the 'accepted' object")
        scheme, network = accepted.get("scheme"), _network(accepted.get("network"))
        asset = accepted.get("asset")
        if not isinstance(asset, str) or asset.lower() != network.usdc.lower():
            raise ValueError(f"accepted.asset is not USDC on {network.caip2}")
        raw_resource = payload.get("resource")
        resource = raw_resource if isinstance(raw_resource, dict) else None
    elif version == 1 and not isinstance(version, bool):
        scheme, network = payload.get("scheme"), _network(payload.get("network"))
    else:
        raise ValueError(f"unsupported x402Version {str(version)[:20]!r}")
    if scheme != "exact":
        raise ValueError(f"unsupported scheme {str(scheme)[:40]!r}")

    inner = payload.get("payload")
    if not isinstance(inner, dict):
        raise ValueError("payload lacks the inner 'payload' object")
    auth = inner.get("authorization")
    if not isinstance(auth, dict):
        raise ValueError("payload lacks 'authorization'")
    nonce = auth.get("nonce")
    if not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce):
        raise ValueError("authorization.nonce must be 0x followed by 64 hex characters")
    signature = inner.get("signature")
    match = _SIGNATURE_RE.fullmatch(signature) if isinstance(signature, str) else None
    if match is None:
        raise ValueError("signature must be 65 bytes of hex (r || s || v)")
    authorization = TransferAuthorization(
        from_=_address(auth, "from"),
        to=_address(auth, "to"),
        value=_uint(auth, "value"),
        valid_after=_uint(auth, "validAfter"),
        valid_before=_uint(auth, "validBefore"),
        nonce=bytes.fromhex(nonce[2:]),
    )
    if accepted is not None:
        pay_to, amount = accepted.get("payTo"), accepted.get("amount")
        if not isinstance(pay_to, str) or pay_to.lower() != authorization.to.lower():
            raise ValueError("accepted.payTo differs from authorization.to")
        if str(amount) != str(authorization.value):
            raise ValueError("accepted.amount differs from authorization.value")
    return ParsedPayment(
        x402_version=version,
        network=network,
        authorization=authorization,
        signature=bytes.fromhex(match.group(1)),
        accepted=accepted,
        resource=resource,
    )


def verify_payment_signature(payload: dict[str, Any]) -> str:
    """The checksummed payer address, once the signature is proven to be ``from``'s.

    Recomputes the EIP-712 digest with the domain from our table for the payload's
    network and recovers the signer; rejects high-``s`` and ``v`` outside 27/28 like
    USDC does. Raises ``ValueError`` on any malformation or a signer other than ``from``.
    """
    parsed = parse_payment_payload(payload)
    digest = transfer_digest(parsed.network, parsed.authorization)
    try:
        signer = recover_signer(digest, parsed.signature)
    except ValueError:
        raise
    except Exception as exc:  # coincurve's own errors on an unrecoverable (r, s)
        raise ValueError("the signature is not a valid secp256k1 signature") from exc
    if signer.lower() != parsed.authorization.from_.lower():
        raise ValueError("the signature was not made by authorization.from")
    return signer
