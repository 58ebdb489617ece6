"""A FunctionAgent on BlockRunLLM(model="auto") solving a tool task, from a cassette."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCall, ToolCallResult
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.llms.blockrun import BlockRunCallEvent
from pydantic import Field

from integration_tests.llama_index_llms_blockrun.conftest import MakeLLM

pytestmark = pytest.mark.vcr


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class Spend(BaseEventHandler):
    costs: list[float | None] = Field(default_factory=list)

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, BlockRunCallEvent):
            self.costs.append(event.cost_usd)


async def test_a_function_agent_multiplies_with_its_tool(recorded_llm: MakeLLM) -> None:
    spend = Spend()
    get_dispatcher().add_event_handler(spend)
    try:
        agent = FunctionAgent(tools=[multiply], llm=recorded_llm("auto"), system_prompt="Be exact.")
        handler = agent.run("Please multiply a=12 and b=7")
        events = [event async for event in handler.stream_events()]
        result = await handler
    finally:
        get_dispatcher().event_handlers.remove(spend)
    [call] = [e for e in events if isinstance(e, ToolCall)]
    assert call.tool_name == "multiply" and call.tool_kwargs == {"a": 12, "b": 7}
    [done] = [e for e in events if isinstance(e, ToolCallResult)]
    assert done.tool_output.content == "84"
    assert "84" in str(result)
    assert "".join(e.delta for e in events if isinstance(e, AgentStream)) == str(result)
    # two paid model turns (the call, then the answer), each reported once
    assert len(spend.costs) == 2 and all(cost is not None and cost > 0 for cost in spend.costs)
