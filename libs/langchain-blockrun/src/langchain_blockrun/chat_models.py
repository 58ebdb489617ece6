"""``ChatBlockRun``: every BlockRun model as a LangChain chat model, paid per call."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator

from langchain_blockrun._clients import ClientCache
from langchain_blockrun._convert import PROVIDER, StreamConverter, to_chat_result, to_wire_messages
from langchain_blockrun._scope import SCOPE_KWARG, scope_from_config
from langchain_blockrun._tools import (
    StructuredMethod,
    ToolLike,
    format_tool_choice,
    format_tools,
    structured_output,
)
from langchain_blockrun._version import __version__
from langchain_blockrun.errors import mapped_errors

__all__ = ["ChatBlockRun"]

_WALLET_ENV = ("BLOCKRUN_WALLET_KEY", "BASE_CHAIN_WALLET_KEY")
_API_KEY_ENV = "BLOCKRUN_API_KEY"
# Never sent to the gateway: they shape the call in the core (or LangChain) instead.
_CALL_ONLY = frozenset({"stream", "budget", SCOPE_KWARG})
# Keyword names that look like credentials must not slip into model_kwargs (and the body).
_SECRET_WORDS = ("key", "secret", "password", "private", "mnemonic", "seed_phrase")


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class ChatBlockRun(BaseChatModel):
    """Chat with any model behind BlockRun's gateway, paid per call from a local wallet.

    ``model="auto"`` (or ``"eco"``, ``"premium"``, ``"free"``) routes each call to the
    cheapest capable model; a concrete id (``"openai/gpt-4o-mini"``) pins it. Every answer
    says what it cost and why its model was chosen: ``response_metadata["blockrun"]``.

    Example:
        ```python
        from langchain_blockrun import ChatBlockRun

        llm = ChatBlockRun(model="auto", max_cost_per_call=0.05)  # key from BLOCKRUN_WALLET_KEY
        answer = llm.invoke("What is 12 * 7?")
        print(answer.content, answer.response_metadata["blockrun"]["cost_usd"])
        ```
    """

    model: str = "auto"
    """A model id or alias, or a routing profile: auto, eco, premium, free."""
    wallet_key: SecretStr | None = None
    """x402 wallet key (``0x`` + 64 hex). Default: ``BLOCKRUN_WALLET_KEY``,
    ``BASE_CHAIN_WALLET_KEY``, then ``~/.blockrun/.session``."""
    api_key: SecretStr | None = None
    """A BlockRun account key (``brk_...``) instead of a wallet; default ``BLOCKRUN_API_KEY``."""
    api_url: str | None = None
    """The gateway; default ``BLOCKRUN_API_URL``, else https://blockrun.ai/api."""
    budget: Any = Field(default=None, exclude=True)
    """A ``blockrun_core.Budget`` every call of this model draws from."""
    ledger: Any = Field(default=None, exclude=True)
    """Where usage rows go: a ``blockrun_core.ledger.Ledger``, a path, or False for none
    (default: ``~/.blockrun/usage.sqlite3``)."""
    max_cost_per_call: float | None = None
    """Refuse to sign any single payment above this many USD (default $1)."""
    max_tokens: int = Field(default=1024, ge=1)
    """Output ceiling per call; it also sets the price quoted for the call."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    """Sampling temperature from 0 to 2; default: the model's own."""
    timeout: float | None = Field(default=None, gt=0)
    """Seconds per request (connecting is capped at 10 s)."""
    max_retries: int = Field(default=2, ge=0)
    """Retries of unpaid requests to one model; a signed payment is never re-signed."""
    streaming: bool = False
    """Whether ``invoke`` streams under the hood (callbacks then see every token)."""
    stream_usage: bool = True
    """Whether the last chunk of a stream carries token usage."""
    fallback_models: list[str] | None = None
    """Models tried in order when a concrete ``model`` fails transiently."""
    stop: list[str] | None = None
    """Stop sequences for every call."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other OpenAI parameters for every call (``top_p``, ``seed``...)."""

    model_config = ConfigDict(populate_by_name=True)

    _clients: ClientCache | None = PrivateAttr(default=None)
    _clients_owner: int = PrivateAttr(default=0)

    # ------------------------------------------------------------------ construction

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._check_credentials()
        self._check_model()

    @model_validator(mode="before")
    @classmethod
    def _read_environment(cls, values: Any) -> Any:
        """Keys from the environment, with the core's precedence; extras to model_kwargs."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        if values.get("wallet_key") is None and values.get("api_key") is None:
            # An account key in the environment wins over a wallet from the environment.
            if (api_key := _env(_API_KEY_ENV)) is not None:
                values["api_key"] = api_key
            elif (wallet_key := _env(*_WALLET_ENV)) is not None:
                values["wallet_key"] = wallet_key
        return _move_extras(cls, values)

    @field_validator("max_cost_per_call")
    @classmethod
    def _check_cap(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value >= 1e-6):
            raise ValueError("max_cost_per_call must be a finite number of USD >= 0.000001.")
        return value

    @field_validator("budget")
    @classmethod
    def _check_budget(cls, value: Any) -> Any:
        if value is not None:
            from blockrun_core import Budget

            if not isinstance(value, Budget):
                raise ValueError(
                    f"budget must be a blockrun_core.Budget, not {type(value).__name__}."
                )
        return value

    @model_validator(mode="after")
    def _set_blockrun_version(self) -> ChatBlockRun:
        self._add_version("langchain-blockrun", __version__)
        return self

    def __getstate__(self) -> dict[str, Any]:
        # A pickle never carries the keys, nor the clients (which hold the signer): an
        # unpickled ChatBlockRun reads its credentials from the environment again.
        state = super().__getstate__()
        state["__dict__"] = {**state["__dict__"], "wallet_key": None, "api_key": None}
        private = state.get("__pydantic_private__") or {}
        state["__pydantic_private__"] = {**private, "_clients": None, "_clients_owner": 0}
        return state

    def _check_credentials(self) -> None:
        from blockrun_core.config import resolve_credentials

        with mapped_errors():
            resolve_credentials(
                wallet_key=_secret(self.wallet_key),
                api_key=_secret(self.api_key),
                api_url=self.api_url,
            )

    def _check_model(self) -> None:
        from blockrun_core.router.types import resolve_profile

        if resolve_profile(self.model) is None:
            from blockrun_core.catalog import default_catalog

            with mapped_errors():
                default_catalog().get(self.model)

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "api_url": self.api_url,
            "wallet_key": _secret(self.wallet_key),
            "api_key": _secret(self.api_key),
            "max_retries": self.max_retries,
            "timeout": self.timeout,
        }
        if self.max_cost_per_call is not None:
            from blockrun_core import PaymentPolicy

            options["payment_policy"] = PaymentPolicy(max_per_call_usd=self.max_cost_per_call)
        if self.fallback_models:
            options["fallback_models"] = tuple(self.fallback_models)
        if self.ledger is not None:
            options["ledger"] = self.ledger
        return options

    def _cache(self) -> ClientCache:
        """This instance's core clients, made on first use."""
        # A copy (model_copy(update=...)) shares its original's private attributes; it
        # must get clients built from its own settings (its own cap, key and URL).
        if self._clients is None or self._clients_owner != id(self):
            self._clients = ClientCache(self._client_options)
            self._clients_owner = id(self)
        return self._clients

    def close(self) -> None:
        """Close this model's connections to the gateway (they reopen on the next call)."""
        self._cache().close()

    async def aclose(self) -> None:
        """Close the running event loop's connections to the gateway."""
        await self._cache().aclose()

    # ------------------------------------------------------------------ LangChain hooks

    @property
    def _llm_type(self) -> str:
        return "blockrun-chat"

    @property
    def model_name(self) -> str:
        """The requested model (LangChain's usual name for it)."""
        return self.model

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Secret fields and the environment variables they load from; never serialised."""
        return {"wallet_key": _WALLET_ENV[0], "api_key": _API_KEY_ENV}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """True: the model serialises with ``dumpd``, its secrets as references only."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """The namespace ``load`` uses to find this class: ``langchain_blockrun.chat_models``."""
        return ["langchain_blockrun", "chat_models"]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stop": self.stop,
            "max_cost_per_call": self.max_cost_per_call,
            "fallback_models": self.fallback_models,
            **self.model_kwargs,
        }
        return {key: value for key, value in params.items() if value is not None}

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        # What traces show: the budget by name, never the object or the scope plumbing.
        kwargs.pop(SCOPE_KWARG, None)
        if kwargs.get("budget") is not None:
            kwargs["budget"] = getattr(kwargs["budget"], "name", str(kwargs["budget"]))
        return super()._get_invocation_params(stop=stop, **kwargs)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=kwargs.get("model", self.model),
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        params["ls_max_tokens"] = kwargs.get("max_tokens", self.max_tokens)
        if stops := stop or kwargs.get("stop") or self.stop:
            params["ls_stop"] = list(stops)
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        from langchain_blockrun._profile import model_profile

        return model_profile(self.model)

    # ------------------------------------------------------------------ calls

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """The core ``chat``/``stream`` arguments of one call (shared by all four paths)."""
        params = {**self.model_kwargs, **kwargs}
        scope: dict[str, Any] = params.get(SCOPE_KWARG) or {}
        # The most specific budget wins: this call's keyword, the run config, the model's.
        budget = next(
            (b for b in (params.get("budget"), scope.get("budget"), self.budget) if b is not None),
            None,
        )
        request: dict[str, Any] = {
            key: value for key, value in params.items() if key not in _CALL_ONLY
        }
        request["model"] = request.get("model") or self.model
        request["messages"] = to_wire_messages(messages)
        request.setdefault("max_tokens", self.max_tokens)
        if self.temperature is not None:
            request.setdefault("temperature", self.temperature)
        if stops := stop or request.pop("stop", None) or self.stop:
            request["stop"] = list(stops)
        if budget is not None:
            request["budget"] = budget
        for name in ("run_id", "thread_id", "agent_id"):
            if scope.get(name) is not None:
                request[name] = scope[name]
        if scope.get("thread_id") is not None:
            request.setdefault("session_id", scope["thread_id"])  # route pins per thread
        return request

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        with mapped_errors():
            result = self._cache().sync().chat(**request)
        return to_chat_result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        with mapped_errors():
            result = await self._cache().for_running_loop().chat(**request)
        return to_chat_result(result)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        converter = StreamConverter(include_usage=self.stream_usage)
        with mapped_errors():
            for piece in self._cache().sync().stream(**request):
                if (chunk := converter.feed(piece)) is not None:
                    if run_manager is not None:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        chunk = converter.finish()
        if run_manager is not None:
            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, kwargs)
        converter = StreamConverter(include_usage=self.stream_usage)
        with mapped_errors():
            async for piece in self._cache().for_running_loop().stream(**request):
                if (chunk := converter.feed(piece)) is not None:
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        chunk = converter.finish()
        if run_manager is not None:
            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        yield chunk

    # The run config reaches the model only through these entry points: read the budget
    # and the ids there and hand them to the four methods above as one keyword.

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Answer one input.

        ``config={"configurable": {"blockrun_budget": budget}}`` sets the call's budget
        (and that of everything a graph runs inside it); the run, thread and agent ids
        recorded in the ledger come from the config as well.
        """
        return super().invoke(input, config, stop=stop, **_scoped(config, kwargs))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """The awaitable :meth:`invoke`."""
        return await super().ainvoke(input, config, stop=stop, **_scoped(config, kwargs))

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Stream the answer as chunks, with the budget and ids read from ``config``."""
        return super().stream(input, config, stop=stop, **_scoped(config, kwargs))

    def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """The asynchronous :meth:`stream`."""
        return super().astream(input, config, stop=stop, **_scoped(config, kwargs))

    # ------------------------------------------------------------------ tools

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: str | bool | Mapping[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` to the model; with tools bound, ``auto`` routes to tool models.

        Args:
            tools: LangChain tools, functions, pydantic models, TypedDicts or OpenAI dicts.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (some
                tool), a tool's name, or an OpenAI ``tool_choice`` dict.
            strict: Ask for schema-exact arguments (OpenAI ``strict``).
            parallel_tool_calls: Allow (default) or forbid several calls in one turn.
            **kwargs: Other parameters for every call (e.g. ``response_format``).
        """
        formatted = format_tools(tools, strict=strict)
        choice = format_tool_choice(tool_choice, formatted)
        if choice is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: Mapping[str, Any] | type | None = None,
        *,
        method: StructuredMethod = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Answers parsed into ``schema`` (a pydantic model, TypedDict or JSON schema).

        Args:
            schema: The output shape; ``None`` only with ``method="json_mode"``.
            method: ``"function_calling"`` (a forced tool call; works with every tool
                model), ``"json_schema"`` (``response_format`` with the schema) or
                ``"json_mode"`` (any JSON object).
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of raising
                on a parsing error.
            strict: Ask for schema-exact output where the model supports it.
        """
        if kwargs:
            raise ValueError(f"Unsupported arguments for with_structured_output: {kwargs}")
        return structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict
        )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _scoped(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    if SCOPE_KWARG in kwargs:
        return kwargs
    scope = scope_from_config(config)
    return {**kwargs, SCOPE_KWARG: scope} if scope else kwargs


def _move_extras(cls: type[ChatBlockRun], values: dict[str, Any]) -> dict[str, Any]:
    """Unknown keyword arguments go to ``model_kwargs`` (credential-like names refused)."""
    known = set(cls.model_fields) | {
        field.alias for field in cls.model_fields.values() if field.alias
    }
    extras = {key: values.pop(key) for key in list(values) if key not in known}
    if not extras:
        return values
    for key in extras:
        if any(word in key.lower() for word in _SECRET_WORDS) and key != "max_tokens":
            raise ValueError(
                f"Unknown parameter {key!r} looks like a credential and would be sent in every "
                "request; pass the wallet key as wallet_key= or an account key as api_key=."
            )
    model_kwargs = dict(values.get("model_kwargs") or {})
    if clash := set(extras) & set(model_kwargs):
        raise ValueError(f"{sorted(clash)} given both directly and in model_kwargs.")
    warnings.warn(
        f"{sorted(extras)} are not ChatBlockRun fields; they are sent to the gateway as "
        "model_kwargs with every request.",
        UserWarning,
        stacklevel=4,
    )
    values["model_kwargs"] = {**model_kwargs, **extras}
    return values
