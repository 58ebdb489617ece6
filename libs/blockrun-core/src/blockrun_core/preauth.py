"""Pre-authorisation: pay a repeat call in one round trip instead of two.

After a 402 for a model we remember its offer and the ratio between the gateway's quote
and our own computation of the documented quote formula for that request. A later call to
the same model within ``ttl_seconds`` is signed up front for our computed quote times that
ratio (rounded up), and only while the ratio stays within 5 % of 1: the gateway's formula
and ours agree, so the amount is our best prediction of its quote, never knowingly below
it, and at most 5 % above it. If the gateway refuses the amount it answers 402, which
means nothing was charged: the client forgets the entry and takes the normal 402 path.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .x402 import PaymentChallenge, PaymentOffer
from .x402.networks import Network

__all__ = ["MAX_RATIO_DRIFT", "PreauthCache", "PreauthPlan"]

MAX_RATIO_DRIFT = 0.05


@dataclass(frozen=True, slots=True)
class PreauthPlan:
    """What to sign up front for a call."""

    challenge: PaymentChallenge
    offer: PaymentOffer
    network: Network
    amount_micros: int


@dataclass(frozen=True, slots=True)
class _Entry:
    challenge: PaymentChallenge
    offer: PaymentOffer
    network: Network
    ratio: float
    seen_at: float


class PreauthCache:
    """Per-model memory of the last challenge; safe to share between threads."""

    def __init__(self, ttl_seconds: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def remember(
        self,
        model: str,
        challenge: PaymentChallenge,
        offer: PaymentOffer,
        network: Network,
        local_quote_micros: int,
    ) -> None:
        """Record a challenge answered for ``model`` and our own quote for that request."""
        if local_quote_micros <= 0:
            return
        entry = _Entry(challenge, offer, network, offer.amount / local_quote_micros, self._clock())
        with self._lock:
            self._entries[model] = entry

    def plan(self, model: str, local_quote_micros: int) -> PreauthPlan | None:
        """What to sign up front for a call whose locally computed quote is given, if anything."""
        with self._lock:
            entry = self._entries.get(model)
        if entry is None or local_quote_micros <= 0:
            return None
        if self._clock() - entry.seen_at > self._ttl:
            self.forget(model)
            return None
        if abs(entry.ratio - 1.0) > MAX_RATIO_DRIFT:
            return None
        amount = math.ceil(local_quote_micros * entry.ratio - 1e-9)
        return PreauthPlan(entry.challenge, entry.offer, entry.network, amount)

    def forget(self, model: str) -> None:
        """Drop what we know about ``model`` (its pre-authorised payment was refused)."""
        with self._lock:
            self._entries.pop(model, None)
