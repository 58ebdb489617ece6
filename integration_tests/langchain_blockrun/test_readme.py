"""The Python blocks of libs/langchain-blockrun/README.md run, in order, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "libs" / "langchain-blockrun" / "README.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_readme_examples_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first block sets these; registering them here undoes that after the test.
    monkeypatch.setenv("BLOCKRUN_API_URL", "unset")
    monkeypatch.setenv("BLOCKRUN_WALLET_KEY", "unset")
    blocks = _BLOCK.findall(README.read_text())
    assert len(blocks) > 5
    namespace: dict[str, object] = {"__name__": "readme"}
    try:
        for number, block in enumerate(blocks, 1):
            exec(compile(block, f"README block {number}", "exec"), namespace)  # noqa: S102
    finally:
        gateway = namespace.get("gateway")
        if gateway is not None:
            gateway.stop()  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "84" in out and "I had to stop here: the budget 'small' is used up" in out
    assert "Successful Requests: 3" in out  # get_blockrun_callback saw the call and the agent's two
