"""``Budget`` itself: validation, hierarchy, windows and reservation expiry (memory store)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from blockrun_core import Budget, BudgetExceededError, ConfigurationError
from blockrun_core.budget import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_reserve_commit_release_move_money_between_the_states() -> None:
    budget = Budget(1.0, name="run")
    hold = budget.reserve(400_000)
    assert (budget.spent, budget.reserved, budget.remaining) == (0, 0.4, pytest.approx(0.6))
    budget.commit(hold, 250_000)  # paid less than held: the rest is free again
    assert (budget.spent, budget.reserved) == (0.25, 0)
    budget.release(budget.reserve(500_000))
    assert (budget.spent, budget.reserved, budget.remaining) == (0.25, 0, 0.75)


def test_a_reservation_that_does_not_fit_raises_with_the_numbers() -> None:
    budget = Budget(1.0, name="run")
    budget.commit(budget.reserve(700_000), 700_000)
    budget.reserve(200_000)
    with pytest.raises(BudgetExceededError) as info:
        budget.reserve(200_000)
    error = info.value
    assert (error.budget, error.limit_usd, error.spent_usd) == ("run", 1.0, 0.7)
    assert (error.reserved_usd, error.requested_usd) == (0.2, 0.2)
    assert "held by calls in flight" in str(error) and not error.retryable


def test_exactly_the_limit_fits() -> None:
    budget = Budget(0.5)
    budget.reserve(500_000)
    with pytest.raises(BudgetExceededError):
        budget.reserve(1)


def test_a_child_is_limited_by_every_ancestor() -> None:
    org = Budget(3.0, name="org")
    team = Budget(1.0, name="team", parent=org)
    alice = Budget(1.0, name="alice", parent=team)
    bob = Budget(1.0, name="bob", parent=team)
    alice.commit(alice.reserve(600_000), 600_000)
    assert bob.available_micros() == 400_000 and bob.remaining == 1.0
    with pytest.raises(BudgetExceededError) as info:
        bob.reserve(500_000)
    assert info.value.budget == "team" and bob.reserved == 0  # nothing held anywhere
    assert (org.spent, team.spent, alice.spent, bob.spent) == (0.6, 0.6, 0.6, 0)


async def test_async_methods_share_the_same_state() -> None:
    budget = Budget(1.0)
    hold = await budget.areserve(300_000)
    assert (await budget.astate()).reserved_usd == 0.3
    await budget.acommit(hold, 300_000)
    await budget.arelease(await budget.areserve(100_000))
    assert await budget.aavailable_micros() == 700_000 and budget.spent == 0.3


def test_a_rolling_window_forgets_old_spend() -> None:
    clock = Clock()
    hourly = Budget(1.0, window=timedelta(hours=1), clock=clock)
    hourly.commit(hourly.reserve(800_000), 800_000)
    with pytest.raises(BudgetExceededError):
        hourly.reserve(300_000)
    clock.now += 3_600.5
    assert hourly.spent == 0
    hourly.reserve(900_000)


def test_reservations_of_a_crashed_caller_expire() -> None:
    clock = Clock()
    budget = Budget(1.0, reservation_ttl=30, clock=clock)
    budget.reserve(1_000_000)  # never committed nor released: the caller died
    with pytest.raises(BudgetExceededError):
        budget.reserve(1)
    clock.now += 31
    assert budget.reserved == 0
    budget.reserve(1_000_000)


def test_budgets_with_one_name_on_one_store_are_one_budget() -> None:
    store = MemoryStore()
    first = Budget(1.0, name="team", store=store)
    second = Budget(1.0, name="team", store=store)
    first.commit(first.reserve(600_000), 600_000)
    assert second.spent == 0.6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit_usd": -0.01}, "limit_usd must be a finite amount >= 0"),
        ({"limit_usd": float("nan")}, "limit_usd must be a finite amount >= 0"),
        ({"limit_usd": True}, "limit_usd must be a number"),
        ({"limit_usd": "5"}, "limit_usd must be a number"),
        ({"limit_usd": 1, "mode": "lenient"}, "mode must be 'strict' or 'graceful'"),
        ({"limit_usd": 1, "window": 0}, "window must be a positive duration"),
        ({"limit_usd": 1, "window": timedelta(seconds=-5)}, "window must be a positive"),
        ({"limit_usd": 1, "window": "1h"}, "window must be seconds or a timedelta"),
        ({"limit_usd": 1, "name": " "}, "name must be a non-empty string"),
        ({"limit_usd": 1, "reservation_ttl": 0}, "reservation_ttl must be a positive"),
        ({"limit_usd": 1, "parent": "team"}, "parent must be a Budget"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Budget(**kwargs)  # type: ignore[arg-type]


def test_a_child_must_fit_in_and_share_its_parents_store() -> None:
    team = Budget(1.0, name="team")
    with pytest.raises(ConfigurationError, match="larger than its parent 'team'"):
        Budget(1.5, parent=team)
    with pytest.raises(ConfigurationError, match="must use its parent's store"):
        Budget(0.5, parent=team, store=MemoryStore())
    with pytest.raises(ConfigurationError, match="its own ancestor"):
        Budget(0.5, name="team", parent=team)
    assert Budget(0.5, parent=team).store is team.store


def test_repr_names_the_budget_and_its_parent() -> None:
    team = Budget(5, name="team", mode="graceful")
    assert repr(Budget(2, name="alice", parent=team)) == (
        "Budget(2, mode='strict', name='alice', parent='team')"
    )
