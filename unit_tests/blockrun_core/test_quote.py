"""The gateway's quote formula and the token estimators (fast path and tiktoken)."""

from __future__ import annotations

import hashlib
import math
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from blockrun_core.catalog import (
    Catalog,
    ModelInfo,
    count_tokens,
    effective_max_tokens,
    estimate_input_tokens,
    estimate_text_tokens,
    quote_micros,
    quote_request,
)
from blockrun_core.catalog import tokens as tokens_module
from hypothesis import given
from hypothesis import strategies as st

CAT = Catalog.bundled()
MINI = CAT.get("openai/gpt-4o-mini")  # $0.15 / $0.60, max_output 16384
GPT55 = CAT.get("openai/gpt-5.5")  # $5 / $30
GEMINI_PRO = CAT.get("google/gemini-2.5-pro")  # $1.25 / $10; > 200k tokens: $2.50 / $15
DEEPSEEK = CAT.get("deepseek/deepseek-chat")  # $0.14 / $0.28
FLAT = CAT.get("zai/glm-5.1")  # $0.001 per request
FREE = CAT.get("nvidia/gpt-oss-120b")


def _body(content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}], **extra}


def _custom(**kw: Any) -> ModelInfo:
    fields: dict[str, Any] = {
        "id": "a/custom",
        "name": "Custom",
        "provider": "a",
        "billing_mode": "paid",
        "input_price": 1.0,
        "output_price": 1.0,
        "context_window": 100_000,
        "max_output": 4_096,
    }
    fields.update(kw)
    return ModelInfo(**fields)


# --- the input-token estimate ----------------------------------------------------------

# '[{"role":"user","content":"' is 27 characters and '"}]' is 3.
_ENVELOPE = 30


def test_estimate_is_compact_json_utf8_bytes_over_four_rounded_up() -> None:
    assert estimate_input_tokens([{"role": "user", "content": "hi"}]) == 8  # 32 bytes
    assert estimate_input_tokens(_body("a" * 3970)) == 1000  # exactly 4000 bytes
    assert estimate_input_tokens(_body("a" * 3971)) == 1001  # 4001 bytes: rounded up
    # Non-ASCII counts UTF-8 bytes, not characters: 日本 is 6 bytes.
    assert estimate_input_tokens(_body("日本")) == math.ceil((_ENVELOPE + 6) / 4)
    assert estimate_input_tokens(_body("é" * 10)) == math.ceil((_ENVELOPE + 20) / 4)


def test_estimate_of_a_body_counts_messages_and_tools_only() -> None:
    messages = [{"role": "user", "content": "hello"}]
    body = {"model": "x" * 500, "messages": messages, "max_tokens": 10, "temperature": 0.5}
    assert estimate_input_tokens(body) == estimate_input_tokens(messages)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    tools_json = '[{"type":"function","function":{"name":"f","parameters":{}}}]'
    messages_json = '[{"role":"user","content":"hello"}]'
    expected = math.ceil((len(messages_json) + len(tools_json)) / 4)
    assert estimate_input_tokens({**body, "tools": tools}) == expected
    assert estimate_input_tokens({}) == 1  # "[]"


def test_estimate_text_tokens() -> None:
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("abcd") == 1
    assert estimate_text_tokens("abcde") == 2
    assert estimate_text_tokens("日本") == 2  # 6 bytes


# --- paid models -------------------------------------------------------------------------


def test_small_paid_request_pays_the_floor_plus_the_fee() -> None:
    # 8 tokens * 0.15 + 0.1 * 1000 * 0.6 = 61.2 micro-USD, floored at 1000, + 1000 fee.
    quote = quote_request(MINI, _body("hi", max_tokens=1000))
    assert (quote.input_tokens, quote.max_tokens, quote.micros) == (8, 1000, 2000)
    assert quote.usd == 0.002
    assert not quote.long_context
    assert quote_micros(MINI, _body("hi", max_tokens=1000)) == 2000


