"""Seeing a run: logging (and, later, OpenTelemetry export)."""
