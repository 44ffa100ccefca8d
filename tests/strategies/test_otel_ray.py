"""OpenTelemetry export of nodes that ran on Ray workers: the spans keep the graph's parents."""

from __future__ import annotations

import pytest

pytest.importorskip("ray", reason="ray is not installed: pip install 'requestcompletion[ray]'")
pytest.importorskip("opentelemetry.sdk", reason="pip install 'requestcompletion[otel]'")

import ray_nodes as nodes
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from workflows import quiet

from requestcompletion.observability import otel

pytestmark = pytest.mark.ray


def test_ray_nodes_are_spans_under_their_caller(ray_cluster: object) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.instrument(provider)
    try:
        with quiet() as runner:
            runner.run_sync(nodes.both)
    finally:
        otel.uninstrument()
        provider.shutdown()
    finished = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in finished if span.context is not None}
    pairs = sorted(
        (span.name, by_id[span.parent.span_id].name if span.parent else None, span.status.is_ok)
        for span in finished
    )
    run = f"run {runner.run_id}"
    assert pairs == sorted(
        [(run, None, True), ("both", run, True), ("on_a", "both", True), ("on_b", "both", True)]
    )
