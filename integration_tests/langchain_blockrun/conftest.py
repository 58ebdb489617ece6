"""VCR set-up for the LangChain adapter's recorded tests (shared with LlamaIndex's).

Scrubbing, normalising and matching live in ``integration_tests/cassettes.py``; see
``integration_tests/README.md`` for how to replay and re-record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from integration_tests import cassettes

CASSETTES = Path(__file__).resolve().parent / "cassettes"


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """A fresh scrubbing config per test: its id map belongs to one cassette."""
    return cassettes.vcr_config(str(CASSETTES))


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """One absolute folder, whatever directory pytest runs from."""
    return str(CASSETTES)


@pytest.fixture(scope="session")
def recording_target(pytestconfig: pytest.Config) -> cassettes.RecordingTarget:
    """Replay, record from LocalGateway, or record live (``BLOCKRUN_RECORD_LIVE=1``).

    Session-scoped, so it is set up before the per-test ``home`` fixture hides the
    BLOCKRUN_* variables.
    """
    return cassettes.recording_target(pytestconfig.getoption("--record-mode"), os.environ)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    cassettes.register_matchers(vcr)
