"""The cassette tooling itself: the secret scanner, the scrubber, the matchers, the switch.

These run offline (LocalGateway on loopback at most): the scanner must find each kind of
secret in a deliberately dirty cassette, a cassette recorded without our scrubbing must
fail the scan and one recorded with it must pass and replay with sockets off.
"""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import pytest_socket
import vcr
import yaml
from blockrun_core import BlockRunClient
from blockrun_core.config import DEFAULT_ACCOUNT_URL, DEFAULT_API_URL
from blockrun_core.testing import HARDHAT_KEY, LocalGateway
from vcr.request import Request

from integration_tests import cassettes
from integration_tests.cassette_scan import cassette_files, scan_file, scan_text

SIGNATURE = "0x" + "ab" * 65
X402_PAYMENT = base64.b64encode(
    json.dumps(
        {
            "x402Version": 2,
            "payload": {
                "signature": SIGNATURE,
                "authorization": {"from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"},
            },
        }
    ).encode()
).decode()
# a 402 challenge names the payee: an address, not a secret
CHALLENGE = base64.b64encode(
    b'{"x402Version":2,"accepts":[{"payTo":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}]}'
).decode()
CLEAN = f"""interactions:
- request:
    body: '{{"model":"openai/gpt-4o-mini","messages":[{{"role":"user","content":"hi"}}]}}'
    headers:
      payment-signature:
      - REDACTED
      authorization:
      - REDACTED
    method: POST
    uri: http://127.0.0.1:8402/api/v1/chat/completions
  response:
    body:
      string: '{{"id":"chatcmpl-recorded0001","choices":[]}}'
    headers:
      payment-required:
      - {CHALLENGE}
    status:
      code: 200
version: 1
"""
DIRTY = {
    "payment header value": CLEAN.replace(
        "payment-signature:\n      - REDACTED", f"payment-signature:\n      - {X402_PAYMENT}"
    ),
    "x-payment header value": CLEAN.replace(
        "payment-signature:\n      - REDACTED", "x-payment:\n      - eyJhbGciOi-not-redacted"
    ),
    "authorization header": CLEAN.replace(
        "authorization:\n      - REDACTED", "authorization:\n      - Bearer sk-live-1234567890"
    ),
    "inline bearer token": CLEAN.replace('"content":"hi"', '"content":"Bearer abcdefgh12345"'),
    "signature in a body": CLEAN.replace('"choices":[]', f'"sig":"{SIGNATURE}"'),
    "Hardhat key in a body": CLEAN.replace('"content":"hi"', f'"content":"{HARDHAT_KEY}"'),
    "Hardhat key without 0x": CLEAN.replace(
        '"content":"hi"', f'"content":"{HARDHAT_KEY[2:].upper()}"'
    ),
    "account key": CLEAN.replace('"content":"hi"', '"content":"brk_test_0123456789abcdef"'),
    "account key header": CLEAN.replace(
        "authorization:\n      - REDACTED", "x-api-key:\n      - brk_live_abcdef0123456789"
    ),
    "x402 payload in a body": CLEAN.replace('"choices":[]', f'"blob":"{X402_PAYMENT}"'),
}


# --- the scanner -----------------------------------------------------------------------


def test_a_scrubbed_cassette_is_clean() -> None:
    assert scan_text(CLEAN) == []


@pytest.mark.parametrize("kind", sorted(DIRTY))
def test_the_scanner_finds_each_kind_of_secret(kind: str) -> None:
    findings = scan_text(DIRTY[kind])
    assert findings, kind
    for finding in findings:  # a report names rule and line, never the secret
        for secret in (SIGNATURE, HARDHAT_KEY[2:], X402_PAYMENT, "sk-live", "0123456789"):
            assert secret.lower() not in str(finding).lower()


def test_a_dirty_file_in_any_cassettes_folder_is_found(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "cassettes" / "deep").mkdir(parents=True)
    (tmp_path / ".venv" / "cassettes").mkdir(parents=True)
    dirty = tmp_path / "pkg" / "cassettes" / "deep" / "leak.yaml"
    dirty.write_text(DIRTY["payment header value"])
    (tmp_path / ".venv" / "cassettes" / "vendored.yaml").write_text(CLEAN)
    assert cassette_files(tmp_path) == [dirty]
    assert {f.rule for f in scan_file(dirty)} >= {
        "credential header value",
        "ECDSA signature (0x + 130 hex)",
    }


# --- recording a real paid call, with and without the scrubber -------------------------


ASK = [{"role": "user", "content": "what is 6 * 7"}]


