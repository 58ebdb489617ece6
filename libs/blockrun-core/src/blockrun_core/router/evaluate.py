"""Score the classifier against a labelled JSONL prompt set (``blockrun route --eval FILE``).

Each line holds ``prompt``, ``tier``, ``lang`` and ``split`` (``tune`` or ``holdout``),
and optionally ``id``, ``system``, ``history`` (earlier turns), ``tools``, ``image`` and
``json`` (booleans). The report gives, per split and overall: accuracy, the 4x4
confusion matrix (rows = label, columns = prediction), the severe under-routing rate
(predicted two or more tiers below the label), accuracy per language, and how often the
classifier is right at each confidence level.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .classifier import classify
from .types import TIERS, RouteRequest, Tier

__all__ = ["EvalReport", "SplitReport", "evaluate", "main", "request_for"]

_RANK: dict[str, int] = {tier: rank for rank, tier in enumerate(TIERS)}
_BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
_DUMMY_TOOLS: tuple[Mapping[str, Any], ...] = (
    {
        "type": "function",
        "function": {
            "name": "web_search",
            "description": "Search the web and return the top results.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string"}},
                "required": ["query"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a file from the workspace.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    },
)
_IMAGE_PART = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


@dataclass(frozen=True, slots=True)
class Miss:
    """One misrouted prompt."""

    id: str
    label: Tier
    predicted: Tier
    confidence: float
    prompt: str


@dataclass(frozen=True, slots=True)
class SplitReport:
    """Scores over one split (or ``all``)."""

    split: str
    total: int
    correct: int
    severe: int
    confusion: tuple[tuple[int, ...], ...]  # [label][predicted], in TIERS order
    languages: tuple[tuple[str, int, int], ...]  # (lang, correct, total)
    reliability: tuple[tuple[float, float, int, int], ...]  # (low, high, correct, total)
    misses: tuple[Miss, ...] = field(default=())

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def severe_rate(self) -> float:
        """Share of prompts routed two or more tiers below their label."""
        return self.severe / self.total if self.total else 0.0

    def format(self, *, misses: bool = False) -> str:
        lines = [
            f"split {self.split}: {self.total} prompts, accuracy {self.accuracy:.3f} "
            f"({self.correct}/{self.total}), severe under-routing {self.severe_rate:.1%} "
            f"({self.severe})",
            "  confusion (rows = label, columns = predicted):",
            "    " + " " * 10 + "".join(f"{tier:>10}" for tier in TIERS),
        ]
        for tier, row in zip(TIERS, self.confusion, strict=True):
            lines.append(f"    {tier:<10}" + "".join(f"{count:>10}" for count in row))
        lines.append(
            "  per language: "
            + ", ".join(
                f"{lang} {right / total:.2f} ({right}/{total})"
                for lang, right, total in self.languages
            )
        )
        lines.append("  confidence reliability (bin: right/total):")
        for low, high, right, total in self.reliability:
            if total:
                lines.append(f"    [{low:.1f}, {high:.1f}): {right}/{total} = {right / total:.2f}")
        if misses:
            lines.append("  misses:")
            for miss in self.misses:
                prompt = " ".join(miss.prompt.split())[:90]
                lines.append(
                    f"    {miss.id:<10} {miss.label:<9} -> {miss.predicted:<9} "
                    f"{miss.confidence:.2f}  {prompt}"
                )
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Per-split reports, then ``all`` when more than one split was scored."""

    path: str
    splits: tuple[SplitReport, ...]

    def get(self, split: str) -> SplitReport | None:
        return next((report for report in self.splits if report.split == split), None)

    def format(self, *, misses: bool = False) -> str:
        body = "\n\n".join(report.format(misses=misses) for report in self.splits)
        return f"router evaluation of {self.path}\n\n{body}"


def _history(turns: Any) -> list[Mapping[str, Any]]:
    if not isinstance(turns, Sequence) or isinstance(turns, str):
        return []
    messages: list[Mapping[str, Any]] = []
    for index, turn in enumerate(turns):
        if isinstance(turn, Mapping):
            messages.append(turn)
        elif isinstance(turn, str):  # bare strings alternate user / assistant
            messages.append({"role": "user" if index % 2 == 0 else "assistant", "content": turn})
    return messages


