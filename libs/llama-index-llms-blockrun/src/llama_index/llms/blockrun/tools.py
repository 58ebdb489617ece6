"""Tool calling: request parameters from LlamaIndex tools, tool selections from answers."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from blockrun_core.errors import ConfigurationError
from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["force_single_tool_call", "tool_params", "tool_selections"]

_CHOICE_KEYWORDS = frozenset({"auto", "none", "required"})


def tool_params(
    tools: Sequence[BaseTool],
    *,
    tool_required: bool,
    tool_choice: str | Mapping[str, Any] | None,
    strict: bool,
    allow_parallel_tool_calls: bool,
) -> dict[str, Any]:
    """``tools``, ``tool_choice`` and ``parallel_tool_calls`` for the request body.

    ``tool_choice`` is ``"auto"``, ``"none"``, ``"required"``, a tool's name or an OpenAI
    dict; unset, it is ``"required"`` when ``tool_required`` else ``"auto"``. A name that
    is not among ``tools`` is refused here, before anything is sent or paid.
    """
    if not tools:
        return {}
    specs = [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]
    if strict:
        for spec in specs:
            spec["function"]["strict"] = True
            spec["function"]["parameters"]["additionalProperties"] = False
    names = [spec["function"]["name"] for spec in specs]
    return {
        "tools": specs,
        "tool_choice": _choice(tool_choice, tool_required, names),
        "parallel_tool_calls": allow_parallel_tool_calls,
    }


def _choice(
    choice: str | Mapping[str, Any] | None, required: bool, names: list[str]
) -> str | dict[str, Any]:
    if choice is None:
        return "required" if required else "auto"
    if isinstance(choice, Mapping):
        return dict(choice)
    if choice in _CHOICE_KEYWORDS:
        return choice
    if choice not in names:
        raise ConfigurationError(
            f"tool_choice {choice!r} names no tool offered; the tools are: {', '.join(names)}."
        )
    return {"type": "function", "function": {"name": choice}}


def tool_selections(response: ChatResponse, *, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls of ``response``, arguments parsed.

    A response still streaming (``finish_reason`` None) may hold half-written arguments:
    they are read leniently, as far as they go. Complete arguments that are not a JSON
    object raise ``ValueError`` naming the tool and the text the model sent.
    """
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if not blocks:
        blocks = [
            _legacy_block(c) for c in response.message.additional_kwargs.get("tool_calls", ())
        ]
    if not blocks:
        if error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but the model made none.")
        return []
    partial = "finish_reason" in response.additional_kwargs and (
        response.additional_kwargs["finish_reason"] is None
    )
    return [
        ToolSelection(
            tool_id=block.tool_call_id or "",
            tool_name=block.tool_name,
            tool_kwargs=_arguments(block, partial=partial),
        )
        for block in blocks
    ]


def _arguments(block: ToolCallBlock, *, partial: bool) -> dict[str, Any]:
    arguments = block.tool_kwargs
    if isinstance(arguments, dict):
        return arguments
    if not arguments.strip():
        return {}
    if partial:
        try:
            value = parse_partial_json(arguments)
        except (ValueError, TypeError):
            return {}
        return value if isinstance(value, dict) else {}
    try:
        value = json.loads(arguments)
    except ValueError as exc:
        raise ValueError(
            f"The model called tool {block.tool_name!r} with arguments that are not valid "
            f"JSON ({exc.args[0]}): {arguments[:200]!r}"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f"The model called tool {block.tool_name!r} with arguments that are not a JSON "
            f"object: {arguments[:200]!r}"
        )
    return value


def _legacy_block(call: Any) -> ToolCallBlock:
    """A ``ToolCallBlock`` from an OpenAI tool call kept in ``additional_kwargs``."""
    plain = call.model_dump() if hasattr(call, "model_dump") else call
    if not isinstance(plain, Mapping) or not isinstance(plain.get("function"), Mapping):
        raise ValueError(f"Unreadable tool call in additional_kwargs: {call!r}")
    function = plain["function"]
    return ToolCallBlock(
        tool_call_id=plain.get("id"),
        tool_name=function.get("name") or "",
        tool_kwargs=function.get("arguments") or {},
    )


def force_single_tool_call(response: ChatResponse) -> None:
    """Keep only the first tool call (when parallel calls were not allowed)."""
    blocks = response.message.blocks
    calls = [b for b in blocks if isinstance(b, ToolCallBlock)]
    if len(calls) > 1:
        response.message.blocks = [b for b in blocks if not isinstance(b, ToolCallBlock)]
        response.message.blocks.append(calls[0])
