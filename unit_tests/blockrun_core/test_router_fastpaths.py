"""The router's fast paths compute exactly what the plain formulas they replace do."""

from __future__ import annotations

import dataclasses
import json

from blockrun_core.router import classifier as classifier_module
from blockrun_core.router import decide as decide_module
from blockrun_core.router import lexicon as lexicon_module
from blockrun_core.router.types import RoutingDecision, _decision
from hypothesis import given, settings
from hypothesis import strategies as st

# Pieces that make the code hints, fences and lines, among prose and other scripts.
PIECES = st.sampled_from(
    ["(", ")", "-", ">", "=", "<", "/", "{", "}", ";", "\n", "`", "```", "def ", "return ",
     "import ", "a", " ", "é", "字", "^", "+", "3n", "x^2", "∑", "what is"]
)  # fmt: skip
TEXTS = st.lists(PIECES, max_size=80).map("".join)


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
    tokens = lexicon_module._tokens(raw, False)
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
    built = RoutingDecision(*values)  # type: ignore[arg-type]
    assert made == built
    assert dataclasses.astuple(made) == values
    assert made.to_dict() == built.to_dict()
