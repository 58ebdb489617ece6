"""The gateway's deterministic fake model, without HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from blockrun_core.testing import FakeModel, ModelOutput

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "note": {"type": "string"},
            },
            "required": ["city", "days", "unit"],
        },
    },
}
CALL = {"name": "get_weather", "arguments": "{}"}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def answer(
    body: dict[str, Any], model: FakeModel | None = None, max_tokens: int = 200
) -> ModelOutput:
    return (model or FakeModel()).respond(
        "m", body, prompt_tokens=7, max_tokens=max_tokens, reasoning=False
    )


def ask(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def arguments(output: ModelOutput, index: int = 0) -> Any:
    return json.loads(output.tool_calls[index].arguments)


def test_echo_is_the_default() -> None:
    output = answer(ask("hello there"))
    assert (output.content, output.finish_reason) == ("Echo: hello there", "stop")
    assert output.prompt_tokens == 7
    assert output.completion_tokens == 5  # ceil(17 chars / 4)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("what is 2+2", "4"),
        ("12 * 7", "84"),
        ("What is 12 x 7?", "84"),
        ("calculate (3 + 4) * 2", "14"),
        ("what's 1/4", "0.25"),
        ("2^10", "1024"),
    ],
)
def test_arithmetic_is_answered_with_the_number(prompt: str, expected: str) -> None:
    assert answer(ask(prompt)).content == expected


@pytest.mark.parametrize("prompt", ["2024-01-01", "call me at 555-1234 today", "10/0"])
def test_things_that_only_look_like_arithmetic_are_echoed(prompt: str) -> None:
    assert answer(ask(prompt)).content == f"Echo: {prompt}"


def test_named_tool_is_called_with_arguments_from_the_schema() -> None:
    output = answer(ask("Use get_weather for Paris over 3 days", tools=[WEATHER]))
    assert output.content == ""
    assert output.finish_reason == "tool_calls"
    assert [c.name for c in output.tool_calls] == ["get_weather"]
    assert arguments(output) == {"city": "Paris", "days": 3, "unit": "celsius"}
    assert output.tool_calls[0].id.startswith("call_")


def test_assignments_in_the_prompt_win() -> None:
    output = answer(ask("get_weather city=Oslo days=5", tools=[WEATHER]))
    assert arguments(output) == {"city": "Oslo", "days": 5, "unit": "celsius"}


def test_unmentioned_tools_are_not_called() -> None:
    output = answer(ask("hello", tools=[WEATHER]))
    assert (output.content, output.tool_calls) == ("Echo: hello", ())


def test_tool_choice_required_and_named() -> None:
    required = answer(ask("hello", tools=[WEATHER, CLOCK], tool_choice="required"))
    assert [c.name for c in required.tool_calls] == ["get_weather"]
    forced = {"type": "function", "function": {"name": "get_time"}}
    named = answer(ask("hello", tools=[WEATHER, CLOCK], tool_choice=forced))
    assert [c.name for c in named.tool_calls] == ["get_time"]
    assert arguments(named) == {}


def test_tool_choice_none_answers_in_text() -> None:
    output = answer(ask("use get_weather", tools=[WEATHER], tool_choice="none"))
    assert output.tool_calls == ()


def test_parallel_calls_in_prompt_order_unless_disabled() -> None:
    prompt = "first get_time then get weather for Rome"
    output = answer(ask(prompt, tools=[WEATHER, CLOCK]))
    assert [c.name for c in output.tool_calls] == ["get_time", "get_weather"]
    assert len({c.id for c in output.tool_calls}) == 2
    single = answer(ask(prompt, tools=[WEATHER, CLOCK], parallel_tool_calls=False))
    assert [c.name for c in single.tool_calls] == ["get_time"]


def test_answers_with_the_tool_result_after_a_tool_turn() -> None:
    body = {
        "tools": [WEATHER],
        "messages": [
            {"role": "user", "content": "use get_weather for Paris"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", "type": "function", "function": CALL}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
        ],
    }
    output = answer(body)
    assert output.tool_calls == ()
    assert output.content == "Based on the tool results: get_weather returned sunny, 21C."


def test_json_schema_output_matches_the_required_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {"$ref": "#/$defs/Address"},
            "nickname": {"type": ["string", "null"]},
        },
        "required": ["name", "age", "tags", "address"],
        "$defs": {
            "Address": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "Person", "schema": schema}}
    output = answer(ask('Tell me about "Ada Lovelace", aged 36', response_format=fmt))
    assert json.loads(output.content) == {
        "name": "Ada Lovelace",
        "age": 36,
        "tags": ["x"],
        "address": {"city": "x"},
    }


def test_json_object_output() -> None:
    output = answer(ask("what is 3*3", response_format={"type": "json_object"}))
    assert json.loads(output.content) == {"answer": "9"}


def test_json_object_output_uses_the_keys_the_prompt_asks_for() -> None:
    prompt = "Tell me a joke about cats. Return JSON with 'setup' and 'punchline' keys."
    output = answer(ask(prompt, response_format={"type": "json_object"}))
    assert list(json.loads(output.content)) == ["setup", "punchline"]


def test_max_tokens_cuts_the_answer_with_finish_length() -> None:
    output = answer(ask("word " * 50), max_tokens=5)
    assert output.finish_reason == "length"
    assert output.completion_tokens <= 5
    assert output.content.startswith("Echo: word")


def test_reasoning_models_think_unless_told_not_to() -> None:
    model = FakeModel()
    thought = model.respond("m", ask("hi"), prompt_tokens=1, max_tokens=100, reasoning=True)
    assert thought.reasoning is not None
    assert thought.reasoning_tokens > 0
    assert thought.completion_tokens > thought.reasoning_tokens
    quiet = model.respond(
        "m", ask("hi", reasoning_effort="none"), prompt_tokens=1, max_tokens=100, reasoning=True
    )
    assert quiet.reasoning is None


def test_scripts_are_consumed_in_order_model_specific_first() -> None:
    model = FakeModel()
    model.script(None, "for anyone")
    model.script("m", [{"name": "lookup", "arguments": {"q": "x"}}])
    model.script("m", {"id": "raw", "choices": []})
    first = answer(ask("hi"), model)
    assert [c.name for c in first.tool_calls] == ["lookup"]
    assert json.loads(first.tool_calls[0].arguments) == {"q": "x"}
    assert answer(ask("hi"), model).raw == {"id": "raw", "choices": []}
    assert answer(ask("hi"), model).content == "for anyone"
    assert answer(ask("hi"), model).content == "Echo: hi"
    assert model.pending("m") == model.pending(None) == 0


def test_same_request_same_answer() -> None:
    body = ask("use get_weather for Paris", tools=[WEATHER])
    assert answer(body) == answer(body)
