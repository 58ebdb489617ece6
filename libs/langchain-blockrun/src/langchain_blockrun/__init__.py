"""LangChain integration for BlockRun: every frontier model behind one wallet.

``ChatBlockRun`` is a LangChain chat model on the shared ``blockrun-core`` client: x402
payments signed locally, ``model="auto"`` routing, budgets, and the cost of every call in
its metadata. Names load on first use, so ``import langchain_blockrun`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blockrun_core._lazy import lazy_exports

from langchain_blockrun._version import __version__

if TYPE_CHECKING:
    from langchain_blockrun.callbacks import BlockRunCallbackHandler, get_blockrun_callback
    from langchain_blockrun.chat_models import ChatBlockRun
    from langchain_blockrun.errors import convert_error
    from langchain_blockrun.middleware import BlockRunBudgetMiddleware

__all__ = [
    "BlockRunBudgetMiddleware",
    "BlockRunCallbackHandler",
    "ChatBlockRun",
    "__version__",
    "convert_error",
    "get_blockrun_callback",
]

_EXPORTS = {
    "BlockRunBudgetMiddleware": "middleware",
    "BlockRunCallbackHandler": "callbacks",
    "ChatBlockRun": "chat_models",
    "convert_error": "errors",
    "get_blockrun_callback": "callbacks",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
