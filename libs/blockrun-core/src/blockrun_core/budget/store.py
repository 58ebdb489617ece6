"""What a budget store must do: reserve before signing, then commit or release, atomically.

A store keeps, per budget, the spend that was committed (with the time it was committed, for
rolling windows) and the live reservations (each with an expiry, so a crashed process never
locks a budget for good). All amounts are integer micro-USD (USDC has 6 decimals), so sums
are exact. A store never decides policy: :class:`~blockrun_core.budget.Budget` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["BudgetKey", "BudgetStore", "Refusal", "Usage"]


@dataclass(frozen=True, slots=True)
class BudgetKey:
    """One budget as a store sees it: a stable key, a limit and an optional rolling window."""

    key: str
    limit_micros: int
    window_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """A budget's state: committed spend (inside its window) and live reservations."""

    spent_micros: int
    reserved_micros: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a reservation did not fit: the first budget of the chain that is too full."""

    budget: BudgetKey
    usage: Usage


@runtime_checkable
class BudgetStore(Protocol):
    """Shared state behind budgets. Every method is atomic across threads and processes.

    ``chain`` is a budget followed by its ancestors. ``now`` is wall-clock seconds (the
    caller's ``time.time()``), used for windows and reservation expiry.
    """

    def reserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        """Reserve ``micros`` on every budget of ``chain``, or on none.

        A budget fits when ``spent + reserved + micros <= limit`` (expired reservations and
        spend outside the window do not count). Returns ``None`` on success, else the
        first budget that does not fit, with nothing reserved anywhere.
        """
        ...

    def commit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        """Turn a reservation into ``micros`` of spend on every budget of ``chain``.

        The spend is recorded even when the reservation is unknown or has expired (money
        that moved must always count). Idempotent per ``reservation_id``.
        """
        ...

    def release(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        """Drop a reservation without spending (nothing was charged); unknown ids are fine."""
        ...

    def usage(self, budget: BudgetKey, *, now: float) -> Usage:
        """The budget's current spend and live reservations."""
        ...

    async def areserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        """The awaitable :meth:`reserve`; never blocks the event loop on I/O."""
        ...

    async def acommit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        """The awaitable :meth:`commit`."""
        ...

    async def arelease(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        """The awaitable :meth:`release`."""
        ...

    async def ausage(self, budget: BudgetKey, *, now: float) -> Usage:
        """The awaitable :meth:`usage`."""
        ...

    def close(self) -> None:
        """Release connections and files; the store may not be used afterwards."""
        ...

    async def aclose(self) -> None:
        """The awaitable :meth:`close`; closes async connections in their own event loop."""
        ...
