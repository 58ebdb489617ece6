"""The chaos suite in its short CI form, and proof that its invariants can fail.

Each run sends seeded calls through a dedicated LocalGateway that throws every fault kind
the issue lists, then checks the money invariants (see ``invariants.py``). The full run
is ``uv run python -m integration_tests.chaos --calls 5000`` (README.md); here
``BLOCKRUN_CHAOS_CALLS`` (per run) and ``BLOCKRUN_CHAOS_SEED`` override the short form.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import httpx
import pytest
from blockrun_core import BlockRunClient, PaymentInDoubtError, transport
from blockrun_core.ledger import Ledger
from blockrun_core.testing import HARDHAT_KEY, Fault, LocalGateway, RecordedPayment

from integration_tests.chaos.invariants import check, figures
from integration_tests.chaos.runner import Mode, RunReport, StoreKind, run_chaos, wait_for
from integration_tests.chaos.schedule import FAULTS, FREE, PAID, plan_calls

CALLS = int(os.environ.get("BLOCKRUN_CHAOS_CALLS", "40"))
SEED = int(os.environ.get("BLOCKRUN_CHAOS_SEED", "20260901"))
STORES: tuple[StoreKind, ...] = ("memory", "sqlite", "redis")


@pytest.fixture
def store_url(request: pytest.FixtureRequest, store: StoreKind) -> str | None:
    """The Redis URL for redis runs (a real server, from the root conftest)."""
    return request.getfixturevalue("redis_url") if store == "redis" else None


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_invariants_hold_under_seeded_faults(
    mode: Mode, store: StoreKind, store_url: str | None, tmp_path: Path
) -> None:
    seed = SEED + STORES.index(store) * 2 + (mode == "async")
    report = run_chaos(
        mode=mode, store=store, seed=seed, calls=CALLS, directory=tmp_path, redis_url=store_url
    )
    assert check(report) == [], f"seed {seed}"
    counts = figures(report)
    assert counts.calls == CALLS and sum(counts.faults_fired.values()) > 0
    assert counts.succeeded + sum(counts.errors.values()) == CALLS


def test_the_schedule_is_a_function_of_its_seed() -> None:
    first, again = plan_calls(5, 300, price_micros=2000), plan_calls(5, 300, price_micros=2000)
    assert first == again and first != plan_calls(6, 300, price_micros=2000)
    labels = {label for plan in first for label, _ in plan.faults}
    assert labels == set(FAULTS)  # every kind the issue lists is scheduled
    assert {plan.stream for plan in first} == {True, False}
    assert {plan.budget for plan in first} == {None, "team", "strict", "graceful"}


@pytest.fixture(scope="module")
def clean_report(tmp_path_factory: pytest.TempPathFactory) -> RunReport:
    directory = tmp_path_factory.mktemp("chaos")
    report = run_chaos(mode="sync", store="memory", seed=3, calls=30, directory=directory)
    assert check(report) == []
    return report


def _paid_once(report: RunReport) -> tuple[int, RecordedPayment]:
    """A call that paid exactly once and was not allowed a second spend, and its payment."""
    for payment in report.payments:
        index = report.signed[payment.nonce.lower()]
        if not report.outcomes[index].plan.route.second_spend:
            return index, payment
    raise AssertionError("the run made no payment")


def test_a_second_payment_for_one_call_is_caught(clean_report: RunReport) -> None:
    index, payment = _paid_once(clean_report)
    twice = dataclasses.replace(clean_report, payments=[*clean_report.payments, payment])
    assert any(f"call {index} paid 2 times" in line for line in check(twice))


def test_a_payment_missing_from_the_ledger_is_caught(clean_report: RunReport) -> None:
    _, payment = _paid_once(clean_report)
    records = [r for r in clean_report.records if r.tx_hash != payment.tx_hash]
    problems = check(dataclasses.replace(clean_report, records=records))
    assert any("neither settled nor in doubt" in line for line in problems)


def test_an_undocumented_exception_and_a_leak_are_caught(clean_report: RunReport) -> None:
    outcomes = list(clean_report.outcomes)
    outcomes[0] = dataclasses.replace(outcomes[0], error=KeyError("boom"))
    broken = dataclasses.replace(
        clean_report,
        outcomes=outcomes,
        descriptors_after=clean_report.descriptors_before + 1,
        open_connections_after=1,
    )
    problems = check(broken)
    assert any("builtins.KeyError" in line for line in problems)
    assert any("file descriptors" in line for line in problems)
    assert any("connections left open" in line for line in problems)


def test_a_budget_over_its_limit_is_caught(clean_report: RunReport) -> None:
    name = clean_report.budgets["strict"].name
    limit = clean_report.budget_states[name][0]
    states = {**clean_report.budget_states, name: (limit, limit + 1, 1)}
    problems = check(dataclasses.replace(clean_report, budget_states=states))
    assert any(f"spent {limit + 1} > limit {limit}" in line for line in problems)
    assert any("still reserved" in line for line in problems)


# --- the faults this suite added to LocalGateway --------------------------------------


def test_a_body_cut_mid_way_after_payment_is_in_doubt_and_recorded(
    gw: LocalGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "_sleep", lambda seconds: None)  # the resend's backoff
    ledger = Ledger(tmp_path / "usage.sqlite3")
    with BlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=ledger) as client:
        client.chat(model=PAID, messages=[{"role": "user", "content": "hi"}])  # pre-authorises
        gw.inject(Fault.cut_body(phase="paid"))
        with pytest.raises(PaymentInDoubtError) as info:
            client.chat(model=PAID, messages=[{"role": "user", "content": "what is 2 + 2"}])
    ledger.close()
    assert "no second payment was signed" in str(info.value)
    assert len(gw.payments) == 2  # the cut answer was settled before it was sent
    statuses = [r.status for r in Ledger(tmp_path / "usage.sqlite3").records()]
    assert statuses == ["settled", "in_doubt"]


def test_a_cut_body_breaks_the_json_and_the_connection(gw: LocalGateway) -> None:
    gw.inject(Fault.cut_body())
    body = {"model": FREE, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client() as http:
        with http.stream("POST", gw.url + "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
                response.read()
        assert http.post(gw.url + "/v1/chat/completions", json=body).json()["choices"]
    assert [r.status for r in gw.requests] == [200, 200]


def test_open_connections_counts_what_clients_hold(gw: LocalGateway) -> None:
    body = {"model": FREE, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client() as http:
        http.post(gw.url + "/v1/chat/completions", json=body)
        assert gw.open_connections >= 1  # kept alive by the client's pool
    assert wait_for(lambda: gw.open_connections == 0)
    assert LocalGateway().open_connections == 0  # not running
