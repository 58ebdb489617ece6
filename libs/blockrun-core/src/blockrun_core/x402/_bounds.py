"""Limits on untrusted JSON, so a hostile server cannot make parsing blow up."""

from __future__ import annotations

from typing import Any

from blockrun_core._json import JSONDepthError, loads_untrusted

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "MAX_JSON_NODES", "loads_bounded", "within_bounds"]

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
MAX_JSON_NODES = 20_000


def within_bounds(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether decoded JSON nests at most ``max_depth`` deep and has few enough nodes."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES or depth > max_depth:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return True


def loads_bounded(data: str | bytes) -> Any:
    """``json.loads`` with a size, depth and node limit; ``ValueError`` on anything else."""
    if len(data) > MAX_BODY_BYTES:
        raise ValueError("JSON document is too large")
    try:
        value = loads_untrusted(data)
    except JSONDepthError as exc:
        raise ValueError("JSON document nests too deeply or is too large") from exc
    except ValueError as exc:
        raise ValueError("not valid JSON") from exc
    if not within_bounds(value):
        raise ValueError("JSON document nests too deeply or is too large")
    return value
