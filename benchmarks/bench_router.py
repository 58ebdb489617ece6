"""Router benchmark: blockrun-core's ``route()`` against blockrun-llm 1.21.1's router.

Times one routing decision, side by side and alternating the two systems on every
sample so drift cancels, on the evaluation-set prompts (``evaluation/router_prompts.jsonl``,
or a built-in sample when it is missing) and on synthetic 4,000- and 40,000-character
prompts made of them. Both route over the same catalog (ours, converted to the pricing
map blockrun-llm builds from ``/v1/models``). A second table splits our time between the
classifier and the rest. Prints markdown and writes it to
``benchmarks/results/router-<date>.md`` (``--smoke``: tiny counts, print only).

Timings are reported, never asserted: the run fails only on errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_foundation import environment, paired, publish
from suite_table import SuiteRow, p95

ROOT = Path(__file__).resolve().parents[1]
EVAL_SET = ROOT / "evaluation" / "router_prompts.jsonl"
PROFILE = "auto"
MAX_TOKENS = 1024
TOOL = {
    "type": "function",
    "function": {
        "name": "search_orders",
        "description": "Find a customer's orders.",
        "parameters": {"type": "object", "properties": {"customer": {"type": "string"}}},
    },
}
SAMPLE_PROMPTS = (
    "hi there! how's your day going?",
    "What is the capital of Australia?",
    "Translate 'Where is the train station?' into Italian.",
    "Summarise the plot of Hamlet in three sentences.",
    "Write a Python function that merges two sorted lists, with unit tests.",
    "Explain the CAP theorem and how it applies to a multi-region Postgres setup.",
    "Design a rate limiter for a public API serving 50k requests per second.",
    "Prove that there are infinitely many primes, step by step.",
    "Refactor this: def f(x): return [i*i for i in range(x) if i % 2 == 0]",
    "Compare Kafka and RabbitMQ for an event-sourced order pipeline; list trade-offs.",
)


@dataclass(frozen=True)
class Counts:
    per_prompt: int  # samples per evaluation prompt
    synthetic: int  # samples per synthetic prompt size


FULL = Counts(per_prompt=100, synthetic=400)
SMOKE = Counts(per_prompt=2, synthetic=3)


Message = dict[str, Any]
Tools = list[dict[str, Any]] | None
Request = tuple[list[Message], Tools, dict[str, Any] | None]  # messages, tools, response_format


@dataclass
class Row:
    name: str
    ours: list[float]  # microseconds per decision
    peer: list[float]
    budget_us: float | None = None  # ours median must stay under this
    speedup: float | None = None  # ... and be this many times faster than the peer


# --------------------------------------------------------------------------- workloads


def eval_prompts() -> tuple[list[dict[str, Any]], str]:
    """The evaluation-set rows (``prompt``, ``lang``), or the built-in sample."""
    if not EVAL_SET.exists():
        return [{"prompt": p, "lang": "en"} for p in SAMPLE_PROMPTS], "built-in sample"
    rows = []
    for line in EVAL_SET.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else None
        if isinstance(row, dict) and isinstance(row.get("prompt"), str):
            rows.append(row)
    return rows, str(EVAL_SET.relative_to(ROOT))


def synthetic(prompts: Sequence[str], chars: int, seed: int) -> str:
    """``chars`` characters of text: ``prompts`` drawn at random (seeded), one per paragraph."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    size = 0
    while size < chars:
        paragraphs.append(rng.choice(prompts))
        size += len(paragraphs[-1]) + 2
    return "\n\n".join(paragraphs)[:chars]


def request_of(row: dict[str, Any]) -> Request:
    """A row of the evaluation set as a request (see ``evaluation/README.md``, Format)."""
    messages: list[Message] = []
    if isinstance(row.get("system"), str):
        messages.append({"role": "system", "content": row["system"]})
    messages += [dict(turn) for turn in row.get("history") or ()]
    content: Any = row["prompt"]
    if row.get("image"):
        content = [
            {"type": "text", "text": content},
            {"type": "image_url", "image_url": {"url": "https://example.com/photo.jpg"}},
        ]
    messages.append({"role": "user", "content": content})
    tools = [TOOL] if row.get("tools") else None
    return messages, tools, {"type": "json_object"} if row.get("json") else None


