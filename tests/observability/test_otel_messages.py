"""Model-call spans carry the messages sent and the reply, only with capture_content=True.

Over the loopback OpenAI-compatible server, into the SDK's in-memory exporter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.observability import otel
from requestcompletion.observability.otel import _messages
from requestcompletion.pubsub import events as ev

SECRET_HEADER = "tenant-secret-0123456789"


@pytest.fixture
def captured() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.instrument(provider, capture_content=True)
    try:
        yield exporter
    finally:
        otel.uninstrument()
        provider.shutdown()


def model(server: FakeLLMServer) -> OpenAICompatibleModel:
    return OpenAICompatibleModel(
        "test-model",
        base_url=server.base_url,
        api_key=API_KEY,
        headers={"x-tenant-token": SECRET_HEADER},
        timeout=10.0,
    )


def weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city
    """
    return f"{city}: sunny"


def chats(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
    return sorted(spans, key=lambda s: s.start_time or 0)


def attribute(span: ReadableSpan, key: str) -> Any:
    return json.loads(str((span.attributes or {})[key]))


async def run_weather_agent(server: FakeLLMServer) -> rc.ExecutionInfo:
    server.tool_calls(("weather", {"city": "Lima"}))
    server.text("Lima is sunny.")
    agent = rc.agent_node(
        "forecaster",
        llm=model(server),
        system_message="You tell the weather.",
        tool_nodes=[weather],
    )
    async with rc.Runner(logging_setting="NONE", save_state=False) as runner, asyncio.timeout(20):
        return await runner.run(agent, "How is Lima?")


async def test_each_model_call_shows_the_messages_it_sent_and_its_reply(
    llm_server: FakeLLMServer, captured: InMemorySpanExporter
) -> None:
    await run_weather_agent(llm_server)
    first, second = chats(captured)

    assert attribute(first, "gen_ai.input.messages") == [
        {"role": "system", "parts": [{"type": "text", "content": "You tell the weather."}]},
        {"role": "user", "parts": [{"type": "text", "content": "How is Lima?"}]},
    ]
    [reply] = attribute(first, "gen_ai.output.messages")
    assert reply["role"] == "assistant" and reply["finish_reason"] == "tool_call"
    [call] = reply["parts"]
    assert (call["type"], call["name"], call["arguments"]) == (
        "tool_call",
        "weather",
        {"city": "Lima"},
    )

    sent = attribute(second, "gen_ai.input.messages")
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[2]["parts"] == [call]  # the call as it went back, with its id
    assert sent[3]["parts"] == [
        {"type": "tool_call_response", "id": call["id"], "response": "Lima: sunny"}
    ]
    assert attribute(second, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Lima is sunny."}],
            "finish_reason": "stop",
        }
    ]


async def test_with_capture_off_no_span_has_messages_and_none_are_serialised(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object) -> str:
        raise AssertionError("messages serialised with capture_content off")

    monkeypatch.setattr("requestcompletion.observability.otel._spans.input_messages", refuse)
    monkeypatch.setattr("requestcompletion.observability.otel._spans.output_messages", refuse)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.instrument(provider)  # capture_content defaults to off
    try:
        await run_weather_agent(llm_server)
    finally:
        otel.uninstrument()
        provider.shutdown()
    assert len(chats(exporter)) == 2
    for span in exporter.get_finished_spans():
        assert not {k for k in span.attributes or {} if "messages" in k} - {"rc.llm.messages"}


async def test_the_request_event_carries_the_agents_own_list_not_a_copy(
    llm_server: FakeLLMServer,
) -> None:
    llm_server.text("hello")
    agent = rc.agent_node("greeter", llm=model(llm_server), system_message="Be kind.")
    seen: list[ev.LLMRequestStarted] = []
    async with rc.Runner(logging_setting="NONE", save_state=False) as runner:
        runner.publisher.subscribe(
            seen.append, filter=lambda e: isinstance(e, ev.LLMRequestStarted)
        )
        info = await runner.run(agent, "hi")
    [started] = seen
    assert started.history is info.answer.history  # passed as it is
    assert started.messages == 2 and len(started.history) == 3  # it grew after the request
    assert [m.role for m in started.sent] == ["system", "user"]
    assert "Be kind." not in repr(started)  # a logged event does not print the conversation


async def test_credentials_are_scrubbed_from_captured_messages(
    llm_server: FakeLLMServer, captured: InMemorySpanExporter
) -> None:
    def leak(what: str) -> str:
        """Return something secret.

        Args:
            what: which secret
        """
        return f"the key is {API_KEY} and the token {SECRET_HEADER}"

    llm_server.tool_calls(("leak", {"what": f"is it {API_KEY}?"}))
    llm_server.text(f"I will not repeat {API_KEY}")
    agent = rc.agent_node("leaker", llm=model(llm_server), tool_nodes=[leak])
    async with rc.Runner(logging_setting="NONE", save_state=False) as runner:
        await runner.run(agent, f"my key is {API_KEY}")
    texts = [
        str((span.attributes or {})[key])
        for span in chats(captured)
        for key in ("gen_ai.input.messages", "gen_ai.output.messages")
    ]
    assert len(texts) == 4
    for text in texts:
        assert API_KEY not in text and SECRET_HEADER not in text
    assert "***" in texts[0] and "the key is *** and the token ***" in texts[2]
    [[call]] = [m["parts"] for m in json.loads(texts[2]) if m["role"] == "assistant"]
    assert call["arguments"] == {"what": "is it ***?"}  # still JSON data, scrubbed


async def test_long_contents_are_cut_with_a_marker(
    llm_server: FakeLLMServer, captured: InMemorySpanExporter
) -> None:
    limit = _messages.PART_LIMIT
    long = "word " * 2_000  # 10,000 characters

    def read(page: int) -> str:
        """Read a page.

        Args:
            page: which page
        """
        return long

    llm_server.tool_calls(("read", {"page": 1}))
    llm_server.text(long)
    agent = rc.agent_node("reader", llm=model(llm_server), tool_nodes=[read])
    async with rc.Runner(logging_setting="NONE", save_state=False) as runner:
        await runner.run(agent, long)
    first, second = chats(captured)
    prompt = attribute(first, "gen_ai.input.messages")[0]["parts"][0]["content"]
    marker = f"...[{len(long) - limit:,} more characters cut]"
    assert prompt == long[:limit] + marker
    response = attribute(second, "gen_ai.input.messages")[-1]["parts"][0]["response"]
    assert response == long[:limit] + marker
    [reply] = attribute(second, "gen_ai.output.messages")
    assert reply["parts"][0]["content"] == long[:limit] + marker
