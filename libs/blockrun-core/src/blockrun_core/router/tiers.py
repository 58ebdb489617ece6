"""Tier tables: for each routing profile and tier, a primary model and its fallback chain.

Every table is plain data. A chain is walked in order: the first model that can serve the
request is chosen, the rest are the client's fallbacks on transient failures. Chains mix
providers, so a single provider's outage or quota never empties one: consecutive rungs
come from different upstream families wherever the catalog allows.

Tables:

- ``auto``: balanced. Cheap, fast models for SIMPLE, mid-priced all-rounders for MEDIUM,
  frontier models for COMPLEX, cheap reasoning models for REASONING. A free model closes
  the SIMPLE and MEDIUM chains as a last resort.
- ``eco``: cheapest capable. Free models first, then the $0.001 flat model, then the
  cheapest per-token models. A free vision model keeps image requests free.
- ``premium``: best quality per tier, price second.
- ``free``: free models only (the bundled catalog has five; each chain holds all of them).
- ``agentic``: ``auto`` for requests that carry tools: models with dependable tool calling
  (no model that answers tool calls as plain text, such as gemini-2.5-flash-lite).
- ``eco-agentic``: ``eco`` for requests that carry tools: no free model calls tools, so it
  starts at the cheapest tool-capable ones.

``premium`` and ``free`` have no tools variant: premium chains already call tools (the
filters drop any rung that does not), and no free model calls tools.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .types import TIERS, Profile, Tier

__all__ = ["TABLES", "TierTable", "table_for"]


@dataclass(frozen=True, slots=True)
class TierTable:
    """One profile's chains: for each tier, the primary model then its fallbacks, in order."""

    name: str
    chains: Mapping[Tier, tuple[str, ...]]

    def chain(self, tier: Tier) -> tuple[str, ...]:
        """The primary and its fallbacks for ``tier``."""
        return self.chains[tier]

    def primary(self, tier: Tier) -> str:
        """The first choice for ``tier``."""
        return self.chains[tier][0]

    def fallbacks(self, tier: Tier) -> tuple[str, ...]:
        """The chain after the primary."""
        return self.chains[tier][1:]


def _table(name: str, **chains: tuple[str, ...]) -> TierTable:
    if tuple(chains) != TIERS:
        raise ValueError(f"table {name!r} must list the tiers {TIERS} in order")
    return TierTable(name, MappingProxyType(dict(zip(TIERS, chains.values(), strict=True))))


AUTO = _table(
    "auto",
    SIMPLE=(
        "google/gemini-2.5-flash",
        "deepseek/deepseek-chat",
        "openai/gpt-5.6-luna",
        "moonshot/kimi-k2.5",
        "zai/glm-5.3-flash",
        "openai/gpt-4o-mini",
        "google/gemini-2.5-flash-lite",
        "nvidia/nemotron-3.5-lightning",
    ),
    MEDIUM=(
        "moonshot/kimi-k2.7",
        "google/gemini-2.5-flash",
        "openai/gpt-5.4-mini",
        "deepseek/deepseek-chat",
        "qwen/qwen3.7-plus",
        "xai/grok-4.3",
        "minimax/minimax-m3",
        "nvidia/nemotron-3.5-lightning",
    ),
    COMPLEX=(
        "google/gemini-3.1-pro",
        "openai/gpt-5.6-terra",
        "anthropic/claude-sonnet-5",
        "xai/grok-4.5",
        "qwen/qwen3.7-max",
        "deepseek/deepseek-v4-pro",
        "google/gemini-2.5-pro",
        "anthropic/claude-sonnet-4.6",
    ),
    REASONING=(
        "xai/grok-4.3",
        "deepseek/deepseek-v4-pro",
        "openai/o4-mini",
        "google/gemini-3.5-flash",
        "qwen/qwen3.7-max",
        "zai/glm-5.2",
        "openai/o3",
        "deepseek/deepseek-reasoner",
    ),
)

