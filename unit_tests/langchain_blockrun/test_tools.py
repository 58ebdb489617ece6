"""bind_tools and with_structured_output: what reaches the request, for every form."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_blockrun import ChatBlockRun
from langchain_core.runnables import RunnableBinding, RunnableSequence
from langchain_core.tools import tool
from pydantic import BaseModel, Field


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return "sunny"


class Person(BaseModel):
    """A person."""

    name: str = Field(description="their name")
    age: int


@pytest.fixture
def llm() -> ChatBlockRun:
    return ChatBlockRun(model="openai/gpt-4o-mini")


def _bound(runnable: Any) -> dict[str, Any]:
    while isinstance(runnable, RunnableSequence):
        runnable = runnable.first
    if not isinstance(runnable, RunnableBinding):  # include_raw: RunnableMap(raw=...) first
        runnable = runnable.steps__["raw"]
    assert isinstance(runnable, RunnableBinding)
    return runnable.kwargs


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_forms(llm: ChatBlockRun, choice: Any, sent: Any) -> None:
    kwargs = _bound(llm.bind_tools([get_weather], tool_choice=choice))
    assert kwargs["tool_choice"] == sent
    assert kwargs["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("choice", [None, False])
def test_no_tool_choice_is_not_sent(llm: ChatBlockRun, choice: Any) -> None:
    assert "tool_choice" not in _bound(llm.bind_tools([get_weather], tool_choice=choice))


@pytest.mark.parametrize("choice", ["get_wether", {"type": "function", "function": {"name": "x"}}])
def test_naming_an_unbound_tool_is_refused(llm: ChatBlockRun, choice: Any) -> None:
    with pytest.raises(ValueError, match="not a bound tool"):
        llm.bind_tools([get_weather], tool_choice=choice)


def test_unsupported_tool_choice_is_refused(llm: ChatBlockRun) -> None:
    with pytest.raises(ValueError, match="Unsupported tool_choice"):
        llm.bind_tools([get_weather], tool_choice=3)  # type: ignore[arg-type]


def test_strict_parallel_and_extra_kwargs_pass_through(llm: ChatBlockRun) -> None:
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}
    kwargs = _bound(
        llm.bind_tools(
            [get_weather, Person],
            strict=True,
            parallel_tool_calls=False,
            response_format=response_format,
        )
    )
    assert [t["function"]["name"] for t in kwargs["tools"]] == ["get_weather", "Person"]
    assert all(t["function"]["strict"] is True for t in kwargs["tools"])
    assert kwargs["parallel_tool_calls"] is False
    assert kwargs["response_format"] == response_format


def test_function_calling_forces_the_schema_tool(llm: ChatBlockRun) -> None:
    kwargs = _bound(llm.with_structured_output(Person))
    assert kwargs["tool_choice"] == {"type": "function", "function": {"name": "Person"}}
    assert kwargs["parallel_tool_calls"] is False
    assert kwargs["ls_structured_output_format"]["kwargs"]["method"] == "function_calling"


def test_json_schema_sends_the_schema_as_response_format(llm: ChatBlockRun) -> None:
    kwargs = _bound(llm.with_structured_output(Person, method="json_schema", strict=True))
    fmt = kwargs["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Person" and fmt["json_schema"]["strict"] is True
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"name", "age"}
    assert "tools" not in kwargs


def test_json_mode_asks_for_a_json_object(llm: ChatBlockRun) -> None:
    kwargs = _bound(llm.with_structured_output(None, method="json_mode", include_raw=True))
    assert kwargs["response_format"] == {"type": "json_object"}


def test_structured_output_refuses_bad_arguments(llm: ChatBlockRun) -> None:
    with pytest.raises(ValueError, match="needs a schema"):
        llm.with_structured_output(None)
    with pytest.raises(ValueError, match="Unknown method"):
        llm.with_structured_output(Person, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unsupported arguments"):
        llm.with_structured_output(Person, tools=[])
