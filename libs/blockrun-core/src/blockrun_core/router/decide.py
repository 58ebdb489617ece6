"""``route()``: the model and fallback chain for a chat request, with its cost and savings.

Pure and deterministic: no I/O, no clock. What does not depend on the request (the
chains of each profile and tier, their fallback pools, integer prices) is prepared once
per catalog and cached by catalog identity, so a call measures the messages once,
classifies them, filters one prepared chain and prices two models arithmetically.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from blockrun_core.catalog import Catalog, ModelInfo, default_catalog
from blockrun_core.catalog.quote import FEE_MICROS, MIN_CHARGE_MICROS
from blockrun_core.errors import ConfigurationError

from .classifier import classify_messages
from .filters import Chain, Needs, select, unmet_need
from .tiers import TABLES, TierTable, table_for
from .types import (
    _PROFILE_IDS,
    PROFILES,
    TIERS,
    Profile,
    RoutingDecision,
    Tier,
    _decision,
    resolve_profile,
)

__all__ = ["BASELINE_MODEL", "IMAGE_TOKENS", "Features", "measure", "route"]

BASELINE_MODEL = "anthropic/claude-opus-5"
"""What savings are measured against: the strongest general model of the catalog at
Opus-class prices ($5 / $25 per 1M), the anchor BlockRun's published savings use."""
#: Context an image takes, in tokens (about one 1,000-pixel-square image at high detail).
IMAGE_TOKENS = 1_600

_STRUCTURED_FORMATS = frozenset(("json_schema", "json_object"))
_IMAGE_PARTS = frozenset(("image_url", "image", "input_image"))
# JSON around each piece, in characters: '{"role":"user","content":""},' is 29.
_MESSAGE_OVERHEAD = 30
_PART_OVERHEAD = 25  # '{"type":"text","text":""},'
_TOOL_CALLS_KEY = 16  # ',"tool_calls":[]'
_TOOL_CALL_OVERHEAD = 63  # '{"id":"","type":"function","function":{"name":"","arguments":""}},'
_TOOL_CALL_ID_KEY = 18  # ',"tool_call_id":""'
_MAX_INDEXES = 8  # catalogs kept prepared (a live catalog is refreshed now and then)


# --------------------------------------------------------------------------- request


class Features(NamedTuple):
    """What pricing and filtering read of the messages, measured in one pass.

    ``chars`` approximates the compact JSON size of everything but inline images (the
    gateway's estimate is that size over 4); ``image_chars`` is the size of image URLs
    and inline data, which the gateway prices as text but models see as ``images``.
    """

    chars: int
    image_chars: int
    images: int


def measure(messages: Sequence[Mapping[str, Any]]) -> Features:
    """Measure ``messages`` (OpenAI dicts; LangChain-style image blocks are recognised)."""
    chars = 2
    image_chars = 0
    images = 0
    for message in messages:
        if message.__class__ is not dict and not isinstance(message, Mapping):
            raise ConfigurationError(
                f"Each message must be a mapping, not {type(message).__name__}."
            )
        chars += _MESSAGE_OVERHEAD
        content = message.get("content")
        if content.__class__ is str:
            chars += len(content) if content.isascii() else _utf8_len(content)
        elif isinstance(content, (list, tuple)):
            for part in content:
                if not isinstance(part, Mapping):
                    continue
                chars += _PART_OVERHEAD
                if part.get("type") in _IMAGE_PARTS:
                    images += 1
                    image_chars += _image_chars(part)
                else:
                    text = part.get("text")
                    if isinstance(text, str):
                        chars += len(text) if text.isascii() else _utf8_len(text)
        calls = message.get("tool_calls")
        if calls:
            chars += _tool_calls_chars(calls)
        call_id = message.get("tool_call_id")
        if call_id.__class__ is str:
            chars += _TOOL_CALL_ID_KEY + len(call_id)
    return Features(chars, image_chars, images)


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _image_chars(part: Mapping[str, Any]) -> int:
    value = (
        part.get("image_url")
        or part.get("url")
        or part.get("data")
        or part.get("base64")
        or part.get("source")
    )
    if isinstance(value, Mapping):
        value = value.get("url") or value.get("data")
    return len(value) if isinstance(value, str) else 0


