"""OpenTelemetry export: spans parented as the graph, GenAI attributes, errors, OTLP/HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import requestcompletion as rc
from requestcompletion.llm import Response, ToolCall, Usage
from requestcompletion.observability import otel
from requestcompletion.testing import ScriptedModel


def quiet() -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False)


def tree(finished: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> list[tuple[str, str | None]]:
    """(span name, parent span name) per span, in start order."""
    by_id = {span.context.span_id: span for span in finished if span.context is not None}
    rows = []
    for span in sorted(finished, key=lambda s: s.start_time or 0):
        parent = by_id.get(span.parent.span_id) if span.parent is not None else None
        rows.append((span.name, None if parent is None else parent.name))
    return rows


def named(finished: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    [span] = [span for span in finished if span.name == name]
    return span


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first
        b: the second
    """
    return a + b


def shout(text: str) -> str:
    """Shout a text (runs on a thread: a plain def).

    Args:
        text: what to shout
    """
    return text.upper()


def boom() -> None:
    raise ValueError("no good")


async def test_an_agent_with_parallel_tools_makes_a_span_tree_with_genai_attributes(
    spans: InMemorySpanExporter,
) -> None:
    model = ScriptedModel(
        [
            Response(
                tool_calls=(ToolCall("add", {"a": 1, "b": 2}), ToolCall("shout", {"text": "hi"})),
                usage=Usage(11, 5),
                model="scripted-v2",
                finish_reason="tool_calls",
            ),
            Response(text="3 and HI", usage=Usage(20, 4), finish_reason="stop"),
        ]
    )
    agent = rc.agent_node("helper", llm=model, tool_nodes=[add, shout])
    async with quiet() as runner:
        info = await runner.run(agent, "go")
    assert info.answer.output == "3 and HI"

    finished = spans.get_finished_spans()
    run = f"run {runner.run_id}"
    assert sorted(tree(finished)) == sorted(
        [
            (run, None),
            ("invoke_agent helper", run),
            ("chat scripted", "invoke_agent helper"),
            ("execute_tool add", "invoke_agent helper"),
            ("execute_tool shout", "invoke_agent helper"),
            ("chat scripted", "invoke_agent helper"),
        ]
    )
    assert len({span.context.trace_id for span in finished if span.context}) == 1
    first_chat, second_chat = sorted(
        (s for s in finished if s.name == "chat scripted"), key=lambda s: s.start_time or 0
    )
    assert dict(first_chat.attributes or {}) | {"rc.llm.latency": 0} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "scripted",
        "gen_ai.system": "scripted",
        "gen_ai.request.model": "scripted",
        "gen_ai.response.model": "scripted-v2",
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 5,
        "gen_ai.response.finish_reasons": ("tool_calls",),
        "rc.llm.messages": 1,
        "rc.llm.latency": 0,
    }
    assert second_chat.attributes is not None
    assert second_chat.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    tool = named(finished, "execute_tool add")
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "add"
    assert tool.attributes["rc.node.status"] == "succeeded"
    assert tool.attributes["rc.node.kind"] == "tool"
    # the two tools overlapped in time: they ran in parallel, and the spans say so
    shout_span = named(finished, "execute_tool shout")
    assert (tool.start_time or 0) < (shout_span.end_time or 0)
    assert (shout_span.start_time or 0) < (tool.end_time or 0)
    agent_span = named(finished, "invoke_agent helper")
    assert agent_span.attributes is not None
    assert agent_span.attributes["gen_ai.agent.name"] == "helper"
    assert agent_span.attributes["rc.node.id"] == info.nodes[0].id
    assert agent_span.attributes["rc.node.kind"] == "agent"
    # contents are off by default
    for span in finished:
        keys = set(span.attributes or {})
        assert not keys & {"rc.node.input", "rc.node.output", "gen_ai.tool.call.arguments"}
    run_span = named(finished, run)
    assert run_span.attributes is not None
    assert run_span.attributes["rc.run.id"] == runner.run_id
    assert run_span.attributes["rc.run.outcome"] == "succeeded"
    assert run_span.attributes["rc.run.nodes"] == 3


async def test_contents_are_recorded_only_when_opted_in(spans: InMemorySpanExporter) -> None:
    otel.instrument(spans_provider(spans), capture_content=True)
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "three"])
    agent = rc.agent_node("helper", llm=model, tool_nodes=[add])
    async with quiet() as runner:
        await runner.run(agent, "what is 1 + 2?")
    finished = spans.get_finished_spans()
    tool = named(finished, "execute_tool add").attributes or {}
    assert tool["gen_ai.tool.call.result"] == "3"
    assert "'a': 1" in str(tool["gen_ai.tool.call.arguments"])
    agent_span = named(finished, "invoke_agent helper").attributes or {}
    assert "what is 1 + 2?" in str(agent_span["rc.node.input"])
    assert agent_span["rc.node.output"] == "three"


def spans_provider(exporter: InMemorySpanExporter) -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_a_failing_node_records_an_exception_event_and_error_status(
    spans: InMemorySpanExporter,
) -> None:
    async def parent() -> str:
        try:
            await rc.call(boom)
        except ValueError:
            return "caught"
        return "not reached"

    with quiet() as runner:
        assert runner.run_sync(parent).answer == "caught"
        with pytest.raises(ValueError, match="no good"):
            runner.run_sync(boom)

    finished = spans.get_finished_spans()
    failed = [span for span in finished if span.name == "boom"]
    assert len(failed) == 2
    for span in failed:
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "ValueError: no good"
        [event] = span.events
        assert event.name == "exception"
        assert event.attributes is not None
        assert event.attributes["exception.type"] == "ValueError"
        assert event.attributes["exception.message"] == "no good"
        assert (span.attributes or {})["rc.node.status"] == "failed"
    run_span = named(finished, f"run {runner.run_id}")
    assert (run_span.attributes or {})["rc.run.outcome"] == "failed"
    assert run_span.status.status_code is StatusCode.ERROR
    assert named(finished, "parent").status.status_code is StatusCode.UNSET


