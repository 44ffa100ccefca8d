"""Providers under hostile servers: trickled replies, secrets in headers, missing usage."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from fake_llm_server import API_KEY, FakeLLMServer
from requestcompletion.errors import ProviderError
from requestcompletion.llm import Message, RetryPolicy, SystemMessage, UserMessage
from requestcompletion.llm.providers.anthropic import AnthropicModel
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel

Make = Callable[..., OpenAICompatibleModel]
HELLO: list[Message] = [SystemMessage("be brief"), UserMessage("hello")]


# --- timeout bounds the whole reply --------------------------------------------------


async def test_a_trickling_server_cannot_outlast_the_timeout(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    # each byte comes well within the timeout, so only a whole-reply bound stops it
    # (the full reply would take about 20 s)
    llm_server.trickle("a long answer " * 3, every=0.05).trickle("again", every=0.05)
    model = openai_model(timeout=0.3, retry=RetryPolicy(max_retries=1))
    with pytest.raises(ProviderError, match=r"no answer within 0\.3s") as caught:
        await model.chat(HELLO)
    assert "gave up after 2 attempts" in str(caught.value)
    assert len(llm_server.requests) == 2


async def test_a_stalled_stream_is_cut_after_the_timeout(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    # the server ignores "stream" and trickles a whole JSON reply instead
    llm_server.trickle("slow", every=0.05)
    model = openai_model(timeout=0.3, retry=RetryPolicy(max_retries=0))
    with pytest.raises(ProviderError, match=r"stalled: no whole event within 0\.3s"):
        async for _ in model.stream(HELLO):
            pass


async def test_a_quick_stream_and_reply_are_not_cut(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    llm_server.text("one two three").text("four")
    model = openai_model(timeout=2.0)
    parts = [item async for item in model.stream(HELLO)]
    assert parts[-1].text == "one two three"  # type: ignore[union-attr]
    assert (await model.chat(HELLO)).text == "four"


# --- secrets given in headers are scrubbed like the API key ------------------------------

SECRET_HEADERS = [
    {"api-key": API_KEY},  # Azure OpenAI
    {"X-Goog-Api-Key": API_KEY},
    {"X-Auth-Token": API_KEY},
    {"Cookie": f"session={API_KEY}"},
]


@pytest.mark.parametrize("headers", SECRET_HEADERS, ids=lambda h: next(iter(h)))
async def test_a_secret_header_never_leaks(
    llm_server: FakeLLMServer,
    openai_model: Make,
    caplog: pytest.LogCaptureFixture,
    headers: dict[str, str],
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"Incorrect API key provided: {API_KEY}"
    llm_server.status(500, message=echo).status(401, message=echo)
    model = openai_model(api_key=None, headers={**headers, "HTTP-Referer": "https://app.test"})
    with pytest.raises(ProviderError) as caught:
        await model.chat(HELLO)

    sent = llm_server.requests[0].headers
    name = next(iter(headers)).lower()
    assert sent[name] == headers[next(iter(headers))]  # it was sent as given
    assert sent["http-referer"] == "https://app.test"
    seen = [str(caught.value), repr(caught.value), caught.value.hint, repr(model)]
    seen += [str(vars(model)), caplog.text]
    assert all(API_KEY not in text for text in seen)
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert "retrying" in caplog.text


def test_a_header_that_is_not_a_credential_is_left_as_it_is(openai_model: Make) -> None:
    model = openai_model(headers={"HTTP-Referer": "https://app.test"})
    error = model._error("the server answered https://app.test")
    assert "https://app.test" in str(error)


# --- a reply that does not report its usage --------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_openai_usage_missing_is_unknown_not_zero(
    llm_server: FakeLLMServer, openai_model: Make, streamed: bool
) -> None:
    llm_server.text("no count", usage=None)
    model = openai_model()
    if streamed:
        response: Any = [item async for item in model.stream(HELLO)][-1]
    else:
        response = await model.chat(HELLO)
    assert response.text == "no count"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (None, None)
    assert response.usage.total_tokens is None
    assert not response.usage.known


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_anthropic_usage_missing_is_unknown_not_zero(
    llm_server: FakeLLMServer, anthropic_model: AnthropicModel, streamed: bool
) -> None:
    llm_server.text("no count", usage=None)
    if streamed:
        response: Any = [item async for item in anthropic_model.stream(HELLO)][-1]
    else:
        response = await anthropic_model.chat(HELLO)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (None, None)


async def test_counts_that_are_not_whole_numbers_are_unknown(
    llm_server: FakeLLMServer, openai_model: Make
) -> None:
    body = (
        '{"model": "m", "choices": [{"message": {"content": "x"}, "finish_reason": "stop"}],'
        ' "usage": {"prompt_tokens": -3, "completion_tokens": "12"}}'
    )
    llm_server.raw(body)
    response = await openai_model().chat(HELLO)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (None, None)
