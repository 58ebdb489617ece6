"""Agents on ChatBlockRun end to end: LangChain v1 create_agent and LangGraph's prebuilt.

LocalGateway's model calls the tools a prompt names, with arguments taken from it
(``a=2 b=3``), and after tool results answers "Based on the tool results: ...".
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from blockrun_core.testing import HARDHAT_KEY, LocalGateway
from langchain.agents import create_agent
from langchain.agents.structured_output import ToolStrategy
from langchain_blockrun import ChatBlockRun
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def multiply(x: int, y: int) -> int:
    """Multiply two integers."""
    return x * y


class Person(BaseModel):
    """A person's record."""

    name: str
    age: int


def auto(gw: LocalGateway) -> ChatBlockRun:
    return ChatBlockRun(model="auto", api_url=gw.url, wallet_key=HARDHAT_KEY)


def _ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


def test_create_agent_solves_a_tool_task(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [add, multiply])
    result = agent.invoke(_ask("Use add with a=2 b=3"))
    messages = result["messages"]
    [call] = messages[1].tool_calls
    assert (call["name"], call["args"]) == ("add", {"a": 2, "b": 3})
    assert isinstance(messages[2], ToolMessage) and messages[2].content == "5"
    assert messages[-1].content == "Based on the tool results: add returned 5."
    assert len(gw.payments) == 2  # one paid model call per turn
    for message in (messages[1], messages[-1]):
        assert gw.catalog.get(message.response_metadata["model_name"]).supports_tools


def test_parallel_tool_calls_have_unique_ids_and_all_run(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [add, multiply])
    messages = agent.invoke(_ask("Use add with a=2 b=3 and multiply with x=4 y=5"))["messages"]
    calls = messages[1].tool_calls
    assert [c["name"] for c in calls] == ["add", "multiply"]
    assert len({c["id"] for c in calls}) == 2
    assert sorted(m.content for m in messages if isinstance(m, ToolMessage)) == ["20", "5"]
    assert messages[-1].content == (
        "Based on the tool results: add returned 5; multiply returned 20."
    )


def test_prebuilt_react_agent_with_a_pre_bound_model(gw: LocalGateway) -> None:
    from langgraph.prebuilt import create_react_agent

    bound = auto(gw).bind_tools([add, multiply])
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # create_react_agent is deprecated in favour of create_agent
        agent = create_react_agent(bound, [add, multiply])
    messages = agent.invoke(_ask("multiply x=6 y=7"))["messages"]
    assert messages[2].content == "42" and messages[-1].content.endswith("multiply returned 42.")


def test_stream_mode_messages_streams_tokens_and_tool_call_chunks(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [add])
    events = list(agent.stream(_ask("Use add with a=2 b=3"), stream_mode="messages"))
    model_chunks = [(m, meta) for m, meta in events if isinstance(m, AIMessageChunk)]
    assert {meta["langgraph_node"] for _, meta in model_chunks} == {"model"}
    assert {meta["ls_provider"] for _, meta in model_chunks} == {"blockrun"}
    pieces = [c for m, _ in model_chunks for c in m.tool_call_chunks]
    assert len(pieces) > 1 and {p["index"] for p in pieces} == {0}
    assert "".join(p["args"] or "" for p in pieces) == '{"a":2,"b":3}'
    text = "".join(m.text for m, _ in model_chunks)
    assert text.endswith("add returned 5.")
    assert sum(1 for m, _ in model_chunks if m.usage_metadata) == 2  # once per model call
    assert [p.stream for p in gw.payments] == [True, True]


async def test_async_agent(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [add])
    result = await agent.ainvoke(_ask("Use add with a=20 b=22"))
    assert result["messages"][-1].content == "Based on the tool results: add returned 42."
    chunks = [m async for m, _ in agent.astream(_ask("add a=1 b=1"), stream_mode="messages")]
    assert any(isinstance(m, ToolMessage) and m.content == "2" for m in chunks)


def test_agent_keeps_a_conversation_per_thread(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [add], checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "t-1"}}
    agent.invoke(_ask("Use add with a=1 b=2"), config)
    result = agent.invoke(_ask("what is 5 * 5"), config)
    assert len(result["messages"]) == 6 and result["messages"][-1].content == "25"


def test_structured_response_from_the_provider(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [], response_format=Person)
    result = agent.invoke(_ask("Record name=Ada age=36"))
    assert result["structured_response"] == Person(name="Ada", age=36)
    routing = result["messages"][-1].response_metadata["blockrun"]["routing"]
    assert routing["signals"] and gw.catalog.get(routing["model"]).supports_structured_output


def test_structured_response_through_a_tool(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [], response_format=ToolStrategy(Person))
    result = agent.invoke(_ask("Record name=Ada age=36"))
    assert result["structured_response"] == Person(name="Ada", age=36)


def test_agent_reads_an_image(gw: LocalGateway) -> None:
    agent = create_agent(auto(gw), [add])
    image = {"type": "image", "base64": PNG, "mime_type": "image/png"}
    message = HumanMessage(content=[{"type": "text", "text": "what is shown?"}, image])
    answer = agent.invoke({"messages": [message]})["messages"][-1]
    assert isinstance(answer, AIMessage) and answer.content.startswith("Echo: what is shown?")
    assert gw.catalog.get(answer.response_metadata["model_name"]).supports_vision


@pytest.mark.parametrize("model", ["free", "nvidia/gpt-oss-120b"])
def test_model_that_cannot_use_tools_fails_clearly_and_unpaid(gw: LocalGateway, model: str) -> None:
    # "free" has no tool model (refused before any request); the concrete free model is
    # refused by the gateway with a 400 before anything is quoted.
    llm = ChatBlockRun(model=model, api_url=gw.url, wallet_key=HARDHAT_KEY)
    with pytest.raises(ModelInvalidRequestError, match="tool"):
        create_agent(llm, [add]).invoke(_ask("Use add with a=1 b=2"))
    assert gw.payments == []
