"""LlamaIndex LLM for BlockRun: every frontier model behind one wallet.

``BlockRunLLM`` routes (``model="auto"``), pays per call with x402 and reports each call's
cost, routing decision and receipt. ``BlockRun`` keeps code written for 0.1.0 working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blockrun_core._lazy import lazy_exports

if TYPE_CHECKING:
    from .base import BlockRunLLM
    from .compat import BlockRun
    from .events import BlockRunCallEvent

__version__ = "0.2.0"

__all__ = ["BlockRun", "BlockRunCallEvent", "BlockRunLLM"]

_EXPORTS = {"BlockRun": "compat", "BlockRunCallEvent": "events", "BlockRunLLM": "base"}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
