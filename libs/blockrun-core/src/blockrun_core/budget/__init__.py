"""Budgets enforced before a payment is signed: per call, run, agent or team.

``Budget`` holds the policy; a store holds the shared state: ``MemoryStore`` (one process,
the default), ``SQLiteStore`` (processes on one machine) or ``RedisStore`` (a fleet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blockrun_core._lazy import lazy_exports

if TYPE_CHECKING:
    from .budget import Budget, BudgetMode, BudgetState, Reservation
    from .memory import MemoryStore
    from .redis import RedisStore
    from .sqlite import SQLiteStore
    from .store import BudgetKey, BudgetStore, Refusal, Usage

__all__ = [
    "Budget",
    "BudgetKey",
    "BudgetMode",
    "BudgetState",
    "BudgetStore",
    "MemoryStore",
    "RedisStore",
    "Refusal",
    "Reservation",
    "SQLiteStore",
    "Usage",
]

_EXPORTS = {
    "Budget": "budget",
    "BudgetMode": "budget",
    "BudgetState": "budget",
    "Reservation": "budget",
    "MemoryStore": "memory",
    "RedisStore": "redis",
    "SQLiteStore": "sqlite",
    "BudgetKey": "store",
    "BudgetStore": "store",
    "Refusal": "store",
    "Usage": "store",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
