"""The local router: classify a chat request, pick a capable model and its fallback chain.

``route(messages, profile="auto")`` returns a :class:`RoutingDecision`: the model, the
ordered candidates the client walks on transient failures, the tier and why, and the
estimated cost against the premium baseline. Pure and deterministic; no I/O.

The classifier compiles its patterns on import, so everything but the small vocabulary
in :mod:`.types` loads on first use: a client that never routes never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blockrun_core._lazy import lazy_exports

from .types import (
    PROFILES,
    TIERS,
    Classification,
    Profile,
    RouteRequest,
    RoutingDecision,
    Tier,
    resolve_profile,
)

if TYPE_CHECKING:
    from .classifier import classify
    from .decide import BASELINE_MODEL, Features, measure, route
    from .filters import Needs, unmet_need
    from .tiers import TABLES, TierTable, table_for

__all__ = [
    "BASELINE_MODEL",
    "PROFILES",
    "TABLES",
    "TIERS",
    "Classification",
    "Features",
    "Needs",
    "Profile",
    "RouteRequest",
    "RoutingDecision",
    "Tier",
    "TierTable",
    "classify",
    "measure",
    "resolve_profile",
    "route",
    "table_for",
    "unmet_need",
]

_LAZY = {
    "classify": "classifier",
    "BASELINE_MODEL": "decide",
    "Features": "decide",
    "measure": "decide",
    "route": "decide",
    "Needs": "filters",
    "unmet_need": "filters",
    "TABLES": "tiers",
    "TierTable": "tiers",
    "table_for": "tiers",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