# --------------------------------------------------------------------------- the two routers


def our_router() -> Callable[[Request], str]:
    """Our per-call routing, as the client asks for it (imported once, like the peer's)."""
    from blockrun_core.router import route

    def ours(request: Request) -> str:
        messages, tools, response_format = request
        return route(
            messages,
            profile=PROFILE,
            tools=tools,
            response_format=response_format,
            max_tokens=MAX_TOKENS,
        ).model

    return ours


def peer_router() -> Callable[[Request], str]:
    """blockrun-llm's per-call routing, as ``smart_chat_completion`` runs it."""
    from blockrun_core.catalog import default_catalog
    from blockrun_llm.router_adapter import (
        BASE_MINIMUM_PAYMENT_USD,
        build_model_pricing,
        route_with_catalog,
        routing_text,
    )

    pricing = build_model_pricing(default_catalog().to_models_response()["data"])

    def peer(request: Request) -> str:
        messages, tools, response_format = request
        view = routing_text(messages)
        decision = route_with_catalog(
            view["prompt"],
            view["system_prompt"],
            MAX_TOKENS,
            pricing,
            routing_profile=PROFILE,
            requires_structured_output=response_format is not None,
            tools=tools,
            conversation_chars=view["conversation_chars"],
            has_vision=view["has_vision"],
            minimum_payment_usd=BASE_MINIMUM_PAYMENT_USD,
        )
        return str(decision["model"])

    return peer


