"""Structured output through ``response_format``: the JSON schema of a pydantic class."""

from __future__ import annotations

import re
from typing import Any

from llama_index.core.bridge.pydantic import BaseModel

__all__ = ["response_format_for"]

_NAME_RE = re.compile(r"[^a-zA-Z0-9_-]")


def response_format_for(output_cls: type[BaseModel]) -> dict[str, Any]:
    """An OpenAI ``json_schema`` response format asking for an ``output_cls`` object."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": _NAME_RE.sub("_", output_cls.__name__)[:64],
            "schema": output_cls.model_json_schema(),
        },
    }
