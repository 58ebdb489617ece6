"""loads_untrusted: stdlib JSON that refuses deep nesting instead of crashing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from blockrun_core._json import _SHORT, JSONDepthError, _depth, loads_untrusted
from hypothesis import given
from hypothesis import strategies as st

PAD = '"' + "x" * _SHORT + '"'  # makes a document long enough to be measured


def nested(depth: int, *, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def test_plain_documents_parse_like_json_loads() -> None:
    text = '{"a": [1, 2.5, "x", null, true], "b": {"c": "é"}}'
    assert loads_untrusted(text) == json.loads(text)
    assert loads_untrusted(text.encode()) == json.loads(text)
    assert loads_untrusted(text.encode("utf-16")) == json.loads(text)


@pytest.mark.parametrize(
    "document",
    [
        nested(100_000),
        "[" * 100_000,  # unclosed: the decoder would recurse before seeing the error
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        nested(513, inner=PAD),
    ],
)
def test_deep_long_documents_are_refused(document: str) -> None:
    with pytest.raises(JSONDepthError, match="nests too deeply"):
        loads_untrusted(document)
    with pytest.raises(ValueError, match="nests too deeply"):
        loads_untrusted(document.encode())


def test_depth_limit_is_exact() -> None:
    assert loads_untrusted(nested(5, inner=PAD), max_depth=5) == json.loads(nested(5, inner=PAD))
    with pytest.raises(JSONDepthError):
        loads_untrusted(nested(6, inner=PAD), max_depth=5)
    assert isinstance(loads_untrusted(nested(512, inner=PAD)), list)


def test_short_documents_skip_the_scan() -> None:
    # Short enough to be safe for the C stack: plain json.loads, whatever max_depth says.
    assert loads_untrusted(nested(10), max_depth=2) == json.loads(nested(10))


def test_utf16_deep_documents_are_refused() -> None:
    with pytest.raises(JSONDepthError):
        loads_untrusted(nested(5_000).encode("utf-16"))


@pytest.mark.parametrize(
    "inside",
    [
        "[" * 5_000,
        '\\"' + "{" * 5_000,  # an escaped quote does not end the string
        '\\\\\\"' + "[" * 5_000,  # escaped backslash, then escaped quote
        "\\u005b" * 5_000,
    ],
)
def test_brackets_inside_strings_do_not_count(inside: str) -> None:
    document = '{"key": ["' + inside + '"]}'
    assert json.loads(document)  # the test documents are valid
    assert loads_untrusted(document) == json.loads(document)
    assert _depth(document) == 2


def test_an_escaped_backslash_ends_the_string() -> None:
    # '"\\\\"' is a string holding one backslash; the brackets after it are real.
    document = '["\\\\", ' + nested(600, inner=PAD) + "]"
    assert _depth(document) == 601
    with pytest.raises(JSONDepthError):
        loads_untrusted(document)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe\xfd",
        b'["\xff"]',
        b'["\xc3' + b"[" * 5_000 + b'"]',  # long: decoded before the scan
        b"[\xff" + b"[" * 5_000,
    ],
)
def test_invalid_utf8_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="can't decode"):
        loads_untrusted(data)


@pytest.mark.parametrize("padding", [b"", b" " * _SHORT])
def test_lone_surrogates_are_decoded_like_json_loads(padding: bytes) -> None:
    data = b'["\xed\xa0\x80", ' + b"[]," * 600 + b"1]" + padding
    assert loads_untrusted(data) == json.loads(data)


def test_recursion_error_becomes_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def overflow(*_args: Any, **_kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(json, "loads", overflow)
    with pytest.raises(JSONDepthError, match="nests too deeply"):
        loads_untrusted("[[1]]")


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text("[]{}\"\\x/'", max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text('[]{}"\\k', max_size=8), children, max_size=4)
    ),
    max_leaves=40,
)


def _reference_depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_reference_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_reference_depth, value.values()), default=0)
    return 0


@given(value=_JSON_VALUES, ascii_only=st.booleans())
def test_depth_scan_matches_the_real_depth(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _depth(text) == _reference_depth(value)
    limit = _reference_depth(value)
    assert loads_untrusted(text + " " * _SHORT, max_depth=limit) == value


@given(text=st.text('[]{}"\\ ,:1a\x00é', max_size=3_000), pad=st.booleans())
def test_any_input_parses_or_raises_value_error(text: str, pad: bool) -> None:
    document = text + " " * (_SHORT if pad else 0)
    for data in (document, document.encode("utf-8", "surrogatepass")):
        try:
            result = loads_untrusted(data, max_depth=8)
        except ValueError:
            continue
        assert result == json.loads(data)


SMALL_STACK_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(512 * 1024)
    from blockrun_core._json import _SHORT, loads_untrusted

    def run():
        for document in ("[" * _SHORT, '{"":' * (_SHORT // 4), "[" * 1_000_000):
            try:
                loads_untrusted(document)
            except ValueError:
                pass
        print("ok")

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    """
)


def test_short_documents_are_safe_in_a_small_thread_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SMALL_STACK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
