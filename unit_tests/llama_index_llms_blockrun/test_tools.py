"""Tool calling: request parameters, tool selections, streaming partial arguments, errors."""

from __future__ import annotations

import json

import pytest
from blockrun_core import ConfigurationError
from blockrun_core.testing import LocalGateway
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock
from llama_index.core.tools import FunctionTool

from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import PAID


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


MULTIPLY = FunctionTool.from_defaults(fn=multiply)
ADD = FunctionTool.from_defaults(fn=add)


def tool_calls(response: ChatResponse) -> list[ToolCallBlock]:
    return [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]


def test_the_model_calls_the_tool_the_prompt_names(make_llm: MakeLLM) -> None:
    llm = make_llm()
    response = llm.chat_with_tools([MULTIPLY, ADD], user_msg="multiply a=12 and b=7")
    [selection] = llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "multiply" and selection.tool_kwargs == {"a": 12, "b": 7}
    assert selection.tool_id.startswith("call_")
    assert response.additional_kwargs["finish_reason"] == "tool_calls"


def test_predict_and_call_runs_the_tool(gw: LocalGateway, make_llm: MakeLLM) -> None:
    output = make_llm().predict_and_call([MULTIPLY], user_msg="multiply a=6 b=7")
    assert output.response == "42" and len(gw.payments) == 1


async def test_tool_results_go_back_to_the_model(make_llm: MakeLLM) -> None:
    llm = make_llm()
    history = [ChatMessage(role="user", content="multiply a=12 and b=7")]
    response = await llm.achat_with_tools([MULTIPLY], chat_history=history)
    [selection] = llm.get_tool_calls_from_response(response)
    history += [
        response.message,
        ChatMessage(
            role="tool", content="84", additional_kwargs={"tool_call_id": selection.tool_id}
        ),
    ]
    answer = await llm.achat_with_tools([MULTIPLY], chat_history=history)
    assert answer.message.content == "Based on the tool results: multiply returned 84."
    assert llm.get_tool_calls_from_response(answer, error_on_no_tool_call=False) == []


def test_tool_required_forces_a_call(make_llm: MakeLLM) -> None:
    llm = make_llm()
    free = llm.chat_with_tools([MULTIPLY], user_msg="say hello")
    assert not tool_calls(free)
    with pytest.raises(ValueError, match="at least one tool call"):
        llm.get_tool_calls_from_response(free)
    forced = llm.chat_with_tools([MULTIPLY], user_msg="say hello", tool_required=True)
    assert [c.tool_name for c in tool_calls(forced)] == ["multiply"]


def test_tool_choice_by_name(make_llm: MakeLLM) -> None:
    response = make_llm().chat_with_tools(
        [ADD, MULTIPLY], user_msg="add 2 and 3", tool_choice="multiply"
    )
    assert [c.tool_name for c in tool_calls(response)] == ["multiply"]


def test_unknown_tool_choice_is_refused_before_sending(gw: LocalGateway, make_llm: MakeLLM) -> None:
    with pytest.raises(ConfigurationError, match="'divide' names no tool offered"):
        make_llm().chat_with_tools([ADD, MULTIPLY], user_msg="divide 6 by 3", tool_choice="divide")
    assert not gw.requests and not gw.payments


@pytest.mark.parametrize(
    ("parallel", "expected"), [(True, ["multiply", "add"]), (False, ["multiply"])]
)
def test_parallel_calls_only_when_allowed(
    make_llm: MakeLLM, parallel: bool, expected: list[str]
) -> None:
    response = make_llm().chat_with_tools(
        [ADD, MULTIPLY],
        user_msg="multiply 2 by 3 and add 4 to 5",
        allow_parallel_tool_calls=parallel,
    )
    assert [c.tool_name for c in tool_calls(response)] == expected


def test_a_single_call_is_enforced_on_the_answer_too(gw: LocalGateway, make_llm: MakeLLM) -> None:
    # an upstream that ignores parallel_tool_calls=False
    gw.script(
        PAID,
        [
            {"name": "add", "arguments": {"a": 1, "b": 2}},
            {"name": "multiply", "arguments": {"a": 3, "b": 4}},
        ],
    )
    response = make_llm().chat_with_tools([ADD, MULTIPLY], user_msg="do both")
    assert [c.tool_name for c in tool_calls(response)] == ["add"]


def test_prepare_builds_openai_tools_without_touching_the_history(make_llm: MakeLLM) -> None:
    history = [ChatMessage(role="system", content="be brief")]
    params = make_llm()._prepare_chat_with_tools(
        [MULTIPLY], user_msg="hi", chat_history=history, strict=True, temperature=0.1
    )
    assert len(history) == 1 and [m.content for m in params["messages"]] == ["be brief", "hi"]
    [spec] = params["tools"]
    assert spec["function"]["name"] == "multiply" and spec["function"]["strict"] is True
    assert spec["function"]["parameters"]["additionalProperties"] is False
    assert params["tool_choice"] == "auto" and params["parallel_tool_calls"] is False
    assert params["temperature"] == 0.1


def test_streamed_tool_calls_carry_partial_arguments(make_llm: MakeLLM) -> None:
    llm = make_llm()
    responses = list(llm.stream_chat_with_tools([MULTIPLY], user_msg="multiply a=12345 and b=678"))
    final = json.dumps({"a": 12345, "b": 678}, separators=(",", ":"))
    partial = [tool_calls(r)[0].tool_kwargs for r in responses if tool_calls(r)]
    texts = [p for p in partial if isinstance(p, str)]
    assert len(texts) > 2 and all(final.startswith(t) for t in texts)
    assert partial[-1] == {"a": 12345, "b": 678}
    for response in responses:  # what FunctionAgent does with every chunk: never raises
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    [selection] = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_kwargs == {"a": 12345, "b": 678}


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [('{"a": 1,', "not valid JSON"), ("[1, 2]", "not a JSON object")],
)
@pytest.mark.parametrize("stream", [False, True])
def test_bad_arguments_are_a_clear_error(
    gw: LocalGateway, make_llm: MakeLLM, arguments: str, problem: str, stream: bool
) -> None:
    gw.script(PAID, [{"name": "multiply", "arguments": arguments}])
    llm = make_llm()
    if stream:
        responses = list(llm.stream_chat_with_tools([MULTIPLY], user_msg="multiply"))
    else:
        responses = [llm.chat_with_tools([MULTIPLY], user_msg="multiply")]
    done = [r for r in responses if r.additional_kwargs["finish_reason"] is not None]
    for response in responses[: len(responses) - len(done)]:  # still streaming: lenient
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    for response in done:
        with pytest.raises(ValueError, match=f"tool 'multiply' with arguments that are {problem}"):
            llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)


def test_empty_arguments_are_no_arguments(gw: LocalGateway, make_llm: MakeLLM) -> None:
    gw.script(PAID, [{"name": "multiply", "arguments": ""}])
    llm = make_llm()
    response = llm.chat_with_tools([MULTIPLY], user_msg="multiply")
    assert llm.get_tool_calls_from_response(response)[0].tool_kwargs == {}


def test_tool_calls_kept_in_additional_kwargs_are_read(make_llm: MakeLLM) -> None:
    legacy = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "add", "arguments": '{"a":1,"b":2}'},
    }
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [legacy]})
    [selection] = make_llm().get_tool_calls_from_response(ChatResponse(message=message))
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == (
        "call_1",
        "add",
        {"a": 1, "b": 2},
    )
