"""One exception tree for everything the core raises.

Every class carries ``retryable``: whether repeating the same call later could succeed
without the caller changing anything. Messages never contain keys or payment signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AllModelsFailedError",
    "AttemptFailure",
    "BlockRunError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContextOverflowError",
    "CredentialError",
    "NoCapableModelError",
    "PaymentError",
    "PaymentInDoubtError",
    "PaymentInvalidError",
    "PaymentRefusedError",
    "PaymentRejectedError",
    "PaymentReplayError",
    "PaymentUnderpaidError",
    "PaymentUnfundedError",
    "PaymentVerificationUnavailableError",
    "RateLimitError",
    "SettlementFailedError",
    "StreamTruncatedError",
    "UnknownModelError",
    "UpstreamError",
]


class BlockRunError(Exception):
    """Base class of every error raised by BlockRun packages."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(BlockRunError, ValueError):
    """Bad configuration: a malformed key, an unsafe URL, an unknown model, ..."""

    def __init__(self, message: str, *, suggestions: Sequence[str] = ()) -> None:
        if suggestions:
            message = f"{message} Did you mean: {', '.join(suggestions)}?"
        super().__init__(message)
        self.suggestions = tuple(suggestions)


class CredentialError(ConfigurationError):
    """A malformed, misplaced or rejected wallet key or account key (nothing was paid)."""


class UnknownModelError(ConfigurationError):
    """The catalog does not list this model id or alias; ``suggestions`` holds near names."""


class NoCapableModelError(ConfigurationError):
    """No model of the profile can serve the request; ``eliminated`` says who failed what."""

    def __init__(self, message: str, *, eliminated: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.eliminated = tuple(eliminated)


class PaymentError(BlockRunError):
    """Base class of the errors about paying for a request."""


class PaymentRefusedError(PaymentError):
    """We refused to sign: the offer broke the payment policy. Nothing was signed or sent."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class PaymentRejectedError(PaymentError):
    """The gateway refused a signed payment; ``code`` is its ``PAYMENT_*`` code."""

    def __init__(self, message: str, *, code: str, status_code: int = 402) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code


class PaymentUnfundedError(PaymentRejectedError):
    """``PAYMENT_UNFUNDED``: the wallet lacks USDC, or the clock is off. Nothing was charged."""


class PaymentInvalidError(PaymentRejectedError):
    """``PAYMENT_INVALID``: the gateway found the signature or offer invalid. Nothing charged."""


class PaymentReplayError(PaymentRejectedError):
    """``PAYMENT_REPLAY``: this authorization was already used; an earlier send was served."""


class PaymentUnderpaidError(PaymentRejectedError):
    """``PAYMENT_UNDERPAID``: the signed amount is below the gateway's quote. Nothing charged."""


class PaymentVerificationUnavailableError(PaymentRejectedError):
    """``PAYMENT_VERIFICATION_UNAVAILABLE``: the facilitator could not be reached."""

    retryable = True


class SettlementFailedError(PaymentRejectedError):
    """``SETTLEMENT_FAILED``: settlement was attempted and failed; treat the payment as in doubt."""


class PaymentInDoubtError(PaymentError):
    """A signed payment was sent and the outcome is unknown: it may have been charged.

    The client never signs a second payment after this; check the receipt or the
    wallet's history before retrying by hand.
    """

    def __init__(
        self, message: str, *, amount_usd: float, model: str, cause: str, attempts: int
    ) -> None:
        super().__init__(message)
        self.amount_usd = amount_usd
        self.model = model
        self.cause = cause
        self.attempts = attempts


class BudgetExceededError(PaymentError):
    """A call would cross a budget; raised before anything is signed."""

    def __init__(
        self,
        *,
        budget: str,
        limit_usd: float,
        spent_usd: float,
        requested_usd: float,
        reserved_usd: float = 0.0,
    ) -> None:
        held = f", ${reserved_usd:.6f} held by calls in flight" if reserved_usd else ""
        super().__init__(
            f"Budget {budget!r} would be exceeded: limit ${limit_usd:.6f}, "
            f"spent ${spent_usd:.6f}{held}, this call needs ${requested_usd:.6f}."
        )
        self.budget = budget
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.requested_usd = requested_usd
        self.reserved_usd = reserved_usd


class UpstreamError(BlockRunError):
    """The gateway or the model behind it answered with an error.

    ``paid_usd`` is what the failed call was charged (a paid but empty answer), else 0.
    """

    paid_usd: float = 0.0

    def __init__(self, message: str, *, status_code: int | None, code: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.retryable = status_code is None or status_code >= 500 or status_code in (408, 409)


class RateLimitError(UpstreamError):
    """HTTP 429; ``retry_after`` is in seconds when the gateway said so."""

    retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, status_code=429, code=code)
        self.retry_after = retry_after
        self.retryable = True


class ContextOverflowError(UpstreamError):
    """The conversation does not fit the model's context window."""

    def __init__(self, message: str, *, code: str | None = "CONTEXT_LENGTH_EXCEEDED") -> None:
        super().__init__(message, status_code=400, code=code)
        self.retryable = False


class StreamTruncatedError(UpstreamError):
    """A stream ended without ``[DONE]`` or a ``finish_reason``: the answer is incomplete."""

    def __init__(self, message: str = "The stream ended before the model finished.") -> None:
        super().__init__(message, status_code=None, code="STREAM_TRUNCATED")
        self.retryable = True


@dataclass(frozen=True)
class AttemptFailure:
    """One model tried while walking a fallback chain, and why it failed."""

    model: str
    error: BlockRunError


class AllModelsFailedError(BlockRunError):
    """Every model of the chain failed; ``attempts`` lists each one with its error."""

    def __init__(self, attempts: Sequence[AttemptFailure]) -> None:
        lines = "; ".join(f"{a.model}: {a.error.message}" for a in attempts)
        super().__init__(f"All {len(attempts)} models failed: {lines}")
        self.attempts = tuple(attempts)
        self.retryable = any(a.error.retryable for a in attempts)