def record_call(config: dict[str, Any], path: Path, **credentials: Any) -> str:
    recorder = vcr.VCR()
    cassettes.register_matchers(recorder)
    with (
        recorder.use_cassette(str(path), **{**config, "record_mode": "all"}),
        BlockRunClient(ledger=False, **credentials) as client,
    ):
        assert client.chat(model="openai/gpt-4o-mini", messages=ASK).content == "42"
    return path.read_text()


def test_a_cassette_recorded_without_scrubbing_fails_the_scan(
    gw: LocalGateway, tmp_path: Path
) -> None:
    unscrubbed = {"decode_compressed_response": True}
    paid = record_call(unscrubbed, tmp_path / "paid.yaml", api_url=gw.url, wallet_key=HARDHAT_KEY)
    assert len(gw.payments) == 1
    rules = {f.rule for f in scan_text(paid)}
    assert "credential header value" in rules
    assert "ECDSA signature (0x + 130 hex)" in rules  # inside the base64 payment header
    billed = record_call(
        unscrubbed, tmp_path / "billed.yaml", api_url=gw.account_url, api_key=gw.api_key
    )
    assert {"credential header value", "account key (brk_)"} <= {f.rule for f in scan_text(billed)}


def test_a_scrubbed_account_recording_passes_the_scan(gw: LocalGateway, tmp_path: Path) -> None:
    config = cassettes.vcr_config(str(tmp_path))
    text = record_call(config, tmp_path / "billed.yaml", api_url=gw.account_url, api_key=gw.api_key)
    assert scan_text(text) == [] and gw.api_key not in text
    [interaction] = yaml.safe_load(text)["interactions"]
    assert interaction["request"]["headers"]["authorization"] == [cassettes.REDACTED]
    assert interaction["response"]["headers"]["x-blockrun-request-id"] == ["req_recorded0001"]


def test_a_scrubbed_recording_passes_the_scan_and_replays_offline(
    gw: LocalGateway, tmp_path: Path
) -> None:
    config = cassettes.vcr_config(str(tmp_path))
    text = record_call(config, tmp_path / "paid.yaml", api_url=gw.url, wallet_key=HARDHAT_KEY)
    assert scan_text(text) == [] and len(gw.payments) == 1
    interactions = yaml.safe_load(text)["interactions"]
    assert [i["request"]["headers"].get("payment-signature") for i in interactions] == [
        None,
        [cassettes.REDACTED],
    ]
    assert [i["response"]["status"]["code"] for i in interactions] == [402, 200]
    gw.reset()
    pytest_socket.disable_socket(allow_unix_socket=True)
    player = vcr.VCR()
    cassettes.register_matchers(player)
    replay = {**cassettes.vcr_config(str(tmp_path)), "record_mode": "none"}
    with (
        player.use_cassette(str(tmp_path / "paid.yaml"), **replay) as cassette,
        BlockRunClient(
            api_url=cassettes.REPLAY_URL, wallet_key=HARDHAT_KEY, ledger=False
        ) as client,
    ):
        replayed = client.chat(model="openai/gpt-4o-mini", messages=ASK)
    assert replayed.content == "42" and replayed.cost_usd and replayed.cost_usd > 0
    assert cassette.all_played and not gw.payments and not gw.requests


# --- the matchers ------------------------------------------------------------------------


def request(body: str, *, paid: bool = False) -> Request:
    headers = {"content-type": "application/json"}
    if paid:
        headers["payment-signature"] = cassettes.REDACTED
    return Request("POST", "http://127.0.0.1:8402/api/v1/chat/completions", body, headers)


def test_payment_presence_tells_a_paid_retry_from_its_probe() -> None:
    body = '{"model":"openai/gpt-4o-mini"}'
    cassettes.payment_presence(request(body), request(body))
    cassettes.payment_presence(request(body, paid=True), request(body, paid=True))
    with pytest.raises(AssertionError):
        cassettes.payment_presence(request(body), request(body, paid=True))
    with pytest.raises(AssertionError):
        cassettes.payment_presence(request(body, paid=True), request(body))


def test_bodies_match_up_to_generated_ids_only() -> None:
    recorded = request(
        '{"tool_call_id":"call_recorded0001","run":"00000000-0000-0000-0000-000000000001"}'
    )
    live = request(
        '{"tool_call_id":"call_f36c32c4365dd156d841d4ed","run":"a5154ad5-a56d-47b7-b558-6e271c73ec57"}'
    )
    cassettes.body_ignoring_ids(recorded, live)
    with pytest.raises(AssertionError):
        cassettes.body_ignoring_ids(recorded, request('{"tool_call_id":"call_recorded0001"}'))


# --- the scrubber's normalisation ---------------------------------------------------------


def challenge(url: str) -> str:
    return base64.b64encode(json.dumps({"resource": {"url": url}}).encode()).decode()