def test_paid_request_above_the_floor() -> None:
    # 1000 tokens * $5/M = 5000 + 0.1 * 1000 * $30/M = 3000, + 1000 fee.
    assert quote_micros(GPT55, _body("a" * 3970, max_tokens=1000)) == 9_000
    # 10 000 * 5 + 0.1 * 8192 * 30 = 50 000 + 24 576, + fee.
    assert quote_micros(GPT55, _body(max_tokens=8192), input_tokens=10_000) == 75_576


def test_fractions_of_a_micro_round_up() -> None:
    # 10 001 * 0.14 + 0.1 * 1 * 0.28 = 1400.168 -> 1401, + fee.
    assert quote_micros(DEEPSEEK, _body(max_tokens=1), input_tokens=10_001) == 2_401
    # Exactly on a whole micro: no rounding up.
    assert quote_micros(DEEPSEEK, _body(max_tokens=0), input_tokens=10_000) == 2_400


def test_max_tokens_default_and_clamp() -> None:
    assert effective_max_tokens(MINI, _body()) == 8192  # min(16384, 8192)
    assert effective_max_tokens(_custom(max_output=4096), _body()) == 4096
    assert effective_max_tokens(MINI, _body(max_tokens=1_000_000)) == 16_384
    assert quote_micros(MINI, _body(max_tokens=1_000_000)) == quote_micros(
        MINI, _body(max_tokens=16_384)
    )
    assert effective_max_tokens(MINI, _body(max_tokens=10, max_completion_tokens=500)) == 500
    assert effective_max_tokens(MINI, _body(max_tokens=900, max_completion_tokens=500)) == 900
    assert effective_max_tokens(MINI, _body(max_completion_tokens=700)) == 700
    assert effective_max_tokens(MINI, _body(max_tokens=100.2)) == 101
    assert effective_max_tokens(MINI, _body(max_tokens=True)) == 8192
    assert effective_max_tokens(MINI, _body(max_tokens="100")) == 8192
    assert effective_max_tokens(MINI, _body(max_tokens=float("inf"))) == 8192
    assert effective_max_tokens(MINI, _body(max_tokens=-5)) == 0


def test_default_max_tokens_is_what_gets_priced() -> None:
    # 100 tokens * 5 + 0.1 * 8192 * 30 = 500 + 24 576, + fee.
    assert quote_micros(GPT55, _body(), input_tokens=100) == 26_076


def test_long_context_reprices_the_whole_request() -> None:
    at = quote_request(GEMINI_PRO, _body(max_tokens=1000), input_tokens=200_000)
    # 200 000 * 1.25 + 0.1 * 1000 * 10 = 251 000, + fee.
    assert (at.micros, at.long_context) == (252_000, False)
    over = quote_request(GEMINI_PRO, _body(max_tokens=1000), input_tokens=200_001)
    # 200 001 * 2.5 + 0.1 * 1000 * 15 = 501 502.5 -> 501 503, + fee.
    assert (over.micros, over.long_context) == (502_503, True)


def test_long_context_from_a_real_body() -> None:
    model = _custom(long_context_threshold=100, long_input_price=2.0, long_output_price=3.0)
    short = _body("a" * (400 - _ENVELOPE), max_tokens=0)  # exactly 100 tokens
    long = _body("a" * (401 - _ENVELOPE), max_tokens=0)  # 101 tokens
    assert not quote_request(model, short).long_context
    assert quote_request(model, long).long_context
    assert quote_request(model, long).input_tokens == 101


