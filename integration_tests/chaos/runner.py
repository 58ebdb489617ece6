"""Running a chaos schedule against a dedicated LocalGateway, and recording what happened.

One run is one client flavour (sync or async) over one budget store. The run owns its
gateway, so requests still stalled when the run ends cannot leak into another test, and it
stops that gateway before reading the money record: every payment has landed by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from blockrun_core import AsyncBlockRunClient, BlockRunClient, Budget, transport
from blockrun_core import exchange as exchange_module
from blockrun_core.budget import MemoryStore, RedisStore, SQLiteStore
from blockrun_core.budget.store import BudgetStore
from blockrun_core.ledger import Ledger, UsageRecord
from blockrun_core.testing import HARDHAT_KEY, LocalGateway, RecordedPayment

from .schedule import PAID, TIMEOUT_SECONDS, CallPlan, plan_calls

__all__ = ["CallOutcome", "Mode", "RunReport", "StoreKind", "open_descriptors", "run_chaos"]

Mode = Literal["sync", "async"]
StoreKind = Literal["memory", "sqlite", "redis"]

MAX_TOKENS = 64
ASYNC_WAVE = 8  # concurrent calls per wave of the async runs
COOLDOWN_SECONDS = 0.2  # short, so fallback chains keep meeting their first model
SETTLE_SECONDS = 5.0  # how long connections and descriptors get to close after a run

_current_call: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "chaos_call", default=None
)


@dataclass
class CallOutcome:
    """How one logical call ended, as its caller saw it."""

    plan: CallPlan
    error: Exception | None = None
    tx_hash: str | None = None  # the receipt's transaction of a paid success
    paid_micros: int = 0  # what the result said it cost
    receipt_doubted: bool = False  # served, with a receipt saying it did not (yet) settle


@dataclass
class RunReport:
    """Everything the invariants need about one finished run."""

    mode: Mode
    store: StoreKind
    seed: int
    outcomes: list[CallOutcome]
    payments: list[RecordedPayment]
    records: list[UsageRecord]
    signed: dict[str, int]  # nonce (lower case) -> index of the call that signed it
    unattributed_signatures: int  # signatures made outside any planned call
    budgets: dict[str, Budget]
    budget_states: dict[str, tuple[int, int, int]]  # name -> (limit, spent, reserved) micros
    faults_injected: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)
    open_connections_after: int = 0
    descriptors_before: int = 0
    descriptors_after: int = 0
    requested_sleeps: int = 0
    seconds: float = 0.0


def open_descriptors() -> int:
    """How many file descriptors this process holds (Linux ``/proc``)."""
    return len(os.listdir("/proc/self/fd"))


def wait_for(condition: Callable[[], bool], seconds: float = SETTLE_SECONDS) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@contextlib.contextmanager
def _instrumented(signed: dict[str, int], stray: list[int], sleeps: list[float]) -> Iterator[None]:
    """Spy on every signature (to tie payments to calls) and skip the clients' waits.

    Waits are the client's own decisions (backoff, ``Retry-After``); the chaos suite checks
    what they lead to, not the clock, so they are recorded and shortened to a yield.
    """
    real_sign = exchange_module.sign_payment

    def sign(*args: Any, **kwargs: Any) -> Any:
        payment = real_sign(*args, **kwargs)
        index = _current_call.get()
        if index is None:
            stray.append(1)
        else:
            signed[payment.nonce.lower()] = index
        return payment

    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(0)

    saved = (exchange_module.sign_payment, transport._sleep, transport._async_sleep)
    exchange_module.sign_payment = sign  # type: ignore[assignment]
    transport._sleep = sleeps.append  # type: ignore[assignment]
    transport._async_sleep = async_sleep  # type: ignore[assignment]
    try:
        yield
    finally:
        exchange_module.sign_payment, transport._sleep, transport._async_sleep = saved


def _store(kind: StoreKind, directory: Path, redis_url: str | None) -> BudgetStore:
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return SQLiteStore(directory / "budgets.sqlite3")
    if redis_url is None:
        raise ValueError("a redis run needs redis_url")
    return RedisStore(redis_url, prefix=f"chaos:{uuid.uuid4().hex[:8]}:")


def _budgets(store: BudgetStore, calls: int, price_micros: int) -> dict[str, Budget]:
    """A team budget and two children sized so that both children run dry during the run."""
    tag = uuid.uuid4().hex[:8]
    team = Budget(price_micros * calls * 0.5 / 1e6, name=f"chaos-{tag}-team", store=store)
    child = price_micros * max(4.0, calls * 0.06) / 1e6
    return {
        "team": team,
        "strict": Budget(child, name=f"chaos-{tag}-strict", parent=team),
        "graceful": Budget(child, name=f"chaos-{tag}-graceful", parent=team, mode="graceful"),
    }


def _call_args(plan: CallPlan, budgets: dict[str, Budget]) -> dict[str, Any]:
    return {
        "model": plan.route.model,
        "messages": plan.messages,
        "max_tokens": MAX_TOKENS,
        "fallback_models": plan.route.fallbacks,
        "budget": budgets[plan.budget] if plan.budget else None,
        "run_id": plan.run_id,
    }


def _run_sync_call(
    clients: tuple[BlockRunClient, BlockRunClient], plan: CallPlan, budgets: dict[str, Budget]
) -> CallOutcome:
    client = clients[plan.route.second_spend]
    outcome = CallOutcome(plan)
    token = _current_call.set(plan.index)
    try:
        if plan.stream:
            for chunk in client.stream(**_call_args(plan, budgets)):
                _note_receipt(outcome, chunk.receipt, chunk.cost_usd)
        else:
            result = client.chat(**_call_args(plan, budgets))
            _note_receipt(outcome, result.receipt, result.cost_usd)
    except Exception as exc:  # every error is judged by the invariants
        outcome.error = exc
    finally:
        _current_call.reset(token)
    return outcome


async def _run_async_call(
    clients: tuple[AsyncBlockRunClient, AsyncBlockRunClient],
    plan: CallPlan,
    budgets: dict[str, Budget],
) -> CallOutcome:
    client = clients[plan.route.second_spend]
    outcome = CallOutcome(plan)
    _current_call.set(plan.index)  # this task's own context
    try:
        if plan.stream:
            stream: AsyncIterator[Any] = client.stream(**_call_args(plan, budgets))
            async for chunk in stream:
                _note_receipt(outcome, chunk.receipt, chunk.cost_usd)
        else:
            result = await client.chat(**_call_args(plan, budgets))
            _note_receipt(outcome, result.receipt, result.cost_usd)
    except Exception as exc:  # every error is judged by the invariants
        outcome.error = exc
    return outcome


def _note_receipt(outcome: CallOutcome, receipt: Any, cost_usd: float | None) -> None:
    if receipt is not None and receipt.transaction:
        outcome.tx_hash = receipt.transaction
    if receipt is not None and (receipt.settled is False or getattr(receipt, "mismatch", None)):
        outcome.receipt_doubted = True
    if cost_usd:
        outcome.paid_micros = round(cost_usd * 1e6)


class _Faults:
    """Injects a wave's faults, then counts which fired and clears the rest."""

    def __init__(self, gw: LocalGateway) -> None:
        self.gw = gw
        self.injected: Counter[str] = Counter()
        self.fired: Counter[str] = Counter()
        self._labels: dict[int, str] = {}

    def inject(self, plans: Sequence[CallPlan]) -> None:
        for plan in plans:
            for label, fault in plan.faults:
                self._labels[id(fault)] = label
                self.injected[label] += 1
                self.gw.inject(fault)

    def collect(self, plans: Sequence[CallPlan]) -> None:
        pending = Counter(self._labels[id(fault)] for fault in self.gw.pending_faults)
        for plan in plans:
            for label, _ in plan.faults:
                self.fired[label] += 1
        self.fired.subtract(pending)
        self.gw.clear_faults()
        for model in (PAID, "google/gemini-2.5-flash"):
            self.gw.set_price(model, None)  # a price change lasts for its wave only
        self._labels.clear()


