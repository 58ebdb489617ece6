"""The clients' own HTTP clients keep no cookies: the API is stateless, parsing them costs."""

from __future__ import annotations

import httpx
from blockrun_core import AsyncBlockRunClient, BlockRunClient
from blockrun_core.transport import AsyncCookielessClient, CookielessClient


def _recording(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"set-cookie": "session=abc; Path=/"}, json={})

    return httpx.MockTransport(handler)


def test_set_cookie_answers_are_not_kept_or_sent_back() -> None:
    seen: list[httpx.Request] = []
    with CookielessClient(transport=_recording(seen)) as http:
        http.post("https://blockrun.ai/api/v1/chat/completions", content=b"{}")
        http.post("https://blockrun.ai/api/v1/chat/completions", content=b"{}")
        assert len(http.cookies) == 0
    assert [r.headers.get("cookie") for r in seen] == [None, None]


async def test_the_async_client_keeps_none_either() -> None:
    seen: list[httpx.Request] = []
    async with AsyncCookielessClient(transport=_recording(seen)) as http:
        await http.post("https://blockrun.ai/api/v1/chat/completions", content=b"{}")
        await http.post("https://blockrun.ai/api/v1/chat/completions", content=b"{}")
    assert [r.headers.get("cookie") for r in seen] == [None, None]


async def test_our_clients_use_them_and_leave_a_given_http_client_alone() -> None:
    assert isinstance(BlockRunClient()._http, CookielessClient)
    assert isinstance(AsyncBlockRunClient()._http, AsyncCookielessClient)
    own = httpx.Client()
    assert BlockRunClient(http_client=own)._http is own
