"""Agents over real HTTP: the OpenAI-compatible provider talking to the local server."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from agent_tools import City, Meeting, add

import requestcompletion as rc
from fake_llm_server import API_KEY, FakeLLMServer
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.pubsub import events as ev
from requestcompletion.testing import RecordingSubscriber

Make = Callable[..., OpenAICompatibleModel]


async def test_an_agent_with_parallel_tool_calls_end_to_end(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    meeting = Meeting(2)
    llm_server.tool_calls(("meet", {"who": "ada"}), ("meet", {"who": "bob"}))
    llm_server.tool_calls(("add", {"a": 40, "b": 2}))
    llm_server.text("Ada and Bob met; the answer is 42.", usage=(30, 9))
    Agent = rc.agent_node(
        "host",
        llm=http_model("gpt-4o-mini"),
        system_message="You introduce people.",
        tool_nodes=[meeting.meet, add],
    )

    async with rc.Runner(logging_setting="NONE", save_state=False) as runner, asyncio.timeout(20):
        info = await runner.run(Agent, "introduce ada and bob")

    result = info.answer
    assert result.output == "Ada and Bob met; the answer is 42."
    assert [(n.name, n.kwargs, n.output) for n in info.nodes[1:]] == [
        ("meet", {"who": "ada"}, "hello ada"),
        ("meet", {"who": "bob"}, "hello bob"),
        ("add", {"a": 40, "b": 2}, 42),
    ]
    assert result.usage.input_tokens == 7 + 7 + 30
    assert result.cost is not None and result.cost > 0

    first, second, third = (request.body for request in llm_server.requests)
    assert [t["function"]["name"] for t in first["tools"]] == ["meet", "add"]
    assert first["messages"] == [
        {"role": "system", "content": "You introduce people."},
        {"role": "user", "content": "introduce ada and bob"},
    ]
    assert second["messages"][2]["tool_calls"][1]["function"]["name"] == "meet"
    assert second["messages"][3:] == [
        {"role": "tool", "tool_call_id": "call_0", "content": "hello ada"},
        {"role": "tool", "tool_call_id": "call_1", "content": "hello bob"},
    ]
    assert third["messages"][-1] == {"role": "tool", "tool_call_id": "call_0", "content": "42"}


async def test_structured_output_over_http(llm_server: FakeLLMServer, http_model: Make) -> None:
    llm_server.text('{"name": "Paris"}')
    llm_server.text('{"name": "Paris", "population": 2}')
    Agent = rc.agent_node("cities", llm=http_model(), output_schema=City)
    result = await rc.call(Agent, "France")
    assert result.output == City(name="Paris", population=2)
    assert llm_server.requests[0].body["response_format"]["json_schema"]["name"] == "City"


async def test_streaming_over_http(llm_server: FakeLLMServer, http_model: Make) -> None:
    llm_server.tool_calls(("add", {"a": 1, "b": 2}))
    llm_server.text("one plus two is three")
    recorder, items = RecordingSubscriber(), RecordingSubscriber()
    Agent = rc.agent_node("streamer", llm=http_model(), tool_nodes=[add], stream=True)
    async with rc.Runner(logging_setting="NONE", save_state=False, subscriber=items) as runner:
        recorder.attach(runner)
        info = await runner.run(Agent, "add")
    assert info.answer.output == "one plus two is three"
    assert "".join(c.text for c in recorder.of_type(ev.LLMChunk)) == "one plus two is three"
    assert "".join(item.text for item in items.items) == "one plus two is three"
    assert all(request.body["stream"] for request in llm_server.requests)


@pytest.mark.parametrize(
    "credentials",
    [{"api_key": API_KEY}, {"api_key": None, "headers": {"api-key": API_KEY}}],
    ids=["api_key", "api-key header"],
)
def test_the_api_key_never_leaks(
    llm_server: FakeLLMServer,
    http_model: Make,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    credentials: dict[str, object],
) -> None:
    caplog.set_level(logging.DEBUG, logger="RC")
    recorder = RecordingSubscriber()
    llm_server.tool_calls(("add", {"a": 1, "b": 2}))
    llm_server.text("three")
    # then a server that echoes the key back in its error, as some do
    llm_server.status(401, message=f"Incorrect API key provided: {API_KEY}")
    llm = http_model(**credentials)
    Agent = rc.agent_node("keyholder", llm=llm, tool_nodes=[add], stream=False)

    with rc.Runner(
        logging_setting="VERBOSE", log_file=tmp_path / "run.log", run_identifier="secret-run"
    ) as runner:
        recorder.attach(runner)
        assert runner.run_sync(Agent, "add").answer.output == "three"
        with pytest.raises(rc.ProviderError, match="HTTP 401") as caught:
            runner.run_sync(Agent, "again")

    assert API_KEY not in str(caught.value)
    sent = llm_server.requests[0].headers
    assert API_KEY in sent.get("authorization", "") + sent.get("api-key", "")  # it was sent
    assert runner.saved_to is not None
    places = {
        "the saved run": runner.saved_to.read_text(),
        "the log file": (tmp_path / "run.log").read_text(),
        "the log records": "\n".join(r.getMessage() for r in caplog.records),
        "stderr and stdout": "".join(capfd.readouterr()),
        "the events": "\n".join(repr(e) for e in recorder.events),
        "the node types": repr(Agent.agent),
        "the model": f"{llm!r} {vars(llm)}",
    }
    assert "keyholder" in places["the log file"] and "RequestFailed" in places["the events"]
    for where, text in places.items():
        assert API_KEY not in text, f"the API key leaked into {where}"
    assert json.loads(places["the saved run"])["outcome"] == "failed"


def test_a_reply_without_usage_is_recorded_as_unknown_not_zero(
    llm_server: FakeLLMServer, http_model: Make
) -> None:
    # a priced model, so that a zero count would show as $0.00
    llm_server.tool_calls(("add", {"a": 1, "b": 2}))
    llm_server.text("three", usage=None)
    recorder = RecordingSubscriber()
    Agent = rc.agent_node("uncounted", llm=http_model("gpt-4o-mini"), tool_nodes=[add])
    with rc.Runner(logging_setting="NONE", run_identifier="uncounted-run") as runner:
        recorder.attach(runner)
        info = runner.run_sync(Agent, "add")

    result = info.answer
    assert (result.usage.input_tokens, result.usage.output_tokens, result.cost) == (None,) * 3
    received = recorder.of_type(ev.LLMResponseReceived)
    assert [(e.input_tokens, e.cost is None) for e in received] == [(7, False), (None, True)]
    assert info.usage == {"input_tokens": None, "output_tokens": None, "cost": None}
    llm = info.nodes[0].extras["llm"]  # type: ignore[index]
    assert (llm["input_tokens"], llm["output_tokens"], llm["cost"]) == (None, None, None)
    assert runner.saved_to is not None
    loaded = rc.ExecutionInfo.load(runner.saved_to)
    assert loaded.usage == info.usage
    saved = json.loads(runner.saved_to.read_text())
    assert saved["nodes"]["output"][0]["$value"]["usage"] == {
        "input_tokens": None,
        "output_tokens": None,
    }
