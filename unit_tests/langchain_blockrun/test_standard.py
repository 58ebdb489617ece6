"""LangChain's standard unit tests for ChatBlockRun (langchain-tests ChatModelUnitTests)."""

from __future__ import annotations

from typing import Any

import pytest
from blockrun_core.testing import HARDHAT_KEY
from langchain_blockrun import ChatBlockRun
from langchain_core.language_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests

ACCOUNT_KEY = "brk_test_0123456789abcdef"


class TestChatBlockRunUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatBlockRun]:
        return ChatBlockRun

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "openai/gpt-4o-mini"}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # The suite's api_key="test" is refused at construction (a malformed brk_ key is a
        # bad input with a clear error); a well-formed account key takes its place.
        return {**super().standard_chat_model_params, "api_key": ACCOUNT_KEY}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"BLOCKRUN_WALLET_KEY": HARDHAT_KEY},
            {"model": "openai/gpt-4o-mini"},
            {"wallet_key": HARDHAT_KEY, "model": "openai/gpt-4o-mini"},
        )

    @pytest.mark.xfail(
        reason="langchain_core.load(allowed_objects='all') admits only the classes listed in "
        "langchain_core.load.mapping, which holds no third-party package; load ChatBlockRun "
        "with allowed_objects=[ChatBlockRun] (see test_construction.py). The dumpd snapshot "
        "is still compared before that step."
    )
    def test_serdes(self, model: BaseChatModel, snapshot: Any) -> None:
        super().test_serdes(model, snapshot)