def test_live_search_is_added() -> None:
    grok = CAT.get("grok")
    base = quote_micros(grok, _body(max_tokens=100))
    on = {"mode": "on", "max_search_results": 4}
    assert quote_micros(grok, _body(max_tokens=100, search_parameters=on)) == base + 4 * 26_250
    default = {"mode": "auto"}
    assert quote_micros(grok, _body(max_tokens=100, search_parameters=default)) == base + 262_500
    huge = {"mode": "on", "max_search_results": 500}
    assert quote_micros(grok, _body(max_tokens=100, search_parameters=huge)) == base + 1_312_500
    off = {"mode": "off", "max_search_results": 4}
    assert quote_micros(grok, _body(max_tokens=100, search_parameters=off)) == base


def test_precomputed_input_tokens_match_and_must_be_sane() -> None:
    body = _body("some text " * 100, max_tokens=300)
    tokens = estimate_input_tokens(body)
    assert quote_micros(GPT55, body, input_tokens=tokens) == quote_micros(GPT55, body)
    with pytest.raises(ValueError, match="input_tokens"):
        quote_micros(GPT55, body, input_tokens=-1)


# --- flat and free -----------------------------------------------------------------------


def test_flat_models_cost_the_flat_price_whatever_the_size() -> None:
    assert quote_micros(FLAT, _body(max_tokens=1)) == 1_000
    assert quote_micros(FLAT, _body("x" * 100_000, max_tokens=100_000)) == 1_000
    odd = _custom(billing_mode="flat", flat_price=0.0123456)
    assert quote_micros(odd, _body()) == 12_346  # 12 345.6 rounded up
    assert quote_request(odd, _body()).micros == 12_346


def test_free_models_cost_nothing() -> None:
    assert quote_micros(FREE, _body("x" * 100_000, max_tokens=1_000_000)) == 0
    search = {"mode": "on"}
    assert quote_micros(FREE, _body(search_parameters=search)) == 0
    assert quote_request(FREE, _body()).micros == 0


# --- properties ----------------------------------------------------------------------------

_MODELS = st.sampled_from(CAT.models())
_PAID = st.sampled_from([m for m in CAT if m.billing_mode == "paid"])


@given(_MODELS, st.integers(0, 300_000), st.integers(0, 300_000), st.text(max_size=300))
def test_quote_is_monotonic_in_max_tokens(model: ModelInfo, a: int, b: int, text: str) -> None:
    low, high = sorted((a, b))
    assert quote_micros(model, _body(text, max_tokens=low)) <= quote_micros(
        model, _body(text, max_tokens=high)
    )


@given(_MODELS, st.text(max_size=400), st.text(max_size=400), st.integers(0, 20_000))
def test_quote_is_monotonic_in_message_length(
    model: ModelInfo, text: str, more: str, max_tokens: int
) -> None:
    assert quote_micros(model, _body(text, max_tokens=max_tokens)) <= quote_micros(
        model, _body(text + more, max_tokens=max_tokens)
    )


@given(_MODELS, st.integers(0, 2_000_000), st.integers(0, 2_000_000))
def test_quote_is_monotonic_in_input_tokens(model: ModelInfo, a: int, b: int) -> None:
    low, high = sorted((a, b))
    body = _body(max_tokens=1000)
    assert quote_micros(model, body, input_tokens=low) <= quote_micros(
        model, body, input_tokens=high
    )


@given(_PAID, st.integers(0, 2_000_000), st.integers(0, 200_000))
def test_quote_is_the_exact_formula_rounded_up(model: ModelInfo, tokens: int, asked: int) -> None:
    max_tokens = min(asked, model.max_output)
    long = model.long_context_threshold is not None and tokens > model.long_context_threshold
    in_rate = Fraction(repr(model.long_input_price if long else model.input_price))
    out_rate = Fraction(repr(model.long_output_price if long else model.output_price))
    exact = tokens * in_rate + Fraction(max_tokens, 10) * out_rate  # micro-USD
    expected = max(math.ceil(exact), 1000) + 1000
    assert quote_micros(model, _body(max_tokens=asked), input_tokens=tokens) == expected


# --- tiktoken ------------------------------------------------------------------------------

_O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
_CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


