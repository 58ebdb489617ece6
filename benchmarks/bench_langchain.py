"""LangChain benchmark: ChatBlockRun against langchain-openai's ChatOpenAI and raw httpx.

All three talk to the same free model on one LocalGateway (no payment, so only the client
stacks differ), rotating on every sample so drift cancels: ``invoke`` / ``ainvoke`` wall
time and ``stream`` / ``astream`` time to first token. Raw httpx (one POST and a JSON parse,
or an SSE read up to the first content delta) is the floor no client can beat. The gateway
runs in a child process, as a real gateway runs elsewhere: in this process its server
thread would compete with the clients for the GIL. ChatBlockRun runs with its usage ledger
off (ChatOpenAI keeps none); one more row shows the default, where every call waits for its
ledger row to be committed. Prints a markdown table and writes it to
``benchmarks/results/langchain-<date>.md`` (``--smoke``: tiny counts, print only).

Timings are reported, never asserted: the run fails only on errors (a wrong answer).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench_foundation import _bench_environment, environment, publish, rotated
from gateway_process import gateway_process
from suite_table import SuiteRow, render_rows

FREE_MODEL = "nvidia/gpt-oss-120b"
PROMPT = "Write a story about a cat."
EXPECTED = f"Echo: {PROMPT}"
MAX_TOKENS = 64
SECTION = "free-model call overhead (LangChain)"


@dataclass(frozen=True)
class Counts:
    invoke: int
    stream: int
    warmup: int  # rounds discarded before each series


FULL = Counts(invoke=150, stream=100, warmup=20)
SMOKE = Counts(invoke=5, stream=5, warmup=2)


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


def _body(stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": FREE_MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": MAX_TOKENS,
    }
    if stream:
        body["stream"] = True
    return body


def _delta(line: str) -> str:
    """The content delta of one SSE line ('' for anything else)."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return ""
    choices = json.loads(line[6:]).get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


# --------------------------------------------------------------------------- sync


def _invoke(model: Any, name: str) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        answer = model.invoke(PROMPT)
        elapsed = (time.perf_counter() - start) * 1e3
        _check(name, answer.text)
        return elapsed

    return run


def _first_token(model: Any, name: str) -> Callable[[], float]:
    """Time to the first non-empty text chunk, in ms (the stream is read to its end)."""

    def run() -> float:
        start = time.perf_counter()
        first: float | None = None
        chunks: Iterator[Any] = model.stream(PROMPT)
        text = []
        for chunk in chunks:
            if first is None and chunk.text:
                first = time.perf_counter()
            text.append(chunk.text)
        _check(name, "".join(text))
        assert first is not None
        return (first - start) * 1e3

    return run


def _raw_invoke(client: Any, api_url: str) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        answer = client.post(api_url + "/v1/chat/completions", json=_body(False)).json()
        elapsed = (time.perf_counter() - start) * 1e3
        _check("raw httpx", answer["choices"][0]["message"]["content"])
        return elapsed

    return run


def _raw_first_token(client: Any, api_url: str) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        first: float | None = None
        text = []
        with client.stream("POST", api_url + "/v1/chat/completions", json=_body(True)) as reply:
            for line in reply.iter_lines():
                delta = _delta(line)
                if first is None and delta:
                    first = time.perf_counter()
                text.append(delta)
        _check("raw httpx", "".join(text))
        assert first is not None
        return (first - start) * 1e3

    return run


def bench_sync(counts: Counts, api_url: str) -> list[SuiteRow]:
    import httpx

    ours, peer = _models(api_url)
    ledgered, _ = _models(api_url, ledger=True)
    with httpx.Client() as raw:
        invoke = rotated(
            counts.invoke,
            [_invoke(ours, "ChatBlockRun"), _invoke(peer, "ChatOpenAI"), _raw_invoke(raw, api_url)],
            warmup=counts.warmup,
        )
        ledger = rotated(
            counts.invoke,
            [_invoke(ledgered, "ChatBlockRun"), _invoke(peer, "ChatOpenAI")],
            warmup=counts.warmup,
        )
        first = rotated(
            counts.stream,
            [
                _first_token(ours, "ChatBlockRun"),
                _first_token(peer, "ChatOpenAI"),
                _raw_first_token(raw, api_url),
            ],
            warmup=counts.warmup,
        )
    return [
        *_three_way("sync `invoke`", invoke, "ours <= 1/2 of ChatOpenAI", _half),
        *_three_way("sync `stream`, time to first token", first, "ours <= ChatOpenAI", _no_slower),
        SuiteRow(
            SECTION,
            "sync `invoke`, usage ledger on (the default)",
            "ms",
            ledger[0],
            ledger[1],
            "ChatOpenAI",
        ),
    ]


# --------------------------------------------------------------------------- async


