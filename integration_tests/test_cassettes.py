"""Every recorded cassette in the repository is free of secrets and keeps its payment shape.

The scanner itself is tested in ``test_cassette_tooling.py`` (it must find what this test
relies on it to find).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration_tests.cassette_scan import cassette_files, scan_file
from integration_tests.cassettes import PAYMENT_HEADERS, REDACTED

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORK_FOLDERS = ("langchain_blockrun", "llama_index_llms_blockrun")
CASSETTES = cassette_files(ROOT)


@functools.cache
def interactions(path: Path) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)[
        "interactions"
    ]
    return loaded


def test_both_frameworks_have_recorded_cassettes() -> None:
    for folder in FRAMEWORK_FOLDERS:
        assert any(folder in path.parts for path in CASSETTES), f"no cassettes for {folder}"


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_in_the_cassette(path: Path) -> None:
    assert scan_file(path) == []


@pytest.mark.parametrize("path", CASSETTES, ids=lambda p: str(p.relative_to(ROOT)))
def test_payment_headers_are_redacted_and_receipts_dropped(path: Path) -> None:
    for interaction in interactions(path):
        request = {k.lower(): v for k, v in interaction["request"]["headers"].items()}
        response = {k.lower() for k in interaction["response"]["headers"]}
        for name in PAYMENT_HEADERS:
            assert request.get(name, [REDACTED]) == [REDACTED]
        assert not response & {"payment-response", "x-payment-response", "set-cookie"}


def test_paid_calls_were_recorded_with_their_probes() -> None:
    paid = probes = 0
    for path in CASSETTES:
        for interaction in interactions(path):
            headers = {k.lower() for k in interaction["request"]["headers"]}
            paid += bool(headers & set(PAYMENT_HEADERS))
            probes += interaction["response"]["status"]["code"] == 402
    assert paid > 20 and probes > 10
