"""model="auto" end to end: routing, fallback and pinning against LocalGateway.

Faults are injected on the routed primary, so these tests show on the gateway's own
records that a fallback never pays twice for one call, and that a payment in doubt
stops the chain.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from blockrun_core import BlockRunClient, PaymentInDoubtError
from blockrun_core.router import route
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway

HI = [{"role": "user", "content": "hi there"}]
DESIGN = [
    {
        "role": "user",
        "content": "Design a multi-region, active-active payments ledger with exactly-once "
        "settlement, and write the service boundaries and failure handling.",
    }
]


@pytest.fixture
def client(gw: LocalGateway) -> Iterator[BlockRunClient]:
    with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, timeout=5.0) as c:
        c._backoff_seconds = 0.01
        yield c


def primary(messages: list[dict[str, str]], profile: str = "auto") -> tuple[str, str]:
    decision = route(messages, profile=profile)
    return decision.candidates[0], decision.candidates[1]


def test_auto_routes_pays_once_and_explains_itself(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    result = client.chat(model="auto", messages=HI)
    routing = result.routing
    assert routing is not None and routing.tier == "SIMPLE" and routing.profile == "auto"
    assert result.requested_model == routing.model and routing.signals
    [payment] = gw.payments
    assert payment.model == routing.model
    assert result.savings is not None and 0.0 < result.savings <= 1.0
    assert routing.baseline_cost_usd > (result.cost_usd or 0.0)


@pytest.mark.parametrize("alias", ["blockrun/auto", "eco", "premium"])
def test_profile_ids(gw: LocalGateway, client: BlockRunClient, alias: str) -> None:
    result = client.chat(model=alias, messages=HI)
    assert result.routing is not None
    assert result.routing.profile == alias.removeprefix("blockrun/")


def test_free_profile_needs_no_wallet(gw: LocalGateway) -> None:
    with BlockRunClient(api_url=gw.url) as client:
        result = client.chat(model="free", messages=HI)
    assert result.cost_usd == 0.0 and not gw.payments


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(503, phase="unpaid", times=None),
        Fault.error(429, retry_after=0.01, phase="unpaid", times=None),
        Fault.reset(phase="unpaid", times=None),
    ],
    ids=["503", "429", "reset"],
)
def test_failure_before_paying_falls_back_and_pays_once(
    gw: LocalGateway, client: BlockRunClient, fault: Fault
) -> None:
    first, second = primary(DESIGN)
    gw.inject(Fault(**{**vars_of(fault), "model": first}))
    result = client.chat(model="auto", messages=DESIGN)
    assert result.requested_model == second
    assert [a.model for a in result.attempts] == [first]
    [payment] = gw.payments
    assert payment.model == second


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(503, phase="paid", times=None),
        Fault.error(502, phase="paid", times=None, at="after_settle"),
        Fault.reset(phase="paid", times=None),
    ],
    ids=["503-after-claim", "502-after-settle", "reset"],
)
def test_payment_in_doubt_on_the_primary_never_pays_another_model(
    gw: LocalGateway, client: BlockRunClient, fault: Fault
) -> None:
    first, _ = primary(DESIGN)
    gw.inject(Fault(**{**vars_of(fault), "model": first}))
    with pytest.raises(PaymentInDoubtError):
        client.chat(model="auto", messages=DESIGN)
    assert {r.model for r in gw.requests} == {first}
    assert len(set(gw.claimed_nonces)) == 1 and len(gw.payments) <= 1


def test_session_stays_on_its_model_until_it_fails(
    gw: LocalGateway, client: BlockRunClient
) -> None:
    started = client.chat(model="auto", messages=DESIGN, session_id="run-1")
    thanks = [{"role": "user", "content": "thanks!"}]
    assert client.chat(model="auto", messages=thanks, session_id="run-1").requested_model == (
        started.requested_model
    )
    unpinned = client.chat(model="auto", messages=thanks, session_id="run-2")
    assert unpinned.requested_model != started.requested_model

    # the pinned model fails unambiguously (its price jumps over the per-call cap)
    gw.set_price(started.requested_model, 5_000_000)
    moved = client.chat(model="auto", messages=thanks, session_id="run-1")
    assert moved.requested_model != started.requested_model
    assert moved.attempts[0].model == started.requested_model
    gw.set_price(started.requested_model, None)
    again = client.chat(model="auto", messages=DESIGN, session_id="run-1")
    assert again.requested_model == moved.requested_model


def test_pinning_can_be_turned_off(gw: LocalGateway) -> None:
    with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, pin_sessions=False) as client:
        started = client.chat(model="auto", messages=DESIGN, session_id="run")
        later = client.chat(model="auto", messages=HI, session_id="run")
    assert later.requested_model != started.requested_model


def test_stream_with_auto_carries_the_decision(gw: LocalGateway, client: BlockRunClient) -> None:
    chunks = list(client.stream(model="auto", messages=HI))
    assert chunks and all(c.routing is not None for c in chunks)
    assert chunks[0].routing is not None and chunks[0].routing.tier == "SIMPLE"
    assert len(gw.payments) == 1


def vars_of(fault: Fault) -> dict[str, object]:
    return {name: getattr(fault, name) for name in Fault.__dataclass_fields__}
