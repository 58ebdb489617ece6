"""HTTP plumbing shared by the sync and async clients.

A call's logic is written once, as a generator that yields I/O operations (:data:`Op`);
:func:`drive` and :func:`adrive` perform them with a sync or an async httpx client and
send the results back in. An operation's error is thrown into the generator, which decides
(and can settle what it holds, such as a budget reservation, before it gives up).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import weakref
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from ._asyncio_net import use_asyncio_backend
from .errors import UpstreamError

__all__ = [
    "POOL_CONNECTIONS",
    "AsyncCookielessClient",
    "CallGate",
    "Close",
    "CookielessClient",
    "Invoke",
    "Op",
    "Read",
    "Send",
    "Sleep",
    "adrive",
    "async_performer",
    "drive",
    "make_timeout",
    "sync_performer",
]

T = TypeVar("T")

# Module-level so tests can replace them without patching time or asyncio globally.
_sleep = time.sleep
_async_sleep = asyncio.sleep

# The pool wait is as long as a read: with more calls in flight than pooled connections,
# a call queues behind answers that may each take minutes, and nothing is wrong.
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0, write=30.0, pool=120.0)
POOL_CONNECTIONS = 100  # httpx's default: the connections a client's own pool may open
USER_AGENT = "blockrun-core-python/0.1.0"


@dataclass(frozen=True, slots=True)
class Send:
    """POST ``content`` to ``url``; the response comes back with its body unread.

    The client's own defaults (timeouts, pool) apply: the performer builds the request.
    """

    url: str
    content: bytes
    headers: dict[str, str] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Read:
    """Read a response's whole body."""

    response: httpx.Response


@dataclass(frozen=True, slots=True)
class Close:
    """Release a response's connection without reading the rest; never raises."""

    response: httpx.Response


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait before the next attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Invoke:
    """A step that is not HTTP (a budget store, the ledger), in the performer's flavour."""

    run: Callable[[], Any]
    arun: Callable[[], Awaitable[Any]]


Op = Send | Read | Close | Sleep | Invoke
Flow = Generator[Op, Any, T]


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: ``Set-Cookie`` answers are not even parsed."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _Cookieless:
    """Keeps no cookies. BlockRun's API is stateless, and parsing every response's
    ``Set-Cookie`` headers into a jar costs ~18 µs a call, more than building the request."""

    @property
    def cookies(self) -> httpx.Cookies:
        jar: httpx.Cookies | None = self.__dict__.get("_no_cookies")
        if jar is None:
            jar = self.__dict__["_no_cookies"] = _NoCookies()
        return jar

    @cookies.setter
    def cookies(self, value: Any) -> None:
        return None  # httpx's own __init__ sets its jar directly; nothing else may


class CookielessClient(_Cookieless, httpx.Client):
    """The ``httpx.Client`` our sync client makes for itself: no cookie jar."""


class AsyncCookielessClient(_Cookieless, httpx.AsyncClient):
    """The ``httpx.AsyncClient`` our async client makes for itself: no cookie jar, and
    direct connections through asyncio's own transports (see :mod:`._asyncio_net`)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        use_asyncio_backend(self._transport)


def make_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """Split timeouts: a dead host fails in seconds, a slow model may take minutes."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(timeout, connect=min(10.0, timeout))


# A client posts to one or two URLs: each is parsed once, not per call.
_parse_url = functools.lru_cache(maxsize=64)(httpx.URL)


def _build(http: httpx.Client | httpx.AsyncClient, op: Send) -> httpx.Request:
    return http.build_request("POST", _parse_url(op.url), content=op.content, headers=op.headers)


def sync_performer(http: httpx.Client) -> Callable[[Op], Any]:
    """Perform operations with a sync httpx client."""

    def perform(op: Op) -> Any:
        if isinstance(op, Send):
            return http.send(_build(http, op), stream=True)
        if isinstance(op, Read):
            return op.response.read()
        if isinstance(op, Close):
            with contextlib.suppress(httpx.TransportError):
                op.response.close()
            return None
        if isinstance(op, Invoke):
            return op.run()
        return _sleep(op.seconds)

    return perform


def async_performer(http: httpx.AsyncClient) -> Callable[[Op], Awaitable[Any]]:
    """Perform operations with an async httpx client."""

    async def perform(op: Op) -> Any:
        if isinstance(op, Send):
            return await http.send(_build(http, op), stream=True)
        if isinstance(op, Read):
            return await op.response.aread()
        if isinstance(op, Close):
            with contextlib.suppress(httpx.TransportError):
                await op.response.aclose()
            return None
        if isinstance(op, Invoke):
            return await op.arun()
        return await _async_sleep(op.seconds)

    return perform


def drive(flow: Flow[T], perform: Callable[[Op], Any]) -> T:
    """Run ``flow`` to completion, performing each operation synchronously."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            value = perform(op)
        except BaseException as exc:  # the flow decides, even on cancellation
            error = exc


async def adrive(flow: Flow[T], perform: Callable[[Op], Awaitable[Any]]) -> T:
    """Run ``flow`` to completion, awaiting each operation."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = flow.throw(error) if error is not None else flow.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            value = await perform(op)
        except BaseException as exc:  # the flow decides, even on cancellation
            error = exc


class CallGate:
    """At most ``size`` calls in flight per event loop; the others wait their turn, in order.

    httpx's connection pool rescans its whole queue of waiting requests on every event, so
    with far more concurrent calls than connections the queue costs more than the calls.
    Waiting here instead keeps that queue short. One semaphore per running loop, so a
    client may serve several loops in turn.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self) -> asyncio.Semaphore:
        """The running loop's semaphore (``async with gate(): ...``)."""
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.size)
        return gate

    def slot(self, timeout: float | None) -> _Slot:
        """A place for one call (``async with gate.slot(timeout):``); waiting longer than
        ``timeout`` (the pool timeout) is an ``UpstreamError`` with nothing sent, as a full
        connection pool would be.

        The timeout matters for streams: their consumers run code while holding a place,
        and a call nested in one could otherwise wait for a place forever.
        """
        return _Slot(self(), self.size, timeout)


class _Slot:
    """Holds one place at a :class:`CallGate` for the ``async with`` block (a class, not
    a generator-based context manager: it is entered on every call)."""

    __slots__ = ("_gate", "_size", "_timeout")

    def __init__(self, gate: asyncio.Semaphore, size: int, timeout: float | None) -> None:
        self._gate, self._size, self._timeout = gate, size, timeout

    async def __aenter__(self) -> None:
        gate = self._gate
        if not gate.locked():
            await gate.acquire()  # free: returns without yielding
            return
        try:
            await asyncio.wait_for(gate.acquire(), self._timeout)
        except asyncio.TimeoutError:
            raise UpstreamError(
                f"No connection came free within {self._timeout:g} s: {self._size} calls of "
                "this client are in flight. Nothing was sent.",
                status_code=None,
                code="TIMEOUT",
            ) from None

    async def __aexit__(self, *exc_info: object) -> None:
        self._gate.release()
