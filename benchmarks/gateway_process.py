"""A LocalGateway in a child process, with a small control channel over its stdin/stdout.

The benchmarks' clients run in this process (or in workers of their own); the gateway runs
in another, as a real gateway runs elsewhere: in this process its server thread would
compete with the clients for the GIL. The control channel answers how many HTTP requests
the gateway has seen (to count a call's round trips) and how many payments it settled.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_CHILD = r"""
import sys
from blockrun_core.testing import LocalGateway
gw = LocalGateway().start()
print(gw.url, flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "requests":
        print(len(gw.requests), flush=True)
    elif command == "payments":
        print(len(gw.payments), flush=True)
    elif command == "reset":
        gw.reset()
        print("ok", flush=True)
    else:
        print(f"error: unknown command {command!r}", flush=True)
gw.stop()
"""


class GatewayProcess:
    """A running LocalGateway in a child process: ``url``, ``request_count()``, ``reset()``."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.url = self._read()
        if not self.url.startswith("http://127.0.0.1"):
            self.close()
            raise RuntimeError(f"the gateway process did not start: {self.url!r}")

    def _read(self) -> str:
        assert self._child.stdout is not None
        line = self._child.stdout.readline()
        if not line:
            raise RuntimeError(f"the gateway process exited ({self._child.poll()})")
        return line.strip()

    def _ask(self, command: str) -> str:
        assert self._child.stdin is not None
        self._child.stdin.write(command + "\n")
        self._child.stdin.flush()
        answer = self._read()
        if answer.startswith("error"):
            raise RuntimeError(f"the gateway process: {answer}")
        return answer

    def request_count(self) -> int:
        """HTTP requests the gateway has answered so far (any route, any status)."""
        return int(self._ask("requests"))

    def payment_count(self) -> int:
        """Payments the gateway has settled so far."""
        return int(self._ask("payments"))

    def reset(self) -> None:
        """Forget recorded requests, payments and scripts (keeps serving)."""
        self._ask("reset")

    def close(self) -> None:
        """Stop the gateway and wait for the child to exit."""
        if self._child.poll() is None:
            assert self._child.stdin is not None
            self._child.stdin.close()
            self._child.wait(timeout=30)


@contextmanager
def gateway_process(env: dict[str, str] | None = None) -> Iterator[GatewayProcess]:
    """``with gateway_process() as gw:`` a LocalGateway in a child process, stopped on exit."""
    gw = GatewayProcess(env)
    try:
        yield gw
    finally:
        gw.close()
