"""``blockrun route``: one decision explained, as JSON, over a JSONL file, and --eval."""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path

import pytest
from blockrun_core import cli
from blockrun_core.catalog import default_catalog
from blockrun_core.router import BASELINE_MODEL, TABLES, route

CAT = default_catalog()
PROMPT = "What is the capital of France?"
JSONL_FIELDS = {
    "id",
    "tier",
    "model",
    "confidence",
    "signals",
    "candidates",
    "estimated_cost_usd",
    "baseline_cost_usd",
    "savings",
}


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["route", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _fields(text: str) -> dict[str, list[str]]:
    """The explanation's rows by label; unlabelled rows continue the previous label."""
    rows: dict[str, list[str]] = {}
    label = ""
    for line in text.splitlines():
        label = line[:10].strip() or label
        rows.setdefault(label, []).append(line[10:])
    return rows


def test_a_decision_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, PROMPT)
    assert (status, err) == (0, "")
    decision = route([{"role": "user", "content": PROMPT}])
    rows = _fields(out)
    assert list(rows) == [
        "profile",
        "tier",
        "signals",
        "model",
        "chain",
        "cost",
        "baseline",
        "savings",
        "excluded",
    ]
    assert rows["profile"] == ["auto, standard table"]
    assert rows["tier"] == [f"{decision.tier} (confidence {decision.confidence:.2f})"]
    assert rows["signals"] == ["; ".join(decision.signals)]
    assert rows["model"] == [decision.model]
    assert rows["chain"] == [f"{i}. {m}" for i, m in enumerate(decision.candidates, 1)]
    assert rows["cost"] == [f"${decision.estimated_cost_usd:.6f} estimated"]
    assert rows["baseline"] == [f"${decision.baseline_cost_usd:.6f} on {BASELINE_MODEL}"]
    assert rows["savings"] == [f"{decision.savings:.1%}"]
    assert rows["excluded"] == ["-"]


def test_the_explanation_lists_what_was_excluded_and_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = _run(capsys, PROMPT, "--profile", "eco", "--image")
    assert status == 0
    rows = _fields(out)
    assert CAT.get(rows["model"][0]).supports_vision
    assert "nvidia/nemotron-3.5-lightning: needs vision" in rows["excluded"]
    assert rows["profile"] == ["eco, standard table"]
    assert rows["cost"] == ["free"]


def test_json_is_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, PROMPT, "--json", "--profile", "blockrun/premium")
    assert status == 0
    expected = route([{"role": "user", "content": PROMPT}], profile="premium").to_dict()
    assert json.loads(out) == expected
    assert out.count("\n") == 1


def test_the_request_flags_shape_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, PROMPT, "--json", "--tools")
    tools = json.loads(out)
    assert tools["agentic"] is True
    assert tools["model"] in TABLES["agentic"].chain(tools["tier"])

    _, out, _ = _run(capsys, PROMPT, "--json", "--profile", "eco", "--json-output")
    assert CAT.get(json.loads(out)["model"]).supports_structured_output

    _, small, _ = _run(capsys, PROMPT, "--json", "--max-tokens", "10")
    _, large, _ = _run(capsys, PROMPT, "--json", "--max-tokens", "100000")
    assert json.loads(small)["baseline_cost_usd"] < json.loads(large)["baseline_cost_usd"]


def test_no_capable_model_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, PROMPT, "--profile", "free", "--tools")
    assert (status, out) == (1, "")
    assert err.startswith(
        "blockrun: error: No model of profile 'free' can serve this request: "
        "needs tool calling (dropped "
    )
    assert err.count("\n") == 1


def test_an_unknown_profile_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, PROMPT, "--profile", "turbo")
    assert status == 1
    assert "Unknown routing profile 'turbo'" in err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys)[0] == 2  # nothing to route
    assert _run(capsys, PROMPT, "--jsonl", "x.jsonl")[0] == 2  # two sources
    status, _, err = _run(capsys, PROMPT, "--split", "tune")
    assert status == 1
    assert "--split and --misses go with --eval" in err
    assert _run(capsys, PROMPT, "--misses")[0] == 1


