"""The ``blockrun`` command, called in-process through ``main([...])``."""

from __future__ import annotations

import re
import runpy
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from blockrun_core import Budget, cli
from blockrun_core.signing import default_session_path
from blockrun_core.testing import HARDHAT_KEY, LocalGateway

HARDHAT_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
REPO = Path(__file__).resolve().parents[2]
ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
KEY_RE = re.compile(r"0x[0-9a-fA-F]{64}")


def _address_only(text: str) -> str:
    assert KEY_RE.search(text) is None, "a private key was printed"
    assert ADDRESS_RE.fullmatch(text.strip()), text
    return text.strip()


# --------------------------------------------------------------------------- basics


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert re.fullmatch(r"blockrun \S+\n", capsys.readouterr().out)


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_core_errors_are_one_line_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLOCKRUN_WALLET_KEY", "0x1234")
    assert cli.main(["wallet", "show"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("blockrun: error: BLOCKRUN_WALLET_KEY: ")
    assert captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


# --------------------------------------------------------------------------- wallet


def test_wallet_new_creates_a_private_session_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["wallet", "new"]) == 0
    captured = capsys.readouterr()
    address = _address_only(captured.out)
    assert KEY_RE.search(captured.err) is None

    path = default_session_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KEY_RE.fullmatch(path.read_text().strip())

    assert cli.main(["wallet", "show"]) == 0
    assert _address_only(capsys.readouterr().out) == address


def test_wallet_new_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "wallet" / "key"
    assert cli.main(["wallet", "new", "--path", str(path)]) == 0
    before = path.read_text()
    capsys.readouterr()

    assert cli.main(["wallet", "new", "--path", str(path)]) == 1
    captured = capsys.readouterr()
    assert "refusing to overwrite" in captured.err
    assert captured.out == ""
    assert path.read_text() == before


def test_wallet_show_prints_the_address_never_the_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BLOCKRUN_WALLET_KEY", HARDHAT_KEY)
    assert cli.main(["wallet", "show"]) == 0
    captured = capsys.readouterr()
    assert _address_only(captured.out) == HARDHAT_ADDRESS
    assert HARDHAT_KEY[2:] not in captured.out + captured.err
    assert "BLOCKRUN_WALLET_KEY" in captured.err


def test_wallet_show_without_a_wallet(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["wallet", "show"]) == 1
    captured = capsys.readouterr()
    assert "No wallet found" in captured.err
    assert "blockrun wallet new" in captured.err


# --------------------------------------------------------------------------- models


def test_models_lists_known_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    for model_id in (cli.FREE_MODEL, cli.PAID_MODEL):
        assert re.search(rf"^{re.escape(model_id)}\s", out, re.MULTILINE), model_id
    assert "free" in out


# --------------------------------------------------------------------------- demo + gateway


def test_demo_runs_end_to_end(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_throwaway_key", lambda: HARDHAT_KEY)
    assert cli.main(["demo"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert cli.FREE_MODEL in out
    assert cli.PAID_MODEL in out
    assert f"wallet    {HARDHAT_ADDRESS}" in out
    assert f"payer {HARDHAT_ADDRESS}" in out
    assert "receipt tx 0x" in out
    assert "they agree" in out
    assert HARDHAT_KEY[2:] not in captured.out + captured.err
    # The throwaway wallet never touched the disk.
    assert not default_session_path().exists()


def test_demo_fails_when_the_gateway_disagrees(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(LocalGateway, "payments", property(lambda self: []))
    assert cli.main(["demo"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_gateway_serves_until_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, int] = {}

    def probe_then_interrupt() -> None:
        url = re.search(r"api_url\s+(\S+)", capsys.readouterr().out)
        assert url is not None
        seen["status"] = httpx.get(url.group(1) + "/v1/models", timeout=5).status_code
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_wait_forever", probe_then_interrupt)
    assert cli.main(["gateway", "--port", "0"]) == 0
    assert seen == {"status": 200}
    assert "stopped" in capsys.readouterr().out


# --------------------------------------------------------------------------- README and CI


def _readme_setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```(?:bash|sh|shell)?\n(.*?)```", text, re.DOTALL)
    assert block is not None, "README has no fenced set-up block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_setup_commands()
    assert len(commands) == 2, commands
    assert commands[0] == "pip install uv && uv run blockrun demo"


def _python_blocks(readme: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme.read_text(), re.DOTALL)


def _readme_python_blocks() -> list[str]:
    return _python_blocks(REPO / "README.md")


def _run_blocks(tmp_path: Path, **blocks: str) -> dict[str, dict[str, object]]:
    """Run each block as its own script, in order; return each one's globals."""
    names = {}
    for name, code in blocks.items():
        path = tmp_path / f"{name}.py"
        path.write_text(code)
        names[name] = runpy.run_path(str(path))
    return names


@pytest.fixture
def wallet_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalGateway]:
    """A local gateway, and the environment a user sets: its URL and a wallet key."""
    with LocalGateway() as gw:
        monkeypatch.setenv("BLOCKRUN_API_URL", gw.url)
        monkeypatch.setenv("BLOCKRUN_WALLET_KEY", HARDHAT_KEY)
        yield gw


def test_readme_framework_quick_starts_run_as_written(
    tmp_path: Path, wallet_env: LocalGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    langchain, llama_index = _readme_python_blocks()[:2]
    assert "from langchain_blockrun import ChatBlockRun" in langchain
    assert "from llama_index.llms.blockrun import BlockRunLLM" in llama_index
    for name, code in (("langchain", langchain), ("llama_index", llama_index)):
        assert len(code.strip().splitlines()) <= 12, f"the {name} quick start grew past ~10 lines"
        assert "HARDHAT_KEY" not in code and "api_url" not in code  # only what a user types
        before = len(wallet_env.payments)
        _run_blocks(tmp_path, **{name: code})
        paid = wallet_env.payments[before:]
        assert [payment.stream for payment in paid] == [False, True], name
        answer, cost = capsys.readouterr().out.splitlines()[:2]
        content, served, tier = answer.split()
        assert (content, tier) == ("84", "SIMPLE")
        assert served == paid[0].model
        cost_usd, savings, transaction = cost.split()
        # What the snippet prints is what the gateway recorded for that payment.
        assert float(cost_usd) == pytest.approx(paid[0].amount_micros / 1e6)
        assert 0.0 <= float(savings) < 1.0
        assert transaction == paid[0].tx_hash


def test_readme_examples_run(
    tmp_path: Path, wallet_env: LocalGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    quick_start, routing, budgets, local_gateway = _readme_python_blocks()[2:6]
    assert "BlockRunClient(payment_policy=" in quick_start
    assert 'model="auto"' in routing
    assert "Budget(" in budgets
    assert "LocalGateway()" in local_gateway
    gw = wallet_env
    _run_blocks(tmp_path, local=local_gateway)
    _run_blocks(tmp_path, quick_start=quick_start)
    assert len(gw.payments) == 2  # the paid call and the paid stream
    _run_blocks(tmp_path, routing=routing)
    assert len(gw.payments) == 3
    names = _run_blocks(tmp_path, budgets=budgets)["budgets"]
    assert len(gw.payments) == 4
    paid = gw.payments[-1].amount_micros / 1e6
    researcher, team = names["researcher"], names["team"]
    assert isinstance(researcher, Budget) and isinstance(team, Budget)
    assert researcher.spent == team.spent == pytest.approx(paid)
    out = capsys.readouterr().out
    assert "84" in out and "REASONING" in out


def test_core_readme_example_runs(
    tmp_path: Path, wallet_env: LocalGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = _python_blocks(REPO / "libs" / "blockrun-core" / "README.md")
    assert blocks, "libs/blockrun-core/README.md has no Python example"
    _run_blocks(tmp_path, **{f"block{number}": code for number, code in enumerate(blocks)})
    assert [payment.stream for payment in wallet_env.payments] == [False, True]
    assert capsys.readouterr().out.startswith("84 ")


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _readme_setup_commands()[1]
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert f"step {test_command}" in ci_lines
