"""Totals of what BlockRun calls cost, like ``get_openai_callback`` for OpenAI.

>>> with get_blockrun_callback() as cb:
...     agent.invoke({"messages": [...]})
>>> cb.total_cost, cb.total_tokens, cb.successful_requests, cb.savings, cb.in_doubt_cost
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from blockrun_core import PaymentInDoubtError
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.tracers.context import register_configure_hook

__all__ = ["BlockRunCallbackHandler", "ModelTotals", "get_blockrun_callback"]


@dataclass
class ModelTotals:
    """What one served model cost and used."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class BlockRunCallbackHandler(BaseCallbackHandler):
    """Adds up cost, tokens, calls and savings of every BlockRun answer it sees.

    Costs are what was paid (USD); ``baseline_cost`` is what the routing baseline would
    have cost for the routed calls, ``savings`` the difference. ``in_doubt_cost`` adds up
    the payments of calls that failed with a payment in doubt: signed and sent, perhaps
    charged (``in_doubt_requests`` counts them). Thread-safe; pass it in
    ``config={"callbacks": [handler]}`` or use :func:`get_blockrun_callback`.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.successful_requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.total_cost = 0.0
        self.baseline_cost = 0.0
        self.savings = 0.0
        self.by_model: dict[str, ModelTotals] = {}
        self.in_doubt_requests = 0
        self.in_doubt_cost = 0.0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def savings_fraction(self) -> float | None:
        """``savings`` as a fraction of ``baseline_cost`` (None before any routed call)."""
        return self.savings / self.baseline_cost if self.baseline_cost else None

    def __repr__(self) -> str:
        return (
            f"Tokens Used: {self.total_tokens}\n"
            f"\tPrompt Tokens: {self.prompt_tokens}\n"
            f"\tCompletion Tokens: {self.completion_tokens}\n"
            f"Successful Requests: {self.successful_requests}\n"
            f"Total Cost (USD): ${self.total_cost:.6f}\n"
            f"Saved vs baseline (USD): ${self.savings:.6f}\n"
            f"In doubt (USD): ${self.in_doubt_cost:.6f} over {self.in_doubt_requests} requests"
        )

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        """Count every BlockRun generation of a finished call."""
        for generations in response.generations:
            for generation in generations:
                if isinstance(generation, ChatGeneration):
                    self._add(generation)

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        """Count a payment in doubt: it may have been charged."""
        if isinstance(error, PaymentInDoubtError):
            with self._lock:
                self.in_doubt_requests += 1
                self.in_doubt_cost += error.amount_usd

    def _add(self, generation: ChatGeneration) -> None:
        message = generation.message
        metadata = message.response_metadata
        info = (generation.generation_info or {}).get("blockrun") or metadata.get("blockrun")
        if not isinstance(info, dict):
            return  # not a BlockRun answer
        usage = message.usage_metadata if isinstance(message, AIMessage) else None
        prompt = usage["input_tokens"] if usage else 0
        completion = usage["output_tokens"] if usage else 0
        cost = info.get("cost_usd") or 0.0
        baseline = info.get("baseline_cost_usd")
        with self._lock:
            self.successful_requests += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion
            self.total_cost += cost
            if baseline is not None and info.get("cost_usd") is not None:
                self.baseline_cost += baseline
                self.savings += max(0.0, baseline - cost)
            totals = self.by_model.setdefault(str(metadata.get("model_name")), ModelTotals())
            totals.calls += 1
            totals.prompt_tokens += prompt
            totals.completion_tokens += completion
            totals.cost += cost

    def __copy__(self) -> BlockRunCallbackHandler:
        return self  # one shared tally, even when LangChain copies its handlers

    def __deepcopy__(self, memo: Any) -> BlockRunCallbackHandler:
        return self


_current: ContextVar[BlockRunCallbackHandler | None] = ContextVar("blockrun_callback", default=None)
register_configure_hook(_current, inheritable=True)


@contextmanager
def get_blockrun_callback() -> Iterator[BlockRunCallbackHandler]:
    """A handler that totals every BlockRun call made inside the ``with`` block.

    Calls made by agents, graphs and chains inside the block count too, sync or async.
    """
    handler = BlockRunCallbackHandler()
    token = _current.set(handler)
    try:
        yield handler
    finally:
        _current.reset(token)
