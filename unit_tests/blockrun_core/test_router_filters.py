"""Capability filters: who is dropped for what, extension from the pool, exclusion, errors."""

from __future__ import annotations

from typing import Any

import pytest
from blockrun_core.catalog import ModelInfo
from blockrun_core.errors import ConfigurationError, NoCapableModelError
from blockrun_core.router.filters import (
    MAX_EXTENDED_CANDIDATES,
    Chain,
    Needs,
    no_capable_model,
    select,
    unmet_need,
)


def _model(model_id: str, **kw: Any) -> ModelInfo:
    fields: dict[str, Any] = {
        "id": model_id,
        "name": model_id,
        "provider": model_id.split("/")[0],
        "billing_mode": "paid",
        "input_price": 1.0,
        "output_price": 2.0,
        "context_window": 128_000,
        "max_output": 16_384,
        "supports_tools": True,
        "supports_vision": True,
        "supports_structured_output": True,
    }
    fields.update(kw)
    return ModelInfo(**fields)


ALL = _model("a/all")
NO_TOOLS = _model("b/no-tools", supports_tools=False)
NO_VISION = _model("c/no-vision", supports_vision=False)
NO_JSON = _model("d/no-json", supports_structured_output=False)
SMALL = _model("e/small", context_window=8_000, max_output=4_096)
BIG = _model("f/big", context_window=1_000_000)


# --------------------------------------------------------------------------- unmet_need


@pytest.mark.parametrize(
    ("needs", "model", "reason"),
    [
        (Needs(tools=True), NO_TOOLS, "needs tool calling"),
        (Needs(vision=True), NO_VISION, "needs vision"),
        (Needs(structured_output=True), NO_JSON, "needs structured output"),
        (Needs(input_tokens=7_000, max_tokens=1_024), SMALL, "needs 9k context"),
    ],
)
def test_each_requirement_drops_the_model_lacking_it(
    needs: Needs, model: ModelInfo, reason: str
) -> None:
    assert unmet_need(model, needs) == reason
    assert unmet_need(ALL, needs) is None


def test_no_needs_drop_nothing() -> None:
    for model in (ALL, NO_TOOLS, NO_VISION, NO_JSON, SMALL):
        assert unmet_need(model, Needs(input_tokens=10, max_tokens=10)) is None


def test_the_first_unmet_need_is_reported() -> None:
    bare = _model("g/bare", supports_tools=False, supports_vision=False, context_window=100)
    needs = Needs(tools=True, vision=True, input_tokens=1_000, max_tokens=10)
    assert unmet_need(bare, needs) == "needs tool calling"
    assert unmet_need(bare, needs._replace(tools=False)) == "needs vision"
    assert unmet_need(bare, Needs(input_tokens=1_000, max_tokens=10)) == "needs 2k context"


def test_context_has_a_ten_percent_margin() -> None:
    # (input + output) * 1.1 must fit: 100,000 + 16,364 = 116,364 -> 128,000.4 needed.
    model = _model("h/ctx", context_window=128_000, max_output=16_384)
    assert unmet_need(model, Needs(input_tokens=100_000, max_tokens=16_363)) is None
    assert unmet_need(model, Needs(input_tokens=100_000, max_tokens=16_364)) == (
        "needs 129k context"
    )


def test_output_is_clamped_to_the_models_max_output_as_the_gateway_does() -> None:
    # A huge max_tokens must not eliminate every model (it is clamped, not rejected).
    model = _model("i/clamped", context_window=128_000, max_output=16_384)
    assert unmet_need(model, Needs(input_tokens=1_000, max_tokens=1_000_000)) is None
    assert unmet_need(model, Needs(input_tokens=100_000, max_tokens=1_000_000)) is not None


def test_context_sizes_read_well() -> None:
    huge = _model("j/huge", context_window=1_000_000)
    assert unmet_need(huge, Needs(input_tokens=1_200_000, max_tokens=1)) == "needs 1.4M context"
    tiny = _model("k/tiny", context_window=500)
    assert unmet_need(tiny, Needs(input_tokens=600, max_tokens=1)) == "needs 662 context"


# --------------------------------------------------------------------------- Chain.split


