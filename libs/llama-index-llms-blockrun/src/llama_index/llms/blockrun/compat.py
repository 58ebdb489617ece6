"""``BlockRun``: the 0.1.0 class name and constructor, running on :class:`BlockRunLLM`."""

from __future__ import annotations

from typing import Any, Literal

from blockrun_core.errors import ConfigurationError
from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CallbackManager
from llama_index.core.types import BaseOutputParser, PydanticProgramMode

from .base import DEFAULT_MAX_TOKENS, BlockRunLLM

__all__ = ["BlockRun"]


class BlockRun(BlockRunLLM):
    """Drop-in for ``llama-index-llms-blockrun`` 0.1.0's ``BlockRun``.

    Takes 0.1.0's arguments (``private_key`` is the wallet key) and gains routing,
    budgets and receipts. Only ``chain="base"`` is supported; ``chain="solana"``
    raises ``ConfigurationError``. 0.1.0 raised ``blockrun_llm.SpendLimitError`` for a
    quote above ``max_cost_per_call``; this class raises ``PaymentRefusedError``.

    Example:
        ```python
        llm = BlockRun(model="openai/gpt-5.5", max_cost_per_call=0.05)
        ```
    """

    chain: Literal["base"] = Field(default="base", description="The chain paid on: Base.")

    def __init__(
        self,
        model: str,
        chain: str = "base",
        private_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        context_window: int | None = None,
        is_function_calling_model: bool = True,
        max_cost_per_call: float | None = None,
        api_url: str | None = None,
        timeout: float | None = None,
        additional_kwargs: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        system_prompt: str | None = None,
        output_parser: BaseOutputParser | None = None,
        pydantic_program_mode: PydanticProgramMode = PydanticProgramMode.DEFAULT,
        **kwargs: Any,
    ) -> None:
        if chain == "solana":
            raise ConfigurationError(
                "chain='solana' is not supported yet: this version pays in USDC on Base "
                "only. Use chain='base' with an EVM wallet key, or stay on "
                "llama-index-llms-blockrun 0.1.0 for Solana."
            )
        if chain != "base":
            raise ConfigurationError(f"chain must be 'base', got {chain!r}.")
        super().__init__(
            model,
            wallet_key=private_key,
            temperature=temperature,
            max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
            context_window=context_window,
            is_function_calling_model=is_function_calling_model,
            max_cost_per_call=max_cost_per_call,
            api_url=api_url,
            timeout=timeout,
            additional_kwargs=additional_kwargs,
            callback_manager=callback_manager,
            system_prompt=system_prompt,
            output_parser=output_parser,
            pydantic_program_mode=pydantic_program_mode,
            **kwargs,
        )

    @classmethod
    def class_name(cls) -> str:
        """0.1.0's serialisation name."""
        return "BlockRun_LLM"
