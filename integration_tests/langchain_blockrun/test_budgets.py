"""Budgets in LangChain idioms: on the model, per call, per run config, per agent, per team.

Prices are fixed by the gateway's quote for a short gpt-4o-mini call ($0.002), so each
budget below allows a known number of calls. Every refusal happens before signing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from blockrun_core import Budget, BudgetExceededError, PaymentInDoubtError
from blockrun_core.ledger import Ledger, usage_stats
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway
from langchain.agents import create_agent
from langchain_blockrun import BlockRunBudgetMiddleware, ChatBlockRun, get_blockrun_callback
from langchain_core.exceptions import ModelError
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

PAID = "openai/gpt-4o-mini"
CALL = 0.002  # the gateway's quote for each short call below


def make(gw: LocalGateway, model: str = PAID, **options: Any) -> ChatBlockRun:
    return ChatBlockRun(model=model, api_url=gw.url, wallet_key=HARDHAT_KEY, **options)


def with_budget(budget: Budget, **configurable: Any) -> RunnableConfig:
    return {"configurable": {"blockrun_budget": budget, **configurable}}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _ask(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


# --------------------------------------------------------------------------- model and call


def test_model_budget_stops_before_signing_the_call_it_cannot_cover(gw: LocalGateway) -> None:
    budget = Budget(2.5 * CALL, name="model")
    llm = make(gw, budget=budget)
    llm.invoke("what is 1 + 1")
    llm.invoke("what is 2 + 2")
    with pytest.raises(BudgetExceededError) as caught:
        llm.invoke("what is 3 + 3")
    error = caught.value
    assert isinstance(error, ModelError) and error.is_retryable is False  # type: ignore[attr-defined]
    assert (error.budget, error.requested_usd) == ("model", pytest.approx(CALL))
    assert len(gw.payments) == 2 and len(gw.claimed_nonces) == 2
    assert budget.spent == pytest.approx(2 * CALL) and budget.spent <= budget.limit_usd


def test_config_budget_applies_to_that_call_only(gw: LocalGateway) -> None:
    model_budget, call_budget = Budget(1.0, name="model"), Budget(1.0, name="call")
    llm = make(gw, budget=model_budget)
    llm.invoke("hi", config=with_budget(call_budget))
    llm.invoke("hi", budget=call_budget)  # the keyword form
    llm.invoke("hi")
    assert call_budget.spent == pytest.approx(2 * CALL)
    assert model_budget.spent == pytest.approx(CALL)


def test_exhausted_budget_is_not_retried_and_pays_nothing(gw: LocalGateway) -> None:
    budget = Budget(CALL / 2, name="tiny")
    llm = make(gw).with_retry(
        retry_if_exception_type=lambda e: getattr(e, "is_retryable", False),
        stop_after_attempt=3,
        wait_exponential_jitter=False,
    )
    with pytest.raises(BudgetExceededError):
        llm.invoke("hi", config=with_budget(budget))
    assert gw.payments == [] and gw.requests == [] and budget.spent == 0.0


async def test_budget_holds_for_streams_and_async(gw: LocalGateway) -> None:
    budget = Budget(2 * CALL, name="async")
    llm = make(gw)
    await llm.ainvoke("hi", config=with_budget(budget))
    streamed = [c.text async for c in llm.astream("what is 2 + 2", config=with_budget(budget))]
    assert "".join(streamed) == "4"
    with pytest.raises(BudgetExceededError):
        [c async for c in llm.astream("hi", config=with_budget(budget))]
    assert budget.spent == pytest.approx(2 * CALL) and len(gw.payments) == 2


def test_graceful_budget_downgrades_to_a_free_model(gw: LocalGateway) -> None:
    budget = Budget(CALL / 2, name="frugal", mode="graceful")
    answer = make(gw, "auto").invoke("what is 2 + 2", config=with_budget(budget))
    assert answer.content == "4" and gw.payments == []
    assert gw.catalog.get(answer.response_metadata["model_name"]).is_free
    assert any(
        "downgraded" in s for s in answer.response_metadata["blockrun"]["routing"]["signals"]
    )


def test_run_thread_and_agent_ids_reach_the_ledger(gw: LocalGateway, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    llm = make(gw, ledger=ledger)
    config: RunnableConfig = {
        "configurable": {"thread_id": "thread-7", "blockrun_run_id": "run-1"},
        "metadata": {"blockrun_agent_id": "helper"},
    }
    llm.invoke("hi", config=config)
    list(llm.stream("hi", config=config))
    ledger.close()
    rows = ledger.records(run_id="run-1")
    assert [(r.thread_id, r.agent_id, r.status) for r in rows] == [
        ("thread-7", "helper", "settled")
    ] * 2
    assert sum(r.paid_usd for r in rows) == pytest.approx(2 * CALL)


# --------------------------------------------------------------------------- callback totals


async def test_callback_totals_everything_inside_the_block(gw: LocalGateway) -> None:
    llm = make(gw)
    make(gw).invoke("before the block")
    with get_blockrun_callback() as cb:
        first = llm.invoke("what is 1 + 1")
        streamed = list(llm.stream("what is 2 + 2"))
        third = await llm.ainvoke("what is 3 + 3")
        make(gw, "nvidia/gpt-oss-120b").invoke("hi")
        routed = make(gw, "auto").invoke("hi there")
    make(gw).invoke("after the block")
    assert cb.successful_requests == 5
    paid = sum(p.amount_micros for p in gw.payments[1:-1]) / 1e6
    assert cb.total_cost == pytest.approx(paid)
    usages = [first.usage_metadata, third.usage_metadata, routed.usage_metadata]
    usages += [c.usage_metadata for c in streamed if c.usage_metadata]
    assert (
        cb.prompt_tokens
        == sum(u["input_tokens"] for u in usages if u)
        + cb.by_model["nvidia/gpt-oss-120b"].prompt_tokens
    )
    assert cb.total_tokens == cb.prompt_tokens + cb.completion_tokens
    assert cb.by_model[PAID].calls == 3 and cb.by_model["nvidia/gpt-oss-120b"].cost == 0.0
    info = routed.response_metadata["blockrun"]
    assert cb.baseline_cost == pytest.approx(info["baseline_cost_usd"])
    assert cb.savings == pytest.approx(info["baseline_cost_usd"] - info["cost_usd"])
    assert "Total Cost (USD)" in repr(cb)


async def test_callback_keeps_payments_in_doubt_apart(gw: LocalGateway) -> None:
    gw.inject(Fault.error(503, phase="paid", times=None))
    llm = make(gw, max_retries=1)
    with get_blockrun_callback() as cb:
        with pytest.raises(PaymentInDoubtError) as sync_error:
            llm.invoke("what is 1 + 1")
        with pytest.raises(PaymentInDoubtError) as stream_error:
            [chunk async for chunk in llm.astream("what is 2 + 2")]
    gw.clear_faults()
    doubted = sync_error.value.amount_usd + stream_error.value.amount_usd
    assert cb.in_doubt_requests == 2 and cb.in_doubt_cost == pytest.approx(doubted)
    assert cb.successful_requests == 0 and cb.total_cost == 0.0
    assert len(set(gw.claimed_nonces)) == 2  # one signed payment per call, never a second
    assert "In doubt (USD)" in repr(cb)


def test_callback_counts_nested_agents(gw: LocalGateway) -> None:
    inner = create_agent(make(gw), [add], name="inner")

    @tool
    def delegate(question: str) -> str:
        """Hand a question to the inner agent."""
        return str(inner.invoke(_ask(question))["messages"][-1].content)

    outer = create_agent(make(gw), [delegate], name="outer")
    with get_blockrun_callback() as cb:
        outer.invoke(_ask('Use delegate with question="Use add with a=1 b=2"'))
    assert cb.successful_requests == len(gw.payments) == 4
    assert cb.total_cost == pytest.approx(4 * CALL)


# --------------------------------------------------------------------------- middleware


def test_middleware_ends_the_agent_with_a_clear_message(gw: LocalGateway) -> None:
    budget = Budget(1.5 * CALL, name="agent")
    agent = create_agent(make(gw), [add], middleware=[BlockRunBudgetMiddleware(budget)])
    messages = agent.invoke(_ask("Use add with a=2 b=3"))["messages"]
    assert isinstance(messages[2], ToolMessage) and messages[2].content == "5"  # the tool ran
    final = messages[-1]
    assert "budget 'agent' is used up" in final.content and "next step needed" in final.content
    assert final.response_metadata["blockrun"]["budget_exhausted"] is True
    assert len(gw.payments) == 1 and budget.spent == pytest.approx(CALL)


def test_middleware_ends_at_once_when_nothing_is_left(gw: LocalGateway) -> None:
    budget = Budget(CALL, name="spent")
    make(gw, budget=budget).invoke("hi")
    agent = create_agent(make(gw), [add], middleware=[BlockRunBudgetMiddleware(budget)])
    messages = agent.invoke(_ask("Use add with a=2 b=3"))["messages"]
    assert len(messages) == 2 and "budget 'spent' is used up" in messages[-1].content
    assert len(gw.payments) == 1


async def test_middleware_reads_the_budget_from_the_run_config(gw: LocalGateway) -> None:
    budget = Budget(CALL, name="from-config", mode="strict")
    agent = create_agent(make(gw), [add], middleware=[BlockRunBudgetMiddleware()])
    result = await agent.ainvoke(_ask("Use add with a=2 b=3"), config=with_budget(budget))
    assert "budget 'from-config' is used up" in result["messages"][-1].content
    assert budget.spent == pytest.approx(CALL) and len(gw.payments) == 1


def test_config_budget_covers_every_call_of_an_agent(gw: LocalGateway) -> None:
    budget = Budget(1.0, name="run")
    agent = create_agent(make(gw), [add])
    agent.invoke(_ask("Use add with a=2 b=3"), config=with_budget(budget))
    assert budget.spent == pytest.approx(2 * CALL) and len(gw.payments) == 2


# --------------------------------------------------------------------------- a team of agents


@tool
def search(topic: str) -> str:
    """Find notes on a topic."""
    return f"notes on {topic}"


@tool
def draft(topic: str) -> str:
    """Draft a text on a topic."""
    return f"draft about {topic}"


def build_team(llm: ChatBlockRun, budgets: dict[str, Budget]) -> Any:
    """A supervisor that delegates to a researcher and a writer, each on its own budget."""

    def agent(name: str, tools: list[Any]) -> Any:
        middleware = [BlockRunBudgetMiddleware(budgets[name])]
        return create_agent(llm, tools, name=name, middleware=middleware)

    researcher = agent("researcher", [search])
    writer = agent("writer", [draft])

    @tool
    def ask_researcher(topic: str) -> str:
        """Have the researcher look a topic up."""
        answer = researcher.invoke(_ask(f"Use search with topic={topic}"))
        return str(answer["messages"][-1].content)

    @tool
    def ask_writer(topic: str) -> str:
        """Have the writer draft a text on a topic."""
        return str(writer.invoke(_ask(f"Use draft with topic={topic}"))["messages"][-1].content)

    return agent("supervisor", [ask_researcher, ask_writer])


def _team(team_limit: float, **limits: float) -> dict[str, Budget]:
    team = Budget(team_limit, name="team")
    return {"team": team} | {n: Budget(v, name=n, parent=team) for n, v in limits.items()}


def test_team_agents_each_stop_at_their_own_budget(gw: LocalGateway, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    budgets = _team(10 * CALL, supervisor=2 * CALL, researcher=2 * CALL, writer=CALL)
    supervisor = build_team(make(gw, ledger=ledger), budgets)
    result = supervisor.invoke(_ask("Use ask_researcher and ask_writer with topic=cats"))
    replies = {m.name: m.content for m in result["messages"] if isinstance(m, ToolMessage)}
    assert replies["ask_researcher"].endswith("search returned notes on cats.")
    assert "budget 'writer' is used up" in replies["ask_writer"]  # stopped, did not raise
    assert result["messages"][-1].content.startswith("Based on the tool results")
    spent = {name: b.spent for name, b in budgets.items()}
    assert spent == pytest.approx(
        {"team": 5 * CALL, "supervisor": 2 * CALL, "researcher": 2 * CALL, "writer": CALL}
    )
    ledger.close()
    by_agent = {row.key: row.spend_usd for row in usage_stats(ledger, by="agent").rows}
    assert by_agent == pytest.approx(
        {"supervisor": 2 * CALL, "researcher": 2 * CALL, "writer": CALL}
    )
    assert sum(p.amount_micros for p in gw.payments) / 1e6 == pytest.approx(5 * CALL)


def test_team_budget_caps_the_whole_team(gw: LocalGateway) -> None:
    budgets = _team(3 * CALL, supervisor=2 * CALL, researcher=2 * CALL, writer=2 * CALL)
    supervisor = build_team(make(gw), budgets)
    result = supervisor.invoke(_ask("Use ask_researcher and ask_writer with topic=cats"))
    team = budgets["team"]
    assert team.spent <= team.limit_usd and len(gw.payments) == 3
    assert any("budget 'team' is used up" in str(m.content) for m in result["messages"])
    assert all(b.spent <= b.limit_usd for b in budgets.values())


def test_handler_in_config_counts_only_its_calls(gw: LocalGateway) -> None:
    from langchain_blockrun import BlockRunCallbackHandler

    handler = BlockRunCallbackHandler()
    llm = make(gw)
    llm.invoke("hi", config={"callbacks": [handler]})
    llm.invoke("hi")
    assert handler.successful_requests == 1 and handler.total_cost == pytest.approx(CALL)
    assert handler.savings_fraction is None  # a concrete model has no routing baseline
