"""Code written for llama-index-llms-blockrun 0.1.0 runs unchanged on the ``BlockRun`` alias."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from blockrun_core.testing import LocalGateway
from llama_index.core import Settings
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.llms.blockrun import BlockRun, BlockRunLLM

from unit_tests.conftest import HARDHAT_ADDRESS, HARDHAT_KEY
from unit_tests.llama_index_llms_blockrun.support import paid_usd

MODEL = "openai/gpt-4o-mini"


@pytest.fixture
def llm(gw: LocalGateway) -> Iterator[BlockRun]:
    # every argument 0.1.0 took, spelled as its README showed them
    llm = BlockRun(
        model=MODEL,
        chain="base",
        private_key=HARDHAT_KEY,
        temperature=None,
        max_tokens=None,
        context_window=None,
        is_function_calling_model=True,
        max_cost_per_call=0.05,
        api_url=gw.url,
        timeout=30,
        additional_kwargs={"top_p": 0.9},
    )
    yield llm
    llm.close()


def multiply(a: float, b: float) -> float:
    """Multiply two numbers."""
    return a * b


def test_the_0_1_0_readme_runs(gw: LocalGateway, llm: BlockRun) -> None:
    assert llm.wallet_address == HARDHAT_ADDRESS
    assert str(llm.complete("what is 2+2")) == "4"
    response = llm.chat(
        [
            ChatMessage(role="system", content="Answer in one sentence."),
            ChatMessage(role="user", content="What is x402?"),
        ]
    )
    assert response.message.content == "Echo: What is x402?"
    assert response.additional_kwargs.get("cost_usd") == pytest.approx(
        gw.payments[-1].amount_micros / 1e6
    )
    text = "".join(chunk.delta or "" for chunk in llm.stream_complete("Write a haiku about USDC."))
    assert text == "Echo: Write a haiku about USDC."
    assert len(gw.payments) == 3


async def test_0_1_0_async_and_agent_code_runs(gw: LocalGateway, llm: BlockRun) -> None:
    assert (await llm.acomplete("what is 3*3")).text == "9"
    agent = FunctionAgent(tools=[multiply], llm=llm)
    result = await agent.run("multiply a=1234 and b=4567")
    assert "5635678" in str(result)
    assert paid_usd(gw) > 0


def test_the_alias_is_a_blockrun_llm_with_0_1_0_defaults(
    monkeypatch: pytest.MonkeyPatch, llm: BlockRun
) -> None:
    assert isinstance(llm, BlockRunLLM) and llm.class_name() == "BlockRun_LLM"
    meta = llm.metadata
    assert meta.num_output == 1024 and meta.context_window == 128_000
    assert meta.is_function_calling_model and meta.model_name == MODEL
    assert llm.to_dict()["chain"] == "base"
    # 0.1.0 read the key from BLOCKRUN_WALLET_KEY when private_key was not given
    monkeypatch.setenv("BLOCKRUN_WALLET_KEY", HARDHAT_KEY)
    assert BlockRun(MODEL).wallet_address == HARDHAT_ADDRESS


def test_the_alias_as_the_default_llm(monkeypatch: pytest.MonkeyPatch, llm: BlockRun) -> None:
    monkeypatch.setattr(Settings, "_llm", None)
    Settings.llm = llm
    assert Settings.llm is llm
