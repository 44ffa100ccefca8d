"""The OpenAI-compatible provider against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from fake_llm_server import API_KEY, FakeLLMServer, Sleeps
from requestcompletion.errors import ProviderError
from requestcompletion.llm import (
    AssistantMessage,
    Chunk,
    Message,
    MessageHistory,
    Response,
    RetryPolicy,
    SystemMessage,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

Make = Callable[..., OpenAICompatibleModel]
HELLO: list[Message] = [SystemMessage("be brief"), UserMessage("hello")]


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first
        b: the second
    """
    return a + b


class City(pydantic.BaseModel):
    name: str
    population: int


async def collect(model: OpenAICompatibleModel, *args: Any) -> tuple[list[str], Response]:
    chunks: list[str] = []
    final: Response | None = None
    async for item in model.stream(*args):
        if isinstance(item, Chunk):
            chunks.append(item.text)
        else:
            final = item
    assert final is not None
    return chunks, final


async def test_text_reply(llm_server: FakeLLMServer, openai_model: Make) -> None:
    llm_server.text("hi there", usage=(11, 3))
    response = await openai_model().chat(HELLO)

    assert response.text == "hi there"
    assert response.tool_calls == ()
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 3)
    assert response.model == "test-model"
    assert response.finish_reason == "stop"
    assert response.latency > 0
    sent = llm_server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert "tools" not in sent.body
    assert "stream" not in sent.body


async def test_parallel_tool_calls_and_the_history_sent_back(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4}))
    llm_server.text("3 and 7")
    model = openai_model()
    tool = Tool.from_function(add)
    history = MessageHistory(HELLO)

    first = await model.chat(history, tools=[tool])
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("add", {"a": 1, "b": 2}),
        ("add", {"a": 3, "b": 4}),
    ]
    assert first.finish_reason == "tool_calls"
    history.append(first.message)
    for call in first.tool_calls:
        result = add(**tool.validate(call.arguments))
        history.append(ToolMessage(call.id, call.name, str(result)))
    second = await model.chat(history, tools=[tool])

    assert second.text == "3 and 7"
    offered = llm_server.requests[0].body["tools"]
    assert offered[0]["function"]["name"] == "add"
    assert offered[0]["function"]["parameters"]["required"] == ["a", "b"]
    wire = llm_server.requests[1].body["messages"]
    assert wire[2]["tool_calls"][1] == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "add", "arguments": '{"a": 3, "b": 4}'},
    }
    assert wire[3] == {"role": "tool", "tool_call_id": "call_0", "content": "3"}


