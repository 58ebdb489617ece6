"""``BlockRunClient`` and ``AsyncBlockRunClient``: chat with any BlockRun model, paid safely."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from .catalog import Catalog, ModelInfo, default_catalog, quote_micros
from .config import Credentials, resolve_credentials
from .errors import StreamTruncatedError, UpstreamError
from .exchange import CallSpec, Exchange, Exchanged
from .preauth import PreauthCache
from .results import ChatChunk, ChatResult, Payment
from .transport import USER_AGENT, adrive, async_performer, drive, make_timeout, sync_performer
from .wire import (
    ChatCompletion,
    SSEDecoder,
    SSELineDecoder,
    StreamAssembler,
    build_chat_body,
    encode_body,
)
from .x402 import PaymentPolicy, network_for_url

__all__ = ["AsyncBlockRunClient", "BlockRunClient"]

Message = Mapping[str, Any]


class _ClientBase:
    """Configuration and the pure steps shared by both clients."""

    def __init__(
        self,
        *,
        api_url: str | None = None,
        wallet_key: str | None = None,
        api_key: str | None = None,
        payment_policy: PaymentPolicy | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        catalog: Catalog | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._credentials: Credentials = resolve_credentials(
            wallet_key=wallet_key, api_key=api_key, api_url=api_url
        )
        self.payment_policy = payment_policy or PaymentPolicy()
        self.max_retries = max_retries
        self.catalog = catalog or default_catalog()
        self._timeout = make_timeout(timeout)
        self._network = network_for_url(self._credentials.api_url)
        self._chat_url = self._credentials.api_url + "/v1/chat/completions"
        self._preauth = PreauthCache()
        self._backoff_seconds = 0.5
        self.round_trips = 0

    @property
    def api_url(self) -> str:
        """The gateway base URL requests go to."""
        return self._credentials.api_url

    @property
    def rail(self) -> str:
        """How calls are paid: ``"wallet"`` (x402), ``"account"`` (brk_ key) or ``"none"``."""
        return self._credentials.rail

    @property
    def address(self) -> str | None:
        """The paying wallet's address, if a wallet is configured."""
        signer = self._credentials.signer
        return signer.address if signer else None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(api_url={self.api_url!r}, rail={self.rail!r}, "
            f"address={self.address!r})"
        )

    def _http_options(self) -> dict[str, Any]:
        return {"timeout": self._timeout, "follow_redirects": False}

    def _request_headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        if self._credentials.api_key:
            headers["authorization"] = f"Bearer {self._credentials.api_key}"
        return headers

    def _exchange(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stream: bool,
        params: dict[str, Any],
    ) -> tuple[Exchange, ModelInfo]:
        info = self.catalog.get(model)
        body = build_chat_body(
            model=info.id, messages=messages, max_tokens=max_tokens, stream=stream, **params
        )
        paid = self._credentials.rail == "wallet" and not info.is_free
        spec = CallSpec(
            url=self._chat_url,
            body=encode_body(body),
            headers=self._request_headers(),
            model=info.id,
            stream=stream,
            credentials=self._credentials,
            policy=self.payment_policy,
            network=self._network,
            local_quote_micros=quote_micros(info, body) if paid else 0,
            max_retries=self.max_retries,
            backoff_seconds=self._backoff_seconds,
        )
        return Exchange(spec, self._preauth), info

    def _cost(self, done: Exchanged) -> tuple[float | None, Payment | None]:
        if self._credentials.rail == "account":
            return None, None
        paid = done.payment
        if paid is None:
            return 0.0, None
        payment = Payment(paid.amount_micros, paid.network, paid.payer, paid.pay_to)
        return payment.amount_usd, payment

    def _result(self, done: Exchanged, info: ModelInfo, completion: ChatCompletion) -> ChatResult:
        self.round_trips += done.round_trips
        if not completion.choices:
            raise UpstreamError(
                f"{info.id}: the gateway answered 200 with no choices"
                + (" after the payment was accepted." if done.payment else "."),
                status_code=done.response.status_code,
                code="EMPTY_RESPONSE",
            )
        cost, payment = self._cost(done)
        return ChatResult(
            response=completion,
            requested_model=info.id,
            cost_usd=cost,
            payment=payment,
            receipt=done.receipt,
            round_trips=done.round_trips,
            request_id=done.response.headers.get("x-blockrun-request-id"),
        )


