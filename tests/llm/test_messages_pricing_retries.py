"""Messages, usage and responses; the price table; the retry policy."""

from __future__ import annotations

import email.utils
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from requestcompletion.llm import (
    AssistantMessage,
    MessageHistory,
    Response,
    RetryPolicy,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
    cost,
    message_from_dict,
    price_for,
    register_price,
)
from requestcompletion.llm.retries import parse_retry_after


def test_history_round_trips_through_plain_json() -> None:
    history = MessageHistory(
        [
            SystemMessage("sys"),
            UserMessage("hi"),
            AssistantMessage("thinking", (ToolCall("f", {"x": 1}, id="c1"), ToolCall("g", "{"))),
            ToolMessage("c1", "f", "1", is_error=True),
        ]
    )
    again = MessageHistory.from_dicts(history.to_dicts())
    assert again == history
    assert isinstance(again.copy(), MessageHistory)
    assert history.system == "sys"
    assert repr(history).startswith("MessageHistory([SystemMessage(content='sys')")
    with pytest.raises(ValueError, match="unknown message role 'robot'"):
        message_from_dict({"role": "robot", "content": "x"})


def test_usage_adds_up_and_response_gives_its_message() -> None:
    assert sum([Usage(1, 2), Usage(3, 4)], Usage()) == Usage(4, 6)
    assert sum([Usage(1, 2)]) == Usage(1, 2)
    assert Usage(1, 2).total_tokens == 3
    call = ToolCall("f")
    assert Response("t", (call,)).message == AssistantMessage("t", (call,))
    assert call.id.startswith("call_")
    assert call.arguments_json() == "{}"


def test_prices_known_unknown_and_registered() -> None:
    usage = Usage(1_000_000, 2_000_000)
    assert cost("gpt-4o-mini", usage) == pytest.approx(0.15 + 1.20)
    assert price_for("gpt-4o-2024-08-06") == price_for("gpt-4o")
    assert price_for("openai/gpt-4o") == price_for("gpt-4o")
    assert price_for("claude-sonnet-4-20250514") == price_for("claude-sonnet-4")
    assert cost("my-local-llama", usage) is None
    register_price("my-local-llama", 0, 0)
    assert cost("my-local-llama", usage) == 0.0
    with pytest.raises(ValueError, match="must be >= 0"):
        register_price("x", -1, 0)


@given(st.integers(0, 30), st.floats(0, 1), st.floats(0, 1))
def test_backoff_stays_within_its_bounds(retry: int, jitter: float, rand: float) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=jitter)
    ceiling = min(8.0, 0.5 * 2**retry)
    delay = policy.backoff(retry, lambda: rand)
    assert ceiling * (1 - jitter) - 1e-9 <= delay <= ceiling + 1e-9


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after({"retry-after": date}) or 0) <= 31


def test_importing_llm_loads_neither_pydantic_nor_httpx() -> None:
    code = (
        "import sys, requestcompletion.llm, requestcompletion.llm.providers;"
        "print('pydantic' in sys.modules, 'httpx' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
