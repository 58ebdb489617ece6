"""Property tests of ``GET /v1/models`` parsing: any payload gives a sane catalog or a
``ValueError``, and every model we publish reads back as itself, in either key style."""

from __future__ import annotations

import math
from typing import Any

import pytest
from blockrun_core.catalog import Catalog, ModelInfo, default_catalog
from hypothesis import event, given, settings
from hypothesis import strategies as st

BUNDLED = default_catalog()
_KEYS = [
    "id",
    "name",
    "owned_by",
    "provider",
    "hidden",
    "available",
    "categories",
    "billing_mode",
    "billingMode",
    "pricing",
    "input_price",
    "inputPrice",
    "output_price",
    "outputPrice",
    "flat_price",
    "flatPrice",
    "context_window",
    "contextWindow",
    "max_output",
    "maxOutput",
    "capabilities",
    "supports_tools",
    "supportsVision",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["paid", "free", "flat", "per_image", "1e400", "nan", "-1", " 3.5 "])
)
values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=6), scalars)
numbers = st.integers(0, 10**7) | st.floats(0, 1e4) | scalars
ids = st.sampled_from([m.id for m in BUNDLED.models()]) | st.text(max_size=20)
pricing = st.fixed_dictionaries(
    {},
    optional={
        "input": numbers,
        "output": numbers,
        "flat": numbers,
        "long_context": st.dictionaries(st.sampled_from(["threshold", "input", "output"]), numbers),
    },
)
_PLAUSIBLE: dict[str, Any] = {
    "pricing": pricing,
    "hidden": st.booleans() | scalars,
    "available": st.booleans() | scalars,
    "categories": st.lists(st.sampled_from(["chat", "vision", "reasoning", "image", "x"]))
    | scalars,
    "billing_mode": st.sampled_from(["paid", "free", "flat", "per_image", "PAID"]) | scalars,
    "capabilities": st.dictionaries(st.sampled_from(["tools", "vision", "streaming"]), scalars),
}
rows = (
    st.fixed_dictionaries(
        {"id": ids},
        optional={key: _PLAUSIBLE.get(key, numbers) for key in _KEYS if key != "id"},
    )
    | values
)


@st.composite
def mutated_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A published row with a few keys replaced, dropped or added."""
    row = draw(st.sampled_from(BUNDLED.models())).to_api_dict()
    for key in draw(st.lists(st.sampled_from(_KEYS), max_size=3)):
        if draw(st.booleans()) and key in row:
            del row[key]
        else:
            row[key] = draw(_PLAUSIBLE.get(key, numbers))
    return row


payloads = (
    st.fixed_dictionaries({"data": st.lists(rows, max_size=6)})
    | st.lists(rows, max_size=4)
    | values
)
near_valid_payloads = st.fixed_dictionaries(
    {"data": st.lists(mutated_rows(), min_size=1, max_size=5)}
)


def _sane(model: ModelInfo) -> None:
    for price in (model.input_price, model.output_price, model.flat_price):
        assert price is None or (math.isfinite(price) and price >= 0)
    assert model.billing_mode in ("paid", "free", "flat")
    assert model.billing_mode != "flat" or (model.flat_price or 0) > 0
    assert not model.is_free or (model.input_price, model.output_price) == (0.0, 0.0)
    assert model.context_window >= 1
    assert 1 <= model.max_output <= model.context_window
    assert model.id == model.id.strip() and model.id


@settings(max_examples=200, deadline=None)
@given(payload=payloads | near_valid_payloads)
def test_any_payload_gives_a_sane_catalog_or_a_value_error(payload: Any) -> None:
    try:
        catalog = Catalog.from_models_response(payload)
    except ValueError:
        event("no usable model")
        return
    models = catalog.models()
    event(f"{min(len(models), 3)}+ models")
    assert models
    for model in models:
        _sane(model)
        assert catalog.get(model.id) is model


@settings(max_examples=150, deadline=None)
@given(payload=near_valid_payloads)
def test_published_rows_with_damaged_fields_are_kept_sane_or_dropped(payload: Any) -> None:
    ids = {row["id"].strip().lower() for row in payload["data"] if isinstance(row.get("id"), str)}
    try:
        catalog = Catalog.from_models_response(payload)
    except ValueError:
        event("every row dropped")
        return
    event(f"{len(catalog.models())} of {len(payload['data'])} rows kept")
    for model in catalog.models():
        _sane(model)
        assert model.id.lower() in ids  # nothing invented


@settings(max_examples=150, deadline=None)
@given(
    model=st.sampled_from(BUNDLED.models()),
    camel=st.booleans(),
    extra=st.dictionaries(st.sampled_from(["created", "description", "x-new"]), scalars),
)
def test_every_published_model_reads_back_as_itself(
    model: ModelInfo, camel: bool, extra: dict[str, Any]
) -> None:
    row = {**extra, **model.to_api_dict()}
    if camel:  # the legacy key style some gateways and SDKs still send
        row["contextWindow"] = row.pop("context_window")
        row["maxOutput"] = row.pop("max_output")
        row["billingMode"] = row.pop("billing_mode")
    (parsed,) = Catalog.from_models_response({"object": "list", "data": [row]}).models()
    assert parsed == model


@pytest.mark.parametrize("payload", [None, [], {}, {"data": {}}, {"data": [None, 3, "x"]}])
def test_payloads_without_a_usable_model_are_value_errors(payload: Any) -> None:
    with pytest.raises(ValueError, match="/v1/models payload"):
        Catalog.from_models_response(payload)
