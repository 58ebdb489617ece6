"""The BlockRun model catalog: models, aliases, capabilities and the gateway's quote formula.

``Catalog.bundled()`` (or ``default_catalog()``) is the snapshot shipped with the package;
``load_catalog(api_url)`` refreshes it from ``GET /v1/models`` with a disk cache. Prices in
the bundled snapshot are a snapshot: they change, and the gateway's 402 is what is paid.
"""

from __future__ import annotations

from .catalog import Catalog, default_catalog
from .models import BillingMode, ModelInfo
from .quote import Quote, effective_max_tokens, quote_micros, quote_request
from .refresh import aload_catalog, load_catalog
from .tokens import count_tokens, estimate_input_tokens, estimate_text_tokens

__all__ = [
    "BillingMode",
    "Catalog",
    "ModelInfo",
    "Quote",
    "aload_catalog",
    "count_tokens",
    "default_catalog",
    "effective_max_tokens",
    "estimate_input_tokens",
    "estimate_text_tokens",
    "load_catalog",
    "quote_micros",
    "quote_request",
]
