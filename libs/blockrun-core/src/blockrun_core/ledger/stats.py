"""Queries over the ledger: spend, calls, tokens and savings, grouped, and over time.

Days and hours are UTC. ``calls`` counts distinct calls (a call that walked a fallback chain
counts once per group it touched); ``attempts`` counts rows. Savings are summed from the
attempts that report them, and ``savings_fraction`` is that sum over their baseline.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from blockrun_core.errors import ConfigurationError

from .schema import connect_for_reading, select_sql, where_clause
from .sqlite import Ledger
from .timespec import Since, to_timestamp
from .writer import commit_pending

__all__ = [
    "GROUPINGS",
    "Bucket",
    "Grouping",
    "StatsRow",
    "TimelinePoint",
    "UsageStats",
    "timeline",
    "usage_stats",
]

Grouping = Literal["model", "day", "run", "agent", "budget"]
"""What :func:`usage_stats` groups rows by."""
Bucket = Literal["hour", "day"]
"""The width of one :func:`timeline` point."""
GROUPINGS: tuple[str, ...] = get_args(Grouping)
"""Every :data:`Grouping`, for command-line choices."""

_GROUP_KEYS: dict[str, str] = {
    "model": "COALESCE(served_model, requested_model)",
    "day": "strftime('%Y-%m-%d', at, 'unixepoch')",
    "run": "run_id",
    "agent": "agent_id",
    "budget": "budget",
}
_BUCKET_SECONDS: dict[str, int] = {"hour": 3600, "day": 86400}
# Paid amounts are whole micro-USD, so they are summed as integers: totals are exact.
_SPEND_MICROS = "SUM(CAST(ROUND(paid_usd * 1000000) AS INTEGER))"
_AGGREGATES = f"""
    COUNT(DISTINCT call_id), COUNT(*),
    TOTAL(input_tokens), TOTAL(output_tokens), {_SPEND_MICROS},
    TOTAL(CASE WHEN savings_usd IS NOT NULL THEN baseline_usd END), TOTAL(savings_usd),
    MIN(at), MAX(at)
"""


def _usd(amount: float) -> float:
    return round(amount, 6)


@dataclass(frozen=True, slots=True)
class StatsRow:
    """Totals for one group (``key`` is ``None`` for records without that field, and totals)."""

    key: str | None
    calls: int
    attempts: int
    input_tokens: int
    output_tokens: int
    spend_usd: float
    baseline_usd: float
    savings_usd: float
    first_at: float | None
    last_at: float | None

    @property
    def savings_fraction(self) -> float | None:
        """Savings as a fraction of the baseline cost (``None`` without a baseline)."""
        return self.savings_usd / self.baseline_usd if self.baseline_usd > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; amounts rounded to micro-USD."""
        fraction = self.savings_fraction
        return {
            "key": self.key,
            "calls": self.calls,
            "attempts": self.attempts,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "spend_usd": _usd(self.spend_usd),
            "baseline_usd": _usd(self.baseline_usd),
            "savings_usd": _usd(self.savings_usd),
            "savings_fraction": None if fraction is None else round(fraction, 4),
            "first_at": self.first_at,
            "last_at": self.last_at,
        }


@dataclass(frozen=True, slots=True)
class UsageStats:
    """Grouped totals since a time, and the grand total."""

    by: Grouping
    since: float | None
    rows: tuple[StatsRow, ...]
    total: StatsRow

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {
            "by": self.by,
            "since": self.since,
            "rows": [row.to_dict() for row in self.rows],
            "total": self.total.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """Spend and savings in one hour or day, starting at ``start`` (unix seconds, UTC)."""

    start: float
    calls: int
    spend_usd: float
    savings_usd: float


def _row(key: str | None, values: tuple[Any, ...]) -> StatsRow:
    calls, attempts, tokens_in, tokens_out, micros, baseline, savings, first, last = values
    return StatsRow(
        key=key,
        calls=calls,
        attempts=attempts,
        input_tokens=int(tokens_in),
        output_tokens=int(tokens_out),
        spend_usd=(micros or 0) / 1_000_000,
        baseline_usd=baseline,
        savings_usd=savings,
        first_at=first,
        last_at=last,
    )


def _open(ledger: Ledger | str | os.PathLike[str]) -> sqlite3.Connection | None:
    path = ledger.path if isinstance(ledger, Ledger) else Path(ledger).expanduser()
    commit_pending(path)  # read what this process queued, too
    return connect_for_reading(path)


def _since(since: Since | None) -> float | None:
    return None if since is None else to_timestamp(since)


def usage_stats(
    ledger: Ledger | str | os.PathLike[str], *, by: Grouping = "model", since: Since | None = None
) -> UsageStats:
    """Spend, calls, tokens and savings per ``by`` group since ``since`` (all time if None).

    Days come in date order; other groups by spend, largest first.
    """
    if by not in _GROUP_KEYS:
        raise ConfigurationError(f"Invalid grouping {by!r}: expected one of {list(GROUPINGS)}.")
    start = _since(since)
    where, params = where_clause(start)
    key = _GROUP_KEYS[by]
    order = "grp" if by == "day" else "6 DESC, 2 DESC, grp"  # spend, then calls
    conn = _open(ledger)
    if conn is None:
        return UsageStats(by, start, (), _row(None, (0, 0, 0, 0, 0, 0.0, 0.0, None, None)))
    with closing(conn):
        grouped = conn.execute(
            select_sql(f"{key} AS grp, {_AGGREGATES}", where, f" GROUP BY grp ORDER BY {order}"),
            params,
        ).fetchall()
        total = conn.execute(select_sql(_AGGREGATES, where), params).fetchone()
    return UsageStats(by, start, tuple(_row(g[0], g[1:]) for g in grouped), _row(None, total))


def timeline(
    ledger: Ledger | str | os.PathLike[str], *, since: Since | None = None, bucket: Bucket = "day"
) -> tuple[TimelinePoint, ...]:
    """Spend and savings per UTC hour or day since ``since``, oldest first.

    Buckets without records are left out.
    """
    if bucket not in _BUCKET_SECONDS:
        raise ConfigurationError(f"Invalid bucket {bucket!r}: expected 'hour' or 'day'.")
    seconds = _BUCKET_SECONDS[bucket]
    where, params = where_clause(_since(since))
    conn = _open(ledger)
    if conn is None:
        return ()
    with closing(conn):
        columns = (
            f"CAST(at / {seconds} AS INTEGER) * {seconds} AS start, "
            f"COUNT(DISTINCT call_id), {_SPEND_MICROS}, TOTAL(savings_usd)"
        )
        sql = select_sql(columns, where, " GROUP BY start ORDER BY start")
        rows = conn.execute(sql, params).fetchall()
    return tuple(
        TimelinePoint(float(start), calls, (micros or 0) / 1_000_000, savings)
        for start, calls, micros, savings in rows
    )
