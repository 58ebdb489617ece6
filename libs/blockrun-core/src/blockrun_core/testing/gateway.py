"""``LocalGateway``: a BlockRun-compatible gateway on loopback, for tests and demos.

The state (payments, nonces, faults, scripts, prices, keys) lives in :class:`GatewayState`,
shared by the server thread and the test. The server (:mod:`.server`) is uvicorn in a
background thread with its own event loop; the same ASGI app can also be mounted
in-process (``httpx.ASGITransport(app=gw.app)``) without starting it. Starlette and uvicorn
are imported only when the app is built or the server started.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from blockrun_core.catalog import Catalog, ModelInfo, default_catalog, quote_micros
from blockrun_core.errors import ConfigurationError
from blockrun_core.x402 import Network, find_network

from .faults import Fault, FaultBook
from .model import FakeModel
from .payments import (
    DEFAULT_PAY_TO,
    AccountLedger,
    PaymentLedger,
    PaymentTerms,
    RecordedPayment,
    new_api_key,
)
from .render import ErrorReply, ToolCallShape
from .validation import ChatCall, parse_chat

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from .server import BackgroundServer

__all__ = ["GatewayState", "LocalGateway", "RecordedRequest"]

_MODELS_CREATED = 1_700_000_000
_MAX_REDIRECT_HOPS = 8


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP exchange; ``status`` 0 means the connection was dropped without an answer."""

    method: str
    path: str
    paid: bool  # carried a payment header (x402) or was billed to an account key
    model: str | None
    status: int


def _micros(usd: float | None) -> int | None:
    return None if usd is None else round(usd * 1_000_000)


class GatewayState:
    """Everything the gateway's routes read and write. Thread-safe."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        terms: PaymentTerms,
        tool_call_shape: ToolCallShape,
        heartbeat: bool,
        clock: Callable[[], float],
    ) -> None:
        self.catalog = catalog
        self.terms = terms
        self.tool_call_shape: ToolCallShape = tool_call_shape
        self.heartbeat = heartbeat
        self.clock = clock
        self.ledger = PaymentLedger()
        self.accounts = AccountLedger()
        self.faults = FaultBook()
        self.model = FakeModel()
        self._lock = threading.Lock()
        self._prices: dict[str, int] = {}
        self._requests: list[RecordedRequest] = []
        self._by_id = {m.id.lower(): m for m in catalog.models()}
        self._models_payload: dict[str, Any] | None = None

    def resolve(self, name: str) -> ModelInfo | ErrorReply:
        """The model a request names: a catalog id or a retired id's replacement.

        Aliases and bare ids are client-side conveniences and are refused, like unknown ids.
        """
        key = name.strip().lower()
        for _ in range(_MAX_REDIRECT_HOPS):
            model = self._by_id.get(key)
            if model is not None:
                return model
            target = self.catalog.redirects.get(key)
            if target is None:
                break
            key = target.lower()
        try:
            suggestions: Sequence[str] = [self.catalog.resolve_id(name)]
        except ConfigurationError as exc:
            suggestions = exc.suggestions
        choices = ", ".join(suggestions or [m.id for m in self.catalog.models()[:3]])
        message = f"Unknown model: {name}. Try one of: {choices}. Full list: GET /v1/models"
        return ErrorReply(400, {"error": message})

    def quote(self, call: ChatCall) -> int:
        """Micro-USDC asked for ``call``: the price override, else the catalog's formula."""
        with self._lock:
            override = self._prices.get(call.model.id)
        if override is not None:
            return override
        return quote_micros(call.model, call.body, input_tokens=call.input_tokens)

    def set_price(self, model_id: str, micros: int | None) -> None:
        """Fix ``model_id``'s quote at ``micros`` for every request (``None``: the formula)."""
        with self._lock:
            if micros is None:
                self._prices.pop(model_id, None)
            else:
                self._prices[model_id] = micros

    def record_request(
        self, method: str, path: str, paid: bool, model: str | None, status: int
    ) -> None:
        """Note one HTTP exchange."""
        with self._lock:
            self._requests.append(RecordedRequest(method, path, paid, model, status))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every exchange so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def models_payload(self) -> dict[str, Any]:
        """The ``GET /v1/models`` body."""
        if self._models_payload is None:
            payload = self.catalog.to_models_response()
            for row in payload["data"]:
                row.setdefault("created", _MODELS_CREATED)
            self._models_payload = payload
        return self._models_payload

    def reset(self) -> None:
        """Forget payments, nonces, requests, faults, scripts and prices."""
        self.ledger.reset()
        self.faults.clear()
        self.model.clear()
        with self._lock:
            self._prices.clear()
            self._requests.clear()


