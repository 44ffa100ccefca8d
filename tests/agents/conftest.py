"""Fixtures for the agent tests: a provider aimed at the local LLM server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fake_llm_server import API_KEY, FakeLLMServer, Sleeps
from requestcompletion.llm import RetryPolicy
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel


@pytest.fixture
def http_model(llm_server: FakeLLMServer, sleeps: Sleeps) -> Callable[..., OpenAICompatibleModel]:
    """Make an OpenAI-compatible provider aimed at the local server, with the test API key."""

    def make(model: str = "test-model", **overrides: Any) -> OpenAICompatibleModel:
        options: dict[str, Any] = {
            "base_url": llm_server.base_url,
            "api_key": API_KEY,
            "retry": RetryPolicy(max_retries=1, base_delay=0.1),
            "sleep": sleeps,
            "timeout": 10.0,
        }
        options.update(overrides)
        return OpenAICompatibleModel(model, **options)

    return make