class _StreamReader:
    """Turns SSE lines of one paid or free stream into chunks; shared by sync and async."""

    def __init__(self, client: _ClientBase, done: Exchanged, info: ModelInfo) -> None:
        self._client = client
        self._done = done
        self._info = info
        self._cost, _ = client._cost(done)
        self._lines = SSELineDecoder()
        self._decoder = SSEDecoder()
        self._assembler = StreamAssembler()
        client.round_trips += done.round_trips

    def feed(self, raw: bytes) -> list[ChatChunk]:
        """The chunks completed by the next bytes of the response body."""
        return self._chunks(self._lines.feed(raw))

    def finish(self) -> list[ChatChunk]:
        """The last chunks; raises ``StreamTruncatedError`` if the answer was cut off."""
        chunks = self._chunks(self._lines.flush())
        data = self._decoder.flush()
        if data is not None and (last := self._chunk(data)) is not None:
            chunks.append(last)
        self._assembler.finish()
        return chunks

    def _chunks(self, lines: list[str]) -> list[ChatChunk]:
        chunks = []
        for line in lines:
            data = self._decoder.feed(line)
            if data is not None and (chunk := self._chunk(data)) is not None:
                chunks.append(chunk)
        return chunks

    def _chunk(self, data: str) -> ChatChunk | None:
        delta = self._assembler.add(data)
        if delta is None:
            return None
        return ChatChunk(
            delta=delta.content,
            reasoning=delta.reasoning,
            tool_calls=delta.tool_calls,
            finish_reason=delta.finish_reason,
            usage=delta.usage,
            model=delta.model or self._info.id,
            cost_usd=self._cost,
            receipt=self._done.receipt,
        )


class BlockRunClient(_ClientBase):
    """Synchronous client. Pays per call with x402 from a local wallet, or with a brk_ key.

    >>> client = BlockRunClient(wallet_key=...)  # or BLOCKRUN_WALLET_KEY
    >>> client.chat(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    """

    def __init__(self, *, http_client: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._http = http_client or httpx.Client(**self._http_options())
        self._perform = sync_performer(self._http)

    def chat(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> ChatResult:
        """One chat completion; OpenAI parameters (``tools``, ``temperature``...) pass through."""
        exchange, info = self._exchange(
            model, messages, max_tokens=max_tokens, stream=False, params=params
        )
        done = drive(exchange.run(), self._perform)
        return self._result(done, info, ChatCompletion.from_json(done.response.content))

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> Iterator[ChatChunk]:
        """Stream a chat completion chunk by chunk; the payment is made before the first one."""
        exchange, info = self._exchange(
            model, messages, max_tokens=max_tokens, stream=True, params=params
        )
        done = drive(exchange.run(), self._perform)
        reader = _StreamReader(self, done, info)
        try:
            for raw in done.response.iter_bytes():
                yield from reader.feed(raw)
            yield from reader.finish()
        except httpx.TransportError as exc:
            raise _cut(info.id, exc) from exc
        finally:
            done.response.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> BlockRunClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncBlockRunClient(_ClientBase):
    """The asyncio twin of :class:`BlockRunClient`: same arguments, awaitable methods."""

    def __init__(self, *, http_client: httpx.AsyncClient | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._http = http_client or httpx.AsyncClient(**self._http_options())
        self._perform = async_performer(self._http)

    async def chat(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> ChatResult:
        """One chat completion; OpenAI parameters (``tools``, ``temperature``...) pass through."""
        exchange, info = self._exchange(
            model, messages, max_tokens=max_tokens, stream=False, params=params
        )
        done = await adrive(exchange.run(), self._perform)
        return self._result(done, info, ChatCompletion.from_json(done.response.content))

    async def stream(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> AsyncIterator[ChatChunk]:
        """Stream a chat completion chunk by chunk; the payment is made before the first one."""
        exchange, info = self._exchange(
            model, messages, max_tokens=max_tokens, stream=True, params=params
        )
        done = await adrive(exchange.run(), self._perform)
        reader = _StreamReader(self, done, info)
        try:
            async for raw in done.response.aiter_bytes():
                for chunk in reader.feed(raw):
                    yield chunk
            for chunk in reader.finish():
                yield chunk
        except httpx.TransportError as exc:
            raise _cut(info.id, exc) from exc
        finally:
            await done.response.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncBlockRunClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _cut(model: str, exc: httpx.TransportError) -> StreamTruncatedError:
    return StreamTruncatedError(
        f"{model}: the stream broke before the model finished ({type(exc).__name__})."
    )
