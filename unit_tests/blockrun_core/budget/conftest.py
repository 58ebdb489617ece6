"""Fixtures for the budget store tests: every store kind, and a real redis-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from unit_tests.blockrun_core.budget.stores import StoreSpec
from unit_tests.redis_server import RedisServer


def make_spec(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A fresh store of ``kind``: its own file, or its own key prefix on the shared server."""
    if kind == "sqlite":
        return StoreSpec("sqlite", str(tmp_path / "budgets.sqlite3"))
    if kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return StoreSpec("redis", server.url, f"test:{uuid.uuid4().hex}:")
    return StoreSpec("memory")


@pytest.fixture(params=["memory", "sqlite", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    return make_spec(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "redis"])
def shared_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A store that several processes can open."""
    return make_spec(request.param, request, tmp_path)


@pytest.fixture
async def store(spec: StoreSpec) -> AsyncIterator[object]:
    """The store under test, closed in the test's own event loop."""
    opened = spec.open()
    yield opened
    await opened.aclose()
