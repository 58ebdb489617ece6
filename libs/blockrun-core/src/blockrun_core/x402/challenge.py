"""Reading a 402 Payment Required response into a :class:`PaymentChallenge`.

Everything here is untrusted server input: sizes are bounded, malformed offers are
dropped, and the only exception raised is ``PaymentRefusedError("malformed_challenge")``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from blockrun_core.errors import PaymentRefusedError

from ._bounds import loads_bounded, within_bounds
from .encoding import MAX_HEADER_CHARS, decode_b64_json
from .headers import PAYMENT_REQUIRED_HEADER, X_PAYMENT_REQUIRED_HEADER, get_header

__all__ = ["PaymentChallenge", "PaymentOffer", "parse_challenge", "parse_offer"]

MAX_OFFERS = 32
_MAX_FIELD_CHARS = 256
_MAX_ERROR_CHARS = 500
_UINT_RE = re.compile(r"[0-9]{1,78}")  # 78 digits covers uint256
_X402_SCHEME_RE = re.compile(r"(?:^|[\s,])x402(?=\s)", re.IGNORECASE)
_REQUIREMENTS_RE = re.compile(
    r'(?:^|[\s,])requirements\s*=\s*(?:"([^"]*)"|([^\s,"]+))', re.IGNORECASE
)


@dataclass(frozen=True)
class PaymentOffer:
    """One entry of a challenge's ``accepts``: what the server will take, and where.

    String fields are kept exactly as the server wrote them: the v2 payload echoes them
    and servers compare them as strings.
    """

    scheme: str
    network: str
    amount: int  # micro-USDC (atomic units)
    asset: str
    pay_to: str
    max_timeout_seconds: int  # 0 when the server gave none or an unusable value
    extra: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class PaymentChallenge:
    """A parsed x402 ``PaymentRequired`` (v2) or ``PaymentRequirementsResponse`` (v1)."""

    x402_version: int
    offers: tuple[PaymentOffer, ...]
    resource: dict[str, Any] | None = None
    extensions: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _short_str(value: Any, limit: int = _MAX_FIELD_CHARS) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= limit:
        return value
    return None


def _uint(value: Any) -> int | None:
    """A non-negative integer from a JSON int or decimal string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 2**256 else None
    if isinstance(value, str) and _UINT_RE.fullmatch(value):
        number = int(value)
        return number if number < 2**256 else None
    return None


def parse_offer(raw: Any) -> PaymentOffer | str:
    """One ``accepts`` entry as a :class:`PaymentOffer`, or why it is unusable."""
    if not isinstance(raw, dict):
        return "an offer is not a JSON object"
    scheme = _short_str(raw.get("scheme", "exact"))
    network = _short_str(raw.get("network"))
    asset = _short_str(raw.get("asset"))
    pay_to = _short_str(raw.get("payTo"))
    if scheme is None or network is None or asset is None or pay_to is None:
        return "an offer lacks scheme, network, asset or payTo"
    amount_field = raw.get("amount", raw.get("maxAmountRequired"))
    amount = _uint(amount_field)
    if amount is None or amount == 0:
        return f"an offer's amount is not a positive integer ({type(amount_field).__name__})"
    timeout = _uint(raw.get("maxTimeoutSeconds"))
    extra = raw.get("extra")
    return PaymentOffer(
        scheme=scheme,
        network=network,
        amount=amount,
        asset=asset,
        pay_to=pay_to,
        max_timeout_seconds=timeout if timeout is not None and timeout < 2**31 else 0,
        extra=dict(extra) if isinstance(extra, dict) else {},
        raw=dict(raw),
    )


def _version(document: dict[str, Any], entries: list[Any]) -> int | str:
    version = document.get("x402Version")
    if version is None:
        # No version: v1 if the offers only speak v1's maxAmountRequired, else v2 (SDK default).
        offers = [e for e in entries if isinstance(e, dict)]
        v1_only = bool(offers) and all(
            "maxAmountRequired" in e and "amount" not in e for e in offers
        )
        return 1 if v1_only else 2
    if isinstance(version, int) and not isinstance(version, bool) and version in (1, 2):
        return version
    return f"x402Version {version!r:.20} is not supported"