class _FakeEncoding:
    """Counts words, so its answer differs from the chars/4 estimate."""

    def encode_ordinary(self, text: str) -> list[int]:
        return list(range(len(text.split())))


@pytest.fixture
def tiktoken_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tiktoken cache directory and a forgotten encoding memo."""
    cache = tmp_path / "tiktoken"
    cache.mkdir()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(tokens_module, "_ENCODINGS", {})
    return cache


def _cache_file(cache: Path, url: str) -> None:
    (cache / hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()).write_bytes(b"fake")


def _spy_get_encoding(monkeypatch: pytest.MonkeyPatch, result: Any) -> list[str]:
    tiktoken = pytest.importorskip("tiktoken")
    calls: list[str] = []

    def fake(name: str) -> Any:
        calls.append(name)
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(tiktoken, "get_encoding", fake)
    return calls


def test_count_tokens_falls_back_without_downloading(
    tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _spy_get_encoding(monkeypatch, AssertionError("must not download"))
    assert count_tokens("hello world, again", "openai/gpt-4o") == estimate_text_tokens(
        "hello world, again"
    )
    assert calls == []
    # The miss is remembered: a file appearing later is not picked up mid-process.
    _cache_file(tiktoken_cache, _O200K_URL)
    assert count_tokens("a b c", "openai/gpt-4o") == 2
    assert calls == []


def test_count_tokens_in_the_real_environment(tiktoken_cache: Path) -> None:
    # No encoding is cached on this machine and tiktoken cannot download: fast estimate.
    assert count_tokens("The quick brown fox", "anthropic/claude-sonnet-4.6") == 5


def test_count_tokens_uses_a_locally_cached_encoding(
    tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_file(tiktoken_cache, _O200K_URL)
    calls = _spy_get_encoding(monkeypatch, _FakeEncoding())
    text = "one two three four five six seven"
    assert count_tokens(text, "openai/gpt-5.5") == 7
    assert count_tokens(text, "sonnet") == 7
    assert estimate_text_tokens(text) != 7
    assert calls == ["o200k_base"]  # loaded once, then remembered


def test_count_tokens_picks_cl100k_for_old_gpt4(
    tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_file(tiktoken_cache, _CL100K_URL)
    calls = _spy_get_encoding(monkeypatch, _FakeEncoding())
    assert count_tokens("a b", "openai/gpt-4") == 2
    assert count_tokens("a b c d e f g h", "openai/gpt-4o") == 4  # o200k not cached
    assert calls == ["cl100k_base"]


def test_a_broken_encoding_is_tried_once(
    tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_file(tiktoken_cache, _O200K_URL)
    calls = _spy_get_encoding(monkeypatch, ValueError("hash mismatch"))
    assert count_tokens("abcdefgh", "openai/gpt-5.5") == 2
    assert count_tokens("abcdefgh", "openai/gpt-5.5") == 2
    assert calls == ["o200k_base"]


def test_count_tokens_without_tiktoken_installed(
    tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache_file(tiktoken_cache, _O200K_URL)
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # import raises ImportError
    assert count_tokens("abcdefgh", "openai/gpt-5.5") == 2


def test_disabled_tiktoken_cache_means_no_tiktoken(
    tiktoken_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    calls = _spy_get_encoding(monkeypatch, _FakeEncoding())
    assert count_tokens("a b c d e", "openai/gpt-5.5") == 3
    assert calls == []


@pytest.mark.parametrize(
    ("model_id", "encoding"),
    [
        ("openai/gpt-4", "cl100k_base"),
        ("openai/gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("openai/gpt-4o-mini", "o200k_base"),
        ("openai/gpt-4.1", "o200k_base"),
        ("openai/gpt-5.5", "o200k_base"),
        ("anthropic/claude-opus-5", "o200k_base"),
    ],
)
def test_encoding_choice(model_id: str, encoding: str) -> None:
    assert tokens_module.encoding_name_for(model_id) == encoding
