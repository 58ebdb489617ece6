"""BlockRunLLM's eight call methods and the x402 payment flow, from cassettes.

Replayed with sockets off; recorded over real HTTP from LocalGateway or the real gateway
(``integration_tests/README.md``). Assertions hold for any capable model, so a live
re-recording keeps them green.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatResponse, CompletionResponse
from llama_index.core.llms import ChatMessage
from llama_index.llms.blockrun import BlockRunLLM
from vcr.cassette import Cassette

from integration_tests.cassettes import REDACTED, RecordingTarget, has_payment
from integration_tests.llama_index_llms_blockrun.conftest import MakeLLM

pytestmark = pytest.mark.vcr

PAID = "openai/gpt-4o-mini"
FREE = "nvidia/gpt-oss-120b"
QUESTION = "What is 12 * 7?"
METHODS = [
    "chat",
    "achat",
    "complete",
    "acomplete",
    "stream_chat",
    "astream_chat",
    "stream_complete",
    "astream_complete",
]

Response = ChatResponse | CompletionResponse


def text_of(response: Response) -> str:
    if isinstance(response, ChatResponse):
        return response.message.content or ""
    return response.text


async def responses_of(llm: BlockRunLLM, method: str) -> list[Response]:
    """Every response one call method gives: one, or each chunk of a stream."""
    argument: Any = [ChatMessage(role="user", content=QUESTION)] if "chat" in method else QUESTION
    result = getattr(llm, method)(argument)
    if method.startswith("a"):
        result = await result
    if "stream" not in method:
        return [result]
    if isinstance(result, AsyncIterator):
        return [chunk async for chunk in result]
    assert isinstance(result, Iterator)
    return list(result)


def exchanges(cassette: Cassette) -> list[tuple[bool, int]]:
    """(carried a payment header, response status) of each recorded interaction."""
    return [
        (has_payment(request), response["status"]["code"]) for request, response in cassette.data
    ]


@pytest.mark.parametrize("method", METHODS)
async def test_each_call_method_answers_and_reports_what_it_paid(
    recorded_llm: MakeLLM, method: str
) -> None:
    responses = await responses_of(recorded_llm(PAID), method)
    final = responses[-1]
    assert "84" in text_of(final)
    if "stream" in method:
        assert len(responses) > 1
        assert "".join(r.delta or "" for r in responses) == text_of(final)
    report = final.additional_kwargs
    assert report["model"] == PAID and report["cost_usd"] > 0
    assert report["prompt_tokens"] > 0 and report["completion_tokens"] > 0


async def test_a_paid_call_is_a_402_probe_then_one_paid_retry(
    recorded_llm: MakeLLM, vcr: Cassette, recording_target: RecordingTarget
) -> None:
    response = await recorded_llm(PAID).achat([ChatMessage(role="user", content=QUESTION)])
    assert "84" in text_of(response) and response.additional_kwargs["cost_usd"] > 0
    assert exchanges(vcr) == [(False, 402), (True, 200)]
    if recording_target.kind == "replay":
        # the probe got the 402 and the paid retry the 200, not the 402 a second time
        assert vcr.play_count == 2 and vcr.all_played


def test_a_free_model_is_answered_without_a_payment(recorded_llm: MakeLLM, vcr: Cassette) -> None:
    response = recorded_llm(FREE).chat([ChatMessage(role="user", content=QUESTION)])
    assert "84" in text_of(response)
    assert response.additional_kwargs["cost_usd"] == 0.0
    assert exchanges(vcr) == [(False, 200)]


@pytest.mark.account_rail
async def test_an_account_key_call_is_billed_to_the_account_and_never_saved(
    recorded_llm: MakeLLM, vcr: Cassette
) -> None:
    llm = recorded_llm(PAID, account=True)
    response = await llm.achat([ChatMessage(role="user", content=QUESTION)])
    assert "84" in text_of(response)
    assert response.additional_kwargs["cost_usd"] is None  # billed to the account, not signed
    assert exchanges(vcr) == [(False, 200)]
    [(saved_request, saved_response)] = vcr.data
    assert saved_request.headers["authorization"] == REDACTED
    assert saved_response["headers"]["x-blockrun-request-id"] == ["req_recorded0001"]