# --------------------------------------------------------------------------- --jsonl


def test_jsonl_routes_each_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "prompts.jsonl"
    lines = [
        {"id": "greeting", "prompt": "hi there"},
        {"id": 7, "prompt": "Prove that there are infinitely many primes, step by step."},
        {"prompt": "no id here"},
    ]
    source.write_text("\n".join([json.dumps(lines[0]), "", *map(json.dumps, lines[1:])]) + "\n")
    status, out, err = _run(capsys, "--jsonl", str(source), "--profile", "eco")
    assert (status, err) == (0, "")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["id"] for row in rows] == ["greeting", 7, 4]  # no id: the line number
    for row, line in zip(rows, lines, strict=True):
        assert set(row) == JSONL_FIELDS
        decision = route([{"role": "user", "content": line["prompt"]}], profile="eco")
        expected = decision.to_dict()
        assert {k: row[k] for k in JSONL_FIELDS - {"id"}} == {
            k: expected[k] for k in JSONL_FIELDS - {"id"}
        }


def test_jsonl_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"id": 1, "prompt": "hello"}\n'))
    status, out, _ = _run(capsys, "--jsonl", "-")
    assert status == 0
    assert json.loads(out)["id"] == 1


def test_jsonl_lines_that_cannot_be_routed_carry_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text('{"id": "a", "prompt": "hi"}\n{"id": "b", "prompt": "yo"}\n')
    status, out, _ = _run(capsys, "--jsonl", str(source), "--profile", "free", "--tools")
    assert status == 1
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["id"] for row in rows] == ["a", "b"]
    assert all(row["error"].startswith("No model of profile 'free'") for row in rows)


@pytest.mark.parametrize("bad", ["not json", '["a list"]', '{"id": 1}', '{"prompt": 3}'])
def test_a_malformed_jsonl_line_names_its_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    source = tmp_path / "p.jsonl"
    source.write_text('{"prompt": "fine"}\n' + bad + "\n")
    status, _, err = _run(capsys, "--jsonl", str(source))
    assert status == 1
    assert f"{source}:2: expected a JSON object with a string 'prompt'" in err


def test_a_missing_jsonl_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "--jsonl", str(tmp_path / "nope.jsonl"))
    assert status == 1
    assert "Cannot read" in err


# --------------------------------------------------------------------------- --eval


@pytest.mark.parametrize(
    ("argv", "forwarded"),
    [
        (["--eval", "set.jsonl"], ["set.jsonl"]),
        (["--eval", "set.jsonl", "--split", "holdout"], ["set.jsonl", "--split", "holdout"]),
        (
            ["--eval", "s.jsonl", "--misses", "--split", "tune"],
            ["s.jsonl", "--split", "tune", "--misses"],
        ),
    ],
)
def test_eval_hands_over_to_the_evaluator(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    forwarded: list[str],
) -> None:
    calls: list[list[str]] = []

    def main(args: list[str]) -> int:
        calls.append(args)
        return 3

    fake = types.ModuleType("blockrun_core.router.evaluate")
    fake.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "blockrun_core.router.evaluate", fake)
    assert _run(capsys, *argv)[0] == 3
    assert calls == [forwarded]


def test_eval_scores_a_labelled_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "labelled.jsonl"
    rows = [
        {"id": "t-1", "prompt": "hi there", "tier": "SIMPLE", "lang": "en", "split": "tune"},
        {"id": "h-1", "prompt": "thanks!", "tier": "SIMPLE", "lang": "en", "split": "holdout"},
    ]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    status, out, _ = _run(capsys, "--eval", str(source), "--split", "tune")
    assert status == 0
    assert "split tune: 1 prompts" in out
    assert "holdout" not in out
    status, _, err = _run(capsys, "--eval", str(tmp_path / "missing.jsonl"))
    assert status != 0
    assert err
