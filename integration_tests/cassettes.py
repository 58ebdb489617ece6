"""One VCR set-up for every framework's recorded tests: scrubbing, normalising, matching.

Cassettes are recorded over real HTTP (from LocalGateway, or from the real gateway with
``BLOCKRUN_RECORD_LIVE=1``) and replayed with sockets off. Before anything is saved:

- payment signatures, account keys and other credentials in request headers become
  ``REDACTED`` (the header stays, so a paid retry is still told from its unpaid probe);
- settlement receipts, cookies and dates are dropped from responses;
- gateway-made ids (``chatcmpl-...``, ``call_...``, request ids), ``created`` stamps and the
  loopback port are rewritten to stable values, so re-recording gives a readable diff.

A paid request and its 402 probe share method, path and body; ``payment_presence`` tells
them apart, otherwise the recorded 402 would be replayed forever.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
import pytest_socket
from blockrun_core.config import DEFAULT_ACCOUNT_URL, DEFAULT_API_URL
from blockrun_core.testing import HARDHAT_KEY
from langchain_tests.conftest import base_vcr_config

__all__ = [
    "ACCOUNT_RAIL_MARK",
    "LIVE_SWITCH",
    "PAYMENT_HEADERS",
    "REDACTED",
    "REPLAY_ACCOUNT_KEY",
    "REPLAY_ACCOUNT_URL",
    "REPLAY_HOST",
    "REPLAY_URL",
    "SECRET_HEADERS",
    "CassetteScrubber",
    "IdNormaliser",
    "RecordingTarget",
    "account_rail",
    "account_skip_reason",
    "body_ignoring_ids",
    "connect",
    "has_payment",
    "payment_presence",
    "recording_target",
    "register_matchers",
    "vcr_config",
]

REDACTED = "REDACTED"
LIVE_SWITCH = "BLOCKRUN_RECORD_LIVE"
# Recorded loopback URLs are rewritten to this host; replays point the client here too
# (sockets are off, so nothing ever listens on it).
REPLAY_HOST = "127.0.0.1:8402"
REPLAY_URL = f"http://{REPLAY_HOST}/api"
REPLAY_ACCOUNT_URL = f"http://{REPLAY_HOST}"
# Well-formed, never valid anywhere, and redacted like any account key before saving.
REPLAY_ACCOUNT_KEY = "brk_test_replay_only"

PAYMENT_HEADERS = ("payment-signature", "x-payment")
SECRET_HEADERS = (
    *PAYMENT_HEADERS,
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
)
# Settlement receipts (transaction hash, payer), cookies, and per-run noise. The 402
# challenge (PAYMENT-REQUIRED) stays: replaying a paid call needs it, and it holds no secret.
_DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "payment-response",
        "x-payment-response",
        "x-payment-receipt",
        "set-cookie",
        "date",
        "cf-ray",
        "x-vercel-id",
        "server-timing",
    }
)
_REQUEST_ID_HEADERS = frozenset({"x-blockrun-request-id", "x-request-id", "request-id"})
# Headers whose base64 JSON may name the (loopback) resource URL.
_CHALLENGE_HEADERS = frozenset({"payment-required", "x-payment-required", "www-authenticate"})

_ID_PREFIXES = "chatcmpl-|call_|toolu_|req_|msg_|gen-"
_RAW_ID = re.compile(rf"\b({_ID_PREFIXES})(?!recorded)([A-Za-z0-9]{{12,}})\b")
_ANY_ID = re.compile(rf"\b({_ID_PREFIXES})[A-Za-z0-9]{{12,}}\b")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_STABLE_UUID_PREFIX = "00000000-0000-0000-0000-"
_RAW_UUID = re.compile(rf"(?!{_STABLE_UUID_PREFIX}){_UUID.pattern}")
_CREATED = re.compile(r'"created":\s*\d+')
_LOOPBACK = re.compile(r"(?:127\.0\.0\.1|localhost|\[::1\]):\d+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")


class IdNormaliser:
    """Maps each gateway-made id to ``<prefix>recordedNNNN`` and each UUID (ids the
    frameworks make) to ``00000000-0000-0000-0000-NNNNNNNNNNNN``, numbered by first sighting.

    One instance serves one cassette, so an id returned in a response and echoed back in
    a later request (a tool call's id) gets the same stable name in both. Normalised ids
    are left alone, so applying it twice changes nothing.
    """

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def _alias(self, raw: str, kind: str, render: Callable[[int], str]) -> str:
        if raw not in self._names:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._names[raw] = render(self._counts[kind])
        return self._names[raw]

    def name(self, raw: str, prefix: str) -> str:
        """The stable name of ``raw`` (an id with ``prefix``, or a bare request id)."""
        return self._alias(raw, prefix, lambda n: f"{prefix}recorded{n:04d}")

    def __call__(self, text: str) -> str:
        text = _RAW_UUID.sub(
            lambda m: self._alias(m.group(0), "uuid", lambda n: f"{_STABLE_UUID_PREFIX}{n:012d}"),
            text,
        )
        return _RAW_ID.sub(lambda m: self.name(m.group(0), m.group(1)), text)


def _stable_text(text: str, ids: IdNormaliser) -> str:
    text = ids(_LOOPBACK.sub(REPLAY_HOST, text))
    return _CREATED.sub('"created":0', text)


def _rewrite_base64_json(value: str, rewrite: Callable[[str], str]) -> str:
    """``value`` with each base64-encoded JSON document in it passed through ``rewrite``."""

    def one(match: re.Match[str]) -> str:
        try:
            decoded = base64.b64decode(match.group(0), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return match.group(0)
        if not decoded.lstrip().startswith("{"):
            return match.group(0)
        return base64.b64encode(rewrite(decoded).encode()).decode()

    return _BASE64.sub(one, value)


def _body_text(body: object) -> str | None:
    if isinstance(body, bytes):
        try:
            return body.decode()
        except UnicodeDecodeError:
            return None
    return body if isinstance(body, str) else None


class CassetteScrubber:
    """``before_record_request`` / ``before_record_response`` for one cassette.

    vcrpy also passes each live request through ``request`` before matching it, so
    everything here is idempotent. Secret request headers are replaced by vcrpy's
    ``filter_headers`` before ``request`` sees them.
    """

    def __init__(self) -> None:
        self.ids = IdNormaliser()

    def request(self, request: Any) -> Any:
        """Stable host, port and ids in a request about to be matched or saved."""
        request.uri = _LOOPBACK.sub(REPLAY_HOST, request.uri)
        if "host" in request.headers:
            request.headers["host"] = _LOOPBACK.sub(REPLAY_HOST, request.headers["host"])
        text = _body_text(request.body)
        if text is not None:
            request.body = _stable_text(text, self.ids)
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """A response without receipts or cookies, with stable ids, stamps and hosts."""
        headers: dict[str, list[str]] = {}
        for name, values in response["headers"].items():
            lowered = name.lower()
            if lowered in _DROPPED_RESPONSE_HEADERS:
                continue
            if lowered in _REQUEST_ID_HEADERS:
                values = [self.ids.name(str(v), "req_") for v in values]
            elif lowered in _CHALLENGE_HEADERS:
                values = [
                    _rewrite_base64_json(str(v), lambda t: _LOOPBACK.sub(REPLAY_HOST, t))
                    for v in values
                ]
            headers[name] = values
        response["headers"] = headers
        body = response.get("body") or {}
        text = _body_text(body.get("string"))
        if text is not None:
            stable = _stable_text(text, self.ids).encode()
            body["string"] = stable
            for name in headers:
                if name.lower() == "content-length":
                    headers[name] = [str(len(stable))]
        return response


def has_payment(request: Any) -> bool:
    """Whether ``request`` carried a payment header (redacted or not)."""
    return any(name.lower() in PAYMENT_HEADERS for name in request.headers)


def payment_presence(first: Any, second: Any) -> None:
    """vcrpy matcher: a paid retry only matches a paid recording, a probe only a probe."""
    assert has_payment(first) == has_payment(second)


def _comparable_body(request: Any) -> str:
    text = _body_text(request.body) or ""
    return _ANY_ID.sub(r"\1<id>", _UUID.sub("<uuid>", text))


def body_ignoring_ids(first: Any, second: Any) -> None:
    """vcrpy matcher: equal bodies up to UUIDs and gateway-made ids."""
    assert _comparable_body(first) == _comparable_body(second)


def register_matchers(vcr: Any) -> None:
    """Register this module's matchers (call from ``pytest_recording_configure``)."""
    vcr.register_matcher("body_ignoring_ids", body_ignoring_ids)
    vcr.register_matcher("payment_presence", payment_presence)


def vcr_config(cassette_dir: str) -> dict[str, Any]:
    """langchain-tests' base config, scrubbed and normalised, matching on path.

    Build one per test: the scrubber's id map belongs to one cassette.
    """
    scrubber = CassetteScrubber()
    config = base_vcr_config()
    config.pop("record_mode", None)  # the CLI decides; pytest-recording's default replays
    config["filter_headers"] = [(name, REDACTED) for name in SECRET_HEADERS]
    config["before_record_request"] = scrubber.request
    config["before_record_response"] = scrubber.response
    config["match_on"] = ["method", "path", "body_ignoring_ids", "payment_presence"]
    config["cassette_library_dir"] = cassette_dir
    return config


# --- where recorded tests send their requests ---------------------------------------


@dataclass(frozen=True)
class RecordingTarget:
    """Where the recorded tests of one run talk to.

    ``replay``: cassettes only, sockets off. ``local``: record from the per-test
    LocalGateway. ``live``: record from the real gateway at ``api_url``, paying with
    ``wallet_key``, and from the account API at ``account_url`` with ``account_key`` (if
    one was given).
    """

    kind: Literal["replay", "local", "live"]
    api_url: str | None = None
    wallet_key: str = field(default=HARDHAT_KEY, repr=False)
    account_url: str | None = None
    account_key: str | None = field(default=None, repr=False)


def _switch_on(environ: Mapping[str, str]) -> bool:
    value = environ.get(LIVE_SWITCH, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise pytest.UsageError(f"{LIVE_SWITCH} must be 1 or 0, not {value!r}.")


def recording_target(record_mode: str | None, environ: Mapping[str, str]) -> RecordingTarget:
    """The target for a run with pytest-recording's ``--record-mode`` and ``environ``.

    Without a recording mode (or ``none``) every test replays, whatever the live switch
    says. With one, ``BLOCKRUN_RECORD_LIVE=1`` records from the real gateway
    (``BLOCKRUN_API_URL`` or the default) and needs a funded ``BLOCKRUN_WALLET_KEY``; an
    optional ``BLOCKRUN_API_KEY`` (at ``BLOCKRUN_API_KEY_URL`` or the default) records the
    account-rail tests too.
    """
    if record_mode in (None, "none"):
        return RecordingTarget(
            "replay", REPLAY_URL, account_url=REPLAY_ACCOUNT_URL, account_key=REPLAY_ACCOUNT_KEY
        )
    if not _switch_on(environ):
        return RecordingTarget("local")
    key = (environ.get("BLOCKRUN_WALLET_KEY") or environ.get("BASE_CHAIN_WALLET_KEY") or "").strip()
    if not key:
        raise pytest.UsageError(
            f"{LIVE_SWITCH}=1 records from the real gateway: set a funded BLOCKRUN_WALLET_KEY."
        )
    if key.lower().removeprefix("0x") == HARDHAT_KEY.removeprefix("0x"):
        raise pytest.UsageError(
            "The Hardhat test key is public and holds no USDC on Base: "
            f"{LIVE_SWITCH}=1 needs your own funded wallet."
        )
    return RecordingTarget(
        "live",
        environ.get("BLOCKRUN_API_URL", "").strip() or DEFAULT_API_URL,
        key,
        environ.get("BLOCKRUN_API_KEY_URL", "").strip() or DEFAULT_ACCOUNT_URL,
        environ.get("BLOCKRUN_API_KEY", "").strip() or None,
    )


def connect(target: RecordingTarget, request: pytest.FixtureRequest) -> str:
    """Prepare one test's network for ``target`` and return the x402 API URL to use.

    Replays turn sockets off (Unix sockets stay: asyncio's event loop needs a
    socketpair); live recording lets the gateway's hosts through the loopback-only guard.
    """
    if target.kind == "replay":
        pytest_socket.disable_socket(allow_unix_socket=True)
        return REPLAY_URL
    if target.kind == "local":
        return str(request.getfixturevalue("gw").url)
    assert target.api_url is not None
    hosts = {urlsplit(url).hostname or "" for url in (target.api_url, target.account_url) if url}
    pytest_socket.socket_allow_hosts(
        [*sorted(hosts), "127.0.0.1", "::1", "localhost"], allow_unix_socket=True
    )
    return target.api_url


ACCOUNT_RAIL_MARK = "account_rail"


def account_skip_reason(target: RecordingTarget) -> str | None:
    """Why an account-rail test cannot run against ``target``, or ``None``.

    Checked before the test's fixtures (pytest-recording's ``rewrite`` deletes the
    cassette when the ``vcr`` fixture starts), so a skipped test keeps its cassette.
    """
    if target.kind == "live" and target.account_key is None:
        return "set BLOCKRUN_API_KEY to record the account-rail tests live"
    return None


def account_rail(target: RecordingTarget, request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(account_url, account_key)`` for a test on the ``brk_`` account rail.

    Call after :func:`connect`.
    """
    if target.kind == "local":
        gw = request.getfixturevalue("gw")
        return str(gw.account_url), str(gw.api_key)
    reason = account_skip_reason(target)
    if reason is not None:
        pytest.skip(reason)
    assert target.account_url is not None and target.account_key is not None
    return target.account_url, target.account_key
