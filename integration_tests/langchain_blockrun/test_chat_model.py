"""ChatBlockRun against LocalGateway over loopback: money, metadata, streaming, errors.

The gateway verifies every signature and records every settled payment, so these tests
check what was actually paid, and that every bad input is refused with nothing paid.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from uuid import UUID

import pytest
from blockrun_core import PaymentRefusedError, RateLimitError, StreamTruncatedError
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway
from langchain_blockrun import ChatBlockRun
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelRateLimitError,
)
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.outputs import LLMResult
from langchain_core.tracers.context import collect_runs
from pydantic import BaseModel

PAID = "openai/gpt-4o-mini"
FREE = "nvidia/gpt-oss-120b"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


def make(gw: LocalGateway, model: str = PAID, **options: Any) -> ChatBlockRun:
    return ChatBlockRun(model=model, api_url=gw.url, wallet_key=HARDHAT_KEY, **options)


class Recorder(BaseCallbackHandler):
    """Keeps every token and the final LLMResult of each run."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.ends: list[LLMResult] = []
        self.seen: list[Any] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.seen.append((serialized, kwargs))

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.ends.append(response)


# --------------------------------------------------------------------------- money


def test_paid_invoke_is_paid_once_and_reports_what_was_paid(gw: LocalGateway) -> None:
    answer = make(gw).invoke("what is 12 * 7")
    assert answer.content == "84"
    [payment] = gw.payments
    info = answer.response_metadata["blockrun"]
    assert info["cost_usd"] == pytest.approx(payment.amount_micros / 1e6)
    assert info["receipt"]["transaction"] == payment.tx_hash
    assert answer.response_metadata["model_name"] == PAID == payment.model
    assert answer.response_metadata["model_provider"] == "blockrun"
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata is not None and answer.usage_metadata["total_tokens"] > 0


def test_free_model_pays_nothing(gw: LocalGateway) -> None:
    answer = make(gw, FREE).invoke("what is 2 + 2")
    assert answer.content == "4" and answer.response_metadata["blockrun"]["cost_usd"] == 0.0
    assert gw.payments == []


def test_auto_routes_and_explains_with_savings(gw: LocalGateway) -> None:
    answer = make(gw, "auto").invoke("hi there")
    info = answer.response_metadata["blockrun"]
    routing = info["routing"]
    assert routing["profile"] == "auto" and routing["tier"] and routing["signals"]
    assert answer.response_metadata["model_name"] == routing["model"] == gw.payments[0].model
    assert info["baseline_cost_usd"] == routing["baseline_cost_usd"] > 0
    assert info["savings"] == pytest.approx(1 - info["cost_usd"] / info["baseline_cost_usd"])


def test_bound_tools_keep_auto_on_tool_models(gw: LocalGateway) -> None:
    llm = make(gw, "free")

    def get_weather(city: str) -> str:
        """Weather in a city."""
        return "sunny"

    # No free model can call tools, so binding one leaves the free profile with nothing.
    with pytest.raises(ModelInvalidRequestError, match="tool calling") as caught:
        llm.bind_tools([get_weather]).invoke("get_weather for Paris")
    assert caught.value.eliminated  # type: ignore[attr-defined]
    assert gw.requests == [] and gw.payments == []
    answer = make(gw, "eco").bind_tools([get_weather]).invoke("get_weather city=Paris")
    served = gw.catalog.get(answer.response_metadata["model_name"])
    assert served.supports_tools and answer.tool_calls[0]["args"] == {"city": "Paris"}


def test_per_call_model_override(gw: LocalGateway) -> None:
    answer = make(gw).invoke("hi", model="openai/gpt-4.1-mini")
    assert answer.response_metadata["model_name"] == "openai/gpt-4.1-mini"
    assert [p.model for p in gw.payments] == ["openai/gpt-4.1-mini"]


# --------------------------------------------------------------------------- streaming


def test_stream_tokens_reach_callbacks_and_usage_and_cost_arrive_once(gw: LocalGateway) -> None:
    recorder = Recorder()
    chunks = list(make(gw).stream("tell a story", config={"callbacks": [recorder]}))
    assert all(isinstance(c, AIMessageChunk) for c in chunks) and len(chunks) > 3
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole += chunk
    assert whole.text.startswith("Echo: tell a story")
    assert [c.usage_metadata is not None for c in chunks].count(True) == 1
    assert whole.response_metadata["model_name"] == PAID
    [payment] = gw.payments
    assert payment.stream
    assert whole.response_metadata["blockrun"]["cost_usd"] == pytest.approx(
        payment.amount_micros / 1e6
    )
    assert "".join(recorder.tokens) == whole.text
    # What tracing callbacks see at the end: the cost on the final generation.
    [end] = recorder.ends
    final = end.generations[0][0]
    assert (final.generation_info or {})["blockrun"]["cost_usd"] == pytest.approx(
        payment.amount_micros / 1e6
    )


