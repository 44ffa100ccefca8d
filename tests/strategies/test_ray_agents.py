"""An agent run on a Ray worker is observed and saved like one run on the driver.

Its model calls leave from the worker to the session's loopback server; their
events reach the driver's subscribers, and their usage and records land in the
driver's state under the agent's record (so a resumed run replays them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip(
    "ray", reason="ray is not installed: pip install 'requestcompletion[ray]'"
)

from agent_nodes import agent, boss_of, looked_up, model, script  # noqa: E402
from workflows import quiet  # noqa: E402

import requestcompletion as rc  # noqa: E402
from fake_llm_server import API_KEY, FakeLLMServer  # noqa: E402
from helpers import priced  # noqa: E402
from requestcompletion.context import current_runner  # noqa: E402
from requestcompletion.errors import LLMError  # noqa: E402
from requestcompletion.pubsub import events as ev  # noqa: E402

pytestmark = pytest.mark.ray

MODEL_EVENTS = (ev.LLMRequestStarted, ev.LLMResponseReceived, ev.LLMChunk)


@pytest.fixture(autouse=True)
def _priced(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with priced(monkeypatch, "remote-model", 1000.0):  # on the driver only
        yield


def agent_record(info: rc.ExecutionInfo) -> Any:
    (record,) = [node for node in info.nodes if node.name == "asker"]
    return record


def _names(events: list[ev.Event], node_id: int) -> list[str]:
    """The events of node `node_id` and of its children, in the order they came."""
    return [
        type(e).__name__
        for e in events
        if e.node_id == node_id or (e.parent_id == node_id and isinstance(e, ev.RequestCreated))
    ]


def test_a_remote_agents_model_events_reach_sync_subscribers_and_events(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    script(llm_server, lookups=1)
    seen: list[ev.Event] = []
    seen_async: list[ev.Event] = []

    async def hear(event: ev.Event) -> None:
        seen_async.append(event)

    async def main() -> tuple[rc.ExecutionInfo, list[ev.Event]]:
        async with quiet() as runner, asyncio.timeout(60):
            runner.publisher.subscribe(seen.append)  # a sync subscriber
            runner.publisher.subscribe(hear)  # an async one
            stream = runner.events()

            async def drain() -> list[ev.Event]:
                return [event async for event in stream]

            streamed = asyncio.create_task(drain())
            info = await runner.run(boss_of(agent(llm_server)), "look one up")
        return info, await streamed

    info, from_events = asyncio.run(main())
    assert info.answer == "all looked up (2 calls)"
    asker = agent_record(info)
    order = [
        "RequestCreated",
        "LLMRequestStarted",
        "LLMResponseReceived",
        "RequestCreated",  # the lookup, run on the driver
        "LLMRequestStarted",
        "LLMResponseReceived",
        "RequestSucceeded",
    ]
    assert _names(seen, asker.id) == order
    assert _names(seen_async, asker.id) == _names(from_events, asker.id) == order
    started = [e for e in seen if isinstance(e, ev.LLMRequestStarted)]
    replied = [e for e in seen if isinstance(e, ev.LLMResponseReceived)]
    for event in started + replied:
        assert (event.node_id, event.node_name, event.parent_id, event.kind) == (
            asker.id,
            "asker",
            asker.parent_id,
            "agent",
        )
        assert event.run_id == info.run_id and event.model == "remote-model"
    assert [e.messages for e in started] == [1, 3]  # the question; + the call and its result
    assert [m.role for m in started[1].sent] == ["user", "assistant", "tool"]
    assert started[0].sent[0].content == "look one up"
    assert started[0].scrub(f"key {API_KEY}") == "key ***"  # the model's own scrub
    assert [(e.input_tokens, e.output_tokens) for e in replied] == [(7, 5), (7, 5)]
    assert replied[0].cost == pytest.approx(0.012)  # priced on the driver
    assert replied[1].response.text == "all looked up"


def test_a_remote_streaming_agent_publishes_its_chunks_and_records_the_whole(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    llm_server.text("one two three")
    seen: list[ev.Event] = []
    with quiet() as runner:
        runner.publisher.subscribe(seen.append)
        info = runner.run_sync(agent(llm_server, stream=True), "count")
    asker = agent_record(info)
    chunks = [e for e in seen if isinstance(e, ev.LLMChunk)]
    assert len(chunks) > 1 and "".join(c.text for c in chunks) == "one two three"
    assert {(c.node_id, c.node_name) for c in chunks} == {(asker.id, "asker")}
    names = [type(e).__name__ for e in seen if isinstance(e, MODEL_EVENTS)]
    assert names == ["LLMRequestStarted", *["LLMChunk"] * len(chunks), "LLMResponseReceived"]
    (whole,) = [item for node_id, _, item in runner.state.streamed if node_id == asker.id]
    assert whole["streamed_text"] == "one two three" and whole["chunks"] == len(chunks)


def _saved_agent(path: Path | None) -> Any:
    assert path is not None
    return agent_record(rc.ExecutionInfo.load(path))


def _without_latency(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "response": {**c["response"], "latency": None}} for c in calls]


def test_a_remote_agents_saved_run_holds_its_usage_and_model_calls_as_a_local_ones(
    ray_cluster: object, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    extras = {}
    for mode in ("asyncio", "distributed"):
        llm_server.reset()
        script(llm_server)
        with rc.Runner(logging_setting="NONE", state_dir=str(tmp_path / mode)) as runner:
            runner.run_sync(boss_of(agent(llm_server, mode)), "look up two")
        extras[mode] = _saved_agent(runner.saved_to).extras
    local, remote = extras["asyncio"], extras["distributed"]
    assert remote["llm"] == local["llm"]
    assert list(remote["llm"]) == list(local["llm"])  # the same fields in the same order
    assert local["llm"] == {
        "provider": "openai",
        "model": "remote-model",
        "input_tokens": 21,
        "output_tokens": 15,
        "cost": pytest.approx(0.036),
        "calls": 3,
    }
    assert len(remote["model_calls"]) == 3
    assert _without_latency(remote["model_calls"]) == _without_latency(local["model_calls"])


async def peek(n: int) -> int:
    """Read the run's journal while the agent waits for this tool (on the driver).

    Args:
        n: the number
    """
    live = current_runner.get()
    assert live is not None and live.state.journal is not None
    await live.state.journal.barrier()
    path = Path(live.config.state_dir) / f"{live.run_id}.journal"
    journaled.extend(json.loads(line) for line in path.read_text().splitlines())
    return n


journaled: list[Any] = []  # the journal's lines, as `peek` read them


def test_a_remote_agents_model_calls_are_in_the_journal_as_they_happen(
    ray_cluster: object, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    script(llm_server, lookups=1)
    journaled.clear()
    tool = rc.function_node(peek, name="lookup")
    asker = rc.agent_node("asker", llm=model(llm_server), tool_nodes=[tool], mode="distributed")
    with rc.Runner(logging_setting="NONE", state_dir=str(tmp_path)) as runner:
        runner.run_sync(asker, "peek")
    calls = [line for line in journaled if isinstance(line, list) and line[0] == "M"]
    assert len(calls) == 1  # the first model call, journaled before its tool ran
    assert calls[0][1] == agent_record(runner.info).id


def _failed_run(server: FakeLLMServer, tmp_path: Path) -> Path:
    """A run whose remote agent's provider fails at the third model call."""
    script(server, lookups=2, answer=False)  # past the script the server answers 500
    looked_up.clear()
    first = rc.Runner(logging_setting="NONE", state_dir=str(tmp_path))
    with first, pytest.raises(LLMError):
        first.run_sync(boss_of(agent(server)), "look up two")
    assert first.saved_to is not None and looked_up == [1, 2]
    return first.saved_to


