"""Refreshing the catalog from GET /v1/models: disk cache, TTL, fallbacks, sync and async."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from blockrun_core.catalog import Catalog, aload_catalog, load_catalog
from blockrun_core.catalog.refresh import default_cache_dir, models_url

API = "https://blockrun.test/api"
URL = "https://blockrun.test/api/v1/models"

PAYLOAD = {
    "object": "list",
    "data": [
        {
            "id": "openai/gpt-5.5",
            "owned_by": "openai",
            "name": "GPT-5.5",
            "context_window": 1050000,
            "max_output": 128000,
            "categories": ["chat", "coding", "vision"],
            "billing_mode": "paid",
            "pricing": {"input": 4.0, "output": 28.0},
        },
        {
            "id": "anthropic/claude-sonnet-4.6",
            "categories": ["chat", "reasoning"],
            "billing_mode": "paid",
            "pricing": {"input": 3.0, "output": 15.0},
        },
        {"id": "openai/gpt-image-2", "categories": ["image"], "billing_mode": "per_image"},
        {"id": "acme/hidden", "hidden": True, "pricing": {"input": 1, "output": 1}},
    ],
}


class Gateway:
    """A scripted /v1/models endpoint that counts its requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.respond: Callable[[httpx.Request], httpx.Response] = lambda _: httpx.Response(
            200, json=PAYLOAD
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    def fail_with(self, response: httpx.Response | Exception) -> None:
        def respond(request: httpx.Request) -> httpx.Response:
            if isinstance(response, Exception):
                raise response
            return response

        self.respond = respond


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def client(gateway: Gateway) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(gateway))


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _cache_files(cache: Path) -> list[Path]:
    return sorted(cache.iterdir()) if cache.exists() else []


def _age_cache(cache: Path, seconds: float) -> None:
    (path,) = _cache_files(cache)
    record = json.loads(path.read_text())
    record["fetched_at"] = time.time() - seconds
    path.write_text(json.dumps(record))


def test_models_url() -> None:
    assert models_url("https://blockrun.ai/api") == "https://blockrun.ai/api/v1/models"
    assert models_url("https://blockrun.ai/api/") == "https://blockrun.ai/api/v1/models"
    assert models_url("https://api.blockrun.ai/v1") == "https://api.blockrun.ai/v1/models"
    assert models_url("https://api.blockrun.ai/v1/") == "https://api.blockrun.ai/v1/models"


def test_fetch_parses_and_writes_the_cache(
    gateway: Gateway, client: httpx.Client, cache: Path
) -> None:
    cat = load_catalog(API, client=client, cache_dir=cache)
    assert cat.source == "live"
    assert [m.id for m in cat] == ["openai/gpt-5.5", "anthropic/claude-sonnet-4.6"]
    assert cat.get("gpt-5.5").input_price == 4.0  # the live price, not the bundled one
    assert cat.get("gpt-5.5").supports_tools  # from the bundled override table
    assert cat.resolve_id("sonnet") == "anthropic/claude-sonnet-4.6"  # bundled alias
    (request,) = gateway.requests
    assert str(request.url) == URL
    assert request.method == "GET"
    assert request.headers["accept"] == "application/json"
    (path,) = _cache_files(cache)  # atomic write: no temporary file left behind
    record = json.loads(path.read_text())
    assert record["url"] == URL
    assert record["payload"] == PAYLOAD
    assert time.time() - record["fetched_at"] < 60


def test_fresh_cache_means_no_request(gateway: Gateway, client: httpx.Client, cache: Path) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    gateway.fail_with(AssertionError("no request expected"))
    cat = load_catalog(API, client=client, cache_dir=cache)
    assert len(gateway.requests) == 1
    assert cat.source == "cache"
    assert cat.get("gpt-5.5").input_price == 4.0


def test_refresh_true_ignores_a_fresh_cache(
    gateway: Gateway, client: httpx.Client, cache: Path
) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    assert load_catalog(API, client=client, cache_dir=cache, refresh=True).source == "live"
    assert len(gateway.requests) == 2


def test_stale_cache_is_refetched(gateway: Gateway, client: httpx.Client, cache: Path) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    _age_cache(cache, 7200)
    new_payload = json.loads(json.dumps(PAYLOAD))
    new_payload["data"][0]["pricing"]["input"] = 4.5
    gateway.respond = lambda _: httpx.Response(200, json=new_payload)
    cat = load_catalog(API, client=client, cache_dir=cache, ttl_seconds=3600)
    assert len(gateway.requests) == 2
    assert cat.source == "live"
    assert cat.get("gpt-5.5").input_price == 4.5
    (path,) = _cache_files(cache)
    assert json.loads(path.read_text())["payload"] == new_payload


