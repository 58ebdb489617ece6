"""Fixtures for every test: a private home without credentials, and a shared LocalGateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from blockrun_core.testing import LocalGateway

_CREDENTIAL_ENV = (
    "BLOCKRUN_WALLET_KEY",
    "BASE_CHAIN_WALLET_KEY",
    "BLOCKRUN_API_KEY",
    "BLOCKRUN_API_URL",
    "BLOCKRUN_API_KEY_URL",
    "BLOCKRUN_HOME",
    "SOLANA_WALLET_KEY",
    "BLOCKRUN_LEDGER",
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME (BlockRun's SDK writes ~/.blockrun) and no BlockRun variables."""
    for name in _CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    return path


@pytest.fixture(scope="session")
def gateway() -> Iterator[LocalGateway]:
    """One LocalGateway for the whole run; use ``gw`` to get it reset."""
    with LocalGateway() as gw:
        yield gw


@pytest.fixture
def gw(gateway: LocalGateway) -> LocalGateway:
    """The shared LocalGateway, with its records, faults and prices reset."""
    gateway.reset()
    return gateway
