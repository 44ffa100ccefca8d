"""A span exporter for OTLP over HTTP (protobuf) that never storms a dead endpoint.

The SDK's own OTLP/HTTP exporter retries a refused connection with backoff inside
every export and logs each attempt; with a receiver that is down, that is a warning
per retry per batch, and the batch thread busy for its whole timeout. This one sends
each batch once. The first failure logs one warning; batches in the next
`retry_after` seconds are dropped unsent; after that one batch is tried again, and
a success logs that export resumed. httpx (a core dependency) does the HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import httpx
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ["OTLPHTTPExporter"]

logger = logging.getLogger("RC.otel")
_PATH = "/v1/traces"


class OTLPHTTPExporter(SpanExporter):
    """Sends span batches to `endpoint` (see the module docstring)."""

    def __init__(self, endpoint: str, *, timeout: float, retry_after: float) -> None:
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ValueError(
                f"the OTLP endpoint must be an http:// or https:// URL, not {endpoint!r}"
            )
        base = endpoint.rstrip("/")
        self.url = base if base.endswith(_PATH) else base + _PATH
        self.retry_after = retry_after
        self._client = httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._down_until: float | None = None  # monotonic time; None while it works
        self._warned = False
        self.dropped = 0  # spans not sent because the endpoint was down

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send one batch, once; drop it while the endpoint is known to be down."""
        with self._lock:
            down_until = self._down_until
            if down_until is not None and time.monotonic() < down_until:
                self.dropped += len(spans)
                return SpanExportResult.FAILURE
            body = encode_spans(spans).SerializeToString()
            try:
                reply = self._client.post(
                    self.url, content=body, headers={"Content-Type": "application/x-protobuf"}
                )
                problem = None if reply.is_success else f"it answered HTTP {reply.status_code}"
            except httpx.HTTPError as error:
                problem = f"{type(error).__name__}: {error}"
            if problem is None:
                if self._down_until is not None:
                    logger.info("OTLP export to %s works again", self.url)
                self._down_until = None
                return SpanExportResult.SUCCESS
            self.dropped += len(spans)
            self._down_until = time.monotonic() + self.retry_after
            if not self._warned:
                self._warned = True
                logger.warning(
                    "OpenTelemetry export to %s failed (%s); %d span(s) dropped. The runs "
                    "go on unaffected; spans are dropped for %.0f s at a time until it "
                    "answers (this is said once). Start the receiver or fix the endpoint",
                    self.url,
                    problem,
                    len(spans),
                    self.retry_after,
                )
            return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is held here: batches are sent as they come."""
        return True
