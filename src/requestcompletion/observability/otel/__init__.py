"""OpenTelemetry export of runs (the `otel` extra): `instrument()` and `otlp_tracer_provider()`.

    from requestcompletion.observability import otel

    otel.instrument(otel.otlp_tracer_provider("http://127.0.0.1:4318"))
    with rc.Runner() as runner:      # traced: a span per node, model call and tool call
        ...

`instrument` works the way OpenTelemetry's own instrumentors do: it is called once,
and every runner opened after it is traced, whichever code opens it (`rc.call`
without a runner too), until `uninstrument`. It is not an `ExecutorConfig` field:
a tracer provider is process-wide infrastructure, not a setting of one run, and a
config that held one would put an unsaveable object in every saved run's summary.
How events become spans is in `_spans`.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from ...errors import MissingExtraError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import TracerProvider as AnyTracerProvider

    from ...runner import Runner

__all__ = ["Instrumentation", "instrument", "otlp_tracer_provider", "uninstrument"]

INSTALL_HINT = "pip install 'requestcompletion[otel]'"
_lock = threading.Lock()
_current: Instrumentation | None = None


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"OpenTelemetry export needs the 'otel' extra, which is not installed "
            f"({error}); install it with: {INSTALL_HINT}"
        ) from None


class Instrumentation:
    """What `instrument` set up: the tracer every runner opened from now on reports to."""

    def __init__(self, tracer_provider: AnyTracerProvider | None, capture_content: bool) -> None:
        trace = _require("opentelemetry.trace")
        from ... import __version__

        self.tracer_provider = tracer_provider or trace.get_tracer_provider()
        self.tracer = self.tracer_provider.get_tracer("requestcompletion", __version__)
        self.capture_content = capture_content

    def attach(self, runner: Runner) -> None:
        """Trace `runner`: subscribe a `RunSpans` to its events."""
        from ._spans import RunSpans

        runner.publisher.subscribe(
            RunSpans(self.tracer, self.capture_content), name="OpenTelemetry export"
        )


def instrument(
    tracer_provider: AnyTracerProvider | None = None, *, capture_content: bool = False
) -> Instrumentation:
    """Trace every runner opened from now on; a second call replaces the first.

    Args:
        tracer_provider: where the spans go; default OpenTelemetry's global one
            (`opentelemetry.trace.set_tracer_provider`).
        capture_content: also record node inputs and outputs, tool arguments and
            results, and on each model call's span the messages it sent and the
            reply (``gen_ai.input.messages`` and ``gen_ai.output.messages``, as
            the GenAI semantic conventions of schema 1.44 have them). Texts pass
            through the model's `scrub` (its API key and secret headers become
            ``***``), and each one is cut to 4,000 characters with a marker. Off by
            default: they may hold personal data.

    Returns:
        The `Instrumentation` now in force.

    Raises:
        MissingExtraError: the `otel` extra is not installed.
    """
    from ... import runner

    global _current
    if not isinstance(capture_content, bool):
        raise TypeError(f"capture_content must be True or False, not {capture_content!r}")
    made = Instrumentation(tracer_provider, capture_content)
    with _lock:
        hooks = [hook for hook in runner.open_hooks if hook != _attach_current]
        _current = made
        runner.open_hooks = (*hooks, _attach_current)
    return made


def uninstrument() -> None:
    """Stop tracing runners opened from now on (open ones stay traced to their end)."""
    from ... import runner

    global _current
    with _lock:
        _current = None
        runner.open_hooks = tuple(hook for hook in runner.open_hooks if hook != _attach_current)


def _attach_current(runner: Runner) -> None:
    current = _current
    if current is not None:
        current.attach(runner)


def otlp_tracer_provider(
    endpoint: str = "http://127.0.0.1:4318",
    *,
    service_name: str = "requestcompletion",
    timeout: float = 5.0,
    retry_after: float = 30.0,
) -> TracerProvider:
    """A tracer provider that sends spans in batches to an OTLP/HTTP endpoint.

    Spans leave on the SDK's batch thread, never from a run. An endpoint that cannot
    be reached costs one warning on the `RC.otel` logger; batches in the next
    `retry_after` seconds are dropped without trying, then one is tried again — no
    retries in a loop, no warning per batch.

    Args:
        endpoint: the receiver's base URL (spans go to ``{endpoint}/v1/traces``) or
            the full ``.../v1/traces`` URL.
        service_name: the ``service.name`` resource attribute.
        timeout: seconds one export may take.
        retry_after: seconds to drop batches for after a failed export.

    Raises:
        MissingExtraError: the `otel` extra is not installed.
    """
    _require("opentelemetry.sdk.trace")
    _require("opentelemetry.exporter.otlp.proto.common.trace_encoder")
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from ._otlp import OTLPHTTPExporter

    exporter = OTLPHTTPExporter(endpoint, timeout=timeout, retry_after=retry_after)
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
