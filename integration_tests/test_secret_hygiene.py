"""Secret hygiene: the wallet key, the account key and payment signatures appear nowhere.

One session builds every public object with a known wallet key and a known ``brk_`` key,
makes real paid calls through ``BlockRunClient``, ``AsyncBlockRunClient``,
``ChatBlockRun`` (invoke and stream, sync and async) and ``BlockRunLLM``, induces errors
(a price over the cap, a budget exceeded, a payment in doubt, malformed keys), and keeps
every artefact a user or a tool could see: repr and str, pickles (or the pickling error),
pydantic dumps, LangChain ``dumpd``/``dumps``, LlamaIndex ``to_dict``/``to_json``, DEBUG
logs of every logger, exception messages and formatted tracebacks, LlamaIndex
instrumentation events, LangChain callback arguments,
the ledger's SQLite bytes and every recorded cassette. Each test scans one family of
artefacts for the secrets: the key's hex (with or without ``0x``, any case), the ``brk_``
key, and every payment header and signature the gateway received, which a recording
gateway in front of the LocalGateway keeps.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from blockrun_core import (
    AsyncBlockRunClient,
    BlockRunClient,
    Budget,
    BudgetExceededError,
    PaymentInDoubtError,
    PaymentRefusedError,
)
from blockrun_core.errors import BlockRunError
from blockrun_core.testing import Fault, LocalGateway
from blockrun_core.x402 import PaymentPolicy, decode_payment_header
from langchain_blockrun import ChatBlockRun
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.llms.blockrun import BlockRunLLM
from pydantic import Field

from integration_tests.cassette_scan import cassette_files, scan_file
from integration_tests.hostile.server import HostileGateway
from unit_tests.conftest import HARDHAT_KEY

MODEL = "openai/gpt-4o-mini"
EXPENSIVE = "openai/gpt-5.5-pro"
HI = [{"role": "user", "content": "What is 12 * 7?"}]
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Artefacts:
    """Everything the session produced, by family, as (label, text) pairs."""

    families: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    signatures: int = 0
    errors: dict[str, BaseException] = field(default_factory=dict)

    def add(self, family: str, label: str, value: str | bytes) -> None:
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        self.families.setdefault(family, []).append((label, text))

    def leaks(self, family: str) -> list[str]:
        """``label: which secret`` for every artefact of ``family`` holding a secret."""
        found = []
        for label, text in self.families.get(family, []):
            low = text.lower()
            for index, secret in enumerate(self.secrets):
                if secret.lower() in low:
                    found.append(f"{label}: secret #{index} ({_kind(secret)})")
        return found


def _kind(secret: str) -> str:
    if secret.startswith("brk_"):
        return "account key"
    if secret == HARDHAT_KEY.removeprefix("0x") or secret.startswith("~"):
        return "wallet key"
    return "payment signature or header"


class CallbackRecorder(BaseCallbackHandler):
    """Keeps the repr of every argument of every LangChain callback it receives."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_") and hasattr(BaseCallbackHandler, name):
            seen = object.__getattribute__(self, "seen")

            def record(*args: Any, **kwargs: Any) -> None:
                seen.append(f"{name}{args!r}{kwargs!r}")

            return record
        return object.__getattribute__(self, name)


class EventRecorder(BaseEventHandler):
    """Every LlamaIndex instrumentation event, dumped."""

    events: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(f"{event!r} {event.model_dump_json()} {kwargs!r}")


def _forms(art: Artefacts, label: str, obj: Any) -> None:
    """repr, str, pickle (or its error), pydantic and framework dumps of ``obj``."""
    art.add("repr", label, repr(obj))
    art.add("repr", label, str(obj))
    try:
        art.add("pickle", label, pickle.dumps(obj))
    except Exception as exc:  # not picklable: the message must not hold a secret either
        art.add("pickle", label + " (error)", f"{type(exc).__name__}: {exc}")
    for method in ("model_dump", "model_dump_json", "to_dict", "to_json"):
        dump = getattr(obj, method, None)
        if callable(dump):
            try:
                art.add("dumps", f"{label}.{method}()", str(dump()))
            except Exception as exc:
                art.add("dumps", f"{label}.{method}() error", f"{type(exc).__name__}: {exc}")
    if hasattr(obj, "to_json") and hasattr(obj, "lc_serializable"):
        art.add("dumps", f"dumpd({label})", str(dumpd(obj)))
        art.add("dumps", f"dumps({label})", dumps(obj))


