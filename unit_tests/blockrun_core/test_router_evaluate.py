"""``blockrun route --eval``: rows become requests, scores are counted right, splits stay apart."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
from blockrun_core.router import evaluate as evaluate_module
from blockrun_core.router.evaluate import evaluate, main, request_for
from blockrun_core.router.types import Classification, RouteRequest, Tier


def write(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    return path


def row(
    prompt: str, tier: Tier, *, split: str = "tune", lang: str = "en", **extra: Any
) -> dict[str, Any]:
    return {"id": prompt, "prompt": prompt, "tier": tier, "lang": lang, "split": split, **extra}


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[RouteRequest]:
    """The classifier answers the tier a prompt names ("say MEDIUM" -> MEDIUM, 0.85)."""
    seen: list[RouteRequest] = []

    def classify(request: RouteRequest) -> Classification:
        seen.append(request)
        content = request.messages[-1]["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        tier = cast(Tier, text.split()[1])
        return Classification(tier, 0.85, ())

    monkeypatch.setattr(evaluate_module, "classify", classify)
    return seen


def test_counts_matrix_severe_rate_and_languages(
    tmp_path: Path, answers: list[RouteRequest]
) -> None:
    rows = [
        row("say SIMPLE", "SIMPLE"),
        row("say SIMPLE 2", "SIMPLE", lang="de"),
        row("say MEDIUM", "MEDIUM"),
        row("say MEDIUM 2", "COMPLEX", lang="de"),  # one tier under: a miss, not severe
        row("say SIMPLE 3", "COMPLEX"),  # two under: severe
        row("say MEDIUM 3", "REASONING", lang="zh"),  # two under: severe
        row("say REASONING", "SIMPLE", lang="zh"),  # over-routed: a miss, not severe
        row("say REASONING 2", "REASONING"),
    ]
    report = evaluate(write(tmp_path / "set.jsonl", rows))
    assert [r.split for r in report.splits] == ["tune"]  # one split: no "all" repeat
    tune = report.splits[0]
    assert (tune.total, tune.correct, tune.severe) == (8, 4, 2)
    assert tune.accuracy == pytest.approx(0.5)
    assert tune.severe_rate == pytest.approx(0.25)
    assert tune.confusion == (
        (2, 0, 0, 1),  # SIMPLE label
        (0, 1, 0, 0),
        (1, 1, 0, 0),
        (0, 1, 0, 1),  # REASONING label
    )
    assert tune.languages == (("de", 1, 2), ("en", 3, 4), ("zh", 0, 2))
    assert [(low, right, total) for low, _, right, total in tune.reliability if total] == [
        (0.8, 4, 8)
    ]
    assert {miss.id for miss in tune.misses} == {
        "say MEDIUM 2",
        "say SIMPLE 3",
        "say MEDIUM 3",
        "say REASONING",
    }
    text = report.format(misses=True)
    assert "accuracy 0.500 (4/8), severe under-routing 25.0% (2)" in text
    assert "say SIMPLE 3" in text


def test_splits_are_scored_apart_and_together(tmp_path: Path, answers: list[RouteRequest]) -> None:
    rows = [
        row("say SIMPLE", "SIMPLE"),
        row("say MEDIUM", "SIMPLE"),
        row("say COMPLEX", "COMPLEX", split="holdout"),
    ]
    path = write(tmp_path / "set.jsonl", rows)
    report = evaluate(path)
    assert [(r.split, r.total, r.correct) for r in report.splits] == [
        ("holdout", 1, 1),
        ("tune", 2, 1),
        ("all", 3, 2),
    ]
    answers.clear()
    only_tune = evaluate(path, split="tune")
    assert [(r.split, r.total) for r in only_tune.splits] == [("tune", 2)]
    # holdout rows are not even turned into requests when scoring tune
    assert len(answers) == 2
    assert report.get("holdout") is not None
    assert only_tune.get("holdout") is None


def test_request_for_builds_the_whole_request() -> None:
    history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    request = request_for(
        row("p", "SIMPLE", system="be brief", history=history, tools=True, image=True, json=True)
    )
    assert request.messages[0] == {"role": "system", "content": "be brief"}
    assert list(request.messages[1:3]) == history
    last = request.messages[-1]
    assert last["role"] == "user"
    assert last["content"][0] == {"type": "text", "text": "p"}
    assert last["content"][1]["type"] == "image_url"
    assert request.tools is not None
    assert len(request.tools) == 2
    assert request.response_format == {"type": "json_object"}
    plain = request_for(row("p", "SIMPLE"))
    assert plain.messages == [{"role": "user", "content": "p"}]
    assert (plain.tools, plain.response_format) == (None, None)


def test_history_of_bare_strings_alternates_roles() -> None:
    request = request_for(row("p", "SIMPLE", history=["q", "a"]))
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]


def test_main_prints_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        row("hi", "SIMPLE"),
        row("Prove that there are infinitely many primes.", "REASONING", split="holdout"),
    ]
    path = write(tmp_path / "set.jsonl", rows)
    assert main([str(path), "--split", "tune"]) == 0
    out = capsys.readouterr().out
    assert "split tune: 1 prompts, accuracy 1.000" in out
    assert "holdout" not in out
    assert main(["--eval", str(path), "--misses"]) == 0
    out = capsys.readouterr().out
    assert "split holdout: 1 prompts" in out
    assert "split all: 2 prompts" in out


def test_main_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.jsonl")]) == 2
    assert "error:" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "tier": "SIMPLE"}\n{not json\n', "utf-8")
    assert main([str(bad)]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    unlabelled = write(tmp_path / "unlabelled.jsonl", [{"prompt": "hi", "tier": "EASY"}])
    assert main([str(unlabelled)]) == 2
    assert "needs a tier" in capsys.readouterr().err
    assert main([]) == 2
