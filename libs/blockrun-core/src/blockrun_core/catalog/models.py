"""``ModelInfo``: one chat model of the catalog, and the parser for ``/v1/models`` rows."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CAPABILITIES", "BillingMode", "ModelInfo", "model_from_row"]

BillingMode = Literal["paid", "flat", "free"]
"""How a model is billed: per token (``paid``), a fixed price per call (``flat``) or ``free``."""

#: Capability names accepted by :meth:`ModelInfo.supports`, besides any category.
CAPABILITIES = ("tools", "vision", "reasoning", "structured_output", "streaming")

_BILLING_MODES: frozenset[str] = frozenset(("paid", "flat", "free"))
_TEXT_CATEGORIES = frozenset(("chat", "reasoning", "coding"))
_MEDIA_CATEGORIES = frozenset(
    ("image", "video", "audio", "speech", "sound-effects", "music", "embedding", "embeddings")
)
_DEFAULT_CONTEXT_WINDOW = 128_000
_DEFAULT_MAX_OUTPUT = 16_384


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """A chat model as the gateway sells it.

    Prices are USD per 1M tokens; ``flat_price`` is USD per request, fee included.
    Above ``long_context_threshold`` input tokens the whole request is priced at the
    ``long_*`` rates.
    """

    id: str
    name: str
    provider: str
    billing_mode: BillingMode
    input_price: float
    output_price: float
    context_window: int
    max_output: int
    flat_price: float | None = None
    supports_tools: bool = False
    supports_vision: bool = False
    supports_reasoning: bool = False
    supports_structured_output: bool = False
    supports_streaming: bool = True
    long_context_threshold: int | None = None
    long_input_price: float | None = None
    long_output_price: float | None = None
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.billing_mode not in _BILLING_MODES:
            raise ValueError(f"{self.id}: unknown billing mode {self.billing_mode!r}")
        if self.billing_mode == "flat" and self.flat_price is None:
            raise ValueError(f"{self.id}: a flat-billed model needs a flat_price")

    @property
    def is_free(self) -> bool:
        """True when the gateway serves this model without payment."""
        return self.billing_mode == "free"

    @property
    def has_long_context_pricing(self) -> bool:
        """True when prompts above ``long_context_threshold`` are re-priced."""
        return self.long_context_threshold is not None and (
            self.long_input_price is not None or self.long_output_price is not None
        )

    def supports(self, capability: str) -> bool:
        """Whether the model has a capability (see ``CAPABILITIES``) or a category."""
        if capability == "tools":
            return self.supports_tools
        if capability == "vision":
            return self.supports_vision
        if capability == "reasoning":
            return self.supports_reasoning
        if capability == "structured_output":
            return self.supports_structured_output
        if capability == "streaming":
            return self.supports_streaming
        return capability in self.categories

    def to_api_dict(self) -> dict[str, Any]:
        """This model as a ``GET /v1/models`` row (plus our ``capabilities`` extension)."""
        pricing: dict[str, Any] = {"input": self.input_price, "output": self.output_price}
        if self.flat_price is not None:
            pricing["flat"] = self.flat_price
        if self.has_long_context_pricing:
            pricing["long_context"] = {
                "threshold": self.long_context_threshold,
                "input": self.long_input_price,
                "output": self.long_output_price,
            }
        return {
            "id": self.id,
            "object": "model",
            "owned_by": self.provider,
            "name": self.name,
            "context_window": self.context_window,
            "max_output": self.max_output,
            "categories": list(self.categories),
            "billing_mode": self.billing_mode,
            "pricing": pricing,
            "capabilities": {
                "tools": self.supports_tools,
                "vision": self.supports_vision,
                "reasoning": self.supports_reasoning,
                "structured_output": self.supports_structured_output,
                "streaming": self.supports_streaming,
            },
        }


def model_from_row(row: object, base: ModelInfo | None = None) -> ModelInfo | None:
    """Parse one ``/v1/models`` row; ``None`` for rows that are not usable chat models.

    Accepts snake_case and legacy camelCase keys. Skipped: hidden or unavailable rows,
    media-only rows and media billing modes, rows that cannot be priced. ``base`` (the
    bundled entry for the same id) supplies what the API does not publish: tool and
    structured-output support, probe-corrected vision, and long-context pricing.
    """
    try:
        return _parse(row, base)
    except _UnusableRowError:
        return None


class _UnusableRowError(Exception):
    """The row is not a usable chat model."""


def _parse(row: object, base: ModelInfo | None) -> ModelInfo:
    if not isinstance(row, Mapping):
        raise _UnusableRowError
    raw_id = row.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise _UnusableRowError
    model_id = raw_id.strip()
    if row.get("hidden") is True or row.get("available") is False:
        raise _UnusableRowError
    categories = _categories(row.get("categories"))
    if set(categories) & _MEDIA_CATEGORIES and not set(categories) & _TEXT_CATEGORIES:
        raise _UnusableRowError

    raw_pricing = row.get("pricing")
    pricing: Mapping[str, Any] = raw_pricing if isinstance(raw_pricing, Mapping) else {}
    input_price = _price(pricing.get("input"), _first(row, "input_price", "inputPrice"))
    output_price = _price(pricing.get("output"), _first(row, "output_price", "outputPrice"))
    flat_price = _price(pricing.get("flat"), _first(row, "flat_price", "flatPrice"))
    mode = _billing_mode(row, input_price, output_price, flat_price)
    if mode == "free":
        input_price = output_price = 0.0
        flat_price = None
    elif mode == "flat":
        if not flat_price:
            raise _UnusableRowError
    else:
        flat_price = None
        if input_price is None and output_price is None:
            if base is None or base.billing_mode != "paid":
                raise _UnusableRowError
            input_price, output_price = base.input_price, base.output_price

    context_window = _count(_first(row, "context_window", "contextWindow"))
    if context_window is None:
        context_window = base.context_window if base else _DEFAULT_CONTEXT_WINDOW
    max_output = _count(_first(row, "max_output", "maxOutput", "max_output_tokens"))
    if max_output is None:
        max_output = base.max_output if base else min(_DEFAULT_MAX_OUTPUT, context_window)

    raw_caps = row.get("capabilities")
    caps: Mapping[str, Any] = raw_caps if isinstance(raw_caps, Mapping) else {}
    # Precedence per flag: explicit capability, explicit row flag, bundled (probe-derived)
    # entry, then what the categories say. Tools and structured output fail closed.
    vision = _flag(
        caps.get("vision"),
        _first(row, "supports_vision", "supportsVision"),
        base.supports_vision if base else "vision" in categories,
    )
    reasoning = _flag(
        caps.get("reasoning"),
        _first(row, "supports_reasoning", "supportsReasoning", "reasoning"),
        "reasoning" in categories or (base is not None and base.supports_reasoning),
    )
    tools = _flag(
        caps.get("tools"),
        _first(row, "supports_tools", "supportsTools", "toolCalling", "tool_calling"),
        base is not None and base.supports_tools,
    )
    structured = _flag(
        caps.get("structured_output"),
        _first(row, "supports_structured_output", "supportsStructuredOutput"),
        base is not None and base.supports_structured_output,
    )
    streaming = _flag(
        caps.get("streaming"),
        _first(row, "supports_streaming", "supportsStreaming"),
        base is None or base.supports_streaming,
    )
    if not categories:
        categories = base.categories if base else _derived_categories(vision, reasoning)

    in_price = input_price or 0.0
    out_price = output_price or 0.0
    threshold, long_in, long_out = _long_context(row, pricing, base, in_price, out_price)
    return ModelInfo(
        id=model_id,
        name=_text(row.get("name")) or (base.name if base else model_id),
        provider=_text(_first(row, "provider", "owned_by", "ownedBy"))
        or _provider_of(model_id, base),
        billing_mode=mode,
        input_price=in_price,
        output_price=out_price,
        flat_price=flat_price,
        context_window=context_window,
        max_output=min(max_output, context_window),
        supports_tools=tools,
        supports_vision=vision,
        supports_reasoning=reasoning,
        supports_structured_output=structured,
        supports_streaming=streaming,
        long_context_threshold=threshold,
        long_input_price=long_in,
        long_output_price=long_out,
        categories=categories,
    )


def _first(mapping: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def _price(*candidates: Any) -> float | None:
    """The first present candidate as a finite non-negative float; skip the row if unusable."""
    for value in candidates:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _UnusableRowError
        try:
            number = float(value)
        except ValueError:
            raise _UnusableRowError from None
        if not math.isfinite(number) or number < 0:
            raise _UnusableRowError
        return number
    return None


def _count(value: Any) -> int | None:
    """A positive token count, or ``None`` when absent or unusable."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or number < 1:
        return None
    return int(number)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _flag(*candidates: Any) -> bool:
    for value in candidates:
        if isinstance(value, bool):
            return value
    return False


