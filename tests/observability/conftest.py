"""Fixtures for the OpenTelemetry tests: an in-memory exporter that `instrument` reports to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk", reason="pip install 'requestcompletion[otel]'")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from requestcompletion.observability import otel


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every runner opened in the test is traced into this exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.instrument(provider)
    try:
        yield exporter
    finally:
        otel.uninstrument()
        provider.shutdown()