async def _arotated(
    n: int, runs: list[Callable[[], Awaitable[float]]], warmup: int
) -> list[list[float]]:
    """``rotated`` for coroutines, in one event loop (every client stays bound to it)."""
    out: list[list[float]] = [[] for _ in runs]
    for i in range(warmup + n):
        shift = i % len(runs)
        for k in [*range(shift, len(runs)), *range(shift)]:
            value = await runs[k]()
            if i >= warmup:
                out[k].append(value)
    return out


def _ainvoke(model: Any, name: str) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter()
        answer = await model.ainvoke(PROMPT)
        elapsed = (time.perf_counter() - start) * 1e3
        _check(name, answer.text)
        return elapsed

    return run


def _afirst_token(model: Any, name: str) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter()
        first: float | None = None
        text = []
        chunks: AsyncIterator[Any] = model.astream(PROMPT)
        async for chunk in chunks:
            if first is None and chunk.text:
                first = time.perf_counter()
            text.append(chunk.text)
        _check(name, "".join(text))
        assert first is not None
        return (first - start) * 1e3

    return run


def _araw_invoke(client: Any, api_url: str) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter()
        reply = await client.post(api_url + "/v1/chat/completions", json=_body(False))
        answer = reply.json()
        elapsed = (time.perf_counter() - start) * 1e3
        _check("raw httpx", answer["choices"][0]["message"]["content"])
        return elapsed

    return run


def _araw_first_token(client: Any, api_url: str) -> Callable[[], Awaitable[float]]:
    async def run() -> float:
        start = time.perf_counter()
        first: float | None = None
        text = []
        async with client.stream(
            "POST", api_url + "/v1/chat/completions", json=_body(True)
        ) as reply:
            async for line in reply.aiter_lines():
                delta = _delta(line)
                if first is None and delta:
                    first = time.perf_counter()
                text.append(delta)
        _check("raw httpx", "".join(text))
        assert first is not None
        return (first - start) * 1e3

    return run


def bench_async(counts: Counts, api_url: str) -> list[SuiteRow]:
    import httpx

    async def main() -> tuple[list[list[float]], list[list[float]]]:
        ours, peer = _models(api_url)  # fresh clients, bound to this event loop
        async with httpx.AsyncClient() as raw:
            invoke = await _arotated(
                counts.invoke,
                [
                    _ainvoke(ours, "ChatBlockRun"),
                    _ainvoke(peer, "ChatOpenAI"),
                    _araw_invoke(raw, api_url),
                ],
                counts.warmup,
            )
            first = await _arotated(
                counts.stream,
                [
                    _afirst_token(ours, "ChatBlockRun"),
                    _afirst_token(peer, "ChatOpenAI"),
                    _araw_first_token(raw, api_url),
                ],
                counts.warmup,
            )
        return invoke, first

    invoke, first = asyncio.run(main())
    return [
        *_three_way("async `ainvoke`", invoke, "ours <= 1/2 of ChatOpenAI", _half),
        *_three_way(
            "async `astream`, time to first token", first, "ours <= ChatOpenAI", _no_slower
        ),
    ]


# --------------------------------------------------------------------------- rows


def _half(ours: float, peer: float) -> bool:
    return ours <= peer / 2


def _no_slower(ours: float, peer: float) -> bool:
    return ours <= peer


def _three_way(
    name: str, samples: list[list[float]], target: str, met: Callable[[float, float], bool]
) -> list[SuiteRow]:
    """ChatBlockRun against ChatOpenAI (judged) and against raw httpx (the floor)."""
    ours, peer, raw = samples
    return [
        SuiteRow(SECTION, name, "ms", ours, peer, "ChatOpenAI", target, met),
        SuiteRow(SECTION, f"{name}, against the floor", "ms", ours, raw, "raw httpx"),
    ]


def suite_rows(api_url: str, counts: Counts) -> list[SuiteRow]:
    """Every LangChain row against the gateway at ``api_url``: sync, then async."""
    return bench_sync(counts, api_url) + bench_async(counts, api_url)


def render(rows: list[SuiteRow], counts: Counts, today: str) -> str:
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("langchain-blockrun", "langchain-core", "langchain-openai", "openai", "httpx")
    )
    lines = [
        f"# LangChain benchmark, {today}",
        "",
        *environment(f"; {versions}"),
        f"- Model: {FREE_MODEL} (free: no payment) on one LocalGateway on 127.0.0.1 (its own "
        f"process), max_tokens={MAX_TOKENS}, prompt {PROMPT!r}",
        f"- Samples: invoke {counts.invoke}, stream {counts.stream}; systems rotated, "
        f"{counts.warmup} warm-up rounds discarded",
        "",
        render_rows(rows),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; print, do not save")
    args = parser.parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()

    with _bench_environment() as env, gateway_process(env) as gw:
        rows = suite_rows(gw.url, counts)

    publish(render(rows, counts, today), None, None if args.smoke else f"langchain-{today}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
