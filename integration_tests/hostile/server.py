"""A hostile gateway for tests: a man in the middle in front of a real LocalGateway.

:class:`HostileGateway` serves on loopback and forwards every request to a
:class:`~blockrun_core.testing.LocalGateway` (which verifies and settles payments for
real), tampering on the way as a test asks: it can rewrite the 402 challenge or the
settlement receipt, or answer by itself (redirects, garbage, replayed challenges). It
records every request it receives, so a test can check every payment header the client
ever signed. :class:`Elsewhere` is another host that records anything that reaches it:
a client must never send it a byte.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import httpx
from blockrun_core.testing import LocalGateway
from blockrun_core.testing.server import BackgroundServer
from blockrun_core.x402 import (
    PAYMENT_HEADER_V1,
    PAYMENT_HEADER_V2,
    PAYMENT_REQUIRED_HEADER,
    PAYMENT_RESPONSE_HEADER,
    ParsedPayment,
    decode_b64_json,
    decode_payment_header,
    encode_b64_json,
    parse_payment_payload,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["Elsewhere", "HostileGateway", "Seen", "challenge_headers"]

Document = dict[str, Any]
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
_HOP_BY_HOP = {"content-length", "transfer-encoding", "content-encoding", "connection"}


@dataclass(frozen=True)
class Seen:
    """One request a server received."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def payment_header(self) -> str | None:
        """The signed payment it carried, if any."""
        return self.headers.get(PAYMENT_HEADER_V2.lower()) or self.headers.get(
            PAYMENT_HEADER_V1.lower()
        )


def challenge_headers(document: Document) -> dict[str, str]:
    """The three 402 headers a BlockRun gateway sends, all carrying ``document``."""
    encoded = encode_b64_json(document)
    return {
        PAYMENT_REQUIRED_HEADER: encoded,
        "X-Payment-Required": encoded,
        "WWW-Authenticate": f'X402 requirements="{encoded}"',
    }


class _Recorder:
    """A Starlette app on its own loopback port that keeps what it receives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._server = BackgroundServer(
            Starlette(routes=[Route("/{path:path}", self._endpoint, methods=_METHODS)]),
            "127.0.0.1",
            0,
        )

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def requests(self) -> list[Seen]:
        """Every request received, oldest first."""
        with self._lock:
            return list(self._seen)

    async def _endpoint(self, request: Request) -> Response:
        seen = Seen(
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        with self._lock:
            self._seen.append(seen)
        return await self.respond(seen)

    async def respond(self, seen: Seen) -> Response:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what was received."""
        with self._lock:
            self._seen.clear()

    def start(self) -> Self:
        """Serve on loopback; returns once connections are accepted."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Elsewhere(_Recorder):
    """A host the user never configured; it answers like a gateway that was happy to serve.

    Reached under the name ``localhost`` (the hostile gateway is ``127.0.0.1``): another
    host by name, and another origin by port.
    """

    @property
    def base(self) -> str:
        return f"http://localhost:{self.port}"

    async def respond(self, seen: Seen) -> Response:
        body = {
            "id": "chatcmpl-elsewhere",
            "object": "chat.completion",
            "created": 0,
            "model": "openai/gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "served elsewhere"},
                    "finish_reason": "stop",
                }
            ],
        }
        return Response(json.dumps(body), media_type="application/json")


Intercept = Callable[[Seen], Response | None]
Rewrite = Callable[[Document], Document]


class HostileGateway(_Recorder):
    """Forwards to ``upstream`` and tampers as its attributes say (all None: honest).

    - ``intercept(seen)``: answer a request by itself (return None to forward it);
    - ``rewrite_challenge(doc)``: edit the decoded ``PAYMENT-REQUIRED`` of a 402;
    - ``rewrite_receipt(doc)``: edit the decoded ``PAYMENT-RESPONSE`` of a paid answer;
    - ``rewrite_answer(body)``: replace the body of a successful (2xx) answer.
    """

    def __init__(self, upstream: LocalGateway) -> None:
        super().__init__()
        self.upstream = upstream
        self.intercept: Intercept | None = None
        self.rewrite_challenge: Rewrite | None = None
        self.rewrite_receipt: Rewrite | None = None
        self.rewrite_answer: Callable[[bytes], bytes] | None = None
        self.challenges: list[Document] = []  # every challenge sent, after rewriting
        self._http: httpx.AsyncClient | None = None

    @property
    def url(self) -> str:
        """The x402 base URL to configure a client with."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def account_url(self) -> str:
        """The account-rail base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def payment_headers(self) -> list[str]:
        """Every signed payment header received, in order."""
        return [h for s in self.requests if (h := s.payment_header) is not None]

    def signed(self) -> list[ParsedPayment]:
        """Every payment the client signed and sent here, decoded."""
        return [parse_payment_payload(decode_payment_header(h)) for h in self.payment_headers]

    async def respond(self, seen: Seen) -> Response:
        if self.intercept is not None and (answer := self.intercept(seen)) is not None:
            return answer
        headers = {k: v for k, v in seen.headers.items() if k not in ("host", "content-length")}
        if self._http is None:  # created in the server's event loop, kept for its life
            self._http = httpx.AsyncClient(timeout=30)
        upstream = await self._http.request(
            seen.method, self.upstream.account_url + seen.path, content=seen.body, headers=headers
        )
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP}
        challenge = upstream.headers.get(PAYMENT_REQUIRED_HEADER)
        if upstream.status_code == 402 and challenge is not None:
            document = decode_b64_json(challenge)
            if self.rewrite_challenge is not None:
                document = self.rewrite_challenge(document)
            self.challenges.append(document)
            out = {k: v for k, v in out.items() if k.lower() not in _challenge_names()}
            out.update(challenge_headers(document))
        receipt = upstream.headers.get(PAYMENT_RESPONSE_HEADER)
        if receipt is not None and self.rewrite_receipt is not None:
            out[PAYMENT_RESPONSE_HEADER.lower()] = encode_b64_json(
                self.rewrite_receipt(decode_b64_json(receipt))
            )
        content = upstream.content
        if upstream.is_success and self.rewrite_answer is not None:
            content = self.rewrite_answer(content)
        return Response(content, status_code=upstream.status_code, headers=out)

    def reset(self) -> None:
        """Honest again, with nothing recorded."""
        super().reset()
        self.intercept = self.rewrite_challenge = self.rewrite_receipt = None
        self.rewrite_answer = None
        self.challenges.clear()


def _challenge_names() -> set[str]:
    return {PAYMENT_REQUIRED_HEADER.lower(), "x-payment-required", "www-authenticate"}
