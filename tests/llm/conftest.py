"""Fixtures for the LLM tests: providers aimed at the local server (tests/fake_llm_server.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fake_llm_server import API_KEY, FakeLLMServer, Sleeps
from requestcompletion.llm import RetryPolicy
from requestcompletion.llm.providers.anthropic import AnthropicModel
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel


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
