"""Capability filters: drop the models that cannot serve a request, and say why.

A request may need tool calling, vision, structured output, and a context window that
holds its input plus its output with a 10% safety margin (the output is ``max_tokens``
clamped to the model's ``max_output``, as the gateway clamps it). A :class:`Chain` is a
tier's models prepared once; :func:`select` filters one, extends it from a fallback pool
when nothing in it is capable, and raises :class:`NoCapableModelError` when nothing is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import NamedTuple

from blockrun_core.catalog import ModelInfo
from blockrun_core.errors import NoCapableModelError

__all__ = [
    "CONTEXT_MARGIN_PERCENT",
    "MAX_EXTENDED_CANDIDATES",
    "Chain",
    "Needs",
    "no_capable_model",
    "select",
    "unmet_need",
]

#: The context window must hold input + output plus this many percent.
CONTEXT_MARGIN_PERCENT = 10
#: When a chain is extended from its fallback pool, at most this many candidates are kept.
MAX_EXTENDED_CANDIDATES = 8
_NAMES_PER_REASON = 8  # longer lists are cut to "... and N more" in error messages

NEEDS_TOOLS = "needs tool calling"
NEEDS_VISION = "needs vision"
NEEDS_STRUCTURED_OUTPUT = "needs structured output"


class Needs(NamedTuple):
    """What a request requires of a model. ``input_tokens`` is the context estimate."""

    tools: bool = False
    vision: bool = False
    structured_output: bool = False
    input_tokens: int = 0
    max_tokens: int = 0


def unmet_need(model: ModelInfo, needs: Needs) -> str | None:
    """The first requirement ``model`` fails, as a reason (``"needs vision"``), or None."""
    if needs.tools and not model.supports_tools:
        return NEEDS_TOOLS
    if needs.vision and not model.supports_vision:
        return NEEDS_VISION
    if needs.structured_output and not model.supports_structured_output:
        return NEEDS_STRUCTURED_OUTPUT
    required = _context_required(needs.input_tokens, min(needs.max_tokens, model.max_output))
    if required > model.context_window:
        return f"needs {_tokens(required)} context"
    return None


class Chain:
    """Models prepared for filtering: their ids, and what all of them support.

    The summary flags let :meth:`split` return the whole chain without looking at each
    model when the request needs nothing it lacks, which is the common case.
    """

    __slots__ = (
        "ids",
        "max_request",
        "min_context",
        "models",
        "structured_output",
        "tools",
        "vision",
    )

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        seen: dict[str, ModelInfo] = {}
        for model in models:
            seen.setdefault(model.id, model)
        self.models: tuple[ModelInfo, ...] = tuple(seen.values())
        self.ids: tuple[str, ...] = tuple(seen)
        self.min_context = min((m.context_window for m in self.models), default=0)
        # The most input + output tokens every model's context holds with the margin:
        # _context_required(tokens, 0) <= min_context exactly when tokens <= this.
        self.max_request = self.min_context * 100 // (100 + CONTEXT_MARGIN_PERCENT)
        self.tools = all(m.supports_tools for m in self.models)
        self.vision = all(m.supports_vision for m in self.models)
        self.structured_output = all(m.supports_structured_output for m in self.models)

    def split(self, needs: Needs) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """The ids that can serve ``needs``, in order, and ``(id, reason)`` for the rest."""
        tools, vision, structured_output, input_tokens, max_tokens = needs
        if (
            input_tokens + max_tokens <= self.max_request
            and (not tools or self.tools)
            and (not vision or self.vision)
            and (not structured_output or self.structured_output)
        ):
            return self.ids, ()
        kept: list[str] = []
        dropped: list[tuple[str, str]] = []
        for model in self.models:
            reason = unmet_need(model, needs)
            if reason is None:
                kept.append(model.id)
            else:
                dropped.append((model.id, reason))
        return tuple(kept), tuple(dropped)

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"Chain({list(self.ids)!r})"


def select(
    chain: Chain,
    pool: Chain,
    needs: Needs,
    exclude: Collection[str] | None = None,
    profile: str = "auto",
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Candidates for a request, in order, and the ``(id, reason)`` pairs filtered out.

    ``chain`` is the tier's chain; ``pool`` what it is extended with, in order, when no
    model of the chain is capable (or all capable ones are excluded): the first
    ``MAX_EXTENDED_CANDIDATES`` capable models of it, and the pool models examined up to
    there join the filtered-out pairs. ``exclude`` (models in cooldown)
    is a preference: when it would leave no candidate it is ignored, since trying a
    cooling model beats failing. Raises :class:`NoCapableModelError` when neither the
    chain nor the pool has a capable model.
    """
    kept, dropped = chain.split(needs)
    preferred = tuple(m for m in kept if m not in exclude) if exclude else kept
    if preferred:
        return preferred, dropped

    extra: list[str] = []
    cooling = list(kept)  # capable, but excluded by the caller
    pool_dropped: list[tuple[str, str]] = []
    for model in pool.models:
        reason = unmet_need(model, needs)
        if reason is not None:
            pool_dropped.append((model.id, reason))
        elif exclude and model.id in exclude:
            cooling.append(model.id)
        else:
            extra.append(model.id)
            if len(extra) == MAX_EXTENDED_CANDIDATES:
                break
    dropped += tuple(pool_dropped)
    if extra:
        return tuple(extra), dropped
    if cooling:
        return tuple(cooling[:MAX_EXTENDED_CANDIDATES]), dropped
    raise no_capable_model(profile, dropped)


def no_capable_model(profile: str, eliminated: Sequence[tuple[str, str]]) -> NoCapableModelError:
    """The error for a request no model can serve, grouping the eliminated by reason."""
    by_reason: dict[str, list[str]] = {}
    for model, reason in eliminated:
        by_reason.setdefault(reason, []).append(model)
    if by_reason:
        detail = ", ".join(f"{reason} ({_dropped(models)})" for reason, models in by_reason.items())
    else:
        detail = "the catalog lists none of its models"
    return NoCapableModelError(
        f"No model of profile {profile!r} can serve this request: {detail}.",
        eliminated=eliminated,
    )


def _dropped(models: list[str]) -> str:
    shown = ", ".join(models[:_NAMES_PER_REASON])
    more = len(models) - _NAMES_PER_REASON
    return f"dropped {shown}" + (f" and {more} more" if more > 0 else "")


def _context_required(input_tokens: int, output_tokens: int) -> int:
    """Tokens of context a request needs, margin included (integer math: no float noise)."""
    return -(-(input_tokens + output_tokens) * (100 + CONTEXT_MARGIN_PERCENT) // 100)


def _tokens(count: int) -> str:
    """A token count for people: 950, 141k, 1.2M (rounded up, so never understated)."""
    if count < 1_000:
        return str(count)
    if count < 1_000_000:
        return f"{-(-count // 1_000)}k"
    return f"{-(-count // 100_000) / 10:g}M"
