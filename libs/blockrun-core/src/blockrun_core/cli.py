"""The ``blockrun`` command: a demo, a local gateway, the catalog, routing, usage, wallet tools.

Only argparse and the error tree are imported up front so ``blockrun --help`` stays fast;
each command imports what it needs. Output is plain text, tables aligned by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import BlockRunError, ConfigurationError, UpstreamError

if TYPE_CHECKING:
    from .catalog import ModelInfo
    from .ledger import Bucket, StatsRow
    from .router import RoutingDecision
    from .wire import Usage
    from .x402 import PaymentReceipt

__all__ = ["main"]

FREE_MODEL = "nvidia/gpt-oss-120b"
PAID_MODEL = "openai/gpt-4o-mini"
DEMO_CAP_USD = 0.05


# --------------------------------------------------------------------------- output


class Output:
    """Writes lines, aligned tables and stream text to stdout."""

    def line(self, text: str = "") -> None:
        print(text, flush=True)

    def write(self, text: str) -> None:
        """Text without a newline (stream deltas)."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        *,
        right: Sequence[bool] = (),
        footer: Sequence[str] | None = None,
    ) -> None:
        """Columns padded to their widest cell, under a rule.

        ``right`` marks the right-aligned columns; a ``footer`` row (totals) goes under a
        second rule.
        """
        body = [*rows, footer] if footer is not None else list(rows)
        widths = [max(len(str(c)) for c in col) for col in zip(headers, *body, strict=True)]
        flags = [*right, *([False] * (len(widths) - len(right)))]
        rule = ["-" * w for w in widths]
        lines = [headers, rule, *rows, *([rule, footer] if footer is not None else [])]
        for cells in lines:
            padded = (
                c.rjust(w) if r else c.ljust(w)
                for c, w, r in zip(cells, widths, flags, strict=True)
            )
            print("  ".join(padded).rstrip())


def _note(text: str) -> None:
    """Information that is not the command's result goes to stderr."""
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- demo


def _usd(amount: float) -> str:
    return f"${amount:.6f}"


def _throwaway_key() -> str:
    """A random wallet key that lives only in this process: never written, never printed."""
    import secrets

    return "0x" + secrets.token_hex(32)


def _cmd_demo(args: argparse.Namespace, out: Output) -> int:
    from . import BlockRunClient, PaymentPolicy
    from .signing import WalletSigner
    from .testing import LocalGateway

    key = _throwaway_key()
    address = WalletSigner(key).address

    out.line("BlockRun demo: a local gateway, a throwaway wallet, real x402 signatures")
    with LocalGateway() as gw:
        out.line(f"gateway   {gw.url}")
        out.line(f"wallet    {address} (in memory only)")
        out.line(f"cap       {_usd(DEMO_CAP_USD)} per call (PaymentPolicy)")
        out.line("model     the gateway's deterministic fake: arithmetic, else an echo")
        policy = PaymentPolicy(max_per_call_usd=DEMO_CAP_USD)
        spent: list[int] = []  # micro-USDC per payment
        with BlockRunClient(api_url=gw.url, wallet_key=key, payment_policy=policy) as client:
            messages: list[dict[str, Any]] = []
            for model, prompt in (
                (FREE_MODEL, "What is 12 * 7?"),
                (PAID_MODEL, "What is 84 + 16?"),
            ):
                messages.append({"role": "user", "content": prompt})
                result = client.chat(model=model, messages=messages, max_tokens=64)
                messages.append({"role": "assistant", "content": result.content})
                out.line()
                out.line(f"> {prompt}")
                out.line(result.content)
                _describe(out, result.model, result.usage, result.cost_usd, result.receipt)
                if result.payment is not None:
                    spent.append(result.payment.amount_micros)

            prompt = "Stream this sentence back, please."
            out.line()
            out.line(f"> {prompt}  (streamed, {PAID_MODEL})")
            stream = client.stream(
                model=PAID_MODEL,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=64,
            )
            last = None
            usage = None
            for chunk in stream:
                out.write(chunk.delta)
                usage = chunk.usage or usage
                last = chunk
            out.line()
            if last is None:
                raise UpstreamError(f"{PAID_MODEL}: the stream was empty.", status_code=200)
            _describe(out, last.model, usage, last.cost_usd, last.receipt)
            if last.cost_usd:
                spent.append(round(last.cost_usd * 1_000_000))

        recorded = [p.amount_micros for p in gw.payments]
        out.line()
        out.line(f"you paid          {_usd(sum(spent) / 1e6)} in {len(spent)} payments")
        out.line(f"gateway recorded  {_usd(sum(recorded) / 1e6)} in {len(recorded)} payments")
        if sorted(spent) != sorted(recorded):
            out.line("MISMATCH between what was paid and what the gateway recorded.")
            return 1
        out.line("they agree.")
    return 0