def test_split_keeps_order_and_gives_a_reason_per_dropped_model() -> None:
    chain = Chain([NO_TOOLS, ALL, NO_VISION, SMALL, BIG])
    kept, dropped = chain.split(Needs(tools=True, vision=True, input_tokens=9_000, max_tokens=1))
    assert kept == ("a/all", "f/big")
    assert dropped == (
        ("b/no-tools", "needs tool calling"),
        ("c/no-vision", "needs vision"),
        ("e/small", "needs 10k context"),
    )


def test_split_returns_the_prepared_chain_when_nothing_is_needed() -> None:
    chain = Chain([ALL, NO_TOOLS, NO_VISION])
    kept, dropped = chain.split(Needs(input_tokens=100, max_tokens=1_024))
    assert kept is chain.ids
    assert dropped == ()


def test_a_chain_drops_duplicate_models() -> None:
    assert Chain([ALL, NO_TOOLS, ALL]).ids == ("a/all", "b/no-tools")


# --------------------------------------------------------------------------- select


def test_select_keeps_the_capable_models_of_the_chain() -> None:
    kept, dropped = select(Chain([NO_VISION, ALL]), Chain([BIG]), Needs(vision=True))
    assert kept == ("a/all",)
    assert dropped == (("c/no-vision", "needs vision"),)


def test_an_emptied_chain_is_extended_from_the_pool_in_order() -> None:
    pool = Chain([BIG, _model("q/no-tools", supports_tools=False), NO_JSON, ALL])
    kept, dropped = select(Chain([NO_TOOLS]), pool, Needs(tools=True, structured_output=True))
    assert kept == ("f/big", "a/all")
    assert dropped == (
        ("b/no-tools", "needs tool calling"),
        ("q/no-tools", "needs tool calling"),
        ("d/no-json", "needs structured output"),
    )


def test_extension_stops_after_enough_candidates() -> None:
    pool = Chain([_model(f"p{i}/m") for i in range(MAX_EXTENDED_CANDIDATES + 3)])
    kept, _ = select(Chain([NO_VISION]), pool, Needs(vision=True))
    assert kept == tuple(f"p{i}/m" for i in range(MAX_EXTENDED_CANDIDATES))


def test_exclude_removes_models_and_keeps_order() -> None:
    kept, _ = select(Chain([ALL, BIG, NO_JSON]), Chain([]), Needs(), exclude={"f/big"})
    assert kept == ("a/all", "d/no-json")


def test_a_fully_excluded_chain_is_extended_from_the_pool() -> None:
    kept, _ = select(Chain([ALL, BIG]), Chain([NO_JSON, ALL]), Needs(), exclude={"a/all", "f/big"})
    assert kept == ("d/no-json",)


def test_exclusion_is_ignored_when_it_would_leave_nothing() -> None:
    # A model in cooldown beats no model: the excluded capable ones come back, in order.
    kept, _ = select(
        Chain([ALL, NO_VISION]), Chain([BIG]), Needs(vision=True), exclude={"a/all", "f/big"}
    )
    assert kept == ("a/all", "f/big")


def test_nothing_capable_raises_with_every_elimination() -> None:
    with pytest.raises(NoCapableModelError) as info:
        select(
            Chain([NO_VISION, SMALL]),
            Chain([_model("x/no-vision-2", supports_vision=False)]),
            Needs(vision=True, input_tokens=50_000, max_tokens=1_000),
            profile="free",
        )
    error = info.value
    assert isinstance(error, ConfigurationError)
    assert error.eliminated == (
        ("c/no-vision", "needs vision"),
        ("e/small", "needs 57k context"),
        ("x/no-vision-2", "needs vision"),
    )
    assert error.message == (
        "No model of profile 'free' can serve this request: "
        "needs vision (dropped c/no-vision, x/no-vision-2), "
        "needs 57k context (dropped e/small)."
    )


def test_long_elimination_lists_are_cut() -> None:
    eliminated = [(f"m/{i}", "needs vision") for i in range(11)]
    message = no_capable_model("auto", eliminated).message
    assert "dropped m/0, m/1, m/2, m/3, m/4, m/5, m/6, m/7 and 3 more" in message
    assert no_capable_model("auto", eliminated).eliminated == tuple(eliminated)


def test_an_empty_chain_and_pool_say_so() -> None:
    with pytest.raises(NoCapableModelError, match="the catalog lists none of its models"):
        select(Chain([]), Chain([]), Needs())
