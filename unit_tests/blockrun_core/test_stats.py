"""Stats over the ledger: grouping, since, savings, timelines, and time specs."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from blockrun_core.errors import ConfigurationError
from blockrun_core.ledger import (
    Ledger,
    StatsRow,
    UsageRecord,
    timeline,
    to_timestamp,
    usage_stats,
)

from unit_tests.blockrun_core.usage_records import DAY, NOV_1, make_record

MINI, FREE, PREMIUM, SONNET = (
    "openai/gpt-4o-mini",
    "nvidia/gpt-oss-120b",
    "openai/gpt-5",
    "anthropic/claude-sonnet-4",
)
HOUR = 3600.0


def _attempt(at: float, call: str, model: str | None, **fields: Any) -> UsageRecord:
    defaults: dict[str, Any] = {
        "at": at,
        "call_id": call,
        "requested_model": model or SONNET,
        "served_model": model,
        "input_tokens": 100,
        "output_tokens": 20,
        "prompt": None,
        "response": None,
    }
    return make_record(0, **(defaults | fields))


# Four calls over three days; call "a" walked a fallback chain (a failed attempt, then mini).
RECORDS = [
    _attempt(
        NOV_1 + 10 * HOUR,
        "a",
        None,
        status="failed",
        paid_usd=0.0,
        baseline_usd=None,
        savings_usd=None,
        input_tokens=None,
        output_tokens=None,
        run_id="r1",
        agent_id="planner",
    ),
    _attempt(
        NOV_1 + 10 * HOUR + 2,
        "a",
        MINI,
        attempt=1,
        paid_usd=0.000150,
        baseline_usd=0.003,
        savings_usd=0.00285,
        run_id="r1",
        agent_id="planner",
    ),
    _attempt(
        NOV_1 + 11 * HOUR,
        "b",
        FREE,
        status="free",
        paid_usd=0.0,
        baseline_usd=0.002,
        savings_usd=0.002,
        run_id="r1",
        agent_id="coder",
        budget="solo",
    ),
    _attempt(
        NOV_1 + DAY + 5 * HOUR,
        "c",
        MINI,
        paid_usd=0.000300,
        baseline_usd=0.003,
        savings_usd=0.0027,
        input_tokens=1000,
        output_tokens=200,
        run_id="r2",
        agent_id="planner",
    ),
    _attempt(
        NOV_1 + 2 * DAY + 1,
        "d",
        PREMIUM,
        paid_usd=0.004,
        baseline_usd=0.003,
        savings_usd=-0.001,
        run_id=None,
        agent_id=None,
        budget=None,
    ),
]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "usage.sqlite3") as ledger:
        for record in RECORDS:
            ledger.record(record)
    return ledger


def _by_key(rows: tuple[StatsRow, ...]) -> dict[str | None, StatsRow]:
    return {row.key: row for row in rows}


def test_by_model_counts_calls_attempts_tokens_spend_and_savings(ledger: Ledger) -> None:
    stats = usage_stats(ledger, by="model")
    assert [row.key for row in stats.rows] == [PREMIUM, MINI, SONNET, FREE]  # spend, calls, name
    rows = _by_key(stats.rows)

    mini = rows[MINI]
    assert (mini.calls, mini.attempts) == (2, 2)
    assert (mini.input_tokens, mini.output_tokens) == (1100, 220)
    assert mini.spend_usd == 0.00045
    assert mini.savings_usd == pytest.approx(0.00285 + 0.0027)
    assert mini.savings_fraction == pytest.approx((0.00285 + 0.0027) / 0.006)

    failed = rows[SONNET]  # a failed attempt counts under the model it tried
    assert (failed.calls, failed.attempts, failed.spend_usd) == (1, 1, 0.0)
    assert failed.savings_fraction is None

    assert rows[PREMIUM].savings_usd == pytest.approx(-0.001)
    assert rows[FREE].savings_fraction == pytest.approx(1.0)

    total = stats.total
    assert total.key is None
    assert (total.calls, total.attempts) == (4, 5)  # call "a" once, its two attempts twice
    assert (total.input_tokens, total.output_tokens) == (1300, 260)
    assert total.spend_usd == 0.00445
    assert total.baseline_usd == pytest.approx(0.011)
    assert total.savings_usd == pytest.approx(0.00655)
    assert (total.first_at, total.last_at) == (RECORDS[0].at, RECORDS[-1].at)


def test_by_day_is_in_date_order_in_utc(ledger: Ledger) -> None:
    stats = usage_stats(ledger, by="day")
    assert [(row.key, row.calls, row.spend_usd) for row in stats.rows] == [
        ("2026-11-01", 2, 0.00015),
        ("2026-11-02", 1, 0.0003),
        ("2026-11-03", 1, 0.004),
    ]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("run", [(None, 1, 0.004), ("r2", 1, 0.0003), ("r1", 2, 0.00015)]),
        ("agent", [(None, 1, 0.004), ("planner", 2, 0.00045), ("coder", 1, 0.0)]),
        ("budget", [(None, 1, 0.004), ("team", 2, 0.00045), ("solo", 1, 0.0)]),
    ],
)
def test_by_run_agent_and_budget(
    ledger: Ledger, by: Any, expected: list[tuple[str | None, int, float]]
) -> None:
    stats = usage_stats(ledger, by=by)
    assert [(row.key, row.calls, row.spend_usd) for row in stats.rows] == expected
    assert sum(row.spend_usd for row in stats.rows) == pytest.approx(stats.total.spend_usd)


@pytest.mark.parametrize(
    "since",
    [
        "2026-11-02",
        "2026-11-02T00:00:00Z",
        "2026-11-02T01:00:00+01:00",
        datetime(2026, 11, 2),
        datetime(2026, 11, 1, 19, tzinfo=timezone(timedelta(hours=-5))),
        date(2026, 11, 2),
        NOV_1 + DAY,
    ],
)
def test_since_keeps_later_records(ledger: Ledger, since: Any) -> None:
    stats = usage_stats(ledger, by="model", since=since)
    assert stats.since == NOV_1 + DAY
    assert [row.key for row in stats.rows] == [PREMIUM, MINI]
    assert (stats.total.calls, stats.total.spend_usd) == (2, 0.0043)


def test_spend_sums_are_exact(tmp_path: Path) -> None:
    with Ledger(tmp_path / "u.sqlite3") as ledger:
        for i in range(10):
            ledger.record(make_record(i, paid_usd=0.1))
    assert sum([0.1] * 10) != 1.0  # what naive float sums give
    assert usage_stats(ledger).total.spend_usd == 1.0


def test_to_dict_is_plain_json(ledger: Ledger) -> None:
    data = json.loads(json.dumps(usage_stats(ledger, by="agent", since=NOV_1).to_dict()))
    assert data["by"] == "agent"
    assert data["since"] == NOV_1
    assert [row["key"] for row in data["rows"]] == [None, "planner", "coder"]
    planner = data["rows"][1]
    assert planner["calls"] == 2
    assert planner["spend_usd"] == 0.00045
    assert planner["savings_fraction"] == round((0.00285 + 0.0027) / 0.006, 4)
    assert data["total"]["spend_usd"] == 0.00445


def test_an_empty_or_missing_ledger_has_zero_totals(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.sqlite3"
    for source in (missing, Ledger(missing), str(missing)):
        stats = usage_stats(source, by="day")
        assert stats.rows == ()
        assert (stats.total.calls, stats.total.attempts, stats.total.spend_usd) == (0, 0, 0.0)
        assert stats.total.first_at is None
        assert timeline(source) == ()
    assert not missing.exists(), "queries must not create a ledger"


def test_timeline_per_day_and_per_hour(ledger: Ledger) -> None:
    days = timeline(ledger, bucket="day")
    assert [(p.start, p.calls, p.spend_usd) for p in days] == [
        (NOV_1, 2, 0.00015),
        (NOV_1 + DAY, 1, 0.0003),
        (NOV_1 + 2 * DAY, 1, 0.004),
    ]
    assert days[0].savings_usd == pytest.approx(0.00485)

    hours = timeline(ledger, bucket="hour", since="2026-11-01T10:30:00Z")
    assert [p.start for p in hours] == [NOV_1 + 11 * HOUR, NOV_1 + DAY + 5 * HOUR, NOV_1 + 2 * DAY]


def test_bad_grouping_and_bucket_are_clear_errors(ledger: Ledger) -> None:
    with pytest.raises(ConfigurationError, match="Invalid grouping 'week'"):
        usage_stats(ledger, by="week")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Invalid bucket 'minute'"):
        timeline(ledger, bucket="minute")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Invalid time '7x'"):
        usage_stats(ledger, since="7x")


# --------------------------------------------------------------------------- time specs

NOW = NOV_1 + 10 * DAY


@pytest.mark.parametrize(
    ("spec", "seconds_ago"),
    [
        ("7d", 7 * DAY),
        ("24h", DAY),
        ("24H", DAY),
        ("30m", 1800),
        ("90s", 90),
        ("2w", 14 * DAY),
        (" 1.5h ", 5400),
        ("0d", 0),
    ],
)
def test_durations_count_back_from_now(spec: str, seconds_ago: float) -> None:
    assert to_timestamp(spec, now=NOW) == NOW - seconds_ago


def test_absolute_times_are_utc_unless_they_say_otherwise() -> None:
    assert to_timestamp("2026-11-01") == NOV_1
    assert to_timestamp("2026-11-01T06:00") == NOV_1 + 6 * HOUR
    assert to_timestamp("2026-11-01T06:00:00Z") == NOV_1 + 6 * HOUR
    assert to_timestamp("2026-11-01T06:00:00+02:00") == NOV_1 + 4 * HOUR
    assert to_timestamp(datetime(2026, 11, 1, 6)) == NOV_1 + 6 * HOUR
    assert to_timestamp(date(2026, 11, 1)) == NOV_1
    assert to_timestamp(timedelta(hours=2), now=NOW) == NOW - 2 * HOUR
    assert to_timestamp(NOV_1) == NOV_1
    assert to_timestamp(int(NOV_1)) == NOV_1


@pytest.mark.parametrize(
    "bad", ["7x", "", "-7d", "d7", "yesterday", "2026-13-01", "7 days", math.nan, True, None]
)
def test_bad_times_are_clear_errors(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"Invalid time .*expected a duration like"):
        to_timestamp(bad, now=NOW)


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="cannot be negative"):
        to_timestamp(timedelta(days=-1))
