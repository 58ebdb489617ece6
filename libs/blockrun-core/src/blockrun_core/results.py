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
    """The signed amount in micro-USDC (millionths of a dollar)."""
    network: str
    """The CAIP-2 network it was signed for, e.g. ``eip155:8453`` (Base)."""
    payer: str
    """The paying wallet's address."""
    pay_to: str
    """The address paid: the gateway's treasury."""

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
    """The OpenAI-compatible completion, as the gateway sent it."""
    requested_model: str
    """The model id the request was sent for (after routing and fallbacks)."""
    cost_usd: float | None
    """What the call cost in USD (see above)."""
    payment: Payment | None
    """The payment that was signed and accepted; ``None`` when nothing was signed."""
    receipt: PaymentReceipt | None
    """The gateway's settlement receipt, when it sent one."""
    round_trips: int
    """HTTP requests the call took (an unpaid probe plus the paid request is 2)."""
    request_id: str | None = None
    """The gateway's request id (account rail), for support requests."""
    routing: RoutingDecision | None = None
    """Why the model was chosen, when ``model`` was a routing profile such as ``auto``."""
    attempts: tuple[AttemptFailure, ...] = ()
    """Models of the fallback chain that failed before this one answered."""

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
    """New answer text ('' when the chunk carries something else)."""
    reasoning: str
    """New reasoning text, for reasoning models that stream it."""
    tool_calls: tuple[ToolCallDelta, ...]
    """Pieces of tool calls, keyed by ``index``; join them in order."""
    finish_reason: str | None
    """Why the model stopped, on the chunk that ends the answer."""
    usage: Usage | None
    """Token counts, on the last chunk."""
    model: str
    """The model serving the stream."""
    cost_usd: float | None
    """What the call cost in USD, as for :attr:`ChatResult.cost_usd`."""
    receipt: PaymentReceipt | None
    """The gateway's settlement receipt, when it sent one."""
    routing: RoutingDecision | None = None
    """Why the model was chosen, when the call was routed."""