def timed_us(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e3


def measure(
    name: str,
    requests: Sequence[Request],
    samples: int,
    ours: Callable[[Request], str],
    peer: Callable[[Request], str],
    **target: Any,
) -> Row:
    """``samples`` alternated decisions per request, after a discarded warm-up each."""
    row = Row(name, [], [], **target)
    for request in requests:
        # Both must decide something before they are timed.
        if not ours(request) or not peer(request):
            raise RuntimeError(f"a router returned no model for {name}")
        a, b = paired(
            samples,
            lambda r=request: timed_us(lambda: ours(r)),
            lambda r=request: timed_us(lambda: peer(r)),
            warmup=2,
        )
        row.ours += a
        row.peer += b
    return row


def _target(budget_us: float | None = None) -> dict[str, Any]:
    """Every workload must be 20x faster than the peer; some also have a time budget."""
    return {"budget_us": budget_us, "speedup": 20.0}


def bench(counts: Counts, *, breakdown: bool = True) -> tuple[list[Row], list[Row], str, int]:
    """The comparison rows, and the breakdown rows (route() against classify() alone)."""
    rows, source = eval_prompts()
    ours, peer = our_router(), peer_router()
    prompts = [row["prompt"] for row in rows]
    english = [row["prompt"] for row in rows if row.get("lang", "en") == "en"]
    short = [request_of(row) for row in rows if len(row["prompt"]) < 500]
    with_tool = [(messages, [TOOL], fmt) for messages, _, fmt in short[:20]]
    workloads: list[tuple[str, list[Request], int, dict[str, Any]]] = [
        ("eval requests, prompt < 500 chars", short, counts.per_prompt, _target(30)),
        ("the first 20 of them + a tool", with_tool, counts.per_prompt, _target()),
    ]
    for chars, budget in ((4_000, None), (40_000, 300.0)):
        for label, pool in (("English", english), ("multilingual", prompts)):
            text = synthetic(pool, chars, seed=chars)
            workloads.append(
                (
                    f"{chars:,} chars, {label} (eval prompts as paragraphs)",
                    [([{"role": "user", "content": text}], None, None)],
                    counts.synthetic,
                    _target(budget),
                )
            )
    compared = [measure(name, reqs, n, ours, peer, **target) for name, reqs, n, target in workloads]
    split = [breakdown_row(name, reqs, n, ours) for name, reqs, n, _ in workloads if breakdown]
    return compared, split, source, len(short)


SUITE = Counts(per_prompt=20, synthetic=150)


def suite_rows(counts: Counts) -> tuple[list[SuiteRow], str]:
    """The comparison rows for ``run.py`` (no breakdown), and a note on the requests."""
    rows, _, source, n_short = bench(counts, breakdown=False)
    note = (
        f"router: {source}, the {n_short} requests whose prompt is under 500 chars, "
        f"{counts.per_prompt} samples each; long prompts {counts.synthetic} samples each"
    )
    out = []
    for row in rows:
        target = f"ours <= {row.budget_us:g} µs" if row.budget_us is not None else "-"
        out.append(
            SuiteRow(
                "routing decision",
                row.name,
                "µs",
                row.ours,
                row.peer,
                "blockrun-llm router",
                "ours <= 1/20 of peer" + (f"; {target}" if row.budget_us is not None else ""),
                _router_met(row),
            )
        )
    return out, note


def _router_met(row: Row) -> Callable[[float, float], bool]:
    budget = row.budget_us

    def met(ours: float, peer: float) -> bool:
        return ours * 20 <= peer and (budget is None or ours <= budget)

    return met


def breakdown_row(
    name: str, requests: Sequence[Request], samples: int, ours: Callable[[Request], str]
) -> Row:
    """Ours only: the whole ``route()`` (as ``ours``) against ``classify()`` alone."""
    from blockrun_core.router import RouteRequest, classify

    row = Row(name, [], [])
    for request in requests:
        messages, tools, response_format = request
        classified = RouteRequest(messages, tools, None, response_format, MAX_TOKENS)
        a, b = paired(
            samples,
            lambda r=request: timed_us(lambda: ours(r)),
            lambda c=classified: timed_us(lambda: classify(c)),
            warmup=2,
        )
        row.ours += a
        row.peer += b
    return row


# --------------------------------------------------------------------------- report


def _met(ok: bool, what: str) -> str:
    return f"yes ({what})" if ok else f"**no** ({what})"


def render(
    rows: list[Row], breakdown: list[Row], counts: Counts, source: str, n_short: int, today: str
) -> str:
    lines = [
        f"# Router benchmark, {today}",
        "",
        *environment(),
        f"- Requests: {source}, the {n_short} whose prompt is under 500 chars, built as its "
        "README says (system, history, image, tools, JSON); 4,000- and 40,000-char prompts "
        "made of its prompts as paragraphs (English ones only, and all languages)",
        f"- Samples: {counts.per_prompt} per evaluation prompt, {counts.synthetic} per long "
        f"prompt; profile {PROFILE!r}, max_tokens {MAX_TOKENS}; systems alternated per sample; "
        "one decision per sample, GC on",
        "- Ours: `blockrun_core.router.route(messages, ...)`. Peer: `routing_text(messages)` + "
        "`route_with_catalog(...)`, as `LLMClient.smart_chat_completion` runs them, over the "
        "same catalog (ours, as the pricing map blockrun-llm builds from `/v1/models`)",
        "",
        "| workload | ours median | ours p95 | blockrun-llm median | blockrun-llm p95 "
        "| ours / peer | time budget met | 20x faster met |",
        "|---|---:|---:|---:|---:|---:|:---:|:---:|",
    ]
    for row in rows:
        om, pm = statistics.median(row.ours), statistics.median(row.peer)
        budget = (
            "-" if row.budget_us is None else _met(om <= row.budget_us, f"<= {row.budget_us:g} µs")
        )
        speedup = "-" if row.speedup is None else _met(pm >= row.speedup * om, f"{pm / om:.1f}x")
        lines.append(
            f"| {row.name} | {om:.1f} µs | {p95(row.ours):.1f} µs | {pm:.1f} µs "
            f"| {p95(row.peer):.1f} µs | {om / pm:.3f} | {budget} | {speedup} |"
        )
    lines += [
        "",
        "Where our time goes: the whole `route()` against `classify()` alone (medians).",
        "",
        "| workload | route() | classify() | the rest of route() |",
        "|---|---:|---:|---:|",
    ]
    for row in breakdown:
        whole, classify = statistics.median(row.ours), statistics.median(row.peer)
        lines.append(
            f"| {row.name} | {whole:.1f} µs | {classify:.1f} µs | {whole - classify:.1f} µs |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; print, do not save")
    parser.add_argument("--out", type=Path, help="write the table here (default: results/)")
    args = parser.parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()

    rows, breakdown, source, n_short = bench(counts)
    table = render(rows, breakdown, counts, source, n_short, today)
    publish(table, args.out, None if args.smoke else f"router-{today}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