def test_a_thread_node_and_its_children_keep_their_parents(spans: InMemorySpanExporter) -> None:
    def on_thread(text: str) -> str:  # a plain def: runs on the thread pool
        return rc.call_sync(shout, text) + "!"

    async def top() -> list[str]:
        return list(await asyncio.gather(rc.call(on_thread, "a"), rc.call(on_thread, "b")))

    with quiet() as runner:
        assert runner.run_sync(top).answer == ["A!", "B!"]
    finished = spans.get_finished_spans()
    run = f"run {runner.run_id}"
    assert sorted(tree(finished)) == sorted(
        [
            (run, None),
            ("top", run),
            ("on_thread", "top"),
            ("on_thread", "top"),
            ("shout", "on_thread"),
            ("shout", "on_thread"),
        ]
    )
    # each shout hangs under the on_thread call that made it
    by_id = {s.context.span_id: s for s in finished if s.context}
    for span in finished:
        if span.name == "shout" and span.parent is not None:
            caller = by_id[span.parent.span_id].attributes or {}
            assert (span.attributes or {})["rc.node.parent_id"] == caller["rc.node.id"]


def test_a_cancelled_node_and_a_timed_out_run(spans: InMemorySpanExporter) -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    runner = rc.Runner(logging_setting="NONE", save_state=False, timeout=0.05)
    with runner, pytest.raises(rc.GlobalTimeOutError):
        runner.run_sync(forever)
    finished = spans.get_finished_spans()
    node = named(finished, "forever").attributes or {}
    assert node["rc.node.status"] == "cancelled"
    assert (named(finished, f"run {runner.run_id}").attributes or {})["rc.run.outcome"] == (
        "timeout"
    )


def test_uninstrument_stops_tracing_new_runners(spans: InMemorySpanExporter) -> None:
    otel.uninstrument()
    with quiet() as runner:
        runner.run_sync(add, 1, 2)
    assert spans.get_finished_spans() == ()


def test_instrument_rejects_a_bad_capture_content(spans: InMemorySpanExporter) -> None:
    with pytest.raises(TypeError, match=r"capture_content must be True or False, not 'yes'"):
        otel.instrument(capture_content="yes")  # type: ignore[arg-type]


# --- OTLP/HTTP to a real receiver process ----------------------------------------------


@pytest.fixture
def receiver() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("otlp_receiver.py"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())  # printed once it listens
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_spans_arrive_over_otlp_http_with_the_same_tree(receiver: str) -> None:
    provider = otel.otlp_tracer_provider(receiver, service_name="otel-test")
    otel.instrument(provider)
    try:
        model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "three"])
        agent = rc.agent_node("helper", llm=model, tool_nodes=[add])
        with quiet() as runner:
            runner.run_sync(agent, "sum")
        assert provider.force_flush()  # returns once the receiver has answered
    finally:
        otel.uninstrument()
        provider.shutdown()
    with urllib.request.urlopen(f"{receiver}/spans", timeout=10) as reply:
        received = json.load(reply)
    by_id = {span["span_id"]: span for span in received}
    pairs = sorted(
        (span["name"], by_id[span["parent_span_id"]]["name"] if span["parent_span_id"] else None)
        for span in received
    )
    run = f"run {runner.run_id}"
    assert pairs == sorted(
        [
            (run, None),
            ("invoke_agent helper", run),
            ("chat scripted", "invoke_agent helper"),
            ("execute_tool add", "invoke_agent helper"),
            ("chat scripted", "invoke_agent helper"),
        ]
    )
    assert {span["resource"]["service.name"] for span in received} == {"otel-test"}
    chat = next(span for span in received if span["name"] == "chat scripted")
    assert chat["attributes"]["gen_ai.request.model"] == "scripted"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


def test_an_endpoint_that_is_down_leaves_the_run_alone_and_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    attempts: list[str] = []
    post = httpx.Client.post

    def counting_post(self: httpx.Client, url: str, **kwargs: Any) -> Any:
        attempts.append(url)
        return post(self, url, **kwargs)

    monkeypatch.setattr(httpx.Client, "post", counting_post)
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    provider = otel.otlp_tracer_provider(endpoint, retry_after=60)
    otel.instrument(provider)
    caplog.set_level(logging.WARNING, logger="RC.otel")
    try:
        for _ in range(3):
            with quiet() as runner:
                assert runner.run_sync(add, 1, 2).answer == 3
            provider.force_flush()  # each run's spans are one batch
    finally:
        otel.uninstrument()
        provider.shutdown()
    warnings = [r for r in caplog.records if r.name == "RC.otel"]
    assert len(warnings) == 1
    assert f"OpenTelemetry export to {endpoint}/v1/traces failed" in warnings[0].getMessage()
    assert "runs go on unaffected" in warnings[0].getMessage()
    assert attempts == [f"{endpoint}/v1/traces"]  # three batches, one attempt: no retry storm


def test_a_bad_endpoint_is_refused_at_once() -> None:
    with pytest.raises(
        ValueError, match=r"must be an http:// or https:// URL, not 'localhost:4318'"
    ):
        otel.otlp_tracer_provider("localhost:4318")
