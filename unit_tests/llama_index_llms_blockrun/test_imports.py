"""The public surface, and what importing and constructing cost."""

from __future__ import annotations

import subprocess
import sys

import llama_index.llms.blockrun as package

PROBE = """
import sys
import llama_index.llms.blockrun as p
assert "llama_index.core" not in sys.modules, "the package import pulled in llama_index.core"
from llama_index.llms.blockrun import BlockRunLLM
llm = BlockRunLLM("auto", wallet_key="0x" + "11" * 32, max_cost_per_call=0.1)
assert llm.metadata.context_window > 0
heavy = [m for m in ("blockrun_core.client", "blockrun_core.router.classifier") if m in sys.modules]
assert not heavy, f"construction imported {heavy}"
"""


def test_all_is_the_public_surface() -> None:
    assert package.__all__ == ["BlockRun", "BlockRunCallEvent", "BlockRunLLM"]
    for name in package.__all__:
        assert getattr(package, name).__name__ == name


def test_import_and_construction_stay_light() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
