"""BlockRun core: many frontier models behind one wallet.

The clients pay per call with x402 (USDC on Base, signed locally) or with a ``brk_``
account key. Heavy modules load on first use, so ``import blockrun_core`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

if TYPE_CHECKING:
    from .budget import Budget, MemoryStore, RedisStore, SQLiteStore
    from .client import AsyncBlockRunClient, BlockRunClient
    from .errors import (
        AllModelsFailedError,
        BlockRunError,
        BudgetExceededError,
        ConfigurationError,
        ContextOverflowError,
        CredentialError,
        PaymentError,
        PaymentInDoubtError,
        PaymentRefusedError,
        PaymentRejectedError,
        RateLimitError,
        StreamTruncatedError,
        UnknownModelError,
        UpstreamError,
    )
    from .results import ChatChunk, ChatResult, Payment
    from .signing import WalletSigner
    from .x402 import PaymentPolicy, PaymentReceipt

__version__ = "0.1.0"

__all__ = [
    "AllModelsFailedError",
    "AsyncBlockRunClient",
    "BlockRunClient",
    "BlockRunError",
    "Budget",
    "BudgetExceededError",
    "ChatChunk",
    "ChatResult",
    "ConfigurationError",
    "ContextOverflowError",
    "CredentialError",
    "MemoryStore",
    "Payment",
    "PaymentError",
    "PaymentInDoubtError",
    "PaymentPolicy",
    "PaymentReceipt",
    "PaymentRefusedError",
    "PaymentRejectedError",
    "RateLimitError",
    "RedisStore",
    "SQLiteStore",
    "StreamTruncatedError",
    "UnknownModelError",
    "UpstreamError",
    "WalletSigner",
]

_ERRORS = (
    "AllModelsFailedError",
    "BlockRunError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContextOverflowError",
    "CredentialError",
    "PaymentError",
    "PaymentInDoubtError",
    "PaymentRefusedError",
    "PaymentRejectedError",
    "RateLimitError",
    "StreamTruncatedError",
    "UnknownModelError",
    "UpstreamError",
)
_EXPORTS: dict[str, str] = {
    "Budget": "budget",
    "MemoryStore": "budget",
    "RedisStore": "budget",
    "SQLiteStore": "budget",
    "AsyncBlockRunClient": "client",
    "BlockRunClient": "client",
    "ChatChunk": "results",
    "ChatResult": "results",
    "Payment": "results",
    "PaymentPolicy": "x402",
    "PaymentReceipt": "x402",
    "WalletSigner": "signing",
    **dict.fromkeys(_ERRORS, "errors"),
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
