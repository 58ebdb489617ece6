"""``Budget``: a spending limit that is checked before a payment is signed, never after.

A client reserves a call's quote on the budget and every ancestor in one atomic step, signs
only if that succeeds, then commits what it actually paid (or releases the reservation
when nothing was charged). Budgets with the same ``name`` on the same shared store (SQLite
or Redis) are one budget, whichever process or machine uses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from blockrun_core.errors import BudgetExceededError, ConfigurationError

from .memory import MemoryStore
from .store import BudgetKey, BudgetStore, Refusal, Usage

__all__ = ["Budget", "BudgetMode", "BudgetState", "Reservation"]

BudgetMode = Literal["strict", "graceful"]
"""``strict`` raises when a call does not fit; ``graceful`` first downgrades to cheaper models."""
MICROS_PER_USD = 1_000_000
DEFAULT_RESERVATION_TTL = 600.0


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget's state in USD at one moment."""

    name: str
    limit_usd: float
    spent_usd: float
    reserved_usd: float

    @property
    def remaining_usd(self) -> float:
        """What can still be reserved: limit minus spend and live reservations."""
        return max(0.0, self.limit_usd - self.spent_usd - self.reserved_usd)


class Budget:
    """A spending limit in USD for calls, runs, agents or whole teams.

    >>> team = Budget(5.00, name="team")
    >>> researcher = Budget(2.00, name="researcher", parent=team)

    ``mode="strict"`` raises :class:`BudgetExceededError` before a call that cannot fit;
    ``"graceful"`` lets the router fall back to cheaper and then free models first.
    ``window`` (seconds or a ``timedelta``) makes the limit rolling, e.g. per hour.
    ``store`` shares the state: in-memory by default, ``SQLiteStore`` across processes,
    ``RedisStore`` across machines. A child uses its parent's store.
    """

    name: str
    limit_usd: float
    mode: BudgetMode
    parent: Budget | None
    window_seconds: float | None
    store: BudgetStore

    def __init__(
        self,
        limit_usd: float,
        *,
        mode: BudgetMode = "strict",
        name: str | None = None,
        parent: Budget | None = None,
        window: float | timedelta | None = None,
        store: BudgetStore | None = None,
        reservation_ttl: float = DEFAULT_RESERVATION_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit_usd = _valid_limit(limit_usd)
        if mode not in ("strict", "graceful"):
            raise ConfigurationError(f"mode must be 'strict' or 'graceful', not {mode!r}.")
        if parent is not None and not isinstance(parent, Budget):
            raise ConfigurationError(f"parent must be a Budget, not {type(parent).__name__}.")
        if parent is not None and self.limit_usd > parent.limit_usd:
            raise ConfigurationError(
                f"A child budget (${self.limit_usd:g}) cannot be larger than its parent "
                f"{parent.name!r} (${parent.limit_usd:g})."
            )
        if parent is not None and store is not None and store is not parent.store:
            raise ConfigurationError(
                "A child budget must use its parent's store: reservations on a budget and "
                "its ancestors are one atomic step."
            )
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ConfigurationError("name must be a non-empty string.")
        if not (isinstance(reservation_ttl, (int, float)) and reservation_ttl > 0):
            raise ConfigurationError("reservation_ttl must be a positive number of seconds.")
        self.mode = mode
        self.name = name or f"budget-{uuid.uuid4().hex[:12]}"
        self.parent = parent
        self.window_seconds = _valid_window(window)
        self.store = parent.store if parent is not None else store or MemoryStore()
        self.reservation_ttl = float(reservation_ttl)
        self._clock = clock
        self._key = BudgetKey(self.name, _to_micros(self.limit_usd), self.window_seconds)
        ancestors = parent._chain if parent is not None else ()
        if any(key.key == self.name for key in ancestors):
            raise ConfigurationError(f"Budget {self.name!r} cannot be its own ancestor.")
        self._chain: tuple[BudgetKey, ...] = (self._key, *ancestors)

    # -- reading -----------------------------------------------------------------------

    def state(self) -> BudgetState:
        """Spend and live reservations now (read from the store)."""
        return self._state(self.store.usage(self._key, now=self._clock()))

    async def astate(self) -> BudgetState:
        """The awaitable :meth:`state`."""
        return self._state(await self.store.ausage(self._key, now=self._clock()))

    @property
    def spent(self) -> float:
        """USD committed (inside the window, if any)."""
        return self.state().spent_usd

    @property
    def reserved(self) -> float:
        """USD held by calls in flight."""
        return self.state().reserved_usd

    @property
    def remaining(self) -> float:
        """USD that can still be reserved on this budget alone (ancestors may have less)."""
        return self.state().remaining_usd

    def available_micros(self) -> int:
        """What a call could reserve now through this budget and all its ancestors."""
        now = self._clock()
        return min(key.limit_micros - _held(self.store.usage(key, now=now)) for key in self._chain)

    async def aavailable_micros(self) -> int:
        """The awaitable :meth:`available_micros`."""
        now = self._clock()
        held = [_held(await self.store.ausage(key, now=now)) for key in self._chain]
        return min(key.limit_micros - h for key, h in zip(self._chain, held, strict=True))

    # -- reserving ---------------------------------------------------------------------

    def reserve(self, micros: int) -> Reservation:
        """Hold ``micros`` on this budget and every ancestor, or raise ``BudgetExceededError``."""
        rid = _new_id()
        try:
            refusal = self.store.reserve(
                self._chain, rid, micros, now=self._clock(), ttl_seconds=self.reservation_ttl
            )
        except BaseException:  # the store may have acted before it failed: undo by id
            with contextlib.suppress(Exception):
                self.store.release(self._chain, rid)
            raise
        return self._reservation(rid, micros, refusal)

    async def areserve(self, micros: int) -> Reservation:
        """The awaitable :meth:`reserve`.

        Cancelled (or failing) while the store works, it releases the reservation id it
        chose, in case the store had already acted: the room does not wait for the TTL.
        """
        rid = _new_id()
        try:
            refusal = await self.store.areserve(
                self._chain, rid, micros, now=self._clock(), ttl_seconds=self.reservation_ttl
            )
        except BaseException:
            with contextlib.suppress(Exception):  # unknown ids are fine; a dead store too
                await asyncio.shield(self.store.arelease(self._chain, rid))
            raise
        return self._reservation(rid, micros, refusal)

    def commit(self, reservation: Reservation, micros: int) -> None:
        """Record ``micros`` as spent (what was actually paid) in place of the reservation."""
        self.store.commit(self._chain, reservation.id, micros, now=self._clock())

    async def acommit(self, reservation: Reservation, micros: int) -> None:
        """The awaitable :meth:`commit`."""
        await self.store.acommit(self._chain, reservation.id, micros, now=self._clock())

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation: nothing was charged."""
        self.store.release(self._chain, reservation.id)

    async def arelease(self, reservation: Reservation) -> None:
        """The awaitable :meth:`release`."""
        await self.store.arelease(self._chain, reservation.id)

    def __repr__(self) -> str:
        parent = f", parent={self.parent.name!r}" if self.parent else ""
        return f"Budget({self.limit_usd:g}, mode={self.mode!r}, name={self.name!r}{parent})"

    def _reservation(self, rid: str, micros: int, refusal: Refusal | None) -> Reservation:
        if refusal is None:
            return Reservation(rid, micros)
        key, usage = refusal.budget, refusal.usage
        raise BudgetExceededError(
            budget=key.key,
            limit_usd=key.limit_micros / MICROS_PER_USD,
            spent_usd=usage.spent_micros / MICROS_PER_USD,
            requested_usd=micros / MICROS_PER_USD,
            reserved_usd=usage.reserved_micros / MICROS_PER_USD,
        )

    def _state(self, usage: Usage) -> BudgetState:
        return BudgetState(
            self.name,
            self.limit_usd,
            usage.spent_micros / MICROS_PER_USD,
            usage.reserved_micros / MICROS_PER_USD,
        )


@dataclass(frozen=True, slots=True)
class Reservation:
    """A hold on a budget for one payment."""

    id: str
    micros: int


def _new_id() -> str:
    return uuid.uuid4().hex


def _held(usage: Usage) -> int:
    return usage.spent_micros + usage.reserved_micros


def _to_micros(usd: float) -> int:
    return round(usd * MICROS_PER_USD)


def _valid_limit(limit_usd: object) -> float:
    if isinstance(limit_usd, bool) or not isinstance(limit_usd, (int, float)):
        raise ConfigurationError(f"limit_usd must be a number, not {type(limit_usd).__name__}.")
    if not math.isfinite(limit_usd) or limit_usd < 0:
        raise ConfigurationError(f"limit_usd must be a finite amount >= 0, not {limit_usd!r}.")
    return float(limit_usd)


def _valid_window(window: object) -> float | None:
    if window is None:
        return None
    seconds = window.total_seconds() if isinstance(window, timedelta) else window
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ConfigurationError("window must be seconds or a timedelta.")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(f"window must be a positive duration, not {window!r}.")
    return float(seconds)