ECO = _table(
    "eco",
    SIMPLE=(
        "nvidia/nemotron-3.5-lightning",
        "nvidia/gpt-oss-120b",
        "zai/glm-5.1",
        "nvidia/llama-3.2-11b-vision",
        "google/gemini-2.5-flash-lite",
        "deepseek/deepseek-chat",
        "openai/gpt-4o-mini",
        "zai/glm-5.3-flash",
    ),
    MEDIUM=(
        "nvidia/nemotron-3.5-lightning",
        "zai/glm-5.1",
        "deepseek/deepseek-chat",
        "google/gemini-2.5-flash-lite",
        "openai/gpt-5.6-luna",
        "qwen/qwen3.7-plus",
        "zai/glm-5.3-flash",
        "minimax/minimax-m3",
    ),
    COMPLEX=(
        "nvidia/nemotron-3.5-lightning",
        "zai/glm-5.1",
        "deepseek/deepseek-v4-pro",
        "qwen/qwen3.7-plus",
        "openai/gpt-5.6-luna",
        "minimax/minimax-m3",
        "google/gemini-2.5-flash",
    ),
    REASONING=(
        "nvidia/nemotron-3.5-lightning",
        "nvidia/gpt-oss-120b",
        "zai/glm-5.1",
        "deepseek/deepseek-reasoner",
        "qwen/qwen3.7-plus",
        "deepseek/deepseek-v4-pro",
        "minimax/minimax-m3",
        "moonshot/kimi-k2.5",
        "xai/grok-4.3",
    ),
)

PREMIUM = _table(
    "premium",
    SIMPLE=(
        "anthropic/claude-sonnet-4.6",
        "openai/gpt-5.6-terra",
        "google/gemini-3.5-flash",
        "moonshot/kimi-k2.7",
        "xai/grok-4.3",
        "anthropic/claude-haiku-4.5",
        "openai/gpt-5.4-mini",
    ),
    MEDIUM=(
        "anthropic/claude-sonnet-5",
        "openai/gpt-5.6-terra",
        "google/gemini-3.1-pro",
        "xai/grok-4.5",
        "moonshot/kimi-k3",
        "anthropic/claude-sonnet-4.6",
        "qwen/qwen3.7-max",
    ),
    COMPLEX=(
        "anthropic/claude-opus-5",
        "openai/gpt-5.5",
        "google/gemini-3.1-pro",
        "anthropic/claude-opus-4.7",
        "xai/grok-4.5",
        "moonshot/kimi-k3",
        "anthropic/claude-sonnet-5",
    ),
    REASONING=(
        "openai/gpt-5.5",
        "anthropic/claude-opus-5",
        "google/gemini-3.1-pro",
        "openai/o3",
        "xai/grok-4.5",
        "anthropic/claude-opus-4.7",
        "qwen/qwen3.7-max",
        "deepseek/deepseek-v4-pro",
    ),
)

FREE = _table(
    "free",
    SIMPLE=(
        "nvidia/nemotron-3-nano-omni-30b-a3b-reasoning",
        "nvidia/nemotron-3.5-lightning",
        "nvidia/gpt-oss-20b",
        "nvidia/gpt-oss-120b",
        "nvidia/llama-3.2-11b-vision",
    ),
    MEDIUM=(
        "nvidia/nemotron-3.5-lightning",
        "nvidia/gpt-oss-120b",
        "nvidia/nemotron-3-nano-omni-30b-a3b-reasoning",
        "nvidia/gpt-oss-20b",
        "nvidia/llama-3.2-11b-vision",
    ),
    COMPLEX=(
        "nvidia/nemotron-3.5-lightning",
        "nvidia/gpt-oss-120b",
        "nvidia/nemotron-3-nano-omni-30b-a3b-reasoning",
        "nvidia/llama-3.2-11b-vision",
        "nvidia/gpt-oss-20b",
    ),
    REASONING=(
        "nvidia/nemotron-3.5-lightning",
        "nvidia/gpt-oss-120b",
        "nvidia/nemotron-3-nano-omni-30b-a3b-reasoning",
        "nvidia/gpt-oss-20b",
        "nvidia/llama-3.2-11b-vision",
    ),
)