def _tool_calls_chars(calls: Any) -> int:
    chars = _TOOL_CALLS_KEY
    if isinstance(calls, (list, tuple)):
        for call in calls:
            chars += _TOOL_CALL_OVERHEAD
            if not isinstance(call, Mapping):
                continue
            call_id = call.get("id")
            if isinstance(call_id, str):
                chars += len(call_id)
            function = call.get("function")
            if isinstance(function, Mapping):
                name = function.get("name")
                if isinstance(name, str):
                    chars += len(name)
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    # Arguments are JSON in a JSON string: each quote is escaped.
                    chars += len(arguments) + arguments.count('"')
    return chars


# What ``json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)``
# builds per call, built once (an encoder keeps no state between calls).
_TOOLS_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def _json_chars(value: Any) -> int:
    """Compact JSON size of tool schemas (what the gateway counts); 0 if not serialisable."""
    try:
        text = _TOOLS_ENCODER.encode(value)
    except (TypeError, ValueError):
        return 0
    return len(text) if text.isascii() else _utf8_len(text)


_ToolsSize = tuple[Sequence[Any], tuple[int, ...], int]
_TOOLS_SIZES: dict[int, _ToolsSize] = {}
_MAX_TOOLS_SIZES = 64


def _tools_chars(tools: Sequence[Any]) -> int:
    """``_json_chars(tools)``, remembered per tools list: an agent re-sends the list it
    bound on every call of a run, and serialising it is most of what tools add to a
    decision. A list is known again when it is the same object holding the same tool
    objects (by identity: a schema edited in place inside a kept tool dict is not seen,
    and its size is then stale until the list changes). Held lists stay alive, so their
    ids are not reused while remembered."""
    if tools.__class__ is not list and tools.__class__ is not tuple:
        return _json_chars(tools)
    members = tuple(map(id, tools))
    known = _TOOLS_SIZES.get(id(tools))
    if known is not None and known[0] is tools and known[1] == members:
        return known[2]
    chars = _json_chars(tools)
    if len(_TOOLS_SIZES) >= _MAX_TOOLS_SIZES:
        _TOOLS_SIZES.clear()
    _TOOLS_SIZES[id(tools)] = (tools, members, chars)
    return chars


def _wants_structured_output(response_format: Any) -> bool:
    if not isinstance(response_format, Mapping):
        return False
    return response_format.get("type") in _STRUCTURED_FORMATS


# --------------------------------------------------------------------------- prices


