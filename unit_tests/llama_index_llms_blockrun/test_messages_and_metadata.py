"""Message conversion to the wire, and metadata from the catalog."""

from __future__ import annotations

import base64

import pytest
from blockrun_core import ConfigurationError
from blockrun_core.catalog import default_catalog
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.llms.blockrun import BlockRunLLM
from llama_index.llms.blockrun.messages import to_wire_messages

from unit_tests.llama_index_llms_blockrun.conftest import MakeLLM
from unit_tests.llama_index_llms_blockrun.support import FREE, PAID

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_text_messages_become_plain_strings() -> None:
    messages = [
        ChatMessage(role="system", content="be brief"),
        ChatMessage(role="user", blocks=[TextBlock(text="one"), TextBlock(text="two")]),
        ChatMessage(role="chatbot", content="ok"),
    ]
    assert to_wire_messages(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "one\ntwo"},
        {"role": "assistant", "content": "ok"},
    ]


def test_images_become_image_url_parts() -> None:
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="what is this?"),
            ImageBlock(url="https://example.com/cat.png", detail="low"),
            ImageBlock(image=PNG, image_mimetype="image/png"),
        ],
    )
    [wire] = to_wire_messages([message])
    text, remote, inline = wire["content"]
    assert text == {"type": "text", "text": "what is this?"}
    assert remote == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    assert inline["image_url"]["url"].startswith("data:image/png;base64,iVBOR")


def test_assistant_tool_calls_and_tool_results_round_trip() -> None:
    call = ToolCallBlock(tool_call_id="call_1", tool_name="add", tool_kwargs={"a": 1, "b": 2})
    messages = [
        ChatMessage(role="user", content="add 1 and 2"),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="hmm"), call]),
        ChatMessage(role="tool", content="3", additional_kwargs={"tool_call_id": "call_1"}),
    ]
    _, assistant, tool = to_wire_messages(messages)
    assert assistant == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
            }
        ],
    }
    assert tool == {"role": "tool", "content": "3", "tool_call_id": "call_1"}


def test_unsupported_blocks_are_refused_before_sending() -> None:
    message = ChatMessage(role="user", blocks=[AudioBlock(audio=b"RIFF", format="wav")])
    with pytest.raises(ConfigurationError, match=r"messages\[0\] has a 'audio' block"):
        to_wire_messages([message])


def test_concrete_model_metadata_comes_from_the_catalog(make_llm: MakeLLM) -> None:
    info = default_catalog().get(PAID)
    meta = make_llm("gpt-4o-mini", max_tokens=300).metadata
    assert meta.model_name == PAID and meta.context_window == info.context_window
    assert meta.num_output == 300 and meta.is_chat_model and meta.is_function_calling_model
    assert make_llm(FREE).metadata.is_function_calling_model is False


@pytest.mark.parametrize(
    ("profile", "free_only"), [("auto", False), ("eco", False), ("free", True)]
)
def test_profile_metadata_covers_the_models_it_can_pick(
    make_llm: MakeLLM, profile: str, free_only: bool
) -> None:
    catalog = default_catalog()
    models = catalog.free_models() if free_only else catalog.models()
    meta = make_llm(profile).metadata
    assert meta.model_name == f"blockrun/{profile}"
    assert meta.context_window == max(m.context_window for m in models)
    assert meta.is_function_calling_model == any(m.supports_tools for m in models)


def test_overrides_win_over_the_catalog(make_llm: MakeLLM) -> None:
    meta = make_llm(context_window=4096, is_function_calling_model=False).metadata
    assert meta.context_window == 4096 and meta.is_function_calling_model is False


def test_a_reassigned_model_gets_its_own_metadata(make_llm: MakeLLM) -> None:
    llm = make_llm()
    llm.model = FREE
    assert llm.metadata.model_name == FREE


def test_the_payload_in_every_calls_events_follows_the_settings(make_llm: MakeLLM) -> None:
    llm = make_llm("gpt-4o-mini", max_tokens=300)
    first = llm.to_payload()
    assert first == {"class_name": llm.class_name(), **llm.metadata.model_dump()}
    first["num_output"] = 1  # a caller's copy: editing it changes nothing
    assert llm.to_payload()["num_output"] == 300
    llm.max_tokens, llm.context_window = 50, 2048
    llm.is_function_calling_model = False
    assert llm.to_payload() == {"class_name": llm.class_name(), **llm.metadata.model_dump()}
    llm.model = FREE
    assert llm.to_payload()["model_name"] == FREE


def test_unknown_model_is_refused_with_close_matches() -> None:
    with pytest.raises(ConfigurationError, match="gpt-4o-mini") as info:
        BlockRunLLM("openai/gpt-4o-minii")
    assert "openai/gpt-4o-mini" in info.value.suggestions
