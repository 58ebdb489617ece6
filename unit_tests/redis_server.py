"""A throwaway ``redis-server`` on a free loopback port, for tests that need a real Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["RedisServer", "redis_server_or_skip", "running_redis_server"]


@dataclass(frozen=True)
class RedisServer:
    """A running server: connect with ``url``."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running_redis_server(executable: str, directory: Path) -> Iterator[RedisServer]:
    """Start ``redis-server`` without persistence in ``directory``; stop it on exit."""
    log = directory / "redis.log"
    for _ in range(3):  # the free port may be taken between probing and binding
        port = _free_port()
        process = subprocess.Popen(
            [
                executable,
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory)),
                *("--save", "", "--appendonly", "no", "--loglevel", "warning"),
                *("--logfile", str(log)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            if _answers_ping(port):
                try:
                    yield RedisServer("127.0.0.1", port)
                finally:
                    process.terminate()
                    try:
                        process.wait(5)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                return
            time.sleep(0.01)
        process.kill()
        process.wait()
    said = log.read_text(errors="replace")[-500:] if log.exists() else ""
    raise RuntimeError(f"redis-server did not start: {said}")


def redis_server_or_skip() -> str:
    """The ``redis-server`` executable; skips the test without one (fails instead under CI)."""
    executable = shutil.which("redis-server")
    if executable is None:
        reason = (
            "redis-server is not on PATH; install it to run the Redis tests "
            "(Debian: apt-get install redis-server)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}. CI must install it.", pytrace=False)
        pytest.skip(reason)
    return executable
