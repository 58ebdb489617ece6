"""Tools and structured output: LangChain's forms to OpenAI's, and the output parsers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

__all__ = ["StructuredMethod", "format_tool_choice", "format_tools", "structured_output"]

StructuredMethod = Literal["function_calling", "json_schema", "json_mode"]
ToolLike = Mapping[str, Any] | type | Callable[..., Any] | BaseTool


def format_tools(tools: Sequence[ToolLike], *, strict: bool | None) -> list[dict[str, Any]]:
    """OpenAI ``{"type": "function", "function": {...}}`` dicts for any LangChain tool form."""
    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def format_tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]]) -> Any:
    """OpenAI's ``tool_choice`` for LangChain's forms; None means "do not send".

    ``"any"``, ``"required"`` and ``True`` force some tool; a tool's name (or a dict
    naming it) forces that tool; ``"auto"`` and ``"none"`` pass through.
    """
    if choice is None or choice is False:
        return None
    if choice is True or choice in ("any", "required"):
        return "required"
    if choice in ("auto", "none"):
        return choice
    names = [tool["function"]["name"] for tool in tools if "function" in tool]
    if isinstance(choice, str):
        _check_named(choice, names)
        return {"type": "function", "function": {"name": choice}}
    if isinstance(choice, Mapping):
        function = choice.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            _check_named(function["name"], names)
        return dict(choice)
    raise ValueError(
        f"Unsupported tool_choice {choice!r}: use 'auto', 'none', 'any', a tool name or a dict."
    )


def _check_named(name: str, names: Sequence[str]) -> None:
    if name not in names:
        raise ValueError(f"tool_choice names {name!r}, which is not a bound tool: {names}.")


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def _json_schema_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    spec = convert_to_json_schema(schema)
    json_schema: dict[str, Any] = {"name": spec.get("title", "output"), "schema": spec}
    if spec.get("description"):
        json_schema["description"] = spec["description"]
    if strict is not None:
        json_schema["strict"] = strict
    return {"type": "json_schema", "json_schema": json_schema}


def structured_output(
    model: Any,
    schema: Mapping[str, Any] | type | None,
    *,
    method: StructuredMethod,
    include_raw: bool,
    strict: bool | None,
) -> Runnable[LanguageModelInput, Any]:
    """The runnable behind ``ChatBlockRun.with_structured_output``."""
    if schema is None and method != "json_mode":
        raise ValueError(f"method={method!r} needs a schema; only 'json_mode' works without one.")
    pydantic = _is_pydantic(schema)
    # What tracing shows as the structured-output format (core pops it before the call).
    trace = (
        {
            "ls_structured_output_format": {
                "kwargs": {"method": method, "strict": strict},
                "schema": schema,
            }
        }
        if schema is not None
        else {}
    )
    llm: Runnable[LanguageModelInput, AIMessage]
    parser: Runnable[Any, Any]
    if method == "function_calling":
        tool = convert_to_openai_tool(schema, strict=strict)  # type: ignore[arg-type]
        name = tool["function"]["name"]
        llm = model.bind_tools(
            [tool],
            tool_choice=name,
            parallel_tool_calls=False,
            strict=strict,
            **trace,
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
            if pydantic
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    elif method in ("json_schema", "json_mode"):
        response_format = (
            _json_schema_format(schema, strict)
            if method == "json_schema"
            else {"type": "json_object"}
        )
        llm = model.bind(response_format=response_format, **trace)
        parser = (
            PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
            if pydantic
            else JsonOutputParser()
        )
    else:
        raise ValueError(
            f"Unknown method {method!r}: use 'function_calling', 'json_schema' or 'json_mode'."
        )
    if not include_raw:
        return llm | parser
    parsed = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")
