"""A hostile gateway in front of the shared LocalGateway, and a host nobody configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from blockrun_core.testing import LocalGateway

from integration_tests.hostile.server import Elsewhere, HostileGateway


@pytest.fixture(scope="session")
def hostile_server(gateway: LocalGateway) -> Iterator[HostileGateway]:
    with HostileGateway(gateway) as server:
        yield server


@pytest.fixture(scope="session")
def elsewhere_server() -> Iterator[Elsewhere]:
    with Elsewhere() as server:
        yield server


@pytest.fixture
def hostile(hostile_server: HostileGateway, gw: LocalGateway) -> HostileGateway:
    """The hostile gateway, honest until a test says otherwise, in front of a reset ``gw``."""
    hostile_server.reset()
    return hostile_server


@pytest.fixture
def elsewhere(elsewhere_server: Elsewhere) -> Iterator[Elsewhere]:
    """Another host; whatever a test does, it must receive nothing."""
    elsewhere_server.reset()
    yield elsewhere_server
    assert elsewhere_server.requests == [], "a request reached a host nobody configured"