def test_a_remote_agent_whose_provider_fails_mid_way_keeps_the_calls_that_succeeded(
    ray_cluster: object, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    saved = _failed_run(llm_server, tmp_path)
    asker = _saved_agent(saved)
    assert asker.status == "failed" and asker.error.type == "ProviderError"
    assert len(llm_server.requests) == 3
    assert [c["response"]["tool_calls"][0]["arguments"] for c in asker.extras["model_calls"]] == [
        {"n": 1},
        {"n": 2},
    ]
    assert asker.extras["llm"]["calls"] == 2 and asker.extras["llm"]["input_tokens"] == 14


def test_from_state_replays_a_remote_agents_model_calls_for_free(
    ray_cluster: object, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    saved = _failed_run(llm_server, tmp_path)
    llm_server.reset()
    llm_server.text("all looked up")  # only the call that failed is asked again
    looked_up.clear()
    with rc.Runner.from_state(saved, logging_setting="NONE", state_dir=str(tmp_path)) as resumed:
        info = resumed.run_sync(boss_of(agent(llm_server)), "look up two")
    assert info.answer == "all looked up (3 calls)"
    assert len(llm_server.requests) == 1  # the server's own count
    assert looked_up == []  # both lookups replayed on the driver
    asker = agent_record(info)
    assert asker.extras is not None and len(asker.extras["model_calls"]) == 3
    assert asker.extras["llm"]["calls"] == 3


def test_a_raising_driver_subscriber_leaves_the_remote_agent_alone(
    ray_cluster: object, llm_server: FakeLLMServer
) -> None:
    script(llm_server, lookups=1)
    seen: list[ev.Event] = []

    def broken(event: ev.Event) -> None:
        if isinstance(event, MODEL_EVENTS):
            raise RuntimeError("this subscriber is broken")

    with quiet() as runner:
        runner.publisher.subscribe(broken)
        runner.publisher.subscribe(seen.append)
        info = runner.run_sync(agent(llm_server), "look one up")
    assert info.answer.text == "all looked up" and len(llm_server.requests) == 2
    assert agent_record(info).extras["llm"]["calls"] == 2
    assert sum(isinstance(e, ev.LLMResponseReceived) for e in seen) == 2


def test_regular_logging_has_the_reply_lines_of_a_remote_agent(
    ray_cluster: object, llm_server: FakeLLMServer, tmp_path: Path
) -> None:
    script(llm_server, lookups=1)
    log = tmp_path / "run.log"
    with rc.Runner(logging_setting="REGULAR", log_file=str(log), save_state=False) as runner:
        info = runner.run_sync(agent(llm_server), "look one up")
    asker = agent_record(info)
    lines = [line for line in log.read_text().splitlines() if "got a reply" in line]
    assert len(lines) == 2, log.read_text()
    assert all(f"asker (node {asker.id}) got a reply from openai:remote-model" in x for x in lines)
    assert all("(7 in, 5 out tokens)" in line for line in lines)
