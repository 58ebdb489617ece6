"""What the catalog says a model (or a routing profile) can do, for ``LLMMetadata``."""

from __future__ import annotations

from dataclasses import dataclass

from blockrun_core.catalog import Catalog, default_catalog
from blockrun_core.router.types import resolve_profile

__all__ = ["ModelTraits", "traits_for"]


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """The limits and capabilities LlamaIndex needs to size prompts and pick programs."""

    model_name: str
    context_window: int
    max_output: int
    tools: bool
    structured_output: bool


def traits_for(model: str, catalog: Catalog | None = None) -> ModelTraits:
    """Traits of a concrete model or alias, or of a routing profile (``auto``, ``eco``...).

    A profile reports what its best-equipped model offers: the router keeps only the
    candidates that fit the request (window, tools, structured output), so any prompt
    within the reported window has a model to serve it. Raises ``ConfigurationError``
    (with close matches) for an unknown model.
    """
    catalog = catalog or default_catalog()
    profile = resolve_profile(model)
    if profile is None:
        info = catalog.get(model)
        return ModelTraits(
            model_name=info.id,
            context_window=info.context_window,
            max_output=info.max_output,
            tools=info.supports_tools,
            structured_output=info.supports_structured_output,
        )
    models = catalog.free_models() if profile == "free" else catalog.models()
    return ModelTraits(
        model_name=f"blockrun/{profile}",
        context_window=max(m.context_window for m in models),
        max_output=max(m.max_output for m in models),
        tools=any(m.supports_tools for m in models),
        structured_output=any(m.supports_structured_output for m in models),
    )
