"""Budgets through BlockRunLLM: reserved before signing, committed with what was paid."""

from __future__ import annotations

import pytest
from blockrun_core import BudgetExceededError, ConfigurationError
from blockrun_core.testing import LocalGateway
from llama_index.core.base.llms.types import ChatMessage
from llama_index.llms.blockrun import BlockRunLLM

from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import METHODS, PAID, call, paid_usd

try:
    from blockrun_core import Budget
except ImportError:  # pragma: no cover - until blockrun_core ships Budget
    pytest.skip("waits on blockrun_core.Budget", allow_module_level=True)

HI = [ChatMessage(role="user", content="what is 12 * 7")]


def price(gw: LocalGateway) -> float:
    body = {"model": PAID, "messages": [{"role": "user", "content": "what is 12 * 7"}]}
    return gw.quote({**body, "max_tokens": 1024}) / 1e6


async def test_the_field_budget_counts_every_kind_of_call(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    budget = Budget(1.0, name="run")
    llm = make_llm(budget=budget)
    for method in METHODS:
        await call(llm, method, "what is 12 * 7")
    assert len(gw.payments) == len(METHODS)
    assert budget.spent == pytest.approx(paid_usd(gw)) and budget.reserved == 0


def test_a_per_call_budget_wins_over_the_field(gw: LocalGateway, make_llm: MakeLLM) -> None:
    standing, this_call = Budget(1.0, name="standing"), Budget(1.0, name="this-call")
    make_llm(budget=standing).chat(HI, budget=this_call)
    assert paid_usd(gw) > 0 and standing.spent == 0
    assert this_call.spent == pytest.approx(paid_usd(gw))


@pytest.mark.parametrize("method", METHODS)
async def test_an_exhausted_budget_refuses_before_paying(
    gw: LocalGateway, make_llm: MakeLLM, method: str
) -> None:
    budget = Budget(price(gw) / 2, name="tiny")
    with pytest.raises(BudgetExceededError) as info:
        await call(make_llm(budget=budget), method, "what is 12 * 7")
    assert info.value.budget == "tiny" and info.value.spent_usd == 0
    assert info.value.requested_usd == pytest.approx(price(gw))
    assert not gw.payments and not gw.claimed_nonces and budget.spent == 0


def test_a_graceful_budget_downgrades_auto_to_a_free_model(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    budget = Budget(0.0005, mode="graceful", name="shoestring")  # below any paid quote
    response = make_llm("auto", budget=budget).chat([ChatMessage(role="user", content="hi")])
    assert response.additional_kwargs["cost_usd"] == 0.0 and not gw.payments
    assert response.message.content == "Echo: hi"


def test_the_budget_stays_out_of_serialised_forms(make_llm: MakeLLM) -> None:
    llm = make_llm(budget=Budget(1.0, name="team-budget"))
    assert "budget" not in llm.to_dict()
    assert "team-budget" not in llm.to_json()
    assert llm.budget is not None and llm.budget.name == "team-budget"


def test_a_budget_must_be_a_budget(gw: LocalGateway) -> None:
    with pytest.raises(ConfigurationError, match=r"budget must be a blockrun_core\.Budget"):
        BlockRunLLM(PAID, api_url=gw.url, budget=5.0)
