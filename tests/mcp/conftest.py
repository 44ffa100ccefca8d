"""Fixtures for the MCP tests: the test server (`mcp_test_server.py`) as a real process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="pip install 'requestcompletion[mcp]'")

SERVER = str(Path(__file__).with_name("mcp_test_server.py"))


def start_http(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start the test server over streamable HTTP; (process, its URL)."""
    process = subprocess.Popen(
        [sys.executable, SERVER, "http", *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())  # printed once the socket listens
    return process, f"http://127.0.0.1:{port}/mcp"


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def http_url() -> Iterator[str]:
    process, url = start_http()
    try:
        yield url
    finally:
        stop(process)
