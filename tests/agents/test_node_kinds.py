"""Events, `NodeInfo` and saved runs say what kind of node they are about.

A hook tells an agent from a tool from a plain function by `kind` alone, never by
name; the model events say they are about an agent; a saved run (JSON or journal)
keeps the kinds, and a file saved before kinds were recorded still loads.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import requestcompletion as rc
from fake_llm_server import FakeLLMServer
from requestcompletion.llm.providers.openai_compat import OpenAICompatibleModel
from requestcompletion.pubsub import events as ev

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runs"
MakeModel = Callable[..., OpenAICompatibleModel]


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


class Lookup(rc.Node[str]):
    """Look a word up."""

    def __init__(self, word: str) -> None:
        super().__init__()
        self.word = word

    async def invoke(self) -> str:
        return f"{self.word}: a word"


class Retriever(rc.Node[str]):
    """Find documents about a topic."""

    kind = "retriever"

    def __init__(self, topic: str) -> None:
        super().__init__()
        self.topic = topic

    async def invoke(self) -> str:
        return f"documents about {self.topic}"


async def helper(x: int) -> int:
    await rc.stream(f"helping with {x}")
    return x


def build(make: MakeModel, *, stream: bool = False) -> Any:
    """A workflow: a function that calls a helper, then an agent with every sort of tool."""
    expert = rc.agent_node("expert", llm=make(), system_message="You know things.")
    agent = rc.agent_node(
        "planner",
        llm=make(),
        system_message="You plan.",
        tool_nodes=[add, Lookup, Retriever, expert],
        stream=stream,
    )

    async def workflow(question: str) -> str:
        await rc.call(helper, 1)
        result = await rc.call(agent, question)
        return str(result.output)

    return workflow


def script(server: FakeLLMServer) -> None:
    server.tool_calls(
        ("add", {"a": 1, "b": 2}),
        ("Lookup", {"word": "kind"}),
        ("Retriever", {"topic": "events"}),
        ("expert", {"prompt": "what is a kind?"}),
    )
    server.text("a sort of thing")  # the expert, called as a tool
    server.tool_calls(("add", {"a": 3, "b": 4}))
    server.text("planned")


def quiet(**overrides: Any) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)


async def every_event(
    server: FakeLLMServer, make: MakeModel
) -> tuple[list[ev.Event], rc.ExecutionInfo]:
    """The streamed workflow's events, as a subscriber got them, and its record."""
    script(server)
    seen: list[ev.Event] = []
    async with quiet() as runner, asyncio.timeout(20):
        runner.publisher.subscribe(seen.append)
        info = await runner.run(build(make, stream=True), "plan it")
    return seen, info


async def test_a_subscriber_counts_tool_calls_by_kind_alone(
    llm_server: FakeLLMServer, http_model: MakeModel
) -> None:
    script(llm_server)
    started: collections.Counter[str | None] = collections.Counter()
    model_events: set[str | None] = set()

    def hook(event: ev.Event) -> None:  # no names: only what the events say
        if isinstance(event, ev.RequestCreated):
            started[event.kind] += 1
        elif isinstance(event, ev.LLMRequestStarted | ev.LLMResponseReceived):
            model_events.add(event.kind)

    async with quiet() as runner, asyncio.timeout(20):
        runner.publisher.subscribe(hook)
        info = await runner.run(build(http_model), "plan it")
    assert info.answer == "planned"
    assert started == {"function": 2, "agent": 2, "tool": 3, "retriever": 1}
    assert model_events == {"agent"}
    by_name = {node.name: node.kind for node in info.nodes}
    assert by_name == {
        "workflow": "function",
        "helper": "function",
        "planner": "agent",
        "add": "tool",
        "Lookup": "tool",
        "Retriever": "retriever",
        "expert": "agent",
    }


async def test_every_event_of_a_node_has_the_kind_its_node_info_has(
    llm_server: FakeLLMServer, http_model: MakeModel
) -> None:
    seen, info = await every_event(llm_server, http_model)
    kinds = {node.id: node.kind for node in info.nodes}
    for event in seen:
        if event.node_id is None:
            assert event.kind is None, event
        else:
            assert event.kind == kinds[event.node_id], event
    chunks = [e for e in seen if isinstance(e, ev.LLMChunk)]
    assert chunks and {e.kind for e in chunks} == {"agent"}
    streamed = [e for e in seen if type(e) is ev.Streamed]
    assert [(e.node_name, e.kind) for e in streamed] == [("helper", "function")]
    ends = [type(e) for e in seen if e.node_id is None]
    assert ends == [ev.RunStarted, ev.RunFinished]


