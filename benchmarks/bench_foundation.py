"""Foundation benchmark: blockrun-core against blockrun-llm 1.21.1, on one LocalGateway.

Measures, side by side and alternating the two systems between repetitions so drift
cancels: (a) signing one EIP-3009 payment, (b) cold import in a fresh interpreter,
(c) wall time and HTTP round trips of a first and a repeated paid call (``LLMClient`` and
``AsyncLLMClient``), (d) a cold process to its first paid answer. Prints a markdown table
and writes it to ``benchmarks/results/foundation-<date>.md`` (``--smoke``: tiny counts, print only).

Timings are reported, never asserted: the run fails only on errors.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from suite_table import from_rows, render_rows

# Hardhat's first test account: public, never funded on a real network.
HARDHAT_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PAY_TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
PAID_MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]
MAX_TOKENS = 64
RESULTS_DIR = Path(__file__).resolve().parent / "results"

T = TypeVar("T")


@dataclass(frozen=True)
class Counts:
    signing: int
    imports: int
    calls: int
    cold: int


FULL = Counts(signing=2000, imports=15, calls=15, cold=7)
SMOKE = Counts(signing=20, imports=2, calls=2, cold=1)


@dataclass
class Row:
    """One measurement: samples of ours and the peer's, and the target it is judged by."""

    name: str
    unit: str  # "ms", "s" or "trips"
    ours: list[float]
    peer: list[float]
    target: str = "-"
    met: Callable[[float, float], bool] | None = None  # (ours median, peer median) -> met?


def paired(
    n: int, ours: Callable[[], T], peer: Callable[[], T], *, warmup: int = 1
) -> tuple[list[T], list[T]]:
    """Run both ``warmup + n`` times, swapping which goes first each time; keep the last n."""
    ours_out: list[T] = []
    peer_out: list[T] = []
    for i in range(warmup + n):
        steps = [(ours, ours_out), (peer, peer_out)]
        for run, out in steps if i % 2 == 0 else steps[::-1]:
            value = run()
            if i >= warmup:
                out.append(value)
    return ours_out, peer_out


def rotated(n: int, runs: list[Callable[[], T]], *, warmup: int = 1) -> list[list[T]]:
    """``paired`` for any number of systems: each goes first in turn; keeps the last n each."""
    out: list[list[T]] = [[] for _ in runs]
    for i in range(warmup + n):
        shift = i % len(runs)
        for k in [*range(shift, len(runs)), *range(shift)]:
            value = runs[k]()
            if i >= warmup:
                out[k].append(value)
    return out


