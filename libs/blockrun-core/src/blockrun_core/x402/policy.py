"""What the user allows us to sign, and picking the offer that fits it."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from urllib.parse import urlsplit

from blockrun_core._keccak import checksum_address
from blockrun_core.errors import ConfigurationError, PaymentRefusedError

from .challenge import PaymentChallenge, PaymentOffer
from .networks import BASE, BASE_SEPOLIA, NETWORKS, Network, find_network

__all__ = [
    "MAX_VALIDITY_SECONDS",
    "PaymentPolicy",
    "check_offer",
    "format_usd",
    "is_address",
    "network_for_url",
    "select_offer",
]

MAX_VALIDITY_SECONDS = 600
MICROS_PER_USD = 1_000_000
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_EIP3009_METHODS = (None, "eip3009")
_PAYMENT_FLOWS = (None, "authorization")

# Refusal reasons, least specific first: the reason reported for a challenge is the
# one of the offer that got furthest through the checks.
_REASON_RANK = (
    "no_offers",
    "unsupported_scheme",
    "network_not_allowed",
    "asset_not_allowed",
    "pay_to_not_allowed",
    "pay_to_changed",
    "over_budget",
    "over_cap",
)


def is_address(value: object) -> bool:
    """Whether ``value`` is a ``0x``-prefixed 20-byte hex address (any letter case)."""
    return isinstance(value, str) and _ADDRESS_RE.fullmatch(value) is not None


def format_usd(micros: int) -> str:
    """Micro-USDC as exact dollars, e.g. ``$0.025685``."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS_PER_USD)
    return f"{sign}${whole}.{frac:06d}"


def network_for_url(url: str) -> Network:
    """Base Sepolia for a gateway whose host contains ``testnet``, else Base mainnet."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        host = ""
    return BASE_SEPOLIA if "testnet" in host.lower() else BASE


@dataclass(frozen=True)
class PaymentPolicy:
    """Limits checked before anything is signed.

    ``networks=None`` allows only the network implied by the gateway URL
    (:func:`network_for_url`); ``pay_to=None`` allows any recipient address, and then,
    with ``pin_pay_to`` (the default), only the one a client has already paid: a gateway
    that switches its treasury mid-session is refused until the new address is listed in
    ``pay_to`` (or a new client is made).
    """

    max_per_call_usd: float = 1.0
    networks: tuple[str, ...] | None = None
    pay_to: tuple[str, ...] | None = None
    max_validity_seconds: int = 300
    pin_pay_to: bool = True

    def __post_init__(self) -> None:
        cap = self.max_per_call_usd
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not math.isfinite(cap):
            raise ConfigurationError(
                f"PaymentPolicy.max_per_call_usd must be a finite number of dollars, not {cap!r}."
            )
        if cap <= 0 or _usd_to_micros(cap) < 1:
            raise ConfigurationError(
                f"PaymentPolicy.max_per_call_usd must be at least $0.000001, not {cap!r}."
            )
        validity = self.max_validity_seconds
        if (
            isinstance(validity, bool)
            or not isinstance(validity, int)
            or not 1 <= validity <= MAX_VALIDITY_SECONDS
        ):
            raise ConfigurationError(
                f"PaymentPolicy.max_validity_seconds must be an integer from 1 to "
                f"{MAX_VALIDITY_SECONDS}, not {validity!r}."
            )
        if self.networks is not None:
            object.__setattr__(self, "networks", _normalise_networks(self.networks))
        if self.pay_to is not None:
            object.__setattr__(self, "pay_to", _normalise_pay_to(self.pay_to))

    @property
    def max_per_call_micros(self) -> int:
        """The per-call cap in micro-USDC, rounded down."""
        return _usd_to_micros(self.max_per_call_usd)

    def allowed_networks(self, default_network: Network) -> tuple[Network, ...]:
        """The networks we may pay on, given the gateway URL's network."""
        if self.networks is None:
            return (default_network,)
        return tuple(NETWORKS[caip2] for caip2 in self.networks)


def _usd_to_micros(usd: float) -> int:
    # Via the shortest decimal repr, so 0.1 becomes exactly 100000; never rounds up.
    micros = Decimal(repr(usd)) * MICROS_PER_USD
    return int(micros.to_integral_value(rounding=ROUND_FLOOR))


def _as_str_tuple(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable):
        raise ConfigurationError(f"PaymentPolicy.{name} must be a tuple of strings.")
    result = tuple(value)
    if not result:
        raise ConfigurationError(
            f"PaymentPolicy.{name} is empty, which would refuse every payment; "
            f"use None for the default."
        )
    strings = tuple(item for item in result if isinstance(item, str))
    if len(strings) != len(result):
        raise ConfigurationError(f"PaymentPolicy.{name} must contain only strings.")
    return strings


def _normalise_networks(value: object) -> tuple[str, ...]:
    names = []
    for name in _as_str_tuple(value, "networks"):
        network = find_network(name)
        if network is None:
            known = ", ".join(
                n for net in NETWORKS.values() for n in (net.caip2, *net.legacy_names)
            )
            raise ConfigurationError(
                f"PaymentPolicy.networks: unknown network {name!r}; known: {known}."
            )
        if network.caip2 not in names:
            names.append(network.caip2)
    return tuple(names)


