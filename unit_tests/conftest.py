"""Shared fixtures: every test runs with a private home and no wallet or account key set."""

from __future__ import annotations

from pathlib import Path

import pytest

HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

_CREDENTIAL_ENV = (
    "BLOCKRUN_WALLET_KEY",
    "BASE_CHAIN_WALLET_KEY",
    "BLOCKRUN_API_KEY",
    "BLOCKRUN_API_URL",
    "BLOCKRUN_API_KEY_URL",
    "BLOCKRUN_HOME",
    "SOLANA_WALLET_KEY",
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in _CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home