class _Price:
    """A model's quote formula with integer rates (see ``catalog.quote``)."""

    __slots__ = (
        "fixed",
        "in_rate",
        "long_in",
        "long_out",
        "long_threshold",
        "max_output",
        "out_rate",
    )

    def __init__(self, model: ModelInfo) -> None:
        # A free model costs nothing, a flat-billed one its flat price, whatever the request.
        fixed: int | None = None
        if model.is_free:
            fixed = 0
        elif model.billing_mode == "flat":
            fixed = _pico(model.flat_price or 0.0)
        self.fixed = fixed
        self.max_output = model.max_output
        self.in_rate = _pico(model.input_price)
        self.out_rate = _pico(model.output_price)
        # Input beyond this many tokens is billed at the long-context rates.
        threshold = model.long_context_threshold
        self.long_threshold = (
            threshold if threshold is not None and model.has_long_context_pricing else math.inf
        )
        self.long_in = _pico(model.long_input_price or model.input_price)
        self.long_out = _pico(model.long_output_price or model.output_price)

    def micros(self, input_tokens: int, max_tokens: int) -> int:
        """Micro-USD the gateway quotes: input at the input rate, 10% of the clamped
        ``max_tokens`` at the output rate, floored at $0.001, plus the $0.001 fee."""
        if self.fixed is not None:
            return self.fixed
        # min() and max() spelled out: this runs twice per routing decision.
        output = max_tokens if max_tokens < self.max_output else self.max_output
        if input_tokens > self.long_threshold:
            tenths = 10 * input_tokens * self.long_in + output * self.long_out
        else:
            tenths = 10 * input_tokens * self.in_rate + output * self.out_rate
        cost = -(-tenths // 10_000_000)
        return (cost if cost > MIN_CHARGE_MICROS else MIN_CHARGE_MICROS) + FEE_MICROS


def _pico(price: float) -> int:
    """USD per 1M tokens as pico-USD per token, exact to six decimals (as the quote rounds)."""
    scaled = price * 1_000_000
    nearest = round(scaled)
    if abs(scaled - nearest) <= 1e-12 * max(1.0, abs(scaled)):
        return nearest
    return math.ceil(scaled)


# --------------------------------------------------------------------------- per catalog


class _Index:
    """One catalog, prepared: for each (profile, tools, tier), the chain and its pool."""

    __slots__ = ("baseline", "catalog", "prices", "routes")

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.prices = {m.id: _Price(m) for m in catalog.models()}
        baseline = _find(catalog, BASELINE_MODEL) or default_catalog().get(BASELINE_MODEL)
        self.baseline = _Price(baseline)
        self.routes: dict[tuple[Profile, bool, Tier], tuple[Chain, Chain]] = {}
        for profile in PROFILES:
            last_resort = _catalog_order(catalog, profile)
            for agentic in (False, True):
                table = table_for(profile, agentic)
                for tier in TIERS:
                    key = (profile, agentic, tier)
                    self.routes[key] = _prepare(catalog, profile, table, tier, last_resort)


def _find(catalog: Catalog, model_id: str) -> ModelInfo | None:
    return catalog.get(model_id) if model_id in catalog else None


def _prepare(
    catalog: Catalog,
    profile: Profile,
    table: TierTable,
    tier: Tier,
    last_resort: Sequence[ModelInfo],
) -> tuple[Chain, Chain]:
    """A tier's chain as catalog models, and its pool: the higher tiers' models, then
    ``last_resort`` (the whole catalog in the profile's order)."""
    free_only = profile == "free"

    def allowed(model: ModelInfo) -> bool:
        return model.is_free or not free_only

    chain = [m for m in _models(catalog, table.chain(tier)) if allowed(m)]
    higher = [m for t in TIERS[TIERS.index(tier) + 1 :] for m in _models(catalog, table.chain(t))]
    in_chain = {m.id for m in chain}
    pool = [m for m in (*higher, *last_resort) if m.id not in in_chain and allowed(m)]
    return Chain(chain), Chain(pool)


def _models(catalog: Catalog, ids: Iterable[str]) -> list[ModelInfo]:
    """The catalog's models for ``ids``; ids it does not list are skipped (not sold now)."""
    return [m for m in (_find(catalog, i) for i in ids) if m is not None]


def _catalog_order(catalog: Catalog, profile: Profile) -> list[ModelInfo]:
    """The whole catalog as a last-resort pool: cheapest first for eco and free (and for
    auto, with free models last), best first for premium (its own chains, most demanding
    tier first, then by price, dearest first)."""
    models = catalog.models()
    if profile == "premium":
        premium = TABLES["premium"]
        ranked = _models(catalog, (i for t in reversed(TIERS) for i in premium.chain(t)))
        others = sorted(models, key=lambda m: (-m.output_price, -m.input_price, m.id))
        return list({m.id: m for m in (*ranked, *others)}.values())
    reference = {m.id: _Price(m).micros(1_000, 1_024) for m in models}
    free_last = profile == "auto"
    return sorted(
        models,
        key=lambda m: (free_last and m.is_free, reference[m.id], m.input_price, m.id),
    )


_INDEXES: dict[int, _Index] = {}
_INDEXES_LOCK = threading.Lock()


def _index(catalog: Catalog | None) -> _Index:
    if catalog is None:
        catalog = default_catalog()
    index = _INDEXES.get(id(catalog))
    if index is not None and index.catalog is catalog:
        return index
    with _INDEXES_LOCK:
        index = _INDEXES.get(id(catalog))
        if index is None or index.catalog is not catalog:
            if len(_INDEXES) >= _MAX_INDEXES:
                del _INDEXES[next(iter(_INDEXES))]
            index = _INDEXES[id(catalog)] = _Index(catalog)
        return index


# --------------------------------------------------------------------------- route


def route(
    messages: Sequence[Mapping[str, Any]],
    *,
    profile: str = "auto",
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: Any = None,
    response_format: Mapping[str, Any] | None = None,
    max_tokens: int = 1024,
    exclude: Collection[str] | None = None,
    catalog: Catalog | None = None,
    pinned: str | None = None,
) -> RoutingDecision:
    """Choose the model for a chat request under a routing profile.

    ``profile`` is ``auto``, ``eco``, ``premium`` or ``free`` (``blockrun/…`` too).
    Requests with tools (and ``tool_choice`` other than ``"none"``) route on the agentic
    table; models that cannot serve the request (tools, images, structured output,
    context) are dropped, and ``exclude`` (models in cooldown) is avoided when others
    can serve. ``pinned`` (the model a session started with) goes first while it can
    serve the request and is not excluded. Raises ``ConfigurationError`` for an unknown
    profile and
    ``NoCapableModelError`` when no model of the profile can serve the request.
    """
    # A profile spelled as its id ("auto", "blockrun/eco") needs no normalising.
    resolved = _PROFILE_IDS.get(profile) if profile.__class__ is str else None
    if resolved is None and isinstance(profile, str):
        resolved = resolve_profile(profile)
    if resolved is None:
        raise ConfigurationError(
            f"Unknown routing profile {profile!r}; use one of "
            f"{', '.join(PROFILES)} (or blockrun/<profile>)."
        )
    if max_tokens.__class__ is not int or max_tokens < 1:
        raise ConfigurationError(f"max_tokens must be a positive integer, not {max_tokens!r}.")
    index = _index(catalog)

    chars, image_chars, images = measure(messages)
    if tools:
        chars += _tools_chars(tools)
    agentic = bool(tools) and tool_choice != "none"
    tier, confidence, signals = classify_messages(messages, tools, response_format)
    chain, pool = index.routes[(resolved, agentic, tier)]
    # Needs(...), skipping the NamedTuple's generated __new__ (a Python-level call).
    needs: Needs = tuple.__new__(
        Needs,
        (
            agentic,
            images > 0,
            response_format is not None and _wants_structured_output(response_format),
            -(-chars // 4) + images * IMAGE_TOKENS,
            max_tokens,
        ),
    )
    candidates, excluded = select(chain, pool, needs, exclude, resolved)
    if (
        pinned is not None
        and pinned != candidates[0]
        and _can_keep(index, pinned, resolved, needs, exclude)
    ):
        candidates = (pinned, *(m for m in candidates if m != pinned))
        signals = (*signals, f"kept on {pinned}, pinned to this session")

    model = candidates[0]
    priced_tokens = -(-(chars + image_chars) // 4)
    estimate = index.prices[model].micros(priced_tokens, max_tokens)
    baseline = index.baseline.micros(priced_tokens, max_tokens)
    return _decision(
        model,
        tier,
        resolved,
        confidence,
        signals,
        candidates,
        estimate / 1_000_000,
        baseline / 1_000_000,
        _savings(estimate, baseline),
        agentic,
        excluded,
    )


def _savings(estimate: int, baseline: int) -> float:
    """``max(0.0, 1.0 - estimate / baseline)``, 0.0 without a baseline."""
    if not baseline:
        return 0.0
    saved = 1.0 - estimate / baseline
    return saved if saved > 0.0 else 0.0


def _can_keep(
    index: _Index,
    model_id: str,
    profile: Profile,
    needs: Needs,
    exclude: Collection[str] | None,
) -> bool:
    """Whether a session's pinned model may serve this request too."""
    model = _find(index.catalog, model_id)
    return (
        model is not None
        and (model.is_free or profile != "free")
        and not (exclude and model_id in exclude)
        and unmet_need(model, needs) is None
    )
