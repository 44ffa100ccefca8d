"""A small OTLP/HTTP receiver for the tests: `python otlp_receiver.py` (a real process).

The OpenTelemetry Collector and Jaeger are not in the package registries this
project may use (they ship as binaries from their own sites); Phoenix
(`arize-phoenix` on PyPI) accepts OTLP/HTTP but brings a web app and a database for
one test. So the tests run this receiver, built on `opentelemetry-proto`. It
accepts ``POST /v1/traces`` with a protobuf ``ExportTraceServiceRequest``, as any
collector does, and answers ``GET /spans`` with the spans it holds as JSON. It
prints its port on the first line of stdout.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_spans: list[dict[str, Any]] = []
_lock = threading.Lock()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return None if kind is None else getattr(value, kind)


def _span_json(span: Any, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": span.name,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex() or None,
        "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
        "status": span.status.code,
        "events": [event.name for event in span.events],
        "resource": resource,
    }


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        received = []
        for resource_spans in request.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                received += [_span_json(span, resource) for span in scope_spans.spans]
        with _lock:
            _spans.extend(received)
        self._reply(ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_spans).encode()
        self._reply(body, "application/json")

    def _reply(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests read spans, not access logs


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