AGENTIC = _table(
    "agentic",
    SIMPLE=(
        "openai/gpt-4o-mini",
        "moonshot/kimi-k2.5",
        "anthropic/claude-haiku-4.5",
        "google/gemini-2.5-flash",
        "deepseek/deepseek-chat",
        "openai/gpt-5.6-luna",
        "qwen/qwen3.7-plus",
    ),
    MEDIUM=(
        "moonshot/kimi-k2.7",
        "anthropic/claude-haiku-4.5",
        "openai/gpt-5.4-mini",
        "google/gemini-2.5-flash",
        "deepseek/deepseek-chat",
        "xai/grok-4.3",
        "zai/glm-5.2",
    ),
    COMPLEX=(
        "anthropic/claude-sonnet-4.6",
        "openai/gpt-5.6-terra",
        "moonshot/kimi-k2.7",
        "google/gemini-3.5-flash",
        "xai/grok-4.5",
        "anthropic/claude-sonnet-5",
        "deepseek/deepseek-v4-pro",
        "zai/glm-5.2",
    ),
    REASONING=(
        "anthropic/claude-sonnet-4.6",
        "openai/gpt-5.6-terra",
        "xai/grok-4.3",
        "deepseek/deepseek-v4-pro",
        "anthropic/claude-sonnet-5",
        "qwen/qwen3.7-max",
        "openai/o4-mini",
    ),
)

ECO_AGENTIC = _table(
    "eco-agentic",
    SIMPLE=(
        "zai/glm-5.1",
        "openai/gpt-4o-mini",
        "deepseek/deepseek-chat",
        "qwen/qwen3.7-plus",
        "google/gemini-2.5-flash",
        "minimax/minimax-m3",
        "openai/gpt-5.6-luna",
    ),
    MEDIUM=(
        "zai/glm-5.1",
        "deepseek/deepseek-chat",
        "openai/gpt-5.6-luna",
        "qwen/qwen3.7-plus",
        "minimax/minimax-m3",
        "google/gemini-2.5-flash",
        "moonshot/kimi-k2.5",
    ),
    COMPLEX=(
        "zai/glm-5.1",
        "deepseek/deepseek-v4-pro",
        "qwen/qwen3.7-plus",
        "minimax/minimax-m3",
        "google/gemini-2.5-flash",
        "moonshot/kimi-k2.7",
        "openai/gpt-5.4-mini",
    ),
    REASONING=(
        "zai/glm-5.1",
        "deepseek/deepseek-v4-pro",
        "qwen/qwen3.7-plus",
        "minimax/minimax-m3",
        "deepseek/deepseek-reasoner",
        "moonshot/kimi-k2.5",
        "xai/grok-4.3",
        "openai/o4-mini",
    ),
)

TABLES: Mapping[str, TierTable] = MappingProxyType(
    {t.name: t for t in (AUTO, ECO, PREMIUM, FREE, AGENTIC, ECO_AGENTIC)}
)
"""Every tier table by name: the four profiles and their agentic variants."""

# (profile, request carries tools) -> table.
_BY_PROFILE: Mapping[tuple[Profile, bool], TierTable] = MappingProxyType(
    {
        ("auto", False): AUTO,
        ("auto", True): AGENTIC,
        ("eco", False): ECO,
        ("eco", True): ECO_AGENTIC,
        ("premium", False): PREMIUM,
        ("premium", True): PREMIUM,
        ("free", False): FREE,
        ("free", True): FREE,
    }
)


def table_for(profile: Profile, agentic: bool) -> TierTable:
    """The table a profile routes on; ``agentic`` when the request needs tool calls."""
    return _BY_PROFILE[(profile, agentic)]
