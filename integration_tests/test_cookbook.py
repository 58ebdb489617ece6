"""Every cookbook notebook runs from a clean kernel, and its saved outputs are current.

Each notebook is executed top to bottom with nbclient in a fresh kernel of this venv's
Python, with a fresh HOME and BLOCKRUN_HOME and no BlockRun credentials, so it starts its
own LocalGateway (and, for the fleet notebook, its own redis-server). Any error fails the
test. The outputs it produces must equal the outputs saved in the notebook once the parts
that change on every run are masked: gateway and Redis ports, transaction hashes and
nonces, completion and run ids, temporary paths, dates and durations. Everything else
(answers, models, prices, token counts, tables, which charts exist and their size) is
compared as is, so a change in behaviour shows up as a failing diff.

To refresh the saved outputs after an intended change:
``uv run python -m integration_tests.test_cookbook [NAME.ipynb ...]``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import struct
import sys
import tempfile
from base64 import b64decode
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

COOKBOOK = Path(__file__).resolve().parents[1] / "cookbook"
NOTEBOOKS = sorted(COOKBOOK.glob("*.ipynb"))
EXPECTED = (
    "01_quickstart_langchain.ipynb",
    "02_langgraph_agent.ipynb",
    "03_multi_agent_budget.ipynb",
    "04_llamaindex.ipynb",
    "05_routing_explained.ipynb",
    "06_fleet_budgets.ipynb",
)
CELL_TIMEOUT = 60  # seconds; a notebook takes a few

# Variables the notebooks read: a test run must not inherit a developer's live settings.
_NOTEBOOK_ENV = ("BLOCKRUN_COOKBOOK_LIVE", "BLOCKRUN_REDIS_URL", "MPLBACKEND")

_TMP = re.escape(tempfile.gettempdir().rstrip("/"))
_VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
    (re.compile(_TMP + r"/[^\s'\"),\]]+"), "<tmp>"),
    (re.compile(r"\b0x[0-9a-fA-F]{64}\b"), "<hash>"),  # tx hashes and nonces (addresses stay)
    (re.compile(r"\bchatcmpl-[0-9A-Za-z]+"), "chatcmpl-<id>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r" at 0x[0-9a-f]+>"), " at <address>>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?: UTC|Z)?"),
        "<date>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)? ?ms\b|\b\d+\.\d+ ?s\b"), "<duration>"),
)


def normalise_text(text: str) -> str:
    """``text`` with the parts that change on every run replaced by placeholders."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _png_size(data: str) -> str:
    """A PNG summarised by its pixel size: rendering details vary, the chart's data is printed."""
    raw = b64decode(data)
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return "<not a png>"
    width, height = struct.unpack(">II", raw[16:24])
    return f"<png {width}x{height}>"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def normalise_outputs(outputs: list[Any]) -> list[Any]:
    """A code cell's outputs, comparable across runs.

    Consecutive stream outputs of one stream are joined (how text is split between them
    depends on flush timing); rich outputs keep every MIME type, with PNGs reduced to their
    size; execution counts and metadata are dropped.
    """
    result: list[Any] = []
    for output in outputs:
        kind = output["output_type"]
        if kind == "stream":
            text = _text(output["text"])
            if result and result[-1][:2] == ("stream", output["name"]):
                result[-1] = ("stream", output["name"], result[-1][2] + text)
            else:
                result.append(("stream", output["name"], text))
        elif kind in ("execute_result", "display_data"):
            data = {
                mime: _png_size(_text(value))
                if mime == "image/png"
                else normalise_text(_text(value))
                for mime, value in sorted(output["data"].items())  # saved files sort them
            }
            result.append((kind, data))
        else:  # an error: execution raises before one is compared, but a saved one shows
            result.append((kind, output.get("ename"), output.get("evalue", "")))
    # streams and errors end with their text: masked once joined, so no value is split
    return [(*item[:2], normalise_text(item[2])) if len(item) == 3 else item for item in result]


def _kernel_manager(scratch: Path) -> KernelManager:
    """A kernel running this interpreter (this venv), whatever other kernels are installed."""
    kernel = scratch / "kernels" / "blockrun-cookbook"
    kernel.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "BlockRun cookbook",
        "language": "python",
    }
    (kernel / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(kernel.parent)], ensure_native_kernel=False)
    return KernelManager(kernel_name="blockrun-cookbook", kernel_spec_manager=specs)


