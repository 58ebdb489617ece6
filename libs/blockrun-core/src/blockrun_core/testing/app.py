"""The gateway's HTTP surface: Starlette routes over a :class:`GatewayState`.

x402 rail under ``/api`` (``/api/v1/chat/completions``, ``/api/v1/models``); account rail
at the root (``/v1/chat/completions``, ``/v1/models``) with ``Authorization: Bearer brk_``.
A paid request goes verify -> claim nonce -> execute -> settle -> respond, and faults
(:mod:`.faults`) can break in at each step. Starlette is imported here only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import socket
import struct
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import Fault, FaultKind
from .model import ModelOutput
from .payments import (
    PaymentRejection,
    VerifiedPayment,
    challenge_response,
    settlement_headers,
    unsettled_headers,
    verify_payment,
)
from .render import ErrorReply, completion_body, error_reply, stream_chunks
from .validation import ChatCall, parse_chat

if TYPE_CHECKING:
    from .gateway import GatewayState

__all__ = ["build_app"]

_EXCHANGE = "blockrun.exchange"
_PROBE_FAULTS: frozenset[FaultKind] = frozenset(("error", "delay", "reset", "price_change"))
_SERVED_FAULTS: frozenset[FaultKind] = _PROBE_FAULTS | {"empty", "degenerate"}
_STREAM_FAULTS: frozenset[FaultKind] = frozenset(("truncate",))
_BODY_FAULTS: frozenset[FaultKind] = frozenset(("cut_body",))
_X402_FAULTS: frozenset[FaultKind] = frozenset(("settlement", "reject"))
_ACCOUNT_FAULTS: frozenset[FaultKind] = frozenset(("reject",))

# What a request does once checked: claim its payment (or refuse), then settle it (headers
# for the answer, or a refusal).
Claim = Callable[[], Response | None]
Settle = Callable[[], Mapping[str, str] | Response]


@dataclass
class _Exchange:
    """Per-request notes shared by the routes and the recording wrapper."""

    send: Send
    record: Callable[[_Exchange, int], None]
    model: str | None = None
    paid: bool = False
    reset: bool = False
    aborted: bool = False
    recorded: bool = False

    def note(self, status: int) -> None:
        """Record this exchange once, with ``status`` (0: dropped without an answer)."""
        if not self.recorded:
            self.recorded = True
            self.record(self, status)

    async def drop_connection(self) -> None:
        """Close the socket without (more of) a response, with a TCP reset."""
        self.note(0)
        self.reset = True
        transport = getattr(getattr(self.send, "__self__", None), "transport", None)
        if transport is None or not hasattr(transport, "abort"):
            return  # not under uvicorn: the wrapper raises instead
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        self.aborted = True
        await asyncio.sleep(0)  # let the server see the connection go before we return


def _exchange(request: Request) -> _Exchange:
    exchange = request.scope[_EXCHANGE]
    assert isinstance(exchange, _Exchange)
    return exchange


def _reply(reply: ErrorReply) -> Response:
    return JSONResponse(dict(reply.body), reply.status, headers=dict(reply.headers))


def _rejection(rejection: PaymentRejection) -> Response:
    return JSONResponse(rejection.body(), 402)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def _has_account_key(request: Request) -> bool:
    """A ``brk_`` key sent to the x402 rail (other ``Authorization`` values are ignored)."""
    return (_bearer(request) or "").startswith("brk_")


def _fault_error(fault: Fault) -> ErrorReply:
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {"debug": "injected fault"}
    if fault.retry_after is not None:
        retry = fault.retry_after
        headers["Retry-After"] = str(int(retry)) if float(retry).is_integer() else str(retry)
    if fault.status == 429:
        headers["X-RateLimit-Source"] = "gateway"
        extra.update(source="gateway", retry_after_seconds=fault.retry_after)
    return error_reply(
        fault.status, fault.error_code, fault.error_message, headers=headers, **extra
    )


class _Routes:
    def __init__(self, state: GatewayState) -> None:
        self.state = state

    # --- endpoints ---------------------------------------------------------------------

    async def models(self, request: Request) -> Response:
        if request.url.path.startswith("/api/") and _has_account_key(request):
            return _reply(self._wrong_host())
        return JSONResponse(self.state.models_payload())

    async def x402_chat(self, request: Request) -> Response:
        exchange = _exchange(request)
        if _has_account_key(request):
            return _reply(self._wrong_host())
        call = await self._parse(request)
        if isinstance(call, ErrorReply):
            return _reply(call)
        exchange.model = call.model.id
        if call.model.is_free:
            return await self._free(request, call)
        header = request.headers.get("payment-signature") or request.headers.get("x-payment")
        if header is None:
            return await self._challenge(request, call)
        exchange.paid = True
        return await self._x402_paid(request, call, header)

    async def account_chat(self, request: Request) -> Response:
        exchange = _exchange(request)
        key = _bearer(request)
        if key is not None and not self.state.accounts.known(key):
            return _reply(self._bad_key("Invalid API key."))
        call = await self._parse(request)
        if isinstance(call, ErrorReply):
            return _reply(call)
        exchange.model = call.model.id
        if call.model.is_free:
            return await self._free(request, call)
        if key is None:
            return _reply(self._bad_key("An API key is required: Authorization: Bearer brk_..."))
        exchange.paid = True
        return await self._account_paid(request, call, key)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        code = "method_not_allowed" if status == 405 else "unsupported_endpoint"
        return _reply(error_reply(status, code, f"{request.method} {request.url.path}"))

    # --- the flows ---------------------------------------------------------------------

    async def _parse(self, request: Request) -> ChatCall | ErrorReply:
        return parse_chat(await request.body(), self.state.resolve)

    async def _challenge(self, request: Request, call: ChatCall) -> Response:
        fault = self.state.faults.take(call.model.id, "unpaid", _PROBE_FAULTS)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        elif fault is not None and fault.kind in ("error", "reset"):
            return await self._fail(request, fault)
        quote = self.state.quote(call)
        headers, body = challenge_response(
            self.state.terms,
            amount_micros=quote,
            resource_url=str(request.url),
            description=f"{call.model.name} API call (~{call.input_tokens} input, "
            f"{call.max_tokens} max output tokens)",
        )
        if fault is not None and fault.kind == "price_change":
            self._change_price(call, fault)
        return JSONResponse(body, 402, headers={**headers, **call.max_tokens_headers()})

    async def _free(self, request: Request, call: ChatCall) -> Response:
        fault = self.state.faults.take(call.model.id, "unpaid", self._served_faults(call))
        return await self._run(
            request,
            call,
            fault,
            claim=lambda: None,
            settle=lambda: {"X-Free-Model": "true"},
        )

    async def _x402_paid(self, request: Request, call: ChatCall, header: str) -> Response:
        state = self.state
        verified = verify_payment(
            header,
            terms=state.terms,
            quote_micros=state.quote(call),
            now=int(state.clock()),
        )
        if isinstance(verified, PaymentRejection):
            return _rejection(verified)
        fault = state.faults.take(call.model.id, "paid", self._served_faults(call) | _X402_FAULTS)
        if fault is not None and fault.kind == "reject":
            code = fault.code or "PAYMENT_UNFUNDED"
            rejection = PaymentRejection(
                code, debug="injected fault", payer=verified.payer, message=fault.message
            )
            return _rejection(rejection)

        def claim() -> Response | None:
            refused = state.ledger.claim(verified)
            return None if refused is None else _rejection(refused)

        return await self._run(
            request,
            call,
            fault,
            claim=claim,
            settle=lambda: self._settle_x402(call, verified, fault),
        )

    def _settle_x402(
        self, call: ChatCall, verified: VerifiedPayment, fault: Fault | None
    ) -> Mapping[str, str] | Response:
        if fault is not None and fault.kind == "settlement":
            if fault.settlement_mode == "rejected":
                return _rejection(
                    PaymentRejection(
                        "SETTLEMENT_FAILED", debug="injected fault", payer=verified.payer
                    )
                )
            return unsettled_headers(verified)
        record = self.state.ledger.settle(verified, model=call.model.id, stream=call.stream)
        return settlement_headers(record)

    async def _account_paid(self, request: Request, call: ChatCall, key: str) -> Response:
        state = self.state
        quote = state.quote(call)
        fault = state.faults.take(
            call.model.id, "paid", self._served_faults(call) | _ACCOUNT_FAULTS
        )
        if fault is not None and fault.kind == "reject":
            return _reply(self._no_credit(fault.code or "BALANCE_EXHAUSTED", fault.message))

        def claim() -> Response | None:
            if state.accounts.can_pay(key, quote):
                return None
            return _reply(self._no_credit("BALANCE_EXHAUSTED", None))

        def settle() -> Mapping[str, str]:
            state.accounts.charge(key, quote)
            return {}

        return await self._run(request, call, fault, claim=claim, settle=settle)

    async def _run(
        self,
        request: Request,
        call: ChatCall,
        fault: Fault | None,
        *,
        claim: Claim,
        settle: Settle,
    ) -> Response:
        """Claim, execute, settle and answer, with ``fault`` breaking in where it says."""
        if fault is not None and fault.kind == "price_change":
            self._change_price(call, fault)
        # `after_chunks` places resets and stalls inside a stream; otherwise they, and
        # errors, break in before the answer (at the fault's `at`).
        in_stream = fault is not None and fault.after_chunks is not None and call.stream
        failure = fault if fault is not None and fault.kind in ("error", "reset") else None
        if in_stream:
            failure = None
        if failure is not None and failure.at == "before_claim":
            return await self._fail(request, failure)
        refused = claim()
        if refused is not None:
            return refused
        if fault is not None and fault.kind == "delay" and not in_stream:
            await asyncio.sleep(fault.seconds)
        if failure is not None and failure.at == "after_claim":
            return await self._fail(request, failure)
        output = self.state.model.respond(
            call.model.id,
            call.body,
            prompt_tokens=call.input_tokens,
            max_tokens=call.max_tokens,
            reasoning=call.model.supports_reasoning,
        )
        settled = settle()
        if isinstance(settled, Response):
            return settled
        if failure is not None:  # after_settle
            return await self._fail(request, failure)
        headers = {**settled, **call.max_tokens_headers()}
        return self._answer(request, call, output, headers, fault)

    def _answer(
        self,
        request: Request,
        call: ChatCall,
        output: ModelOutput,
        headers: dict[str, str],
        fault: Fault | None,
    ) -> Response:
        kind = fault.kind if fault is not None else None
        if kind == "degenerate":
            output = replace(
                output,
                content="",
                reasoning=None,
                tool_calls=(),
                finish_reason="stop",
                completion_tokens=0,
                reasoning_tokens=0,
                raw=None,
            )
        if kind == "empty" and fault is not None and fault.empty_mode == "body":
            media = "text/event-stream" if call.stream else "application/json"
            return Response(b"", 200, headers=headers, media_type=media)
        completion_id = (
            "chatcmpl-"
            + hashlib.sha256(json.dumps(call.body, sort_keys=True).encode()).hexdigest()[:24]
        )
        created = int(self.state.clock())
        if not call.stream:
            body = completion_body(
                output, completion_id=completion_id, model=call.model.id, created=created
            )
            if kind == "empty":
                body["choices"] = []
            if kind == "cut_body":
                return _CutBody(_exchange(request), body, headers)
            return JSONResponse(body, 200, headers=headers)
        frames = stream_chunks(
            output,
            completion_id=completion_id,
            model=call.model.id,
            created=created,
            tool_call_shape=self.state.tool_call_shape,
        )
        if kind == "empty":
            frames = frames[-1:]
        headers["Cache-Control"] = "no-cache"
        return StreamingResponse(
            self._events(_exchange(request), frames, fault),
            200,
            headers=headers,
            media_type="text/event-stream",
        )

    async def _events(
        self, exchange: _Exchange, frames: list[dict[str, Any]], fault: Fault | None
    ) -> AsyncIterator[bytes]:
        stop_at = fault.after_chunks if fault is not None else None
        if fault is not None and fault.kind == "truncate" and stop_at is not None:
            stop_at = min(stop_at, len(frames) - 2)  # never reach the finish_reason frame
        for sent, frame in enumerate(frames):
            if fault is not None and sent == stop_at:
                if fault.kind == "truncate":
                    return
                if fault.kind == "reset":
                    await exchange.drop_connection()
                    return
                if fault.kind == "delay":
                    await asyncio.sleep(fault.seconds)
            yield f"data: {json.dumps(frame, separators=(',', ':'))}\n\n".encode()
            if sent == 0 and self.state.heartbeat:
                yield b": heartbeat\n\n"
        if fault is not None and fault.kind == "reset" and stop_at is not None:
            await exchange.drop_connection()
            return
        yield b"data: [DONE]\n\n"

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _served_faults(call: ChatCall) -> frozenset[FaultKind]:
        return _SERVED_FAULTS | (_STREAM_FAULTS if call.stream else _BODY_FAULTS)

    def _change_price(self, call: ChatCall, fault: Fault) -> None:
        if fault.price_micros is not None:
            self.state.set_price(call.model.id, fault.price_micros)

    async def _fail(self, request: Request, fault: Fault) -> Response:
        if fault.kind == "reset":
            await _exchange(request).drop_connection()
            return Response(b"", 500)  # never sent: the connection is gone
        return _reply(_fault_error(fault))

    @staticmethod
    def _wrong_host() -> ErrorReply:
        return error_reply(
            404,
            "wrong_host",
            "brk_ account keys are served at the account host's /v1 paths, not the x402 "
            "gateway's /api/v1 paths.",
        )

    @staticmethod
    def _bad_key(message: str) -> ErrorReply:
        return error_reply(401, "invalid_api_key", message, error_type="authentication_error")

    @staticmethod
    def _no_credit(code: str, message: str | None) -> ErrorReply:
        text = message or "No credit left on this account. Top up to continue."
        return error_reply(402, code, text, error_type="insufficient_quota")


class _CutBody(JSONResponse):
    """A 200 that announces its whole JSON body, sends half of it, then drops the socket."""

    def __init__(self, exchange: _Exchange, body: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(body, 200, headers=headers)
        self._cut_exchange = exchange

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        await self._cut_exchange.drop_connection()


class _RecordingApp:
    """Outermost ASGI layer: records each exchange, tags the account rail, drops sockets."""

    def __init__(self, app: ASGIApp, state: GatewayState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]

        def record(exchange: _Exchange, status: int) -> None:
            self.state.record_request(method, path, exchange.paid, exchange.model, status)

        exchange = _Exchange(send=send, record=record)
        scope[_EXCHANGE] = exchange
        request_id = None if path.startswith("/api/") else "req_" + secrets.token_hex(12)

        async def guarded_send(message: Message) -> None:
            if exchange.reset:
                return  # the connection is gone
            if message["type"] == "http.response.start":
                if request_id is not None:
                    headers = list(message.get("headers", []))
                    headers.append((b"x-blockrun-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
                exchange.note(message["status"])
            await send(message)

        await self.app(scope, receive, guarded_send)
        if exchange.reset and not exchange.aborted:
            # In-process (httpx.ASGITransport): fail the way a dropped socket does.
            import httpx

            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")


def build_app(state: GatewayState) -> ASGIApp:
    """The gateway's ASGI app over ``state``."""
    routes = _Routes(state)
    starlette = Starlette(
        routes=[
            Route("/api/v1/chat/completions", routes.x402_chat, methods=["POST"]),
            Route("/api/v1/models", routes.models, methods=["GET"]),
            Route("/v1/chat/completions", routes.account_chat, methods=["POST"]),
            Route("/v1/models", routes.models, methods=["GET"]),
        ],
        exception_handlers={HTTPException: routes.http_error},
    )
    return _RecordingApp(starlette, state)