def _normalise_pay_to(value: object) -> tuple[str, ...]:
    addresses = []
    for address in _as_str_tuple(value, "pay_to"):
        if not is_address(address.strip()):
            raise ConfigurationError(
                f"PaymentPolicy.pay_to: {address[:60]!r} is not a 0x-prefixed 20-byte address."
            )
        addresses.append(checksum_address(address.strip()))
    return tuple(dict.fromkeys(addresses))


def check_offer(
    offer: PaymentOffer,
    policy: PaymentPolicy,
    *,
    allowed: tuple[Network, ...],
    amount_micros: int,
    max_amount_micros: int | None = None,
    paid_to: str | None = None,
) -> Network:
    """The network to pay ``offer`` on, or ``PaymentRefusedError`` saying why we may not.

    ``amount_micros`` is what would be signed: the offer's amount, or a local quote.
    ``paid_to`` is the recipient this client already paid (see :class:`PayeePin`).
    """
    price = format_usd(amount_micros)

    def refuse(reason: str, detail: str) -> PaymentRefusedError:
        return PaymentRefusedError(
            f"Refusing to pay {price}: {detail}. Nothing was signed.", reason=reason
        )

    if offer.scheme != "exact":
        raise refuse("unsupported_scheme", f"scheme {offer.scheme[:40]!r} is not supported")
    method = offer.extra.get("assetTransferMethod")
    flow = offer.extra.get("paymentFlow")
    if method not in _EIP3009_METHODS or flow not in _PAYMENT_FLOWS:
        raise refuse(
            "unsupported_scheme",
            f"transfer method {str(method)[:40]!r} with payment flow {str(flow)[:40]!r} is "
            f"not supported (only EIP-3009 authorizations are)",
        )
    network = find_network(offer.network)
    if network is None or network not in allowed:
        allowed_ids = ", ".join(n.caip2 for n in allowed)
        raise refuse(
            "network_not_allowed",
            f"network {offer.network[:80]!r} is not allowed (allowed: {allowed_ids})",
        )
    if offer.asset.lower() != network.usdc.lower():
        raise refuse(
            "asset_not_allowed",
            f"asset {offer.asset[:80]!r} is not USDC on {network.caip2} ({network.usdc})",
        )
    if not is_address(offer.pay_to):
        raise refuse("pay_to_not_allowed", f"payTo {offer.pay_to[:80]!r} is not an address")
    if policy.pay_to is not None and offer.pay_to.lower() not in {a.lower() for a in policy.pay_to}:
        raise refuse(
            "pay_to_not_allowed",
            f"payTo {offer.pay_to} is not in PaymentPolicy.pay_to ({', '.join(policy.pay_to)})",
        )
    if (
        policy.pay_to is None
        and policy.pin_pay_to
        and paid_to is not None
        and offer.pay_to.lower() != paid_to.lower()
    ):
        raise refuse(
            "pay_to_changed",
            f"the gateway switched its payTo from {paid_to} to {offer.pay_to} mid-session; "
            f"list the new address in PaymentPolicy.pay_to to allow it",
        )
    cap = policy.max_per_call_micros
    if amount_micros > cap:
        raise refuse(
            "over_cap",
            f"above the per-call cap of {format_usd(cap)} (PaymentPolicy.max_per_call_usd)",
        )
    if max_amount_micros is not None and amount_micros > max_amount_micros:
        raise refuse(
            "over_budget",
            f"above the {format_usd(max(max_amount_micros, 0))} the budget has left",
        )
    return network


def select_offer(
    challenge: PaymentChallenge,
    policy: PaymentPolicy,
    *,
    default_network: Network,
    max_amount_micros: int | None = None,
    paid_to: str | None = None,
) -> tuple[PaymentOffer, Network]:
    """The first offer the policy (and budget, when given) allows, with its network.

    ``paid_to`` is the recipient already paid this session (:class:`PayeePin`).
    Raises ``PaymentRefusedError`` with the most specific reason when none qualifies:
    ``over_cap``, ``over_budget``, ``pay_to_changed``, ``pay_to_not_allowed``,
    ``asset_not_allowed``, ``network_not_allowed``, ``unsupported_scheme`` or ``no_offers``.
    """
    allowed = policy.allowed_networks(default_network)
    best = PaymentRefusedError(
        "Refusing to pay: the 402 challenge lists no usable payment offers. Nothing was signed.",
        reason="no_offers",
    )
    for offer in challenge.offers:
        try:
            network = check_offer(
                offer,
                policy,
                allowed=allowed,
                amount_micros=offer.amount,
                max_amount_micros=max_amount_micros,
                paid_to=paid_to,
            )
        except PaymentRefusedError as refusal:
            if _REASON_RANK.index(refusal.reason) > _REASON_RANK.index(best.reason):
                best = refusal
            continue
        return offer, network
    raise best
