"""What a call returns: the answer, what it cost, and proof of payment."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import AttemptFailure
from .router.types import RoutingDecision
from .wire import ChatCompletion, ToolCall, ToolCallDelta, Usage
from .x402 import PaymentReceipt

__all__ = ["ChatChunk", "ChatResult", "Payment"]


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment we signed and the gateway accepted (never the signature itself)."""

    amount_micros: int
    network: str
    payer: str
    pay_to: str

    @property
    def amount_usd(self) -> float:
        """The signed amount in USD (USDC has 6 decimals)."""
        return self.amount_micros / 1_000_000


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A completed chat call.

    ``cost_usd`` is the amount paid: the signed amount on the wallet rail, 0.0 for a free
    model, ``None`` on the account rail (the gateway reports no per-call cost there).
    """

    response: ChatCompletion
    requested_model: str
    cost_usd: float | None
    payment: Payment | None
    receipt: PaymentReceipt | None
    round_trips: int
    request_id: str | None = None
    routing: RoutingDecision | None = None
    attempts: tuple[AttemptFailure, ...] = ()

    @property
    def savings(self) -> float | None:
        """The fraction saved against the routing baseline, from what was actually paid."""
        if self.routing is None or self.cost_usd is None or self.routing.baseline_cost_usd <= 0:
            return None
        return max(0.0, 1.0 - self.cost_usd / self.routing.baseline_cost_usd)

    @property
    def model(self) -> str:
        """The model that served the call (the gateway may redirect or fail over)."""
        return self.response.model or self.requested_model

    @property
    def content(self) -> str:
        """The answer's text ('' for a pure tool-call turn)."""
        return self.response.content

    @property
    def reasoning_content(self) -> str | None:
        """The model's reasoning text, for reasoning models that return it."""
        return self.response.reasoning_content

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Tool calls requested by the model."""
        return self.response.tool_calls

    @property
    def finish_reason(self) -> str | None:
        """Why the model stopped: stop, length, tool_calls, content_filter."""
        return self.response.finish_reason

    @property
    def usage(self) -> Usage | None:
        """Token counts as reported by the gateway."""
        return self.response.usage


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One streamed piece of an answer.

    The payment happens before the first byte, so every chunk of a paid stream carries
    ``cost_usd`` and ``receipt``; ``usage`` arrives on the last chunk.
    """

    delta: str
    reasoning: str
    tool_calls: tuple[ToolCallDelta, ...]
    finish_reason: str | None
    usage: Usage | None
    model: str
    cost_usd: float | None
    receipt: PaymentReceipt | None
    routing: RoutingDecision | None = None
