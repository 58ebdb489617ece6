"""Our own table of networks and assets we pay on.

The EIP-712 domain always comes from here, never from a server's 402.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BASE", "BASE_SEPOLIA", "NETWORKS", "Network", "find_network"]


@dataclass(frozen=True)
class Network:
    """An EVM network and its USDC contract, as we sign for it."""

    caip2: str
    chain_id: int
    usdc: str
    eip712_name: str
    eip712_version: str
    legacy_names: tuple[str, ...] = ()
    testnet: bool = False


BASE = Network(
    caip2="eip155:8453",
    chain_id=8453,
    usdc="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    eip712_name="USD Coin",
    eip712_version="2",
    legacy_names=("base",),
)
"""Base mainnet (``eip155:8453``) and its native USDC: what real payments use."""
BASE_SEPOLIA = Network(
    caip2="eip155:84532",
    chain_id=84532,
    usdc="0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    eip712_name="USDC",
    eip712_version="2",
    legacy_names=("base-sepolia",),
    testnet=True,
)
"""Base Sepolia testnet (``eip155:84532``) and its test USDC."""

NETWORKS: dict[str, Network] = {n.caip2: n for n in (BASE, BASE_SEPOLIA)}
"""The networks payments may be signed on, by CAIP-2 id; any other is refused."""
_BY_ANY_NAME: dict[str, Network] = {
    name: n for n in NETWORKS.values() for name in (n.caip2, *n.legacy_names)
}


def find_network(name: str) -> Network | None:
    """The network for a CAIP-2 id (``eip155:8453``) or a v1 name (``base``), if we know it."""
    return _BY_ANY_NAME.get(name.strip().lower())
