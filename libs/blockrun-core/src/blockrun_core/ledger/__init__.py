"""The usage ledger: one row per attempt in a SQLite file, and the stats read from it.

``Ledger()`` appends to ``~/.blockrun/usage.sqlite3`` (``$BLOCKRUN_HOME`` moves it,
``BLOCKRUN_LEDGER=off`` turns the default off); ``resolve_ledger(value)`` is what clients
call with their ``ledger=`` argument. ``usage_stats`` and ``timeline`` are the queries
behind ``blockrun stats``. SQLite and the queries load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blockrun_core._lazy import lazy_exports

from .records import STATUSES, Status, UsageRecord, describe_error, redact

if TYPE_CHECKING:
    from .sqlite import LEDGER_ENV, Ledger, LedgerSetting, default_ledger_path, resolve_ledger
    from .stats import (
        GROUPINGS,
        Bucket,
        Grouping,
        StatsRow,
        TimelinePoint,
        UsageStats,
        timeline,
        usage_stats,
    )
    from .timespec import Since, to_timestamp

__all__ = [
    "GROUPINGS",
    "LEDGER_ENV",
    "STATUSES",
    "Bucket",
    "Grouping",
    "Ledger",
    "LedgerSetting",
    "Since",
    "StatsRow",
    "Status",
    "TimelinePoint",
    "UsageRecord",
    "UsageStats",
    "default_ledger_path",
    "describe_error",
    "redact",
    "resolve_ledger",
    "timeline",
    "to_timestamp",
    "usage_stats",
]

_LAZY = {
    **dict.fromkeys(
        ("LEDGER_ENV", "Ledger", "LedgerSetting", "default_ledger_path", "resolve_ledger"),
        "sqlite",
    ),
    **dict.fromkeys(
        (
            "GROUPINGS",
            "Bucket",
            "Grouping",
            "StatsRow",
            "TimelinePoint",
            "UsageStats",
            "timeline",
            "usage_stats",
        ),
        "stats",
    ),
    "Since": "timespec",
    "to_timestamp": "timespec",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
