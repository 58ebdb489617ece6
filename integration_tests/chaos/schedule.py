"""Seeded chaos schedules: which call runs how, and which fault the gateway throws at it.

A schedule is a pure function of its seed, so a failing run is reproduced by its seed alone
(the async runs interleave concurrent calls, so which call meets which fault of a wave
may differ, while the faults injected do not).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from blockrun_core.testing import Fault, Stage

__all__ = [
    "FREE",
    "PAID",
    "PAID_FALLBACK",
    "SLOW_SECONDS",
    "TIMEOUT_SECONDS",
    "CallPlan",
    "Route",
    "plan_calls",
]

PAID = "openai/gpt-4o-mini"
PAID_FALLBACK = "google/gemini-2.5-flash"
FREE = "nvidia/gpt-oss-120b"

#: The clients' read timeout, and how long a slow fault stalls: past it, so it times out.
TIMEOUT_SECONDS = 0.15
SLOW_SECONDS = 0.3

_STAGES: tuple[Stage, ...] = ("before_claim", "after_claim", "after_settle")
_SERVER_ERRORS = (500, 502, 503, 504)
_REJECT_CODES = ("PAYMENT_UNFUNDED", "PAYMENT_INVALID", "PAYMENT_VERIFICATION_UNAVAILABLE")


@dataclass(frozen=True)
class Route:
    """What a call asks for: its model and fallbacks, and who pays a second time."""

    model: str
    fallbacks: tuple[str, ...] = ()
    second_spend: bool = False  # sent by the client built with allow_second_spend=True


@dataclass(frozen=True)
class CallPlan:
    """One logical call of a run and the faults queued for it (each fires at most once)."""

    index: int
    route: Route
    stream: bool
    budget: str | None  # a key of the run's budgets, or no budget
    faults: tuple[tuple[str, Fault], ...]  # (label, fault)

    @property
    def run_id(self) -> str:
        """The ledger's ``run_id`` of this call: how its rows are found again."""
        return f"chaos-{self.index}"

    @property
    def messages(self) -> list[dict[str, str]]:
        """A prompt unique to this call (the fake model answers the arithmetic)."""
        a, b = divmod(self.index, 97)
        return [{"role": "user", "content": f"call {self.index}: what is {a} + {b}"}]


T = TypeVar("T")

_ROUTES: tuple[tuple[float, Route], ...] = (
    (0.40, Route(PAID)),
    (0.15, Route(PAID, (PAID_FALLBACK, FREE))),
    (0.15, Route(FREE)),
    (0.10, Route("eco")),
    (0.10, Route(PAID, (PAID_FALLBACK,), second_spend=True)),
    (0.10, Route(PAID, (FREE,))),
)
_BUDGETS: tuple[tuple[float, str | None], ...] = (
    (0.25, None),
    (0.25, "team"),
    (0.25, "strict"),
    (0.25, "graceful"),
)


def _pick(rng: random.Random, weighted: tuple[tuple[float, T], ...]) -> T:
    weights = [weight for weight, _ in weighted]
    return rng.choices([value for _, value in weighted], weights=weights)[0]


def _phase(rng: random.Random) -> str:
    return rng.choice(("unpaid", "paid"))


FaultMaker = Callable[[random.Random, bool, int], Fault | None]


def _error(status: int | tuple[int, ...], *, retry_after: bool = False) -> FaultMaker:
    def make(rng: random.Random, stream: bool, price: int) -> Fault:
        code = status if isinstance(status, int) else rng.choice(status)
        wait = rng.choice((0, 0.5, 1, 60)) if retry_after else None  # 60: past the client's cap
        if rng.random() < 0.4:
            return Fault.error(code, retry_after=wait, phase="unpaid")
        return Fault.error(code, retry_after=wait, phase="paid", at=rng.choice(_STAGES))

    return make


def _slow(rng: random.Random, stream: bool, price: int) -> Fault:
    if stream and rng.random() < 0.5:
        return Fault.delay(SLOW_SECONDS, after_chunks=rng.randint(0, 3))
    return Fault.delay(SLOW_SECONDS, phase=rng.choice(("unpaid", "paid", "any")))


def _reset(rng: random.Random, stream: bool, price: int) -> Fault:
    if stream and rng.random() < 0.5:
        return Fault.reset(after_chunks=rng.randint(0, 3))
    if rng.random() < 0.3:
        return Fault.reset(phase="unpaid")
    return Fault.reset(phase="paid", at=rng.choice(_STAGES))


def _cut_body(rng: random.Random, stream: bool, price: int) -> Fault | None:
    return None if stream else Fault.cut_body()


def _truncate(rng: random.Random, stream: bool, price: int) -> Fault | None:
    return Fault.truncate(after_chunks=rng.randint(0, 4)) if stream else None


def _price_change(rng: random.Random, stream: bool, price: int) -> Fault:
    micros = max(1, int(price * rng.choice((0.5, 1.5, 3.0))))
    return Fault.price_change(micros, phase=rng.choice(("unpaid", "paid")))


#: Every fault kind the issue lists, by the label the run reports.
FAULTS: dict[str, FaultMaker] = {
    "429 + Retry-After": _error(429, retry_after=True),
    "429": _error(429),
    "5xx": _error(_SERVER_ERRORS),
    "529": _error(529),
    "slow past timeout": _slow,
    "reset": _reset,
    "reset mid-body": _cut_body,
    "truncated stream": _truncate,
    "empty body": lambda rng, stream, price: Fault.empty("body", phase=_phase(rng)),
    "empty choices": lambda rng, stream, price: Fault.empty("choices", phase=_phase(rng)),
    "degenerate 200": lambda rng, stream, price: Fault.degenerate(phase=_phase(rng)),
    "price change": _price_change,
    "settlement unsettled": lambda rng, stream, price: Fault.settlement_failure("unsettled"),
    "settlement rejected": lambda rng, stream, price: Fault.settlement_failure("rejected"),
    "payment rejected": lambda rng, stream, price: Fault.reject(rng.choice(_REJECT_CODES)),
}


def plan_calls(seed: int, calls: int, *, price_micros: int) -> list[CallPlan]:
    """``calls`` seeded call plans; about a quarter meet no fault, a tenth meet two or more.

    ``price_micros`` is about what one paid call costs (price changes scale from it).
    """
    rng = random.Random(seed)
    labels = sorted(FAULTS)
    plans = []
    for index in range(calls):
        stream = rng.random() < 0.5
        faults: list[tuple[str, Fault]] = []
        wanted = rng.choices((0, 1, 2, 3), weights=(0.25, 0.65, 0.07, 0.03))[0]
        while len(faults) < wanted:
            label = rng.choice(labels)
            fault = FAULTS[label](rng, stream, price_micros)
            if fault is not None:
                faults.append((label, fault))
        plans.append(
            CallPlan(index, _pick(rng, _ROUTES), stream, _pick(rng, _BUDGETS), tuple(faults))
        )
    return plans
