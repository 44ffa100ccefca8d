"""Fixtures for the LLM tests: the local server, providers aimed at it, no real requests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_llm_server import API_KEY, FakeLLMServer, Sleeps

from requestcompletion.llm import RetryPolicy
from requestcompletion.llm.providers.anthropic import AnthropicModel
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.testing.models import block_real_requests


@pytest.fixture(scope="session")
def _running_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer()
    thread = threading.Thread(target=server.serve_forever, name="fake-llm-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.reset()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def llm_server(_running_server: FakeLLMServer) -> Iterator[FakeLLMServer]:
    """The local server with an empty script; one server serves the whole session."""
    _running_server.reset()
    yield _running_server
    _running_server.reset()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def openai_model(llm_server: FakeLLMServer, sleeps: Sleeps) -> Callable[..., OpenAICompatibleModel]:
    """Make a provider aimed at the local server; keyword arguments override defaults."""

    def make(**overrides: Any) -> OpenAICompatibleModel:
        options: dict[str, Any] = {
            "base_url": llm_server.base_url,
            "api_key": API_KEY,
            "retry": RetryPolicy(max_retries=2, base_delay=0.1, max_delay=1.0),
            "sleep": sleeps,
            "timeout": 5.0,
        }
        options.update(overrides)
        return OpenAICompatibleModel("test-model", **options)

    return make


@pytest.fixture
def anthropic_model(llm_server: FakeLLMServer, sleeps: Sleeps) -> AnthropicModel:
    return AnthropicModel(
        "claude-test",
        base_url=llm_server.root_url,
        api_key=API_KEY,
        retry=RetryPolicy(max_retries=1, base_delay=0.1),
        sleep=sleeps,
        timeout=5.0,
    )


@pytest.fixture(autouse=True)
def _no_real_requests() -> Iterator[None]:
    with block_real_requests():
        yield
