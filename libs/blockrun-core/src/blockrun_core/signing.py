"""The wallet signer: the only object that ever holds a private key.

Signing uses libsecp256k1 through coincurve on a hand-built EIP-712 digest; eth-account
stays the reference in tests and is never imported here. The key cannot be printed,
pickled or copied out: repr, str and errors show the address at most.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any, NoReturn

from ._home import blockrun_home
from ._keccak import checksum_address, keccak256
from .errors import CredentialError

__all__ = [
    "WalletSigner",
    "create_wallet",
    "default_session_path",
    "recover_signer",
    "resolve_wallet_key",
]

WALLET_KEY_ENV_VARS = ("BLOCKRUN_WALLET_KEY", "BASE_CHAIN_WALLET_KEY")
_KEY_RE = re.compile(r"(?:0x)?[0-9a-fA-F]{64}")
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _parse_key(key: str) -> bytes:
    text = key.strip()
    if not _KEY_RE.fullmatch(text):
        raise CredentialError(
            "The wallet key is malformed: expected 0x followed by 64 hex characters."
        )
    raw = bytes.fromhex(text.removeprefix("0x"))
    if not 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
        raise CredentialError("The wallet key is not a valid secp256k1 private key.")
    return raw


class WalletSigner:
    """Signs 32-byte digests with an Ethereum private key; shows only its address."""

    __slots__ = ("__key", "address")

    def __init__(self, private_key: str) -> None:
        from coincurve import PrivateKey

        self.__key = PrivateKey(_parse_key(private_key))
        public = self.__key.public_key.format(compressed=False)[1:]
        self.address: str = checksum_address(keccak256(public)[-20:])

    def sign_digest(self, digest: bytes) -> bytes:
        """65-byte ``r || s || v`` signature (low ``s``, ``v`` in 27/28) of ``digest``."""
        if len(digest) != 32:
            raise ValueError("a digest is 32 bytes")
        signature = bytearray(self.__key.sign_recoverable(digest, hasher=None))
        signature[64] += 27
        return bytes(signature)

    def __repr__(self) -> str:
        return f"WalletSigner(address={self.address!r})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("WalletSigner holds a private key and cannot be pickled")

    def __copy__(self) -> WalletSigner:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> WalletSigner:
        return self


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address that produced ``signature`` over ``digest``.

    Rejects what USDC's ``ecrecover`` rejects: a wrong length, ``v`` not 27/28, high ``s``.
    """
    from coincurve import PublicKey

    if len(signature) != 65 or signature[64] not in (27, 28):
        raise ValueError("signature must be 65 bytes with v in {27, 28}")
    if int.from_bytes(signature[32:64], "big") > _SECP256K1_N // 2:
        raise ValueError("signature has a high s value")
    compact = signature[:64] + bytes([signature[64] - 27])
    public = PublicKey.from_signature_and_message(compact, digest, hasher=None)
    return checksum_address(keccak256(public.format(compressed=False)[1:])[-20:])


def default_session_path() -> Path:
    """``~/.blockrun/.session``, where BlockRun's own SDK keeps its wallet key."""
    return blockrun_home() / ".session"


def resolve_wallet_key(explicit: str | None = None) -> str | None:
    """The wallet key from the argument, the environment, or the session file, in that order."""
    if explicit:
        return explicit
    for name in WALLET_KEY_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    try:
        text = default_session_path().read_text().strip()
    except OSError:
        return None
    return text or None


def create_wallet(path: Path | None = None) -> WalletSigner:
    """Create a new random wallet, optionally saved (mode 0600) to ``path``."""
    key = "0x" + secrets.token_bytes(32).hex()
    signer = WalletSigner(key)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
    return signer
