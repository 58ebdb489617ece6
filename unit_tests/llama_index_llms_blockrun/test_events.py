"""BlockRunCallEvent through LlamaIndex's dispatcher: a handler can total what was paid."""

from __future__ import annotations

from typing import Any

import pytest
from blockrun_core import PaymentInDoubtError
from blockrun_core.testing import Fault, LocalGateway
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.llms.blockrun import BlockRunCallEvent
from pydantic import Field

from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import FREE, paid_usd


class SpendTotal(BaseEventHandler):
    """What a user writes to meter spend: sum the cost of every BlockRun call."""

    total_usd: float = 0.0
    calls: int = 0
    by_model: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def class_name(cls) -> str:
        return "SpendTotal"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, BlockRunCallEvent):
            cost = event.cost_usd or 0.0
            self.total_usd += cost
            self.calls += 1
            self.by_model[event.model] = self.by_model.get(event.model, 0.0) + cost


async def test_a_handler_totals_spend_across_every_kind_of_call(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    spend = SpendTotal()
    root = get_dispatcher()
    root.add_event_handler(spend)
    try:
        paid, auto, free = make_llm(), make_llm("auto"), make_llm(FREE)
        hi = [ChatMessage(role="user", content="what is 12 * 7")]
        paid.chat(hi)
        list(paid.stream_chat(hi))
        await auto.achat([ChatMessage(role="user", content="hello")])
        async for _ in await auto.astream_complete("write a haiku about rain"):
            pass
        free.complete("hi")
    finally:
        root.event_handlers.remove(spend)
    assert spend.calls == 5 and len(gw.payments) == 4
    assert spend.total_usd == pytest.approx(paid_usd(gw))
    for payment in gw.payments:
        assert spend.by_model[payment.model] > 0
    assert spend.by_model[FREE] == 0.0


def test_the_event_carries_routing_usage_and_receipt(gw: LocalGateway, make_llm: MakeLLM) -> None:
    seen: list[BlockRunCallEvent] = []

    class Collect(BaseEventHandler):
        def handle(self, event: BaseEvent, **kwargs: Any) -> None:
            if isinstance(event, BlockRunCallEvent):
                seen.append(event)

    handler = Collect()
    get_dispatcher().add_event_handler(handler)
    try:
        response = make_llm("auto").chat([ChatMessage(role="user", content="hello there")])
    finally:
        get_dispatcher().event_handlers.remove(handler)
    [event] = seen
    [payment] = gw.payments
    assert event.requested_model == "auto" and event.model == payment.model
    assert event.routing is not None and event.routing["model"] == payment.model
    assert event.receipt is not None and event.receipt["transaction"] == payment.tx_hash
    assert event.prompt_tokens == response.additional_kwargs["prompt_tokens"]
    assert event.savings == response.additional_kwargs["savings"]
    assert not event.streamed


def test_an_abandoned_stream_still_reports_its_payment(gw: LocalGateway, make_llm: MakeLLM) -> None:
    spend = SpendTotal()
    get_dispatcher().add_event_handler(spend)
    try:
        stream = make_llm().stream_chat([ChatMessage(role="user", content="tell a long story")])
        next(stream)
        stream.close()
    finally:
        get_dispatcher().event_handlers.remove(spend)
    assert spend.calls == 1 and paid_usd(gw) > 0
    assert spend.total_usd == pytest.approx(paid_usd(gw))


class InDoubtTotal(BaseEventHandler):
    """Keeps what may have been charged apart from what surely was."""

    in_doubt_usd: float = 0.0
    events: int = 0

    @classmethod
    def class_name(cls) -> str:
        return "InDoubtTotal"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, BlockRunCallEvent) and event.in_doubt_usd is not None:
            assert event.cost_usd is None
            self.in_doubt_usd += event.in_doubt_usd
            self.events += 1


async def _call(llm: Any, method: str, messages: list[ChatMessage]) -> None:
    if method == "chat":
        llm.chat(messages)
    elif method == "stream_chat":
        list(llm.stream_chat(messages))
    elif method == "achat":
        await llm.achat(messages)
    else:
        async for _ in await llm.astream_chat(messages):
            pass


@pytest.mark.parametrize("method", ["chat", "stream_chat", "achat", "astream_chat"])
async def test_a_payment_in_doubt_is_reported_as_such(
    gw: LocalGateway, make_llm: MakeLLM, method: str
) -> None:
    gw.inject(Fault.error(503, phase="paid", times=None))
    handler = InDoubtTotal()
    root = get_dispatcher()
    root.add_event_handler(handler)
    hi = [ChatMessage(role="user", content="what is 12 * 7")]
    try:
        with pytest.raises(PaymentInDoubtError) as info:
            await _call(make_llm(), method, hi)
    finally:
        root.event_handlers.remove(handler)
        gw.clear_faults()
    assert handler.events == 1
    assert handler.in_doubt_usd == pytest.approx(info.value.amount_usd) and handler.in_doubt_usd > 0
    assert len(set(gw.claimed_nonces)) == 1  # one signed payment, never a second
