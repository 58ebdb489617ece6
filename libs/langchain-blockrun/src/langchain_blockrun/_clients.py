"""The core clients behind one ``ChatBlockRun``: made on first use, then reused.

httpx's async client is bound to the event loop that opened its connections, so there is
one async client per running loop (a test suite or a notebook may run several loops);
the sync client is shared by all threads.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from blockrun_core import AsyncBlockRunClient, BlockRunClient

__all__ = ["ClientCache"]


class ClientCache:
    """Lazily built core clients for one set of options."""

    def __init__(self, options: Callable[[], dict[str, Any]]) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._sync: BlockRunClient | None = None
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncBlockRunClient]
        self._by_loop = weakref.WeakKeyDictionary()

    def sync(self) -> BlockRunClient:
        """The synchronous client."""
        client = self._sync
        if client is None:
            from blockrun_core import BlockRunClient

            with self._lock:
                if self._sync is None:
                    self._sync = BlockRunClient(**self._options())
                    # Close its connections when the model that owns this cache goes away.
                    weakref.finalize(self, self._sync.close)
                client = self._sync
        return client

    def for_running_loop(self) -> AsyncBlockRunClient:
        """The async client of the running event loop."""
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None:
            from blockrun_core import AsyncBlockRunClient

            with self._lock:
                client = self._by_loop.get(loop)
                if client is None:
                    client = AsyncBlockRunClient(**self._options())
                    self._by_loop[loop] = client
        return client

    def close(self) -> None:
        """Close the sync client's connections (it reopens on next use)."""
        with self._lock:
            client, self._sync = self._sync, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the running loop's async client (it reopens on next use)."""
        client = self._by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
