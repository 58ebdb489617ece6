"""VCR set-up shared by the recorded tests of both frameworks.

Each framework folder keeps its cassettes in its own ``cassettes/``; scrubbing, normalising
and matching live in ``integration_tests/cassettes.py``. See ``integration_tests/README.md``
for how to replay and re-record.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from integration_tests import cassettes


def _cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(request.path.parent / "cassettes")


@pytest.fixture
def vcr_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A fresh scrubbing config per test: its id map belongs to one cassette."""
    return cassettes.vcr_config(_cassette_dir(request))


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """The test folder's ``cassettes/``, whatever directory pytest runs from."""
    return _cassette_dir(request)


@pytest.fixture(scope="session")
def recording_target(pytestconfig: pytest.Config) -> cassettes.RecordingTarget:
    """Replay, record from LocalGateway, or record live (``BLOCKRUN_RECORD_LIVE=1``).

    Session-scoped, so it is set up before the per-test ``home`` fixture hides the
    BLOCKRUN_* variables.
    """
    return cassettes.recording_target(pytestconfig.getoption("--record-mode"), os.environ)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    cassettes.register_matchers(vcr)