async def test_failed_and_cancelled_calls_say_their_kind(
    llm_server: FakeLLMServer, http_model: MakeModel
) -> None:
    def broken(x: int) -> int:
        """Always fails."""
        raise ValueError(f"no {x}")

    llm_server.tool_calls(("broken", {"x": 1}))
    llm_server.hang()
    agent = rc.agent_node("fixer", llm=http_model(timeout=30.0), tool_nodes=[broken])
    seen: list[ev.Event] = []
    async with quiet(timeout=0.5) as runner:
        runner.publisher.subscribe(seen.append)
        with pytest.raises(rc.GlobalTimeOutError):
            await runner.run(agent, "fix it")
    failed = [(e.node_name, e.kind) for e in seen if isinstance(e, ev.RequestFailed)]
    cancelled = [(e.node_name, e.kind) for e in seen if isinstance(e, ev.RequestCancelled)]
    assert failed == [("broken", "tool")]
    assert cancelled == [("fixer", "agent")]


async def test_a_call_that_cannot_be_created_says_its_kind() -> None:
    seen: list[ev.Event] = []

    async def caller() -> None:
        await rc.call(add, 1)  # b is missing

    async with quiet() as runner:
        runner.publisher.subscribe(seen.append)
        with pytest.raises(rc.NodeCreationError):
            await runner.run(caller)
    [failed] = [e for e in seen if isinstance(e, ev.RequestCreationFailed)]
    assert (failed.node_name, failed.kind) == ("add", "function")


def test_node_kind_says_a_node_types_kind() -> None:
    expert = rc.agent_node("expert", llm=rc.testing.ScriptedModel(["hi"]))
    assert rc.node_kind(add) == "function"
    assert rc.node_kind(rc.function_node(add)) == "function"
    assert rc.node_kind(rc.function_node(add, kind="maths")) == "maths"
    assert rc.node_kind(Lookup) == "node"
    assert rc.node_kind(Retriever) == "retriever"
    assert rc.node_kind(expert) == "agent"
    assert Retriever.kind == "retriever" and expert.kind == "agent"


@pytest.mark.parametrize("bad", ["", 3, None])
def test_a_kind_that_is_not_a_name_is_refused_naming_the_node(bad: object) -> None:
    class Odd(rc.Node[int]):
        async def invoke(self) -> int:
            return 1

    Odd.kind = bad  # type: ignore[assignment]
    with pytest.raises(rc.NodeCreationError, match=rf"node 'Odd': kind must be .*{bad!r}"):
        rc.call_sync(Odd)
    with pytest.raises(rc.NodeCreationError, match=rf"node 'add': kind must be .*{bad!r}"):
        rc.function_node(add, kind=bad)  # type: ignore[arg-type]


# --- saved runs --------------------------------------------------------------------


async def test_the_saved_run_and_its_journal_keep_the_kinds(
    llm_server: FakeLLMServer, http_model: MakeModel, tmp_path: Path
) -> None:
    script(llm_server)
    async with rc.Runner(
        logging_setting="NONE", run_identifier="kinds", state_dir=tmp_path
    ) as runner:
        live = await runner.run(build(http_model), "plan it")
        from_journal = rc.ExecutionInfo.load(tmp_path / "kinds.journal")
    expected = [(n.id, n.kind) for n in live.nodes]
    assert [(n.id, n.kind) for n in from_journal.nodes] == expected
    saved = rc.ExecutionInfo.load(tmp_path / "kinds.json")
    assert [(n.id, n.kind) for n in saved.nodes] == expected
    document = json.loads((tmp_path / "kinds.json").read_text())
    assert ["planner", document["types"][2][1], "agent"] in document["types"]


def test_a_run_saved_before_kinds_were_recorded_loads_with_kind_unknown() -> None:
    raw = json.loads((FIXTURES / "cli-demo-scripted-v1.json").read_text())
    assert raw["schema_version"] == 1 and all(len(entry) == 2 for entry in raw["types"])
    info = rc.ExecutionInfo.load(FIXTURES / "cli-demo-scripted-v1.json")
    assert len(info.nodes) == 9
    assert {node.kind for node in info.nodes} == {"unknown"}


