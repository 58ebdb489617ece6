"""The default budget store: one process, a lock, plain dictionaries."""

from __future__ import annotations

import heapq
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from ._retention import commit_retention
from .store import BudgetKey, Refusal, Usage

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Ledger:
    """One budget's state, with running totals so every operation is O(1) amortised."""

    spent: int = 0
    reserved: int = 0
    spends: deque[tuple[float, int]] = field(default_factory=deque)  # windowed budgets only
    reservations: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (µ, exp)
    expiries: list[tuple[float, str]] = field(default_factory=list)  # heap; may hold stale ids
    committed: set[str] = field(default_factory=set)
    commits: deque[tuple[float, str]] = field(default_factory=deque)  # to forget old ids

    def hold(self, reservation_id: str, micros: int, expires: float) -> None:
        self.drop(reservation_id)
        self.reservations[reservation_id] = (micros, expires)
        self.reserved += micros
        heapq.heappush(self.expiries, (expires, reservation_id))

    def drop(self, reservation_id: str) -> None:
        held = self.reservations.pop(reservation_id, None)
        if held is not None:
            self.reserved -= held[0]
        # Released ids stay in the heap until they expire; rebuild it when they dominate.
        if len(self.expiries) > 2 * len(self.reservations) + 64:
            self.expiries = [(until, rid) for rid, (_, until) in self.reservations.items()]
            heapq.heapify(self.expiries)

    def expire(self, now: float) -> None:
        while self.expiries and self.expiries[0][0] <= now:
            until, rid = heapq.heappop(self.expiries)
            held = self.reservations.get(rid)
            if held is not None and held[1] == until:
                del self.reservations[rid]
                self.reserved -= held[0]


class MemoryStore:
    """Budgets shared by the threads and tasks of one process.

    Async methods run inline: every operation is a few dictionary updates under a lock
    that is never held across an ``await``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._budgets: dict[str, _Ledger] = {}

    def __repr__(self) -> str:
        return "MemoryStore()"

    def reserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        with self._lock:
            states = [self._state(key, now) for key in chain]
            for key, state in zip(chain, states, strict=True):
                if state.spent + state.reserved + micros > key.limit_micros:
                    return Refusal(key, Usage(state.spent, state.reserved))
            for state in states:
                state.hold(reservation_id, micros, now + ttl_seconds)
            return None

    def commit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        with self._lock:
            for key in chain:
                state = self._budgets.setdefault(key.key, _Ledger())
                state.drop(reservation_id)
                _forget_commits(state, now - commit_retention(key.window_seconds))
                if reservation_id in state.committed:
                    continue
                state.committed.add(reservation_id)
                state.commits.append((now, reservation_id))
                state.spent += micros
                if key.window_seconds is not None:
                    state.spends.append((now, micros))

    def release(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        with self._lock:
            for key in chain:
                state = self._budgets.get(key.key)
                if state is not None:
                    state.drop(reservation_id)

    def usage(self, budget: BudgetKey, *, now: float) -> Usage:
        with self._lock:
            state = self._state(budget, now)
            return Usage(state.spent, state.reserved)

    async def areserve(
        self,
        chain: Sequence[BudgetKey],
        reservation_id: str,
        micros: int,
        *,
        now: float,
        ttl_seconds: float,
    ) -> Refusal | None:
        return self.reserve(chain, reservation_id, micros, now=now, ttl_seconds=ttl_seconds)

    async def acommit(
        self, chain: Sequence[BudgetKey], reservation_id: str, micros: int, *, now: float
    ) -> None:
        self.commit(chain, reservation_id, micros, now=now)

    async def arelease(self, chain: Sequence[BudgetKey], reservation_id: str) -> None:
        self.release(chain, reservation_id)

    async def ausage(self, budget: BudgetKey, *, now: float) -> Usage:
        return self.usage(budget, now=now)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""

    def _state(self, key: BudgetKey, now: float) -> _Ledger:
        """The budget's state with expired reservations and out-of-window spend dropped."""
        state = self._budgets.setdefault(key.key, _Ledger())
        state.expire(now)
        if key.window_seconds is not None:
            start = now - key.window_seconds
            while state.spends and state.spends[0][0] <= start:
                state.spent -= state.spends.popleft()[1]
        return state


def _forget_commits(state: _Ledger, before: float) -> None:
    """Forget committed ids older than ``before``: a repeat that late is not a retry."""
    while state.commits and state.commits[0][0] <= before:
        state.committed.discard(state.commits.popleft()[1])
