"""One behaviour for every budget store: memory, SQLite and Redis run the same tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from blockrun_core.budget.store import BudgetStore, Refusal, Usage

from unit_tests.blockrun_core.budget.stores import NOW, key

TTL = 60.0
TEAM = key("team", 1_000)
AGENT = key("team/agent", 600)


def test_every_store_satisfies_the_protocol(store: BudgetStore) -> None:
    assert isinstance(store, BudgetStore)


def test_an_unknown_budget_is_empty(store: BudgetStore) -> None:
    assert store.usage(TEAM, now=NOW) == Usage(0, 0)


def test_a_reservation_exactly_at_the_limit_fits(store: BudgetStore) -> None:
    assert store.reserve([TEAM], "r1", 400, now=NOW, ttl_seconds=TTL) is None
    assert store.reserve([TEAM], "r2", 600, now=NOW, ttl_seconds=TTL) is None
    assert store.usage(TEAM, now=NOW) == Usage(0, 1_000)


def test_one_micro_over_the_limit_is_refused_and_reserves_nothing(store: BudgetStore) -> None:
    store.reserve([TEAM], "r1", 400, now=NOW, ttl_seconds=TTL)
    store.commit([TEAM], "r1", 400, now=NOW)
    store.reserve([TEAM], "r2", 100, now=NOW, ttl_seconds=TTL)

    refusal = store.reserve([TEAM], "r3", 501, now=NOW, ttl_seconds=TTL)

    assert refusal == Refusal(TEAM, Usage(400, 100))
    assert store.usage(TEAM, now=NOW) == Usage(400, 100)
    assert store.reserve([TEAM], "r3", 500, now=NOW, ttl_seconds=TTL) is None


def test_a_chain_reserves_on_every_budget(store: BudgetStore) -> None:
    assert store.reserve([AGENT, TEAM], "r1", 250, now=NOW, ttl_seconds=TTL) is None
    assert store.usage(AGENT, now=NOW) == Usage(0, 250)
    assert store.usage(TEAM, now=NOW) == Usage(0, 250)


def test_a_chain_is_all_or_nothing_when_the_parent_is_full(store: BudgetStore) -> None:
    sibling = key("team/other", 1_000)
    store.reserve([sibling, TEAM], "other", 700, now=NOW, ttl_seconds=TTL)

    # The agent's own budget has room for 400; its team has only 300 left.
    refusal = store.reserve([AGENT, TEAM], "r1", 400, now=NOW, ttl_seconds=TTL)

    assert refusal == Refusal(TEAM, Usage(0, 700))
    assert store.usage(AGENT, now=NOW) == Usage(0, 0)
    assert store.usage(TEAM, now=NOW) == Usage(0, 700)


def test_a_chain_names_the_first_budget_that_does_not_fit(store: BudgetStore) -> None:
    store.reserve([AGENT, TEAM], "r1", 500, now=NOW, ttl_seconds=TTL)

    refusal = store.reserve([AGENT, TEAM], "r2", 200, now=NOW, ttl_seconds=TTL)

    assert refusal == Refusal(AGENT, Usage(0, 500))
    assert store.usage(TEAM, now=NOW) == Usage(0, 500)


def test_commit_turns_the_reservation_into_the_amount_paid(store: BudgetStore) -> None:
    store.reserve([AGENT, TEAM], "r1", 500, now=NOW, ttl_seconds=TTL)

    store.commit([AGENT, TEAM], "r1", 320, now=NOW + 1)

    assert store.usage(AGENT, now=NOW + 1) == Usage(320, 0)
    assert store.usage(TEAM, now=NOW + 1) == Usage(320, 0)
    assert store.reserve([TEAM], "r2", 681, now=NOW + 1, ttl_seconds=TTL) == Refusal(
        TEAM, Usage(320, 0)
    )
    assert store.reserve([TEAM], "r2", 680, now=NOW + 1, ttl_seconds=TTL) is None


def test_commit_is_idempotent_per_reservation(store: BudgetStore) -> None:
    store.reserve([AGENT, TEAM], "r1", 300, now=NOW, ttl_seconds=TTL)
    store.commit([AGENT, TEAM], "r1", 300, now=NOW)
    store.commit([AGENT, TEAM], "r1", 300, now=NOW + 1)
    store.commit([AGENT, TEAM], "r1", 300, now=NOW + 2)

    assert store.usage(AGENT, now=NOW + 2) == Usage(300, 0)
    assert store.usage(TEAM, now=NOW + 2) == Usage(300, 0)


def test_commit_after_the_reservation_expired_still_counts(store: BudgetStore) -> None:
    store.reserve([AGENT, TEAM], "r1", 300, now=NOW, ttl_seconds=10)
    assert store.usage(TEAM, now=NOW + 11) == Usage(0, 0)  # expired, and noticed

    store.commit([AGENT, TEAM], "r1", 300, now=NOW + 12)

    assert store.usage(AGENT, now=NOW + 12) == Usage(300, 0)
    assert store.usage(TEAM, now=NOW + 12) == Usage(300, 0)


def test_commit_without_a_reservation_counts(store: BudgetStore) -> None:
    store.commit([TEAM], "never-reserved", 150, now=NOW)
    assert store.usage(TEAM, now=NOW) == Usage(150, 0)


def test_release_frees_the_reservation_without_spending(store: BudgetStore) -> None:
    store.reserve([AGENT, TEAM], "r1", 600, now=NOW, ttl_seconds=TTL)

    store.release([AGENT, TEAM], "r1")
    store.release([AGENT, TEAM], "r1")
    store.release([AGENT, TEAM], "unknown")

    assert store.usage(AGENT, now=NOW) == Usage(0, 0)
    assert store.usage(TEAM, now=NOW) == Usage(0, 0)
    assert store.reserve([AGENT, TEAM], "r2", 600, now=NOW, ttl_seconds=TTL) is None


def test_release_after_commit_keeps_the_spend(store: BudgetStore) -> None:
    store.reserve([TEAM], "r1", 200, now=NOW, ttl_seconds=TTL)
    store.commit([TEAM], "r1", 200, now=NOW)
    store.release([TEAM], "r1")
    assert store.usage(TEAM, now=NOW) == Usage(200, 0)


def test_releasing_one_reservation_leaves_the_others(store: BudgetStore) -> None:
    store.reserve([TEAM], "r1", 200, now=NOW, ttl_seconds=TTL)
    store.reserve([TEAM], "r2", 300, now=NOW, ttl_seconds=TTL)
    store.release([TEAM], "r1")
    assert store.usage(TEAM, now=NOW) == Usage(0, 300)


def test_reserving_again_under_the_same_id_replaces_the_reservation(store: BudgetStore) -> None:
    store.reserve([TEAM], "r1", 200, now=NOW, ttl_seconds=TTL)
    assert store.reserve([TEAM], "r1", 300, now=NOW, ttl_seconds=TTL) is None
    assert store.usage(TEAM, now=NOW) == Usage(0, 300)
    store.release([TEAM], "r1")
    assert store.usage(TEAM, now=NOW) == Usage(0, 0)


def test_reservations_expire_after_their_ttl(store: BudgetStore) -> None:
    store.reserve([AGENT, TEAM], "crashed", 600, now=NOW, ttl_seconds=30)

    assert store.usage(TEAM, now=NOW + 29.5) == Usage(0, 600)
    assert store.reserve([TEAM], "r2", 401, now=NOW + 29.5, ttl_seconds=TTL) is not None
    assert store.usage(AGENT, now=NOW + 30) == Usage(0, 0)
    assert store.usage(TEAM, now=NOW + 30) == Usage(0, 0)
    assert store.reserve([AGENT, TEAM], "r3", 600, now=NOW + 30, ttl_seconds=TTL) is None
    assert store.usage(TEAM, now=NOW + 30) == Usage(0, 600)


def test_a_late_release_of_an_expired_reservation_changes_nothing(store: BudgetStore) -> None:
    store.reserve([TEAM], "old", 600, now=NOW, ttl_seconds=10)
    store.reserve([TEAM], "new", 700, now=NOW + 20, ttl_seconds=TTL)

    store.release([TEAM], "old")

    assert store.usage(TEAM, now=NOW + 20) == Usage(0, 700)


def test_spend_leaves_a_rolling_window(store: BudgetStore) -> None:
    hourly = key("hourly", 1_000, window_seconds=3_600)
    store.commit([hourly], "a", 400, now=NOW)
    store.commit([hourly], "b", 300, now=NOW + 1_800)

    assert store.usage(hourly, now=NOW + 3_599) == Usage(700, 0)
    assert store.reserve([hourly], "c", 301, now=NOW + 3_599, ttl_seconds=TTL) is not None
    assert store.usage(hourly, now=NOW + 3_600) == Usage(300, 0)
    assert store.reserve([hourly], "c", 700, now=NOW + 3_600, ttl_seconds=TTL) is None
    assert store.usage(hourly, now=NOW + 3_601) == Usage(300, 700)
    assert store.usage(hourly, now=NOW + 5_400) == Usage(0, 0)  # spend left, hold expired


def test_a_window_total_follows_the_spend_inside_it_over_hours(store: BudgetStore) -> None:
    hourly = key("hourly", 10**9, window_seconds=3_600)
    history: list[tuple[float, int]] = []
    for step in range(40):  # one commit every 7.5 minutes for 5 hours
        now = NOW + step * 450.0
        if step % 3 == 0:
            assert store.reserve([hourly], f"r{step}", 500, now=now, ttl_seconds=TTL) is None
        store.commit([hourly], f"r{step}", 100 + step, now=now)
        history.append((now, 100 + step))
        for later in (now, now + 449):
            inside = sum(micros for at, micros in history if at > later - 3_600)
            assert store.usage(hourly, now=later) == Usage(inside, 0)


def test_spend_from_days_ago_has_left_the_window_even_unread(store: BudgetStore) -> None:
    hourly = key("hourly", 1_000, window_seconds=3_600)
    store.commit([hourly], "monday", 600, now=NOW)
    store.commit([hourly], "wednesday", 300, now=NOW + 2 * 86_400)  # nothing read in between

    assert store.usage(hourly, now=NOW + 2 * 86_400) == Usage(300, 0)
    assert store.reserve([hourly], "r", 700, now=NOW + 2 * 86_400, ttl_seconds=TTL) is None


def test_a_windowed_child_under_an_all_time_parent(store: BudgetStore) -> None:
    hourly = key("team/hourly", 500, window_seconds=3_600)
    for i, at in enumerate((NOW, NOW + 3_600, NOW + 7_200)):
        assert store.reserve([hourly, TEAM], f"r{i}", 300, now=at, ttl_seconds=TTL) is None
        store.commit([hourly, TEAM], f"r{i}", 300, now=at)

    assert store.usage(hourly, now=NOW + 7_200) == Usage(300, 0)
    assert store.usage(TEAM, now=NOW + 7_200) == Usage(900, 0)
    refusal = store.reserve([hourly, TEAM], "r3", 200, now=NOW + 10_800, ttl_seconds=TTL)
    assert refusal == Refusal(TEAM, Usage(900, 0))


async def test_async_methods_behave_like_the_sync_ones(store: BudgetStore) -> None:
    assert await store.areserve([AGENT, TEAM], "r1", 500, now=NOW, ttl_seconds=TTL) is None
    refusal = await store.areserve([AGENT, TEAM], "r2", 101, now=NOW, ttl_seconds=TTL)
    assert refusal == Refusal(AGENT, Usage(0, 500))

    await store.acommit([AGENT, TEAM], "r1", 450, now=NOW)
    await store.acommit([AGENT, TEAM], "r1", 450, now=NOW)
    assert await store.areserve([TEAM], "r3", 100, now=NOW, ttl_seconds=TTL) is None
    await store.arelease([TEAM], "r3")

    assert await store.ausage(AGENT, now=NOW) == Usage(450, 0)
    assert await store.ausage(TEAM, now=NOW) == Usage(450, 0)
    assert store.usage(TEAM, now=NOW) == Usage(450, 0)


def _in_threads(count: int, work: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=work, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_threads_never_commit_more_than_the_limit(store: BudgetStore) -> None:
    budget = key("threads", 100 * 7)
    committed: list[str] = []
    refused: list[Refusal] = []

    def work(worker: int) -> None:
        for i in range(30):
            rid = f"t{worker}-{i}"
            refusal = store.reserve([budget], rid, 7, now=NOW, ttl_seconds=TTL)
            if refusal is None:
                store.commit([budget], rid, 7, now=NOW)
                committed.append(rid)
            else:
                refused.append(refusal)

    _in_threads(8, work)

    # 240 attempts for room for 100: exactly 100 fit, and every refusal saw a full budget.
    assert len(committed) == 100
    assert len(refused) == 140
    assert all(r.usage.spent_micros + r.usage.reserved_micros > 700 - 7 for r in refused)
    assert store.usage(budget, now=NOW) == Usage(700, 0)


def test_threads_never_reserve_more_than_the_limit(store: BudgetStore) -> None:
    budget = key("threads", 100 * 7)
    held: list[str] = []

    def work(worker: int) -> None:
        for i in range(30):
            rid = f"t{worker}-{i}"
            if store.reserve([AGENT, budget], rid, 7, now=NOW, ttl_seconds=TTL) is None:
                held.append(rid)

    _in_threads(8, work)

    assert len(held) == 85  # the agent's 600 allow 85 of 7; the budget alone would allow 100
    assert store.usage(budget, now=NOW) == Usage(0, 85 * 7)
    assert store.usage(AGENT, now=NOW) == Usage(0, 85 * 7)


async def test_a_thousand_concurrent_reservations_never_exceed_the_limit(
    store: BudgetStore,
) -> None:
    budget = key("async", 300 * 11)
    ids = [f"a{i}" for i in range(1_000)]

    results = await asyncio.gather(
        *(store.areserve([budget], rid, 11, now=NOW, ttl_seconds=TTL) for rid in ids)
    )

    held = [rid for rid, refusal in zip(ids, results, strict=True) if refusal is None]
    assert len(held) == 300
    assert await store.ausage(budget, now=NOW) == Usage(0, 300 * 11)

    await asyncio.gather(*(store.acommit([budget], rid, 11, now=NOW) for rid in held))
    await asyncio.gather(*(store.arelease([budget], rid) for rid in ids))
    assert await store.ausage(budget, now=NOW) == Usage(300 * 11, 0)
    assert await store.areserve([budget], "more", 1, now=NOW, ttl_seconds=TTL) is not None