def _error(art: Artefacts, label: str, call: Callable[[], Any]) -> BaseException:
    """Run ``call``, which must fail, and keep its message and tracebacks."""
    try:
        call()
    except Exception as exc:
        art.errors[label] = exc
        art.add("errors", label, f"{exc!r} {exc}")
        art.add("errors", label + " traceback", "".join(traceback.format_exception(exc)))
        _forms(art, label + " exception", exc)
        return exc
    raise AssertionError(f"{label}: expected an error")


class _Handler(logging.Handler):
    def __init__(self, art: Artefacts) -> None:
        super().__init__(logging.DEBUG)
        self.art = art

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.art.add("logs", f"{record.name}:{record.levelname}", f"{text} {record.__dict__!r}")


@pytest.fixture(scope="module")
def art(gateway: LocalGateway, tmp_path_factory: pytest.TempPathFactory) -> Artefacts:
    gateway.reset()
    account_key = gateway.add_api_key(credit_usd=5.0)
    ledger_path = tmp_path_factory.mktemp("hygiene") / "usage.sqlite3"
    art = Artefacts()
    handler = _Handler(art)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    events = EventRecorder()
    get_dispatcher().add_event_handler(events)
    callbacks = CallbackRecorder()
    try:
        with HostileGateway(gateway) as front, pytest.MonkeyPatch.context() as patch:
            patch.setattr("blockrun_core.transport._sleep", lambda seconds: None)
            _session(art, front, gateway, account_key, ledger_path, callbacks)
            headers = front.payment_headers
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        get_dispatcher().event_handlers.remove(events)
    for event in events.events:
        art.add("events", "llama_index event", event)
    for seen in callbacks.seen:
        art.add("callbacks", "langchain callback", seen)
    for path in ledger_path.parent.iterdir():
        art.add("ledger", path.name, path.read_bytes())
    for cassette in cassette_files(ROOT / "integration_tests"):
        try:
            art.add("cassettes", str(cassette.relative_to(ROOT)), cassette.read_bytes())
        except FileNotFoundError:  # being re-recorded by a concurrent run
            continue

    bare = HARDHAT_KEY.removeprefix("0x")
    signatures = [decode_payment_header(h)["payload"]["signature"] for h in headers]
    art.secrets = [bare, account_key, *headers, *(s.removeprefix("0x") for s in signatures)]
    art.signatures = len(signatures)
    return art


