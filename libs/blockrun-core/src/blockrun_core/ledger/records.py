"""One usage record per attempt: what was asked, what served it, what it cost, how it ended."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, get_args

from blockrun_core.errors import BlockRunError, ConfigurationError

__all__ = ["STATUSES", "Status", "UsageRecord", "describe_error", "redact"]

Status = Literal["free", "settled", "rejected", "in_doubt", "failed", "account"]
"""How an attempt's payment ended.

``free``: a free model, nothing signed. ``settled``: paid, with a receipt. ``rejected``: the
gateway refused the signed payment (nothing moved). ``in_doubt``: a payment was sent and
the outcome is unknown. ``failed``: the attempt failed before any payment. ``account``:
billed to a ``brk_`` account key (no per-call cost is reported).
"""

STATUSES: frozenset[str] = frozenset(get_args(Status))
"""Every value :data:`Status` may take."""

# Key-shaped strings (a 32-byte hex secret, an account key) never reach the ledger.
_SECRET_RE = re.compile(r"\b(?:0x)?[0-9a-fA-F]{64}\b|brk_[A-Za-z0-9_-]{8,}")
_ERROR_LIMIT = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRecord:
    """One attempt of one call. A call that walks a fallback chain has several.

    Amounts are USD. ``paid_usd`` is what was signed and accepted (0.0 when nothing was),
    ``quoted_usd`` the gateway's quote, ``baseline_usd`` what the routing baseline model
    would have cost and ``savings_usd`` the difference. ``prompt`` and ``response`` are kept
    only by a ledger opened with ``store_text=True``.
    """

    at: float
    call_id: str
    attempt: int
    run_id: str | None
    thread_id: str | None
    agent_id: str | None
    budget: str | None
    requested_model: str
    served_model: str | None
    tier: str | None
    profile: str | None
    input_tokens: int | None
    output_tokens: int | None
    quoted_usd: float | None
    paid_usd: float
    baseline_usd: float | None
    savings_usd: float | None
    latency_ms: float
    status: Status
    tx_hash: str | None
    error: str | None
    prompt: str | None = None
    response: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ConfigurationError(
                f"Invalid usage status {self.status!r}: expected one of {sorted(STATUSES)}."
            )
        if not self.call_id:
            raise ConfigurationError("A usage record needs a call_id.")
        if not self.requested_model:
            raise ConfigurationError("A usage record needs the requested model.")
        if isinstance(self.attempt, bool) or not isinstance(self.attempt, int) or self.attempt < 0:
            raise ConfigurationError(f"Invalid attempt {self.attempt!r}: expected an int >= 0.")
        for name in ("input_tokens", "output_tokens"):
            tokens = getattr(self, name)
            if tokens is not None and (
                isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0
            ):
                raise ConfigurationError(f"Invalid {name} {tokens!r}: expected an int >= 0.")
        for name in ("at", "paid_usd", "latency_ms"):
            _check_number(name, getattr(self, name), minimum=0.0)
        for name in ("quoted_usd", "baseline_usd"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), minimum=0.0)
        if self.savings_usd is not None:  # negative when the served model cost more
            _check_number("savings_usd", self.savings_usd, minimum=-math.inf)


def _check_number(name: str, value: object, *, minimum: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < minimum
    ):
        bound = "a finite number" if minimum == -math.inf else f"a finite number >= {minimum:g}"
        raise ConfigurationError(f"Invalid {name} {value!r}: expected {bound}.")


def redact(text: str) -> str:
    """``text`` with key-shaped strings replaced by ``[redacted]``."""
    return _SECRET_RE.sub("[redacted]", text)


def describe_error(exc: BaseException) -> str:
    """``"ClassName: message"`` on one short line, for :attr:`UsageRecord.error`."""
    message = exc.message if isinstance(exc, BlockRunError) else str(exc)
    text = redact(f"{type(exc).__name__}: {' '.join(message.split())}".rstrip(": "))
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"
