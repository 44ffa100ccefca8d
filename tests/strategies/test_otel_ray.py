"""OpenTelemetry export of nodes that ran on Ray workers: the spans keep the graph's parents,
and a remote agent's model calls are spans too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("ray", reason="ray is not installed: pip install 'requestcompletion[ray]'")
pytest.importorskip("opentelemetry.sdk", reason="pip install 'requestcompletion[otel]'")

import ray_nodes as nodes
from agent_nodes import agent, script
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from workflows import quiet

from fake_llm_server import API_KEY, FakeLLMServer
from helpers import priced
from requestcompletion.observability import otel

pytestmark = pytest.mark.ray


@pytest.fixture(params=[False], ids=["no-content"])
def spans(request: pytest.FixtureRequest) -> Iterator[InMemorySpanExporter]:
    """Every runner opened in the test is traced into this exporter (`capture_content`
    as the test's parameter says)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.instrument(provider, capture_content=request.param)
    try:
        yield exporter
    finally:
        otel.uninstrument()
        provider.shutdown()


def _tree(exporter: InMemorySpanExporter) -> list[tuple[str, str | None, bool]]:
    """(span, its parent's name, ok) for every finished span, sorted."""
    finished = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished if span.context is not None}
    return sorted(
        (span.name, by_id[span.parent.span_id].name if span.parent else None, span.status.is_ok)
        for span in finished
    )


def test_ray_nodes_are_spans_under_their_caller(
    ray_cluster: object, spans: InMemorySpanExporter
) -> None:
    with quiet() as runner:
        runner.run_sync(nodes.both)
    run = f"run {runner.run_id}"
    assert _tree(spans) == sorted(
        [(run, None, True), ("both", run, True), ("on_a", "both", True), ("on_b", "both", True)]
    )


@pytest.mark.parametrize("spans", [True], ids=["content"], indirect=True)
def test_a_remote_agents_model_calls_are_chat_spans_under_it(
    ray_cluster: object,
    llm_server: FakeLLMServer,
    spans: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script(llm_server, lookups=1)
    with priced(monkeypatch, "remote-model", 1000.0), quiet() as runner:
        runner.run_sync(agent(llm_server), "look one up")
    run = f"run {runner.run_id}"
    agent_span = "invoke_agent asker"
    assert _tree(spans) == sorted(
        [
            (run, None, True),
            (agent_span, run, True),
            ("chat remote-model", agent_span, True),
            ("execute_tool lookup", agent_span, True),
            ("chat remote-model", agent_span, True),
        ]
    )
    chats = [span for span in spans.get_finished_spans() if span.name == "chat remote-model"]
    for chat in chats:
        attributes: dict[str, Any] = dict(chat.attributes or {})
        assert attributes["gen_ai.usage.input_tokens"] == 7
        assert attributes["rc.llm.cost"] == pytest.approx(0.012)  # priced on the driver
        assert "look one up" in str(attributes["gen_ai.input.messages"])
        assert API_KEY not in json.dumps(attributes, default=str)  # the model's scrub
