"""LocalGateway's lifecycle: start, stop, restart, async use and in-process mounting."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from blockrun_core.testing import Fault, LocalGateway

FREE_BODY = {"model": "nvidia/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}]}


def _port_is_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_start_and_stop_leave_no_thread_or_socket_behind() -> None:
    before = set(threading.enumerate())
    gw = LocalGateway()
    with gw:
        assert gw.running
        assert gw.url == gw.account_url + "/api"
        port = int(gw.account_url.rsplit(":", 1)[1])
        assert port > 0
        with httpx.Client() as client:  # a kept-alive connection must not block stop()
            assert client.post(gw.url + "/v1/chat/completions", json=FREE_BODY).status_code == 200
    assert not gw.running
    assert set(threading.enumerate()) == before
    assert _port_is_closed(port)
    gw.stop()  # idempotent


def test_restart_keeps_the_state() -> None:
    gw = LocalGateway()
    with gw, httpx.Client() as client:
        client.post(gw.url + "/v1/chat/completions", json=FREE_BODY)
    with gw, httpx.Client() as client:
        client.post(gw.url + "/v1/chat/completions", json=FREE_BODY)
    assert len(gw.requests) == 2


def test_urls_need_a_running_server() -> None:
    gw = LocalGateway()
    with pytest.raises(RuntimeError):
        _ = gw.url
    assert "not running" in repr(gw)


def test_a_busy_port_fails_loudly() -> None:
    with LocalGateway() as first:
        port = int(first.account_url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match="in use"):
            LocalGateway(port=port).start()


async def test_async_context_manager() -> None:
    async with LocalGateway() as gw, httpx.AsyncClient() as client:
        response = await client.post(gw.url + "/v1/chat/completions", json=FREE_BODY)
        assert response.status_code == 200
    assert not gw.running


async def test_in_process_app_needs_no_server() -> None:
    gw = LocalGateway()
    transport = httpx.ASGITransport(app=gw.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as client:
        free = await client.post("/api/v1/chat/completions", json=FREE_BODY)
        assert free.json()["choices"][0]["message"]["content"] == "Echo: hi"
        paid = await client.post(
            "/api/v1/chat/completions", json={**FREE_BODY, "model": "openai/gpt-4o"}
        )
        assert paid.status_code == 402
    assert not gw.running
    assert [r.status for r in gw.requests] == [200, 402]


def test_importing_the_package_does_not_import_the_server() -> None:
    code = (
        "import sys, blockrun_core, blockrun_core.testing;"
        "g = blockrun_core.testing.LocalGateway();"
        "print('starlette' in sys.modules or 'uvicorn' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="network"):
        LocalGateway(network="eip155:1")
    with pytest.raises(ValueError, match="tool_call_shape"):
        LocalGateway(tool_call_shape="chunks")  # type: ignore[arg-type]


def test_stop_lets_an_in_flight_request_finish() -> None:
    gw = LocalGateway().start()
    gw.inject(Fault.delay(0.2))
    statuses: list[int] = []

    def call() -> None:
        with httpx.Client(timeout=5) as client:
            statuses.append(
                client.post(gw.url + "/v1/chat/completions", json=FREE_BODY).status_code
            )

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 2
    while gw.pending_faults and time.monotonic() < deadline:
        time.sleep(0.01)  # until the request reached the delay
    gw.stop()
    thread.join()
    assert statuses == [200]