def test_streaming_invoke_streams_under_the_hood(gw: LocalGateway) -> None:
    recorder = Recorder()
    answer = make(gw, streaming=True).invoke("tell a story", config={"callbacks": [recorder]})
    assert len(recorder.tokens) > 3 and "".join(recorder.tokens) == answer.content
    assert answer.usage_metadata is not None and gw.payments[0].stream
    assert answer.response_metadata["blockrun"]["cost_usd"] > 0


def test_invoke_reports_cost_to_callbacks(gw: LocalGateway) -> None:
    recorder = Recorder()
    make(gw).invoke("hello", config={"callbacks": [recorder]})
    [end] = recorder.ends
    expected = gw.payments[0].amount_micros / 1e6
    assert (end.llm_output or {})["blockrun"]["cost_usd"] == pytest.approx(expected)
    assert (end.generations[0][0].generation_info or {})["blockrun"]["cost_usd"] == pytest.approx(
        expected
    )


def test_truncated_stream_raises_a_typed_error(gw: LocalGateway) -> None:
    gw.inject(Fault.truncate(after_chunks=2))
    with pytest.raises(StreamTruncatedError) as caught:
        list(make(gw).stream("tell a long story"))
    assert isinstance(caught.value, ModelAPIError)


# --------------------------------------------------------------------------- async


async def test_async_invoke_and_stream(gw: LocalGateway) -> None:
    llm = make(gw)
    answer = await llm.ainvoke("what is 6 * 7")
    chunks = [chunk async for chunk in llm.astream("what is 6 * 7")]
    assert answer.content == "42" and "".join(c.text for c in chunks) == "42"
    assert [p.stream for p in gw.payments] == [False, True]
    await llm.aclose()


def test_one_model_serves_several_event_loops(gw: LocalGateway) -> None:
    llm = make(gw, FREE)
    first = asyncio.run(llm.ainvoke("what is 1 + 1"))
    second = asyncio.run(llm.ainvoke("what is 2 + 2"))  # a new loop: a new async client
    assert (first.content, second.content) == ("2", "4")


async def test_concurrent_async_calls_each_pay_once(gw: LocalGateway) -> None:
    llm = make(gw)
    answers = await llm.abatch([f"what is {n} + 1" for n in range(5)])
    assert sorted(a.content for a in answers) == ["1", "2", "3", "4", "5"]
    assert len(gw.payments) == 5 and len({p.nonce for p in gw.payments}) == 5


# --------------------------------------------------------------------------- inputs