def timed_ms(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1e3

    return run


# --------------------------------------------------------------------------- (a) signing


def bench_signing(n: int) -> list[Row]:
    from blockrun_core.signing import WalletSigner, recover_signer
    from blockrun_core.x402 import (
        BASE,
        PaymentChallenge,
        PaymentOffer,
        PaymentPolicy,
        TransferAuthorization,
        sign_payment,
        transfer_digest,
    )
    from blockrun_llm.x402 import create_payment_payload
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    signer = WalletSigner(HARDHAT_KEY)
    account = Account.from_key(HARDHAT_KEY)
    domain = {
        "name": BASE.eip712_name,
        "version": BASE.eip712_version,
        "chainId": BASE.chain_id,
        "verifyingContract": BASE.usdc,
    }
    types = {
        "TransferWithAuthorization": [
            {"name": "from", "type": "address"},
            {"name": "to", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "validAfter", "type": "uint256"},
            {"name": "validBefore", "type": "uint256"},
            {"name": "nonce", "type": "bytes32"},
        ],
    }

    def ours_sign(nonce: bytes, now: int) -> bytes:
        auth = TransferAuthorization(signer.address, PAY_TO, 1000, now - 600, now + 300, nonce)
        return signer.sign_digest(transfer_digest(BASE, auth))

    def peer_sign(nonce: bytes, now: int) -> bytes:
        # Exactly the signing step of blockrun_llm.x402.create_payment_payload.
        message = {
            "from": account.address,
            "to": PAY_TO,
            "value": 1000,
            "validAfter": now - 600,
            "validBefore": now + 300,
            "nonce": nonce,
        }
        return bytes(account.sign_message(encode_typed_data(domain, types, message)).signature)

    # Both use RFC 6979 nonces, so the same message must give the same signature.
    nonce, now = secrets.token_bytes(32), int(time.time())
    signature = ours_sign(nonce, now)
    if signature != peer_sign(nonce, now):
        raise RuntimeError("our signature differs from eth-account's for the same message")
    auth = TransferAuthorization(signer.address, PAY_TO, 1000, now - 600, now + 300, nonce)
    if recover_signer(transfer_digest(BASE, auth), signature) != signer.address:
        raise RuntimeError("our signature does not recover to the signer's address")

    def fresh(sign: Callable[[bytes, int], bytes]) -> Callable[[], float]:
        def run() -> float:
            nonce, now = secrets.token_bytes(32), int(time.time())
            start = time.perf_counter()
            sign(nonce, now)
            return (time.perf_counter() - start) * 1e3

        return run

    # The whole header (sign + JSON + base64): sign_payment vs create_payment_payload.
    offer = PaymentOffer("exact", BASE.caip2, 1000, BASE.usdc, PAY_TO, 300)
    url = "http://127.0.0.1/api/v1/chat/completions"
    challenge = PaymentChallenge(2, (offer,), resource={"url": url, "description": "bench"})
    policy = PaymentPolicy()

    def ours_header() -> object:
        return sign_payment(
            signer, offer, BASE, challenge=challenge, resource_url=url, policy=policy
        )

    def peer_header() -> object:
        return create_payment_payload(account, PAY_TO, "1000", network=BASE.caip2, resource_url=url)

    warmup = max(5, n // 10)
    ours, peer = paired(n, fresh(ours_sign), fresh(peer_sign), warmup=warmup)
    ours_h, peer_h = paired(n, timed_ms(ours_header), timed_ms(peer_header), warmup=warmup)
    return [
        Row(
            "sign one EIP-3009 transfer (digest + secp256k1)",
            "ms",
            ours,
            peer,
            "ours <= 1.5 ms",
            lambda o, _p: o <= 1.5,
        ),
        Row("build a signed payment header (sign + JSON + base64)", "ms", ours_h, peer_h),
    ]


# --------------------------------------------------------------------------- (b) cold import

_IMPORT_PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def _run_python(code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"a fresh interpreter failed running:\n{code}\n{out.stderr}")
    return out.stdout


def bench_imports(n: int, env: dict[str, str]) -> list[Row]:
    rows = []
    for label, ours_stmt, peer_stmt in (
        (
            "cold `import blockrun_core` / `import blockrun_llm`",
            "import blockrun_core",
            "import blockrun_llm",
        ),
        (
            "cold import of the client class",
            "from blockrun_core import BlockRunClient",
            "from blockrun_llm import LLMClient",
        ),
    ):

        def probe(stmt: str) -> Callable[[], float]:
            code = _IMPORT_PROBE.format(stmt=stmt)
            return lambda: float(_run_python(code, env).strip().splitlines()[-1])

        ours, peer = paired(n, probe(ours_stmt), probe(peer_stmt))
        rows.append(Row(label, "s", ours, peer, "ours <= 0.5 s", lambda o, _p: o <= 0.5))
    return rows


# --------------------------------------------------------------------------- (c) paid calls

Session = Callable[[], tuple[float, float, float, float]]  # first ms, repeat ms, their trips


def _check_ours(result: Any) -> Any:
    if not result.content or not result.cost_usd:
        raise RuntimeError(f"unexpected answer from blockrun-core: {result!r}")
    return result


def _check_peer(response: Any) -> Any:
    if not response.choices[0].message.content or not response.cost_usd:
        raise RuntimeError(f"unexpected answer from blockrun-llm: {response!r}")
    return response


def _ours_client(api_url: str) -> tuple[Callable[[], object], Callable[[], None]]:
    from blockrun_core import BlockRunClient

    client = BlockRunClient(api_url=api_url, wallet_key=HARDHAT_KEY)

    def call() -> object:
        return _check_ours(client.chat(model=PAID_MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS))

    return call, client.close


def _peer_client(api_url: str) -> tuple[Callable[[], object], Callable[[], None]]:
    from blockrun_llm import LLMClient

    client = LLMClient(private_key=HARDHAT_KEY, api_url=api_url)

    def call() -> object:
        return _check_peer(client.chat_completion(PAID_MODEL, MESSAGES, max_tokens=MAX_TOKENS))

    return call, client.close


def _sync_session(gw: Any, factory: Callable[[str], Any]) -> Session:
    """A new client, then two identical paid calls, each timed and its round trips counted."""

    def run() -> tuple[float, float, float, float]:
        call, close = factory(gw.url)
        try:
            times, trips = [], []
            for _ in ("first", "repeat"):
                before = gw.request_count()
                times.append(timed_ms(call)())
                trips.append(float(gw.request_count() - before))
            return times[0], times[1], trips[0], trips[1]
        finally:
            close()

    return run


async def _ours_async(api_url: str) -> tuple[Callable[[], Awaitable[object]], Any]:
    from blockrun_core import AsyncBlockRunClient

    client = AsyncBlockRunClient(api_url=api_url, wallet_key=HARDHAT_KEY)

    async def call() -> object:
        return _check_ours(
            await client.chat(model=PAID_MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
        )

    return call, client.aclose


async def _peer_async(api_url: str) -> tuple[Callable[[], Awaitable[object]], Any]:
    from blockrun_llm import AsyncLLMClient

    client = AsyncLLMClient(private_key=HARDHAT_KEY, api_url=api_url)

    async def call() -> object:
        return _check_peer(
            await client.chat_completion(PAID_MODEL, MESSAGES, max_tokens=MAX_TOKENS)
        )

    return call, client.close


def _async_session(
    gw: Any, factory: Callable[[str], Awaitable[Any]], loop: asyncio.AbstractEventLoop
) -> Session:
    """``_sync_session`` for an async client, in one event loop shared by both systems."""

    async def session() -> tuple[float, float, float, float]:
        call, close = await factory(gw.url)
        try:
            times, trips = [], []
            for _ in ("first", "repeat"):
                before = gw.request_count()
                start = time.perf_counter()
                await call()
                times.append((time.perf_counter() - start) * 1e3)
                trips.append(float(gw.request_count() - before))
            return times[0], times[1], trips[0], trips[1]
        finally:
            await close()

    return lambda: loop.run_until_complete(session())


def _call_rows(ours: list[tuple[float, ...]], peer: list[tuple[float, ...]]) -> list[Row]:
    o, p = list(zip(*ours, strict=True)), list(zip(*peer, strict=True))
    return [
        Row("first paid call on a new client", "ms", list(o[0]), list(p[0])),
        Row(
            "repeated paid call",
            "ms",
            list(o[1]),
            list(p[1]),
            "ours <= 1/2 of blockrun-llm",
            lambda o, p: o <= p / 2,
        ),
        Row("HTTP round trips, first paid call", "trips", list(o[2]), list(p[2])),
        Row(
            "HTTP round trips, repeated paid call",
            "trips",
            list(o[3]),
            list(p[3]),
            "ours = 1",
            lambda o, _p: o == 1,
        ),
    ]


def bench_calls(n: int, gw: Any) -> list[Row]:
    """``BlockRunClient`` vs ``LLMClient``: a new client, a first and a repeated paid call."""
    ours, peer = paired(n, _sync_session(gw, _ours_client), _sync_session(gw, _peer_client))
    return _call_rows(ours, peer)


def bench_async_calls(n: int, gw: Any) -> list[Row]:
    """``AsyncBlockRunClient`` vs ``AsyncLLMClient``, as ``bench_calls``."""
    loop = asyncio.new_event_loop()
    try:
        ours, peer = paired(
            n, _async_session(gw, _ours_async, loop), _async_session(gw, _peer_async, loop)
        )
    finally:
        loop.close()
    return _call_rows(ours, peer)


# --------------------------------------------------------------------------- (d) cold process

_OURS_SCRIPT = """
import os
from blockrun_core import BlockRunClient
client = BlockRunClient(api_url=os.environ["BENCH_API_URL"], wallet_key=os.environ["BENCH_KEY"])
result = client.chat(model={model!r}, messages={messages!r}, max_tokens={max_tokens})
assert result.content and result.cost_usd, result
"""
_PEER_SCRIPT = """
import os
from blockrun_llm import LLMClient
client = LLMClient(private_key=os.environ["BENCH_KEY"], api_url=os.environ["BENCH_API_URL"])
response = client.chat_completion({model!r}, {messages!r}, max_tokens={max_tokens})
assert response.choices[0].message.content and response.cost_usd, response
"""


def bench_cold_process(n: int, gw: Any, env: dict[str, str]) -> list[Row]:
    env = {**env, "BENCH_API_URL": gw.url, "BENCH_KEY": HARDHAT_KEY}

    def process(script: str) -> Callable[[], float]:
        code = script.format(model=PAID_MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)

        def run() -> float:
            start = time.perf_counter()
            _run_python(code, env)
            return time.perf_counter() - start

        return run

    ours, peer = paired(n, process(_OURS_SCRIPT), process(_PEER_SCRIPT))
    return [
        Row(
            "cold process to first paid answer",
            "s",
            ours,
            peer,
            "ours <= 1/3 of blockrun-llm",
            lambda o, p: o <= p / 3,
        )
    ]


# --------------------------------------------------------------------------- report


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def environment(packages_note: str = "") -> list[str]:
    """The machine, Python and package lines every results table starts with."""
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("blockrun-core", "blockrun-llm")
    )
    return [
        f"- Machine: {_machine()}",
        f"- Python: {platform.python_version()} ({platform.python_implementation()})",
        f"- Packages: {versions}{packages_note}",
    ]


def render(rows: list[Row], counts: Counts, today: str) -> str:
    lines = [
        f"# Foundation benchmark, {today}",
        "",
        *environment("; both against the same LocalGateway on 127.0.0.1 (its own process)"),
        f"- Samples: signing {counts.signing}, imports {counts.imports}, "
        f"calls {counts.calls}, cold processes {counts.cold}; systems alternated",
        "",
        render_rows(from_rows("foundation", "blockrun-llm", rows)),
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def _bench_environment() -> Iterator[dict[str, str]]:
    """A throwaway HOME (blockrun-llm writes ~/.blockrun), no ambient credentials, and a
    private bytecode cache so fresh interpreters load compiled modules as on a user's machine
    (even where PYTHONDONTWRITEBYTECODE is set), without writing into the source tree."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        for name in list(os.environ):
            if name.startswith(("BLOCKRUN_", "BASE_CHAIN_", "SOLANA_")):
                del os.environ[name]
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(Path(home) / "pycache")
        os.environ["HOME"] = home
        try:
            yield dict(os.environ)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; print, do not save")
    parser.add_argument("--out", type=Path, help="write the table here (default: results/)")
    args = parser.parse_args(argv)
    counts = SMOKE if args.smoke else FULL
    today = dt.date.today().isoformat()

    from gateway_process import gateway_process

    with _bench_environment() as env:
        rows = bench_signing(counts.signing)
        rows += bench_imports(counts.imports, env)
        with gateway_process(env) as gw:
            rows += bench_calls(counts.calls, gw)
            for row in bench_async_calls(counts.calls, gw):
                row.name = f"async: {row.name}"
                rows.append(row)
            rows += bench_cold_process(counts.cold, gw, env)

    publish(render(rows, counts, today), args.out, None if args.smoke else f"foundation-{today}")
    return 0


def publish(table: str, out: Path | None, default_name: str | None) -> None:
    """Print a results table and write it to ``out`` or ``results/<default_name>.md``."""
    print(table)
    path = out or (RESULTS_DIR / f"{default_name}.md" if default_name else None)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(table)
        print(f"written to {path}")


if __name__ == "__main__":
    sys.exit(main())
