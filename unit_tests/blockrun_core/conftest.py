"""Fixtures for the client's unit tests: a scripted gateway and sleeps that do not wait."""

from __future__ import annotations

import pytest
from blockrun_core import transport

from unit_tests.blockrun_core.scripted_gateway import Gateway


@pytest.fixture
def fake() -> Gateway:
    """A scripted gateway; pass it to ``make_client``."""
    return Gateway()


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records the client's waits instead of sleeping."""
    waits: list[float] = []

    async def async_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(transport, "_sleep", waits.append)
    monkeypatch.setattr(transport, "_async_sleep", async_sleep)
    return waits
