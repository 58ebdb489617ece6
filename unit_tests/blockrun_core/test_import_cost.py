"""A paid call must not pay for pydantic: the client's cold start stays small.

pydantic and pydantic_core are the largest avoidable import costs (~100 ms together), so
a fresh process that imports the client, pays for a call and a stream, and parses both
must leave them unloaded. Checked in a subprocess against the shared LocalGateway.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from blockrun_core.testing import HARDHAT_KEY, LocalGateway

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from blockrun_core import AsyncBlockRunClient, BlockRunClient

    url, key = sys.argv[1], sys.argv[2]
    paid, messages = "openai/gpt-4o-mini", [{"role": "user", "content": "what is 12 * 7"}]
    with BlockRunClient(api_url=url, wallet_key=key, timeout=5.0) as client:
        result = client.chat(model=paid, messages=messages, max_tokens=64)
        chunks = list(client.stream(model=paid, messages=messages, max_tokens=64))

    async def main():
        async with AsyncBlockRunClient(api_url=url, wallet_key=key, timeout=5.0) as client:
            return await client.chat(model=paid, messages=messages, max_tokens=64)

    again = asyncio.run(main())
    usage = result.usage
    print(json.dumps({
        "content": [result.content, "".join(c.delta for c in chunks), again.content],
        "paid": [result.cost_usd, chunks[-1].cost_usd, again.cost_usd],
        "total_tokens": usage.total_tokens if usage else None,
        "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in
                         ("pydantic", "pydantic_core")),
    }))
    """
)


def test_paid_call_and_stream_do_not_import_pydantic(gw: LocalGateway) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, gw.url, HARDHAT_KEY],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["loaded"] == []
    assert report["content"] == ["84", "84", "84"]
    assert all(cost and cost > 0 for cost in report["paid"])
    assert report["total_tokens"]
    assert len(gw.payments) == 3
