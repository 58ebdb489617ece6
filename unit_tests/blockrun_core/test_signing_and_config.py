"""Where keys come from, which rail a client takes, and that keys never show."""

from __future__ import annotations

import copy
import logging
import os
import pickle
import stat
from pathlib import Path

import pytest
from blockrun_core import ConfigurationError, CredentialError
from blockrun_core.config import (
    DEFAULT_ACCOUNT_URL,
    DEFAULT_API_URL,
    resolve_credentials,
    validate_api_url,
)
from blockrun_core.signing import (
    WalletSigner,
    create_wallet,
    default_session_path,
    recover_signer,
    resolve_wallet_key,
)

from unit_tests.conftest import HARDHAT_ADDRESS, HARDHAT_KEY

OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
OTHER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ACCOUNT_KEY = "brk_live_abcdef0123456789"


def write_session(home: Path, key: str) -> Path:
    path = home / ".blockrun" / ".session"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    return path


# -- the signer ----------------------------------------------------------------------------


def test_signer_derives_the_address_and_accepts_a_key_without_0x() -> None:
    assert WalletSigner(HARDHAT_KEY).address == HARDHAT_ADDRESS
    assert WalletSigner(HARDHAT_KEY[2:]).address == HARDHAT_ADDRESS


def test_signatures_are_low_s_and_recover_to_the_signer() -> None:
    signer = WalletSigner(OTHER_KEY)
    for i in range(50):
        digest = bytes([i]) * 32
        signature = signer.sign_digest(digest)
        assert len(signature) == 65 and signature[64] in (27, 28)
        assert recover_signer(digest, signature) == OTHER_ADDRESS


def test_recover_refuses_the_high_s_twin_of_a_valid_signature() -> None:
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    digest = b"\x07" * 32
    signature = WalletSigner(HARDHAT_KEY).sign_digest(digest)
    s = int.from_bytes(signature[32:64], "big")
    twin = signature[:32] + (n - s).to_bytes(32, "big") + bytes([55 - signature[64]])
    with pytest.raises(ValueError, match="high s"):
        recover_signer(digest, twin)


