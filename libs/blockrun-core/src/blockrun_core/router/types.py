"""The router's vocabulary: tiers, profiles, what it reads of a request, what it decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "PROFILES",
    "TIERS",
    "Classification",
    "Profile",
    "RouteRequest",
    "RoutingDecision",
    "Tier",
    "resolve_profile",
]

Tier = Literal["SIMPLE", "MEDIUM", "COMPLEX", "REASONING"]
"""How hard a request is, as the classifier judges it; each profile maps a tier to models."""
TIERS: tuple[Tier, ...] = ("SIMPLE", "MEDIUM", "COMPLEX", "REASONING")
"""Every tier, easiest first."""

Profile = Literal["auto", "eco", "premium", "free"]
"""A routing profile: balanced (``auto``), cheapest (``eco``), best (``premium``) or free only."""
PROFILES: tuple[Profile, ...] = ("auto", "eco", "premium", "free")
"""Every routing profile."""
_PROFILE_IDS: dict[str, Profile] = {
    **{p: p for p in PROFILES},
    **{f"blockrun/{p}": p for p in PROFILES},
}


def resolve_profile(model: str) -> Profile | None:
    """The routing profile a model id names (``auto``, ``blockrun/eco``, ...), or None."""
    return _PROFILE_IDS.get(model.strip().lower())


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What the router reads of a chat request."""

    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[Mapping[str, Any]] | None = None
    tool_choice: Any = None
    response_format: Mapping[str, Any] | None = None
    max_tokens: int = 1024


@dataclass(frozen=True, slots=True)
class Classification:
    """A request's tier, how sure the classifier is (0..1), and why, in plain words."""

    tier: Tier
    confidence: float
    signals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Which model serves a request, the ordered chain behind it, and why.

    ``candidates`` starts with ``model``; the client walks it on transient failures.
    ``savings`` is the fraction saved against ``baseline_cost_usd`` (the premium
    baseline model for the same request). ``excluded`` lists models the capability
    filters dropped, with the requirement each one failed. ``downgraded_by`` names the
    graceful budget that moved the call to a cheaper model (``None`` when none did).
    """

    model: str
    tier: Tier
    profile: Profile
    confidence: float
    signals: tuple[str, ...]
    candidates: tuple[str, ...]
    estimated_cost_usd: float
    baseline_cost_usd: float
    savings: float
    agentic: bool = False
    excluded: tuple[tuple[str, str], ...] = field(default=())
    downgraded_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (used by ``blockrun route --json`` and the adapters' metadata)."""
        return {
            "model": self.model,
            "tier": self.tier,
            "profile": self.profile,
            "confidence": round(self.confidence, 3),
            "signals": list(self.signals),
            "candidates": list(self.candidates),
            "estimated_cost_usd": self.estimated_cost_usd,
            "baseline_cost_usd": self.baseline_cost_usd,
            "savings": round(self.savings, 4),
            "agentic": self.agentic,
            "excluded": [list(pair) for pair in self.excluded],
            "downgraded_by": self.downgraded_by,
        }


class _Draft:
    """A RoutingDecision under construction: the same slots, without the frozen
    ``__setattr__``. The frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``; route() builds a decision per call, so it fills a draft with
    plain attribute stores instead and then retypes it (CPython allows assigning
    ``__class__`` between classes with the same slots), about three times faster."""

    __slots__ = tuple(f.name for f in fields(RoutingDecision))

    def __init__(
        self,
        model: str,
        tier: Tier,
        profile: Profile,
        confidence: float,
        signals: tuple[str, ...],
        candidates: tuple[str, ...],
        estimated_cost_usd: float,
        baseline_cost_usd: float,
        savings: float,
        agentic: bool,
        excluded: tuple[tuple[str, str], ...],
        downgraded_by: str | None = None,
    ) -> None:
        self.model = model
        self.tier = tier
        self.profile = profile
        self.confidence = confidence
        self.signals = signals
        self.candidates = candidates
        self.estimated_cost_usd = estimated_cost_usd
        self.baseline_cost_usd = baseline_cost_usd
        self.savings = savings
        self.agentic = agentic
        self.excluded = excluded
        self.downgraded_by = downgraded_by


def _decision(
    model: str,
    tier: Tier,
    profile: Profile,
    confidence: float,
    signals: tuple[str, ...],
    candidates: tuple[str, ...],
    estimated_cost_usd: float,
    baseline_cost_usd: float,
    savings: float,
    agentic: bool,
    excluded: tuple[tuple[str, str], ...],
) -> RoutingDecision:
    """``RoutingDecision(...)`` with every field given, in order (no defaults applied)."""
    draft = _Draft(
        model,
        tier,
        profile,
        confidence,
        signals,
        candidates,
        estimated_cost_usd,
        baseline_cost_usd,
        savings,
        agentic,
        excluded,
    )
    draft.__class__ = RoutingDecision  # type: ignore[assignment]
    return draft  # type: ignore[return-value]
