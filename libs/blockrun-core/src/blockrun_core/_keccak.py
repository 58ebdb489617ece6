"""Keccak-256 (Ethereum's hash) and EIP-55 address checksums."""

from __future__ import annotations

from functools import lru_cache

from Crypto.Hash import keccak as _keccak

__all__ = ["checksum_address", "keccak256"]


def keccak256(data: bytes) -> bytes:
    """Keccak-256 of ``data`` (not NIST SHA3-256)."""
    return bytes(_keccak.new(digest_bits=256, data=data).digest())


@lru_cache(maxsize=256)  # a client pays the same few addresses again and again
def checksum_address(address: str | bytes) -> str:
    """EIP-55 mixed-case form of a 20-byte address."""
    hex_addr = address.hex() if isinstance(address, bytes) else address.lower().removeprefix("0x")
    if len(hex_addr) != 40:
        raise ValueError("an address is 20 bytes")
    hashed = keccak256(hex_addr.encode()).hex()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(hashed[i], 16) >= 8 else c for i, c in enumerate(hex_addr)
    )
