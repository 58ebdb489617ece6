"""Find secrets in recorded cassettes: payment signatures, wallet keys, account keys.

The scan reads a cassette as text (so a secret anywhere in it counts, even in a body)
and also the base64 JSON blobs in it, where an x402 payment travels. A finding names the
rule and line, never the secret itself.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from blockrun_core.testing import HARDHAT_KEY

__all__ = ["Finding", "cassette_files", "scan_file", "scan_text"]

_SKIPPED_DIRS = frozenset({".venv", ".git", "node_modules", ".mypy_cache", ".ruff_cache"})
_HARDHAT_HEX = HARDHAT_KEY.removeprefix("0x").lower()
_CREDENTIAL_HEADERS = (
    "payment-signature",
    "x-payment",
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
)
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # A header line followed by its value list, as vcrpy writes it: anything but REDACTED.
    (
        "credential header value",
        re.compile(
            rf"^\s*(?:{'|'.join(_CREDENTIAL_HEADERS)}):\s*\n\s*-\s*(?!'?REDACTED'?\s*$)\S",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
    (
        "inline credential header",
        re.compile(
            rf"\b(?:{'|'.join(_CREDENTIAL_HEADERS)})\b['\"]?\s*[:=]\s*['\"]?(?!REDACTED\b)[\w+/=.-]{{8,}}",
            re.IGNORECASE,
        ),
    ),
    ("bearer token", re.compile(r"\bBearer\s+(?!REDACTED\b)[\w.~+/=-]{8,}", re.IGNORECASE)),
    ("ECDSA signature (0x + 130 hex)", re.compile(r"0x[0-9a-fA-F]{130}(?![0-9a-fA-F])")),
    (
        "32-byte hex (key, nonce or hash)",
        re.compile(r"(?<![0-9a-fA-F])(?:0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])"),
    ),
    ("account key (brk_)", re.compile(r"\bbrk_[A-Za-z0-9_]{8,}")),
    ("EIP-3009 authorization", re.compile(r'"authorization"\s*:\s*\{\s*"from"')),
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


@dataclass(frozen=True)
class Finding:
    """One suspected secret: which rule matched, on which line (of the decoded blob)."""

    rule: str
    line: int
    in_base64: bool = False

    def __str__(self) -> str:
        where = "base64 blob on line" if self.in_base64 else "line"
        return f"{self.rule} ({where} {self.line})"


def _matches(text: str) -> Iterator[tuple[str, int]]:
    if _HARDHAT_HEX in text.lower():
        line = text.lower()[: text.lower().index(_HARDHAT_HEX)].count("\n") + 1
        yield "Hardhat test wallet key", line
    for rule, pattern in _RULES:
        for match in pattern.finditer(text):
            yield rule, text[: match.start()].count("\n") + 1


def _decoded_blobs(text: str) -> Iterator[tuple[str, int]]:
    for match in _BASE64.finditer(text):
        try:
            decoded = base64.b64decode(match.group(0), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        yield decoded, text[: match.start()].count("\n") + 1


def scan_text(text: str) -> list[Finding]:
    """Every suspected secret in a cassette's text, plain or base64-encoded."""
    findings = [Finding(rule, line) for rule, line in _matches(text)]
    for decoded, line in _decoded_blobs(text):
        findings += [Finding(rule, line, in_base64=True) for rule, _ in _matches(decoded)]
    return findings


def scan_file(path: Path) -> list[Finding]:
    """``scan_text`` of one cassette file."""
    return scan_text(path.read_text(encoding="utf-8", errors="replace"))


def cassette_files(root: Path) -> list[Path]:
    """Every file under a ``cassettes`` folder below ``root``, outside virtualenvs and VCS."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        if "cassettes" in Path(folder).relative_to(root).parts:
            found += [Path(folder) / name for name in files]
    return sorted(found)