def test_image_inputs_in_both_forms_route_to_a_vision_model(gw: LocalGateway) -> None:
    llm = make(gw, "auto")
    for image in (
        {"type": "image", "base64": PNG, "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ):
        message = HumanMessage(content=[{"type": "text", "text": "describe this"}, image])
        answer = llm.invoke([message])
        assert gw.catalog.get(answer.response_metadata["model_name"]).supports_vision
    assert len(gw.payments) == 2


def test_image_sent_to_a_model_without_vision_is_refused_unpaid(gw: LocalGateway) -> None:
    message = HumanMessage(
        content=[
            {"type": "text", "text": "describe this"},
            {"type": "image", "base64": PNG, "mime_type": "image/png"},
        ]
    )
    with pytest.raises(ModelInvalidRequestError, match="image"):
        make(gw, "deepseek/deepseek-chat").invoke([message])
    assert gw.payments == []


def test_stop_sequences_are_sent(gw: LocalGateway) -> None:
    llm = make(gw, stop=["END"], temperature=0.3, model_kwargs={"top_p": 0.9})
    request = llm._request([HumanMessage("hi")], ["STOP"], {})
    assert request["stop"] == ["STOP"] and request["temperature"] == 0.3 and request["top_p"] == 0.9
    assert llm._request([HumanMessage("hi")], None, {})["stop"] == ["END"]
    assert isinstance(llm.invoke("hi", stop=["x"]), AIMessage)


# --------------------------------------------------------------------------- structured output


class Person(BaseModel):
    """A person."""

    name: str
    age: int


class Answer(BaseModel):
    answer: str


def test_structured_output_by_function_calling(gw: LocalGateway) -> None:
    person = make(gw).with_structured_output(Person).invoke("Record name=Ada age=36")
    assert person == Person(name="Ada", age=36)


def test_structured_output_by_json_schema(gw: LocalGateway) -> None:
    llm = make(gw).with_structured_output(Person, method="json_schema", include_raw=True)
    out = llm.invoke("Record name=Ada age=36")
    assert out["parsed"] == Person(name="Ada", age=36) and out["parsing_error"] is None
    assert (
        isinstance(out["raw"], AIMessage) and out["raw"].response_metadata["blockrun"]["cost_usd"]
    )


def test_structured_output_by_json_mode(gw: LocalGateway) -> None:
    assert make(gw).with_structured_output(Answer, method="json_mode").invoke("hi") == Answer(
        answer="Echo: hi"
    )
    assert make(gw).with_structured_output(None, method="json_mode").invoke("hi") == {
        "answer": "Echo: hi"
    }


def test_parsing_error_is_returned_with_include_raw(gw: LocalGateway) -> None:
    gw.script(PAID, '{"name": "Ada"}')  # age missing
    out = (
        make(gw)
        .with_structured_output(Person, method="json_schema", include_raw=True)
        .invoke("Record Ada")
    )
    assert out["parsed"] is None and out["parsing_error"] is not None


# --------------------------------------------------------------------------- bad inputs


def test_price_over_the_cap_is_refused_before_signing(gw: LocalGateway) -> None:
    llm = make(gw, max_cost_per_call=0.0001)  # gpt-4o-mini asks at least $0.002
    with pytest.raises(PaymentRefusedError) as caught:
        llm.invoke("what is 12 * 7")
    assert isinstance(caught.value, ModelError) and caught.value.is_retryable is False  # type: ignore[attr-defined]
    assert gw.payments == [] and gw.claimed_nonces == []


def test_unknown_per_call_model_is_refused_without_a_request(gw: LocalGateway) -> None:
    with pytest.raises(ModelNotFoundError, match="Unknown model"):
        make(gw).invoke("hi", model="openai/gpt-4o-mimi")
    assert gw.requests == [] and gw.payments == []


def test_account_key_the_gateway_does_not_know_is_refused(gw: LocalGateway) -> None:
    llm = ChatBlockRun(model=PAID, api_url=gw.account_url, api_key="brk_test_unknown_key_123")
    with pytest.raises(ModelAuthenticationError, match="rejected the account key"):
        llm.invoke("hi")
    assert gw.payments == []


def test_gateway_refusing_the_payment_is_not_retried(gw: LocalGateway) -> None:
    gw.inject(Fault.reject("PAYMENT_UNFUNDED", times=None))
    llm = make(gw).with_retry(
        retry_if_exception_type=lambda e: getattr(e, "is_retryable", False),
        stop_after_attempt=3,
        wait_exponential_jitter=False,
    )
    with pytest.raises(ModelError) as caught:
        llm.invoke("hi")
    assert caught.value.code == "PAYMENT_UNFUNDED"  # type: ignore[attr-defined]
    assert gw.payments == [] and sum(r.paid for r in gw.requests) == 1


def test_transient_failure_is_retried_by_is_retryable(gw: LocalGateway) -> None:
    recorder = Recorder()
    llm = make(gw, max_retries=0).with_retry(
        retry_if_exception_type=lambda e: getattr(e, "is_retryable", False),
        stop_after_attempt=2,
        wait_exponential_jitter=False,
    )
    gw.inject(Fault.error(503, model=PAID, phase="unpaid"))
    assert llm.invoke("what is 1 + 1", config={"callbacks": [recorder]}).content == "2"
    assert len(recorder.seen) == 2  # two attempts, the first refused before any payment
    assert len(gw.payments) == 1


def test_rate_limit_is_typed_with_retry_after(gw: LocalGateway) -> None:
    gw.inject(Fault.error(429, retry_after=0.01, times=None))
    with pytest.raises(RateLimitError) as caught:
        make(gw, max_retries=0).invoke("hi")
    assert isinstance(caught.value, ModelRateLimitError) and caught.value.retry_after == 0.01
    assert caught.value.is_retryable is True  # type: ignore[attr-defined]
    assert gw.payments == []


# --------------------------------------------------------------------------- secrets


def test_key_never_reaches_logs_callbacks_or_traces(
    gw: LocalGateway, caplog: pytest.LogCaptureFixture
) -> None:
    secret = HARDHAT_KEY.removeprefix("0x").lower()
    recorder = Recorder()
    caplog.set_level(logging.DEBUG)
    llm = make(gw)
    with collect_runs() as runs:
        llm.invoke("hi", config={"callbacks": [recorder], "metadata": {"who": "test"}})
        list(llm.stream("hi", config={"callbacks": [recorder]}))
        with pytest.raises(PaymentRefusedError):
            make(gw, max_cost_per_call=0.0001).invoke("hi")
    assert len(gw.payments) == 2
    traced = json.dumps([run.model_dump() for run in runs.traced_runs], default=str)
    seen = json.dumps([recorder.seen, [e.model_dump() for e in recorder.ends]], default=str)
    for text in (caplog.text, traced, seen, repr(llm), str(llm._cache().sync())):
        assert secret not in text.lower()
    assert "wallet_key" in traced  # the field is traced, as a secret reference only
    assert all(isinstance(run.id, UUID) for run in runs.traced_runs)


def test_a_copy_pays_by_its_own_settings(gw: LocalGateway) -> None:
    llm = make(gw)
    llm.invoke("hi")  # the original's clients exist
    capped = llm.model_copy(update={"max_cost_per_call": 0.0001})
    with pytest.raises(PaymentRefusedError):
        capped.invoke("hi")
    llm.invoke("hi")
    assert len(gw.payments) == 2


def test_closed_model_reopens_on_next_call(gw: LocalGateway) -> None:
    llm = make(gw, FREE)
    llm.invoke("hi")
    llm.close()
    assert llm.invoke("what is 3 + 3").content == "6"
