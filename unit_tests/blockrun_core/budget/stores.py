"""How the budget tests name a store, so a test and its worker processes open the same one."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from blockrun_core.budget.memory import MemoryStore
from blockrun_core.budget.redis import RedisStore
from blockrun_core.budget.sqlite import SQLiteStore
from blockrun_core.budget.store import BudgetKey

__all__ = ["NOW", "StoreSpec", "key"]

NOW = 1_700_000_000.0  # the tests' injected wall clock


@dataclass(frozen=True)
class StoreSpec:
    """``kind`` is memory, sqlite (``where`` is a path) or redis (``where`` is a URL)."""

    kind: str
    where: str = ""
    prefix: str = ""

    def open(self) -> MemoryStore | SQLiteStore | RedisStore:
        if self.kind == "memory":
            return MemoryStore()
        if self.kind == "sqlite":
            return SQLiteStore(self.where)
        return RedisStore(self.where, prefix=self.prefix)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> StoreSpec:
        return cls(**json.loads(text))


def key(name: str, limit_micros: int, window_seconds: float | None = None) -> BudgetKey:
    return BudgetKey(name, limit_micros, window_seconds)
