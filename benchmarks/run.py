"""The whole benchmark suite in one run: every comparison, one LocalGateway, one table.

Starts one LocalGateway in a child process (so its server thread does not share the
clients' GIL) and runs every comparison against it, each alternating the systems it
compares so drift falls on all of them: routing, paid calls (sync and async), throughput,
cold start, LangChain and LlamaIndex call overhead, and budget stores. Writes one markdown
table (median, p95, ours / peer, target, met; machine, Python, date, package versions) to
``benchmarks/results/suite-<date>.md`` and into ``benchmarks/README.md`` between the
``<!-- suite:begin -->`` / ``<!-- suite:end -->`` markers.

``--smoke`` runs every comparison with tiny counts and prints the table only (CI): it fails
on errors (a wrong answer, an unpaid call, a crashed worker), never on timing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bench_budget
import bench_foundation
import bench_langchain
import bench_llamaindex
import bench_router
import bench_throughput
from bench_foundation import _bench_environment, environment, publish
from gateway_process import GatewayProcess, gateway_process
from suite_table import SuiteRow, from_rows, render_rows

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
PACKAGES = (
    "langchain-blockrun",
    "llama-index-llms-blockrun",
    "langchain-core",
    "langchain-openai",
    "openai",
    "llama-index-core",
    "llama-index-llms-openai-like",
    "httpx",
    "redis",
)


@dataclass(frozen=True)
class Plan:
    """Sample counts for every comparison."""

    router: bench_router.Counts
    foundation: bench_foundation.Counts
    throughput: bench_throughput.Counts
    langchain: bench_langchain.Counts
    llamaindex: bench_llamaindex.Counts
    budget: bench_budget.Counts
    llamaindex_peer: bool  # False: OpenAILike only, no separate environment


FULL = Plan(
    router=bench_router.SUITE,
    foundation=bench_foundation.Counts(signing=500, imports=5, calls=30, cold=7),
    throughput=bench_throughput.FULL,
    langchain=bench_langchain.FULL,
    llamaindex=bench_llamaindex.SUITE,
    budget=bench_budget.SUITE,
    llamaindex_peer=True,
)
SMOKE = Plan(
    router=bench_router.SMOKE,
    foundation=bench_foundation.Counts(signing=20, imports=1, calls=2, cold=1),
    throughput=bench_throughput.SMOKE,
    langchain=bench_langchain.SMOKE,
    llamaindex=bench_llamaindex.SMOKE,
    budget=bench_budget.SMOKE,
    llamaindex_peer=False,
)


@dataclass
class Context:
    plan: Plan
    gw: GatewayProcess
    env: dict[str, str]
    peer_env: Path
    notes: list[str]


def _router(ctx: Context) -> list[SuiteRow]:
    rows, note = bench_router.suite_rows(ctx.plan.router)
    ctx.notes.append(f"- Samples, {note}")
    return rows


def _foundation(ctx: Context) -> list[SuiteRow]:
    counts = ctx.plan.foundation
    return from_rows(
        "signing and import", "blockrun-llm", bench_foundation.bench_signing(counts.signing)
    ) + from_rows(
        "signing and import",
        "blockrun-llm",
        bench_foundation.bench_imports(counts.imports, ctx.env),
    )


def _paid(ctx: Context) -> list[SuiteRow]:
    n = ctx.plan.foundation.calls
    sync = bench_foundation.bench_calls(n, ctx.gw)
    asynchronous = bench_foundation.bench_async_calls(n, ctx.gw)
    return from_rows("paid call, sync: BlockRunClient", "blockrun-llm LLMClient", sync) + from_rows(
        "paid call, async: AsyncBlockRunClient", "blockrun-llm AsyncLLMClient", asynchronous
    )


def _cold(ctx: Context) -> list[SuiteRow]:
    rows = bench_foundation.bench_cold_process(ctx.plan.foundation.cold, ctx.gw, ctx.env)
    return from_rows("cold start", "blockrun-llm", rows)


def _throughput(ctx: Context) -> list[SuiteRow]:
    return bench_throughput.suite_rows(ctx.gw, ctx.plan.throughput, ctx.env)


def _langchain(ctx: Context) -> list[SuiteRow]:
    return bench_langchain.suite_rows(ctx.gw.url, ctx.plan.langchain)


def _llamaindex(ctx: Context) -> list[SuiteRow]:
    peer = bench_llamaindex.peer_python(ctx.peer_env) if ctx.plan.llamaindex_peer else None
    return bench_llamaindex.suite_rows(ctx.gw, ctx.env, ctx.plan.llamaindex, peer)


def _budget(ctx: Context) -> list[SuiteRow]:
    rows, notes = bench_budget.suite_rows(ctx.plan.budget)
    ctx.notes += notes
    return rows


SECTIONS: dict[str, Callable[[Context], list[SuiteRow]]] = {
    "router": _router,
    "foundation": _foundation,
    "paid": _paid,
    "cold": _cold,
    "langchain": _langchain,
    "llamaindex": _llamaindex,
    "throughput": _throughput,
    "budget": _budget,
}


def _versions() -> str:
    found = []
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{name} {importlib.metadata.version(name)}")
    return ", ".join(found)


def render(rows: list[SuiteRow], ctx: Context, timings: dict[str, float], smoke: bool) -> str:
    plan = ctx.plan
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    f, t, lc, li = plan.foundation, plan.throughput, plan.langchain, plan.llamaindex
    peer = (
        f"llama-index-llms-blockrun {bench_llamaindex.PEER_VERSION} in its own venv"
        if plan.llamaindex_peer
        else "no llama-index-llms-blockrun 0.1.0 (smoke)"
    )
    lines = [
        f"Suite run of {dt.datetime.now().isoformat(timespec='minutes')}"
        + (" (**smoke**: tiny counts, timings meaningless)" if smoke else ""),
        "",
        *environment(f", {_versions()}; {peer}"),
        "- Gateway: one LocalGateway on 127.0.0.1 in its own process, shared by every "
        "comparison; round trips counted on it",
        f"- Load average after the run (1 / 5 / 15 min): {load}; time per comparison: {spent}",
        f"- Samples: signing {f.signing}, imports {f.imports}, paid-call sessions {f.calls}, "
        f"cold processes {f.cold}; throughput {t.bursts} burst(s) of {t.concurrency} per "
        f"system; LangChain invoke {lc.invoke}, stream {lc.stream}; LlamaIndex {li.calls} "
        "per row",
        *ctx.notes,
        "- `ours / peer` is the ratio of medians: below 1 is better for times, above 1 for "
        "calls per second. The p95 of calls per second is its slow tail (the 5th percentile).",
        "",
        render_rows(rows),
    ]
    return "\n".join(lines) + "\n"


def update_readme(table: str, readme: Path = README) -> None:
    """Put ``table`` between the suite markers of the README."""
    text = readme.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise RuntimeError(f"{readme} has no {BEGIN} ... {END} section")
    readme.write_text(text[: start + len(BEGIN)] + "\n" + table + text[end:])
    print(f"written to {readme}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; print only (CI)")
    parser.add_argument("--out", type=Path, help="write the table here (default: results/)")
    parser.add_argument(
        "--only",
        help=f"comma-separated comparisons to run, of: {', '.join(SECTIONS)} "
        "(the README is left alone)",
    )
    parser.add_argument(
        "--peer-env",
        type=Path,
        default=bench_llamaindex.DEFAULT_PEER_ENV,
        help="where llama-index-llms-blockrun 0.1.0's venv lives (made on first use)",
    )
    args = parser.parse_args(argv)
    selected = list(SECTIONS) if not args.only else [s.strip() for s in args.only.split(",")]
    unknown = [name for name in selected if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown comparison(s) {unknown}; choose from {list(SECTIONS)}")
    plan = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()

    rows: list[SuiteRow] = []
    timings: dict[str, float] = {}
    with _bench_environment() as env, gateway_process(env) as gw:
        ctx = Context(plan, gw, env, args.peer_env.resolve(), [])
        for name in selected:
            print(f"==> {name}", file=sys.stderr, flush=True)
            start = time.perf_counter()
            rows += SECTIONS[name](ctx)
            timings[name] = time.perf_counter() - start
        table = render(rows, ctx, timings, args.smoke)

    publish(table, args.out, None if args.smoke else f"suite-{today}")
    if not args.smoke and not args.only:
        update_readme(table)
    print(f"total {sum(timings.values()):.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
