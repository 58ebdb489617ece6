"""The tier tables: valid ids, long diverse chains, capability coverage, free means free."""

from __future__ import annotations

import itertools

import pytest
from blockrun_core.catalog import default_catalog
from blockrun_core.router.tiers import TABLES, TierTable, table_for
from blockrun_core.router.types import PROFILES, TIERS, Tier

CAT = default_catalog()
FREE_IDS = {m.id for m in CAT.free_models()}
Link = tuple[TierTable, Tier, tuple[str, ...]]
CHAINS = [(table, tier) for table in TABLES.values() for tier in TIERS]


PAID_CHAINS = [(table, tier) for table, tier in CHAINS if table.name != "free"]


def _link(request: pytest.FixtureRequest) -> Link:
    table, tier = request.param
    return table, tier, table.chain(tier)


@pytest.fixture(params=CHAINS, ids=lambda p: f"{p[0].name}-{p[1]}")
def chain(request: pytest.FixtureRequest) -> Link:
    return _link(request)


@pytest.fixture(params=PAID_CHAINS, ids=lambda p: f"{p[0].name}-{p[1]}")
def paid_chain(request: pytest.FixtureRequest) -> Link:
    """Chains of every table but ``free`` (whose five models share one provider)."""
    return _link(request)


def test_the_tables_cover_every_profile_and_tier() -> None:
    assert set(TABLES) == {"auto", "eco", "premium", "free", "agentic", "eco-agentic"}
    for table in TABLES.values():
        assert tuple(table.chains) == TIERS


def test_every_id_is_a_catalog_id(chain: Link) -> None:
    _, _, ids = chain
    for model_id in ids:
        assert model_id in CAT, model_id
        assert CAT.get(model_id).id == model_id, f"{model_id} is an alias, not a catalog id"


def test_every_chain_has_a_primary_and_at_least_five_distinct_fallbacks(
    chain: Link,
) -> None:
    table, tier, ids = chain
    assert len(set(ids)) == len(ids), f"duplicates in {table.name} {tier}"
    assert table.primary(tier) == ids[0]
    assert table.fallbacks(tier) == ids[1:]
    if table.name == "free":
        # The catalog sells five free models: a free chain holds every one of them.
        assert set(ids) == FREE_IDS
        assert len(ids) >= min(6, len(FREE_IDS))
    else:
        assert len(ids) >= 6


def test_the_free_table_only_has_free_models() -> None:
    for tier in TIERS:
        for model_id in TABLES["free"].chain(tier):
            assert CAT.get(model_id).is_free, model_id


def test_paid_chains_mix_providers(paid_chain: Link) -> None:
    table, tier, ids = paid_chain
    providers = [CAT.get(i).provider for i in ids]
    assert len(set(providers)) >= 4, (table.name, tier, providers)
    for a, b in itertools.pairwise(ids):
        same = CAT.get(a).provider == CAT.get(b).provider
        # Free models come first in eco and all come from one provider; that is the price.
        assert not same or (a in FREE_IDS and b in FREE_IDS), (table.name, tier, a, b)


def test_paid_chains_can_serve_images_json_and_long_inputs(paid_chain: Link) -> None:
    table, tier, ids = paid_chain
    models = [CAT.get(i) for i in ids]
    assert sum(m.supports_vision for m in models) >= 2, (table.name, tier)
    assert sum(m.supports_structured_output for m in models) >= 2, (table.name, tier)
    assert sum(m.supports_tools for m in models) >= 4, (table.name, tier)
    assert any(m.context_window >= 400_000 for m in models), (table.name, tier)


@pytest.mark.parametrize("name", ["agentic", "eco-agentic"])
def test_agentic_tables_only_hold_tool_callers(name: str) -> None:
    for tier in TIERS:
        for model_id in TABLES[name].chain(tier):
            assert CAT.get(model_id).supports_tools, (name, tier, model_id)


def test_eco_puts_free_models_first_and_premium_puts_the_best_first() -> None:
    for tier in TIERS:
        assert CAT.get(TABLES["eco"].primary(tier)).is_free
        assert not CAT.get(TABLES["premium"].primary(tier)).is_free
    assert TABLES["premium"].primary("COMPLEX") == "anthropic/claude-opus-5"


def test_table_for_each_profile() -> None:
    expected = {
        ("auto", False): "auto",
        ("auto", True): "agentic",
        ("eco", False): "eco",
        ("eco", True): "eco-agentic",
        ("premium", False): "premium",
        ("premium", True): "premium",
        ("free", False): "free",
        ("free", True): "free",
    }
    assert {(p, a): table_for(p, a).name for p in PROFILES for a in (False, True)} == expected


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        TABLES["auto"].chains["SIMPLE"] = ("openai/gpt-4o",)  # type: ignore[index]
    with pytest.raises(TypeError):
        TABLES["x"] = TABLES["auto"]  # type: ignore[index]
