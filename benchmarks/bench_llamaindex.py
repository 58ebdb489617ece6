"""LlamaIndex benchmark: BlockRunLLM against llama-index-llms-blockrun 0.1.0, on one gateway.

Both LLMs run in worker processes driven over a pipe, ours from this environment and
0.1.0 (the same distribution name, so it cannot share it) from its own virtualenv, made
on demand with uv under ``benchmarks/.venv-llama-index-llms-blockrun-0.1.0``. Each worker
times its own calls; the bench alternates them per sample and counts HTTP round trips on
the gateway. Measured: the per-call overhead on a free model (``complete``, ``achat``, a
whole ``stream_chat``) and a paid call's wall time (repeated, and first on a new LLM).
A second table compares the free path with ``OpenAILike`` (installed here), which is
also what ``--smoke`` runs alone (no separate environment). Prints a markdown table and
writes it to ``benchmarks/results/llamaindex-<date>.md`` (``--smoke``: print only).

Timings are reported, never asserted: the run fails only on errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_foundation import (
    HARDHAT_KEY,
    Row,
    _bench_environment,
    environment,
    paired,
    publish,
)
from gateway_process import gateway_process
from suite_table import SuiteRow, from_rows, render_rows

PEER_VERSION = "0.1.0"
PEER_REQUIREMENTS = (
    f"llama-index-llms-blockrun=={PEER_VERSION}",
    "blockrun-llm==1.21.1",  # the SDK it pays with: the same version as our dev group
    "llama-index-core==0.14.25",  # the same framework version as ours
)
DEFAULT_PEER_ENV = (
    Path(__file__).resolve().parent / f".venv-llama-index-llms-blockrun-{PEER_VERSION}"
)
FREE_MODEL = "nvidia/gpt-oss-120b"
PAID_MODEL = "openai/gpt-4o-mini"


@dataclass(frozen=True)
class Counts:
    calls: int
    warmup: int


FULL = Counts(calls=60, warmup=5)
SMOKE = Counts(calls=3, warmup=1)

# One worker per LLM implementation. It reads an operation name per line, runs it once,
# and prints the milliseconds it took (the pipe is not timed). The same code runs in both
# environments; only the constructor differs.
_WORKER = r"""
import asyncio, sys, time
impl, url, key, free_model, paid_model = sys.argv[1:6]
from llama_index.core.llms import ChatMessage

def make(model):
    if impl == "ours":
        from llama_index.llms.blockrun import BlockRunLLM
        return BlockRunLLM(model, wallet_key=key, api_url=url, max_tokens=64)
    if impl == "v010":
        from llama_index.llms.blockrun import BlockRun
        return BlockRun(model=model, private_key=key, api_url=url, max_tokens=64)
    from llama_index.llms.openai_like import OpenAILike
    return OpenAILike(model=model, api_base=url + "/v1", api_key="unused", max_tokens=64,
                      is_chat_model=True, context_window=128000)

free, paid = make(free_model), make(paid_model)
messages = [ChatMessage(role="user", content="What is 2 + 2?")]
loop = asyncio.new_event_loop()

def check(text):
    if text.strip() != "4":
        raise RuntimeError(f"{impl}: unexpected answer {text!r}")

def free_complete():
    check(free.complete("What is 2 + 2?").text)

def free_achat():
    check(loop.run_until_complete(free.achat(messages)).message.content)

def free_stream():
    check("".join(r.delta or "" for r in free.stream_chat(messages)))

def paid_chat():
    check(paid.chat(messages).message.content)

def paid_new():
    check(make(paid_model).chat(messages).message.content)

ops = {f.__name__: f for f in (free_complete, free_achat, free_stream, paid_chat, paid_new)}
print("ready", flush=True)
for line in sys.stdin:
    op = ops[line.strip()]
    start = time.perf_counter()
    op()
    print((time.perf_counter() - start) * 1e3, flush=True)
"""


class Worker:
    """A long-lived interpreter running one LLM implementation."""

    def __init__(self, python: Path | str, impl: str, api_url: str, env: dict[str, str]) -> None:
        args = [str(python), "-c", _WORKER, impl, api_url, HARDHAT_KEY, FREE_MODEL, PAID_MODEL]
        self.impl = impl
        self._process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        self._expect("ready")

    def _expect(self, what: str) -> str:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line or (what and line.strip() != what):
            code = self._process.poll()
            raise RuntimeError(f"the {self.impl} worker failed (exit {code}): {line!r}")
        return line

    def run(self, op: str) -> float:
        """Run ``op`` once; its wall time in ms."""
        assert self._process.stdin is not None
        self._process.stdin.write(op + "\n")
        self._process.stdin.flush()
        return float(self._expect(""))

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def peer_python(env_dir: Path) -> Path:
    """The 0.1.0 environment's interpreter, creating the environment on first use."""
    python = env_dir / "bin" / "python"
    done = env_dir / ".installed"
    if not done.exists():
        print(f"creating {env_dir} (llama-index-llms-blockrun {PEER_VERSION})", file=sys.stderr)
        subprocess.run(["uv", "venv", "--python", sys.executable, str(env_dir)], check=True)
        install = ["uv", "pip", "install", "--python", str(python), *PEER_REQUIREMENTS]
        subprocess.run(install, check=True)
        done.write_text("\n".join(PEER_REQUIREMENTS) + "\n")
    return python


