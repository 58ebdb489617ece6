"""The asyncio network backend: httpx works through it, and fails as the anyio backend does.

Every failure is checked for its httpx type, because payments depend on it: a connect
error means nothing was sent, a read error after a write means the request may have
arrived.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest
import trustme
from blockrun_core import AsyncBlockRunClient
from blockrun_core import _asyncio_net as net
from blockrun_core._asyncio_net import AsyncioBackend, use_asyncio_backend
from blockrun_core.testing import LocalGateway
from blockrun_core.transport import AsyncCookielessClient

from unit_tests.conftest import HARDHAT_KEY

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _response(body: bytes, *, close: bool = False) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(body)}\r\n"
    if close:
        head += "connection: close\r\n"
    return head.encode() + b"\r\n" + body


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return await reader.readexactly(length)


class Server:
    """A TCP (or TLS, or Unix socket) server running ``handler`` per connection."""

    def __init__(self, server: asyncio.AbstractServer, url: str) -> None:
        self.server = server
        self.url = url
        self.connections = 0


@asynccontextmanager
async def serve(
    handler: Handler, *, ssl_context: ssl.SSLContext | None = None, uds: Path | None = None
) -> AsyncIterator[Server]:
    box: list[Server] = []

    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        box[0].connections += 1
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    if uds is not None:
        server = await asyncio.start_unix_server(counted, path=str(uds))
        url = "http://localhost/"
    else:
        server = await asyncio.start_server(counted, "127.0.0.1", 0, ssl=ssl_context)
        port = server.sockets[0].getsockname()[1]
        url = f"{'https' if ssl_context else 'http'}://localhost:{port}/"
    box.append(Server(server, url))
    async with server:
        yield box[0]


def client(**options: Any) -> httpx.AsyncClient:
    """An httpx client on our backend (what ``AsyncCookielessClient`` makes)."""
    transport = httpx.AsyncHTTPTransport(**options)
    assert use_asyncio_backend(transport)
    return httpx.AsyncClient(transport=transport)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        body = await _read_request(reader)
        writer.write(_response(body))
        await writer.drain()


async def test_requests_share_one_kept_alive_connection() -> None:
    async with serve(echo) as server, client() as http:
        for i in range(5):
            response = await http.post(server.url, content=f"hello {i}".encode())
            assert response.content == f"hello {i}".encode()
    assert server.connections == 1


async def test_large_bodies_cross_both_ways_whole() -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB: past the read buffer's limit and the socket's
    async with serve(echo) as server, client() as http:
        response = await http.post(server.url, content=body)
    assert response.content == body


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await _read_request(reader)
        writer.write(_response(body))  # keep-alive, then closed anyway
        await writer.drain()

    async with serve(once) as server, client() as http:
        assert (await http.post(server.url, content=b"one")).content == b"one"
        await asyncio.sleep(0.05)  # the close reaches the idle connection
        assert (await http.post(server.url, content=b"two")).content == b"two"
    assert server.connections == 2


async def test_idle_connections_are_polled_once_per_loop_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    polls: list[object] = []
    poll = net._readable

    def counting(transport: asyncio.Transport) -> bool:
        polls.append(transport)
        return poll(transport)

    monkeypatch.setattr(net, "_readable", counting)
    async with serve(echo) as server, client() as http:
        await http.post(server.url, content=b"x")
        stream = await _idle_stream(http)
        assert [stream.get_extra_info("is_readable") for _ in range(50)] == [False] * 50
        assert len(polls) == 1  # httpcore asks this of every idle connection, many times a turn
        await asyncio.sleep(0)
        assert stream.get_extra_info("is_readable") is False
        assert len(polls) == 2  # a new turn: the socket is polled again


async def _idle_stream(http: httpx.AsyncClient) -> Any:
    pool = http._transport._pool  # type: ignore[attr-defined]
    [connection] = pool.connections
    return connection._connection._network_stream


async def test_a_refused_connection_is_a_connect_error() -> None:
    async with serve(echo) as server:
        url = server.url
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(url, content=b"x")


async def test_a_connect_that_hangs_is_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def hang(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(3600)

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "create_connection", hang)
    async with client() as http:
        with pytest.raises(httpx.ConnectTimeout):
            await http.post("http://127.0.0.1:9/", content=b"x", timeout=0.1)


async def test_a_silent_server_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(3600)

    async with serve(silent) as server, client() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(server.url, content=b"x", timeout=0.2)


async def test_a_server_that_never_reads_is_a_write_timeout() -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    async with serve(deaf) as server, client() as http:
        with pytest.raises(httpx.WriteTimeout):
            await http.post(server.url, content=b"x" * 64_000_000, timeout=0.5)


async def test_a_reset_after_the_request_is_a_read_error_not_a_connect_error() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.transport.abort()

    async with serve(reset) as server, client() as http:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await http.post(server.url, content=b"x")
    assert not isinstance(caught.value, httpx.ConnectError)


async def test_a_reset_mid_body_is_a_read_error() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_response(b"x" * 1000)[:-500])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()

    async with serve(cut) as server, client() as http:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            await http.post(server.url, content=b"x")


async def test_tls_with_a_trusted_certificate(tmp_path: Path) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    trusted = ssl.create_default_context()
    authority.configure_trust(trusted)
    async with serve(echo, ssl_context=server_context) as server:
        async with client(verify=trusted) as http:
            response = await http.post(server.url, content=b"secret")
            assert response.content == b"secret"
        async with client() as untrusting:  # the system's roots do not know this authority
            with pytest.raises(httpx.ConnectError):
                await untrusting.post(server.url, content=b"secret")


@pytest.mark.usefixtures("socket_enabled")  # pytest-socket blocks Unix sockets by default
async def test_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "gateway.sock"
    async with serve(echo, uds=path) as server, client(uds=str(path)) as http:
        assert (await http.post(server.url, content=b"over uds")).content == b"over uds"


async def test_our_async_client_uses_it_and_a_given_client_is_left_alone() -> None:
    mine = AsyncCookielessClient()
    assert isinstance(_backend(mine), AsyncioBackend)
    given = httpx.AsyncClient()
    assert not isinstance(_backend(given), AsyncioBackend)
    async with AsyncBlockRunClient(api_url="http://127.0.0.1:9", http_client=given) as client:
        assert client._http is given
    await mine.aclose()


def test_transports_it_does_not_know_are_left_alone() -> None:
    proxied = httpx.AsyncHTTPTransport(proxy="http://127.0.0.1:3128")
    assert not use_asyncio_backend(proxied)
    assert not isinstance(proxied._pool._network_backend, AsyncioBackend)
    assert not use_asyncio_backend(httpx.AsyncHTTPTransport(http2=True))
    assert not use_asyncio_backend(httpx.MockTransport(lambda request: httpx.Response(200)))


async def test_a_paid_call_and_a_free_stream_through_it(gw: LocalGateway) -> None:
    async with AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=False) as brc:
        assert isinstance(_backend(brc._http), AsyncioBackend)
        paid = await brc.chat(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        chunks = [
            c
            async for c in brc.stream(
                model="nvidia/gpt-oss-120b", messages=[{"role": "user", "content": "hi"}]
            )
        ]
    assert paid.content and len(gw.payments) == 1
    assert "".join(c.delta for c in chunks)


def _backend(http: httpx.AsyncClient) -> Any:
    pool = http._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    return pool._network_backend