class LocalGateway:
    """A BlockRun-compatible gateway for tests: real x402 verification, a fake model.

    ``with LocalGateway() as gw:`` serves on ``127.0.0.1`` (a free port) in a background
    thread; ``gw.url`` is the x402 base (``.../api``), ``gw.account_url`` the ``brk_``
    account base. Everything it was paid is in ``gw.payments``, once per settled payment.
    """

    def __init__(
        self,
        *,
        network: str | Network = "eip155:8453",
        pay_to: str = DEFAULT_PAY_TO,
        catalog: Catalog | None = None,
        api_key: str | None = None,
        api_key_credit_usd: float | None = None,
        tool_call_shape: ToolCallShape = "fragments",
        heartbeat: bool = True,
        max_timeout_seconds: int = 300,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        resolved = network if isinstance(network, Network) else find_network(network)
        if resolved is None:
            raise ConfigurationError(
                f"Unknown network {network!r}: use eip155:8453 or eip155:84532."
            )
        if tool_call_shape not in ("fragments", "whole"):
            raise ConfigurationError("tool_call_shape must be 'fragments' or 'whole'.")
        self._state = GatewayState(
            catalog=catalog or default_catalog(),
            terms=PaymentTerms(resolved, pay_to, max_timeout_seconds),
            tool_call_shape=tool_call_shape,
            heartbeat=heartbeat,
            clock=clock,
        )
        self.api_key = api_key or new_api_key()
        self._api_key_credit = _micros(api_key_credit_usd)
        self._state.accounts.add(self.api_key, self._api_key_credit)
        self._host = host
        self._port = port
        self._app: ASGIApp | None = None
        self._server: BackgroundServer | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> LocalGateway:
        """Serve on loopback in a background thread; returns once it accepts connections."""
        if self._server is None:
            from .server import BackgroundServer

            server = BackgroundServer(self.app, self._host, self._port)
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        """Stop serving and join the server thread; the state is kept. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    close = stop

    @property
    def open_connections(self) -> int:
        """Client connections the server holds open now (0 when it is not running)."""
        server = self._server
        return 0 if server is None else server.open_connections

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalGateway:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # --- where it is -------------------------------------------------------------------

    @property
    def account_url(self) -> str:
        """``http://127.0.0.1:PORT``: the account rail's base (``/v1/...`` with ``brk_`` keys)."""
        if self._server is None:
            raise RuntimeError("The LocalGateway is not running: call start() or use `with`.")
        return f"http://{self._host}:{self._server.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/api``: the x402 rail's base URL."""
        return self.account_url + "/api"

    @property
    def app(self) -> ASGIApp:
        """The ASGI app, mountable in-process without starting the server."""
        if self._app is None:
            from .app import build_app

            self._app = build_app(self._state)
        return self._app

    @property
    def pay_to(self) -> str:
        """The treasury address payments must go to."""
        return self._state.terms.pay_to

    @property
    def network(self) -> str:
        """The CAIP-2 network paid on, e.g. ``eip155:8453``."""
        return self._state.terms.network.caip2

    @property
    def catalog(self) -> Catalog:
        """The models this gateway serves."""
        return self._state.catalog

    # --- what happened -----------------------------------------------------------------

    @property
    def payments(self) -> list[RecordedPayment]:
        """Every settled payment (money that moved), oldest first, each exactly once."""
        return self._state.ledger.payments

    @property
    def claimed_nonces(self) -> list[str]:
        """Every nonce consumed, including those of requests that failed before settling."""
        return self._state.ledger.claimed_nonces

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every HTTP exchange, oldest first."""
        return self._state.requests

    # --- steering ----------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Queue faults (see :class:`Fault`); each fires on the requests it matches."""
        for fault in faults:
            self._state.faults.add(fault)

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self._state.faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults that have not fired (their remaining times) yet."""
        return self._state.faults.pending()

    def script(
        self,
        model: str | None,
        response: str | Sequence[Mapping[str, Any]] | Mapping[str, Any],
        *,
        reasoning: str | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Queue a canned answer for ``model`` (``None``: any): text, tool calls or a body."""
        self._state.model.script(model, response, reasoning=reasoning, finish_reason=finish_reason)

    def set_price(self, model_id: str, micros: int | None) -> None:
        """Quote ``micros`` for every request to ``model_id`` (``None``: back to the formula)."""
        self._state.set_price(self._state.catalog.get(model_id).id, micros)

    def quote(self, body: Mapping[str, Any]) -> int:
        """The micro-USDC this gateway would ask for ``body`` right now."""
        call = parse_chat(json.dumps(body).encode(), self._state.resolve)
        if isinstance(call, ErrorReply):
            raise ConfigurationError(f"Not a valid chat request: {dict(call.body)}")
        return 0 if call.model.is_free else self._state.quote(call)

    def set_balance(self, payer: str, micros: int | None) -> None:
        """Give ``payer`` a fake USDC balance; payments above it get ``PAYMENT_UNFUNDED``."""
        self._state.ledger.set_balance(payer, micros)

    def balance(self, payer: str) -> int | None:
        """``payer``'s remaining fake balance in micro-USDC (``None``: unlimited)."""
        return self._state.ledger.balance(payer)

    def add_api_key(self, key: str | None = None, *, credit_usd: float | None = None) -> str:
        """Register a ``brk_`` key with ``credit_usd`` (``None``: unlimited); returns it."""
        key = key or new_api_key()
        self._state.accounts.add(key, _micros(credit_usd))
        return key

    def credit_usd(self, key: str) -> float | None:
        """The key's remaining credit in USD (``None``: unlimited)."""
        remaining = self._state.accounts.remaining(key)
        return None if remaining is None else remaining / 1_000_000

    def reset(self) -> None:
        """Back to a fresh gateway: no payments, nonces, requests, faults, scripts, prices,
        balances, or keys other than ``api_key`` (with its initial credit)."""
        self._state.reset()
        self._state.accounts.reset()
        self._state.accounts.add(self.api_key, self._api_key_credit)

    def __repr__(self) -> str:
        where = self.url if self.running else "not running"
        return f"LocalGateway({where}, network={self.network})"
