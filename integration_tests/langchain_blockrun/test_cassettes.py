"""Recorded cassettes hold no key, no payment signature and no settlement receipt."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from blockrun_core.testing import HARDHAT_KEY

CASSETTES = Path(__file__).resolve().parent / "cassettes"
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def _files() -> list[Path]:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert len(files) > 30, "record the cassettes first (see test_standard.py)"
    return files


def test_no_key_hash_or_signature_in_any_cassette() -> None:
    secret = HARDHAT_KEY.removeprefix("0x").lower()
    for path in _files():
        text = path.read_text()
        assert secret not in text.lower(), path.name
        assert not _HASH.search(text), path.name  # no signature, nonce or transaction hash


def test_paid_requests_keep_a_redacted_payment_header() -> None:
    paid = 0
    for path in _files():
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            headers = {k.lower(): v for k, v in interaction["request"]["headers"].items()}
            response = {k.lower() for k in interaction["response"]["headers"]}
            if "payment-signature" in headers:
                paid += 1
                assert headers["payment-signature"] == ["REDACTED"]
            assert not response & {"payment-response", "x-payment-response", "set-cookie"}
    assert paid > 10
