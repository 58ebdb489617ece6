"""Bad store configuration gets a clear error, never a hang, never a leaked password."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest
import redis
import redis.asyncio
from blockrun_core.budget.redis import RedisStore
from blockrun_core.budget.sqlite import SQLiteStore
from blockrun_core.budget.store import Usage
from blockrun_core.errors import ConfigurationError

from unit_tests.blockrun_core.budget.stores import NOW, key
from unit_tests.redis_server import RedisServer

BUDGET = key("team", 1_000)

pytestmark = pytest.mark.timeout(30)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_redis_raises_a_configuration_error_naming_it() -> None:
    port = _closed_port()
    store = RedisStore(f"redis://:hunter2@127.0.0.1:{port}/3")

    with pytest.raises(ConfigurationError, match="Cannot reach the Redis budget store") as caught:
        store.reserve([BUDGET], "r1", 100, now=NOW, ttl_seconds=60)

    message = str(caught.value)
    assert f"redis://:***@127.0.0.1:{port}/3" in message
    assert "hunter2" not in message
    assert "hunter2" not in repr(store)
    assert isinstance(caught.value.__cause__, redis.exceptions.ConnectionError)
    store.close()


async def test_an_unreachable_redis_fails_fast_in_async_code_too() -> None:
    store = RedisStore(f"redis://user:hunter2@127.0.0.1:{_closed_port()}/0")

    with pytest.raises(ConfigurationError, match=r"redis://user:\*\*\*@127\.0\.0\.1:\d+/0"):
        await store.areserve([BUDGET], "r1", 100, now=NOW, ttl_seconds=60)
    with pytest.raises(ConfigurationError, match="Cannot reach"):
        await store.ausage(BUDGET, now=NOW)
    await store.aclose()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:6379/0", "127.0.0.1:6379", "redis://:secret@127.0.0.1:port/0"]
)
def test_a_malformed_redis_url_is_refused_when_the_store_is_made(url: str) -> None:
    with pytest.raises(ConfigurationError, match="Bad Redis URL") as caught:
        RedisStore(url)
    assert "secret" not in str(caught.value)


def test_a_wrong_redis_password_is_a_configuration_error_without_the_password(
    redis_server: RedisServer,
) -> None:
    admin = redis.Redis(host=redis_server.host, port=redis_server.port)
    admin.execute_command("ACL", "SETUSER", "budgeter", "on", ">right-pass", "~*", "+@all")
    admin.close()
    base = f"{redis_server.host}:{redis_server.port}/0"
    wrong = RedisStore(f"redis://budgeter:wrong-pass@{base}", prefix="errors:")
    right = RedisStore(f"redis://budgeter:right-pass@{base}", prefix="errors:")
    try:
        with pytest.raises(ConfigurationError, match="budgeter:\\*\\*\\*@") as caught:
            wrong.reserve([BUDGET], "r1", 100, now=NOW, ttl_seconds=60)
        assert "wrong-pass" not in str(caught.value)
        assert "right-pass" not in repr(right)
        assert right.usage(BUDGET, now=NOW) == Usage(0, 0)  # the failed call reserved nothing
    finally:
        wrong.close()
        right.close()


def test_a_redis_that_forgot_the_scripts_gets_them_again(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, prefix="flushed:")
    try:
        assert store.reserve([BUDGET], "r1", 400, now=NOW, ttl_seconds=60) is None
        admin = redis.Redis(host=redis_server.host, port=redis_server.port)
        admin.script_flush()
        admin.close()
        store.commit([BUDGET], "r1", 400, now=NOW)
        assert store.usage(BUDGET, now=NOW) == Usage(400, 0)
    finally:
        store.close()


def test_a_redis_store_serves_successive_event_loops(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, prefix="loops:")

    async def hold(rid: str) -> object:
        return await store.areserve([BUDGET], rid, 100, now=NOW, ttl_seconds=60)

    try:
        assert asyncio.run(hold("first")) is None
        assert asyncio.run(hold("second")) is None  # a new loop gets its own connections
        assert store.usage(BUDGET, now=NOW) == Usage(0, 200)
    finally:
        store.close()


def test_a_missing_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ConfigurationError, match=r"blockrun-core\[redis\]"):
        RedisStore()


def test_something_else_than_a_url_or_client_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="a Redis URL or a redis client"):
        RedisStore(6379)  # type: ignore[arg-type]


async def test_a_store_on_an_asyncio_client_serves_only_async_calls(
    redis_server: RedisServer,
) -> None:
    client = redis.asyncio.Redis(host=redis_server.host, port=redis_server.port)
    store = RedisStore(client, prefix="async-only:")

    assert await store.areserve([BUDGET], "r1", 100, now=NOW, ttl_seconds=60) is None
    with pytest.raises(ConfigurationError, match="async methods"):
        store.usage(BUDGET, now=NOW)
    await store.arelease([BUDGET], "r1")
    assert await store.ausage(BUDGET, now=NOW) == Usage(0, 0)

    await store.aclose()
    assert await client.ping()  # the caller's client stays open
    await client.aclose()


async def test_a_store_on_a_sync_client_serves_async_calls_off_the_loop(
    redis_server: RedisServer,
) -> None:
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    store = RedisStore(client, prefix="sync-client:")

    assert await store.areserve([BUDGET], "r1", 700, now=NOW, ttl_seconds=60) is None
    assert store.reserve([BUDGET], "r2", 301, now=NOW, ttl_seconds=60) is not None
    await store.acommit([BUDGET], "r1", 700, now=NOW)
    assert store.usage(BUDGET, now=NOW) == Usage(700, 0)
    assert f"{redis_server.port}" in repr(store)

    store.close()
    assert client.ping()  # the caller's client stays open
    client.close()


def test_a_sqlite_path_under_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ConfigurationError, match="Cannot create the folder"):
        SQLiteStore(blocker / "budgets.sqlite3")
    assert blocker.read_text() == "x"


def test_a_sqlite_path_that_is_a_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="budget store"):
        SQLiteStore(tmp_path)


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 100)
    with pytest.raises(ConfigurationError, match="not a database"):
        SQLiteStore(notes)
    assert notes.read_text() == "my notes, not a database\n" * 100


def test_a_sqlite_store_creates_its_folder_and_expands_the_home(home: Path, tmp_path: Path) -> None:
    store = SQLiteStore("~/.blockrun/budgets.sqlite3")
    try:
        assert store.path == str(home / ".blockrun" / "budgets.sqlite3")
        assert store.reserve([BUDGET], "r1", 1_000, now=NOW, ttl_seconds=60) is None
        assert repr(store) == f"SQLiteStore({store.path!r})"
    finally:
        store.close()
    reopened = SQLiteStore(home / ".blockrun" / "budgets.sqlite3")
    try:
        assert reopened.usage(BUDGET, now=NOW) == Usage(0, 1_000)
    finally:
        reopened.close()
