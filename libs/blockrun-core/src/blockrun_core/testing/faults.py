"""Fault injection for the local gateway: what can go wrong, where, and how often.

A :class:`Fault` names a kind of failure, the model it targets (``None``: any model), the
phase it fires in and how many times. At most one fault fires per request: the earliest
injected one that applies to it. Faults only fire on requests that passed validation.

Phases: ``"unpaid"`` is a request without payment (the x402 probe, a free model, an
account-rail call to a free model); ``"paid"`` is a request carrying a payment header or
billed to an account key; ``"any"`` is both.

Where a paid-phase failure happens, relative to the gateway's verify -> claim nonce ->
execute -> settle order, is the fault's ``at``:

- ``"before_claim"``: nothing consumed or charged; resending the same payment works;
- ``"after_claim"``: the nonce is consumed but nothing settled, so resending the same
  payment gets ``402 PAYMENT_REPLAY`` and ``LocalGateway.payments`` records nothing;
- ``"after_settle"``: the payment settled (recorded in ``payments``) and then the request
  failed: money moved without an answer.

Errors and resets default to ``"after_claim"``. Faults that still serve a 200 (truncated,
empty and degenerate answers, a JSON body cut off part-way, and resets or stalls in the
middle of a stream) settle first: the gateway believes it answered, so the payment counts.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_ERRORS",
    "Fault",
    "FaultBook",
    "FaultKind",
    "Phase",
    "Stage",
]

FaultKind = Literal[
    "error",
    "delay",
    "reset",
    "cut_body",
    "truncate",
    "empty",
    "degenerate",
    "price_change",
    "settlement",
    "reject",
]
"""What an injected :class:`Fault` does (see the module docstring for each kind)."""
Phase = Literal["unpaid", "paid", "any"]
"""Which requests a fault hits: unpaid probes, paid requests, or both."""
Stage = Literal["before_claim", "after_claim", "after_settle"]
"""When a paid-request fault fires, relative to claiming the nonce and settling."""

#: The ``code`` and message an error fault answers with, per status, unless it names its own.
DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_REQUEST", "The request was rejected."),
    401: ("invalid_api_key", "Invalid API key."),
    403: ("ACCOUNT_SUSPENDED", "This account is suspended."),
    408: ("TIMEOUT", "The request timed out."),
    429: ("RATE_LIMITED", "Rate limit exceeded. Retry later."),
    500: ("INTERNAL_ERROR", "Internal server error."),
    502: ("UPSTREAM_ERROR", "The upstream provider returned an invalid response."),
    503: ("MODEL_UNAVAILABLE", "The model is temporarily unavailable."),
    504: ("TIMEOUT", "The upstream provider timed out."),
    529: ("OVERLOADED", "The upstream provider is overloaded."),
}


@dataclass(frozen=True)
class Fault:
    """One injected failure. Build it with the class methods, e.g. ``Fault.error(503)``.

    Fields: ``kind``; ``model`` (``None``: any); ``phase``; ``times`` (``None``: until
    cleared); ``status``, ``code``, ``message``, ``retry_after`` (errors); ``seconds``
    (delays); ``after_chunks`` (stream position of a delay, reset or truncation);
    ``empty_mode`` (``"body"`` or ``"choices"``); ``price_micros`` (price changes);
    ``settlement_mode`` (``"unsettled"`` or ``"rejected"``); ``at`` (see the module doc).
    """

    kind: FaultKind
    model: str | None = None
    phase: Phase = "any"
    times: int | None = 1
    status: int = 500
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    after_chunks: int | None = None
    empty_mode: Literal["body", "choices"] = "body"
    price_micros: int | None = None
    settlement_mode: Literal["unsettled", "rejected"] = "unsettled"
    at: Stage = "after_claim"

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        if self.seconds < 0 or (self.after_chunks is not None and self.after_chunks < 0):
            raise ValueError("seconds and after_chunks must not be negative")

    @property
    def error_code(self) -> str:
        """The ``code`` of the error envelope this fault answers with."""
        return self.code or DEFAULT_ERRORS.get(self.status, (f"HTTP_{self.status}", ""))[0]

    @property
    def error_message(self) -> str:
        """The ``message`` of the error envelope this fault answers with."""
        default = DEFAULT_ERRORS.get(self.status, ("", f"HTTP {self.status}"))[1]
        return self.message or default

    @classmethod
    def error(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        model: str | None = None,
        phase: Phase = "any",
        times: int | None = 1,
        at: Stage = "after_claim",
    ) -> Fault:
        """Answer with HTTP ``status`` and the gateway's error envelope (429: ``Retry-After``)."""
        return cls(
            "error",
            model=model,
            phase=phase,
            times=times,
            status=status,
            code=code,
            message=message,
            retry_after=retry_after,
            at=at,
        )

    @classmethod
    def delay(
        cls,
        seconds: float,
        *,
        after_chunks: int | None = None,
        model: str | None = None,
        phase: Phase = "any",
        times: int | None = 1,
    ) -> Fault:
        """Stall ``seconds`` before answering (or, in a stream, after ``after_chunks`` chunks).

        A paid request stalls after its nonce was claimed and then completes normally.
        """
        return cls(
            "delay",
            model=model,
            phase=phase,
            times=times,
            seconds=seconds,
            after_chunks=after_chunks,
        )

    @classmethod
    def reset(
        cls,
        *,
        after_chunks: int | None = None,
        model: str | None = None,
        phase: Phase = "any",
        times: int | None = 1,
        at: Stage = "after_claim",
    ) -> Fault:
        """Drop the connection: before any response, or after ``after_chunks`` stream chunks."""
        return cls("reset", model=model, phase=phase, times=times, after_chunks=after_chunks, at=at)

    @classmethod
    def cut_body(
        cls, *, model: str | None = None, phase: Phase = "any", times: int | None = 1
    ) -> Fault:
        """A non-stream 200 whose JSON body stops half-way, then the connection drops."""
        return cls("cut_body", model=model, phase=phase, times=times)

    @classmethod
    def truncate(
        cls,
        after_chunks: int = 2,
        *,
        model: str | None = None,
        phase: Phase = "any",
        times: int | None = 1,
    ) -> Fault:
        """End a stream cleanly after ``after_chunks`` data chunks: no finish_reason, no [DONE]."""
        return cls("truncate", model=model, phase=phase, times=times, after_chunks=after_chunks)

    @classmethod
    def empty(
        cls,
        mode: Literal["body", "choices"] = "body",
        *,
        model: str | None = None,
        phase: Phase = "any",
        times: int | None = 1,
    ) -> Fault:
        """A 200 with an empty body (``"body"``) or with ``choices: []`` (``"choices"``)."""
        return cls("empty", model=model, phase=phase, times=times, empty_mode=mode)

    @classmethod
    def degenerate(
        cls, *, model: str | None = None, phase: Phase = "any", times: int | None = 1
    ) -> Fault:
        """A 200 whose answer is ``content: ""`` with ``finish_reason: "stop"``."""
        return cls("degenerate", model=model, phase=phase, times=times)

    @classmethod
    def price_change(
        cls,
        micros: int,
        *,
        model: str | None = None,
        phase: Phase = "unpaid",
        times: int | None = 1,
    ) -> Fault:
        """Set the model's price to ``micros`` right after this request was quoted.

        With the default phase the probe's 402 shows the old price and the paid retry is
        checked against the new one.
        """
        return cls("price_change", model=model, phase=phase, times=times, price_micros=micros)

    @classmethod
    def settlement_failure(
        cls,
        mode: Literal["unsettled", "rejected"] = "unsettled",
        *,
        model: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Settlement fails after the nonce was claimed; nothing is recorded as paid.

        ``"unsettled"``: served anyway with ``X-Payment-Settled: false``; ``"rejected"``:
        ``402 SETTLEMENT_FAILED``.
        """
        return cls("settlement", model=model, phase="paid", times=times, settlement_mode=mode)

    @classmethod
    def reject(
        cls,
        code: str = "PAYMENT_UNFUNDED",
        *,
        message: str | None = None,
        model: str | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Refuse a valid payment with ``402`` and ``code``; nothing is claimed or charged."""
        return cls("reject", model=model, phase="paid", times=times, code=code, message=message)


@dataclass
class _Pending:
    fault: Fault
    remaining: int | None


class FaultBook:
    """The pending faults, consumed thread-safely as requests hit them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_Pending] = []

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind the faults already pending."""
        with self._lock:
            self._pending.append(_Pending(fault, fault.times))

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[Fault]:
        """The faults that can still fire, in injection order."""
        with self._lock:
            return [entry.fault for entry in self._pending]

    def take(
        self, model: str, phase: Literal["unpaid", "paid"], kinds: Collection[FaultKind]
    ) -> Fault | None:
        """Consume and return the first pending fault of one of ``kinds`` for this request."""
        with self._lock:
            for entry in self._pending:
                fault = entry.fault
                if (
                    fault.kind in kinds
                    and fault.model in (None, model)
                    and fault.phase in ("any", phase)
                ):
                    if entry.remaining is not None:
                        entry.remaining -= 1
                        if entry.remaining == 0:
                            self._pending.remove(entry)
                    return fault
        return None
