"""BlockRunLLM tool calling and structured output, from cassettes (see test_recorded_calls)."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.llms.blockrun import BlockRunLLM
from pydantic import BaseModel

from integration_tests.llama_index_llms_blockrun.conftest import MakeLLM

pytestmark = pytest.mark.vcr

PAID = "openai/gpt-4o-mini"
ASK = "Use the multiply tool to multiply a=12 and b=7."


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


MULTIPLY = FunctionTool.from_defaults(fn=multiply)


class City(BaseModel):
    """A city and how many people live there."""

    name: str
    population: int


async def call_with_tools(llm: BlockRunLLM, how: str) -> ChatResponse:
    history = [ChatMessage(role="user", content=ASK)]
    if how == "sync":
        return llm.chat_with_tools([MULTIPLY], chat_history=history)
    if how == "async":
        return await llm.achat_with_tools([MULTIPLY], chat_history=history)
    if how == "stream":
        return list(llm.stream_chat_with_tools([MULTIPLY], chat_history=history))[-1]
    chunks = await llm.astream_chat_with_tools([MULTIPLY], chat_history=history)
    return [chunk async for chunk in chunks][-1]


@pytest.mark.parametrize("how", ["sync", "async", "stream", "astream"])
async def test_the_model_calls_the_tool(recorded_llm: MakeLLM, how: str) -> None:
    llm = recorded_llm(PAID)
    response = await call_with_tools(llm, how)
    [selection] = llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "multiply" and selection.tool_kwargs == {"a": 12, "b": 7}
    assert response.additional_kwargs["finish_reason"] == "tool_calls"
    assert response.additional_kwargs["cost_usd"] > 0


async def test_the_tool_result_goes_back_under_the_call_id(recorded_llm: MakeLLM) -> None:
    llm = recorded_llm(PAID)
    history = [ChatMessage(role="user", content=ASK)]
    response = await llm.achat_with_tools([MULTIPLY], chat_history=history)
    [selection] = llm.get_tool_calls_from_response(response)
    history += [
        response.message,
        ChatMessage(
            role="tool",
            content=str(multiply(**selection.tool_kwargs)),
            additional_kwargs={"tool_call_id": selection.tool_id},
        ),
    ]
    # replayed, the id is the cassette's normalised one, and the request still matches
    answer = await llm.achat_with_tools([MULTIPLY], chat_history=history)
    assert "84" in (answer.message.content or "")
    assert not llm.get_tool_calls_from_response(answer, error_on_no_tool_call=False)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_structured_predict_fills_the_model(
    recorded_llm: MakeLLM, asynchronous: bool
) -> None:
    llm = recorded_llm(PAID)
    prompt = PromptTemplate("Describe the city {city} with population={population}.")
    arguments = {"city": '"Paris"', "population": 2_100_000}
    if asynchronous:
        city = await llm.astructured_predict(City, prompt, **arguments)
    else:
        city = llm.structured_predict(City, prompt, **arguments)
    assert city == City(name="Paris", population=2_100_000)
