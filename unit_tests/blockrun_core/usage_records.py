"""Deterministic usage records for the ledger and stats tests (also used by child processes)."""

from __future__ import annotations

from typing import Any

from blockrun_core.ledger import UsageRecord

# 2026-11-01 00:00:00 UTC
NOV_1 = 1_793_491_200.0
DAY = 86_400.0


def make_record(i: int, **overrides: Any) -> UsageRecord:
    """Record number ``i``: every field derived from ``i``, so a row can be checked whole."""
    fields: dict[str, Any] = {
        "at": NOV_1 + i * 0.5,
        "call_id": f"call-{i}",
        "attempt": 0,
        "run_id": f"run-{i % 3}",
        "thread_id": f"thread-{i % 2}",
        "agent_id": f"agent-{i % 4}",
        "budget": "team",
        "requested_model": "auto",
        "served_model": "openai/gpt-4o-mini",
        "tier": "SIMPLE",
        "profile": "auto",
        "input_tokens": 100 + i,
        "output_tokens": 10 + i % 50,
        "quoted_usd": (200 + i) / 1_000_000,
        "paid_usd": (150 + i) / 1_000_000,
        "baseline_usd": (3_000 + i) / 1_000_000,
        "savings_usd": 2_850 / 1_000_000,
        "latency_ms": 12.5 + i,
        "status": "settled",
        "tx_hash": "0x" + f"{i:064x}",
        "error": None,
        "prompt": f"prompt {i}",
        "response": f"response {i}",
    }
    fields.update(overrides)
    return UsageRecord(**fields)


def index_of(record: UsageRecord) -> int:
    """The ``i`` a record was made from."""
    return int(record.call_id.rsplit("-", 1)[1])
