"""Fixtures for LlamaIndex end-to-end tests: LLMs on the LocalGateway, offline settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import llama_index.core
import pytest
from blockrun_core.testing import HARDHAT_KEY, LocalGateway
from llama_index.core import Settings
from llama_index.llms.blockrun import BlockRunLLM

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
