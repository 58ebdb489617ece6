"""Which budget, run, thread and agent a call belongs to, read from LangChain's run config.

``config={"configurable": {"blockrun_budget": budget}}`` sets the budget of a call (and of
everything a graph or agent runs inside it); ``thread_id`` comes from the configurable or
metadata (LangGraph), the agent from ``blockrun_agent_id`` or ``create_agent``'s name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig, ensure_config

__all__ = ["BUDGET_KEY", "SCOPE_KWARG", "scope_from_config"]

BUDGET_KEY = "blockrun_budget"
SCOPE_KWARG = "blockrun_scope"

# Where each id may be found, most explicit first: (section of the config, key); the
# section "" is the config itself (its run_id names the call it is given to).
_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "run_id": (
        ("configurable", "blockrun_run_id"),
        ("metadata", "blockrun_run_id"),
        ("", "run_id"),
    ),
    "thread_id": (("configurable", "thread_id"), ("metadata", "thread_id")),
    "agent_id": (
        ("configurable", "blockrun_agent_id"),
        ("metadata", "blockrun_agent_id"),
        ("metadata", "lc_agent_name"),
    ),
}


def _first_id(config: Mapping[str, Any], sources: tuple[tuple[str, str], ...]) -> str | None:
    for section, key in sources:
        value = (config.get(section) or {} if section else config).get(key)
        if value is not None and value != "":
            return str(value)
    return None


def scope_from_config(config: RunnableConfig | None) -> dict[str, Any]:
    """The budget and ids set for a call by ``config`` (or the enclosing run), if any."""
    merged = ensure_config(config)
    scope: dict[str, Any] = {}
    budget = (merged.get("configurable") or {}).get(BUDGET_KEY)
    if budget is not None:
        scope["budget"] = budget
    for name, sources in _SOURCES.items():
        value = _first_id(merged, sources)
        if value is not None:
            scope[name] = value
    return scope
