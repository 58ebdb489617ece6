"""``since`` values: a duration back from now (``7d``, ``24h``), a date or a datetime, in UTC."""

from __future__ import annotations

import math
import re
import time
from datetime import date, datetime, timedelta, timezone

from blockrun_core.errors import ConfigurationError

__all__ = ["Since", "to_timestamp"]

Since = datetime | date | timedelta | float | str
"""A start time: an absolute time, a duration back from now, or unix seconds."""

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EXPECTED = "expected a duration like 30m, 24h, 7d, 2w, or a UTC date like 2026-11-01"


def to_timestamp(value: Since, *, now: float | None = None) -> float:
    """Unix seconds for ``value``; naive datetimes and plain dates are read as UTC."""
    if isinstance(value, str):
        return _parse(value, time.time() if now is None else now)
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ConfigurationError(f"Invalid time {value!r}: a duration cannot be negative.")
        return (time.time() if now is None else now) - value.total_seconds()
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ConfigurationError(f"Invalid time {value!r}: {_EXPECTED}.")


def _parse(text: str, now: float) -> float:
    spec = text.strip()
    duration = _DURATION_RE.fullmatch(spec)
    if duration:
        return now - float(duration[1]) * _UNIT_SECONDS[duration[2].lower()]
    try:
        moment = datetime.fromisoformat(spec[:-1] + "+00:00" if spec.endswith("Z") else spec)
    except ValueError:
        raise ConfigurationError(f"Invalid time {text!r}: {_EXPECTED}.") from None
    return to_timestamp(moment)
