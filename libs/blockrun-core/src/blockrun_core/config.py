"""Where requests go and how they are paid: URL checks and credential resolution."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from .errors import ConfigurationError, CredentialError
from .signing import WalletSigner, resolve_wallet_key

__all__ = [
    "DEFAULT_ACCOUNT_URL",
    "DEFAULT_API_URL",
    "TESTNET_API_URL",
    "Credentials",
    "resolve_credentials",
    "validate_api_url",
]

DEFAULT_API_URL = "https://blockrun.ai/api"
TESTNET_API_URL = "https://testnet.blockrun.ai/api"
DEFAULT_ACCOUNT_URL = "https://api.blockrun.ai"

# Hosts that take x402 payments: an account key must never be sent to them.
_X402_HOSTS = frozenset(
    {"blockrun.ai", "www.blockrun.ai", "testnet.blockrun.ai", "sol.blockrun.ai", "arc.blockrun.ai"}
)
_API_KEY_RE = re.compile(r"brk_[A-Za-z0-9_-]{8,}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_api_url(url: str) -> str:
    """``url`` without a trailing slash, if it is HTTPS, or plain HTTP on a loopback host."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"Invalid API URL {url!r}: expected https://host/path.")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"Refusing plain HTTP to {host}: payments and keys need HTTPS "
            "(http is allowed only for localhost and 127.0.0.1)."
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(f"Invalid API URL {url!r}: no credentials, query or fragment.")
    return url.strip().rstrip("/")


@dataclass(frozen=True)
class Credentials:
    """The resolved rail: a wallet paying with x402, an account key, or neither (free only)."""

    rail: Literal["wallet", "account", "none"]
    api_url: str
    signer: WalletSigner | None = None
    api_key: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        who = self.signer.address if self.signer else "-"
        return f"Credentials(rail={self.rail!r}, api_url={self.api_url!r}, address={who!r})"


def _check_api_key(key: str) -> str:
    key = key.strip()
    if not _API_KEY_RE.fullmatch(key):
        raise CredentialError(
            "The account key is malformed: BlockRun account keys look like brk_live_..."
        )
    return key


def _account_url(api_url: str | None) -> str:
    url = validate_api_url(
        api_url or os.environ.get("BLOCKRUN_API_KEY_URL", "").strip() or DEFAULT_ACCOUNT_URL
    )
    parts = urlsplit(url)
    if (parts.hostname or "").lower() in _X402_HOSTS:
        raise CredentialError(
            f"Account keys are only sent to {DEFAULT_ACCOUNT_URL}, never to the x402 host "
            f"{parts.hostname}; drop api_url or point it at the account API."
        )
    return url.removesuffix("/v1")


def resolve_credentials(
    *, wallet_key: str | None = None, api_key: str | None = None, api_url: str | None = None
) -> Credentials:
    """Pick the rail: explicit arguments, then ``BLOCKRUN_API_KEY``, then the wallet sources.

    Giving both a wallet key and an account key is refused.
    """
    if wallet_key and api_key:
        raise CredentialError(
            "Pass either wallet_key (x402 payments) or api_key (brk_ account), not both."
        )
    if wallet_key and wallet_key.strip().startswith("brk_"):
        raise CredentialError("That is an account key (brk_...): pass it as api_key.")
    if not wallet_key:
        api_key = api_key or os.environ.get("BLOCKRUN_API_KEY", "").strip() or None
    if api_key:
        key = _check_api_key(api_key)
        return Credentials("account", _account_url(api_url), api_key=key)

    url = validate_api_url(
        api_url or os.environ.get("BLOCKRUN_API_URL", "").strip() or DEFAULT_API_URL
    )
    wallet = resolve_wallet_key(wallet_key)
    if wallet is None:
        return Credentials("none", url)
    return Credentials("wallet", url, signer=WalletSigner(wallet))
