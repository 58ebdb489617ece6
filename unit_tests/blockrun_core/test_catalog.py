"""Catalog: the bundled snapshot, id resolution, suggestions, capabilities, row parsing."""

from __future__ import annotations

from typing import Any

import pytest
from blockrun_core.catalog import Catalog, ModelInfo, default_catalog
from blockrun_core.errors import ConfigurationError, UnknownModelError


@pytest.fixture
def cat() -> Catalog:
    return Catalog.bundled()


def _model(model_id: str, **kw: Any) -> ModelInfo:
    fields: dict[str, Any] = {
        "id": model_id,
        "name": model_id,
        "provider": model_id.split("/")[0],
        "billing_mode": "paid",
        "input_price": 1.0,
        "output_price": 2.0,
        "context_window": 100_000,
        "max_output": 8_192,
    }
    fields.update(kw)
    return ModelInfo(**fields)


# --- the bundled snapshot --------------------------------------------------------------


def test_bundled_is_loaded_once_and_shared(cat: Catalog) -> None:
    assert Catalog.bundled() is cat
    assert default_catalog() is cat
    assert cat.source == "bundled"
    assert cat.snapshot_date == "2026-10-20"


def test_bundled_snapshot_is_realistic(cat: Catalog) -> None:
    assert 30 <= len(cat) <= 50
    providers = {m.provider for m in cat}
    assert {"openai", "anthropic", "google", "xai", "deepseek", "moonshot", "nvidia"} <= providers
    assert len(cat.free_models()) >= 3
    assert any(m.billing_mode == "flat" for m in cat)
    assert any(m.has_long_context_pricing for m in cat)
    for m in cat:
        assert m.max_output <= m.context_window
        assert m.id == m.id.strip().lower()
        if m.has_long_context_pricing:
            assert m.long_input_price is not None and m.long_input_price >= m.input_price
            assert m.long_output_price is not None and m.long_output_price >= m.output_price


def test_demo_models_exist_with_the_promised_capabilities(cat: Catalog) -> None:
    mini = cat.get("openai/gpt-4o-mini")
    assert mini.billing_mode == "paid"
    assert (mini.input_price, mini.output_price) == (0.15, 0.6)
    assert mini.supports_tools and mini.supports_vision and mini.supports_structured_output
    free = cat.get("nvidia/gpt-oss-120b")
    assert free.is_free
    assert (free.input_price, free.output_price, free.flat_price) == (0.0, 0.0, None)


def test_every_alias_and_redirect_lands_on_a_listed_model(cat: Catalog) -> None:
    for name in (*cat.aliases, *cat.redirects):
        assert cat.resolve_id(name) in {m.id for m in cat}, name


# --- resolution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sonnet", "anthropic/claude-sonnet-4.6"),
        ("opus", "anthropic/claude-opus-5"),
        ("haiku", "anthropic/claude-haiku-4.5"),
        ("flash", "google/gemini-2.5-flash"),
        ("pro", "google/gemini-2.5-pro"),
        ("gpt", "openai/gpt-5.5"),
        ("mini", "openai/gpt-4o-mini"),
        ("grok", "xai/grok-4.5"),
        ("deepseek", "deepseek/deepseek-chat"),
        ("free", "nvidia/gpt-oss-120b"),
        ("  Sonnet ", "anthropic/claude-sonnet-4.6"),
    ],
)
def test_aliases(cat: Catalog, name: str, expected: str) -> None:
    assert cat.resolve_id(name) == expected
    assert cat.get(name).id == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai/gpt-5.5", "openai/gpt-5.5"),
        ("gpt-5.5", "openai/gpt-5.5"),
        ("GPT-4o-Mini", "openai/gpt-4o-mini"),
        ("claude-opus-4.7", "anthropic/claude-opus-4.7"),
        ("gpt-oss-120b", "nvidia/gpt-oss-120b"),
    ],
)
def test_full_and_bare_ids(cat: Catalog, name: str, expected: str) -> None:
    assert cat.resolve_id(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("openai/o1-mini", "openai/o4-mini"),
        ("o1-mini", "openai/o4-mini"),  # bare form of a retired id
        ("google/gemini-3-pro-preview", "google/gemini-3.1-pro"),
        ("nvidia/nemotron-3-nano-30b", "nvidia/nemotron-3-nano-omni-30b-a3b-reasoning"),
        ("nvidia/step-3.7-flash", "nvidia/nemotron-3.5-lightning"),
        ("free/gpt-oss-120b", "nvidia/gpt-oss-120b"),  # ClawRouter's free/ namespace
        ("free/step-3.7-flash", "nvidia/nemotron-3.5-lightning"),  # free/ then a redirect
        ("nvidia/kimi-k2.5", "moonshot/kimi-k2.5"),
        ("kimi-k2.5", "moonshot/kimi-k2.5"),  # the live model owns the bare name
    ],
)
def test_redirects(cat: Catalog, name: str, expected: str) -> None:
    assert cat.resolve_id(name) == expected