# (operation, row label, counts HTTP round trips)
OPERATIONS = (
    ("free_complete", "free model: complete()", False),
    ("free_achat", "free model: achat()", False),
    ("free_stream", "free model: stream_chat(), whole stream", False),
    ("paid_chat", "paid model: chat(), repeated on one LLM", True),
    ("paid_new", "paid model: new LLM + first chat()", True),
)


def bench(
    ours: Worker, peer: Worker, gw: Any, counts: Counts, ops: tuple[tuple[str, str, bool], ...]
) -> list[Row]:
    rows = []
    for op, label, trips in ops:

        def sample(worker: Worker, op: str = op) -> Callable[[], tuple[float, float]]:
            def run() -> tuple[float, float]:
                before = gw.request_count()
                ms = worker.run(op)
                return ms, float(gw.request_count() - before)

            return run

        o, p = paired(counts.calls, sample(ours), sample(peer), warmup=counts.warmup)
        rows.append(
            Row(label, "ms", [s[0] for s in o], [s[0] for s in p], "ours <= peer", _no_slower)
        )
        if trips:
            rows.append(
                Row(f"HTTP round trips, {label}", "trips", [s[1] for s in o], [s[1] for s in p])
            )
    return rows


SUITE = Counts(calls=120, warmup=10)


def suite_rows(
    gw: Any, env: dict[str, str], counts: Counts, peer_env: Path | None
) -> list[SuiteRow]:
    """BlockRunLLM against 0.1.0 (usage ledger on, the default, then off) when ``peer_env``
    is given; else against OpenAILike on the free path (smoke: no separate environment)."""
    if peer_env is None:
        section = "LlamaIndex: BlockRunLLM vs OpenAILike (smoke: 0.1.0 not run)"
        peer = (Path(sys.executable), "openai_like", "OpenAILike")
        return _versus(gw, counts, OPERATIONS[:3], section, env, peer, "", judged=False)
    section = f"LlamaIndex: BlockRunLLM vs llama-index-llms-blockrun {PEER_VERSION}"
    peer = (peer_env, "v010", PEER_VERSION)
    quiet = {**env, "BLOCKRUN_LEDGER": "off"}
    return _versus(gw, counts, OPERATIONS, section, env, peer, "", judged=True) + _versus(
        gw, counts, OPERATIONS, section, quiet, peer, "usage ledger off: ", judged=True
    )


def _versus(
    gw: Any,
    counts: Counts,
    ops: tuple[tuple[str, str, bool], ...],
    section: str,
    ours_env: dict[str, str],
    peer: tuple[Path, str, str],  # interpreter, worker impl, label
    prefix: str,
    *,
    judged: bool,
) -> list[SuiteRow]:
    python, impl, label = peer
    ours = Worker(sys.executable, "ours", gw.url, ours_env)
    try:
        other = Worker(python, impl, gw.url, ours_env)  # the peer reads no BLOCKRUN_LEDGER
        try:
            rows = bench(ours, other, gw, counts, ops)
        finally:
            other.close()
    finally:
        ours.close()
    return [
        SuiteRow(
            section,
            prefix + row.name,
            row.unit,
            row.ours,
            row.peer,
            label,
            row.target if judged else "-",
            row.met if judged else None,
        )
        for row in rows
    ]


def _no_slower(ours: float, peer: float) -> bool:
    return ours <= peer


def table(title: str, peer: str, rows: list[Row]) -> list[str]:
    return [f"## {title}", "", render_rows(from_rows(title, peer, rows)), ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts, OpenAILike only")
    parser.add_argument("--out", type=Path, help="write the table here (default: results/)")
    parser.add_argument(
        "--peer-env", type=Path, default=DEFAULT_PEER_ENV, help="where 0.1.0's venv lives"
    )
    args = parser.parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()
    peer_env = None if args.smoke else peer_python(args.peer_env.resolve())

    sections: list[str] = []
    with _bench_environment() as env, gateway_process(env) as gw:
        ours = Worker(sys.executable, "ours", gw.url, env)
        try:
            if peer_env is not None:
                peer = Worker(peer_env, "v010", gw.url, env)
                quiet = Worker(sys.executable, "ours", gw.url, {**env, "BLOCKRUN_LEDGER": "off"})
                try:
                    rows = bench(ours, peer, gw, counts, OPERATIONS)
                    quiet_rows = bench(quiet, peer, gw, counts, OPERATIONS)
                finally:
                    peer.close()
                    quiet.close()
                title = f"BlockRunLLM vs llama-index-llms-blockrun {PEER_VERSION}"
                sections += table(title, PEER_VERSION, rows)
                title += ", usage ledger off (BLOCKRUN_LEDGER=off)"
                sections += table(title, PEER_VERSION, quiet_rows)
            like = Worker(sys.executable, "openai_like", gw.url, env)
            try:
                rows = bench(ours, like, gw, counts, OPERATIONS[:3])
            finally:
                like.close()
            sections += table("BlockRunLLM vs OpenAILike, free model", "OpenAILike", rows)
        finally:
            ours.close()

    header = [
        f"# LlamaIndex benchmark, {today}",
        "",
        *environment(
            f"; llama-index-core 0.14.25 on both sides; peer llama-index-llms-blockrun "
            f"{PEER_VERSION} in its own venv"
        ),
        f"- Samples: {counts.calls} per row after {counts.warmup} warm-up, systems "
        f"alternated; free model {FREE_MODEL}, paid model {PAID_MODEL}, max_tokens 64",
        "",
    ]
    report = "\n".join(header + sections)
    publish(report, args.out, None if args.smoke else f"llamaindex-{today}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