@pytest.mark.parametrize(
    "key", ["0x1234", "0x" + "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32, ""]
)
def test_malformed_keys_are_refused_without_echoing_them(key: str) -> None:
    with pytest.raises(CredentialError) as info:
        WalletSigner(key)
    assert key[2:] not in str(info.value) or not key[2:]


def test_signer_never_shows_or_leaks_its_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signer = WalletSigner(HARDHAT_KEY)
    logging.getLogger("blockrun").debug("signer %s %r", signer, signer)
    shown = [repr(signer), str(signer), f"{signer}", caplog.text, repr(vars_of(signer))]
    for text in shown:
        assert HARDHAT_KEY[2:] not in text
    assert HARDHAT_ADDRESS in repr(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)
    assert copy.deepcopy(signer) is signer and copy.copy(signer) is signer


def vars_of(signer: WalletSigner) -> list[str]:
    return [name for name in dir(signer) if "key" in name.lower()]


# -- where the wallet key comes from --------------------------------------------------------


def test_wallet_key_sources_in_order(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    assert resolve_wallet_key() is None
    write_session(home, "0xsession")
    assert resolve_wallet_key() == "0xsession"
    monkeypatch.setenv("BASE_CHAIN_WALLET_KEY", "0xbase")
    assert resolve_wallet_key() == "0xbase"
    monkeypatch.setenv("BLOCKRUN_WALLET_KEY", "0xblockrun")
    assert resolve_wallet_key() == "0xblockrun"
    assert resolve_wallet_key("0xexplicit") == "0xexplicit"


def test_blockrun_home_moves_the_session_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BLOCKRUN_HOME", str(tmp_path / "elsewhere"))
    assert default_session_path() == tmp_path / "elsewhere" / ".session"


def test_create_wallet_writes_a_private_file_once(tmp_path: Path) -> None:
    path = tmp_path / "wallet" / ".session"
    signer = create_wallet(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert WalletSigner(path.read_text().strip()).address == signer.address
    with pytest.raises(FileExistsError):
        create_wallet(path)
    assert WalletSigner(path.read_text().strip()).address == signer.address


# -- which rail ---------------------------------------------------------------------------


def test_rails(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    assert resolve_credentials().rail == "none"
    assert resolve_credentials().api_url == DEFAULT_API_URL

    write_session(home, HARDHAT_KEY)
    wallet = resolve_credentials()
    assert wallet.rail == "wallet" and wallet.signer is not None
    assert wallet.signer.address == HARDHAT_ADDRESS

    monkeypatch.setenv("BLOCKRUN_API_KEY", ACCOUNT_KEY)
    account = resolve_credentials()
    assert account.rail == "account" and account.api_url == DEFAULT_ACCOUNT_URL
    assert account.signer is None

    # an explicit wallet key beats an account key from the environment
    explicit = resolve_credentials(wallet_key=OTHER_KEY)
    assert explicit.rail == "wallet" and explicit.signer is not None
    assert explicit.signer.address == OTHER_ADDRESS


def test_blank_account_key_env_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOCKRUN_API_KEY", "   ")
    assert resolve_credentials().rail == "none"


def test_env_urls_apply_to_their_own_rail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLOCKRUN_API_URL", "https://testnet.blockrun.ai/api/")
    monkeypatch.setenv("BLOCKRUN_API_KEY_URL", "https://api.blockrun.ai/v1")
    assert resolve_credentials(wallet_key=HARDHAT_KEY).api_url == "https://testnet.blockrun.ai/api"
    assert resolve_credentials(api_key=ACCOUNT_KEY).api_url == "https://api.blockrun.ai"


def test_account_key_is_refused_as_a_wallet_key() -> None:
    with pytest.raises(CredentialError, match="api_key"):
        resolve_credentials(wallet_key=ACCOUNT_KEY)


@pytest.mark.parametrize(
    "host",
    ["https://blockrun.ai/api", "https://testnet.blockrun.ai/api", "https://sol.blockrun.ai"],
)
def test_account_key_never_goes_to_an_x402_host(host: str) -> None:
    with pytest.raises(CredentialError, match="never"):
        resolve_credentials(api_key=ACCOUNT_KEY, api_url=host)


def test_credentials_repr_hides_keys() -> None:
    for creds in (
        resolve_credentials(wallet_key=HARDHAT_KEY),
        resolve_credentials(api_key=ACCOUNT_KEY),
    ):
        text = repr(creds)
        assert HARDHAT_KEY[2:] not in text and ACCOUNT_KEY not in text


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://blockrun.ai/api",
        "http://127.0.0.1:8402/api",
        "http://localhost:8402/api",
        "http://[::1]:8402/api",
        "http://127.5.0.1/api",
    ],
)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert validate_api_url(url + "/") == url


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://blockrun.ai/api", "plain HTTP"),
        ("http://10.0.0.5/api", "plain HTTP"),
        ("http://localhost.evil.com/api", "plain HTTP"),
        ("https://user:pw@blockrun.ai/api", "credentials"),
        ("https://blockrun.ai/api?x=1", "query"),
        ("blockrun.ai/api", "Invalid API URL"),
        ("", "Invalid API URL"),
    ],
)
def test_unsafe_or_malformed_urls_are_refused(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        validate_api_url(url)


def test_a_client_whose_construction_failed_still_has_a_repr() -> None:
    from blockrun_core import BlockRunClient

    client = BlockRunClient.__new__(BlockRunClient)  # what a traceback may hold after a raise
    with pytest.raises(CredentialError):
        client.__init__(wallet_key="0x1234")  # type: ignore[misc]
    assert repr(client) == "BlockRunClient(<not configured>)"
