"""Shared constants and builders for the x402 tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from blockrun_core.x402 import BASE, BASE_SEPOLIA, Network

# Hardhat account #0: a public test key, never funded for real.
HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
PAY_TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
OTHER_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
BASE_USDC = BASE.usdc
SEPOLIA_USDC = BASE_SEPOLIA.usdc
API_URL = "https://blockrun.ai/api"
CHAT_URL = "https://blockrun.ai/api/v1/chat/completions"
TESTNET_CHAT_URL = "https://testnet.blockrun.ai/api/v1/chat/completions"
NOW = 1_800_000_000
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def offer_doc(net: Network = BASE, /, **overrides: Any) -> dict[str, Any]:
    """A v2 ``accepts`` entry; keyword overrides replace fields (None removes one)."""
    doc: dict[str, Any] = {
        "scheme": "exact",
        "network": net.caip2,
        "amount": "25685",
        "asset": net.usdc,
        "payTo": PAY_TO,
        "maxTimeoutSeconds": 300,
        "extra": {"name": net.eip712_name, "version": net.eip712_version},
    }
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def challenge_doc(*offers: dict[str, Any], **top: Any) -> dict[str, Any]:
    """A v2 ``PaymentRequired`` document."""
    doc: dict[str, Any] = {
        "x402Version": 2,
        "error": "Payment required",
        "resource": {
            "url": CHAT_URL,
            "description": "GPT-5.5 API call (~17 input, 8192 max output tokens)",
            "mimeType": "application/json",
        },
        "accepts": list(offers) if offers else [offer_doc()],
        "extensions": {"bazaar": {"info": {"x": 1}}},
    }
    doc.update(top)
    return doc


def v1_offer_doc(network_name: str = "base", **overrides: Any) -> dict[str, Any]:
    """A v1 ``accepts`` entry (``maxAmountRequired``, per-offer ``resource``)."""
    network = BASE if network_name == "base" else BASE_SEPOLIA
    doc: dict[str, Any] = {
        "scheme": "exact",
        "network": network_name,
        "maxAmountRequired": "1000",
        "resource": CHAT_URL,
        "description": "v1 call",
        "mimeType": "application/json",
        "payTo": PAY_TO,
        "maxTimeoutSeconds": 60,
        "asset": network.usdc,
        "extra": {"name": network.eip712_name, "version": "2"},
    }
    doc.update(overrides)
    return doc


def b64(doc: Any, *, urlsafe: bool = False, padded: bool = True) -> str:
    raw = json.dumps(doc).encode()
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text if padded else text.rstrip("=")


def decode_header(value: str) -> dict[str, Any]:
    """Strict standard-base64 decoding, as the official SDK does it."""
    result: dict[str, Any] = json.loads(base64.b64decode(value, validate=True))
    return result


def load_fixture(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return result


def eth_account_recover(payload: dict[str, Any], network: Network) -> str:
    """The signer of an x402 payload's authorization per eth-account (the reference)."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    auth = payload["payload"]["authorization"]
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "TransferWithAuthorization": [
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "validAfter", "type": "uint256"},
                {"name": "validBefore", "type": "uint256"},
                {"name": "nonce", "type": "bytes32"},
            ],
        },
        "primaryType": "TransferWithAuthorization",
        "domain": {
            "name": network.eip712_name,
            "version": network.eip712_version,
            "chainId": network.chain_id,
            "verifyingContract": network.usdc,
        },
        "message": {
            "from": auth["from"],
            "to": auth["to"],
            "value": int(auth["value"]),
            "validAfter": int(auth["validAfter"]),
            "validBefore": int(auth["validBefore"]),
            "nonce": bytes.fromhex(auth["nonce"][2:]),
        },
    }
    signable = encode_typed_data(full_message=typed)
    recovered: str = Account.recover_message(signable, signature=payload["payload"]["signature"])
    return recovered
