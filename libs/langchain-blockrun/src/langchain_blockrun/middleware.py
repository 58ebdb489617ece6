"""``BlockRunBudgetMiddleware``: an agent that stops when its budget is spent, and says so.

Needs ``langchain`` (v1) for ``create_agent``; langchain-blockrun itself depends only on
langchain-core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from blockrun_core.errors import BudgetExceededError
from langchain.agents.middleware import AgentMiddleware, AgentState, hook_config
from langchain.agents.middleware.types import ModelRequest, ModelResponse
from langchain_core.messages import AIMessage
from langchain_core.runnables import ensure_config

from langchain_blockrun._scope import BUDGET_KEY

if TYPE_CHECKING:
    from blockrun_core import Budget
    from langgraph.runtime import Runtime

__all__ = ["BlockRunBudgetMiddleware"]

ModelResult = ModelResponse[Any] | AIMessage


class BlockRunBudgetMiddleware(AgentMiddleware[AgentState[Any], Any]):
    """Run a ``create_agent`` agent on a BlockRun budget and end it cleanly when spent.

    Every model call of the agent draws from ``budget`` (or from the run's
    ``config["configurable"]["blockrun_budget"]``). When the budget is used up, or the next
    call would cross it, the agent ends with a final ``AIMessage`` saying so (its
    ``response_metadata["blockrun"]["budget_exhausted"]`` is True) instead of raising in
    the middle of a tool loop. Nothing is signed for a call the budget cannot cover.

    Example:
        ```python
        from blockrun_core import Budget
        from langchain.agents import create_agent
        from langchain_blockrun import BlockRunBudgetMiddleware, ChatBlockRun

        agent = create_agent(
            ChatBlockRun(model="auto"),
            tools=[...],
            middleware=[BlockRunBudgetMiddleware(Budget(0.50, name="research"))],
        )
        ```
    """

    def __init__(self, budget: Budget | None = None, *, message: str | None = None) -> None:
        """Args:
        budget: The budget to spend from; None reads it from the run config.
        message: The final answer when the budget runs out (default: names the budget,
            its limit and what was spent).
        """
        super().__init__()
        self.budget = budget
        self.message = message

    def _budget(self) -> Budget | None:
        if self.budget is not None:
            return self.budget
        found: Budget | None = (ensure_config().get("configurable") or {}).get(BUDGET_KEY)
        return found

    def _final(self, budget: Budget, exc: BudgetExceededError | None) -> AIMessage:
        # The budget that refused may be an ancestor (a team budget) rather than our own.
        if exc is not None:
            name, limit, spent = exc.budget, exc.limit_usd, exc.spent_usd
            needed = f", and the next step needed ${exc.requested_usd:.6f}"
        else:
            state = budget.state()
            name, limit, spent, needed = budget.name, state.limit_usd, state.spent_usd, ""
        text = self.message or (
            f"I had to stop here: the budget {name!r} is used up "
            f"(limit ${limit:.6f}, spent ${spent:.6f}{needed})."
        )
        info = {"budget_exhausted": True, "budget": name, "limit_usd": limit, "spent_usd": spent}
        return AIMessage(content=text, response_metadata={"blockrun": info})

    @hook_config(can_jump_to=["end"])
    def before_model(self, state: AgentState[Any], runtime: Runtime[Any]) -> dict[str, Any] | None:
        """End the run before a model call when nothing is left to spend."""
        budget = self._budget()
        if budget is None or budget.remaining > 0:
            return None
        return {"jump_to": "end", "messages": [self._final(budget, None)]}

    @hook_config(can_jump_to=["end"])
    async def abefore_model(
        self, state: AgentState[Any], runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        """The async :meth:`before_model`."""
        return self.before_model(state, runtime)

    def _with_budget(self, request: ModelRequest[Any], budget: Budget) -> ModelRequest[Any]:
        return request.override(model_settings={**request.model_settings, "budget": budget})

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResult],
    ) -> ModelResult:
        """Call the model on the budget; a call it cannot cover ends the agent."""
        budget = self._budget()
        if budget is None:
            return handler(request)
        try:
            return handler(self._with_budget(request, budget))
        except BudgetExceededError as exc:
            return self._final(budget, exc)

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResult]],
    ) -> ModelResult:
        """The async :meth:`wrap_model_call`."""
        budget = self._budget()
        if budget is None:
            return await handler(request)
        try:
            return await handler(self._with_budget(request, budget))
        except BudgetExceededError as exc:
            return self._final(budget, exc)
