"""Throughput benchmark: many concurrent async paid calls on one client, ours vs blockrun-llm.

``AsyncBlockRunClient`` against blockrun-llm 1.21.1's ``AsyncLLMClient``, one client each, as
a user would build it (default connection pools), firing a burst of concurrent paid calls
(``asyncio.gather``) at one LocalGateway running in its own process. Each burst runs in a
fresh child process of its own, so its memory figure is clean; the systems alternate
between bursts. Per burst: calls per second over the whole burst, and the peak resident
memory the burst added (``VmHWM`` after it minus ``VmRSS`` before it, after a warm-up
burst), and the client's CPU time per call (which the gateway's speed does not cap).
Prints a markdown table and writes it to ``benchmarks/results/throughput-<date>.md``
(``--smoke``: tiny counts, print only).

Timings are reported, never asserted: the run fails only on errors (a failed or unpaid call).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench_foundation import (
    HARDHAT_KEY,
    MAX_TOKENS,
    PAID_MODEL,
    _bench_environment,
    environment,
    paired,
    publish,
)
from gateway_process import GatewayProcess, gateway_process
from suite_table import SuiteRow, render_rows


@dataclass(frozen=True)
class Counts:
    concurrency: int  # calls per measured burst
    warmup: int  # calls in the warm-up burst before it
    bursts: int  # measured bursts (child processes) per system


FULL = Counts(concurrency=500, warmup=50, bursts=3)
SMOKE = Counts(concurrency=20, warmup=5, bursts=1)

# One burst in a fresh interpreter. Prints one JSON line: calls per second, CPU, memory.
_BURST = r"""
import asyncio, json, sys, time
impl, url, key, model, max_tokens, n, warmup = sys.argv[1:8]
n, warmup, max_tokens = int(n), int(warmup), int(max_tokens)
messages = [{"role": "user", "content": "What is 2 + 2?"}]

def rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)

if impl == "ours":
    from blockrun_core import AsyncBlockRunClient
    client = AsyncBlockRunClient(api_url=url, wallet_key=key)
    async def call():
        result = await client.chat(model=model, messages=messages, max_tokens=max_tokens)
        if result.content.strip() != "4" or not result.cost_usd:
            raise RuntimeError(f"unexpected answer {result!r}")
    close = client.aclose
else:
    from blockrun_llm import AsyncLLMClient
    client = AsyncLLMClient(private_key=key, api_url=url)
    async def call():
        response = await client.chat_completion(model, messages, max_tokens=max_tokens)
        if response.choices[0].message.content.strip() != "4" or not response.cost_usd:
            raise RuntimeError(f"unexpected answer {response!r}")
    close = client.close

async def main():
    await call()
    await asyncio.gather(*(call() for _ in range(warmup)))
    before = rss_kib("VmRSS")
    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(call() for _ in range(n)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = rss_kib("VmHWM")
    await close()
    print(json.dumps({
        "calls_per_s": n / elapsed,
        "cpu_ms_per_call": cpu * 1e3 / n,
        "peak_mib": max(0, peak - before) / 1024,
    }))

asyncio.run(main())
"""


def _burst(impl: str, gw: GatewayProcess, counts: Counts, env: dict[str, str]) -> dict[str, float]:
    args = [
        sys.executable,
        "-c",
        _BURST,
        impl,
        gw.url,
        HARDHAT_KEY,
        PAID_MODEL,
        str(MAX_TOKENS),
        str(counts.concurrency),
        str(counts.warmup),
    ]
    paid_before = gw.payment_count()
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the {impl} burst failed:\n{out.stderr}")
    paid = gw.payment_count() - paid_before
    expected = 1 + counts.warmup + counts.concurrency
    if paid != expected:
        raise RuntimeError(f"the {impl} burst settled {paid} payments, expected {expected}")
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def suite_rows(gw: GatewayProcess, counts: Counts, env: dict[str, str]) -> list[SuiteRow]:
    """Alternating bursts of ours and blockrun-llm's: calls per second, CPU and memory."""

    def burst(impl: str) -> Callable[[], dict[str, float]]:
        return lambda: _burst(impl, gw, counts, env)

    ours, peer = paired(counts.bursts, burst("ours"), burst("peer"), warmup=0)
    section = f"throughput, {counts.concurrency} concurrent async paid calls, one client"
    label = "blockrun-llm AsyncLLMClient"

    def figure(rows: list[dict[str, float]], key: str) -> list[float]:
        return [row[key] for row in rows]

    return [
        SuiteRow(
            section,
            "calls per second",
            "calls/s",
            figure(ours, "calls_per_s"),
            figure(peer, "calls_per_s"),
            label,
            "ours >= 3x peer",
            lambda o, p: o >= 3 * p,
            higher_is_better=True,
        ),
        SuiteRow(
            section,
            "client CPU time per call (this process, all threads)",
            "ms",
            figure(ours, "cpu_ms_per_call"),
            figure(peer, "cpu_ms_per_call"),
            label,
        ),
        SuiteRow(
            section,
            "peak resident memory added by the burst",
            "MiB",
            figure(ours, "peak_mib"),
            figure(peer, "peak_mib"),
            label,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; print, do not save")
    args = parser.parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()
    with _bench_environment() as env, gateway_process(env) as gw:
        rows = suite_rows(gw, counts, env)
    lines = [
        f"# Throughput benchmark, {today}",
        "",
        *environment("; one LocalGateway on 127.0.0.1 in its own process"),
        f"- Samples: {counts.bursts} burst(s) of {counts.concurrency} concurrent paid calls "
        f"per system, each in a fresh process after a warm-up burst of {counts.warmup}; "
        "systems alternated",
        "",
        render_rows(rows),
    ]
    publish("\n".join(lines) + "\n", None, None if args.smoke else f"throughput-{today}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
