"""Hostile, deeply nested JSON must fail cleanly, never crash the interpreter.

With a raised recursion limit (hypothesis and other tools raise it), the stdlib's C JSON
decoder overflows the C stack on deep nesting and segfaults. Every parser of untrusted
JSON must stay safe then too, so the check runs in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.setrecursionlimit(200_000)
    from blockrun_core.errors import BlockRunError
    from blockrun_core.http_errors import error_from_response
    from blockrun_core.wire import StreamAssembler
    from blockrun_core.x402 import parse_challenge
    from blockrun_core.x402.encoding import decode_b64_json, encode_b64_json
    deep = "[" * 150_000 + "]" * 150_000
    outcomes = []
    for parse in (
        lambda: parse_challenge({}, deep.encode()),
        lambda: StreamAssembler().add(deep),
        lambda: decode_b64_json(__import__("base64").b64encode(deep.encode()).decode()),
    ):
        try:
            parse()
            outcomes.append("accepted")
        except (BlockRunError, ValueError) as exc:
            outcomes.append(type(exc).__name__)
    error = error_from_response(500, {}, deep.encode(), model="m")
    outcomes.append(type(error).__name__)
    print(",".join(outcomes))
    """
)


def test_deeply_nested_json_is_refused_without_crashing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ("PaymentRefusedError,UpstreamError,ValueError,UpstreamError")
