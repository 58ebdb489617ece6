"""VCR set-up for the LangChain adapter's recorded tests.

Cassettes are recorded against LocalGateway (``--record-mode=once`` or ``rewrite``) and
replayed by default with sockets off. The gateway's port changes every run, so requests
match on path, not host. A paid request and its unpaid 402 probe share method, path and
body: the ``payment_presence`` matcher tells them apart (otherwise the recorded 402 would
be replayed forever). Payment signatures and keys are replaced before anything is saved.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.conftest import base_vcr_config

CASSETTES = Path(__file__).resolve().parent / "cassettes"
_REDACTED = "REDACTED"
_PAYMENT_HEADERS = ("payment-signature", "x-payment")
_SECRET_HEADERS = (*_PAYMENT_HEADERS, "authorization", "x-api-key", "api-key")
# Response headers not worth keeping: settlement receipts and cookies. The 402 challenge
# (PAYMENT-REQUIRED) stays: replaying a paid call needs it, and it holds no secret.
_DROPPED_RESPONSE_HEADERS = (
    "payment-response",
    "x-payment-response",
    "x-payment-receipt",
    "set-cookie",
)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {
        name: value
        for name, value in response["headers"].items()
        if name.lower() not in _DROPPED_RESPONSE_HEADERS
    }
    return response


def _body_text(request: Any) -> str:
    body = request.body
    text = body.decode() if isinstance(body, bytes) else (body or "")
    return _UUID.sub("<uuid>", text)


def _body_ignoring_uuids(first: Any, second: Any) -> None:
    assert _body_text(first) == _body_text(second)


def _has_payment(request: Any) -> bool:
    return any(name.lower() in _PAYMENT_HEADERS for name in request.headers)


def _payment_presence(first: Any, second: Any) -> None:
    assert _has_payment(first) == _has_payment(second)


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    """langchain-tests' base config, scrubbed of payments, matching on path."""
    config = base_vcr_config()
    config.pop("record_mode", None)  # the CLI decides; pytest-recording's default replays
    config["filter_headers"] = [(name, _REDACTED) for name in _SECRET_HEADERS]
    config["before_record_response"] = _scrub_response
    config["match_on"] = ["method", "path", "body_ignoring_uuids", "payment_presence"]
    config["cassette_library_dir"] = str(CASSETTES)
    return config


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    """One absolute folder, whatever directory pytest runs from."""
    return str(CASSETTES)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("body_ignoring_uuids", _body_ignoring_uuids)
    vcr.register_matcher("payment_presence", _payment_presence)
