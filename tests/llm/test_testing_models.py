"""rc.testing's models and the switch that blocks real requests."""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections.abc import Sequence
from typing import Any

import pydantic
import pytest

from requestcompletion.errors import LLMError, ProviderError
from requestcompletion.llm import (
    AssistantMessage,
    Chunk,
    Message,
    MessageHistory,
    ModelBase,
    Response,
    Tool,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.testing.models import (
    SchemaModel,
    ScriptedModel,
    TestModel,
    block_real_requests,
    real_requests_blocked,
)


class Plan(pydantic.BaseModel):
    steps: list[str]
    done: bool


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def convert(degrees: float, to: Unit, precise: bool = False) -> float:
    """Convert a temperature."""
    return degrees


def lookup(query: str) -> str:
    """Look something up."""
    return query


async def test_scripted_replies_in_order() -> None:
    model = ScriptedModel([ToolCall("lookup", {"query": "x"}, id="c1"), "found it"])
    tools = [Tool.from_function(lookup)]
    history = MessageHistory([UserMessage("find x")])

    first = await model.chat(history, tools)
    history += [first.message, ToolMessage("c1", "lookup", "x")]
    second = await model.chat(history, tools)

    assert first.tool_calls == (ToolCall("lookup", {"query": "x"}, id="c1"),)
    assert first.finish_reason == "tool_calls"
    assert second.text == "found it"
    assert second.usage == Usage(input_tokens=6, output_tokens=2)  # words, roughly
    assert [len(call.messages) for call in model.calls] == [1, 3]
    assert model.calls[0].tools == tools
    with pytest.raises(LLMError, match="ran out of replies after 2"):
        await model.chat(history)


async def test_parallel_calls_exceptions_and_responses() -> None:
    calls = [ToolCall("lookup", {"query": "a"}), ToolCall("lookup", {"query": "b"})]
    given = Response("as is", usage=Usage(1, 1), model="other")
    model = ScriptedModel([calls, ProviderError("down", provider="p", model="m"), given])

    assert (await model.chat([UserMessage("q")])).tool_calls == tuple(calls)
    with pytest.raises(ProviderError, match="down"):
        await model.chat([UserMessage("q")])
    third = await model.chat([UserMessage("q")])
    assert (third.text, third.usage, third.model) == ("as is", Usage(1, 1), "other")


async def test_structured_replies() -> None:
    model = ScriptedModel([Plan(steps=["a"], done=True), {"steps": [], "done": False}, "{bad"])

    first = await model.chat([UserMessage("plan")], output_schema=Plan)
    second = await model.chat([UserMessage("plan")], output_schema=Plan)
    third = await model.chat([UserMessage("plan")], output_schema=Plan)

    assert first.structured == Plan(steps=["a"], done=True)
    assert first.text == '{"steps":["a"],"done":true}'
    assert second.structured == Plan(steps=[], done=False)
    assert (third.structured, third.text) == (None, "{bad")


async def test_a_reply_function_sync_or_async() -> None:
    def echo(messages: list[Message], tools: list[Tool]) -> str:
        last = messages[-1]
        assert isinstance(last, UserMessage)
        return f"{last.content} ({len(tools)} tools)"

    async def later(messages: list[Message], tools: list[Tool]) -> str:
        await asyncio.sleep(0)
        return "async"

    assert (await ScriptedModel(echo).chat([UserMessage("hi")])).text == "hi (0 tools)"
    assert (await ScriptedModel(later).chat([UserMessage("hi")])).text == "async"


async def test_bad_reply_type() -> None:
    with pytest.raises(TypeError, match="a scripted reply must be"):
        await ScriptedModel([42]).chat([UserMessage("hi")])
    with pytest.raises(TypeError, match=r"wrap the text: ScriptedModel\(\['hi'\]\)"):
        ScriptedModel("hi")


async def test_an_endless_script() -> None:
    model = ScriptedModel(itertools.cycle(["again"]))
    for _ in range(3):
        assert (await model.chat([UserMessage("hi")])).text == "again"


async def test_simulated_latency_is_awaited(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", record)
    await ScriptedModel(["a"], latency=0.02).chat([UserMessage("hi")])
    assert slept == [0.02]
    with pytest.raises(ValueError, match="latency"):
        ScriptedModel([], latency=-1)


async def test_streaming_word_by_word() -> None:
    model = ScriptedModel(["one two three"])
    items = [item async for item in model.stream([UserMessage("go")])]
    assert items[:-1] == [Chunk("one "), Chunk("two "), Chunk("three")]
    assert isinstance(items[-1], Response)
    assert items[-1].text == "one two three"


async def test_schema_model_calls_every_tool_then_answers() -> None:
    model = TestModel()
    tools = [Tool.from_function(convert), Tool.from_function(lookup)]
    history = MessageHistory([UserMessage("go")])

    first = await model.chat(history, tools)
    assert [call.name for call in first.tool_calls] == ["convert", "lookup"]
    for call, tool in zip(first.tool_calls, tools, strict=True):
        tool.validate(call.arguments)
    assert first.tool_calls[0].arguments == {"degrees": 0.0, "to": "celsius"}
    history.append(first.message)
    history += [ToolMessage(c.id, c.name, "42") for c in first.tool_calls]

    final = await model.chat(history, tools)
    assert final.tool_calls == ()
    assert final.text == '{"convert": "42", "lookup": "42"}'
    assert SchemaModel is TestModel


async def test_schema_model_structured_and_fixed_text() -> None:
    plan = await SchemaModel().chat([UserMessage("plan")], output_schema=Plan)
    assert plan.structured == Plan(steps=["a"], done=True)
    quiet = SchemaModel(text="done", call_tools=False)
    assert (await quiet.chat([UserMessage("x")], [Tool.from_function(lookup)])).text == "done"


async def test_model_base_stream_default_names_the_class() -> None:
    class Plain(ModelBase):
        async def chat(
            self,
            messages: Sequence[Message],
            tools: Sequence[Tool] | None = None,
            output_schema: type[Any] | None = None,
        ) -> Response:
            return Response("x")

    model = Plain()
    assert not model.can_stream
    assert ScriptedModel([]).can_stream
    with pytest.raises(NotImplementedError, match="Plain does not support streaming"):
        model.stream([UserMessage("x")])
    assert (await model.chat([AssistantMessage("x")])).text == "x"


async def test_block_real_requests_nests_and_allows_loopback() -> None:
    # the autouse fixture holds one block already
    assert real_requests_blocked()
    with block_real_requests():
        assert real_requests_blocked()
    assert real_requests_blocked()
    model = OpenAICompatibleModel("m", base_url="http://example.com/v1")
    with pytest.raises(ProviderError, match=r"blocked.*RC_BLOCK_REAL_REQUESTS"):
        await model.chat([UserMessage("x")])


def test_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RC_BLOCK_REAL_REQUESTS", "1")
    assert real_requests_blocked()
