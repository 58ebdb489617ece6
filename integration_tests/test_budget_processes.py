"""Budgets shared by processes: four agents under one team, and an agent killed mid-call.

Each agent is a separate Python process paying the same LocalGateway, with its own child
budget under one team budget kept in a shared store (a SQLite file, or Redis).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from blockrun_core import Budget
from blockrun_core.budget import BudgetStore, SQLiteStore
from blockrun_core.ledger import Ledger
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway

PAID = "openai/gpt-4o-mini"
HI = [{"role": "user", "content": "what is 12 * 7"}]

AGENT = textwrap.dedent(
    """
    import sys
    from blockrun_core import BlockRunClient, Budget, BudgetExceededError
    from blockrun_core.budget import RedisStore, SQLiteStore
    from blockrun_core.ledger import Ledger

    url, kind, where, name, team_limit, agent_limit, calls, ledger_path = sys.argv[1:9]
    store = SQLiteStore(where) if kind == "sqlite" else RedisStore(where, prefix="procs:")
    team = Budget(float(team_limit), name="team", store=store)
    agent = Budget(float(agent_limit), name=name, parent=team)
    ledger = Ledger(ledger_path)
    with BlockRunClient(api_url=url, ledger=ledger) as client:  # key from the environment
        for _ in range(int(calls)):
            try:
                result = client.chat(
                    model="openai/gpt-4o-mini",
                    messages=[{"role": "user", "content": "what is 12 * 7"}],
                    budget=agent,
                    agent_id=name,
                )
            except BudgetExceededError as exc:
                print("refused", exc.budget, flush=True)
                continue
            print("paid", result.receipt.transaction, flush=True)
    """
)


def run_agent(
    gw: LocalGateway, kind: str, where: str, name: str, *limits: float, calls: int, ledger: Path
) -> subprocess.Popen[str]:
    args = [gw.url, kind, where, name, *(str(x) for x in limits), str(calls), str(ledger)]
    return subprocess.Popen(
        [sys.executable, "-c", AGENT, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "BLOCKRUN_WALLET_KEY": HARDHAT_KEY},
    )


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "budgets.sqlite3")
    url: str = request.getfixturevalue("redis_url")
    from redis import Redis

    with Redis.from_url(url) as redis:  # a clean slate: other tests share the server
        for key in redis.scan_iter("procs:*"):
            redis.delete(key)
    return "redis", url


def open_store(kind: str, where: str) -> BudgetStore:
    if kind == "sqlite":
        return SQLiteStore(where)
    from blockrun_core.budget import RedisStore

    return RedisStore(where, prefix="procs:")


def test_four_agents_in_four_processes_never_overspend_the_team(
    gw: LocalGateway, shared_store: tuple[str, str], tmp_path: Path
) -> None:
    kind, where = shared_store
    quote = gw.quote({"model": PAID, "messages": HI, "max_tokens": 1024}) / 1e6
    team_limit, agent_limit = quote * 10.5, quote * 4.5
    ledger_path = tmp_path / "usage.sqlite3"
    agents = [
        run_agent(
            gw, kind, where, f"agent-{i}", team_limit, agent_limit, calls=8, ledger=ledger_path
        )
        for i in range(4)
    ]
    outputs = [agent.communicate(timeout=120)[0].split("\n") for agent in agents]
    assert all(agent.returncode == 0 for agent in agents)

    paid = sum(p.amount_micros for p in gw.payments) / 1e6
    assert len(gw.payments) == 10 and paid <= team_limit  # the team limit binds first
    per_agent = [sum(line.startswith("paid") for line in out) for out in outputs]
    assert max(per_agent) <= 4 and sum(per_agent) == 10  # and no agent passed its own

    store = open_store(kind, where)
    team = Budget(team_limit, name="team", store=store)
    assert team.spent == pytest.approx(paid) and team.reserved == 0
    with Ledger(ledger_path) as ledger:
        rows = [r for r in ledger.records() if r.status == "settled"]
    spent_by_agent = {f"agent-{i}": 0 for i in range(4)}
    for row in rows:
        spent_by_agent[row.agent_id or ""] += 1
    assert list(spent_by_agent.values()) == per_agent
    store.close()


def test_an_agent_killed_mid_call_locks_nothing_and_loses_no_row(
    shared_store: tuple[str, str], tmp_path: Path
) -> None:
    kind, where = shared_store
    ledger_path = tmp_path / "usage.sqlite3"
    # Its own gateway: the request in flight at the kill settles after this test.
    with LocalGateway() as gw:
        # every paid request stalls, so the kill lands while a reservation is held
        gw.inject(Fault.delay(0.3, phase="paid", times=None))
        agent = run_agent(gw, kind, where, "doomed", 1.0, 1.0, calls=1_000, ledger=ledger_path)
        assert agent.stdout is not None
        reported = [agent.stdout.readline().split()[1] for _ in range(2)]  # two calls done
        time.sleep(0.1)  # the third call is now inside its paid request
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=10)

    store = open_store(kind, where)
    later = time.time() + 601  # past the default reservation ttl
    team = Budget(1.0, name="team", store=store, clock=lambda: later)
    held = Budget(1.0, name="team", store=store)
    assert held.reserved > 0  # the killed call's hold is still there...
    assert team.reserved == 0  # ...and expires: nothing is locked for good
    with Ledger(ledger_path) as ledger:
        hashes = {r.tx_hash for r in ledger.records() if r.status == "settled"}
    assert set(reported) <= hashes  # every call reported done has its whole row
    store.close()