def _session(
    art: Artefacts,
    front: HostileGateway,
    gw: LocalGateway,
    account_key: str,
    ledger: Path,
    callbacks: CallbackRecorder,
) -> None:
    wallet = {"api_url": front.url, "wallet_key": HARDHAT_KEY, "ledger": ledger}
    account = {"api_url": front.account_url, "api_key": account_key, "ledger": ledger}

    # The core clients, sync and async, chat and stream, both rails.
    budget = Budget(5.0, name="hygiene")
    with BlockRunClient(**wallet, budget=budget) as client:
        result = client.chat(model=MODEL, messages=HI, max_tokens=64)
        chunks = list(client.stream(model=MODEL, messages=HI, max_tokens=64))
        routed = client.chat(model="auto", messages=HI, max_tokens=64)
        for label, obj in [
            ("BlockRunClient", client),
            ("client._credentials", client._credentials),
            ("signer", client._credentials.signer),
            ("ChatResult", result),
            ("ChatResult.response", result.response),
            ("Payment", result.payment),
            ("PaymentReceipt", result.receipt),
            ("RoutingDecision", routed.routing),
            ("ChatChunk", chunks[-1]),
            ("Budget", budget),
            ("BudgetState", budget.state()),
            ("PaymentPolicy", client.payment_policy),
        ]:
            _forms(art, label, obj)
    with BlockRunClient(**account) as client:
        _forms(art, "BlockRunClient(account)", client)
        _forms(art, "ChatResult(account)", client.chat(model=MODEL, messages=HI, max_tokens=64))

    async def use_async() -> None:
        async with AsyncBlockRunClient(**wallet) as aclient:
            _forms(art, "AsyncBlockRunClient", aclient)
            await aclient.chat(model=MODEL, messages=HI, max_tokens=64)
            async for chunk in aclient.stream(model=MODEL, messages=HI, max_tokens=64):
                _forms(art, "async ChatChunk", chunk)

    asyncio.run(use_async())

    # LangChain: invoke, stream, ainvoke, astream, with a callback handler seeing it all.
    chat = ChatBlockRun(model=MODEL, max_tokens=64, callbacks=[callbacks], **wallet)
    message = chat.invoke("What is 12 * 7?")
    streamed = list(chat.stream("Tell me a short story"))
    asyncio.run(chat.ainvoke("What is 2 + 2?"))

    async def astream() -> None:
        async for _ in chat.astream("Count to three"):
            pass

    asyncio.run(astream())
    for label, obj in [
        ("ChatBlockRun", chat),
        ("AIMessage", message),
        ("AIMessageChunk", streamed[-1]),
        ("ChatBlockRun(account)", ChatBlockRun(model=MODEL, **account)),
    ]:
        _forms(art, label, obj)

    # LlamaIndex: chat, stream, achat, with the root dispatcher's events recorded.
    llm = BlockRunLLM(MODEL, max_tokens=64, **wallet)
    response = llm.chat([ChatMessage(role="user", content="What is 12 * 7?")])
    list(llm.stream_chat([ChatMessage(role="user", content="Tell me a story")]))
    asyncio.run(llm.achat([ChatMessage(role="user", content="What is 2 + 2?")]))
    _forms(art, "BlockRunLLM", llm)
    _forms(art, "ChatResponse", response)
    _forms(art, "BlockRunLLM(account)", BlockRunLLM(MODEL, **account))
    llm.close()

    # Induced errors, in each layer.
    capped = PaymentPolicy(max_per_call_usd=0.000001)
    with BlockRunClient(**wallet, payment_policy=capped) as client:
        refused = _error(art, "over cap", lambda: client.chat(model=MODEL, messages=HI))
        assert isinstance(refused, PaymentRefusedError)
    with BlockRunClient(**wallet, budget=Budget(0.000001, name="tiny")) as client:
        over = _error(art, "budget", lambda: client.chat(model=MODEL, messages=HI))
        assert isinstance(over, BudgetExceededError)
    gw.inject(Fault("error", model=MODEL, phase="paid", times=None, status=503))
    with BlockRunClient(**wallet) as client:
        doubt = _error(art, "in doubt", lambda: client.chat(model=MODEL, messages=HI))
        assert isinstance(doubt, PaymentInDoubtError)
    gw.clear_faults()
    capped_chat = ChatBlockRun(model=EXPENSIVE, max_cost_per_call=0.000001, **wallet)
    _error(art, "LangChain over cap", lambda: capped_chat.invoke("hi"))
    capped_llm = BlockRunLLM(EXPENSIVE, max_cost_per_call=0.000001, **wallet)
    _error(art, "LlamaIndex over cap", lambda: capped_llm.complete("hi"))
    capped_llm.close()
    # Keys that are almost right must not be echoed back either.
    near = HARDHAT_KEY[:-1]
    _error(art, "bad wallet key", lambda: BlockRunClient(api_url=front.url, wallet_key=near))
    _error(art, "bad ChatBlockRun key", lambda: ChatBlockRun(api_url=front.url, wallet_key=near))
    _error(art, "bad BlockRunLLM key", lambda: BlockRunLLM(api_url=front.url, wallet_key=near))
    _error(art, "both keys", lambda: ChatBlockRun(wallet_key=HARDHAT_KEY, api_key=account_key))
    _error(art, "bad account key", lambda: BlockRunClient(api_key=account_key + "!"))
    with BlockRunClient(
        api_url=front.account_url, api_key="brk_" + "x" * 24, ledger=ledger
    ) as client:
        _error(art, "unknown account key", lambda: client.chat(model=MODEL, messages=HI))


FAMILIES = [
    "repr",
    "pickle",
    "dumps",
    "logs",
    "errors",
    "events",
    "callbacks",
    "ledger",
    "cassettes",
]


def test_the_session_paid_and_produced_every_family(art: Artefacts) -> None:
    # The scan below would pass vacuously if nothing had happened: check that it did.
    assert art.signatures >= 10
    for family in FAMILIES:
        assert art.families.get(family), f"no {family} artefacts were collected"


@pytest.mark.parametrize("family", FAMILIES)
def test_no_secret_in(family: str, art: Artefacts) -> None:
    assert art.leaks(family) == []


def test_the_scan_finds_a_planted_secret(art: Artefacts) -> None:
    # A control: the same scan flags each kind of secret when it is there, in any case.
    probe = Artefacts(secrets=art.secrets)
    for index, secret in enumerate(art.secrets):
        probe.add("planted", f"#{index}", "prefix " + secret.upper() + " suffix")
    assert len(probe.leaks("planted")) >= len(art.secrets)


def test_cassettes_pass_the_generic_credential_rules() -> None:
    findings = {
        str(path.relative_to(ROOT)): scan_file(path)
        for path in cassette_files(ROOT / "integration_tests")
    }
    assert {path: found for path, found in findings.items() if found} == {}


def test_every_induced_error_is_in_the_documented_tree(art: Artefacts) -> None:
    assert len(art.errors) >= 10
    outside = {
        label: type(error).__name__
        for label, error in art.errors.items()
        if not isinstance(error, BlockRunError)
    }
    assert outside == {}