async def test_tool_arguments_that_are_not_json_reach_the_caller_as_text(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.tool_calls(("add", "{'a': 1"))
    response = await openai_model().chat(HELLO, tools=[Tool.from_function(add)])
    assert response.tool_calls[0].arguments == "{'a': 1"


async def test_structured_output(llm_server: FakeLLMServer, openai_model: Make) -> None:
    llm_server.text('{"name": "Oslo", "population": 700000}')
    response = await openai_model().chat(HELLO, output_schema=City)

    assert response.structured == City(name="Oslo", population=700000)
    format_ = llm_server.requests[0].body["response_format"]
    assert format_["type"] == "json_schema"
    assert format_["json_schema"]["name"] == "City"
    assert format_["json_schema"]["schema"]["required"] == ["name", "population"]


async def test_structured_output_that_does_not_fit_leaves_text_for_repair(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.text('{"name": "Oslo"}')
    response = await openai_model().chat(HELLO, output_schema=City)
    assert response.structured is None
    assert response.text == '{"name": "Oslo"}'


async def test_streaming_text(llm_server: FakeLLMServer, openai_model: Make) -> None:
    llm_server.text("one two three", usage=(4, 3))
    chunks, final = await collect(openai_model(), HELLO)

    assert chunks == ["one ", "two ", "three"]
    assert final.text == "one two three"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (4, 3)
    body = llm_server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_streaming_tool_calls_and_structured_output(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": 5, "b": 6}))
    llm_server.text('{"name": "Rome", "population": 3}')
    model = openai_model()

    chunks, calls = await collect(model, HELLO, [Tool.from_function(add)])
    assert chunks == []
    assert [(c.id, c.arguments) for c in calls.tool_calls] == [
        ("call_0", {"a": 1, "b": 2}),
        ("call_1", {"a": 5, "b": 6}),
    ]
    _, city = await collect(model, HELLO, None, City)
    assert city.structured == City(name="Rome", population=3)


async def test_429_then_success_honours_retry_after(
    llm_server: FakeLLMServer, openai_model: Make, sleeps: Sleeps
) -> None:
    llm_server.status(429, retry_after="1.5").text("finally")
    response = await openai_model().chat(HELLO)
    assert response.text == "finally"
    assert sleeps.delays == [1.5]
    assert len(llm_server.requests) == 2


async def test_5xx_backs_off_exponentially_until_retries_run_out(
    llm_server: FakeLLMServer, openai_model: Make, sleeps: Sleeps
) -> None:
    for _ in range(4):
        llm_server.status(500, message="database on fire")
    model = openai_model(retry=RetryPolicy(max_retries=3, base_delay=1.0, jitter=0.5))

    with pytest.raises(ProviderError) as caught:
        await model.chat(HELLO)

    error = caught.value
    assert (error.provider, error.model, error.status) == ("openai", "test-model", 500)
    assert "database on fire" in str(error)
    assert "gave up after 4 attempts" in str(error)
    assert len(llm_server.requests) == 4
    assert len(sleeps.delays) == 3
    for retry, delay in enumerate(sleeps.delays):
        assert 0.5 * 2**retry <= delay <= 2**retry


async def test_retry_after_longer_than_allowed_fails_at_once(
    llm_server: FakeLLMServer, openai_model: Make, sleeps: Sleeps
) -> None:
    llm_server.status(503, retry_after="3600")
    with pytest.raises(ProviderError, match="max_retry_after") as caught:
        await openai_model().chat(HELLO)
    assert caught.value.status == 503
    assert sleeps.delays == []


async def test_a_client_error_is_not_retried_and_hints_at_the_key(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.status(401, message="invalid api key")
    with pytest.raises(ProviderError, match="OPENAI_API_KEY") as caught:
        await openai_model().chat(HELLO)
    assert caught.value.status == 401
    assert not caught.value.retryable
    assert len(llm_server.requests) == 1


async def test_read_timeout_is_retried_then_reported(
    llm_server: FakeLLMServer, openai_model: Make, sleeps: Sleeps
) -> None:
    llm_server.hang().hang()
    model = openai_model(timeout=0.2, retry=RetryPolicy(max_retries=1))
    with pytest.raises(ProviderError, match=r"no answer within 0\.2s") as caught:
        await model.chat(HELLO)
    assert caught.value.status is None
    assert "gave up after 2 attempts" in str(caught.value)
    assert len(sleeps.delays) == 1


async def test_malformed_json_body(llm_server: FakeLLMServer, openai_model: Make) -> None:
    llm_server.malformed()
    with pytest.raises(ProviderError, match="not valid JSON") as caught:
        await openai_model().chat(HELLO)
    assert caught.value.status == 200


async def test_a_body_in_the_wrong_shape(llm_server: FakeLLMServer, openai_model: Make) -> None:
    llm_server.raw('{"choices": []}')
    with pytest.raises(ProviderError, match="expected format") as caught:
        await openai_model().chat(HELLO)
    assert "IndexError" in str(caught.value)


async def test_stream_cut_off_mid_way(llm_server: FakeLLMServer, openai_model: Make) -> None:
    llm_server.cut_stream("one two three", after=3)
    received: list[str] = []

    async def read() -> None:
        async for item in openai_model().stream(HELLO):
            if isinstance(item, Chunk):
                received.append(item.text)

    with pytest.raises(ProviderError, match="cut off"):
        await read()
    assert received == ["one ", "two "]


async def test_stream_that_ends_without_finishing(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.unfinished_stream("one two three", after=2)
    with pytest.raises(ProviderError, match="without finishing"):
        await collect(openai_model(), HELLO)


async def test_a_refused_connection_names_the_url(sleeps: Sleeps) -> None:
    model = OpenAICompatibleModel(
        "m", base_url="http://127.0.0.1:9/v1", retry=RetryPolicy(max_retries=0), sleep=sleeps
    )
    with pytest.raises(ProviderError, match=r"could not reach http://127\.0\.0\.1:9/v1"):
        await model.chat(HELLO)


async def test_pooled_connections_with_async_with(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.text("a").text("b")
    async with openai_model() as model:
        first = await model.chat(HELLO)
        second = await model.chat([*HELLO, AssistantMessage("a"), UserMessage("more")])
    assert (first.text, second.text) == ("a", "b")


async def test_no_key_sends_no_authorization(
    llm_server: FakeLLMServer, openai_model: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm_server.text("ok")
    await openai_model(api_key=None).chat(HELLO)
    assert "authorization" not in llm_server.requests[0].headers


async def test_base_url_and_key_from_the_environment(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llm_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    llm_server.text("ok")
    await OpenAICompatibleModel("m").chat(HELLO)
    assert llm_server.requests[0].headers["authorization"] == "Bearer sk-from-env"


async def test_settings_go_into_the_body(llm_server: FakeLLMServer, openai_model: Make) -> None:
    llm_server.text("ok")
    await openai_model(settings={"temperature": 0.1}).chat(HELLO)
    assert llm_server.requests[0].body["temperature"] == 0.1


async def test_real_hosts_are_blocked_before_anything_is_sent(sleeps: Sleeps) -> None:
    model = OpenAICompatibleModel("gpt-4o", api_key=API_KEY, sleep=sleeps)
    with pytest.raises(ProviderError, match="blocked") as caught:
        await model.chat(HELLO)
    assert "api.openai.com" in str(caught.value)
    assert sleeps.delays == []


async def test_the_api_key_never_leaks(
    llm_server: FakeLLMServer,
    openai_model: Make,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"Incorrect API key provided: {API_KEY}"
    llm_server.status(401, message=echo)
    llm_server.status(500, message=echo).status(500, message=echo).status(500, message=echo)
    model = openai_model()

    errors = []
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            await model.chat(HELLO)
        errors.append(caught.value)

    seen = [str(e) for e in errors] + [repr(e) for e in errors] + [e.hint for e in errors]
    seen += [repr(model), str(vars(model)), caplog.text]
    assert all(API_KEY not in text for text in seen)
    assert "Incorrect API key provided: ***" in str(errors[0])
    assert "retrying" in caplog.text


async def test_tool_calls_in_history_round_trip(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.text("ok")
    history: list[Message] = [
        UserMessage("x"),
        AssistantMessage(None, (ToolCall("add", "not json", id="c1"),)),
        ToolMessage("c1", "add", "error: not json", is_error=True),
    ]
    await openai_model().chat(history)
    wire = llm_server.requests[0].body["messages"]
    assert wire[1]["tool_calls"][0]["function"]["arguments"] == "not json"
    assert wire[1]["content"] is None
