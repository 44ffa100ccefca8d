"""Tokens and cost per agent node and per run, live and in the saved JSON; streaming."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pydantic_core
import pytest
from agent_tools import City, add

import requestcompletion as rc
from requestcompletion.llm import Chunk, Response, ToolCall, Usage
from requestcompletion.llm.model import StreamItem
from requestcompletion.pubsub import events as ev
from requestcompletion.testing import RecordingSubscriber, ScriptedModel

PRICE_IN, PRICE_OUT = 0.15, 0.60  # gpt-4o-mini, per million tokens, from the built-in table


def script() -> list[object]:
    return [
        Response(tool_calls=(ToolCall("add", {"a": 1, "b": 2}),), usage=Usage(1_000, 100)),
        Response("three", usage=Usage(2_000, 50)),
    ]


def test_tokens_and_cost_per_node_per_run_and_saved() -> None:
    model = ScriptedModel(script(), model_name="gpt-4o-mini")
    Agent = rc.agent_node("priced", llm=model, tool_nodes=[add])
    with rc.Runner(logging_setting="NONE", run_identifier="priced-run") as runner:
        info = runner.run_sync(Agent, "add")
    cost = (3_000 * PRICE_IN + 150 * PRICE_OUT) / 1e6

    result = info.answer
    assert result.usage == Usage(3_000, 150)
    assert result.cost == pytest.approx(cost)
    llm = info.nodes[0].extras["llm"]  # type: ignore[index]
    assert llm == {
        "provider": "scripted",
        "model": "gpt-4o-mini",
        "input_tokens": 3_000,
        "output_tokens": 150,
        "cost": pytest.approx(cost),
        "calls": 2,
    }
    assert info.nodes[1].extras is None  # the tool used no model
    assert info.usage == {"input_tokens": 3_000, "output_tokens": 150, "cost": pytest.approx(cost)}

    assert runner.saved_to is not None
    saved = json.loads(runner.saved_to.read_text())
    assert saved["extras"]["0"]["llm"]["cost"] == pytest.approx(cost)
    assert saved["usage"]["input_tokens"] == 3_000
    output = saved["nodes"]["output"][0]
    assert output["$value"]["output"] == "three"
    assert output["$value"]["usage"] == {"input_tokens": 3_000, "output_tokens": 150}
    assert [m["role"] for m in output["$value"]["history"]] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    loaded = rc.ExecutionInfo.load(runner.saved_to)
    assert loaded.usage == info.usage
    assert loaded.nodes[0].extras == info.nodes[0].extras


def test_an_unknown_model_costs_none_not_zero() -> None:
    recorder = RecordingSubscriber()
    Agent = rc.agent_node(
        "mystery", llm=ScriptedModel(script(), model_name="my-own-model"), tool_nodes=[add]
    )
    with rc.Runner(logging_setting="NONE", run_identifier="mystery-run") as runner:
        recorder.attach(runner)
        info = runner.run_sync(Agent, "add")
    assert info.answer.cost is None
    assert info.nodes[0].extras["llm"]["cost"] is None  # type: ignore[index]
    assert info.usage == {"input_tokens": 3_000, "output_tokens": 150, "cost": None}
    assert [e.cost for e in recorder.of_type(ev.LLMResponseReceived)] == [None, None]
    assert runner.saved_to is not None
    saved = json.loads(runner.saved_to.read_text())
    assert saved["usage"]["cost"] is None
    assert saved["extras"]["0"]["llm"]["cost"] is None


def test_one_unpriced_agent_makes_the_run_cost_unknown() -> None:
    Known = rc.agent_node(
        "known", llm=ScriptedModel([Response("a", usage=Usage(10, 10))], model_name="gpt-4o")
    )
    Unknown = rc.agent_node("unknown", llm=ScriptedModel([Response("b", usage=Usage(10, 10))]))

    async def both() -> None:
        await rc.call(Known, "x")
        await rc.call(Unknown, "y")

    with rc.Runner(logging_setting="NONE", save_state=False) as runner:
        info = runner.run_sync(both)
    assert info.nodes[1].extras["llm"]["cost"] > 0  # type: ignore[index]
    assert info.usage == {"input_tokens": 20, "output_tokens": 20, "cost": None}


def test_usage_is_kept_when_the_agent_fails() -> None:
    model = ScriptedModel(
        [Response(tool_calls=(ToolCall("add", {"a": 1, "b": 1}),), usage=Usage(5, 5))] * 3
    )
    Agent = rc.agent_node("spender", llm=model, tool_nodes=[add], max_tool_calls=1)
    with (
        rc.Runner(logging_setting="NONE", save_state=False) as runner,
        pytest.raises(rc.ToolCallLimitError),
    ):
        runner.run_sync(Agent, "go")
    assert runner.info.usage["input_tokens"] == 10


def test_streaming_publishes_chunks_and_hands_them_to_the_subscriber() -> None:
    recorder = RecordingSubscriber()
    items: list[object] = []
    model = ScriptedModel([ToolCall("add", {"a": 1, "b": 2}), "the sum is three"])
    Agent = rc.agent_node("talker", llm=model, tool_nodes=[add], stream=True)
    with rc.Runner(logging_setting="NONE", save_state=False, subscriber=items.append) as runner:
        recorder.attach(runner)
        info = runner.run_sync(Agent, "add")

    assert info.answer.output == "the sum is three"
    chunks = recorder.of_type(ev.LLMChunk)
    assert "".join(c.text for c in chunks) == "the sum is three"
    assert len(chunks) == 4
    assert {(c.node_id, c.node_name) for c in chunks} == {(0, "talker")}
    # each token is published once, and the subscriber can tell it from rc.stream items
    assert items == [Chunk(c.text) for c in chunks]
    assert recorder.of_type(ev.Streamed) == chunks
    assert len(recorder.of_type(ev.LLMResponseReceived)) == 2
    # the record keeps the reply once, with its timing, not one entry per token
    [(node_id, whole)] = info.streamed
    assert node_id == 0
    assert (whole["streamed_text"], whole["chunks"]) == ("the sum is three", 4)
    assert 0 <= whole["first_chunk_s"] <= whole["last_chunk_s"]


def test_a_long_streamed_reply_is_saved_once_not_per_token() -> None:
    text = " ".join(f"w{i}" for i in range(500))
    model = ScriptedModel([text, text])
    Agent = rc.agent_node("chatty", llm=model, stream=True)
    recorder = RecordingSubscriber()
    with rc.Runner(logging_setting="NONE", run_identifier="chatty-run") as runner:
        recorder.attach(runner)
        runner.run_sync(Agent, "talk")
        runner.run_sync(Agent, "again")

    assert len(recorder.of_type(ev.LLMChunk)) == 1_000  # subscribers still see every token
    assert runner.saved_to is not None
    saved = json.loads(runner.saved_to.read_text())
    assert [entry[0] for entry in saved["streamed"]] == [0, 1]
    assert [entry[2]["streamed_text"] for entry in saved["streamed"]] == [text, text]
    loaded = rc.ExecutionInfo.load(runner.saved_to)
    assert [item["chunks"] for _, item in loaded.streamed] == [500, 500]


def test_a_stream_cut_off_keeps_the_text_already_shown() -> None:
    class Broken(ScriptedModel):
        async def stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[StreamItem]:
            yield Chunk("half ")
            yield Chunk("an answer")
            raise rc.ProviderError("cut", provider="p", model="m")

    Agent = rc.agent_node("cut", llm=Broken([]), stream=True)
    with (
        rc.Runner(logging_setting="NONE", save_state=False) as runner,
        pytest.raises(rc.ProviderError),
    ):
        runner.run_sync(Agent, "talk")
    [(_, whole)] = runner.info.streamed
    assert (whole["streamed_text"], whole["chunks"]) == ("half an answer", 2)


def test_streamed_structured_output_carries_the_partial_json() -> None:
    model = ScriptedModel(['{"name": "Paris", "population": 2}'])
    Agent = rc.agent_node("city", llm=model, output_schema=City, stream=True)
    items: list[Any] = []
    with rc.Runner(logging_setting="NONE", save_state=False, subscriber=items.append) as runner:
        assert runner.run_sync(Agent, "France").answer.output == City(name="Paris", population=2)
    partials = [item.partial for item in items]
    assert partials[-1] == '{"name": "Paris", "population": 2}'
    assert all(b.startswith(a) for a, b in itertools.pairwise(partials))
    assert pydantic_core.from_json(partials[1], allow_partial=True) == {"name": "Paris"}


def test_user_stream_items_and_model_tokens_reach_the_subscriber_apart() -> None:
    Agent = rc.agent_node("talker", llm=ScriptedModel(["two words"]), stream=True)

    async def flow() -> None:
        await rc.stream("my own progress note")
        await rc.call(Agent, "talk")

    items: list[Any] = []
    with rc.Runner(logging_setting="NONE", save_state=False, subscriber=items.append) as runner:
        runner.run_sync(flow)
    assert items == ["my own progress note", Chunk("two "), Chunk("words")]
