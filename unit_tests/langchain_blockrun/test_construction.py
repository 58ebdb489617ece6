"""Constructing ChatBlockRun: keys, environment, extra parameters, secrets, tracing hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from blockrun_core.testing import HARDHAT_KEY
from langchain_blockrun import ChatBlockRun
from langchain_core.exceptions import (
    ModelAuthenticationError,
    ModelInvalidRequestError,
    ModelNotFoundError,
)
from langchain_core.load import dumpd, dumps, load
from pydantic import ValidationError

ACCOUNT_KEY = "brk_test_0123456789abcdef"
MODEL = "openai/gpt-4o-mini"


def test_wallet_key_from_either_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASE_CHAIN_WALLET_KEY", HARDHAT_KEY)
    llm = ChatBlockRun(model=MODEL)
    assert llm.wallet_key is not None and llm.wallet_key.get_secret_value() == HARDHAT_KEY
    assert llm.api_key is None


def test_account_key_in_environment_wins_over_wallet_in_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLOCKRUN_WALLET_KEY", HARDHAT_KEY)
    monkeypatch.setenv("BLOCKRUN_API_KEY", ACCOUNT_KEY)
    llm = ChatBlockRun(model=MODEL)
    assert llm.api_key is not None and llm.wallet_key is None


def test_explicit_wallet_key_ignores_account_key_in_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BLOCKRUN_API_KEY", ACCOUNT_KEY)
    llm = ChatBlockRun(model=MODEL, wallet_key=HARDHAT_KEY)
    assert llm.api_key is None


@pytest.mark.parametrize(
    "keys",
    [
        {"wallet_key": "0x1234"},
        {"wallet_key": ACCOUNT_KEY},
        {"api_key": "test"},
        {"wallet_key": HARDHAT_KEY, "api_key": ACCOUNT_KEY},
    ],
)
def test_bad_keys_are_refused_at_construction(keys: dict[str, str]) -> None:
    with pytest.raises(ModelAuthenticationError) as caught:
        ChatBlockRun(model=MODEL, **keys)
    assert HARDHAT_KEY[2:] not in str(caught.value) and ACCOUNT_KEY not in str(caught.value)


def test_unknown_model_is_refused_with_suggestions() -> None:
    with pytest.raises(ModelNotFoundError, match="Did you mean") as caught:
        ChatBlockRun(model="openai/gpt-4o-mimi")
    assert "openai/gpt-4o-mini" in caught.value.suggestions  # type: ignore[attr-defined]


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ModelInvalidRequestError, match="HTTPS"):
        ChatBlockRun(model=MODEL, api_url="http://example.com/api")


@pytest.mark.parametrize(
    "bad",
    [{"max_tokens": 0}, {"temperature": 3}, {"max_cost_per_call": 0}, {"max_retries": -1}],
)
def test_bad_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        ChatBlockRun(model=MODEL, **bad)


def test_budget_must_be_a_budget() -> None:
    with pytest.raises(ValidationError, match=r"blockrun_core\.Budget"):
        ChatBlockRun(model=MODEL, budget=1.0)


def test_unknown_parameters_go_to_model_kwargs() -> None:
    with pytest.warns(UserWarning, match="model_kwargs"):
        llm = ChatBlockRun(model=MODEL, top_p=0.5, model_kwargs={"seed": 7})
    assert llm.model_kwargs == {"top_p": 0.5, "seed": 7}


@pytest.mark.parametrize("name", ["private_key", "openai_api_key", "secret", "mnemonic"])
def test_credential_like_parameters_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="looks like a credential"):
        ChatBlockRun(model=MODEL, **{name: HARDHAT_KEY})


def test_a_parameter_given_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="both directly and in model_kwargs"):
        ChatBlockRun(model=MODEL, seed=1, model_kwargs={"seed": 2})


def test_key_never_appears_in_repr_dumps_or_traced_params() -> None:
    llm = ChatBlockRun(model=MODEL, wallet_key=HARDHAT_KEY, max_cost_per_call=0.05)
    secret = HARDHAT_KEY.removeprefix("0x")
    for text in (repr(llm), str(llm), dumps(llm), json.dumps(llm._identifying_params)):
        assert secret not in text
    assert secret not in json.dumps(llm._get_invocation_params(stop=None), default=str)
    kwargs = dumpd(llm)["kwargs"]
    assert kwargs["wallet_key"] == {"lc": 1, "type": "secret", "id": ["BLOCKRUN_WALLET_KEY"]}


def test_dumped_model_loads_back_with_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm = ChatBlockRun(model=MODEL, wallet_key=HARDHAT_KEY, max_tokens=64, stop=["END"])
    monkeypatch.setenv("BLOCKRUN_WALLET_KEY", HARDHAT_KEY)
    with pytest.warns(Warning, match="in beta"):  # LangChainBetaWarning
        loaded = load(
            dumpd(llm),
            allowed_objects=[ChatBlockRun],
            valid_namespaces=["langchain_blockrun"],
            secrets_from_env=True,
        )
    assert isinstance(loaded, ChatBlockRun)
    assert (loaded.model, loaded.max_tokens, loaded.stop) == (MODEL, 64, ["END"])
    assert loaded.wallet_key is not None and loaded.wallet_key.get_secret_value() == HARDHAT_KEY


def test_tracing_parameters_follow_the_call() -> None:
    llm = ChatBlockRun(model="auto", temperature=0.2, max_tokens=50)
    assert llm._llm_type == "blockrun-chat"
    params = llm._get_ls_params(stop=["x"], model=MODEL, max_tokens=10)
    assert params == {
        "ls_provider": "blockrun",
        "ls_model_name": MODEL,
        "ls_model_type": "chat",
        "ls_temperature": 0.2,
        "ls_max_tokens": 10,
        "ls_stop": ["x"],
    }
    assert llm._get_ls_params()["ls_model_name"] == "auto"


def test_profile_comes_from_the_catalog() -> None:
    llm = ChatBlockRun(model=MODEL)
    assert llm.profile is not None
    assert llm.profile["max_input_tokens"] == 128_000 and llm.profile["tool_calling"] is True
    free = ChatBlockRun(model="nvidia/llama-3.2-11b-vision").profile
    assert free is not None and free["image_inputs"] is True
    routed = ChatBlockRun(model="auto").profile
    assert routed is not None and routed["structured_output"] is True
    assert routed["tool_calling"] is True and routed["image_inputs"] is True
    assert "max_input_tokens" not in routed  # depends on the model chosen per call
    only_free = ChatBlockRun(model="free").profile
    assert only_free is not None and only_free["tool_calling"] is False  # no free tool model


def test_version_is_recorded_for_traces() -> None:
    versions = (ChatBlockRun(model=MODEL).metadata or {})["lc_versions"]
    assert versions["langchain-blockrun"] == "0.1.0"


IMPORT_PROBE = textwrap.dedent(
    """
    import json, sys
    import langchain_blockrun
    heavy = ("httpx", "langchain_core.language_models", "pydantic", "coincurve")
    print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
    """
)


def test_importing_the_package_loads_nothing_heavy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_public_names() -> None:
    import langchain_blockrun

    assert sorted(langchain_blockrun.__all__) == [
        "BlockRunBudgetMiddleware",
        "BlockRunCallbackHandler",
        "ChatBlockRun",
        "__version__",
        "convert_error",
        "get_blockrun_callback",
    ]
    for name in langchain_blockrun.__all__:
        assert getattr(langchain_blockrun, name) is not None