def test_exact_id_wins_over_an_alias_of_the_same_name() -> None:
    cat = Catalog([_model("a/x"), _model("mini")], aliases={"mini": "a/x"})
    assert cat.resolve_id("mini") == "mini"


def test_ambiguous_bare_id_is_not_guessed() -> None:
    cat = Catalog([_model("a/shared"), _model("b/shared"), _model("c/unique")])
    assert cat.resolve_id("unique") == "c/unique"
    with pytest.raises(ConfigurationError) as info:
        cat.resolve_id("shared")
    assert set(info.value.suggestions) == {"a/shared", "b/shared"}


def test_unknown_model_suggests_close_matches(cat: Catalog) -> None:
    with pytest.raises(UnknownModelError) as info:
        cat.get("gpt-5.55")
    error = info.value
    assert isinstance(error, ConfigurationError)
    assert isinstance(error, ValueError)
    assert error.message.startswith("Unknown model 'gpt-5.55'.")
    assert error.suggestions[0] == "openai/gpt-5.5"
    assert 1 <= len(error.suggestions) <= 3
    assert "Did you mean: openai/gpt-5.5" in str(error)
    assert not error.retryable


def test_unknown_full_id_suggests_full_ids(cat: Catalog) -> None:
    with pytest.raises(ConfigurationError) as info:
        cat.get("anthropic/claude-sonet-4.6")
    assert info.value.suggestions[0] == "anthropic/claude-sonnet-4.6"


def test_nonsense_gets_no_suggestions(cat: Catalog) -> None:
    with pytest.raises(ConfigurationError) as info:
        cat.get("qqqqqqqqqqqq")
    assert info.value.suggestions == ()
    assert str(info.value) == "Unknown model 'qqqqqqqqqqqq'."


def test_alias_to_a_missing_model_names_the_target() -> None:
    cat = Catalog([_model("a/x")], aliases={"fast": "a/y"})
    with pytest.raises(ConfigurationError, match=r"'fast' \(it points to 'a/y'") as info:
        cat.get("fast")
    assert info.value.suggestions == ("a/x",)


def test_alias_cycle_ends_in_an_error() -> None:
    cat = Catalog([_model("a/x")], aliases={"p": "q"}, redirects={"q": "p"})
    with pytest.raises(ConfigurationError):
        cat.resolve_id("p")


