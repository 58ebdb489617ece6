"""MkDocs hook: show reST cross-reference roles from docstrings as plain code.

Some docstrings say ``:class:`Budget``` or ``:meth:`~Budget.reserve```; Markdown renders the
role name literally (``:class:Budget``). This keeps the code span and drops the role, with
Sphinx's ``~`` meaning "show only the last component".
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(r":(?:attr|class|data|exc|func|meth|mod|obj):<code>(~?)([^<]*)</code>")


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **_: Any) -> str:
    """Rewrite ``:role:<code>target</code>`` to ``<code>target</code>``."""
    return ROLE.sub(_code, html)
