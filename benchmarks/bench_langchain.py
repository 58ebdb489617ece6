"""LangChain benchmark: ChatBlockRun against langchain-openai's ChatOpenAI, one LocalGateway.

Both chat models talk to the same free model on the same gateway (no payment, so only the
client stacks differ), alternating on every sample so drift cancels: ``invoke`` wall time,
``stream`` time to first token and to the last chunk, and ``ainvoke`` wall time in one
event loop. The gateway runs in a child process, as a real gateway runs elsewhere: in this
process its server thread would compete with the clients for the GIL. ChatBlockRun runs
with its usage ledger off (ChatOpenAI keeps none); one more row shows the default, where
every call waits for its ledger row to be committed. Prints a markdown table and writes it
to ``benchmarks/results/langchain-<date>.md`` (``--smoke``: tiny counts, print only).

Timings are reported, never asserted: the run fails only on errors (a wrong answer).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench_foundation import environment, p95, paired, publish

FREE_MODEL = "nvidia/gpt-oss-120b"
PROMPT = "Write a story about a cat."
EXPECTED = f"Echo: {PROMPT}"
MAX_TOKENS = 64


@dataclass(frozen=True)
class Counts:
    invoke: int
    stream: int
    ainvoke: int


FULL = Counts(invoke=400, stream=300, ainvoke=400)
SMOKE = Counts(invoke=5, stream=5, ainvoke=5)


@dataclass
class Row:
    """One measurement: ChatBlockRun's samples, ChatOpenAI's, and the target."""

    name: str
    ours: list[float]
    peer: list[float]
    target: str = "-"
    met: Callable[[float, float], bool] | None = None  # (ours median, peer median) -> met?


_GATEWAY = (
    "import sys; from blockrun_core.testing import LocalGateway; "
    "gw = LocalGateway().start(); print(gw.url, flush=True); sys.stdin.read(); gw.stop()"
)


@contextmanager
def gateway_process() -> Iterator[str]:
    """A LocalGateway in a child process; yields its URL, stops it on exit."""
    child = subprocess.Popen(
        [sys.executable, "-c", _GATEWAY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1"):
            raise RuntimeError("the gateway process did not start")
        yield url
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)


def _models(api_url: str, *, ledger: bool = False) -> tuple[Any, Any]:
    from langchain_blockrun import ChatBlockRun
    from langchain_openai import ChatOpenAI

    ours = ChatBlockRun(
        model=FREE_MODEL, api_url=api_url, max_tokens=MAX_TOKENS, ledger=None if ledger else False
    )
    peer = ChatOpenAI(
        model=FREE_MODEL,
        base_url=api_url + "/v1",
        api_key="unused-free-model",  # type: ignore[arg-type]
        max_tokens=MAX_TOKENS,  # type: ignore[call-arg]
        stream_usage=True,
        max_retries=0,
    )
    return ours, peer


def _check(name: str, text: str) -> None:
    if text != EXPECTED:
        raise RuntimeError(f"{name} answered {text!r}, expected {EXPECTED!r}")


# --------------------------------------------------------------------------- sync


def _invoke(model: Any, name: str) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        answer = model.invoke(PROMPT)
        elapsed = (time.perf_counter() - start) * 1e3
        _check(name, answer.text)
        return elapsed

    return run


def _stream(model: Any, name: str) -> Callable[[], tuple[float, float]]:
    """(time to the first non-empty text chunk, time to the last chunk), in ms."""

    def run() -> tuple[float, float]:
        start = time.perf_counter()
        first: float | None = None
        chunks: Iterator[Any] = model.stream(PROMPT)
        text = []
        for chunk in chunks:
            if first is None and chunk.text:
                first = time.perf_counter()
            text.append(chunk.text)
        end = time.perf_counter()
        _check(name, "".join(text))
        assert first is not None
        return (first - start) * 1e3, (end - start) * 1e3

    return run


def _raw_httpx(api_url: str, n: int) -> list[float]:
    """The floor: one POST with httpx and a JSON parse, no chat model around it."""
    import httpx

    body = {"model": FREE_MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    body["max_tokens"] = MAX_TOKENS  # type: ignore[assignment]
    with httpx.Client() as client:

        def run() -> float:
            start = time.perf_counter()
            client.post(api_url + "/v1/chat/completions", json=body).json()
            return (time.perf_counter() - start) * 1e3

        samples, _ = paired(n, run, run, warmup=20)
    return samples


def bench_sync(counts: Counts, ours: Any, peer: Any, ledgered: Any, floor: float) -> list[Row]:
    invoke_ours, invoke_peer = paired(
        counts.invoke, _invoke(ours, "ChatBlockRun"), _invoke(peer, "ChatOpenAI"), warmup=20
    )
    ledger_ours, ledger_peer = paired(
        counts.invoke, _invoke(ledgered, "ChatBlockRun"), _invoke(peer, "ChatOpenAI"), warmup=20
    )
    stream_ours, stream_peer = paired(
        counts.stream, _stream(ours, "ChatBlockRun"), _stream(peer, "ChatOpenAI"), warmup=20
    )
    return [
        Row(
            "`invoke`, free model",
            invoke_ours,
            invoke_peer,
            "ours <= 1/2 of ChatOpenAI",
            lambda o, p: o <= p / 2,
        ),
        Row(
            "`stream`, time to first token",
            [s[0] for s in stream_ours],
            [s[0] for s in stream_peer],
            "ours <= ChatOpenAI",
            lambda o, p: o <= p,
        ),
        Row(
            "`stream`, time to last chunk", [s[1] for s in stream_ours], [s[1] for s in stream_peer]
        ),
        Row(
            "`invoke` minus the raw httpx floor (client overhead)",
            [x - floor for x in invoke_ours],
            [x - floor for x in invoke_peer],
        ),
        Row("`invoke` with the usage ledger on (the default)", ledger_ours, ledger_peer),
    ]


# --------------------------------------------------------------------------- async


async def _apaired(
    n: int, ours: Callable[[], Awaitable[float]], peer: Callable[[], Awaitable[float]]
) -> tuple[list[float], list[float]]:
    """``paired`` for coroutines, in one event loop (both clients stay bound to it)."""
    ours_out: list[float] = []
    peer_out: list[float] = []
    warmup = 20
    for i in range(warmup + n):
        steps = [(ours, ours_out), (peer, peer_out)]
        for run, out in steps if i % 2 == 0 else steps[::-1]:
            value = await run()
            if i >= warmup:
                out.append(value)
    return ours_out, peer_out


def _ainvoke(model: Any, name: str) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter()
        answer = await model.ainvoke(PROMPT)
        elapsed = (time.perf_counter() - start) * 1e3
        _check(name, answer.text)
        return elapsed

    return run


async def _first_token_async(model: Any) -> float:
    start = time.perf_counter()
    stream: AsyncIterator[Any] = model.astream(PROMPT)
    async for chunk in stream:
        if chunk.text:
            first = time.perf_counter()
            async for _ in stream:
                pass
            return (first - start) * 1e3
    raise RuntimeError("the stream carried no text")


def bench_async(counts: Counts, ours: Any, peer: Any) -> list[Row]:
    async def main() -> tuple[list[float], list[float]]:
        return await _apaired(
            counts.ainvoke, _ainvoke(ours, "ChatBlockRun"), _ainvoke(peer, "ChatOpenAI")
        )

    ours_ms, peer_ms = asyncio.run(main())
    return [Row("`ainvoke`, free model", ours_ms, peer_ms)]


# --------------------------------------------------------------------------- report


def render(rows: list[Row], counts: Counts, today: str, floor: list[float]) -> str:
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("langchain-blockrun", "langchain-core", "langchain-openai", "openai")
    )
    lines = [
        f"# LangChain benchmark, {today}",
        "",
        *environment(f"; {versions}"),
        f"- Model: {FREE_MODEL} (free: no payment) on one LocalGateway on 127.0.0.1, "
        f"max_tokens={MAX_TOKENS}, prompt {PROMPT!r}",
        f"- Samples: invoke {counts.invoke}, stream {counts.stream}, ainvoke {counts.ainvoke}; "
        "models alternated, 20 warm-up rounds discarded",
        f"- Floor: a raw httpx POST + JSON parse to the same gateway takes "
        f"{statistics.median(floor):.3f} ms (median)",
        "",
        "| measurement | ChatBlockRun median | p95 | ChatOpenAI median | p95 "
        "| ChatBlockRun / ChatOpenAI | target | met |",
        "|---|---:|---:|---:|---:|---:|---|:---:|",
    ]
    for row in rows:
        om, pm = statistics.median(row.ours), statistics.median(row.peer)
        met = "-" if row.met is None else ("yes" if row.met(om, pm) else "**no**")
        lines.append(
            f"| {row.name} | {om:.3f} ms | {p95(row.ours):.3f} ms | {pm:.3f} ms "
            f"| {p95(row.peer):.3f} ms | {om / pm:.2f} | {row.target} | {met} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; print, do not save")
    args = parser.parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()

    with gateway_process() as url:
        ours, peer = _models(url)
        ledgered, _ = _models(url, ledger=True)
        floor = _raw_httpx(url, counts.invoke)
        rows = bench_sync(counts, ours, peer, ledgered, statistics.median(floor))
        ours, peer = _models(url)  # fresh async clients for the new event loop
        rows += bench_async(counts, ours, peer)

    table = render(rows, counts, today, floor)
    publish(table, None, None if args.smoke else f"langchain-{today}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
