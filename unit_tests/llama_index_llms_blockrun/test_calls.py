"""The eight call methods against LocalGateway: answers, streaming shape, money, events."""

from __future__ import annotations

import pytest
from blockrun_core.testing import Fault, LocalGateway
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    TextBlock,
    ThinkingBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)
from llama_index.core.rate_limiter import BaseRateLimiter
from llama_index.llms.blockrun import BlockRunCallEvent

from unit_tests.conftest import HARDHAT_ADDRESS
from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import (
    FREE,
    METHODS,
    PAID,
    EventLog,
    call,
    text_of,
)

QUESTION = "what is 12 * 7"


@pytest.mark.parametrize("method", METHODS)
async def test_each_method_answers_and_pays_once(
    gw: LocalGateway, make_llm: MakeLLM, method: str
) -> None:
    responses = await call(make_llm(), method, QUESTION)
    final = responses[-1]
    assert text_of(final) == "84"
    [payment] = gw.payments
    assert payment.payer == HARDHAT_ADDRESS and payment.model == PAID
    assert payment.stream == ("stream" in method)
    extra = final.additional_kwargs
    assert extra["cost_usd"] == pytest.approx(payment.amount_micros / 1e6)
    assert extra["model"] == PAID and extra["finish_reason"] == "stop"
    assert extra["receipt"]["transaction"] == payment.tx_hash
    assert extra["prompt_tokens"] > 0 and extra["completion_tokens"] > 0
    assert final.raw is not None and final.raw["usage"]["total_tokens"] == extra["total_tokens"]


@pytest.mark.parametrize("method", [m for m in METHODS if "stream" in m])
async def test_streams_carry_the_text_so_far_and_the_delta(make_llm: MakeLLM, method: str) -> None:
    responses = await call(make_llm(), method, "tell me a story about owls")
    deltas = [r.delta or "" for r in responses]
    assert len([d for d in deltas if d]) > 3  # word by word, not one blob
    for i, response in enumerate(responses):
        assert text_of(response) == "".join(deltas[: i + 1])
    assert text_of(responses[-1]) == "Echo: tell me a story about owls"
    # the cost is known from the first chunk: the payment precedes the stream
    assert all(r.additional_kwargs["cost_usd"] > 0 for r in responses)
    assert responses[-1].additional_kwargs["total_tokens"] > 0


@pytest.mark.parametrize("method", ["chat", "stream_chat", "achat", "astream_chat"])
async def test_reasoning_arrives_as_a_thinking_block(make_llm: MakeLLM, method: str) -> None:
    responses = await call(make_llm(FREE), method, "why is the sky blue")
    final = responses[-1]
    assert isinstance(final, ChatResponse)
    thinking, text = final.message.blocks[0], final.message.blocks[1]
    assert isinstance(thinking, ThinkingBlock) and isinstance(text, TextBlock)
    assert thinking.content is not None and "why is the sky blue" in thinking.content
    assert text.text == "Echo: why is the sky blue"
    assert final.additional_kwargs["cost_usd"] == 0.0
    if "stream" in method:
        pieces = [r.additional_kwargs.get("thinking_delta", "") for r in responses]
        assert "".join(pieces) == thinking.content


@pytest.mark.parametrize("method", METHODS)
async def test_each_method_emits_one_set_of_events(
    make_llm: MakeLLM, event_log: EventLog, method: str
) -> None:
    await call(make_llm(), method, QUESTION)
    chat_like = "chat" in method
    start, end = (
        (LLMChatStartEvent, LLMChatEndEvent)
        if chat_like
        else (LLMCompletionStartEvent, LLMCompletionEndEvent)
    )
    assert len(event_log.of(start)) == 1 and len(event_log.of(end)) == 1
    if not chat_like:  # completion goes through the private chat path, not chat()
        assert not event_log.of(LLMChatStartEvent)
    if method in ("stream_chat", "astream_chat"):
        assert len(event_log.of(LLMChatInProgressEvent)) > 1
    [report] = event_log.of(BlockRunCallEvent)
    assert report.model == PAID and report.cost_usd > 0 and report.streamed == ("stream" in method)