def clean_environment(scratch: Path) -> dict[str, str]:
    """This process's environment without BlockRun settings, with a fresh HOME and
    BLOCKRUN_HOME under ``scratch``: what a newcomer's first run looks like."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BLOCKRUN_", "BASE_CHAIN_", "SOLANA_"))
        and name not in _NOTEBOOK_ENV
    }
    for name in ("home", "blockrun-home"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(scratch / "home")
    env["BLOCKRUN_HOME"] = str(scratch / "blockrun-home")
    return env


def execute_notebook(path: Path, scratch: Path) -> nbformat.NotebookNode:
    """``path`` executed top to bottom in a fresh kernel, in a clean environment under
    ``scratch``, started in the cookbook folder.

    Raises ``nbclient.exceptions.CellExecutionError`` on the first cell that fails.
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=_kernel_manager(scratch),
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(COOKBOOK)}},
    )
    client.execute(env=clean_environment(scratch))
    return notebook


def execute_all(paths: list[Path], scratch: Path) -> dict[Path, Any]:
    """Each notebook executed, several at once (their kernels are separate processes):
    the executed notebook, or the exception that stopped it."""

    def run(path: Path) -> Any:
        try:
            return execute_notebook(path, scratch / path.stem)
        except Exception as exc:  # reported by that notebook's test
            return exc

    workers = max(1, min(len(paths), os.cpu_count() or 1, 3))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(paths, pool.map(run, paths), strict=True))


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _describe(index: int, cell: nbformat.NotebookNode, outputs: list[Any]) -> list[str]:
    first = cell.source.splitlines()[0] if cell.source else ""
    lines = [f"--- cell {index}: {first}"]
    for item in outputs:
        if item[0] == "stream":
            lines += [f"[{item[1]}]", *item[2].splitlines()]
        elif item[0] == "error":
            lines.append(f"[error] {item[1]}: {item[2]}")
        else:
            for mime, value in item[1].items():
                lines += [f"[{item[0]} {mime}]", *value.splitlines()]
    return lines


def render(notebook: nbformat.NotebookNode) -> list[str]:
    """The normalised outputs of every code cell, as lines for a readable diff."""
    lines: list[str] = []
    for index, cell in enumerate(code_cells(notebook)):
        lines += _describe(index, cell, normalise_outputs(cell.get("outputs", [])))
    return lines


@pytest.fixture(scope="module")
def executed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The notebooks this session's tests ask for, executed once, concurrently."""
    wanted = [
        item.callspec.params["path"]
        for item in request.session.items
        if getattr(item, "module", None) is request.module
        and hasattr(item, "callspec")
        and "path" in item.callspec.params
    ]
    return execute_all(wanted, tmp_path_factory.mktemp("cookbook"))


def test_the_cookbook_has_every_notebook() -> None:
    assert tuple(path.name for path in NOTEBOOKS) == EXPECTED


def test_normalising_masks_only_what_changes_between_runs() -> None:
    one = "paid 0.002 to http://127.0.0.1:51234 tx 0x" + "ab" * 32 + " payer 0x" + "cd" * 20
    two = "paid 0.002 to http://127.0.0.1:40001 tx 0x" + "ef" * 32 + " payer 0x" + "cd" * 20
    assert normalise_text(one) == normalise_text(two)
    assert normalise_text(one.replace("0.002", "0.003")) != normalise_text(two)
    assert normalise_text(one.replace("cd" * 20, "ce" * 20)) != normalise_text(two)
    assert normalise_text("Echo: hi (12.5 ms) 2026-11-21 08:19 UTC") == (
        "Echo: hi (<duration>) <date>"
    )


@pytest.mark.timeout(600)  # the first test's setup executes every notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_its_saved_outputs_are_current(path: Path, executed: Any) -> None:
    saved = nbformat.read(path, as_version=4)
    assert not [
        output
        for cell in code_cells(saved)
        for output in cell.outputs
        if output["output_type"] == "error"
    ], f"{path.name} was saved with an error in its outputs"
    result = executed[path]
    if isinstance(result, Exception):
        raise result
    expected, actual = render(saved), render(result)
    if expected != actual:
        diff = "\n".join(difflib.unified_diff(expected, actual, "saved", "executed", lineterm=""))
        pytest.fail(
            f"{path.name}: the saved outputs are not current (refresh them with "
            f"`uv run python -m integration_tests.test_cookbook {path.name}`):\n{diff}",
            pytrace=False,
        )


def refresh(names: list[str]) -> None:
    """Execute the named notebooks (default: all) and save them with their new outputs."""
    paths = [path for path in NOTEBOOKS if not names or path.name in names]
    with tempfile.TemporaryDirectory() as scratch:
        results = execute_all(paths, Path(scratch))
    for path, result in results.items():
        if isinstance(result, Exception):
            raise result
        for cell in code_cells(result):
            cell.metadata.pop("execution", None)
        nbformat.write(result, path)
        print(f"refreshed {path.name}")


if __name__ == "__main__":
    refresh(sys.argv[1:])
