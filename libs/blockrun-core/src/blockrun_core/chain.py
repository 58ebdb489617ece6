"""Walking a chain of models: what each kind of failure means for the next step.

- 429: wait briefly (honouring a short ``Retry-After``) and retry the same model once,
  then move on;
- 5xx, 529, timeouts and connection errors before paying, empty or degenerate answers,
  a price above the cap: the next model;
- a request the gateway calls wrong (4xx), a bad key, a refused or in-doubt payment, an
  exceeded budget: stop, with that error.

A failed model is cooled down. After a payment went through, moving on is a second
spend: it happens only when the caller allows it (``allow_second_spend``); a payment in
doubt always stops the chain. Like the exchange, the walk is a generator of I/O
operations, so the sync and async clients share it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .catalog import ModelInfo
from .errors import (
    AllModelsFailedError,
    AttemptFailure,
    BlockRunError,
    BudgetExceededError,
    PaymentInDoubtError,
    PaymentRefusedError,
    PaymentVerificationUnavailableError,
    RateLimitError,
    UpstreamError,
)
from .exchange import Exchange, Exchanged
from .routing_state import Cooldowns, SessionPins
from .transport import Flow, Sleep
from .wire import ChatCompletion

__all__ = ["Served", "check_answer", "next_step", "walk"]

Step = Literal["retry", "next", "stop"]

MAX_RATE_LIMIT_WAIT = 5.0
DEFAULT_RATE_LIMIT_WAIT = 1.0
_MOVE_ON_REFUSALS = frozenset({"over_cap", "over_budget", "no_wallet"})
_MIN_REPEATS = 8


@dataclass(frozen=True, slots=True)
class Served:
    """The answer of the model that served the call, and the failures before it."""

    done: Exchanged
    info: ModelInfo
    completion: ChatCompletion | None  # None for a stream, whose body is still unread
    attempts: tuple[AttemptFailure, ...]
    round_trips: int


def next_step(error: BlockRunError) -> Step:
    """What a failure of one model means for the chain."""
    if isinstance(error, PaymentInDoubtError):
        return "stop"
    if isinstance(error, RateLimitError):
        return "retry"
    if isinstance(error, PaymentRefusedError):
        return "next" if error.reason in _MOVE_ON_REFUSALS else "stop"
    if isinstance(error, PaymentVerificationUnavailableError):
        return "next"
    if type(error) is UpstreamError:
        status = error.status_code
        return "next" if status is None or status >= 500 or status < 300 else "stop"
    return "stop"


def check_answer(done: Exchanged, info: ModelInfo) -> ChatCompletion:
    """The parsed answer, or ``UpstreamError`` if it is malformed, empty or degenerate.

    The error's ``paid_usd`` is set when the answer was paid for, so the walk never pays a
    second model for it without the caller's consent.
    """
    paid = done.payment.amount_micros / 1e6 if done.payment else 0.0
    try:
        completion = ChatCompletion.from_json(done.response.content)
    except UpstreamError as malformed:
        if not paid:
            raise
        message = f"{malformed.message} A payment of ${paid:.6f} was accepted for it."
        raise _failed_answer(message, malformed.status_code, malformed.code, paid) from malformed
    problem = _degenerate(completion)
    if problem is None:
        return completion
    raise _failed_answer(
        f"{info.id}: the gateway answered 200 with {problem}"
        + (f" after a payment of ${paid:.6f} was accepted." if paid else "."),
        done.response.status_code,
        "EMPTY_RESPONSE" if not completion.choices else "DEGENERATE_RESPONSE",
        paid,
    )


def _failed_answer(
    message: str, status_code: int | None, code: str | None, paid_usd: float
) -> UpstreamError:
    error = UpstreamError(message, status_code=status_code, code=code)
    error.paid_usd = paid_usd
    return error


def _degenerate(completion: ChatCompletion) -> str | None:
    if not completion.choices:
        return "no choices"
    if completion.tool_calls:
        return None
    text = completion.content
    if not text.strip():
        return "blank content"
    words = text.split()
    if len(words) >= _MIN_REPEATS and len(set(words)) == 1:
        return f"one token repeated {len(words)} times"
    return None


def walk(
    chain: Sequence[ModelInfo],
    start: Callable[[ModelInfo], Exchange],
    *,
    stream: bool,
    cooldowns: Cooldowns,
    pins: SessionPins,
    session_id: str | None,
    allow_second_spend: bool,
    move_on_budget: bool = False,
) -> Flow[Served]:
    """Try each model of ``chain`` in order until one answers.

    ``move_on_budget`` (a graceful budget): a model whose price no longer fits the budget
    is passed over for the next; if none fits, the last budget error is raised.
    """
    attempts: list[AttemptFailure] = []
    trips = 0
    for info in chain:
        retried = False
        while True:
            exchange = start(info)
            try:
                done = yield from exchange.run()
                completion = None if stream else check_answer(done, info)
            except BlockRunError as error:
                trips += exchange.round_trips
                step = next_step(error)
                if isinstance(error, BudgetExceededError) and move_on_budget:
                    step = "next"
                wait = _rate_limit_wait(error)
                if step == "retry" and not retried and len(chain) > 1 and wait is not None:
                    retried = True
                    yield Sleep(wait)
                    continue
                cooldowns.mark(info.id)
                if session_id is not None:
                    pins.unpin(session_id, info.id)
                if step == "stop" or len(chain) == 1 or _second_spend(error, allow_second_spend):
                    raise
                attempts.append(AttemptFailure(info.id, error))
                break
            if session_id is not None:
                pins.pin(session_id, info.id)
            return Served(done, info, completion, tuple(attempts), trips + exchange.round_trips)
    if attempts and all(isinstance(a.error, BudgetExceededError) for a in attempts):
        raise attempts[-1].error
    raise AllModelsFailedError(attempts)


def _rate_limit_wait(error: BlockRunError) -> float | None:
    """How long to wait before retrying a rate-limited model, or None to move on."""
    if not isinstance(error, RateLimitError):
        return None
    if error.retry_after is None:
        return DEFAULT_RATE_LIMIT_WAIT
    return error.retry_after if error.retry_after <= MAX_RATE_LIMIT_WAIT else None


def _second_spend(error: BlockRunError, allowed: bool) -> bool:
    """Whether moving on would pay a second time without the caller's consent."""
    return isinstance(error, UpstreamError) and error.paid_usd > 0 and not allowed
