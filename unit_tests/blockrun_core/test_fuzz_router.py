"""Property tests of ``route()``: any conversation gets a valid, explainable decision, and a
megabyte of generated adversarial text costs no more than a few linear passes over it.

``test_router_classifier.py`` fuzzes the classifier and times fixed adversarial texts; these
go through the whole decision (profiles, capability filters, prices) and generate the
repeated units. The time check compares against a linear baseline measured on the same
text in the same process, with a wide margin: catastrophic backtracking is quadratic or
worse, i.e. hundreds of times slower on a megabyte, not a few times.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from blockrun_core.catalog import default_catalog
from blockrun_core.errors import NoCapableModelError
from blockrun_core.router import route
from blockrun_core.router.lexicon import scan
from blockrun_core.router.types import TIERS
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

CATALOG = default_catalog()
PROFILES = ["auto", "eco", "premium", "free", "blockrun/auto"]
TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}
# Any code point, lone surrogates included (they reach us from badly decoded JSON).
any_text = st.text(st.characters(codec=None) | st.characters(categories=["Cs"]), max_size=300)
parts = st.lists(
    st.fixed_dictionaries({"type": st.just("text"), "text": any_text})
    | st.just({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}),
    max_size=3,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "user", "assistant", "tool"]),
            "content": any_text | parts | st.none(),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    conversation=messages,
    profile=st.sampled_from(PROFILES),
    tools=st.booleans(),
    json_mode=st.booleans(),
    max_tokens=st.integers(1, 200_000),
)
def test_any_conversation_gets_a_valid_decision(
    conversation: list[dict[str, Any]],
    profile: str,
    tools: bool,
    json_mode: bool,
    max_tokens: int,
) -> None:
    try:
        decision = route(
            conversation,
            profile=profile,
            tools=[TOOL] if tools else None,
            response_format={"type": "json_object"} if json_mode else None,
            max_tokens=max_tokens,
        )
    except NoCapableModelError as error:  # e.g. free models cannot see the image
        eliminated = error.eliminated
        event("no capable model")
        assert eliminated
        return
    event(f"{decision.profile}/{decision.tier}")
    assert decision.tier in TIERS
    assert decision.candidates[0] == decision.model
    assert len(set(decision.candidates)) == len(decision.candidates)
    assert 0.0 <= decision.confidence <= 1.0
    assert decision.estimated_cost_usd >= 0 and decision.baseline_cost_usd >= 0
    assert 0.0 <= decision.savings <= 1.0
    for model_id in decision.candidates:
        model = CATALOG.get(model_id)
        if tools:
            assert model.supports_tools
        if profile == "free":
            assert model.is_free
    json.dumps(decision.to_dict())  # explainable: its view is plain JSON


ADVERSARIAL = st.sampled_from(
    [*"1 9k'\"`?!.,:;-=+^*/()[]{}<>\n\t#|x分布доказال", "step by ", "```", "é", "\u200b"]
)
MEGABYTE = 1_000_000


def _linear_baseline(text: str) -> float:
    """Seconds for a few plain linear passes over ``text``: lower, encode, split, a regex."""
    started = time.perf_counter()
    low = text.lower()
    low.encode("utf-8", "surrogatepass")
    low.split()
    re.findall(r"\w+", low)
    return time.perf_counter() - started


@pytest.mark.timeout(120)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unit=st.lists(ADVERSARIAL, min_size=1, max_size=12).map("".join))
def test_a_megabyte_of_generated_adversarial_text_routes_in_linear_time(unit: str) -> None:
    text = (unit * (MEGABYTE // len(unit) + 1))[:MEGABYTE]
    baseline = _linear_baseline(text)
    started = time.perf_counter()
    for prompt in (text, "Prove this:\n" + text):
        decision = route([{"role": "user", "content": prompt}])
        assert decision.tier in TIERS
    scan(text.lower())  # the vocabulary scan, over the whole megabyte, unsampled
    elapsed = time.perf_counter() - started
    # A generous bound: 40 linear passes plus two seconds of slack for a loaded CI box.
    assert elapsed <= 40 * baseline + 2.0, (unit, elapsed, baseline)
