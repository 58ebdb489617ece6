"""The suite's row type and its one markdown table, shared by ``run.py`` and the scripts."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class SuiteRow:
    """One measurement of ours against one peer (or against a target alone, ``peer=[]``)."""

    section: str  # the comparison, e.g. "paid call, sync"
    name: str  # the measurement
    unit: str  # "µs", "ms", "s", "trips", "calls/s" or "MiB"
    ours: list[float]
    peer: list[float] = field(default_factory=list)
    peer_label: str = "-"
    target: str = "-"
    met: Callable[[float, float], bool] | None = None  # (ours median, peer median) -> met?
    higher_is_better: bool = False  # calls per second: the tail is the low end

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def peer_median(self) -> float:
        return statistics.median(self.peer) if self.peer else math.nan

    def tail(self, values: list[float]) -> float:
        """The slow end: nearest-rank p95 of times, p5 of rates."""
        if self.higher_is_better:
            return -p95([-v for v in values])
        return p95(values)

    def verdict(self) -> str:
        if self.met is None:
            return "-"
        return "yes" if self.met(self.ours_median, self.peer_median) else "**no**"


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "trips":
        return f"{value:g}"
    digits = {"µs": 1, "ms": 3, "s": 3, "calls/s": 0, "MiB": 1}.get(unit, 3)
    return f"{value:.{digits}f} {unit}"


HEADER = [
    "| comparison | measurement | ours median | ours p95 | peer | peer median | peer p95 "
    "| ours / peer | target | met |",
    "|---|---|---:|---:|---|---:|---:|---:|---|:---:|",
]


def render_rows(rows: list[SuiteRow]) -> str:
    """The rows as one markdown table (the comparison named once per group)."""
    lines = list(HEADER)
    previous = None
    for row in rows:
        om, pm = row.ours_median, row.peer_median
        ratio = f"{om / pm:.2f}" if row.peer and pm else "-"
        peer_tail = row.tail(row.peer) if row.peer else math.nan
        section = row.section if row.section != previous else ""
        previous = row.section
        lines.append(
            f"| {section} | {row.name} | {fmt(om, row.unit)} | {fmt(row.tail(row.ours), row.unit)} "
            f"| {row.peer_label} | {fmt(pm, row.unit)} | {fmt(peer_tail, row.unit)} | {ratio} "
            f"| {row.target} | {row.verdict()} |"
        )
    return "\n".join(lines)


def from_rows(section: str, peer_label: str, rows: list[Any]) -> list[SuiteRow]:
    """``bench_foundation.Row``-shaped rows (name, unit, ours, peer, target, met) as suite rows."""
    return [
        SuiteRow(section, row.name, row.unit, row.ours, row.peer, peer_label, row.target, row.met)
        for row in rows
    ]
