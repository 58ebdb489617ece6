"""The async client lets at most a pool's worth of calls in flight; the rest wait in order."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from blockrun_core import AsyncBlockRunClient, UpstreamError
from blockrun_core.testing import LocalGateway
from blockrun_core.transport import POOL_CONNECTIONS, CallGate

from unit_tests.conftest import HARDHAT_KEY

FREE = "nvidia/gpt-oss-120b"
HI = [{"role": "user", "content": "what is 2 + 2"}]


async def test_a_gate_admits_its_size_and_queues_the_rest_in_order() -> None:
    gate = CallGate(2)
    inside, peak, order = 0, 0, []

    async def call(i: int) -> None:
        nonlocal inside, peak
        async with gate():
            inside += 1
            peak = max(peak, inside)
            order.append(i)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(call(i) for i in range(10)))
    assert peak == 2 and order == list(range(10))


def test_each_event_loop_gets_its_own_semaphore() -> None:
    gate = CallGate(1)

    async def use() -> asyncio.Semaphore:
        async with gate():
            await asyncio.sleep(0)
        return gate()

    first, second = asyncio.run(use()), asyncio.run(use())
    assert first is not second


async def test_a_burst_larger_than_the_pool_completes_within_the_pool(
    gw: LocalGateway,
) -> None:
    async with AsyncBlockRunClient(api_url=gw.url, wallet_key=HARDHAT_KEY, ledger=False) as client:
        results = await asyncio.gather(
            *(client.chat(model=FREE, messages=HI) for _ in range(POOL_CONNECTIONS * 2 + 50))
        )
        assert all(r.content == "4" for r in results)
        assert gw.open_connections <= POOL_CONNECTIONS


async def test_a_client_given_its_own_http_client_keeps_its_own_limits(gw: LocalGateway) -> None:
    own = httpx.AsyncClient(limits=httpx.Limits(max_connections=3))
    async with AsyncBlockRunClient(api_url=gw.url, http_client=own, ledger=False) as client:
        results = await asyncio.gather(*(client.chat(model=FREE, messages=HI) for _ in range(20)))
    assert all(r.content == "4" for r in results)
    assert client._gate is None


async def test_waiting_past_the_pool_timeout_is_an_upstream_error_with_nothing_sent() -> None:
    gate = CallGate(1)
    async with gate.slot(1.0):
        with pytest.raises(UpstreamError) as info:
            async with gate.slot(0.01):
                pytest.fail("entered a full gate")
    assert info.value.code == "TIMEOUT" and "Nothing was sent" in info.value.message
    async with gate.slot(0.01):  # the place came back
        pass


async def test_an_open_stream_holds_its_place_until_it_ends(gw: LocalGateway) -> None:
    timeout = httpx.Timeout(5.0, pool=0.05)
    client = AsyncBlockRunClient(api_url=gw.url, ledger=False, timeout=timeout)
    client._gate = CallGate(1)
    async with client:
        stream = client.stream(model=FREE, messages=HI)
        first = await anext(stream)
        assert first is not None
        with pytest.raises(UpstreamError, match="Nothing was sent"):
            await client.chat(model=FREE, messages=HI)
        assert len(gw.requests) == 1
        [chunk async for chunk in stream]
        assert (await client.chat(model=FREE, messages=HI)).content == "4"
