"""Fixtures for BlockRunLLM's tests: LLMs wired to the shared LocalGateway, an event log."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import llama_index.core
import pytest
from blockrun_core.testing import LocalGateway
from llama_index.core.instrumentation import get_dispatcher
from llama_index.llms.blockrun import BlockRunLLM

from unit_tests.conftest import HARDHAT_KEY
from unit_tests.llama_index_llms_blockrun.support import PAID, EventLog

MakeLLM = Callable[..., BlockRunLLM]


@pytest.fixture(autouse=True)
def local_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """LlamaIndex's token counting without tiktoken, whose encodings it may download."""
    monkeypatch.setattr(llama_index.core, "global_tokenizer", str.split)


@pytest.fixture
def make_llm(gw: LocalGateway) -> Iterator[MakeLLM]:
    """``make_llm(model=PAID, **fields)``: a BlockRunLLM paying the gateway from HARDHAT_KEY."""
    made: list[BlockRunLLM] = []

    def make(model: str = PAID, **fields: Any) -> BlockRunLLM:
        fields.setdefault("wallet_key", HARDHAT_KEY)
        llm = BlockRunLLM(model, api_url=gw.url, timeout=5.0, **fields)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


@pytest.fixture
def event_log() -> Iterator[EventLog]:
    """Records the events of one test from LlamaIndex's root dispatcher."""
    log = EventLog()
    root = get_dispatcher()
    root.add_event_handler(log)
    yield log
    root.event_handlers.remove(log)
