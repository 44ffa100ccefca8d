"""The Anthropic provider against the local server's ``/v1/messages``."""

from __future__ import annotations

import pydantic
import pytest

from fake_llm_server import API_KEY, FakeLLMServer, Sleeps
from requestcompletion.errors import ProviderError
from requestcompletion.llm import (
    AssistantMessage,
    Chunk,
    Message,
    Response,
    SystemMessage,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from requestcompletion.llm.providers.anthropic import OUTPUT_TOOL, AnthropicModel

HELLO: list[Message] = [SystemMessage("be brief"), UserMessage("hello")]


def weather(city: str) -> str:
    """Weather for a city."""
    return "sunny"


class Answer(pydantic.BaseModel):
    city: str
    degrees: float


async def test_text_and_request_shape(
    llm_server: FakeLLMServer, anthropic_model: AnthropicModel
) -> None:
    llm_server.text("hello back", usage=(9, 2))
    response = await anthropic_model.chat(HELLO)

    assert response.text == "hello back"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (9, 2)
    sent = llm_server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.body["system"] == "be brief"
    assert sent.body["messages"] == [{"role": "user", "content": "hello"}]
    assert sent.body["max_tokens"] == 4096


async def test_tool_use_and_results_travel_as_blocks(
    llm_server: FakeLLMServer, anthropic_model: AnthropicModel
) -> None:
    llm_server.tool_calls(("weather", {"city": "Oslo"}), ("weather", {"city": "Rome"}))
    llm_server.text("both sunny")
    tool = Tool.from_function(weather)

    first = await anthropic_model.chat(HELLO, tools=[tool])
    assert [(c.id, c.arguments) for c in first.tool_calls] == [
        ("toolu_0", {"city": "Oslo"}),
        ("toolu_1", {"city": "Rome"}),
    ]
    history = [*HELLO, first.message]
    history += [ToolMessage(c.id, c.name, "sunny") for c in first.tool_calls]
    await anthropic_model.chat(history, tools=[tool])

    assert llm_server.requests[0].body["tools"][0]["input_schema"]["required"] == ["city"]
    wire = llm_server.requests[1].body["messages"]
    assert [turn["role"] for turn in wire] == ["user", "assistant", "user"]
    assert [block["tool_use_id"] for block in wire[2]["content"]] == ["toolu_0", "toolu_1"]


async def test_structured_output_through_the_answer_tool(
    llm_server: FakeLLMServer, anthropic_model: AnthropicModel
) -> None:
    llm_server.tool_calls((OUTPUT_TOOL, {"city": "Oslo", "degrees": 4.5}))
    response = await anthropic_model.chat(HELLO, output_schema=Answer)

    assert response.structured == Answer(city="Oslo", degrees=4.5)
    assert response.tool_calls == ()
    body = llm_server.requests[0].body
    assert body["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}


async def test_streaming(llm_server: FakeLLMServer, anthropic_model: AnthropicModel) -> None:
    llm_server.tool_calls(("weather", {"city": "Oslo"}), text="let me check")
    chunks: list[str] = []
    final = None
    async for item in anthropic_model.stream(HELLO, [Tool.from_function(weather)]):
        if isinstance(item, Chunk):
            chunks.append(item.text)
        else:
            final = item
    assert isinstance(final, Response)
    assert chunks == ["let ", "me ", "check"]
    assert final.text == "let me check"
    assert final.tool_calls[0].arguments == {"city": "Oslo"}
    assert (final.usage.input_tokens, final.usage.output_tokens) == (7, 5)


async def test_stream_without_message_stop(
    llm_server: FakeLLMServer, anthropic_model: AnthropicModel
) -> None:
    llm_server.unfinished_stream("one two", after=3)
    with pytest.raises(ProviderError, match="before message_stop"):
        async for _ in anthropic_model.stream(HELLO):
            pass


async def test_overloaded_is_retried(
    llm_server: FakeLLMServer, anthropic_model: AnthropicModel, sleeps: Sleeps
) -> None:
    llm_server.status(529, message="Overloaded").text("ok")
    assert (await anthropic_model.chat(HELLO)).text == "ok"
    assert len(sleeps.delays) == 1


async def test_raw_tool_arguments_in_history_do_not_break_the_request(
    llm_server: FakeLLMServer, anthropic_model: AnthropicModel
) -> None:
    llm_server.text("ok")
    history: list[Message] = [
        UserMessage("x"),
        AssistantMessage("hmm", (ToolCall("weather", "{broken", id="t1"),)),
        ToolMessage("t1", "weather", "arguments are not valid JSON", is_error=True),
    ]
    await anthropic_model.chat(history)
    wire = llm_server.requests[0].body["messages"]
    assert wire[1]["content"][1] == {"type": "tool_use", "id": "t1", "name": "weather", "input": {}}
    assert wire[2]["content"][0]["is_error"] is True
