"""Fixtures for every test: a private home without credentials, and a shared LocalGateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from blockrun_core.testing import LocalGateway

from unit_tests.redis_server import RedisServer, redis_server_or_skip, running_redis_server

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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server (no persistence) on a free loopback port for the whole run.

    Skips without ``redis-server`` on PATH, except under CI, which installs it.
    """
    executable = redis_server_or_skip()
    with running_redis_server(executable, tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the shared redis-server; tests keep to their own key prefixes."""
    return redis_server.url
