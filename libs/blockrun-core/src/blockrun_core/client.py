"""``BlockRunClient`` and ``AsyncBlockRunClient``: chat with any BlockRun model, paid safely."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import httpx

from .accounting import CallRecord
from .catalog import Catalog, ModelInfo, default_catalog, estimate_input_tokens, quote_micros
from .chain import Served, walk
from .config import Credentials, resolve_credentials
from .errors import (
    BudgetExceededError,
    ConfigurationError,
    CredentialError,
    NoCapableModelError,
    StreamTruncatedError,
)
from .exchange import CallSpec, Exchange, Exchanged
from .preauth import PreauthCache
from .results import ChatChunk, ChatResult, Payment
from .router.types import Profile, RoutingDecision, resolve_profile
from .routing_state import Cooldowns, SessionPins
from .transport import (
    POOL_CONNECTIONS,
    USER_AGENT,
    AsyncCookielessClient,
    CallGate,
    CookielessClient,
    Flow,
    Invoke,
    adrive,
    async_performer,
    drive,
    make_timeout,
    sync_performer,
)
from .wire import (
    SSEDecoder,
    SSELineDecoder,
    StreamAssembler,
    build_chat_body,
    encode_body,
)
from .x402 import PayeePin, PaymentPolicy, network_for_url

if TYPE_CHECKING:
    from .budget import Budget
    from .ledger import Ledger, UsageRecord
    from .wire import Usage

__all__ = ["AsyncBlockRunClient", "BlockRunClient"]

Message = Mapping[str, Any]
logger = logging.getLogger("blockrun")
_UNSET: Any = object()
# Ledger statuses where money moved (or may have): their rows are committed before returning.
_MONEY_STATUSES = frozenset({"settled", "in_doubt", "account"})


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
        fallback_models: Sequence[str] = (),
        allow_second_spend: bool = False,
        cooldown_seconds: float = 60.0,
        pin_sessions: bool = True,
        budget: Budget | None = None,
        ledger: Ledger | str | os.PathLike[str] | Literal[False] | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.budget = _check_budget(budget)
        self._ledger_option = ledger
        self._ledger: Ledger | None = _UNSET
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
        self._payee_pin = PayeePin()
        self._backoff_seconds = 0.5
        self.fallback_models = tuple(fallback_models)
        self.allow_second_spend = allow_second_spend
        self.pin_sessions = pin_sessions
        self._cooldowns = Cooldowns(cooldown_seconds)
        self._pins = SessionPins()
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
        if not hasattr(self, "_credentials"):  # construction failed before resolving them
            return f"{type(self).__name__}(<not configured>)"
        return (
            f"{type(self).__name__}(api_url={self.api_url!r}, rail={self.rail!r}, "
            f"address={self.address!r})"
        )

    def _http_options(self) -> dict[str, Any]:
        limits = httpx.Limits(max_connections=POOL_CONNECTIONS, max_keepalive_connections=20)
        return {"timeout": self._timeout, "follow_redirects": False, "limits": limits}

    def _request_headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "user-agent": USER_AGENT}
        if self._credentials.api_key:
            headers["authorization"] = f"Bearer {self._credentials.api_key}"
        return headers

    @property
    def ledger(self) -> Ledger | None:
        """Where usage rows go (``None`` when turned off); opened on first use."""
        if self._ledger is _UNSET:
            from .ledger import resolve_ledger

            self._ledger = resolve_ledger(self._ledger_option)
        return self._ledger

    def _plan(
        self,
        model: str,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        stream: bool,
        params: dict[str, Any],
    ) -> tuple[Flow[Served], CallRecord]:
        """The walk over the chain of models for one call, and the record it fills."""
        fallback = params.pop("fallback_models", None)
        session_id = params.pop("session_id", None)
        budget = _check_budget(params.pop("budget", None)) or self.budget
        call = CallRecord(
            model,
            messages,
            budget,
            run_id=params.pop("run_id", None),
            thread_id=params.pop("thread_id", None),
            agent_id=params.pop("agent_id", None),
        )
        cooling = self._cooldowns.active()
        profile = resolve_profile(model)
        if profile is None:
            ids = [model, *(self.fallback_models if fallback is None else fallback)]
            chain = _ready(_unique(self.catalog.get(m) for m in ids), cooling)
        else:
            pinned = self._pins.get(session_id) if session_id and self.pin_sessions else None
            call.decision = self._route(profile, messages, max_tokens, params, cooling, pinned)
            if self._credentials.rail == "none":
                call.decision = self._free_only(
                    call.decision, messages, max_tokens, params, cooling
                )
            ids = [*call.decision.candidates, *(fallback or ())]
            chain = _unique(self.catalog.get(m) for m in ids)
        input_tokens: int | None = None  # the same for every model of the chain: count once
        billed = self._credentials.rail in ("wallet", "account")

        bodies: dict[str, dict[str, Any]] = {}

        def body_for(info: ModelInfo) -> dict[str, Any]:
            body = bodies.get(info.id)
            if body is None:
                body = bodies[info.id] = build_chat_body(
                    model=info.id, messages=messages, max_tokens=max_tokens, stream=stream, **params
                )
            return body

        def quote(info: ModelInfo, body: Mapping[str, Any]) -> int:
            nonlocal input_tokens
            if not billed or info.is_free:
                return 0
            if input_tokens is None:
                input_tokens = estimate_input_tokens(body)
            return quote_micros(info, body, input_tokens=input_tokens)

        def start(info: ModelInfo, single: bool) -> Exchange:
            body = body_for(info)
            spec = CallSpec(
                url=self._chat_url,
                body=encode_body(body),
                headers=self._request_headers(),
                model=info.id,
                stream=stream,
                credentials=self._credentials,
                policy=self.payment_policy,
                network=self._network,
                local_quote_micros=quote(info, body),
                max_retries=self.max_retries if single else 0,
                backoff_seconds=self._backoff_seconds,
                budget=budget,
                payee_pin=self._payee_pin,
            )
            exchange = Exchange(spec, self._preauth)
            call.exchanges.append(exchange)
            return exchange

        def walk_chain() -> Flow[Served]:
            models = chain
            graceful = budget is not None and budget.mode == "graceful"
            if graceful and budget is not None:
                prices = {info.id: quote(info, body_for(info)) for info in chain}
                models = yield from self._within_budget(
                    call, budget, chain, prices, profile, messages, max_tokens, params, cooling
                )
            single = len(models) == 1
            return (
                yield from walk(
                    models,
                    lambda info: start(info, single),
                    stream=stream,
                    cooldowns=self._cooldowns,
                    pins=self._pins,
                    session_id=session_id if profile is not None and self.pin_sessions else None,
                    allow_second_spend=self.allow_second_spend,
                    move_on_budget=graceful,
                )
            )

        def flow() -> Flow[Served]:
            """The walk, then its ledger rows (a stream writes its own when it ends)."""
            try:
                served = yield from walk_chain()
            except GeneratorExit:
                raise
            except BaseException as exc:
                yield from self._write(self._rows(call, None, error=exc))
                raise
            if served.completion is not None:
                answer = served.completion
                rows = self._rows(
                    call,
                    served,
                    model=answer.model or served.info.id,
                    usage=answer.usage,
                    text=answer.content,
                )
                yield from self._write(rows)
            return served

        return flow(), call

    def _within_budget(
        self,
        call: CallRecord,
        budget: Budget,
        chain: tuple[ModelInfo, ...],
        prices: Mapping[str, int],
        profile: Profile | None,
        messages: Sequence[Message],
        max_tokens: int,
        params: Mapping[str, Any],
        cooling: frozenset[str],
    ) -> Flow[tuple[ModelInfo, ...]]:
        """Graceful mode: the models whose quote still fits, then free ones, else raise."""
        available = yield Invoke(budget.available_micros, budget.aavailable_micros)
        fitting = [info for info in chain if prices[info.id] <= available]
        if profile is not None and profile != "free":
            try:
                free = self._route("free", messages, max_tokens, params, cooling, None)
            except NoCapableModelError:
                pass  # no free model can serve it (tools, vision...): only what fits
            else:
                fitting += [self.catalog.get(m) for m in free.candidates]
        models = _unique(fitting)
        if not models:
            state = yield Invoke(budget.state, budget.astate)
            raise BudgetExceededError(
                budget=budget.name,
                limit_usd=budget.limit_usd,
                spent_usd=state.spent_usd,
                requested_usd=min(prices.values(), default=0) / 1e6,
                reserved_usd=state.reserved_usd,
            )
        decision = call.decision
        if decision is not None and models[0].id != chain[0].id:
            price = prices.get(models[0].id, 0) / 1e6
            baseline = decision.baseline_cost_usd
            call.decision = dataclasses.replace(
                decision,
                model=models[0].id,
                candidates=tuple(info.id for info in models),
                estimated_cost_usd=price,
                savings=max(0.0, 1 - price / baseline) if baseline > 0 else 0.0,
                downgraded_by=budget.name,
                signals=(
                    *decision.signals,
                    f"budget {budget.name!r}: ${available / 1e6:.6f} left, below the "
                    f"${prices[chain[0].id] / 1e6:.6f} quote of {chain[0].id}; downgraded",
                ),
            )
        return models

    def _free_only(
        self,
        decision: RoutingDecision,
        messages: Sequence[Message],
        max_tokens: int,
        params: Mapping[str, Any],
        cooling: frozenset[str],
    ) -> RoutingDecision:
        """No wallet and no account key: only free models can answer, so only they are tried
        (rather than a 402 from every paid candidate first)."""
        free = [m for m in decision.candidates if self.catalog.get(m).is_free]
        if len(free) == len(decision.candidates):
            return decision
        try:  # the free profile's chain behind them, as fallbacks
            free += self._route("free", messages, max_tokens, params, cooling, None).candidates
        except NoCapableModelError as exc:
            if not free:
                raise CredentialError(
                    f"No wallet or account key is configured, so only free models can answer, "
                    f"and none can serve this request: {exc.message} Set BLOCKRUN_WALLET_KEY "
                    "(or pass wallet_key=) to use paid models."
                ) from None
        free = list(dict.fromkeys(free))
        return dataclasses.replace(
            decision,
            model=free[0],
            candidates=tuple(free),
            estimated_cost_usd=0.0,
            savings=1.0 if decision.baseline_cost_usd > 0 else 0.0,
            signals=(*decision.signals, "no wallet or account key: free models only"),
        )

    def _route(
        self,
        profile: Profile,
        messages: Sequence[Message],
        max_tokens: int,
        params: Mapping[str, Any],
        cooling: frozenset[str],
        pinned: str | None,
    ) -> RoutingDecision:
        from .router import route

        return route(
            messages,
            profile=profile,
            tools=params.get("tools"),
            tool_choice=params.get("tool_choice"),
            response_format=params.get("response_format"),
            max_tokens=max_tokens,
            exclude=cooling,
            catalog=self.catalog,
            pinned=pinned,
        )

    def _cost(self, done: Exchanged) -> tuple[float | None, Payment | None]:
        if self._credentials.rail == "account":
            return None, None
        paid = done.payment
        if paid is None:
            return 0.0, None
        payment = Payment(paid.amount_micros, paid.network, paid.payer, paid.pay_to)
        return payment.amount_usd, payment

    def _result(self, served: Served, call: CallRecord) -> ChatResult:
        done = served.done
        self.round_trips += served.round_trips
        assert served.completion is not None
        cost, payment = self._cost(done)
        return ChatResult(
            response=served.completion,
            requested_model=served.info.id,
            cost_usd=cost,
            payment=payment,
            receipt=done.receipt,
            round_trips=served.round_trips,
            request_id=done.response.headers.get("x-blockrun-request-id"),
            routing=call.decision,
            attempts=served.attempts,
        )

    def _rows(
        self,
        call: CallRecord,
        served: Served | None,
        *,
        model: str | None = None,
        usage: Usage | None = None,
        text: str | None = None,
        error: BaseException | None = None,
    ) -> list[UsageRecord]:
        ledger = self.ledger
        if ledger is None or not call.exchanges:
            return []
        receipt = served.done.receipt if served is not None else None
        return call.rows(
            served=call.exchanges[-1] if served is not None else None,
            served_model=model,
            usage=usage,
            tx_hash=receipt.transaction if receipt is not None else None,
            response_text=text,
            error=error,
            failures=served.attempts if served is not None else (),
            with_text=ledger.store_text,
        )

    def _write(self, rows: list[UsageRecord]) -> Flow[None]:
        """Write usage rows; a ledger failure is logged, never allowed to fail a call."""
        ledger = self.ledger
        if ledger is None or not rows:
            return
        # Where money moved (or may have), the row is on disk before the caller sees the
        # answer; a free or refused call does not wait for the commit.
        wait = any(row.paid_usd or row.status in _MONEY_STATUSES for row in rows)
        try:
            # one transaction: a call's attempts land together
            if wait:
                yield Invoke(lambda: ledger.record_many(rows), lambda: ledger.arecord_many(rows))
            else:  # queuing never blocks: no need to leave the flow for it
                ledger.record_many(rows, wait=False)
        except Exception:
            logger.warning("could not write the usage ledger", exc_info=True)


def _check_budget(budget: object) -> Budget | None:
    if budget is None:
        return None
    from .budget import Budget

    if not isinstance(budget, Budget):
        raise ConfigurationError(f"budget must be a blockrun_core.Budget, not {budget!r}.")
    return budget


def _unique(infos: Iterable[ModelInfo]) -> tuple[ModelInfo, ...]:
    return tuple({info.id: info for info in infos}.values())


def _ready(chain: tuple[ModelInfo, ...], cooling: frozenset[str]) -> tuple[ModelInfo, ...]:
    """The chain without models cooling down, unless that would leave nothing to try."""
    return tuple(info for info in chain if info.id not in cooling) or chain


class _StreamReader:
    """Turns SSE lines of one paid or free stream into chunks; shared by sync and async."""

    def __init__(self, client: _ClientBase, served: Served, call: CallRecord) -> None:
        self._client = client
        self._served = served
        self._call = call
        self._done = served.done
        self._info = served.info
        self._routing = call.decision
        self._usage: Usage | None = None
        self._model: str | None = None
        self._cost, _ = client._cost(served.done)
        self._lines = SSELineDecoder()
        self._decoder = SSEDecoder()
        self._assembler = StreamAssembler()
        client.round_trips += served.round_trips

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
        self._usage = delta.usage or self._usage
        self._model = delta.model or self._model
        return ChatChunk(
            delta=delta.content,
            reasoning=delta.reasoning,
            tool_calls=delta.tool_calls,
            finish_reason=delta.finish_reason,
            usage=delta.usage,
            model=delta.model or self._info.id,
            cost_usd=self._cost,
            receipt=self._done.receipt,
            routing=self._routing,
        )

    def rows(self, error: BaseException | None) -> list[UsageRecord]:
        """The ledger rows of this stream, once it has ended (``error``: how it broke)."""
        return self._client._rows(
            self._call, self._served, model=self._model, usage=self._usage, error=error
        )


class BlockRunClient(_ClientBase):
    """Synchronous client. Pays per call with x402 from a local wallet, or with a brk_ key.

    >>> client = BlockRunClient(wallet_key=...)  # or BLOCKRUN_WALLET_KEY
    >>> client.chat(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    All arguments are keyword-only; :class:`AsyncBlockRunClient` takes the same ones.

    Other Parameters:
        api_url: The gateway. Default: ``BLOCKRUN_API_URL``, else ``https://blockrun.ai/api``.
            Plain HTTP is accepted for loopback hosts only.
        wallet_key: The x402 wallet key (``0x`` + 64 hex). Default: ``BLOCKRUN_WALLET_KEY``,
            ``BASE_CHAIN_WALLET_KEY``, then ``~/.blockrun/.session``.
        api_key: A BlockRun account key (``brk_...``) instead of a wallet; default
            ``BLOCKRUN_API_KEY``. Passing both keys is refused.
        payment_policy: Limits checked before anything is signed (default: at most $1 a
            call, the network the URL implies, the treasury first paid).
        timeout: Seconds per request, or an ``httpx.Timeout`` (default: 120 s to read,
            10 s to connect).
        max_retries: Retries of unpaid requests to one model; a signed payment is never
            signed again.
        catalog: The model catalog (default: the bundled snapshot).
        fallback_models: Models tried in order when a concrete model fails transiently.
        allow_second_spend: Whether the fallback walk may move on to another model after a
            payment went through (a second, separately recorded spend). Off by default.
        cooldown_seconds: How long a failed model is skipped by routing and fallbacks.
        pin_sessions: Keep the model a routed ``session_id`` was first served by.
        budget: A :class:`~blockrun_core.budget.Budget` every call draws from.
        ledger: Where usage rows go: a :class:`~blockrun_core.ledger.Ledger`, a path, or
            ``False`` for none (default: ``$BLOCKRUN_HOME/usage.sqlite3``).
        http_client: An ``httpx.Client`` to send through (default: one of our own).
    """

    def __init__(self, *, http_client: httpx.Client | None = None, **options: Any) -> None:
        super().__init__(**options)
        self._http = http_client or CookielessClient(**self._http_options())
        self._perform = sync_performer(self._http)

    def chat(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> ChatResult:
        """One chat completion; OpenAI parameters (``tools``, ``temperature``...) pass through.

        Core options per call: ``budget``, ``fallback_models``, ``session_id``, and
        ``run_id`` / ``thread_id`` / ``agent_id`` for the usage ledger.
        """
        flow, call = self._plan(model, messages, max_tokens=max_tokens, stream=False, params=params)
        return self._result(drive(flow, self._perform), call)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> Iterator[ChatChunk]:
        """Stream a chat completion chunk by chunk; the payment is made before the first one."""
        flow, call = self._plan(model, messages, max_tokens=max_tokens, stream=True, params=params)
        served = drive(flow, self._perform)
        done, info = served.done, served.info
        reader = _StreamReader(self, served, call)
        broke: BaseException | None = None
        try:
            for raw in done.response.iter_bytes():
                yield from reader.feed(raw)
            yield from reader.finish()
        except httpx.TransportError as exc:
            broke = _cut(info.id, exc)
            raise broke from exc
        except BaseException as exc:
            broke = exc
            raise
        finally:
            done.response.close()
            drive(self._write(reader.rows(broke)), self._perform)

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
        self._http = http_client or AsyncCookielessClient(**self._http_options())
        self._perform = async_performer(self._http)
        # Bursts of calls wait here rather than in httpx's pool queue (see CallGate); a
        # client given its own http_client manages its own pool.
        self._gate = CallGate(POOL_CONNECTIONS) if http_client is None else None

    async def chat(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> ChatResult:
        """One chat completion; OpenAI parameters (``tools``, ``temperature``...) pass through.

        Core options per call: ``budget``, ``fallback_models``, ``session_id``, and
        ``run_id`` / ``thread_id`` / ``agent_id`` for the usage ledger.
        """
        flow, call = self._plan(model, messages, max_tokens=max_tokens, stream=False, params=params)
        async with self._slot():
            return self._result(await adrive(flow, self._perform), call)

    async def stream(
        self,
        *,
        model: str,
        messages: Sequence[Message],
        max_tokens: int = 1024,
        **params: Any,
    ) -> AsyncIterator[ChatChunk]:
        """Stream a chat completion chunk by chunk; the payment is made before the first one."""
        flow, call = self._plan(model, messages, max_tokens=max_tokens, stream=True, params=params)
        async with self._slot():  # held while the stream's connection is
            served = await adrive(flow, self._perform)
            done, info = served.done, served.info
            reader = _StreamReader(self, served, call)
            broke: BaseException | None = None
            try:
                async for raw in done.response.aiter_bytes():
                    for chunk in reader.feed(raw):
                        yield chunk
                for chunk in reader.finish():
                    yield chunk
            except httpx.TransportError as exc:
                broke = _cut(info.id, exc)
                raise broke from exc
            except BaseException as exc:
                broke = exc
                raise
            finally:
                await done.response.aclose()
                await adrive(self._write(reader.rows(broke)), self._perform)

    def _slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """A place among the calls in flight (see :class:`CallGate`)."""
        if self._gate is None:
            return contextlib.nullcontext()
        return self._gate.slot(self._timeout.pool)

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