def gateway_response(
    call_id: str, completion_id: str, request_id: str, port: int
) -> dict[str, Any]:
    body = json.dumps(
        {
            "id": completion_id,
            "created": 1795245353,
            "choices": [{"message": {"tool_calls": [{"id": call_id}]}}],
        },
        separators=(",", ":"),
    ).encode()
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {
            "Content-Length": [str(len(body))],
            "Date": ["Sat, 21 Nov 2026 07:15:52 GMT"],
            "Payment-Response": ["eyJ0eCI6IjB4In0="],
            "x-blockrun-request-id": [request_id],
            "payment-required": [challenge(f"http://127.0.0.1:{port}/api/v1/chat/completions")],
        },
        "body": {"string": body},
    }


def scrub_exchange(call_id: str, completion_id: str, request_id: str, port: int) -> tuple[Any, Any]:
    scrubber = cassettes.CassetteScrubber()
    response = scrubber.response(gateway_response(call_id, completion_id, request_id, port))
    echoed = Request(
        "POST",
        f"http://127.0.0.1:{port}/api/v1/chat/completions",
        json.dumps({"messages": [{"tool_call_id": call_id}]}),
        {"host": f"127.0.0.1:{port}"},
    )
    return response, scrubber.request(echoed)


def test_ids_stamps_and_ports_are_normalised_consistently() -> None:
    response, echoed = scrub_exchange(
        "call_f36c32c4365dd156d841d4ed", "chatcmpl-c06c08a1a2ebbe227a658a07", "req_9f9e8d", 41799
    )
    body = json.loads(response["body"]["string"])
    assert body["id"] == "chatcmpl-recorded0001" and body["created"] == 0
    assert body["choices"][0]["message"]["tool_calls"][0]["id"] == "call_recorded0001"
    # the tool result sent back names the same normalised id
    assert json.loads(echoed.body)["messages"][0]["tool_call_id"] == "call_recorded0001"
    headers = response["headers"]
    assert "Date" not in headers and "Payment-Response" not in headers
    assert headers["x-blockrun-request-id"] == ["req_recorded0001"]
    assert headers["Content-Length"] == [str(len(response["body"]["string"]))]
    [encoded] = headers["payment-required"]
    assert json.loads(base64.b64decode(encoded))["resource"]["url"] == (
        f"http://{cassettes.REPLAY_HOST}/api/v1/chat/completions"
    )
    assert (
        echoed.uri.startswith(cassettes.REPLAY_URL)
        and echoed.headers["host"] == cassettes.REPLAY_HOST
    )


def test_re_recording_different_ids_gives_the_same_cassette() -> None:
    first = scrub_exchange("call_aaaaaaaaaaaaaaaaaaaaaaaa", "chatcmpl-111111111111", "r-1", 41799)
    second = scrub_exchange("call_bbbbbbbbbbbbbbbbbbbbbbbb", "chatcmpl-222222222222", "r-2", 50123)
    assert first[0] == second[0]
    assert (first[1].uri, first[1].body) == (second[1].uri, second[1].body)


def test_normalising_twice_changes_nothing() -> None:
    ids = cassettes.IdNormaliser()
    text = '{"id":"call_f36c32c4365dd156d841d4ed","run":"a5154ad5-a56d-47b7-b558-6e271c73ec57"}'
    once = ids(text)
    assert once == '{"id":"call_recorded0001","run":"00000000-0000-0000-0000-000000000001"}'
    assert ids(once) == once and cassettes.IdNormaliser()(once) == once


# --- where the recorded tests go: replay, LocalGateway, or the real gateway -----------------

FUNDED = "0x" + "12" * 32
ACCOUNT_KEY = "brk_live_0123456789abcdef"


@pytest.mark.parametrize("mode", [None, "none"])
def test_without_a_recording_mode_everything_replays(mode: str | None) -> None:
    target = cassettes.recording_target(
        mode, {"BLOCKRUN_RECORD_LIVE": "1", "BLOCKRUN_WALLET_KEY": FUNDED}
    )
    assert target.kind == "replay" and target.api_url == cassettes.REPLAY_URL
    assert target.wallet_key == HARDHAT_KEY
    assert (target.account_url, target.account_key) == (
        cassettes.REPLAY_ACCOUNT_URL,
        cassettes.REPLAY_ACCOUNT_KEY,
    )


@pytest.mark.parametrize("switch", [None, "", "0", "false"])
def test_recording_without_the_live_switch_uses_local_gateway(switch: str | None) -> None:
    environ = {"BLOCKRUN_WALLET_KEY": FUNDED} | (
        {} if switch is None else {"BLOCKRUN_RECORD_LIVE": switch}
    )
    target = cassettes.recording_target("rewrite", environ)
    assert target.kind == "local" and target.api_url is None and target.wallet_key == HARDHAT_KEY