async def test_token_counting_handler_reads_the_usage(make_llm: MakeLLM) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(callback_manager=CallbackManager([counter]))
    response = llm.chat([ChatMessage(role="user", content=QUESTION)])
    streamed = list(llm.stream_chat([ChatMessage(role="user", content=QUESTION)]))[-1]
    expected = response.additional_kwargs["prompt_tokens"] * 2
    assert counter.prompt_llm_token_count == expected
    completion = response.additional_kwargs["completion_tokens"]
    assert completion + streamed.additional_kwargs["completion_tokens"] == (
        counter.completion_llm_token_count
    )


def test_per_call_max_tokens_overrides_the_field(gw: LocalGateway, make_llm: MakeLLM) -> None:
    model = "openai/gpt-4o"  # dear enough per output token that max_tokens moves the quote
    llm = make_llm(model, max_tokens=16, temperature=0.2, additional_kwargs={"top_p": 0.5})
    llm.chat([ChatMessage(role="user", content=QUESTION)])
    llm.chat([ChatMessage(role="user", content=QUESTION)], max_tokens=16_000)
    small, large = (p.amount_micros for p in gw.payments)
    messages = [{"role": "user", "content": QUESTION}]
    assert small == gw.quote({"model": model, "messages": messages, "max_tokens": 16})
    assert large == gw.quote({"model": model, "messages": messages, "max_tokens": 16_000})
    assert small < large


def test_a_per_call_model_overrides_the_field(gw: LocalGateway, make_llm: MakeLLM) -> None:
    response = make_llm().chat([ChatMessage(role="user", content=QUESTION)], model=FREE)
    assert response.additional_kwargs["model"] == FREE and not gw.payments


def test_auto_reports_the_routing_decision(gw: LocalGateway, make_llm: MakeLLM) -> None:
    response = make_llm("auto").chat([ChatMessage(role="user", content="hello there")])
    extra = response.additional_kwargs
    routing = extra["routing"]
    assert routing["profile"] == "auto" and routing["model"] == extra["model"]
    assert routing["tier"] == "SIMPLE" and routing["candidates"][0] == extra["model"]
    [payment] = gw.payments
    assert payment.model == extra["model"]
    baseline = routing["baseline_cost_usd"]
    assert extra["savings"] == pytest.approx(1 - payment.amount_micros / 1e6 / baseline)


def test_free_model_needs_no_wallet(gw: LocalGateway, make_llm: MakeLLM) -> None:
    llm = make_llm(FREE, wallet_key=None)
    assert llm.wallet_address is None
    assert llm.complete(QUESTION).text == "84" and not gw.payments


def test_fallback_models_take_over_when_the_model_fails(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    backup = "openai/gpt-4.1-mini"
    gw.inject(Fault.error(503, model=PAID, phase="unpaid", times=None))
    response = make_llm(fallback_models=[backup], max_retries=0).chat(
        [ChatMessage(role="user", content=QUESTION)]
    )
    assert response.message.content == "84" and response.additional_kwargs["model"] == backup
    [payment] = gw.payments
    assert payment.model == backup


class CountingLimiter(BaseRateLimiter):
    """A rate limiter that lets everything through and counts."""

    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self, num_tokens: int = 0) -> None:
        self.acquired += 1

    async def async_acquire(self, num_tokens: int = 0) -> None:
        self.acquired += 1


@pytest.mark.parametrize("method", METHODS)
async def test_each_method_waits_for_the_rate_limiter_once(make_llm: MakeLLM, method: str) -> None:
    limiter = CountingLimiter()
    await call(make_llm(FREE, rate_limiter=limiter), method, QUESTION)
    assert limiter.acquired == 1
