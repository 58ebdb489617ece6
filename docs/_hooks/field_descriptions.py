"""Griffe extension: a pydantic ``Field(description=...)`` documents its attribute.

LlamaIndex models describe their fields that way rather than with attribute docstrings;
without this the reference would list none of ``BlockRunLLM``'s settings.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe


class FieldDescriptions(griffe.Extension):
    """Use a field's ``description`` as its docstring when it has none."""

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, **_: Any
    ) -> None:
        """Read ``description="..."`` from ``name: type = Field(...)``."""
        if attr.docstring or not isinstance(node, ast.AnnAssign):
            return
        call = node.value
        if not (isinstance(call, ast.Call) and _name(call.func) == "Field"):
            return
        for keyword in call.keywords:
            value = keyword.value
            described = isinstance(value, ast.Constant) and isinstance(value.value, str)
            if keyword.arg == "description" and described:
                attr.docstring = griffe.Docstring(str(value.value), lineno=node.lineno, parent=attr)


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None
