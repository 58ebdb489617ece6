"""Budgets on real calls: reserved before signing, committed with what the gateway was paid.

Every test checks money on the gateway's side (``gw.payments``) against the budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from blockrun_core import (
    AsyncBlockRunClient,
    BlockRunClient,
    Budget,
    BudgetExceededError,
    ConfigurationError,
    PaymentInDoubtError,
    errors,
)
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway

PAID = "openai/gpt-4o-mini"
FREE = "nvidia/gpt-oss-120b"
HI = [{"role": "user", "content": "what is 12 * 7"}]


def paid_usd(gw: LocalGateway) -> float:
    return sum(p.amount_micros for p in gw.payments) / 1e6


@pytest.fixture
def client(gw: LocalGateway) -> Iterator[BlockRunClient]:
    with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, timeout=5.0) as c:
        c._backoff_seconds = 0.01
        yield c


def price(gw: LocalGateway, model: str = PAID) -> float:
    """What the gateway quotes for HI on ``model`` (the same formula the client uses)."""
    return gw.quote({"model": model, "messages": HI, "max_tokens": 1024}) / 1e6


def test_spend_is_what_the_gateway_was_paid(gw: LocalGateway, client: BlockRunClient) -> None:
    budget = Budget(1.0, name="run")
    for _ in range(3):
        client.chat(model=PAID, messages=HI, budget=budget)
    assert len(gw.payments) == 3
    assert budget.spent == pytest.approx(paid_usd(gw)) and budget.reserved == 0


def test_strict_budget_refuses_before_anything_is_sent(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    budget = Budget(price(gw) / 2, name="tiny")
    with pytest.raises(BudgetExceededError) as info:
        client.chat(model=PAID, messages=HI, budget=budget)
    error = info.value
    assert error.budget == "tiny" and error.spent_usd == 0 and not error.retryable
    assert error.requested_usd == pytest.approx(price(gw))
    assert not gw.requests and not gw.payments
    assert budget.spent == 0 and budget.reserved == 0


def test_the_call_that_would_cross_the_line_is_refused(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    budget = Budget(price(gw) * 2.5, name="run")
    client.chat(model=PAID, messages=HI, budget=budget)
    client.chat(model=PAID, messages=HI, budget=budget)
    with pytest.raises(BudgetExceededError):
        client.chat(model=PAID, messages=HI, budget=budget)
    assert len(gw.payments) == 2 and budget.spent == pytest.approx(paid_usd(gw))


def test_client_budget_applies_and_a_per_call_budget_overrides_it(gw: LocalGateway) -> None:
    team, solo = Budget(1.0, name="team"), Budget(1.0, name="solo")
    with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, budget=team) as client:
        client.chat(model=PAID, messages=HI)
        client.chat(model=PAID, messages=HI, budget=solo)
    first, second = (p.amount_micros / 1e6 for p in gw.payments)
    assert team.spent == pytest.approx(first) and solo.spent == pytest.approx(second)


def test_a_child_draws_from_its_parent_and_the_parent_limit_holds(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    team = Budget(price(gw) * 1.5, name="team")
    alice = Budget(price(gw) * 1.5, name="alice", parent=team)
    bob = Budget(price(gw) * 1.5, name="bob", parent=team)
    client.chat(model=PAID, messages=HI, budget=alice)
    with pytest.raises(BudgetExceededError) as info:
        client.chat(model=PAID, messages=HI, budget=bob)
    assert info.value.budget == "team"
    assert len(gw.payments) == 1
    assert team.spent == alice.spent == pytest.approx(paid_usd(gw)) and bob.spent == 0


def test_free_model_leaves_the_budget_untouched(gw: LocalGateway, client: BlockRunClient) -> None:
    budget = Budget(0.0, name="zero")
    assert client.chat(model=FREE, messages=HI, budget=budget).content == "84"
    assert budget.spent == 0 and budget.reserved == 0 and not gw.payments


def test_rejected_payment_releases_the_reservation(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    budget = Budget(1.0)
    gw.inject(Fault.reject("PAYMENT_UNFUNDED"))
    with pytest.raises(errors.PaymentUnfundedError):
        client.chat(model=PAID, messages=HI, budget=budget)
    assert not gw.payments and budget.spent == 0 and budget.reserved == 0


def test_payment_in_doubt_counts_as_spent(gw: LocalGateway, client: BlockRunClient) -> None:
    budget = Budget(1.0)
    gw.inject(Fault.error(503, phase="paid", times=None))
    with pytest.raises(PaymentInDoubtError) as info:
        client.chat(model=PAID, messages=HI, budget=budget)
    # the money may have moved: the budget keeps it, whatever the gateway recorded
    assert budget.spent == pytest.approx(info.value.amount_usd) and budget.reserved == 0
    assert len(set(gw.claimed_nonces)) <= 1


def test_price_rise_reserves_the_difference_before_signing(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    budget = Budget(0.05)
    gw.inject(Fault.price_change(9_000))
    result = client.chat(model=PAID, messages=HI, budget=budget)
    assert result.cost_usd == pytest.approx(0.009) and budget.spent == pytest.approx(0.009)


def test_price_rise_beyond_the_budget_is_refused_unsigned(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    budget = Budget(price(gw) * 2)
    gw.set_price(PAID, int(price(gw) * 3e6))
    with pytest.raises(BudgetExceededError):
        client.chat(model=PAID, messages=HI, budget=budget)
    assert not gw.payments and [r.paid for r in gw.requests] == [False]
    assert budget.reserved == 0 and budget.spent == 0


def test_pre_authorised_repeat_call_is_reserved_and_committed(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    budget = Budget(1.0)
    client.chat(model=PAID, messages=HI, budget=budget)
    second = client.chat(model=PAID, messages=HI, budget=budget)
    assert second.round_trips == 1
    assert budget.spent == pytest.approx(paid_usd(gw))


def test_account_rail_charges_the_budget_its_quote(gw: LocalGateway) -> None:
    budget = Budget(1.0)
    with BlockRunClient(api_url=gw.account_url, api_key=gw.api_key, budget=budget) as client:
        client.chat(model=PAID, messages=HI)
    assert budget.spent == pytest.approx(price(gw), rel=0.05) and not gw.payments


def test_paid_stream_commits_its_payment(gw: LocalGateway, client: BlockRunClient) -> None:
    budget = Budget(1.0)
    text = "".join(c.delta for c in client.stream(model=PAID, messages=HI, budget=budget))
    assert text and budget.spent == pytest.approx(paid_usd(gw)) and budget.reserved == 0


def test_graceful_budget_downgrades_before_it_refuses(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    complex_ask = [
        {
            "role": "user",
            "content": "Design a distributed rate limiter for a multi-region API: compare "
            "token buckets and sliding windows, handle clock skew and failover, and give "
            "the consistency trade-offs.",
        }
    ]
    roomy = client.chat(model="auto", messages=complex_ask, budget=Budget(5.0))
    assert roomy.routing is not None and not roomy.routing.model.startswith("nvidia/")
    assert not any("downgraded" in s for s in roomy.routing.signals)
    assert roomy.routing.downgraded_by is None
    gw.reset()

    poor = Budget(0.0, mode="graceful", name="poor")
    result = client.chat(model="auto", messages=complex_ask, budget=poor)
    assert result.routing is not None
    assert result.model == result.routing.model and client.catalog.get(result.model).is_free
    assert any("budget 'poor'" in s and "downgraded" in s for s in result.routing.signals)
    assert result.routing.downgraded_by == "poor"
    assert result.routing.to_dict()["downgraded_by"] == "poor"
    assert not gw.payments and poor.spent == 0


def test_graceful_budget_picks_the_best_candidate_that_still_fits(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    ask = [{"role": "user", "content": "Explain how a B-tree index speeds up range queries."}]
    first_choice = client.chat(model="auto", messages=ask, budget=Budget(5.0))
    assert first_choice.routing is not None
    chain = first_choice.routing.candidates
    top_price = first_choice.cost_usd
    assert top_price is not None and top_price > 0
    gw.reset()
    budget = Budget(top_price * 0.99, mode="graceful")
    result = client.chat(model="auto", messages=ask, budget=budget)
    assert result.routing is not None and result.model != chain[0]
    assert result.cost_usd is not None and result.cost_usd <= budget.limit_usd
    assert budget.spent == pytest.approx(paid_usd(gw)) and paid_usd(gw) <= budget.limit_usd


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_graceful_budget_keeps_working_for_requests_no_free_model_can_serve(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    ask = [{"role": "user", "content": "Use get_weather for Paris."}]
    budget = Budget(0.05, mode="graceful", name="agent")
    result = client.chat(model="auto", messages=ask, tools=[WEATHER_TOOL], budget=budget)
    assert result.tool_calls and len(gw.payments) == 1
    assert budget.spent == pytest.approx(paid_usd(gw))

    gw.reset()
    empty = Budget(0.0, mode="graceful", name="empty")
    with pytest.raises(BudgetExceededError) as info:
        client.chat(model="auto", messages=ask, tools=[WEATHER_TOOL], budget=empty)
    assert info.value.budget == "empty" and not gw.payments and not gw.requests


def test_graceful_budget_on_a_concrete_model_refuses_when_nothing_fits(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    with pytest.raises(BudgetExceededError):
        client.chat(model=PAID, messages=HI, budget=Budget(0.0, mode="graceful"))
    assert not gw.requests and not gw.payments


@pytest.mark.parametrize(
    "bad",
    [lambda: Budget(-1), lambda: Budget(float("nan")), lambda: Budget(float("inf"))],
    ids=["negative", "nan", "inf"],
)
def test_bad_limits_are_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="limit_usd"):
        bad()  # type: ignore[operator]


def test_a_child_larger_than_its_parent_is_refused() -> None:
    team = Budget(1.0, name="team")
    with pytest.raises(ConfigurationError, match="larger than its parent 'team'"):
        Budget(2.0, parent=team)


def test_a_budget_that_is_not_a_budget_is_refused_before_sending(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    with pytest.raises(ConfigurationError, match="budget must be"):
        client.chat(model=PAID, messages=HI, budget=5.0)
    assert not gw.requests


async def test_concurrent_async_calls_never_sign_more_than_the_limit(gw: LocalGateway) -> None:
    limit = price(gw) * 10.5
    budget = Budget(limit, name="burst")
    async with AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY) as client:
        results = await asyncio.gather(
            *(client.chat(model=PAID, messages=HI, budget=budget) for _ in range(40)),
            return_exceptions=True,
        )
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(refused) == 30 and len(gw.payments) == 10
    assert paid_usd(gw) <= limit and budget.spent == pytest.approx(paid_usd(gw))
    assert budget.reserved == 0


async def test_a_call_cancelled_after_paying_keeps_its_spend_on_the_budget() -> None:
    # Its own gateway: the stalled request settles after the task is gone.
    with LocalGateway() as gw:
        budget = Budget(1.0)
        gw.inject(Fault.delay(2.0, phase="paid"))  # the gateway stalls after the claim
        async with AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY) as client:
            task = asyncio.create_task(client.chat(model=PAID, messages=HI, budget=budget))
            while not gw.claimed_nonces:  # the paid request is in flight
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        # the signed payment may settle: the budget counts it, and holds nothing more
        assert budget.spent == pytest.approx(price(gw)) and budget.reserved == 0


async def test_a_call_cancelled_before_paying_releases_its_hold() -> None:
    with LocalGateway() as gw:
        budget = Budget(1.0)
        gw.inject(Fault.delay(1.0, phase="unpaid"))
        async with AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY) as client:
            task = asyncio.create_task(client.chat(model=PAID, messages=HI, budget=budget))
            await asyncio.sleep(0.2)  # the unpaid probe is stalled: the estimate is held
            assert budget.reserved > 0
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert budget.spent == 0 and budget.reserved == 0 and not gw.payments
