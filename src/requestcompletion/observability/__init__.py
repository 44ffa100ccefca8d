"""Seeing a run: logging, and OpenTelemetry export (`observability.otel`, the `otel` extra)."""

import importlib as _importlib
from typing import Any as _Any


def __getattr__(name: str) -> _Any:
    # `otel` loads on first use: the core never imports OpenTelemetry
    if name == "otel":
        return _importlib.import_module(".otel", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
