"""uvicorn in a background thread: fast to start, fast to stop, nothing left behind.

Imported only when a :class:`~blockrun_core.testing.LocalGateway` starts serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

import uvicorn
from starlette.types import ASGIApp

__all__ = ["BackgroundServer"]

#: How long ``stop()`` lets in-flight requests finish before dropping them.
STOP_GRACE_SECONDS = 1.0


class _Server(uvicorn.Server):
    """A ``uvicorn.Server`` that wakes up when asked to stop, instead of polling."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        await super().startup(sockets=sockets)
        self.ready.set()

    async def main_loop(self) -> None:
        assert self._wake is not None
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864_000  # every wake-up refreshes the Date header
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's own shutdown always sleeps 0.1 s; this one waits only for what is in
        # flight, at most the grace period, then drops whatever is left.
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()  # idle keep-alive connections close at once
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_SECONDS
        while (state.connections or state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for connection in list(state.connections):
            connection.transport.abort()
        for task in list(state.tasks):
            task.cancel()
        for server in self.servers:
            await server.wait_closed()

    def request_stop(self) -> None:
        """Ask the serving loop to shut down; callable from any thread."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(wake.set)


class BackgroundServer:
    """Serves ``app`` on a socket bound at construction, in a daemon thread."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it every response waits ~40 ms for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
        except OSError:
            self._sock.close()
            raise
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            interface="asgi3",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # the app reaches the raw connection to drop it on purpose
            server_header=False,
        )
        self._server = _Server(config)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"blockrun-local-gateway:{self.port}", daemon=True
        )

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start()
            self._error = exc
        finally:
            self._sock.close()
            self._server.ready.set()

    def start(self) -> None:
        """Start serving; returns once connections are accepted."""
        self._thread.start()
        self._server.ready.wait()
        if self._error is not None or not self._server.started:
            self._thread.join()
            raise RuntimeError("The LocalGateway server failed to start.") from self._error

    @property
    def open_connections(self) -> int:
        """Client connections the server holds open right now (keep-alive ones included)."""
        return len(self._server.server_state.connections)

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._server.request_stop()
        self._thread.join()