def run_chaos(
    *,
    mode: Mode,
    store: StoreKind,
    seed: int,
    calls: int,
    directory: Path,
    redis_url: str | None = None,
) -> RunReport:
    """Run ``calls`` seeded calls of one flavour over one store; the gateway is stopped after."""
    started = time.perf_counter()
    descriptors_before = open_descriptors()
    signed: dict[str, int] = {}
    stray: list[int] = []
    sleeps: list[float] = []
    with _instrumented(signed, stray, sleeps):
        gw = LocalGateway().start()
        try:
            price = gw.quote({"model": PAID, "messages": [{"role": "user", "content": "x"}]})
            plans = plan_calls(seed, calls, price_micros=price)
            budget_store = _store(store, directory, redis_url)
            budgets = _budgets(budget_store, calls, price)
            ledger = Ledger(directory / f"ledger-{mode}-{store}.sqlite3")
            faults = _Faults(gw)
            if mode == "sync":
                outcomes = _sync_run(gw, plans, budgets, ledger, faults)
                states = {b.name: _state(b) for b in budgets.values()}
                budget_store.close()
            else:
                outcomes, states = asyncio.run(_async_run(gw, plans, budgets, ledger, faults))
            ledger.close()
            connections = gw.open_connections if wait_for(lambda: gw.open_connections == 0) else -1
            connections = max(connections, gw.open_connections)
        finally:
            gw.stop()  # stalled requests finish (and settle) before this returns
    payments = gw.payments
    records = Ledger(directory / f"ledger-{mode}-{store}.sqlite3").records()
    wait_for(lambda: open_descriptors() <= descriptors_before)
    return RunReport(
        mode=mode,
        store=store,
        seed=seed,
        outcomes=outcomes,
        payments=payments,
        records=records,
        signed=signed,
        unattributed_signatures=len(stray),
        budgets=budgets,
        budget_states=states,
        faults_injected=faults.injected,
        faults_fired=faults.fired,
        open_connections_after=connections,
        descriptors_before=descriptors_before,
        descriptors_after=open_descriptors(),
        requested_sleeps=len(sleeps),
        seconds=time.perf_counter() - started,
    )