def test_the_committed_v2_file_loads_with_its_kinds() -> None:
    raw = json.loads((FIXTURES / "kinds-v2.json").read_text())
    assert raw["schema_version"] == 2  # a committed file never changes; add a v3 next to it
    info = rc.ExecutionInfo.load(FIXTURES / "kinds-v2.json")
    assert [(node.name, node.kind) for node in info.nodes] == [
        ("workflow", "function"),
        ("helper", "function"),
        ("planner", "agent"),
        ("add", "tool"),
        ("Lookup", "tool"),
        ("Retriever", "retriever"),
        ("expert", "agent"),
        ("add", "tool"),
    ]


# --- the order hooks see ------------------------------------------------------------

TERMINAL = (ev.RequestSucceeded, ev.RequestFailed, ev.RequestCancelled)


async def test_hooks_see_each_call_in_its_lifecycle_order(
    llm_server: FakeLLMServer, http_model: MakeModel
) -> None:
    seen, info = await every_event(llm_server, http_model)
    assert type(seen[0]) is ev.RunStarted and type(seen[-1]) is ev.RunFinished
    at: dict[int, list[tuple[int, ev.Event]]] = collections.defaultdict(list)
    for index, event in enumerate(seen):
        if event.node_id is not None:
            at[event.node_id].append((index, event))
    parents = {node.id: node.parent_id for node in info.nodes}
    for node_id, events in at.items():
        # created first, one end last, everything else of the node in between
        assert type(events[0][1]) is ev.RequestCreated, events
        assert isinstance(events[-1][1], TERMINAL), events
        assert sum(isinstance(e, TERMINAL) for _, e in events) == 1
        parent = parents[node_id]
        if parent is not None:  # inside its caller's life
            assert at[parent][0][0] < events[0][0] and events[-1][0] < at[parent][-1][0]
    for node in info.nodes:
        if node.kind != "agent":
            continue
        model = [type(e) for _, e in at[node.id] if not isinstance(e, ev.LLMChunk)]
        model = [t for t in model if t in (ev.LLMRequestStarted, ev.LLMResponseReceived)]
        assert model == [ev.LLMRequestStarted, ev.LLMResponseReceived] * (len(model) // 2)
        replies = [i for i, e in at[node.id] if isinstance(e, ev.LLMResponseReceived)]
        asks = [i for i, e in at[node.id] if isinstance(e, ev.LLMRequestStarted)]
        for child, parent in parents.items():
            if parent == node.id:  # a tool call: after the reply that asked, before the next ask
                created = at[child][0][0]
                asked_by = max(i for i in replies if i < created)
                assert not [i for i in asks if asked_by < i < created]


# --- a strategy of the user's --------------------------------------------------------


class Elsewhere(rc.ExecutionStrategy):
    """A user's strategy: runs nodes as asyncio would, and notes the kinds it was given."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def execute(self, task: Any) -> Any:
        self.kinds.append(task.spec.kind)
        return task.work


class Indexer(rc.Node[int]):
    kind = "indexer"
    execution_mode = "elsewhere"

    async def invoke(self) -> int:
        return await rc.call(rc.function_node(helper, mode="elsewhere"), 2)


async def test_nodes_a_users_strategy_runs_keep_their_kind() -> None:
    strategy = Elsewhere()
    tool = rc.function_node(add, mode="elsewhere")
    agent = rc.agent_node(
        "sorter",
        llm=rc.testing.ScriptedModel([rc.llm.ToolCall("add", {"a": 1, "b": 1}), "two"]),
        tool_nodes=[tool],
    )

    async def both() -> None:
        await rc.call(Indexer)
        await rc.call(agent, "add")

    created: list[tuple[str | None, str | None]] = []
    async with quiet(execution_modes={"elsewhere": strategy}) as runner:
        runner.publisher.subscribe(
            lambda e: created.append((e.node_name, e.kind)),
            filter=lambda e: isinstance(e, ev.RequestCreated),
        )
        info = await runner.run(both)
    assert created == [
        ("both", "function"),
        ("Indexer", "indexer"),
        ("helper", "function"),
        ("sorter", "agent"),
        ("add", "tool"),
    ]
    assert [n.kind for n in info.nodes] == [kind for _, kind in created]
    assert strategy.kinds == ["indexer", "function", "function"]  # the type's kind