@pytest.mark.parametrize("bad", [None, 42, b"sonnet"])
def test_non_string_ids_are_refused(cat: Catalog, bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        cat.resolve_id(bad)
    assert bad not in cat


def test_container_protocol(cat: Catalog) -> None:
    assert "openai/gpt-5.5" in cat
    assert "sonnet" in cat
    assert "o1-mini" in cat
    assert "gpt-5.55" not in cat
    assert len(cat) == len(cat.models()) == len(list(cat))
    assert list(cat) == list(cat.models())
    assert "45 models" in repr(cat) or f"{len(cat)} models" in repr(cat)


def test_duplicate_ids_keep_the_first() -> None:
    cat = Catalog([_model("a/x", input_price=1.0), _model("A/X", input_price=9.0)])
    assert len(cat) == 1
    assert cat.get("a/x").input_price == 1.0


# --- capabilities ----------------------------------------------------------------------


def test_free_models(cat: Catalog) -> None:
    free = cat.free_models()
    assert all(m.is_free and m.billing_mode == "free" for m in free)
    assert "nvidia/gpt-oss-120b" in {m.id for m in free}
    assert not any(m.is_free for m in cat if m not in free)


@pytest.mark.parametrize("capability", ["tools", "vision", "reasoning", "structured_output"])
def test_with_capability(cat: Catalog, capability: str) -> None:
    having = cat.with_capability(capability)
    assert having
    assert len(having) < len(cat)
    attribute = f"supports_{capability}"
    assert all(getattr(m, attribute) for m in having)
    assert not any(getattr(m, attribute) for m in cat if m not in having)


def test_capability_facts(cat: Catalog) -> None:
    assert "openai/gpt-5.5-pro" not in {m.id for m in cat.with_capability("tools")}
    assert cat.get("sonnet").supports_vision
    assert cat.get("deepseek/deepseek-reasoner").supports_reasoning
    assert not cat.get("deepseek/deepseek-chat").supports_vision
    assert len(cat.with_capability("streaming")) == len(cat)
    coding = cat.with_capability("coding")  # a category, not a flag
    assert coding and all("coding" in m.categories for m in coding)
    assert cat.with_capability("telepathy") == ()


def test_model_info_validation() -> None:
    with pytest.raises(ValueError, match="billing mode"):
        _model("a/x", billing_mode="per_image")
    with pytest.raises(ValueError, match="flat_price"):
        _model("a/x", billing_mode="flat")
    assert _model("a/x", billing_mode="flat", flat_price=0.01).flat_price == 0.01
    model = _model("a/x")
    with pytest.raises(AttributeError):
        model.input_price = 0.0  # type: ignore[misc]
    assert hash(model) == hash(_model("a/x"))


# --- parsing /v1/models ------------------------------------------------------------------

DOCUMENTED_ROW = {
    "id": "openai/gpt-5.5",
    "object": "model",
    "created": 1700000000,
    "owned_by": "openai",
    "name": "GPT-5.5",
    "description": "...",
    "context_window": 1050000,
    "max_output": 128000,
    "categories": ["chat", "coding", "vision"],
    "billing_mode": "paid",
    "pricing": {"input": 5.00, "output": 30.00},
}


def test_snake_case_row_merges_the_override_table() -> None:
    cat = Catalog.from_models_response({"object": "list", "data": [DOCUMENTED_ROW]})
    assert cat.source == "live"
    model = cat.get("gpt-5.5")
    assert (model.input_price, model.output_price) == (5.0, 30.0)
    assert (model.context_window, model.max_output) == (1_050_000, 128_000)
    assert model.categories == ("chat", "coding", "vision")
    assert model.supports_vision
    # The API has no tool or structured-output flag: the bundled entry supplies them.
    assert model.supports_tools and model.supports_structured_output
    # ... and the bundled long-context rates, which the API does not publish.
    assert model.long_context_threshold == 272_000
    assert model.long_input_price == 10.0


def test_unknown_live_model_fails_closed_on_tools() -> None:
    row = {
        "id": "acme/new-1",
        "context_window": 64000,
        "max_output": 4096,
        "categories": ["chat", "reasoning", "vision"],
        "billing_mode": "paid",
        "pricing": {"input": "0.50", "output": "1.5"},
    }
    model = Catalog.from_models_response({"data": [row]}).get("acme/new-1")
    assert model.provider == "acme"
    assert model.name == "acme/new-1"
    assert (model.input_price, model.output_price) == (0.5, 1.5)
    assert model.supports_vision and model.supports_reasoning
    assert not model.supports_tools and not model.supports_structured_output
    assert model.supports_streaming
    assert model.long_context_threshold is None


def test_legacy_camel_case_rows() -> None:
    payload = {
        "data": [
            {
                "id": "acme/legacy",
                "name": "Legacy",
                "provider": "acme",
                "inputPrice": 1.5,
                "outputPrice": 3,
                "contextWindow": 32000,
                "maxOutput": 4096,
                "billingMode": "paid",
                "available": True,
                "hidden": False,
                "toolCalling": True,
            },
            {"id": "acme/flat", "flatPrice": 0.002, "billingMode": "flat"},
            {"id": "acme/zero", "inputPrice": 0, "outputPrice": 0},
            {"id": "acme/gone", "inputPrice": 1, "outputPrice": 1, "available": False},
            {"id": "acme/secret", "inputPrice": 1, "outputPrice": 1, "hidden": True},
        ]
    }
    cat = Catalog.from_models_response(payload)
    assert {m.id for m in cat} == {"acme/legacy", "acme/flat", "acme/zero"}
    legacy = cat.get("legacy")
    assert (legacy.input_price, legacy.output_price) == (1.5, 3.0)
    assert (legacy.context_window, legacy.max_output) == (32_000, 4_096)
    assert legacy.supports_tools
    assert legacy.categories == ("chat",)
    flat = cat.get("acme/flat")
    assert (flat.billing_mode, flat.flat_price) == ("flat", 0.002)
    assert cat.get("acme/zero").is_free


@pytest.mark.parametrize(
    "row",
    [
        {"id": "m/img", "categories": ["image"], "billing_mode": "per_image"},
        {"id": "m/video", "categories": ["video"], "pricing": {"input": 1, "output": 1}},
        {"id": "m/tts", "billing_mode": "per_second", "pricing": {"per_second": 0.1}},
        {"id": "m/neg", "pricing": {"input": -1, "output": 1}},
        {"id": "m/bool", "pricing": {"input": True, "output": 1}},
        {"id": "m/nan", "pricing": {"input": "nan", "output": 1}},
        {"id": "m/text", "pricing": {"input": "cheap", "output": 1}},
        {"id": "m/unpriced", "billing_mode": "paid"},
        {"id": "m/flatless", "billing_mode": "flat", "pricing": {"input": 1, "output": 1}},
        {"id": "m/cats", "categories": "chat", "pricing": {"input": 1, "output": 1}},
        {"id": "", "pricing": {"input": 1, "output": 1}},
        {"pricing": {"input": 1, "output": 1}},
        "not a row",
    ],
)
def test_unusable_rows_are_skipped(row: Any) -> None:
    good = {"id": "m/good", "pricing": {"input": 1, "output": 2}}
    cat = Catalog.from_models_response({"data": [row, good]})
    assert [m.id for m in cat] == ["m/good"]


def test_chat_models_with_media_categories_are_kept() -> None:
    row = {"id": "m/omni", "categories": ["chat", "audio"], "pricing": {"input": 1, "output": 1}}
    assert "m/omni" in Catalog.from_models_response({"data": [row]})


@pytest.mark.parametrize("payload", [{}, {"data": {}}, {"data": []}, "x", None, {"data": ["x"]}])
def test_payloads_without_chat_models_are_errors(payload: Any) -> None:
    with pytest.raises(ValueError, match="/v1/models payload"):
        Catalog.from_models_response(payload)


def test_a_bare_list_of_rows_is_accepted() -> None:
    assert len(Catalog.from_models_response([DOCUMENTED_ROW])) == 1


def test_refreshed_catalog_keeps_bundled_aliases_and_redirects() -> None:
    rows = [
        {"id": "anthropic/claude-sonnet-4.6", "pricing": {"input": 3, "output": 15}},
        {"id": "openai/o4-mini", "pricing": {"input": 1.1, "output": 4.4}},
    ]
    cat = Catalog.from_models_response({"data": rows}, aliases={"best": "openai/o4-mini"})
    assert cat.resolve_id("sonnet") == "anthropic/claude-sonnet-4.6"
    assert cat.resolve_id("openai/o1-mini") == "openai/o4-mini"
    assert cat.resolve_id("best") == "openai/o4-mini"
    with pytest.raises(ConfigurationError, match=r"it points to 'openai/gpt-5\.5'"):
        cat.get("gpt")  # the alias survives, its target is not in this catalog


def test_live_prices_win_and_long_rates_never_fall_below_them() -> None:
    row = {"id": "google/gemini-2.5-pro", "pricing": {"input": 3.0, "output": 12.0}}
    model = Catalog.from_models_response({"data": [row]}).get("google/gemini-2.5-pro")
    assert (model.input_price, model.output_price) == (3.0, 12.0)
    assert model.long_context_threshold == 200_000
    assert model.long_input_price == 3.0  # bundled 2.5 would be below the live rate
    assert model.long_output_price == 15.0


def test_explicit_long_context_pricing_is_read() -> None:
    rows = [
        {
            "id": "a/long",
            "pricing": {"input": 1, "output": 2, "long_context": {"threshold": 1000, "input": 2}},
        },
        {
            "id": "a/camel",
            "inputPrice": 1,
            "outputPrice": 2,
            "longContextThreshold": 500,
            "longInputPrice": 4,
            "longOutputPrice": 8,
        },
    ]
    cat = Catalog.from_models_response({"data": rows})
    first = cat.get("a/long")
    assert (first.long_context_threshold, first.long_input_price) == (1000, 2.0)
    assert first.long_output_price == 2.0  # missing long rate: the base rate
    second = cat.get("a/camel")
    assert (second.long_context_threshold, second.long_input_price) == (500, 4.0)
    assert second.long_output_price == 8.0


def test_round_trip_through_the_api_shape(cat: Catalog) -> None:
    again = Catalog.from_models_response(cat.to_models_response())
    assert again.models() == cat.models()