def _state(budget: Budget) -> tuple[int, int, int]:
    state = budget.state()
    return _micros(state.limit_usd), _micros(state.spent_usd), _micros(state.reserved_usd)


def _micros(usd: float) -> int:
    return round(usd * 1_000_000)


def _sync_run(
    gw: LocalGateway,
    plans: Sequence[CallPlan],
    budgets: dict[str, Budget],
    ledger: Ledger,
    faults: _Faults,
) -> list[CallOutcome]:
    options: dict[str, Any] = {
        "api_url": gw.url,
        "wallet_key": HARDHAT_KEY,
        "timeout": TIMEOUT_SECONDS,
        "ledger": ledger,
        "cooldown_seconds": COOLDOWN_SECONDS,
    }
    outcomes = []
    with (
        BlockRunClient(**options) as client,
        BlockRunClient(**options, allow_second_spend=True) as spender,
    ):
        for plan in plans:
            faults.inject([plan])
            outcomes.append(_run_sync_call((client, spender), plan, budgets))
            faults.collect([plan])
    return outcomes


async def _async_run(
    gw: LocalGateway,
    plans: Sequence[CallPlan],
    budgets: dict[str, Budget],
    ledger: Ledger,
    faults: _Faults,
) -> tuple[list[CallOutcome], dict[str, tuple[int, int, int]]]:
    options: dict[str, Any] = {
        "api_url": gw.url,
        "wallet_key": HARDHAT_KEY,
        "timeout": TIMEOUT_SECONDS,
        "ledger": ledger,
        "cooldown_seconds": COOLDOWN_SECONDS,
    }
    outcomes: list[CallOutcome] = []
    async with (
        AsyncBlockRunClient(**options) as client,
        AsyncBlockRunClient(**options, allow_second_spend=True) as spender,
    ):
        for start in range(0, len(plans), ASYNC_WAVE):
            wave = plans[start : start + ASYNC_WAVE]
            faults.inject(wave)
            outcomes += await asyncio.gather(
                *(_run_async_call((client, spender), plan, budgets) for plan in wave)
            )
            faults.collect(wave)
    states = {}
    for budget in budgets.values():
        state = await budget.astate()
        states[budget.name] = (
            _micros(state.limit_usd),
            _micros(state.spent_usd),
            _micros(state.reserved_usd),
        )
    await budgets["team"].store.aclose()
    return outcomes, states
