"""LlamaIndex agents on BlockRunLLM, end to end with streaming events.

The gateway's model calls a tool when the prompt names it (arguments from ``name=value``
pairs) and answers from tool results once they arrive; ``gw.script`` queues tool calls
where an agent needs a specific one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from blockrun_core import Budget, BudgetExceededError
from blockrun_core.ledger import Ledger
from blockrun_core.testing import LocalGateway
from llama_index.core.agent.workflow import (
    AgentOutput,
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ToolCall,
    ToolCallResult,
)
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.workflow.handler import WorkflowHandler
from llama_index.llms.blockrun import BlockRunCallEvent

from integration_tests.llama_index_llms_blockrun.conftest import MakeLLM


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def paid_usd(gw: LocalGateway) -> float:
    return sum(p.amount_micros for p in gw.payments) / 1e6


async def events_of(handler: WorkflowHandler) -> list[Any]:
    return [event async for event in handler.stream_events()]


class Spend(BaseEventHandler):
    total_usd: float = 0.0
    calls: int = 0

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, BlockRunCallEvent):
            self.total_usd += event.cost_usd or 0.0
            self.calls += 1


async def test_function_agent_solves_a_tool_task_while_streaming(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    spend = Spend()
    get_dispatcher().add_event_handler(spend)
    try:
        agent = FunctionAgent(tools=[multiply], llm=make_llm("auto"), system_prompt="Be exact.")
        handler = agent.run("Please multiply a=12 and b=7")
        events = await events_of(handler)
        result = await handler
    finally:
        get_dispatcher().event_handlers.remove(spend)
    assert str(result) == "Based on the tool results: multiply returned 84."
    [request] = [e for e in events if isinstance(e, ToolCall)]
    assert request.tool_name == "multiply" and request.tool_kwargs == {"a": 12, "b": 7}
    [done] = [e for e in events if isinstance(e, ToolCallResult)]
    assert done.tool_output.content == "84"
    streamed = "".join(e.delta for e in events if isinstance(e, AgentStream))
    assert streamed == str(result)  # the answer arrived token by token
    # two paid model turns (the call, then the answer), each reported once
    assert len(gw.payments) == 2 and spend.calls == 2
    assert spend.total_usd == pytest.approx(paid_usd(gw))


async def test_two_agents_share_a_parent_budget(
    gw: LocalGateway, make_llm: MakeLLM, tmp_path: Path
) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    team = Budget(0.05, name="team")
    planner_budget = Budget(0.03, name="planner", parent=team)
    calculator_budget = Budget(0.03, name="calculator", parent=team)
    planner = FunctionAgent(
        name="planner",
        description="Plans the work and hands arithmetic to the calculator.",
        llm=make_llm("auto", budget=planner_budget, agent_id="planner", ledger=ledger),
        tools=[],
        can_handoff_to=["calculator"],
    )
    calculator = FunctionAgent(
        name="calculator",
        description="Multiplies numbers.",
        llm=make_llm("auto", budget=calculator_budget, agent_id="calculator", ledger=ledger),
        tools=[multiply],
    )
    gw.script(
        None, [{"name": "handoff", "arguments": {"to_agent": "calculator", "reason": "math"}}]
    )
    gw.script(None, [{"name": "multiply", "arguments": {"a": 12, "b": 7}}])
    workflow = AgentWorkflow(agents=[planner, calculator], root_agent="planner")
    handler = workflow.run(user_msg="What is 12 times 7?")
    events = await events_of(handler)
    result = await handler
    assert str(result) == "Based on the tool results: multiply returned 84."
    results = [
        (e.tool_name, e.tool_output.content) for e in events if isinstance(e, ToolCallResult)
    ]
    assert [name for name, _ in results] == ["handoff", "multiply"] and results[1][1] == "84"
    assert {e.current_agent_name for e in events if isinstance(e, AgentOutput)} == {
        "planner",
        "calculator",
    }
    # planner: one turn; calculator: the call and the answer. The team paid for all three.
    assert len(gw.payments) == 3
    assert team.spent == pytest.approx(paid_usd(gw))
    assert planner_budget.spent == pytest.approx(gw.payments[0].amount_micros / 1e6)
    assert calculator_budget.spent > 0
    assert calculator_budget.spent == pytest.approx(team.spent - planner_budget.spent)
    ledger.close()  # flushes the writer thread
    for agent, budget in (("planner", planner_budget), ("calculator", calculator_budget)):
        rows = ledger.records(agent_id=agent)
        assert {r.budget for r in rows} == {agent}
        assert sum(r.paid_usd for r in rows) == pytest.approx(budget.spent)


async def test_an_agent_stops_at_its_own_budget_with_nothing_overspent(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    team = Budget(0.05, name="team")
    mine = Budget(0.000_5, name="stingy", parent=team)  # below any paid quote
    agent = FunctionAgent(tools=[multiply], llm=make_llm("auto", budget=mine))
    with pytest.raises(BudgetExceededError) as info:
        await agent.run("Please multiply a=12 and b=7")
    assert info.value.budget == "stingy"
    assert not gw.payments and team.spent == 0 and mine.spent == 0