def request_for(row: Mapping[str, Any]) -> RouteRequest:
    """The chat request an evaluation line stands for."""
    messages: list[Mapping[str, Any]] = []
    if row.get("system"):
        messages.append({"role": "system", "content": str(row["system"])})
    messages.extend(_history(row.get("history")))
    prompt = str(row.get("prompt", ""))
    content: Any = [{"type": "text", "text": prompt}, _IMAGE_PART] if row.get("image") else prompt
    messages.append({"role": "user", "content": content})
    return RouteRequest(
        messages=messages,
        tools=_DUMMY_TOOLS if row.get("tools") else None,
        response_format={"type": "json_object"} if row.get("json") else None,
    )


def _load(path: Path, split: str | None) -> list[Mapping[str, Any]]:
    """Lines of ``path`` in ``split`` (all when None); other splits are not even parsed
    beyond their ``split`` field."""
    rows: list[Mapping[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, Mapping) or row.get("tier") not in _RANK:
                raise ValueError(f"{path}:{number}: needs a tier, one of {', '.join(TIERS)}")
            if split is None or row.get("split") == split:
                rows.append(row)
    return rows


def _score(split: str, rows: Iterable[tuple[Mapping[str, Any], Tier, float]]) -> SplitReport:
    confusion = [[0] * len(TIERS) for _ in TIERS]
    languages: dict[str, list[int]] = {}
    bins = [[0, 0] for _ in _BINS[:-1]]
    misses: list[Miss] = []
    total = correct = severe = 0
    for row, predicted, confidence in rows:
        label: Tier = row["tier"]
        right = predicted == label
        total += 1
        correct += right
        severe += _RANK[predicted] <= _RANK[label] - 2
        confusion[_RANK[label]][_RANK[predicted]] += 1
        lang = languages.setdefault(str(row.get("lang", "?")), [0, 0])
        lang[0] += right
        lang[1] += 1
        slot = next(i for i in range(len(bins)) if confidence < _BINS[i + 1] or i == len(bins) - 1)
        bins[slot][0] += right
        bins[slot][1] += 1
        if not right:
            misses.append(
                Miss(str(row.get("id", "?")), label, predicted, confidence, str(row["prompt"]))
            )
    return SplitReport(
        split=split,
        total=total,
        correct=correct,
        severe=severe,
        confusion=tuple(tuple(row) for row in confusion),
        languages=tuple((lang, c, t) for lang, (c, t) in sorted(languages.items())),
        reliability=tuple(
            (_BINS[i], _BINS[i + 1], right, count) for i, (right, count) in enumerate(bins)
        ),
        misses=tuple(misses),
    )


def evaluate(path: str | Path, *, split: str | None = None) -> EvalReport:
    """Classify every line of ``path`` (only ``split``'s lines when given) and score it."""
    rows = _load(Path(path), split)
    results = []
    for row in rows:
        decision = classify(request_for(row))
        results.append((row, decision.tier, decision.confidence))
    names = sorted({str(row.get("split", "?")) for row in rows})
    reports = [
        _score(name, (r for r in results if str(r[0].get("split", "?")) == name)) for name in names
    ]
    if len(names) != 1:
        reports.append(_score("all", results))
    return EvalReport(path=str(path), splits=tuple(reports))


def main(argv: Sequence[str] | None = None) -> int:
    """``blockrun route --eval FILE [--split tune|holdout] [--misses]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="blockrun route --eval", description=__doc__)
    parser.add_argument("file", nargs="?", help="JSONL file of labelled prompts")
    parser.add_argument("--eval", dest="eval_file", metavar="FILE", help="same as FILE")
    parser.add_argument("--split", choices=("tune", "holdout"), help="score one split only")
    parser.add_argument("--misses", action="store_true", help="list the misrouted prompts")
    args = parser.parse_args(argv)
    path = args.eval_file or args.file
    if not path:
        parser.print_usage(sys.stderr)
        print("error: an evaluation file is required", file=sys.stderr)
        return 2
    try:
        report = evaluate(path, split=args.split)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.format(misses=args.misses))
    return 0
