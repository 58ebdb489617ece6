"""LangChain's standard integration tests for ChatBlockRun, live and from cassettes.

``TestChatBlockRunLive`` talks to the session's LocalGateway over real loopback HTTP: the
gateway verifies each x402 signature and records each payment (the wallet is Hardhat's
public test key, funded only there). ``TestChatBlockRunReplay`` runs the same suite from
cassettes with sockets off; ``integration_tests/README.md`` tells how to re-record them.
"""

from __future__ import annotations

from typing import Any

import pytest
from blockrun_core.testing import HARDHAT_KEY, LocalGateway
from langchain_blockrun import ChatBlockRun
from langchain_tests.integration_tests import ChatModelIntegrationTests

from integration_tests.cassettes import RecordingTarget, connect


def _script_weather_decision(request: pytest.FixtureRequest, gw: LocalGateway) -> None:
    # LocalGateway's model calls a tool only when the prompt names it or tool_choice forces
    # it; test_agent_loop asks "What is the weather in San Francisco, CA?" with get_weather
    # bound, where a real model calls the tool. Script that one decision.
    if request.node.originalname == "test_agent_loop":
        gw.script(None, [{"name": "get_weather", "arguments": {"location": "San Francisco, CA"}}])


class _BlockRunStandard(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatBlockRun]:
        return ChatBlockRun

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "openai/gpt-4o-mini"}

    @property
    def model_override_value(self) -> str:
        return "openai/gpt-4.1-mini"

    @property
    def supports_json_mode(self) -> bool:
        return True

    # The image, PDF and audio URL tests download their inputs from the internet.


class TestChatBlockRunLive(_BlockRunStandard):
    @pytest.fixture(autouse=True)
    def _gateway(
        self,
        request: pytest.FixtureRequest,
        home: object,
        gw: LocalGateway,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("BLOCKRUN_API_URL", gw.url)
        monkeypatch.setenv("BLOCKRUN_WALLET_KEY", HARDHAT_KEY)
        _script_weather_decision(request, gw)


@pytest.mark.vcr
class TestChatBlockRunReplay(_BlockRunStandard):
    @property
    def enable_vcr_tests(self) -> bool:
        return True

    @pytest.fixture(autouse=True)
    def _gateway_or_cassette(
        self,
        request: pytest.FixtureRequest,
        home: object,
        recording_target: RecordingTarget,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("BLOCKRUN_WALLET_KEY", recording_target.wallet_key)
        monkeypatch.setenv("BLOCKRUN_API_URL", connect(recording_target, request))
        if recording_target.kind == "local":
            _script_weather_decision(request, request.getfixturevalue("gw"))
