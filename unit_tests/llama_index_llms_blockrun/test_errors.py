"""Bad inputs raise the core's documented errors, and nothing is paid."""

from __future__ import annotations

import pytest
from blockrun_core import (
    ConfigurationError,
    PaymentRefusedError,
    RateLimitError,
    errors,
)
from blockrun_core.testing import Fault, LocalGateway
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.llms.blockrun import BlockRun, BlockRunLLM

from unit_tests.conftest import HARDHAT_ADDRESS, HARDHAT_KEY
from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import METHODS, PAID, call

HI = [ChatMessage(role="user", content="what is 12 * 7")]
ECHO = FunctionTool.from_defaults(fn=lambda a: a, name="echo", description="Echo a.")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wallet_key": "0x1234"}, "wallet key is malformed"),
        ({"wallet_key": HARDHAT_KEY, "api_key": "brk_live_abcdefgh12"}, "not both"),
        ({"api_key": "sk-not-a-brk-key"}, "account key is malformed"),
        ({"api_url": "http://gateway.example.com/api"}, "Refusing plain HTTP"),
        ({"max_cost_per_call": float("inf")}, "finite number of dollars"),
    ],
    ids=["short-key", "both-keys", "bad-account-key", "plain-http", "infinite-cap"],
)
def test_bad_configuration_fails_at_construction(
    gw: LocalGateway, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BlockRunLLM(PAID, **options)  # type: ignore[arg-type]
    assert not gw.requests


@pytest.mark.parametrize("method", METHODS)
async def test_a_quote_above_the_cap_is_refused_unsigned(
    gw: LocalGateway, make_llm: MakeLLM, method: str
) -> None:
    llm = make_llm(max_cost_per_call=0.001)  # the gateway asks $0.002
    with pytest.raises(PaymentRefusedError) as info:
        await call(llm, method, "what is 12 * 7")
    assert info.value.reason == "over_cap" and not info.value.retryable
    assert not gw.payments and not gw.claimed_nonces
    assert all(not r.paid for r in gw.requests)


async def test_unknown_model_per_call_is_refused_before_sending(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    with pytest.raises(ConfigurationError, match="Did you mean"):
        await make_llm().achat(HI, model="openai/gpt-4o-minii")
    assert not gw.requests


def test_solana_is_not_supported_yet() -> None:
    with pytest.raises(ConfigurationError, match="chain='solana' is not supported yet"):
        BlockRun(model=PAID, chain="solana")
    with pytest.raises(ConfigurationError, match="chain must be 'base'"):
        BlockRun(model=PAID, chain="ethereum")


def test_an_unfunded_wallet_is_rejected_and_nothing_moves(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    gw.set_balance(HARDHAT_ADDRESS, 0)
    with pytest.raises(errors.PaymentUnfundedError):
        make_llm().chat(HI)
    assert not gw.payments and gw.balance(HARDHAT_ADDRESS) == 0


def test_rate_limits_keep_the_core_class_and_retry_after(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    gw.inject(Fault.error(429, retry_after=7, times=None))
    with pytest.raises(RateLimitError) as info:
        make_llm(max_retries=0).chat(HI)
    assert info.value.retryable and info.value.retry_after == 7
    assert not gw.payments


def test_a_forced_tool_call_on_a_model_without_tools_names_the_problem(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    with pytest.raises(errors.UpstreamError, match="does not support tool calling"):
        make_llm("nvidia/gpt-oss-120b").chat_with_tools([ECHO], user_msg="echo 1")
    assert not gw.payments


def test_tools_on_the_free_profile_name_the_missing_capability(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    llm = make_llm("free")
    assert llm.metadata.is_function_calling_model is False
    with pytest.raises(errors.NoCapableModelError) as info:
        llm.chat_with_tools([ECHO], user_msg="echo 1")
    assert info.value.eliminated and not gw.requests
