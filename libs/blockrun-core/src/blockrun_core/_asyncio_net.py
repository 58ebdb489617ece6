"""An httpcore network backend on asyncio's own transports, for our async clients.

httpcore reaches asyncio through anyio, which wraps every read and write in a cancel scope
with a timer of its own, and pauses and resumes the socket around each read. This backend
reads from a protocol's buffer and arms a timer only when it has to wait (a small call
measured a fifth less CPU; see benchmarks/README.md). The errors are
httpcore's, raised exactly where the anyio backend raises them: a failed connect is a
``ConnectError`` / ``ConnectTimeout`` (nothing was sent), anything later a read or write
error, which keeps payments' "was it sent?" reasoning unchanged.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

__all__ = ["AsyncioBackend", "use_asyncio_backend"]

_READ_LIMIT = 256 * 1024  # buffered bytes before the socket stops being read


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader or writer waiting for it."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None  # a read or a drain, never both
        self.writable = True
        self.reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _READ_LIMIT and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close our side too: HTTP/1.1 never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self.writable = True
        self._wake()

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _expire(waiter: asyncio.Future[None], error: type[Exception]) -> None:
    if not waiter.done():
        waiter.set_exception(error("timed out"))


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One HTTP/1.1 connection: a transport and the protocol buffering its bytes."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._quiet = False  # found unreadable, and the loop has not polled since

    def _forget_quiet(self) -> None:
        self._quiet = False

    async def _wait(self, timeout: float | None, error: type[Exception]) -> None:
        loop = asyncio.get_running_loop()
        waiter = self._protocol.waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter, error)
        try:
            await waiter
        finally:
            self._protocol.waiter = None
            if timer is not None:
                timer.cancel()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` once the peer has closed."""
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            await self._wait(timeout, httpcore.ReadTimeout)
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if protocol.reading_paused and len(protocol.buffer) <= _READ_LIMIT // 2:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error)) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Hand ``buffer`` to the transport; wait only while its buffer is full."""
        if not buffer:
            return
        self._check_open()
        self._transport.write(buffer)
        if not self._protocol.writable:
            await self._wait(timeout, httpcore.WriteTimeout)
            self._check_open()

    def _check_open(self) -> None:
        if self._transport.is_closing():
            raise httpcore.WriteError(str(self._protocol.error or "the connection is closed"))

    async def aclose(self) -> None:
        """Close the connection without waiting for the peer."""
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """The same connection, wrapped in TLS (a failed handshake is a connect error)."""
        loop = asyncio.get_running_loop()
        try:
            transport = await asyncio.wait_for(
                loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                ),
                timeout,
            )
        except asyncio.TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except (OSError, EOFError, ConnectionError) as exc:  # ssl.SSLError is an OSError
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._protocol.transport = transport  # start_tls does not tell the protocol
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks of a stream: TLS object, addresses, socket, readability."""
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            return self._is_readable()
        return None

    def _is_readable(self) -> bool:
        """Whether an idle connection has anything to read: then the server has closed it.

        httpcore's pool asks this of every idle connection each time it assigns a request,
        many times per loop turn under load. Anything the loop has read is in the protocol
        already; the socket is polled once per turn for what arrived since.
        """
        protocol = self._protocol
        if protocol.eof or protocol.buffer:
            return True
        if self._quiet:
            return False
        if _readable(self._transport):
            return True
        try:
            asyncio.get_running_loop().call_soon(self._forget_quiet)
        except RuntimeError:  # asked outside the loop: nothing to remember it by
            return False
        self._quiet = True
        return False


def _readable(transport: asyncio.Transport) -> bool:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens :class:`AsyncioStream` connections with the running loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A TCP connection to ``host:port`` (TCP_NODELAY, as asyncio sets by default)."""
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        connect = loop.create_connection(
            _Protocol, host, port, local_addr=local, happy_eyeballs_delay=0.25
        )
        return await _connected(connect, timeout, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A connection to the Unix socket at ``path``."""
        loop = asyncio.get_running_loop()
        return await _connected(
            loop.create_unix_connection(_Protocol, path), timeout, socket_options
        )

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)


async def _connected(
    connect: Any, timeout: float | None, socket_options: Iterable[Any] | None
) -> AsyncioStream:
    try:
        transport, protocol = await asyncio.wait_for(connect, timeout)
    except asyncio.TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc) or "connect timed out") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    sock: socket.socket | None = transport.get_extra_info("socket")
    for option in socket_options or ():
        if sock is not None:
            sock.setsockopt(*option)
    return AsyncioStream(transport, protocol)


def use_asyncio_backend(transport: Any) -> bool:
    """Make ``transport`` (an HTTP/1.1 ``httpx.AsyncHTTPTransport`` without a proxy) connect
    through :class:`AsyncioBackend`; ``False``, changing nothing, for any other transport.

    HTTP/1.1 only: a stream has one waiter, and HTTP/2 reads and writes at once.
    """
    pool = getattr(transport, "_pool", None)
    if (
        type(pool) is not httpcore.AsyncConnectionPool
        or not hasattr(pool, "_network_backend")
        or getattr(pool, "_http2", True)
    ):
        return False
    pool._network_backend = AsyncioBackend()
    return True