def _resource(document: dict[str, Any], version: int) -> dict[str, Any] | None:
    if version == 1:
        # v1 puts the resource on each offer; the first one that names a URL stands for all.
        for entry in document["accepts"][:MAX_OFFERS]:
            if isinstance(entry, dict) and _short_str(entry.get("resource"), 2048):
                source: dict[str, Any] = {"url": entry["resource"]}
                for key in ("description", "mimeType"):
                    if isinstance(entry.get(key), str):
                        source[key] = entry[key]
                return source
        return None
    resource = document.get("resource")
    if isinstance(resource, str):  # tolerated: a bare URL
        return {"url": resource} if _short_str(resource, 2048) else None
    if not isinstance(resource, dict):
        return None
    return {k: v for k, v in resource.items() if isinstance(k, str) and isinstance(v, str)}


def _challenge(document: Any) -> PaymentChallenge | str:
    """A challenge from a decoded ``PaymentRequired`` document, or why it is unusable."""
    if not isinstance(document, dict):
        return "not a JSON object"
    entries = document.get("accepts")
    if not isinstance(entries, list):
        return "no 'accepts' list"
    version = _version(document, entries)
    if isinstance(version, str):
        return version
    parsed = [parse_offer(entry) for entry in entries[:MAX_OFFERS]]
    offers = tuple(p for p in parsed if isinstance(p, PaymentOffer))
    if entries and not offers:
        reasons = sorted({p for p in parsed if isinstance(p, str)})
        return "every offer is malformed: " + "; ".join(reasons)
    extensions = document.get("extensions")
    error = document.get("error")
    return PaymentChallenge(
        x402_version=version,
        offers=offers,
        resource=_resource(document, version),
        extensions=dict(extensions) if isinstance(extensions, dict) else {},
        error=error[:_MAX_ERROR_CHARS] if isinstance(error, str) else None,
    )


def _decode_header_value(value: str) -> Any:
    text = value.strip()
    if len(text) > MAX_HEADER_CHARS:
        raise ValueError("header is too large")
    if text.startswith("{"):  # tolerated: raw JSON instead of base64
        return loads_bounded(text)
    document = decode_b64_json(text)
    if not within_bounds(document):
        raise ValueError("JSON nests too deeply or is too large")
    return document


def _www_authenticate_requirements(value: str) -> str | None:
    if len(value) > MAX_HEADER_CHARS + 1024:
        return None
    for scheme in _X402_SCHEME_RE.finditer(value):
        found = _REQUIREMENTS_RE.search(value, scheme.end())
        if found:
            return found.group(1) if found.group(1) is not None else found.group(2)
    return None


def parse_challenge(headers: Mapping[str, str], body: bytes) -> PaymentChallenge:
    """Parse a 402 response's payment requirements.

    Looks, in order, at ``PAYMENT-REQUIRED``, ``X-Payment-Required``,
    ``WWW-Authenticate: X402 requirements="..."`` and a JSON body with ``accepts``
    (v2, or v1 with ``maxAmountRequired``); the first usable one wins. Raises
    ``PaymentRefusedError(reason="malformed_challenge")`` when none is usable.
    """
    problems: list[str] = []
    for name in (PAYMENT_REQUIRED_HEADER, X_PAYMENT_REQUIRED_HEADER, "WWW-Authenticate"):
        value = get_header(headers, name)
        if value is None:
            continue
        if name == "WWW-Authenticate":
            value = _www_authenticate_requirements(value)
            if value is None:
                continue  # another auth scheme: not ours
        try:
            result = _challenge(_decode_header_value(value))
        except ValueError as exc:
            result = str(exc)
        if isinstance(result, PaymentChallenge):
            return result
        problems.append(f"{name} header: {result}")

    if body:
        try:
            document = loads_bounded(body)
        except ValueError as exc:
            problems.append(f"body: {exc}")
        else:
            if isinstance(document, dict) and "accepts" in document:
                result = _challenge(document)
                if isinstance(result, PaymentChallenge):
                    return result
                problems.append(f"body: {result}")

    if problems:
        detail = "; ".join(problems)
        message = f"The 402 response's x402 payment requirements are unusable ({detail})."
    else:
        message = (
            "The server answered 402 Payment Required without x402 payment requirements "
            "(no PAYMENT-REQUIRED, X-Payment-Required or WWW-Authenticate X402 header, "
            "and no 'accepts' in the body)."
        )
    raise PaymentRefusedError(message + " Nothing was signed.", reason="malformed_challenge")
