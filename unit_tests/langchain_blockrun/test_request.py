"""What one call asks the core for: parameters, budget and ids, from kwargs and run config."""

from __future__ import annotations

from uuid import UUID

import pytest
from blockrun_core import Budget
from langchain_blockrun import ChatBlockRun
from langchain_blockrun._scope import SCOPE_KWARG, scope_from_config
from langchain_core.messages import HumanMessage
from langchain_core.runnables.config import var_child_runnable_config

MODEL = "openai/gpt-4o-mini"
HI = [HumanMessage("hi")]


def test_call_parameters_override_the_model_defaults() -> None:
    llm = ChatBlockRun(model=MODEL, max_tokens=100, temperature=0.5, model_kwargs={"seed": 1})
    request = llm._request(
        HI, None, {"model": "auto", "max_tokens": 10, "seed": 2, "tools": [], "stream": True}
    )
    assert request["model"] == "auto" and request["max_tokens"] == 10
    assert request["temperature"] == 0.5 and request["seed"] == 2 and request["tools"] == []
    assert "stream" not in request and "stop" not in request
    assert request["messages"] == [{"role": "user", "content": "hi"}]


def test_the_most_specific_budget_wins() -> None:
    model, config, call = (Budget(1.0, name=n) for n in ("model", "config", "call"))
    llm = ChatBlockRun(model=MODEL, budget=model)
    scope = {SCOPE_KWARG: {"budget": config}}
    assert llm._request(HI, None, {})["budget"] is model
    assert llm._request(HI, None, dict(scope))["budget"] is config
    assert llm._request(HI, None, {**scope, "budget": call})["budget"] is call
    assert "budget" not in ChatBlockRun(model=MODEL)._request(HI, None, {})


def test_ids_pass_to_the_core_and_the_thread_pins_routing() -> None:
    scope = {"run_id": "r", "thread_id": "t", "agent_id": "a"}
    request = ChatBlockRun(model="auto")._request(HI, None, {SCOPE_KWARG: scope})
    assert (request["run_id"], request["thread_id"], request["agent_id"]) == ("r", "t", "a")
    assert request["session_id"] == "t" and SCOPE_KWARG not in request


def test_scope_from_an_explicit_config() -> None:
    budget = Budget(1.0, name="b")
    run_id = UUID(int=7)
    config = {
        "run_id": run_id,
        "configurable": {"blockrun_budget": budget, "thread_id": "t-1"},
        "metadata": {"lc_agent_name": "researcher"},
    }
    assert scope_from_config(config) == {  # type: ignore[arg-type]
        "budget": budget,
        "run_id": str(run_id),
        "thread_id": "t-1",
        "agent_id": "researcher",
    }


def test_scope_prefers_blockrun_ids_and_reads_the_enclosing_run() -> None:
    parent = {
        "configurable": {"blockrun_run_id": "run-9", "blockrun_agent_id": "lead"},
        "metadata": {"lc_agent_name": "other", "thread_id": "from-metadata"},
    }
    token = var_child_runnable_config.set(parent)  # type: ignore[arg-type]
    try:
        scope = scope_from_config(None)
    finally:
        var_child_runnable_config.reset(token)
    assert scope == {"run_id": "run-9", "thread_id": "from-metadata", "agent_id": "lead"}
    assert scope_from_config(None) == {}


def test_traces_show_the_budget_by_name_only() -> None:
    llm = ChatBlockRun(model=MODEL)
    params = llm._get_invocation_params(
        stop=None, budget=Budget(1.0, name="team"), **{SCOPE_KWARG: {"thread_id": "t"}}
    )
    assert params["budget"] == "team" and SCOPE_KWARG not in params


CALLS = {
    "invoke": lambda llm, config: llm.invoke("hi", config),
    "stream": lambda llm, config: list(llm.stream("hi", config)),
    "batch": lambda llm, config: llm.batch(["hi"], config),
}


@pytest.mark.parametrize("method", sorted(CALLS))
def test_entry_points_hand_the_run_config_to_the_call(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, object]] = []

    def fake_call(self: ChatBlockRun, messages: object, stop: object = None, **kw: object) -> None:
        seen.append(kw)
        raise RuntimeError("stop here")

    monkeypatch.setattr(ChatBlockRun, "_generate", fake_call)
    monkeypatch.setattr(ChatBlockRun, "_stream", fake_call)
    config = {"configurable": {"thread_id": "t-3"}}
    with pytest.raises(RuntimeError, match="stop here"):
        CALLS[method](ChatBlockRun(model=MODEL), config)
    assert seen[0][SCOPE_KWARG] == {"thread_id": "t-3"}
