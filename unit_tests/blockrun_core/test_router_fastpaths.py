"""The router's fast paths compute exactly what the plain formulas they replace do."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from blockrun_core.catalog import default_catalog
from blockrun_core.router import classifier as classifier_module
from blockrun_core.router import decide as decide_module
from blockrun_core.router import lexicon as lexicon_module
from blockrun_core.router.filters import Chain, Needs, unmet_need
from blockrun_core.router.types import RoutingDecision, _decision, _Draft
from hypothesis import given, settings
from hypothesis import strategies as st

# Pieces that make the code hints, fences and lines, among prose and other scripts.
PIECES = st.sampled_from(
    ["(", ")", "-", ">", "=", "<", "/", "{", "}", ";", "\n", "`", "```", "def ", "return ",
     "import ", "a", " ", "é", "字", "^", "+", "3n", "x^2", "∑", "what is"]
)  # fmt: skip
TEXTS = st.lists(PIECES, max_size=80).map("".join)
# The same without other scripts: ASCII text takes its own path through the code hints.
ASCII_PIECES = st.sampled_from(
    ["(", ")", "-", ">", "=", "<", "/", "{", "}", ";", "\n", "\n\n\n", "`", "```", "def ",
     "return ", "import ", "a", " ", "()", "->", "=>", "</", "x = 1;\n"]
)  # fmt: skip
ASCII_TEXTS = st.lists(ASCII_PIECES, max_size=120).map("".join)


def _code_lines_reference(text: str) -> int:
    if text.count("```") >= 2:
        return max(text.count("\n", text.find("```"), text.rfind("```")) - 1, 1)
    lines = text.count("\n")
    if lines < 3:
        return 0
    hits = sum(text.count(hint) for hint in classifier_module._CODE_HINTS)
    return lines if hits >= max(4, lines // 2) else 0


@settings(max_examples=500, deadline=None)
@given(TEXTS)
def test_code_lines_matches_counting_every_hint(text: str) -> None:
    assert classifier_module._code_lines(text) == _code_lines_reference(text)


@settings(max_examples=500, deadline=None)
@given(ASCII_TEXTS)
def test_code_lines_of_ascii_text_match_counting_every_hint(text: str) -> None:
    assert text.isascii()
    assert classifier_module._code_lines(text) == _code_lines_reference(text)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_pair_count_matches_str_count(text: str) -> None:
    for probe, pairs in (("(", ("()",)), (">", ("->", "=>")), ("<", ("</",))):
        expected = sum(text.count(pair) for pair in pairs)
        assert classifier_module._pair_count(text, probe, pairs) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=120))
def test_ascii_scan_matches_the_general_path(text: str) -> None:
    low = text.lower()
    bits, raw, dense = lexicon_module.scan(low)
    tokens = lexicon_module._tokens(raw, b"")
    expected = lexicon_module.NOTATION if lexicon_module._has_maths(raw, b"") else 0
    padded = " " + b" ".join(tokens).decode() + " "
    for word in lexicon_module._VOCAB.intersection(tokens):
        word_bits, options = lexicon_module._ENTRIES[word]
        expected |= word_bits
        for phrase, bit in options:
            if phrase in padded:
                expected |= bit
    assert (bits, raw, dense) == (expected, low.encode(), 0)


def test_tool_sizes_match_json_dumps() -> None:
    tools = [{"type": "function", "function": {"name": "f", "description": 'ünï "q"\n'}}]
    text = json.dumps(tools, ensure_ascii=False, separators=(",", ":"), default=str)
    assert decide_module._json_chars(tools) == len(text.encode())
    assert decide_module._json_chars([{"x": {1, 2}}]) == len('[{"x":"{1, 2}"}]')
    circular: list[object] = []
    circular.append(circular)
    assert decide_module._json_chars(circular) == 0


def test_decision_factory_matches_the_constructor() -> None:
    values = ("m", "SIMPLE", "auto", 0.5, ("s",), ("m", "n"), 0.001, 0.002, 0.5, True, ())
    made = _decision(*values)  # type: ignore[arg-type]
    values += (None,)  # downgraded_by: only the client's budget check sets it
    built = RoutingDecision(*values)  # type: ignore[arg-type]
    assert made == built
    assert dataclasses.astuple(made) == values
    assert made.to_dict() == built.to_dict()


def test_decision_drafts_fill_every_field_by_name() -> None:
    init = _Draft.__init__.__code__
    names = init.co_varnames[1 : init.co_argcount]
    assert names == tuple(field.name for field in dataclasses.fields(RoutingDecision))


# ---- the single pass over the messages ------------------------------------------------


def _request_reference(messages: Sequence[Any]) -> tuple[Any, ...]:
    """What the classifier reads of a request, found the plain way: locate the last user
    turn first, then read every message relative to it."""
    user = system = previous = assistant = ""
    image = tool_loop = False
    total = 0
    last_user = -1
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, Mapping) and message.get("role") == "user":
            last_user = index
            break
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            continue
        text, has_image = classifier_module._text_of(message.get("content"))
        total += len(text)
        image = image or has_image
        role = message.get("role")
        if index == last_user:
            user = text
        elif role in ("system", "developer"):
            system = system or text
        elif index < last_user and role == "user":
            previous, assistant = text, ""
        elif index < last_user and role == "assistant":
            assistant = text[: classifier_module._ASSISTANT_HEAD]
        elif index > last_user and role == "tool":
            tool_loop = True
    if last_user < 0 and messages and isinstance(messages[-1], Mapping):
        user = classifier_module._text_of(messages[-1].get("content"))[0]
    return user, system, previous, assistant, image, tool_loop, total


CONTENTS = st.one_of(
    st.sampled_from(["", "hi", "explain this", "x" * 5_000]),
    st.lists(
        st.sampled_from(
            [
                {"type": "text", "text": "part"},
                {"type": "image_url", "image_url": {"url": "u"}},
                {"type": "other", "text": "no"},
                "not a part",
            ]
        ),
        max_size=3,
    ),
    st.none(),
)
MESSAGES = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(
                    ["user", "assistant", "system", "developer", "tool", "other"]
                ),
                "content": CONTENTS,
            }
        ),
        st.sampled_from([None, 3, "not a message"]),
    ),
    max_size=7,
)


@settings(max_examples=400, deadline=None)
@given(MESSAGES)
def test_one_pass_over_the_messages_reads_what_locating_the_last_user_turn_does(
    messages: list[Any],
) -> None:
    parts = classifier_module._Request(messages)
    read = (
        parts.user,
        parts.system,
        parts.previous,
        parts.assistant,
        parts.image,
        parts.tool_loop,
        parts.total_chars,
    )
    assert read == _request_reference(messages)


# ---- scoring ----------------------------------------------------------------------------


def test_token_counts_in_one_band_score_alike() -> None:
    # Every concept alone and beside each concept whose rules test the size: within a
    # band, any token count gives the scores (and reasons) of every other.
    concepts = sorted(lexicon_module.BITS.values())
    sized = [lexicon_module.BITS[name] for name in ("greeting", "definition", "trivial_code")]
    bands = classifier_module._BANDS
    for bits in {0, *concepts, *(a | b for a in concepts for b in sized)}:
        by_band: dict[int, object] = {}
        for tokens in range(len(bands) + 10):
            band = bands[tokens] if tokens < len(bands) else classifier_module._TOP_BAND
            scores = classifier_module._cue_scores(tokens, bits)
            assert by_band.setdefault(band, scores) == scores, (bits, tokens)


def _best_tier_reference(scores: list[float], floor: int) -> tuple[int, float]:
    best = floor
    for tier in range(floor + 1, 4):
        if scores[tier] > scores[best] or (scores[tier] == scores[best] > 0):
            best = tier
    runner_up = max(scores[tier] for tier in range(floor, 4) if tier != best)
    return best, scores[best] - runner_up


SCORES = st.lists(
    st.one_of(st.sampled_from([-1.0, 0.0, 0.5, 1.0]), st.floats(-3, 3)), min_size=4, max_size=4
)


@settings(max_examples=500, deadline=None)
@given(SCORES, st.sampled_from([0, 1]))
def test_best_tier_matches_walking_the_tiers_up(scores: list[float], floor: int) -> None:
    assert classifier_module._best_tier(list(scores), floor) == _best_tier_reference(scores, floor)


def _enumerated_reference(low: str) -> int:
    commas = low.count("、")
    items = commas + 1 if commas >= 2 else 0
    colon = max(low.find(":"), low.find("："))
    if colon < 0:
        colon = max(map(low.find, classifier_module._LIST_OPENERS))
    if colon < 0:
        return items
    rest = low[colon : colon + 400]
    end = rest.find(". ")
    if end > 0:
        rest = rest[:end]
    separators = rest.count(", ") + rest.count("，") + rest.count("、") + rest.count("،")
    return max(
        items,
        separators + rest.count("; ") + any(map(rest.__contains__, classifier_module._AND)) + 1,
    )


LIST_PIECES = st.sampled_from(
    [":", "：", "including", "y compris", "包括", "、", ", ", "，", "; ", "،", " and ", " и ",
     "和", ". ", "a", " ", "é"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(LIST_PIECES, max_size=40).map("".join))
def test_listed_parts_match_searching_every_script(low: str) -> None:
    assert classifier_module._enumerated(low) == _enumerated_reference(low)


QUOTE_PIECES = st.sampled_from(["'", '"', "`", "«", "»", "「", "」", "a", "what's", " ", "\n", "1"])


@settings(max_examples=400, deadline=None)
@given(st.lists(QUOTE_PIECES, max_size=30).map("".join))
def test_quoted_snippets_match_scanning_every_quote(text: str) -> None:
    expected = any(
        found.start() == 0 or not text[found.start() - 1].isalpha()
        for found in classifier_module._QUOTED.finditer(text)
    )
    assert classifier_module._quotes_snippet(text) == expected


# ---- route() ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(default_catalog().models()), max_size=6),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=0, max_value=2_000_000),
    st.integers(min_value=1, max_value=300_000),
)
def test_a_chain_keeps_the_models_that_can_serve(
    models: list[Any], tools: bool, vision: bool, structured: bool, tokens: int, max_tokens: int
) -> None:
    chain = Chain(models)
    needs = Needs(tools, vision, structured, tokens, max_tokens)
    reasons = [(model.id, unmet_need(model, needs)) for model in chain.models]
    kept, dropped = chain.split(needs)
    assert kept == tuple(model for model, reason in reasons if reason is None)
    assert dropped == tuple((model, reason) for model, reason in reasons if reason is not None)


def test_tool_sizes_are_remembered_per_list_and_follow_its_changes() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    tools: list[Any] = [tool]
    size = decide_module._tools_chars(tools)
    assert size == decide_module._json_chars(tools)
    assert decide_module._tools_chars(tools) == size  # remembered
    tools.append({"type": "function", "function": {"name": "g"}})
    assert decide_module._tools_chars(tools) == decide_module._json_chars(tools) > size
    tools[1] = {"type": "function", "function": {"name": "a much longer name"}}
    assert decide_module._tools_chars(tools) == decide_module._json_chars(tools)
    as_tuple = tuple(tools)
    assert decide_module._tools_chars(as_tuple) == decide_module._json_chars(as_tuple)
    assert decide_module._tools_chars(tools) == decide_module._json_chars(tools)


def test_a_price_without_long_context_rates_never_switches_to_them() -> None:
    flat = next(m for m in default_catalog().models() if not m.has_long_context_pricing)
    assert decide_module._Price(flat).long_threshold == math.inf


WIDE_PUNCT_REFERENCE = re.compile(
    rb"\xc2[\xa1\xab\xbb\xbf]|\xe2\x80[\x93\x94\x98\x99\x9c\x9d\x9e\xa6]|\xd8[\x8c\x9b\x9f]"
)
WORD_PIECES = st.sampled_from(
    ["¡", "«", "»", "¿", "–", "—", "‘", "’", "“", "”", "„", "…", "،", "؛", "؟", "a", " ", "é",
     "ال", "и", "字", "²", "∑", ",", "-", "x"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(WORD_PIECES, max_size=40).map("".join))
def test_words_split_at_the_punctuation_of_every_script(text: str) -> None:
    raw = lexicon_module.utf8(text)
    classes = raw.translate(lexicon_module._LEAD_CLASS)
    expected = WIDE_PUNCT_REFERENCE.sub(b" ", raw.translate(lexicon_module._BYTE_TABLE)).split()
    assert lexicon_module._tokens(raw, classes) == expected
    assert lexicon_module._tokens(raw) == expected