def _describe(
    out: Output,
    model: str,
    usage: Usage | None,
    cost_usd: float | None,
    receipt: PaymentReceipt | None,
) -> None:
    tokens = f"{usage.prompt_tokens} in / {usage.completion_tokens} out" if usage else "?"
    cost = _usd(cost_usd) if cost_usd else "free"
    out.line(f"  model {model}  tokens {tokens}  cost {cost}")
    if receipt is not None:
        out.line(
            f"  receipt tx {receipt.transaction}  network {receipt.network}  payer {receipt.payer}"
        )


# --------------------------------------------------------------------------- gateway


def _wait_forever() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM."""
    import signal
    import threading

    def interrupt(signum: int, frame: object) -> NoReturn:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    threading.Event().wait()


def _cmd_gateway(args: argparse.Namespace, out: Output) -> int:
    from .testing import LocalGateway

    gateway = LocalGateway(host=args.host, port=args.port)
    try:
        gateway.start()
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}."
        ) from None
    with gateway as gw:
        out.line(f"BlockRun local gateway on {gw.url}")
        out.line(f"api_url      {gw.url}   (x402: any wallet key, fake balances)")
        out.line(f"account url  {gw.account_url}   (brk_ account rail)")
        out.line(f"account key  {gw.api_key}")
        out.line(f"try          BLOCKRUN_API_URL={gw.url} python your_script.py")
        out.line("Ctrl-C to stop.")
        try:
            _wait_forever()
        except KeyboardInterrupt:
            out.line("stopped.")
    return 0


# --------------------------------------------------------------------------- models


def _pricing(model: ModelInfo) -> str:
    if model.is_free:
        return "free"
    if model.flat_price is not None:
        return f"${model.flat_price:g} / call"
    return f"${model.input_price:g} in, ${model.output_price:g} out / 1M"


def _capabilities(model: ModelInfo) -> str:
    flags = (
        ("tools", model.supports_tools),
        ("vision", model.supports_vision),
        ("reasoning", model.supports_reasoning),
        ("json", model.supports_structured_output),
    )
    return ", ".join(name for name, on in flags if on) or "-"


def _cmd_models(args: argparse.Namespace, out: Output) -> int:
    from .catalog import default_catalog

    models = default_catalog().models()
    rows = [[m.id, _pricing(m), f"{m.context_window:,}", _capabilities(m)] for m in models]
    out.table(["model", "pricing (USD)", "context", "capabilities"], rows)
    return 0


# --------------------------------------------------------------------------- route

# A sample tool and image for --tools/--image: routing reads only that they are present.
_ROUTE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}
_ROUTE_IMAGE = "data:image/png;base64,iVBORw0KGgo="
_JSONL_FIELDS = (
    "tier",
    "model",
    "confidence",
    "signals",
    "candidates",
    "estimated_cost_usd",
    "baseline_cost_usd",
    "savings",
)


def _route_one(args: argparse.Namespace, prompt: str) -> RoutingDecision:
    from .router import route

    content: Any = prompt
    if args.image:
        content = [
            {"type": "text", "text": prompt},
            {"type": "image_url", "image_url": {"url": _ROUTE_IMAGE}},
        ]
    return route(
        [{"role": "user", "content": content}],
        profile=args.profile,
        tools=[_ROUTE_TOOL] if args.tools else None,
        response_format={"type": "json_object"} if args.json_output else None,
        max_tokens=args.max_tokens,
    )


def _explain(out: Output, decision: RoutingDecision) -> None:
    from .router import BASELINE_MODEL

    table = "agentic (the request carries tools)" if decision.agentic else "standard"
    cost = decision.estimated_cost_usd
    rows = [
        ("profile", f"{decision.profile}, {table} table"),
        ("tier", f"{decision.tier} (confidence {decision.confidence:.2f})"),
        ("signals", "; ".join(decision.signals) or "-"),
        ("model", decision.model),
        *(
            ("chain" if i == 1 else "", f"{i}. {model}")
            for i, model in enumerate(decision.candidates, 1)
        ),
        ("cost", f"{_usd(decision.estimated_cost_usd)} estimated" if cost else "free"),
        ("baseline", f"{_usd(decision.baseline_cost_usd)} on {BASELINE_MODEL}"),
        ("savings", f"{decision.savings:.1%}"),
        *(
            ("excluded" if i == 0 else "", f"{model}: {reason}")
            for i, (model, reason) in enumerate(decision.excluded)
        ),
    ]
    if not decision.excluded:
        rows.append(("excluded", "-"))
    for label, value in rows:
        out.line(f"{label:<10}{value}".rstrip())


def _route_jsonl(args: argparse.Namespace, out: Output) -> int:
    import json

    from .errors import NoCapableModelError

    path: str = args.jsonl
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    failed = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise ConfigurationError(
                f"{path}:{number}: expected a JSON object with a string 'prompt'."
            )
        row: dict[str, Any] = {"id": item.get("id", number)}
        try:
            decision = _route_one(args, item["prompt"]).to_dict()
        except NoCapableModelError as exc:
            failed += 1
            row["error"] = exc.message
        else:
            row.update((key, decision[key]) for key in _JSONL_FIELDS)
        out.line(json.dumps(row, ensure_ascii=False))
    return 1 if failed else 0


def _cmd_route(args: argparse.Namespace, out: Output) -> int:
    if args.eval is not None:
        from .router.evaluate import main as evaluate

        split = ["--split", args.split] if args.split else []
        return evaluate([args.eval, *split, *(["--misses"] if args.misses else [])])
    if args.split is not None or args.misses:
        raise ConfigurationError("--split and --misses go with --eval FILE.")
    if args.jsonl is not None:
        return _route_jsonl(args, out)
    if args.prompt is None:
        return _usage(args.route_parser)
    decision = _route_one(args, args.prompt)
    if args.json:
        import json

        out.line(json.dumps(decision.to_dict(), ensure_ascii=False))
    else:
        _explain(out, decision)
    return 0


# --------------------------------------------------------------------------- wallet


def _cmd_wallet_new(args: argparse.Namespace, out: Output) -> int:
    from .signing import WALLET_KEY_ENV_VARS, create_wallet, default_session_path

    path: Path = args.path or default_session_path()
    if path.exists():
        raise ConfigurationError(f"{path} already exists; refusing to overwrite a wallet.")
    try:
        signer = create_wallet(path)
    except FileExistsError:
        raise ConfigurationError(
            f"{path} already exists; refusing to overwrite a wallet."
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"Cannot write {path}: {exc.strerror}.") from None
    out.line(signer.address)
    _note(f"Saved to {path} (mode 0600). Fund this address with USDC on Base to pay.")
    shadowing = [name for name in WALLET_KEY_ENV_VARS if os.environ.get(name, "").strip()]
    if shadowing:
        _note(f"Note: {shadowing[0]} is set and is used before this file.")
    return 0


def _cmd_wallet_show(args: argparse.Namespace, out: Output) -> int:
    from .signing import WALLET_KEY_ENV_VARS, WalletSigner, default_session_path, resolve_wallet_key

    key = resolve_wallet_key()
    if key is None:
        raise ConfigurationError(
            f"No wallet found: set BLOCKRUN_WALLET_KEY, or run `blockrun wallet new` "
            f"to create {default_session_path()}."
        )
    source = next(
        (name for name in WALLET_KEY_ENV_VARS if os.environ.get(name, "").strip()),
        str(default_session_path()),
    )
    try:
        address = WalletSigner(key).address
    except ConfigurationError as exc:
        raise ConfigurationError(f"{source}: {exc.message}") from None
    out.line(address)
    _note(f"(from {source})")
    return 0


# --------------------------------------------------------------------------- stats

_GROUPINGS = ("model", "day", "run", "agent", "budget")  # blockrun_core.ledger.GROUPINGS
_GROUP_HEADERS = {"day": "day (UTC)"}
_PLOT_EXTRA = "pip install 'blockrun-core[plot]'"


def _since_argument(text: str) -> float:
    """``--since``: a bad value is a usage error (exit status 2)."""
    from .ledger import to_timestamp

    try:
        return to_timestamp(text)
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _png_argument(text: str) -> Path:
    path = Path(text).expanduser()
    if path.suffix.lower() != ".png":
        raise argparse.ArgumentTypeError(f"{text!r}: the plot is a PNG; name it FILE.png.")
    return path


def _utc(timestamp: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _stats_cells(label: str, row: StatsRow) -> list[str]:
    fraction = row.savings_fraction
    return [
        label,
        f"{row.calls:,}",
        f"{row.attempts:,}",
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        _usd(row.spend_usd),
        _usd(row.savings_usd),
        "-" if fraction is None else f"{fraction:.1%}",
    ]


def _cmd_stats(args: argparse.Namespace, out: Output) -> int:
    import json

    from .ledger import default_ledger_path, usage_stats

    path: Path = args.ledger or default_ledger_path()
    stats = usage_stats(path, by=args.by, since=args.since)
    if args.json:
        out.line(json.dumps({"ledger": str(path), **stats.to_dict()}, ensure_ascii=False))
    elif stats.total.attempts == 0:
        if not path.exists():
            out.line(f"No usage recorded yet ({path} does not exist).")
            out.line("BlockRun clients record every call there; run one, then try again.")
        else:
            since = "" if args.since is None else f" since {_utc(args.since)}"
            out.line(f"No usage recorded{since} in {path}.")
    else:
        since = "all time" if args.since is None else f"since {_utc(args.since)}"
        out.line(f"Usage by {args.by}, {since} ({path})")
        out.line()
        header = _GROUP_HEADERS.get(args.by, args.by)
        out.table(
            [header, "calls", "attempts", "tokens in", "tokens out", "spend", "savings", "saved"],
            [_stats_cells(row.key or "(none)", row) for row in stats.rows],
            right=[False, *[True] * 7],
            footer=_stats_cells("total", stats.total),
        )
    if args.plot is not None:
        if stats.total.attempts == 0:
            _note("Nothing to plot: no usage recorded in that period.")
        else:
            _plot(path, args.since, args.plot, stats.total)
            _note(f"Plot saved to {args.plot}")
    return 0


def _plot(path: Path, since: float | None, target: Path, total: StatsRow) -> None:
    """Spend and savings per hour (a short period) or per day, as a PNG."""
    from .ledger import timeline

    try:
        import numpy as np
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigurationError(f"--plot needs matplotlib: {_PLOT_EXTRA}.") from None

    span = (total.last_at or 0.0) - (total.first_at or 0.0)
    bucket: Bucket = "hour" if span <= 2 * 86400 else "day"
    points = timeline(path, since=since, bucket=bucket)
    starts = np.array([round(p.start) for p in points], dtype="datetime64[s]")  # UTC
    width = np.timedelta64(3600 if bucket == "hour" else 86400, "s")
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    series = (
        ("spend", [p.spend_usd for p in points], width // 10),
        ("savings vs baseline", [p.savings_usd for p in points], width // 2),
    )
    for label, values, offset in series:
        axes.bar(starts + offset, values, width=width * 0.4, align="edge", label=label)
    axes.set_xlim(starts[0] - width // 2, starts[-1] + width + width // 2)
    axes.set_title(f"BlockRun spend and savings per {bucket} (UTC)")
    axes.set_ylabel("USD")
    axes.axhline(0, color="black", linewidth=0.8)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.autofmt_xdate()
    try:
        figure.savefig(target, format="png", dpi=100)
    except OSError as exc:
        raise ConfigurationError(f"Cannot write {target}: {exc.strerror or exc}.") from None


# --------------------------------------------------------------------------- parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("blockrun-core")
    except PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version`` that reads package metadata only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(f"blockrun {_version()}")
        parser.exit()


Handler = Callable[[argparse.Namespace, Output], int]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blockrun",
        description="BlockRun: many frontier models behind one wallet, paid per call in USDC.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the version and exit")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str, parent: Any = commands) -> Any:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    command(
        "demo",
        _cmd_demo,
        "run a short paid conversation against an embedded local gateway (no real money)",
    )
    gateway = command("gateway", _cmd_gateway, "serve the local test gateway until Ctrl-C")
    gateway.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    gateway.add_argument("--port", type=int, default=8402, help="port to listen on (8402)")
    command("models", _cmd_models, "list the model catalog: pricing, context, capabilities")

    route = command(
        "route",
        _cmd_route,
        "explain which model the router picks for a prompt, and why (no call is made)",
    )
    source = route.add_mutually_exclusive_group()
    source.add_argument("prompt", nargs="?", help="the prompt to route")
    source.add_argument(
        "--jsonl",
        metavar="FILE",
        help='route each line {"id", "prompt"} of FILE (- for stdin); one JSON line out each',
    )
    source.add_argument("--eval", metavar="FILE", help="score the router on a labelled prompt set")
    route.add_argument("--split", choices=("tune", "holdout"), help="with --eval: which split")
    route.add_argument(
        "--misses", action="store_true", help="with --eval: list the misrouted prompts"
    )
    route.add_argument("--profile", default="auto", help="auto (default), eco, premium or free")
    route.add_argument("--tools", action="store_true", help="the request carries a tool")
    route.add_argument("--image", action="store_true", help="the request carries an image")
    route.add_argument(
        "--json-output", action="store_true", help="the request asks for a JSON object"
    )
    route.add_argument(
        "--max-tokens", type=int, default=1024, metavar="N", help="max_tokens (1024)"
    )
    route.add_argument("--json", action="store_true", help="print the decision as JSON")
    route.set_defaults(route_parser=route)

    stats = command(
        "stats",
        _cmd_stats,
        "spend, calls, tokens and savings from the usage ledger, grouped and totalled",
    )
    stats.add_argument(
        "--by",
        choices=_GROUPINGS,
        default="model",
        help="group by served model (default), UTC day, run, agent or budget",
    )
    stats.add_argument(
        "--since",
        type=_since_argument,
        metavar="SPEC",
        help="only usage since a duration ago (30m, 24h, 7d, 2w) or a UTC date (2026-11-01)",
    )
    stats.add_argument("--json", action="store_true", help="print the totals as JSON")
    stats.add_argument(
        "--plot",
        type=_png_argument,
        metavar="FILE.png",
        help=f"draw spend and savings over time (needs matplotlib: {_PLOT_EXTRA})",
    )
    stats.add_argument(
        "--ledger",
        type=lambda text: Path(text).expanduser(),
        metavar="PATH",
        help="the ledger file (default ~/.blockrun/usage.sqlite3, or $BLOCKRUN_LEDGER)",
    )

    wallet = commands.add_parser("wallet", help="create or show the x402 wallet")
    wallet.set_defaults(handler=lambda _args, _out: _usage(wallet))
    wallet_commands = wallet.add_subparsers(title="commands", metavar="COMMAND")
    new = command(
        "new",
        _cmd_wallet_new,
        "create ~/.blockrun/.session (mode 0600); prints the address",
        wallet_commands,
    )
    new.add_argument("--path", type=Path, help="where to save the key instead")
    command(
        "show",
        _cmd_wallet_show,
        "print the address of the configured wallet (never the key)",
        wallet_commands,
    )
    parser.set_defaults(handler=lambda _args, _out: _usage(parser))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    handler: Handler = args.handler
    try:
        return handler(args, Output())
    except BlockRunError as exc:
        print(f"blockrun: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader left early (``blockrun models | head``); silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
