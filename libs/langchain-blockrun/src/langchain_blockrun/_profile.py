"""LangChain model profiles (capabilities, limits) from the core's model catalog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.language_models import ModelProfile

if TYPE_CHECKING:
    from blockrun_core.catalog import ModelInfo

__all__ = ["model_profile"]


def model_profile(model: str) -> ModelProfile | None:
    """The profile of a model id or routing profile; None for an unknown id."""
    from blockrun_core.catalog import default_catalog
    from blockrun_core.router.types import resolve_profile

    catalog = default_catalog()
    profile = resolve_profile(model)
    if profile is not None:
        return _routed_profile(catalog.free_models() if profile == "free" else catalog.models())
    if model not in catalog:
        return None
    info = catalog.get(model)
    return ModelProfile(
        max_input_tokens=info.context_window,
        max_output_tokens=info.max_output,
        text_inputs=True,
        text_outputs=True,
        image_inputs=info.supports_vision,
        image_url_inputs=info.supports_vision,
        reasoning_output=info.supports_reasoning,
        tool_calling=info.supports_tools,
        tool_choice=info.supports_tools,
        tool_call_streaming=info.supports_tools and info.supports_streaming,
        structured_output=info.supports_structured_output,
    )


def _routed_profile(models: Sequence[ModelInfo]) -> ModelProfile:
    """What a routing profile can do: what any of its models can (routing picks one that
    can serve each request). Limits depend on the model chosen per call, so none is set."""
    tools = any(m.supports_tools for m in models)
    vision = any(m.supports_vision for m in models)
    return ModelProfile(
        text_inputs=True,
        text_outputs=True,
        image_inputs=vision,
        image_url_inputs=vision,
        reasoning_output=any(m.supports_reasoning for m in models),
        tool_calling=tools,
        tool_choice=tools,
        tool_call_streaming=tools,
        structured_output=any(m.supports_structured_output for m in models),
    )
