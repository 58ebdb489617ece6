"""``route()``: table choice, filtering, extension, exclusion, cost and savings, profiles.

The classifier is replaced by a stand-in that returns the tier a test asks for, so these
tests pin the routing that follows classification, whatever the classifier decides.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from blockrun_core.catalog import Catalog, default_catalog, estimate_input_tokens, quote_micros
from blockrun_core.errors import ConfigurationError, NoCapableModelError
from blockrun_core.router import (
    BASELINE_MODEL,
    PROFILES,
    TABLES,
    TIERS,
    RoutingDecision,
    Tier,
    measure,
    route,
    table_for,
)
from blockrun_core.router.filters import MAX_EXTENDED_CANDIDATES
from hypothesis import given
from hypothesis import strategies as st

route_module = importlib.import_module("blockrun_core.router.decide")
CAT = default_catalog()
HI = [{"role": "user", "content": "hi"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
IMAGE_URL_PART = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}


Seen = list[tuple[Any, Any, Any]]  # (messages, tools, response_format) the classifier got


@pytest.fixture(autouse=True)
def classified(monkeypatch: pytest.MonkeyPatch) -> Callable[[Tier], Seen]:
    """Make the classifier answer SIMPLE; call the fixture to pick another tier."""
    seen: Seen = []

    def answer(tier: Tier) -> Seen:
        def classify_messages(
            messages: Any, tools: Any, response_format: Any
        ) -> tuple[Tier, float, tuple[str, ...]]:
            seen.append((messages, tools, response_format))
            return tier, 0.875, (f"stand-in says {tier}",)

        monkeypatch.setattr(route_module, "classify_messages", classify_messages)
        return seen

    answer("SIMPLE")
    return answer


def _image_message(part: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "what is this?"}, part]}]


def _with(catalog: Catalog, ids: tuple[str, ...] | set[str], **changes: Any) -> Catalog:
    """``catalog`` with ``changes`` applied to the models in ``ids``."""
    return Catalog(
        dataclasses.replace(m, **changes) if m.id in ids else m for m in catalog.models()
    )


# --------------------------------------------------------------------------- tables


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("tier", TIERS)
def test_every_profile_and_tier_routes_to_its_table(
    classified: Callable[[Tier], Seen], profile: str, tier: Tier
) -> None:
    classified(tier)
    decision = route(HI, profile=profile)
    chain = TABLES[profile].chain(tier)
    assert decision.model == chain[0]
    assert decision.candidates == chain
    assert (decision.tier, decision.profile, decision.agentic) == (tier, profile, False)
    assert decision.confidence == 0.875
    assert decision.signals == (f"stand-in says {tier}",)
    assert decision.excluded == ()


@pytest.mark.parametrize("tool_choice", [None, "auto", "required", {"type": "function"}])
def test_tools_route_on_the_agentic_table(tool_choice: Any) -> None:
    decision = route(HI, tools=[TOOL], tool_choice=tool_choice)
    assert decision.agentic
    assert decision.candidates == TABLES["agentic"].chain("SIMPLE")
    eco = route(HI, profile="eco", tools=[TOOL], tool_choice=tool_choice)
    assert eco.candidates == TABLES["eco-agentic"].chain("SIMPLE")


def test_tool_choice_none_keeps_the_standard_table() -> None:
    decision = route(HI, tools=[TOOL], tool_choice="none")
    assert not decision.agentic
    assert decision.candidates == TABLES["auto"].chain("SIMPLE")
    assert route(HI, tools=[], tool_choice="auto").candidates == TABLES["auto"].chain("SIMPLE")


def test_premium_with_tools_drops_models_that_cannot_call_them() -> None:
    premium = _with(CAT, {TABLES["premium"].primary("SIMPLE")}, supports_tools=False)
    decision = route(HI, profile="premium", tools=[TOOL], catalog=premium)
    chain = TABLES["premium"].chain("SIMPLE")
    assert decision.candidates == chain[1:]
    assert decision.excluded == ((chain[0], "needs tool calling"),)


def test_the_classifier_sees_the_whole_request(
    classified: Callable[[Tier], Seen],
) -> None:
    seen = classified("MEDIUM")
    fmt = {"type": "json_object"}
    decision = route(HI, tools=[TOOL], tool_choice="required", response_format=fmt, max_tokens=77)
    assert seen == [(HI, [TOOL], fmt)]
    assert decision.tier == "MEDIUM"


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    "part",
    [
        IMAGE_URL_PART,
        {"type": "image_url", "image_url": "data:image/png;base64,iVBORw0KGgo="},
        {"type": "image", "source_type": "base64", "data": "iVBORw0KGgo=", "mime_type": "x"},
        {"type": "image", "url": "https://example.com/cat.png"},
        {"type": "image", "source": {"type": "base64", "data": "iVBORw0KGgo="}},
    ],
)
def test_images_need_a_vision_model(part: dict[str, Any]) -> None:
    for profile in PROFILES:
        decision = route(_image_message(part), profile=profile)
        assert decision.candidates, profile
        assert all(CAT.get(m).supports_vision for m in decision.candidates), profile
        chain = TABLES[profile].chain("SIMPLE")
        blind = tuple(m for m in chain if not CAT.get(m).supports_vision)
        assert decision.excluded == tuple((m, "needs vision") for m in blind)
    assert route(_image_message(part), profile="free").model == "nvidia/llama-3.2-11b-vision"


@pytest.mark.parametrize("kind", ["json_schema", "json_object"])
def test_structured_output_needs_a_model_that_supports_it(kind: str) -> None:
    fmt = {"type": kind, "json_schema": {"name": "x", "schema": {"type": "object"}}}
    decision = route(HI, profile="eco", response_format=fmt)
    chain = TABLES["eco"].chain("SIMPLE")
    assert decision.candidates == tuple(m for m in chain if CAT.get(m).supports_structured_output)
    assert ("deepseek/deepseek-chat", "needs structured output") in decision.excluded


def test_a_text_response_format_needs_nothing() -> None:
    decision = route(HI, profile="eco", response_format={"type": "text"})
    assert decision.candidates == TABLES["eco"].chain("SIMPLE")


def test_long_inputs_drop_small_context_models() -> None:
    # ~150k tokens: the 128k models go, the 1M ones stay.
    long = [{"role": "user", "content": "word " * 120_000}]
    decision = route(long, max_tokens=1_000)
    chain = TABLES["auto"].chain("SIMPLE")
    small = [m for m in chain if CAT.get(m).context_window < 200_000]
    assert small == ["openai/gpt-4o-mini"]
    assert decision.excluded == (("openai/gpt-4o-mini", "needs 167k context"),)
    assert decision.candidates == tuple(m for m in chain if m not in small)


def test_history_and_tool_schemas_count_toward_context() -> None:
    history = [{"role": "user", "content": "x" * 200_000}] * 3  # ~150k tokens in all
    decision = route([*history, {"role": "user", "content": "and now?"}])
    assert "openai/gpt-4o-mini" in dict(decision.excluded)
    schemas = [TOOL | {"function": TOOL["function"] | {"description": "d" * 560_000}}]
    agentic = route(HI, tools=schemas)
    assert "openai/gpt-4o-mini" in dict(agentic.excluded)


# --------------------------------------------------------------------------- extension


def test_an_emptied_tier_is_extended_from_higher_tiers_of_the_profile() -> None:
    simple = TABLES["auto"].chain("SIMPLE")
    blind = _with(CAT, set(simple), supports_vision=False)
    decision = route(_image_message(IMAGE_URL_PART), catalog=blind)
    higher = [
        m
        for tier in ("MEDIUM", "COMPLEX", "REASONING")
        for m in TABLES["auto"].chain(tier)
        if m not in simple and CAT.get(m).supports_vision
    ]
    assert decision.model == higher[0] == "moonshot/kimi-k2.7"
    assert decision.candidates == tuple(dict.fromkeys(higher))[:MAX_EXTENDED_CANDIDATES]
    assert decision.tier == "SIMPLE"
    assert {m for m, _ in decision.excluded} >= set(simple)


def test_after_the_profiles_tables_the_catalog_is_the_last_resort(
    classified: Callable[[Tier], Seen],
) -> None:
    classified("REASONING")
    auto = {m for t in TIERS for m in TABLES["auto"].chain(t)}
    assert "openai/gpt-4o" not in auto
    blind = _with(CAT, auto, supports_vision=False)
    decision = route(_image_message(IMAGE_URL_PART), catalog=blind)
    # auto: cheapest first (by the quote for 1,000 tokens in, 1,024 max out), free last,
    # cut at MAX_EXTENDED_CANDIDATES (gpt-5.5-pro and the free vision model miss out).
    assert decision.candidates == (
        "anthropic/claude-haiku-4.5",
        "openai/gpt-4.1",
        "openai/gpt-4o",
        "openai/gpt-5.4",
        "moonshot/kimi-k3",
        "anthropic/claude-opus-4.7",
        "anthropic/claude-opus-5",
        "openai/gpt-5.5",
    )


def test_premium_falls_back_to_the_best_and_eco_to_the_cheapest(
    classified: Callable[[Tier], Seen],
) -> None:
    classified("REASONING")
    text_only = _with(
        CAT,
        {m.id for m in CAT.models()} - {"openai/gpt-4o-mini", "openai/gpt-5.5-pro"},
        supports_vision=False,
    )
    message = _image_message(IMAGE_URL_PART)
    assert route(message, profile="premium", catalog=text_only).candidates == (
        "openai/gpt-5.5-pro",
        "openai/gpt-4o-mini",
    )
    assert route(message, profile="eco", catalog=text_only).candidates == (
        "openai/gpt-4o-mini",
        "openai/gpt-5.5-pro",
    )


def test_no_capable_model_names_the_requirement_and_the_eliminated() -> None:
    with pytest.raises(NoCapableModelError) as info:
        route(HI, profile="free", tools=[TOOL])
    free = sorted(m.id for m in CAT.free_models())
    assert sorted(m for m, _ in info.value.eliminated) == free
    assert {reason for _, reason in info.value.eliminated} == {"needs tool calling"}
    assert info.value.message.startswith(
        "No model of profile 'free' can serve this request: needs tool calling (dropped "
    )
    for model in free:
        assert model in info.value.message


def test_no_capable_model_for_an_input_larger_than_every_window() -> None:
    with pytest.raises(NoCapableModelError, match=r"needs \d\.\dM context") as info:
        route([{"role": "user", "content": "x" * 5_000_000}], profile="eco")
    assert len(info.value.eliminated) == len(CAT.models())


def test_free_never_routes_to_a_paid_model() -> None:
    # Not even when a model of the free table turns paid in a live catalog.
    primary = TABLES["free"].primary("SIMPLE")
    paid = _with(CAT, {primary}, billing_mode="paid", input_price=1.0, output_price=1.0)
    decision = route(HI, profile="free", catalog=paid)
    assert decision.candidates == TABLES["free"].chain("SIMPLE")[1:]
    assert decision.estimated_cost_usd == 0.0


# --------------------------------------------------------------------------- exclude


def test_exclude_skips_models_in_cooldown() -> None:
    chain = TABLES["auto"].chain("SIMPLE")
    decision = route(HI, exclude={chain[0], chain[2]})
    assert decision.model == chain[1]
    assert decision.candidates == (chain[1], *chain[3:])
    assert route(HI, exclude=[chain[0]]).model == chain[1]


def test_excluding_a_whole_tier_moves_to_higher_tiers() -> None:
    simple = TABLES["auto"].chain("SIMPLE")
    decision = route(HI, exclude=set(simple))
    assert decision.model == TABLES["auto"].primary("MEDIUM")
    assert not set(decision.candidates) & set(simple)


def test_excluding_everything_capable_is_ignored() -> None:
    free = {m.id for m in CAT.free_models()}
    decision = route(HI, profile="free", exclude=free)
    assert decision.candidates == TABLES["free"].chain("SIMPLE")


# --------------------------------------------------------------------------- cost


def test_cost_baseline_and_savings_by_hand() -> None:
    # 2 + 30 + 370 characters -> ceil(402 / 4) = 101 input tokens; max_tokens 1024.
    decision = route([{"role": "user", "content": "x" * 370}])
    assert decision.model == "google/gemini-2.5-flash"  # $0.30 / $2.50 per 1M
    # 101 * 0.30 + 102.4 * 2.50 = 286.3 µ$ -> floored to 1,000, + 1,000 fee.
    assert decision.estimated_cost_usd == 0.002
    # anthropic/claude-opus-5, $5 / $25: 101 * 5 + 102.4 * 25 = 3,065 µ$, + 1,000 fee.
    assert BASELINE_MODEL == "anthropic/claude-opus-5"
    assert decision.baseline_cost_usd == 0.004065
    assert decision.savings == pytest.approx(1 - 2_000 / 4_065)


def test_long_context_rates_flat_and_free_models(
    classified: Callable[[Tier], Seen],
) -> None:
    classified("COMPLEX")
    # 900,032 characters -> 225,008 tokens, over Opus's 200k threshold: $10 / $37.50.
    big = [{"role": "user", "content": "y" * 900_000}]
    decision = route(big, profile="premium")
    assert decision.model == BASELINE_MODEL
    # 225,008 * 10 + 102.4 * 37.5 = 2,253,920 µ$, + 1,000 fee.
    assert decision.estimated_cost_usd == decision.baseline_cost_usd == 2.25492
    assert decision.savings == 0.0

    flat = route(HI, profile="eco", tools=[TOOL])
    assert flat.model == "zai/glm-5.1"  # $0.001 per call, fee included
    assert flat.estimated_cost_usd == 0.001
    assert flat.savings == pytest.approx(1 - 0.001 / flat.baseline_cost_usd)

    free = route(HI, profile="free")
    assert (free.estimated_cost_usd, free.savings) == (0.0, 1.0)
    assert free.baseline_cost_usd > 0


def test_max_tokens_is_priced_clamped_to_the_models_max_output() -> None:
    decision = route(HI, max_tokens=1_000_000)
    # Opus's max_output is 128,000: 9 tokens * 5 + 12,800 * 25 = 320,045 µ$ + 1,000.
    assert decision.baseline_cost_usd == 0.321045


@given(
    st.sampled_from(CAT.models()),
    st.integers(min_value=0, max_value=2_000_000),
    st.integers(min_value=1, max_value=300_000),
)
def test_prices_match_the_gateway_quote_formula(model: Any, tokens: int, max_tokens: int) -> None:
    price = route_module._Price(model)
    assert price.micros(tokens, max_tokens) == quote_micros(
        model, {"max_tokens": max_tokens}, input_tokens=tokens
    )


@pytest.mark.parametrize(
    "messages",
    [
        HI,
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Summarise: " + "lorem ipsum " * 300},
            {"role": "assistant", "content": "Lorem."},
            {"role": "user", "content": [{"type": "text", "text": "and in French?"}]},
        ],
        [
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"},
        ],
        [{"role": "user", "content": "日本語のテキスト " * 200}],
    ],
)
def test_the_input_estimate_tracks_the_gateways(messages: list[dict[str, Any]]) -> None:
    ours = -(-measure(messages).chars // 4)
    gateway = estimate_input_tokens(messages)
    assert abs(ours - gateway) <= max(8, gateway // 20), (ours, gateway)


def test_measure_counts_images_apart_from_text() -> None:
    features = measure(
        _image_message({"type": "image_url", "image_url": {"url": "data:" + "A" * 1_000}})
    )
    assert features.images == 1
    assert features.image_chars == 1_005


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize(
    ("alias", "profile"),
    [("blockrun/eco", "eco"), (" ECO ", "eco"), ("BlockRun/Premium", "premium"), ("free", "free")],
)
def test_profile_aliases(alias: str, profile: str) -> None:
    assert route(HI, profile=alias).profile == profile


@pytest.mark.parametrize("bad", ["turbo", "blockrun/agentic", "", None, 3])
def test_an_unknown_profile_names_the_valid_ones(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="auto, eco, premium, free"):
        route(HI, profile=bad)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "100"])
def test_max_tokens_must_be_a_positive_integer(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_tokens"):
        route(HI, max_tokens=bad)


def test_messages_must_be_mappings() -> None:
    with pytest.raises(ConfigurationError, match="mapping"):
        route(["hi"])  # type: ignore[list-item]


def test_routing_is_deterministic() -> None:
    message = _image_message(IMAGE_URL_PART)
    first = route(message, profile="eco", response_format={"type": "json_object"})
    route(HI, profile="premium", tools=[TOOL])
    again = route(message, profile="eco", response_format={"type": "json_object"})
    assert first == again
    assert json.dumps(first.to_dict()) == json.dumps(again.to_dict())


def test_each_catalog_gets_its_own_routing() -> None:
    primary = TABLES["auto"].primary("SIMPLE")
    gone = Catalog(m for m in CAT.models() if m.id != primary)
    assert route(HI, catalog=gone).model == TABLES["auto"].chain("SIMPLE")[1]
    assert route(HI).model == primary
    assert route(HI, catalog=CAT).model == primary


def test_the_decision_is_json_ready() -> None:
    decision = route(_image_message(IMAGE_URL_PART), profile="eco")
    assert isinstance(decision, RoutingDecision)
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["model"] == decision.model
    assert data["candidates"][0] == decision.model
    assert data["excluded"][0] == ["nvidia/nemotron-3.5-lightning", "needs vision"]


def test_table_for_matches_what_route_uses() -> None:
    for profile in PROFILES:
        for agentic in (False, True):
            tools = [TOOL] if agentic else None
            try:
                decision = route(HI, profile=profile, tools=tools)
            except NoCapableModelError:
                assert profile == "free" and agentic
                continue
            assert decision.model in table_for(profile, agentic).chain("SIMPLE")
