"""Fixtures for LlamaIndex end-to-end tests: LLMs on the LocalGateway or on cassettes.

``make_llm`` talks to the LocalGateway; ``recorded_llm`` serves the recorded tests
(``pytest.mark.vcr``): replayed from ``cassettes/`` with sockets off, or recorded over
real HTTP (see ``integration_tests/README.md``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import llama_index.core
import pytest
from blockrun_core.testing import HARDHAT_KEY, LocalGateway
from llama_index.core import Settings
from llama_index.llms.blockrun import BlockRunLLM

from integration_tests import cassettes

MakeLLM = Callable[..., BlockRunLLM]


@pytest.fixture
def make_llm(gw: LocalGateway) -> Iterator[MakeLLM]:
    """``make_llm(model="auto", **fields)``: a BlockRunLLM paying the gateway."""
    made: list[BlockRunLLM] = []

    def make(model: str = "auto", **fields: Any) -> BlockRunLLM:
        llm = BlockRunLLM(model, wallet_key=HARDHAT_KEY, api_url=gw.url, timeout=5.0, **fields)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


@pytest.fixture
def recorded_llm(
    request: pytest.FixtureRequest, recording_target: cassettes.RecordingTarget
) -> Iterator[MakeLLM]:
    """``recorded_llm(model="auto", account=False, **fields)``: a BlockRunLLM on the run's
    recording target, paying with its wallet or, with ``account=True``, its ``brk_`` key."""
    api_url = cassettes.connect(recording_target, request)
    made: list[BlockRunLLM] = []

    def make(model: str = "auto", *, account: bool = False, **fields: Any) -> BlockRunLLM:
        if account:
            account_url, key = cassettes.account_rail(recording_target, request)
            fields.update(api_key=key, api_url=account_url)
        else:
            fields.update(wallet_key=recording_target.wallet_key, api_url=api_url)
        llm = BlockRunLLM(model, timeout=60.0, **fields)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{cassettes.ACCOUNT_RAIL_MARK}: a recorded test on the brk_ account rail"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip account-rail tests a live recording cannot run, before their cassette is reset."""
    if item.get_closest_marker(cassettes.ACCOUNT_RAIL_MARK) is None:
        return
    target = cassettes.recording_target(item.config.getoption("--record-mode"), os.environ)
    reason = cassettes.account_skip_reason(target)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def offline_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """LlamaIndex's global Settings for one test, restored afterwards, with a local tokenizer.

    LlamaIndex counts tokens with tiktoken, whose encodings it would download when its
    bundled cache is not used (e.g. TIKTOKEN_CACHE_DIR pointing elsewhere); a whitespace
    tokenizer keeps prompt sizing local and deterministic.
    """
    for name in (
        "_llm",
        "_embed_model",
        "_callback_manager",
        "_tokenizer",
        "_node_parser",
        "_prompt_helper",
        "_chat_prompt_helper",
        "_transformations",
    ):
        monkeypatch.setattr(Settings, name, None)
    monkeypatch.setattr(llama_index.core, "global_tokenizer", str.split)
