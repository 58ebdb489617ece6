"""structured_predict: response_format where the model takes JSON schemas, else a tool call."""

from __future__ import annotations

import pytest
from blockrun_core.catalog import default_catalog
from blockrun_core.testing import LocalGateway
from llama_index.core.instrumentation.events.llm import (
    LLMChatStartEvent,
    LLMStructuredPredictEndEvent,
)
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, ValidationError

from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import PAID, EventLog

PROMPT = PromptTemplate("Describe the city {city} with population={population}.")
ARGS = {"city": '"Paris"', "population": 2_100_000}
TOOLS_ONLY = "deepseek/deepseek-chat"  # calls tools, takes no JSON schema


class City(BaseModel):
    """A city and how many people live there."""

    name: str
    population: int


def sent(event_log: EventLog) -> dict[str, object]:
    [start] = event_log.of(LLMChatStartEvent)
    return dict(start.additional_kwargs)


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_schema_capable_model_uses_response_format(
    make_llm: MakeLLM, event_log: EventLog, asynchronous: bool
) -> None:
    llm = make_llm(PAID)
    if asynchronous:
        city = await llm.astructured_predict(City, PROMPT, **ARGS)
    else:
        city = llm.structured_predict(City, PROMPT, **ARGS)
    assert city == City(name="Paris", population=2_100_000)
    kwargs = sent(event_log)
    assert kwargs["response_format"]["json_schema"]["schema"] == City.model_json_schema()  # type: ignore[index]
    assert "tools" not in kwargs
    [end] = event_log.of(LLMStructuredPredictEndEvent)
    assert end.output == city


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_other_models_use_a_forced_tool_call(
    make_llm: MakeLLM, event_log: EventLog, asynchronous: bool
) -> None:
    llm = make_llm(TOOLS_ONLY)
    if asynchronous:
        city = await llm.astructured_predict(City, PROMPT, **ARGS)
    else:
        city = llm.structured_predict(City, PROMPT, **ARGS)
    assert city == City(name="Paris", population=2_100_000)
    kwargs = sent(event_log)
    assert kwargs["tool_choice"] == "required" and "response_format" not in kwargs


def test_function_mode_is_honoured(make_llm: MakeLLM, event_log: EventLog) -> None:
    llm = make_llm(PAID, pydantic_program_mode=PydanticProgramMode.FUNCTION)
    assert llm.structured_predict(City, PROMPT, **ARGS).name == "Paris"
    assert "tools" in sent(event_log)


def test_auto_routes_to_a_model_that_takes_the_schema(gw: LocalGateway, make_llm: MakeLLM) -> None:
    city = make_llm("auto").structured_predict(City, PROMPT, **ARGS)
    assert city.name == "Paris"
    [payment] = gw.payments
    assert default_catalog().get(payment.model).supports_structured_output


def test_an_answer_that_does_not_fit_the_schema_is_an_error(
    gw: LocalGateway, make_llm: MakeLLM
) -> None:
    gw.script(PAID, '{"name": "Paris"}')
    with pytest.raises(ValidationError, match="population"):
        make_llm(PAID).structured_predict(City, PROMPT, **ARGS)
