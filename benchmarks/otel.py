"""What OpenTelemetry export costs W1 and W2 (the `otel` extra, an in-memory exporter).

    .venv/bin/python benchmarks/otel.py [--repeat 7]

One process, the two cases alternating sample by sample so that both see the same
machine: W1's and W2's rc cells as `run.py` runs them (overhead settings, one
counting subscriber), and the same with `otel.instrument` on, reporting to an
`InMemorySpanExporter` through a `SimpleSpanProcessor` (the spans are made and
"exported" on the subscriber's thread, the dearest place they can be). Two times
per sample, medians in the table:

- **in node**: measured inside the parent node, as `run.py` does: what the nodes pay;
- **whole run**: opening the runner to closing it, when every span has been
  exported: what a user waits for.

A last line times the OpenTelemetry SDK alone making the same number of spans
(start with three attributes, one more, end): the floor any exporter of spans pays.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import impl_rc
import requestcompletion as rc
from _common import EventCounter
from requestcompletion.observability import otel

Workload = tuple[str, Callable[[int], Any], int, str]
WORKLOADS: list[Workload] = [
    ("W1 1,000 calls in sequence", impl_rc.sequential, 1_000, "µs/call"),
    ("W1 10,000 calls in sequence", impl_rc.sequential, 10_000, "µs/call"),
    ("W2 1,000 children, rc.batch", impl_rc.fan_out_batch, 1_000, "ms"),
    ("W2 10,000 children, rc.batch", impl_rc.fan_out_batch, 10_000, "ms"),
]


async def _sample(node: Callable[[int], Any], n: int) -> tuple[float, float]:
    start = time.perf_counter()
    async with rc.Runner(**impl_rc.OVERHEAD_SETTINGS) as runner:
        runner.publisher.subscribe(EventCounter().record)
        inside = (await runner.run(node, n)).answer
    return inside, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="samples per case and size")
    options = parser.parse_args()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    print(
        "| workload | unit | off: in node | on: in node | ratio | off: whole run | "
        "on: whole run | ratio | spans per run |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, node, n, unit in WORKLOADS:
        scale = 1e6 / n if unit == "µs/call" else 1e3
        times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        spans = 0
        asyncio.run(_sample(node, min(n, 100)))  # warm-up
        for _ in range(options.repeat):
            for traced in (False, True):
                if traced:
                    otel.instrument(provider)
                times[traced].append(asyncio.run(_sample(node, n)))
                if traced:
                    otel.uninstrument()
                    spans = len(exporter.get_finished_spans())
                    exporter.clear()
        cells = []
        for column in (0, 1):
            off = statistics.median(t[column] for t in times[False]) * scale
            on = statistics.median(t[column] for t in times[True]) * scale
            cells += [_number(off), _number(on), f"{on / off:.2f}×"]
        print(f"| {label} | {unit} | {' | '.join(cells)} | {spans:,} |")
    print(f"\nOpenTelemetry SDK alone: {_sdk_floor(provider):.1f} µs per span")
    provider.shutdown()


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _sdk_floor(provider: TracerProvider, n: int = 10_000) -> float:
    """µs per span for the SDK making and ending n child spans through `provider`."""
    from opentelemetry import trace

    tracer = provider.get_tracer("floor")
    root = tracer.start_span("root")
    context = trace.set_span_in_context(root)
    start = time.perf_counter()
    for i in range(n):
        span = tracer.start_span(
            "child",
            context=context,
            start_time=time.time_ns(),
            attributes={"rc.node.id": i, "rc.node.name": "child", "rc.node.parent_id": 0},
        )
        span.set_attribute("rc.node.status", "succeeded")
        span.end(end_time=time.time_ns())
    elapsed = time.perf_counter() - start
    root.end()
    return elapsed / n * 1e6


if __name__ == "__main__":
    main()