def _categories(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _UnusableRowError
    return tuple(c.strip().lower() for c in value if isinstance(c, str) and c.strip())


def _billing_mode(
    row: Mapping[str, Any],
    input_price: float | None,
    output_price: float | None,
    flat_price: float | None,
) -> BillingMode:
    raw = _first(row, "billing_mode", "billingMode")
    if raw is not None:
        mode = raw.strip().lower() if isinstance(raw, str) else None
        if mode == "paid":
            return "paid"
        if mode == "flat":
            return "flat"
        if mode == "free":
            return "free"
        raise _UnusableRowError  # media modes (per_image, per_second, ...) are not chat models
    if flat_price:
        return "flat"
    if input_price == 0 and not output_price:
        return "free"
    return "paid"


def _long_context(
    row: Mapping[str, Any],
    pricing: Mapping[str, Any],
    base: ModelInfo | None,
    input_price: float,
    output_price: float,
) -> tuple[int | None, float | None, float | None]:
    raw_block = pricing.get("long_context")
    block: Mapping[str, Any] = raw_block if isinstance(raw_block, Mapping) else {}
    threshold = _count(
        _first(block, "threshold") or _first(row, "long_context_threshold", "longContextThreshold")
    )
    long_in = _price(block.get("input"), _first(row, "long_input_price", "longInputPrice"))
    long_out = _price(block.get("output"), _first(row, "long_output_price", "longOutputPrice"))
    if threshold is None and base is not None and base.has_long_context_pricing:
        # The API does not publish long-context rates: keep the bundled ones rather than
        # under-quote long prompts, never below the live base rates.
        threshold = base.long_context_threshold
        long_in = base.long_input_price
        long_out = base.long_output_price
    if threshold is None or (long_in is None and long_out is None):
        return None, None, None
    return threshold, max(long_in or 0.0, input_price), max(long_out or 0.0, output_price)


def _derived_categories(vision: bool, reasoning: bool) -> tuple[str, ...]:
    return ("chat", *(("reasoning",) if reasoning else ()), *(("vision",) if vision else ()))


def _provider_of(model_id: str, base: ModelInfo | None) -> str:
    if base is not None:
        return base.provider
    return model_id.split("/", 1)[0] if "/" in model_id else "unknown"
