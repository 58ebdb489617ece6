"""``BlockRunLLM``: every BlockRun model as a LlamaIndex ``FunctionCallingLLM``.

Built on ``blockrun_core``'s clients: routing (``model="auto"``), budgets, payment
policy, fallbacks and the x402 payment itself happen there; this module converts
LlamaIndex messages, tools and responses, and reports each call's cost and routing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from blockrun_core.config import resolve_credentials
from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.callbacks import CallbackManager
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.types import BaseOutputParser, Model, PydanticProgramMode

from .events import dispatcher, emit, reporting_in_doubt
from .messages import to_wire_messages
from .responses import CallReport, StreamFolder, to_chat_response
from .structured import response_format_for
from .tools import force_single_tool_call, tool_params, tool_selections
from .traits import ModelTraits, traits_for

if TYPE_CHECKING:
    from blockrun_core import AsyncBlockRunClient, BlockRunClient, ChatResult
    from llama_index.core.prompts import BasePromptTemplate
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_MAX_TOKENS", "BlockRunLLM"]

DEFAULT_MAX_TOKENS = 1024

_NOT_PICKLED = frozenset({"_wallet_key", "_api_key", "_client", "_aclient", "_aclient_loop"})


class BlockRunLLM(FunctionCallingLLM):
    """BlockRun's models behind one wallet, as a LlamaIndex function-calling LLM.

    Calls are paid per request in USDC with x402 from a local wallet (``wallet_key`` or
    ``BLOCKRUN_WALLET_KEY``), or billed to a ``brk_`` account key (``api_key``).
    ``model="auto"`` (or ``"eco"``, ``"premium"``, ``"free"``) lets the router pick the
    cheapest capable model per request; a catalog id such as ``"openai/gpt-4o-mini"``
    pins one. Every response carries the served model, its cost, the routing decision
    and the payment receipt in ``additional_kwargs``, and each call emits a
    :class:`~llama_index.llms.blockrun.BlockRunCallEvent`.

    Errors are ``blockrun_core``'s: ``ConfigurationError`` (bad key, URL or model),
    ``PaymentRefusedError`` (a quote above ``max_cost_per_call``),
    ``BudgetExceededError``, ``RateLimitError``, ``UpstreamError`` and the rest of
    the tree; each carries ``retryable``.

    Example:
        ```python
        from llama_index.core import Settings
        from llama_index.llms.blockrun import BlockRunLLM

        Settings.llm = BlockRunLLM(model="auto", max_cost_per_call=0.05)
        ```
    """

    model: str = Field(
        default="auto",
        description="A routing profile (auto, eco, premium, free) or a catalog model id.",
    )
    api_url: str | None = Field(
        default=None, description="Gateway URL; unset uses BLOCKRUN_API_URL or blockrun.ai."
    )
    max_tokens: int = Field(
        default=DEFAULT_MAX_TOKENS, gt=0, description="Most tokens to generate per call."
    )
    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="Sampling temperature; unset: the model's."
    )
    timeout: float | None = Field(default=None, gt=0, description="HTTP timeout in seconds.")
    max_retries: int = Field(
        default=2, ge=0, description="Retries of transient failures (never a second payment)."
    )
    max_cost_per_call: float | None = Field(
        default=None,
        gt=0,
        description="Refuse to sign any payment above this many USD (unset: the core's $1).",
    )
    fallback_models: list[str] = Field(
        default_factory=list, description="Models tried in turn when a concrete model fails."
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request parameters sent with every call."
    )
    context_window: int | None = Field(
        default=None, gt=0, description="Override the catalog's context window."
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override the catalog's tool-calling support."
    )
    strict: bool = Field(default=False, description="Ask for strict tool-argument schemas.")
    agent_id: str | None = Field(
        default=None, description="Who is calling, for the usage ledger (e.g. an agent name)."
    )
    budget: Any = Field(
        default=None,
        exclude=True,
        description="A blockrun_core.Budget every call reserves from before paying.",
    )
    ledger: Any = Field(
        default=None,
        exclude=True,
        description="Usage ledger: a blockrun_core Ledger or a path; False turns it off.",
    )

    _wallet_key: SecretStr | None = PrivateAttr(default=None)
    _api_key: SecretStr | None = PrivateAttr(default=None)
    _address: str | None = PrivateAttr(default=None)
    _traits: tuple[str, ModelTraits] | None = PrivateAttr(default=None)
    _payload: tuple[tuple[Any, ...], dict[str, Any]] | None = PrivateAttr(default=None)
    _client: BlockRunClient | None = PrivateAttr(default=None)
    _aclient: AsyncBlockRunClient | None = PrivateAttr(default=None)
    _aclient_loop: asyncio.AbstractEventLoop | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = "auto",
        *,
        wallet_key: str | None = None,
        api_key: str | None = None,
        api_url: str | None = None,
        budget: Any = None,
        ledger: Any = None,
        max_cost_per_call: float | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        temperature: float | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        fallback_models: Sequence[str] | None = None,
        additional_kwargs: Mapping[str, Any] | None = None,
        context_window: int | None = None,
        is_function_calling_model: bool | None = None,
        strict: bool = False,
        agent_id: str | None = None,
        callback_manager: CallbackManager | None = None,
        system_prompt: str | None = None,
        output_parser: BaseOutputParser | None = None,
        pydantic_program_mode: PydanticProgramMode = PydanticProgramMode.DEFAULT,
        **kwargs: Any,
    ) -> None:
        # Checked now, not at the first call: a bad key, URL or model fails at once.
        credentials = resolve_credentials(wallet_key=wallet_key, api_key=api_key, api_url=api_url)
        traits = traits_for(model)
        _check_budget(budget)
        super().__init__(
            model=model,
            api_url=api_url,
            budget=budget,
            ledger=ledger,
            max_cost_per_call=max_cost_per_call,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=timeout,
            max_retries=max_retries,
            fallback_models=list(fallback_models or ()),
            additional_kwargs=dict(additional_kwargs or {}),
            context_window=context_window,
            is_function_calling_model=is_function_calling_model,
            strict=strict,
            agent_id=agent_id,
            callback_manager=callback_manager,
            system_prompt=system_prompt,
            output_parser=output_parser,
            pydantic_program_mode=pydantic_program_mode,
            **kwargs,
        )
        self._wallet_key = SecretStr(wallet_key) if wallet_key else None
        self._api_key = SecretStr(api_key) if api_key else None
        self._address = credentials.signer.address if credentials.signer else None
        self._traits = (model, traits)
        if max_cost_per_call is not None:
            self._payment_policy()  # the core's own checks on the cap, now

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "blockrun_llm"

    def __getstate__(self) -> dict[str, Any]:
        # A pickle never carries the keys (nor the clients, which hold the signer): an
        # unpickled BlockRunLLM reads its credentials from the environment again.
        state = super().__getstate__()
        private = state.get("__pydantic_private__") or {}
        state["__pydantic_private__"] = {k: v for k, v in private.items() if k not in _NOT_PICKLED}
        return state

    @property
    def wallet_address(self) -> str | None:
        """The address of the wallet paying for calls (``None`` without a wallet)."""
        return self._address

    # --- metadata ------------------------------------------------------------------------

    def _model_traits(self) -> ModelTraits:
        cached = self._traits
        if cached is None or cached[0] != self.model:  # the field may have been reassigned
            cached = self._traits = (self.model, traits_for(self.model))
        return cached[1]

    @property
    def metadata(self) -> LLMMetadata:
        """Context window and capabilities from the catalog (for a profile: its best model)."""
        traits = self._model_traits()
        calls_tools = self.is_function_calling_model
        return LLMMetadata(
            context_window=self.context_window or traits.context_window,
            num_output=self.max_tokens,
            is_chat_model=True,
            is_function_calling_model=traits.tools if calls_tools is None else calls_tools,
            model_name=traits.model_name,
            system_role=MessageRole.SYSTEM,
        )

    def to_payload(self) -> dict[str, Any]:
        """What LlamaIndex reports of this LLM in every call's events: no secrets.

        Built once per model and settings rather than per call.
        """
        key = (self.model, self.context_window, self.max_tokens, self.is_function_calling_model)
        cached = self._payload
        if cached is None or cached[0] != key:
            cached = self._payload = (key, super().to_payload())
        return dict(cached[1])

    # --- clients -------------------------------------------------------------------------

    def _payment_policy(self) -> Any:
        from blockrun_core import PaymentPolicy

        if self.max_cost_per_call is None:
            return None
        return PaymentPolicy(max_per_call_usd=self.max_cost_per_call)

    def _client_options(self) -> dict[str, Any]:
        options = {
            "api_url": self.api_url,
            "wallet_key": _reveal(self._wallet_key),
            "api_key": _reveal(self._api_key),
            "payment_policy": self._payment_policy(),
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "fallback_models": tuple(self.fallback_models),
        }
        if self.ledger is not None:
            options["ledger"] = self.ledger
        return options

    def _sync_client(self) -> BlockRunClient:
        if self._client is None:
            from blockrun_core import BlockRunClient

            self._client = BlockRunClient(**self._client_options())
        return self._client

    def _async_client(self) -> AsyncBlockRunClient:
        # An httpx.AsyncClient belongs to the event loop it first ran on, and each
        # asyncio.run() makes a new loop: keep one client per running loop.
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            from blockrun_core import AsyncBlockRunClient

            self._aclient = AsyncBlockRunClient(**self._client_options())
            self._aclient_loop = loop
        return self._aclient

    def close(self) -> None:
        """Close the synchronous client's connections (it reopens on the next call)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close both clients' connections (they reopen on the next call)."""
        self.close()
        client, self._aclient = self._aclient, None
        if client is not None and self._aclient_loop is asyncio.get_running_loop():
            await client.aclose()
        self._aclient_loop = None

    # --- requests ------------------------------------------------------------------------

    def _request(
        self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The core call's arguments: fields, then ``additional_kwargs``, then per-call ones.

        ``None`` means unset throughout. Core-only arguments (``budget``, ``run_id``,
        ``thread_id``, ``agent_id``, ``session_id``, ``fallback_models``) pass per call.
        """
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "budget": self.budget,
            "agent_id": self.agent_id,
            **self.additional_kwargs,
            **kwargs,
        }
        request = {key: value for key, value in params.items() if value is not None}
        request["messages"] = to_wire_messages(messages)
        return request

    def _answer(self, request: Mapping[str, Any], result: ChatResult) -> ChatResponse:
        report = CallReport.of(request["model"], result)
        emit(lambda: report.event(result.usage, streamed=False))
        return to_chat_response(result, report)

    # --- chat ----------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One answer to ``messages``."""
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the answer; each response holds the message so far and the new ``delta``."""
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The asyncio :meth:`chat`."""
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """The asyncio :meth:`stream_chat`."""
        return await self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        with reporting_in_doubt(request["model"]):
            result = self._sync_client().chat(**request)
        return self._answer(request, result)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        with reporting_in_doubt(request["model"]):
            result = await self._async_client().chat(**request)
        return self._answer(request, result)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        request = self._request(messages, kwargs)
        client = self._sync_client()

        def gen() -> ChatResponseGen:
            folder = StreamFolder(request["model"])
            try:
                with reporting_in_doubt(request["model"]):
                    for chunk in client.stream(**request):
                        yield folder.add(chunk)
            finally:
                emit(folder.event)

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        request = self._request(messages, kwargs)
        client = self._async_client()

        async def gen() -> ChatResponseAsyncGen:
            folder = StreamFolder(request["model"])
            try:
                with reporting_in_doubt(request["model"]):
                    async for chunk in client.stream(**request):
                        yield folder.add(chunk)
            finally:
                emit(folder.event)

        return gen()

    # --- completion: one user turn through the chat path ----------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer ``prompt`` as a single user message."""
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream the answer to ``prompt``."""
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """The asyncio :meth:`complete`."""
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """The asyncio :meth:`stream_complete`."""
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # --- tools ---------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments offering ``tools`` (a copy of the history, never mutated)."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        params = tool_params(
            tools,
            tool_required=tool_required,
            tool_choice=tool_choice,
            strict=self.strict if strict is None else strict,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
        )
        return {"messages": messages, **params, **kwargs}

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep one tool call unless parallel calls were allowed."""
        if not allow_parallel_tool_calls:
            force_single_tool_call(response)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The tool calls in ``response``; ``ValueError`` for arguments that aren't an object."""
        return tool_selections(response, error_on_no_tool_call=error_on_no_tool_call)

    # --- structured output ---------------------------------------------------------------

    def _uses_response_format(self) -> bool:
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self._model_traits().structured_output
        )

    def _structured_request(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: Mapping[str, Any] | None,
        prompt_args: Mapping[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=dict(prompt_args)
            )
        )
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        kwargs = {**(llm_kwargs or {}), "response_format": response_format_for(output_cls)}
        kwargs.pop("tool_choice", None)
        return messages, kwargs

    def _structured_result(self, output_cls: type[Model], response: ChatResponse) -> Model:
        result = output_cls.model_validate_json(response.message.content or "")
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """An ``output_cls`` object: through ``response_format`` where the model supports
        JSON schemas (for a profile, the router then keeps only those), else a tool call."""
        if not self._uses_response_format():
            parsed: Model = super().structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return parsed
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        return self._structured_result(output_cls, self.chat(messages, **kwargs))

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: BasePromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """The asyncio :meth:`structured_predict`."""
        if not self._uses_response_format():
            parsed: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return parsed
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        return self._structured_result(output_cls, await self.achat(messages, **kwargs))


def _check_budget(budget: object) -> None:
    if budget is None:
        return
    from blockrun_core import Budget, ConfigurationError

    if not isinstance(budget, Budget):
        raise ConfigurationError(f"budget must be a blockrun_core.Budget, not {budget!r}.")


def _reveal(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None
