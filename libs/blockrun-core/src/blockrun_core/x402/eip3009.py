"""The EIP-712 digest of an EIP-3009 ``TransferWithAuthorization``.

The struct has a fixed shape, so the encoding is written out directly: about twenty times
faster than generic typed-data encoding. Tests check it against eth-account.
"""

from __future__ import annotations

from dataclasses import dataclass

from blockrun_core._keccak import keccak256

from .networks import Network

__all__ = ["TransferAuthorization", "domain_separator", "transfer_digest"]

_DOMAIN_TYPEHASH = keccak256(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_TRANSFER_TYPEHASH = keccak256(
    b"TransferWithAuthorization(address from,address to,uint256 value,"
    b"uint256 validAfter,uint256 validBefore,bytes32 nonce)"
)
_domain_cache: dict[Network, bytes] = {}


@dataclass(frozen=True)
class TransferAuthorization:
    """The signed message: move ``value`` micro-USDC from ``from_`` to ``to`` once."""

    from_: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: bytes  # 32 bytes

    def to_json(self) -> dict[str, str]:
        """The ``authorization`` object of an x402 payload: numbers as decimal strings."""
        return {
            "from": self.from_,
            "to": self.to,
            "value": str(self.value),
            "validAfter": str(self.valid_after),
            "validBefore": str(self.valid_before),
            "nonce": "0x" + self.nonce.hex(),
        }


def _address_word(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x").removeprefix("0X"))
    if len(raw) != 20:
        raise ValueError(f"not a 20-byte address: {address!r}")
    return raw.rjust(32, b"\0")


def _uint_word(value: int) -> bytes:
    if not 0 <= value < 2**256:
        raise ValueError("uint256 out of range")
    return value.to_bytes(32, "big")


def domain_separator(network: Network) -> bytes:
    """The EIP-712 domain separator of ``network``'s USDC contract."""
    cached = _domain_cache.get(network)
    if cached is None:
        cached = keccak256(
            _DOMAIN_TYPEHASH
            + keccak256(network.eip712_name.encode())
            + keccak256(network.eip712_version.encode())
            + _uint_word(network.chain_id)
            + _address_word(network.usdc)
        )
        _domain_cache[network] = cached
    return cached


def transfer_digest(network: Network, auth: TransferAuthorization) -> bytes:
    """The 32-byte digest that the payer signs."""
    if len(auth.nonce) != 32:
        raise ValueError("nonce must be 32 bytes")
    struct_hash = keccak256(
        _TRANSFER_TYPEHASH
        + _address_word(auth.from_)
        + _address_word(auth.to)
        + _uint_word(auth.value)
        + _uint_word(auth.valid_after)
        + _uint_word(auth.valid_before)
        + auth.nonce
    )
    return keccak256(b"\x19\x01" + domain_separator(network) + struct_hash)
