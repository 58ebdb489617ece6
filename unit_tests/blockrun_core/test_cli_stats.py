"""``blockrun stats``: the table, --by, --since, --json, --plot and --ledger."""

from __future__ import annotations

import json
import re
import struct
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from blockrun_core import cli
from blockrun_core.ledger import Ledger, UsageStats, usage_stats

from unit_tests.blockrun_core.usage_records import DAY, make_record

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = ("openai/gpt-4o-mini", "nvidia/gpt-oss-120b", "openai/gpt-5")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["stats", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _fill(ledger: Ledger, *, now: float, days: int = 3, per_day: int = 4) -> None:
    """``per_day`` calls on each of the last ``days`` days, over three models and two runs."""
    for day in range(days):
        for n in range(per_day):
            i = day * per_day + n
            ledger.record(
                make_record(
                    i,
                    at=now - day * DAY - n * 60,
                    served_model=MODELS[i % 3],
                    paid_usd=0.0 if i % 3 == 1 else (100 + i) / 1e6,
                    status="free" if i % 3 == 1 else "settled",
                )
            )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "usage.sqlite3") as ledger:
        _fill(ledger, now=time.time())
    return ledger


def _table(out: str) -> tuple[list[str], list[list[str]], list[str]]:
    """Header cells, body rows and the totals row of the printed table."""
    lines = [line for line in out.splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if set(line) <= {"-", " "}) - 1
    table = lines[start:]
    assert len({len(line) for line in table}) == 1, "columns are not aligned"
    cells = [re.split(r"\s{2,}", line.strip()) for line in table]
    assert set(table[1]) <= {"-", " "}
    assert set(table[-2]) <= {"-", " "}
    return cells[0], cells[2:-2], cells[-1]


def _expected_cells(stats: UsageStats) -> list[list[str]]:
    def cells(key: str, row: Any) -> list[str]:
        fraction = row.savings_fraction
        return [
            key,
            f"{row.calls:,}",
            f"{row.attempts:,}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"${row.spend_usd:.6f}",
            f"${row.savings_usd:.6f}",
            "-" if fraction is None else f"{fraction:.1%}",
        ]

    return [cells(row.key or "(none)", row) for row in stats.rows] + [cells("total", stats.total)]


def test_the_table_by_model_has_a_row_per_model_and_totals(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "--ledger", str(ledger.path))
    assert (status, err) == (0, "")
    assert out.startswith(f"Usage by model, all time ({ledger.path})")
    header, rows, total = _table(out)
    numbers = ["calls", "attempts", "tokens in", "tokens out", "spend", "savings", "saved"]
    assert header == ["model", *numbers]
    assert sorted(row[0] for row in rows) == sorted(MODELS)
    assert [*rows, total] == _expected_cells(usage_stats(ledger, by="model"))
    assert total[:3] == ["total", "12", "12"]


@pytest.mark.parametrize("by", ["day", "run", "agent", "budget"])
def test_other_groupings(ledger: Ledger, capsys: pytest.CaptureFixture[str], by: str) -> None:
    status, out, _ = _run(capsys, "--ledger", str(ledger.path), "--by", by)
    assert status == 0
    header, rows, total = _table(out)
    assert header[0] == ("day (UTC)" if by == "day" else by)
    assert [*rows, total] == _expected_cells(usage_stats(ledger, by=by))  # type: ignore[arg-type]
    if by == "day":
        assert len(rows) >= 3
        assert [row[0] for row in rows] == sorted(row[0] for row in rows)


def test_the_default_ledger_is_read_without_ledger(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger() as ledger:
        _fill(ledger, now=time.time(), days=1, per_day=2)
    assert ledger.path == home / ".blockrun" / "usage.sqlite3"
    status, out, _ = _run(capsys)
    assert status == 0
    assert _table(out)[2][:2] == ["total", "2"]


def test_since_keeps_recent_usage_only(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "--ledger", str(ledger.path), "--since", "12h", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["total"]["calls"] == 4  # today's calls; the two earlier days are left out
    assert data["since"] == pytest.approx(time.time() - 12 * 3600, abs=60)

    status, out, _ = _run(capsys, "--ledger", str(ledger.path), "--since", "12h")
    assert status == 0
    assert "Usage by model, since " in out
    assert _table(out)[2][:2] == ["total", "4"]


def test_json_is_the_stats_as_data(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "--ledger", str(ledger.path), "--by", "run", "--json")
    assert (status, err) == (0, "")
    assert json.loads(out) == {
        "ledger": str(ledger.path),
        **json.loads(json.dumps(usage_stats(ledger, by="run").to_dict())),
    }


@pytest.mark.parametrize("spec", ["7x", "-1d", "last week", "2026-02-30"])
def test_a_bad_since_is_a_usage_error(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    status, out, err = _run(capsys, "--ledger", str(ledger.path), f"--since={spec}")
    assert (status, out) == (2, "")
    assert f"argument --since: Invalid time {spec!r}: expected a duration like" in err


def test_a_bad_grouping_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "--by", "week")
    assert (status, out) == (2, "")
    assert "invalid choice: 'week'" in err


def test_no_ledger_yet_is_a_friendly_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "none.sqlite3"
    status, out, err = _run(capsys, "--ledger", str(path))
    assert (status, err) == (0, "")
    assert out.startswith(f"No usage recorded yet ({path} does not exist).")
    assert not path.exists()

    status, out, _ = _run(capsys, "--ledger", str(path), "--json")
    assert status == 0
    data = json.loads(out)
    assert (data["rows"], data["total"]["calls"]) == ([], 0)


def test_nothing_since_is_a_friendly_message(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "empty.png"
    argv = ["--ledger", str(ledger.path), "--since", "2099-01-01", "--plot", str(target)]
    status, out, err = _run(capsys, *argv)
    assert status == 0
    assert out.strip() == f"No usage recorded since 2099-01-01 00:00 UTC in {ledger.path}."
    assert "Nothing to plot" in err
    assert not target.exists()


def test_a_file_that_is_not_a_ledger_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n" * 100)
    status, out, err = _run(capsys, "--ledger", str(path))
    assert (status, out) == (1, "")
    assert err.startswith(f"blockrun: error: {path} is not a usable BlockRun usage ledger")
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- --plot


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("days", [1, 5])  # one day plots hours, several days plot days
def test_plot_writes_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str], days: int) -> None:
    with Ledger(tmp_path / "u.sqlite3") as ledger:
        _fill(ledger, now=time.time(), days=days)
    target = tmp_path / "spend.png"
    status, out, err = _run(capsys, "--ledger", str(ledger.path), "--plot", str(target))
    assert status == 0
    assert f"Plot saved to {target}" in err
    assert _table(out)[2][0] == "total"
    assert _png_size(target) == (800, 450)


def test_plot_without_matplotlib_names_the_extra(
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    target = tmp_path / "spend.png"
    status, _, err = _run(capsys, "--ledger", str(ledger.path), "--plot", str(target))
    assert status == 1
    assert "--plot needs matplotlib: pip install 'blockrun-core[plot]'" in err
    assert not target.exists()


def test_plot_needs_a_png_name(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "--ledger", str(ledger.path), "--plot", "spend.svg")
    assert (status, out) == (2, "")
    assert "argument --plot: 'spend.svg': the plot is a PNG; name it FILE.png." in err


def test_plot_into_a_missing_folder_is_a_clear_error(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "spend.png"
    status, _, err = _run(capsys, "--ledger", str(ledger.path), "--plot", str(target))
    assert status == 1
    assert err.startswith(f"blockrun: error: Cannot write {target}: No such file or directory")
    assert not target.parent.exists()
