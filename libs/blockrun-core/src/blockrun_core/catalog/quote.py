"""The gateway's quote formula: what a 402 asks for a chat request, in micro-USDC.

Paid (per-token) models::

    input_tokens = estimate_input_tokens(body)          # ceil(utf8 JSON bytes / 4)
    max_tokens   = max(body.max_tokens, body.max_completion_tokens)
                   clamped to model.max_output; min(max_output, 8192) when absent
    rates        = long-context rates when input_tokens > long_context_threshold
    cost         = input_tokens * input_rate + 10% * max_tokens * output_rate
    micros       = max(ceil(cost), 1000) + 1000 fee [+ live search]

Flat models cost ``ceil(flat_price)`` (fee included) [+ live search]; free models cost 0.
Live search (``search_parameters`` with a mode other than ``off``) adds $0.025 per
``max_search_results`` (default 10, at most 50) plus 5%. All arithmetic is exact integer
arithmetic and rounds up, so a quote is never below the formula's value.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .models import ModelInfo
from .tokens import estimate_input_tokens

__all__ = [
    "DEFAULT_MAX_TOKENS_CAP",
    "FEE_MICROS",
    "MIN_CHARGE_MICROS",
    "Quote",
    "effective_max_tokens",
    "quote_micros",
    "quote_request",
]

FEE_MICROS = 1_000  # $0.001 per-request transaction fee
MIN_CHARGE_MICROS = 1_000  # the token cost is floored at $0.001 before the fee
DEFAULT_MAX_TOKENS_CAP = 8_192  # gateway default when max_tokens is absent
_SEARCH_MICROS_PER_RESULT = 26_250  # $0.025 per source + 5%
_DEFAULT_SEARCH_RESULTS = 10
_MAX_SEARCH_RESULTS = 50
# Prices are USD per 1M tokens, i.e. micro-USD per token; their millionths are integer
# pico-USD per token, which keeps the quote exact.
_PICO_PER_MICRO = 1_000_000


@dataclass(frozen=True, slots=True)
class Quote:
    """A computed quote and the figures it was computed from."""

    micros: int
    input_tokens: int
    max_tokens: int
    long_context: bool = False

    @property
    def usd(self) -> float:
        """The quote in USD."""
        return self.micros / 1_000_000


def quote_micros(
    model: ModelInfo, body: Mapping[str, Any], *, input_tokens: int | None = None
) -> int:
    """Micro-USDC the gateway asks for ``body`` on ``model``.

    Pass ``input_tokens`` when already estimated (with :func:`estimate_input_tokens`) to
    skip serialising the messages again.
    """
    if model.billing_mode == "free":
        return 0
    if model.billing_mode == "flat":
        return _flat_micros(model) + _search_micros(body)
    return quote_request(model, body, input_tokens=input_tokens).micros


def quote_request(
    model: ModelInfo, body: Mapping[str, Any], *, input_tokens: int | None = None
) -> Quote:
    """Like :func:`quote_micros`, with the token figures used."""
    tokens = estimate_input_tokens(body) if input_tokens is None else input_tokens
    if tokens < 0:
        raise ValueError("input_tokens must be >= 0")
    max_tokens = effective_max_tokens(model, body)
    if model.billing_mode == "free":
        return Quote(0, tokens, max_tokens)
    if model.billing_mode == "flat":
        return Quote(_flat_micros(model) + _search_micros(body), tokens, max_tokens)

    threshold = model.long_context_threshold
    long_context = model.has_long_context_pricing and threshold is not None and tokens > threshold
    input_rate = model.input_price
    output_rate = model.output_price
    if long_context:
        input_rate = model.long_input_price or input_rate
        output_rate = model.long_output_price or output_rate
    # In tenths of a pico-USD: 10 * (input + max_tokens / 10 * output).
    tenths = 10 * tokens * _millionths(input_rate) + max_tokens * _millionths(output_rate)
    micros = -(-tenths // (10 * _PICO_PER_MICRO))
    micros = max(micros, MIN_CHARGE_MICROS) + FEE_MICROS + _search_micros(body)
    return Quote(micros, tokens, max_tokens, long_context)


def effective_max_tokens(model: ModelInfo, body: Mapping[str, Any]) -> int:
    """The ``max_tokens`` the gateway prices: requested (clamped) or its default."""
    requested: int | None = None
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                continue
            n = math.ceil(value)
            requested = n if requested is None else max(requested, n)
    if requested is None:
        return min(model.max_output, DEFAULT_MAX_TOKENS_CAP)
    return max(0, min(requested, model.max_output))


def _search_micros(body: Mapping[str, Any]) -> int:
    params = body.get("search_parameters")
    if not isinstance(params, Mapping) or params.get("mode") == "off":
        return 0
    results = params.get("max_search_results", _DEFAULT_SEARCH_RESULTS)
    if isinstance(results, bool) or not isinstance(results, int):
        results = _DEFAULT_SEARCH_RESULTS
    return min(max(results, 1), _MAX_SEARCH_RESULTS) * _SEARCH_MICROS_PER_RESULT


def _flat_micros(model: ModelInfo) -> int:
    return _millionths(model.flat_price or 0.0)


@functools.lru_cache(maxsize=1024)
def _millionths(value: float) -> int:
    """``value * 1e6`` as an exact integer, rounded up beyond six decimals."""
    scaled = value * 1_000_000
    nearest = round(scaled)
    # 0.435 * 1e6 is 434999.99999999994: float noise, not a seventh decimal.
    if abs(scaled - nearest) <= 1e-12 * max(1.0, abs(scaled)):
        return nearest
    return math.ceil(scaled)
