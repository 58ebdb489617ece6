"""From one call's exchanges to usage-ledger rows: one row per model tried."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import AllModelsFailedError, AttemptFailure
from .ledger.records import UsageRecord, describe_error

if TYPE_CHECKING:
    from .budget import Budget
    from .exchange import Exchange
    from .router.types import RoutingDecision
    from .wire import Usage

__all__ = ["CallRecord"]

_MICROS = 1_000_000


@dataclass(slots=True)
class CallRecord:
    """What the ledger needs to know about one logical call, gathered as it runs."""

    requested_model: str
    messages: Sequence[Mapping[str, Any]] = field(repr=False)
    budget: Budget | None = None
    run_id: str | None = None
    thread_id: str | None = None
    agent_id: str | None = None
    decision: RoutingDecision | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def rows(
        self,
        *,
        served: Exchange | None,
        served_model: str | None = None,
        usage: Usage | None = None,
        tx_hash: str | None = None,
        response_text: str | None = None,
        error: BaseException | None = None,
        failures: Sequence[AttemptFailure] = (),
        with_text: bool = False,
    ) -> list[UsageRecord]:
        """One row per exchange that ran; ``served`` is the one that answered, if any.

        ``failures`` are the chain walk's reasons for passing over models, ``error`` what
        ended a failed call.
        """
        if isinstance(error, AllModelsFailedError):
            failures = error.attempts
        walk_errors = _walk_errors(failures, error, self.exchanges, served)
        decision = self.decision
        prompt = json.dumps(list(self.messages), ensure_ascii=False) if with_text else None
        records = []
        for attempt, exchange in enumerate(self.exchanges):
            outcome = exchange.outcome
            if outcome is None:  # started but never ran to an outcome (cancelled early)
                continue
            is_served = exchange is served
            paid = outcome.charged_micros / _MICROS
            baseline = decision.baseline_cost_usd if decision is not None else None
            failure = outcome.error or walk_errors.get(attempt)
            records.append(
                UsageRecord(
                    at=exchange.started_at,
                    call_id=self.id,
                    attempt=attempt,
                    run_id=self.run_id,
                    thread_id=self.thread_id,
                    agent_id=self.agent_id,
                    budget=self.budget.name if self.budget is not None else None,
                    requested_model=self.requested_model,
                    # the model this attempt went to; for the answer, the one the gateway named
                    served_model=(served_model or exchange.spec.model)
                    if is_served
                    else exchange.spec.model,
                    tier=decision.tier if decision is not None else None,
                    profile=decision.profile if decision is not None else None,
                    input_tokens=usage.prompt_tokens if is_served and usage else None,
                    output_tokens=usage.completion_tokens if is_served and usage else None,
                    quoted_usd=outcome.quoted_micros / _MICROS,
                    paid_usd=paid,
                    baseline_usd=baseline if is_served else None,
                    savings_usd=baseline - paid if is_served and baseline is not None else None,
                    latency_ms=outcome.latency_seconds * 1000,
                    status=outcome.status,
                    # an answer that failed after it was paid (empty, cut off) keeps its tx
                    tx_hash=outcome.tx_hash or (tx_hash if is_served else None),
                    error=describe_error(failure) if failure is not None else None,
                    prompt=prompt if attempt == 0 else None,
                    response=response_text if is_served and with_text else None,
                )
            )
        return records


def _walk_errors(
    failures: Sequence[AttemptFailure],
    error: BaseException | None,
    exchanges: Sequence[Exchange],
    served: Exchange | None,
) -> dict[int, BaseException]:
    """Errors the chain walk found in answers whose exchange itself succeeded (empty 200s)."""
    by_model = {failure.model: failure.error for failure in failures}
    found: dict[int, BaseException] = {}
    for index, exchange in enumerate(exchanges):
        outcome = exchange.outcome
        if outcome is None or outcome.error is not None or exchange is served:
            continue
        found[index] = by_model.get(exchange.spec.model) or error or RuntimeError("no answer")
    return found