def test_the_live_switch_records_from_the_real_gateway_with_your_key() -> None:
    target = cassettes.recording_target(
        "rewrite", {"BLOCKRUN_RECORD_LIVE": "1", "BLOCKRUN_WALLET_KEY": FUNDED}
    )
    assert (target.kind, target.api_url, target.wallet_key) == ("live", DEFAULT_API_URL, FUNDED)
    assert (target.account_url, target.account_key) == (DEFAULT_ACCOUNT_URL, None)
    assert FUNDED not in repr(target) and FUNDED[2:] not in repr(target)
    staging = cassettes.recording_target(
        "once",
        {
            "BLOCKRUN_RECORD_LIVE": "true",
            "BASE_CHAIN_WALLET_KEY": FUNDED,
            "BLOCKRUN_API_URL": "https://testnet.blockrun.ai/api",
            "BLOCKRUN_API_KEY": ACCOUNT_KEY,
            "BLOCKRUN_API_KEY_URL": "https://staging-api.blockrun.ai",
        },
    )
    assert (staging.kind, staging.api_url) == ("live", "https://testnet.blockrun.ai/api")
    assert (staging.account_url, staging.account_key) == (
        "https://staging-api.blockrun.ai",
        ACCOUNT_KEY,
    )
    assert ACCOUNT_KEY not in repr(staging)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BLOCKRUN_RECORD_LIVE": "1"}, "set a funded BLOCKRUN_WALLET_KEY"),
        ({"BLOCKRUN_RECORD_LIVE": "1", "BLOCKRUN_WALLET_KEY": HARDHAT_KEY}, "Hardhat test key"),
        ({"BLOCKRUN_RECORD_LIVE": "maybe", "BLOCKRUN_WALLET_KEY": FUNDED}, "must be 1 or 0"),
    ],
)
def test_a_live_recording_that_cannot_pay_is_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(pytest.UsageError, match=message) as info:
        cassettes.recording_target("rewrite", environ)
    assert FUNDED not in str(info.value)


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_replay_turns_sockets_off_but_keeps_unix_sockets(request: pytest.FixtureRequest) -> None:
    assert cassettes.connect(cassettes.RecordingTarget("replay"), request) == cassettes.REPLAY_URL
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=0.1)
    left, right = socket.socketpair()  # what an asyncio event loop needs
    left.close()
    right.close()


def test_local_recording_talks_to_the_gateway(
    request: pytest.FixtureRequest, gateway: LocalGateway
) -> None:
    assert cassettes.connect(cassettes.RecordingTarget("local"), request) == gateway.url


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_live_recording_lets_only_the_gateway_hosts_through(
    request: pytest.FixtureRequest,
) -> None:
    # 127.0.0.2 / .3 stand for the real hosts: outside the suite's loopback-only allow list.
    live = cassettes.RecordingTarget(
        "live", "http://127.0.0.2:9/api", FUNDED, "http://127.0.0.3:9", ACCOUNT_KEY
    )
    assert cassettes.connect(live, request) == "http://127.0.0.2:9/api"
    assert cassettes.account_rail(live, request) == ("http://127.0.0.3:9", ACCOUNT_KEY)
    for host in ("127.0.0.2", "127.0.0.3"):
        with pytest.raises(ConnectionRefusedError):  # reached the host: nothing on port 9
            socket.create_connection((host, 9), timeout=1)
    with pytest.raises(pytest_socket.SocketConnectBlockedError):
        socket.create_connection(("127.0.0.4", 9), timeout=1)


def test_live_recording_without_an_account_key_skips_the_account_tests(
    request: pytest.FixtureRequest,
) -> None:
    live = cassettes.RecordingTarget("live", "https://blockrun.ai/api", FUNDED, DEFAULT_ACCOUNT_URL)
    assert cassettes.account_skip_reason(live) == (
        "set BLOCKRUN_API_KEY to record the account-rail tests live"
    )
    with pytest.raises(pytest.skip.Exception, match="BLOCKRUN_API_KEY"):
        cassettes.account_rail(live, request)
    funded = cassettes.RecordingTarget(
        "live", "https://blockrun.ai/api", FUNDED, DEFAULT_ACCOUNT_URL, ACCOUNT_KEY
    )
    for target in (
        funded,
        cassettes.RecordingTarget("local"),
        cassettes.recording_target(None, {}),
    ):
        assert cassettes.account_skip_reason(target) is None


def test_local_account_recording_uses_the_gateway_account(
    request: pytest.FixtureRequest, gateway: LocalGateway
) -> None:
    rail = cassettes.account_rail(cassettes.RecordingTarget("local"), request)
    assert rail == (gateway.account_url, gateway.api_key)
