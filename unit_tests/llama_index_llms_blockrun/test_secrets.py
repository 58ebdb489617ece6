"""The wallet and account keys never leave BlockRunLLM: not serialised, printed, logged or
emitted in events."""

from __future__ import annotations

import logging
import pickle
from typing import Any

import pytest
from blockrun_core import PaymentRefusedError
from blockrun_core.testing import LocalGateway
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, LlamaDebugHandler

from unit_tests.conftest import HARDHAT_KEY
from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import EventLog

ACCOUNT_KEY = "brk_live_secretsecret123"
HI = [ChatMessage(role="user", content="what is 12 * 7")]


def secrets_in(text: str) -> list[str]:
    bare = HARDHAT_KEY.removeprefix("0x")
    return [s for s in (bare, bare.upper(), ACCOUNT_KEY) if s in text]


@pytest.mark.parametrize("key", ["wallet", "account"])
def test_serialised_and_printed_forms_hold_no_key(make_llm: MakeLLM, key: str) -> None:
    options: dict[str, Any] = (
        {"wallet_key": HARDHAT_KEY}
        if key == "wallet"
        else {"wallet_key": None, "api_key": ACCOUNT_KEY}
    )
    llm = make_llm(max_cost_per_call=0.5, **options)
    forms = [
        llm.to_json(),
        str(llm.to_dict()),
        llm.model_dump_json(),
        repr(llm),
        str(llm),
        str(llm.to_payload()),
        str(llm.metadata),
    ]
    assert not secrets_in("\n".join(forms))
    assert llm.to_dict()["max_cost_per_call"] == 0.5  # the settings themselves are kept


async def test_logs_events_and_callbacks_hold_no_key(
    gw: LocalGateway,
    make_llm: MakeLLM,
    event_log: EventLog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    debug = LlamaDebugHandler()
    llm = make_llm("auto", callback_manager=CallbackManager([debug]))
    with caplog.at_level(logging.DEBUG):
        llm.chat(HI)
        list(llm.stream_complete("tell a story"))
        await llm.achat(HI)
        with pytest.raises(PaymentRefusedError) as refused:
            llm.chat(HI, max_tokens=1_000_000, model="openai/gpt-5.5-pro")
    assert gw.payments and event_log.events
    dumped = [e.model_dump_json() for e in event_log.events]
    payloads = [
        str(p) for pair in debug.get_llm_inputs_outputs() for e in pair for p in [e.payload]
    ]
    assert not secrets_in("\n".join([caplog.text, *dumped, *payloads, str(refused.value)]))


def test_a_pickled_llm_holds_no_key(make_llm: MakeLLM) -> None:
    llm = make_llm()
    llm.chat(HI)  # with live clients, which hold the signer
    data = pickle.dumps(llm)
    assert not secrets_in(repr(data))
    restored = pickle.loads(data)  # noqa: S301 - our own bytes; credentials come from the env again
    assert restored.model == llm.model and restored.wallet_address is None