def test_a_cache_from_the_future_is_stale(
    gateway: Gateway, client: httpx.Client, cache: Path
) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    _age_cache(cache, -86_400)
    load_catalog(API, client=client, cache_dir=cache)
    assert len(gateway.requests) == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, json={"error": "boom"}),
        httpx.Response(429, headers={"Retry-After": "60"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"object": "list", "data": []}),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_failure_falls_back_to_the_stale_cache(
    gateway: Gateway,
    client: httpx.Client,
    cache: Path,
    caplog: pytest.LogCaptureFixture,
    failure: httpx.Response | Exception,
) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    _age_cache(cache, 7200)
    before = _cache_files(cache)[0].read_text()
    gateway.fail_with(failure)
    with caplog.at_level(logging.WARNING, logger="blockrun"):
        cat = load_catalog(API, client=client, cache_dir=cache)
    assert len(gateway.requests) == 2
    assert cat.source == "stale-cache"
    assert cat.get("gpt-5.5").input_price == 4.0
    assert _cache_files(cache)[0].read_text() == before  # a failure never overwrites it
    (record,) = caplog.records
    assert record.name == "blockrun"
    assert record.levelno == logging.WARNING
    assert "using the cached copy" in record.getMessage()


def test_failure_without_a_cache_falls_back_to_the_bundled_snapshot(
    gateway: Gateway, client: httpx.Client, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.fail_with(httpx.ConnectError("refused"))
    with caplog.at_level(logging.WARNING, logger="blockrun"):
        cat = load_catalog(API, client=client, cache_dir=cache)
    assert cat is Catalog.bundled()
    assert "using the bundled snapshot" in caplog.text
    assert _cache_files(cache) == []


def test_a_corrupt_or_foreign_cache_file_is_ignored(
    gateway: Gateway, client: httpx.Client, cache: Path
) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    (path,) = _cache_files(cache)
    for content in ("{not json", "[]", json.dumps({"url": "https://elsewhere", "fetched_at": 1})):
        path.write_text(content)
        gateway.fail_with(httpx.ConnectError("refused"))
        assert load_catalog(API, client=client, cache_dir=cache) is Catalog.bundled()
    gateway.respond = lambda _: httpx.Response(200, json=PAYLOAD)
    assert load_catalog(API, client=client, cache_dir=cache).source == "live"


def test_each_gateway_has_its_own_cache_file(client: httpx.Client, cache: Path) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    load_catalog("https://testnet.blockrun.test/api", client=client, cache_dir=cache)
    assert len(_cache_files(cache)) == 2


def test_default_cache_dir_is_under_the_blockrun_home(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = Path.home()  # a private home per test (unit_tests/conftest.py)
    assert default_cache_dir() == home / ".blockrun" / "cache"
    load_catalog(API, client=client)
    assert len(_cache_files(home / ".blockrun" / "cache")) == 1
    monkeypatch.setenv("BLOCKRUN_HOME", str(tmp_path / "bh"))
    assert default_cache_dir() == tmp_path / "bh" / "cache"


def test_an_unwritable_cache_still_returns_the_live_catalog(
    client: httpx.Client, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a directory")
    assert load_catalog(API, client=client, cache_dir=blocker / "cache").source == "live"


def test_without_a_client_an_unreachable_gateway_falls_back(cache: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cat = load_catalog(f"http://127.0.0.1:{port}/api", cache_dir=cache)
    assert cat is Catalog.bundled()


# --- async twin ------------------------------------------------------------------------------


@pytest.fixture
def aclient(gateway: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(gateway))


async def test_async_fetch_cache_and_fallback(
    gateway: Gateway, aclient: httpx.AsyncClient, cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = await aload_catalog(API, client=aclient, cache_dir=cache)
    assert first.source == "live"
    assert first.get("gpt-5.5").input_price == 4.0
    second = await aload_catalog(API, client=aclient, cache_dir=cache)
    assert second.source == "cache"
    assert len(gateway.requests) == 1

    _age_cache(cache, 7200)
    gateway.fail_with(httpx.Response(503))
    with caplog.at_level(logging.WARNING, logger="blockrun"):
        third = await aload_catalog(API, client=aclient, cache_dir=cache)
    assert third.source == "stale-cache"
    assert len(gateway.requests) == 2
    assert "using the cached copy" in caplog.text


async def test_async_shares_the_cache_with_sync(
    gateway: Gateway, client: httpx.Client, aclient: httpx.AsyncClient, cache: Path
) -> None:
    load_catalog(API, client=client, cache_dir=cache)
    assert (await aload_catalog(API, client=aclient, cache_dir=cache)).source == "cache"
    assert len(gateway.requests) == 1


async def test_async_without_cache_falls_back_to_bundled(
    gateway: Gateway, aclient: httpx.AsyncClient, cache: Path
) -> None:
    gateway.fail_with(httpx.ConnectError("refused"))
    assert await aload_catalog(API, client=aclient, cache_dir=cache) is Catalog.bundled()


async def test_async_without_a_client_falls_back(cache: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert await aload_catalog(f"http://127.0.0.1:{port}", cache_dir=cache) is Catalog.bundled()
