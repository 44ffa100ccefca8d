"""agent_node: a text answer, what the result holds, its events, and what it refuses."""

from __future__ import annotations

import dataclasses

import pytest
from agent_tools import City, add

import requestcompletion as rc
from requestcompletion.llm import (
    AssistantMessage,
    MessageHistory,
    SystemMessage,
    Usage,
    UserMessage,
)
from requestcompletion.pubsub import events as ev
from requestcompletion.testing import RecordingSubscriber, ScriptedModel


def quiet(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)  # type: ignore[arg-type]


async def test_a_text_answer() -> None:
    model = ScriptedModel(["Paris is the capital of France."])
    Agent = rc.agent_node("geographer", llm=model, system_message="You know geography.")

    async with quiet() as runner:
        info = await runner.run(Agent, "What is the capital of France?")

    result = info.answer
    assert isinstance(result, rc.AgentResult)
    assert result.output == result.text == "Paris is the capital of France."
    assert str(result) == result.text
    assert result.structured is None
    assert (result.model_calls, result.tool_calls) == (1, 0)
    assert result.history == [
        SystemMessage("You know geography."),
        UserMessage("What is the capital of France?"),
        AssistantMessage("Paris is the capital of France."),
    ]
    assert result.usage == Usage(9, 6)  # the scripted model counts words
    assert result.cost is None  # "scripted" has no price
    [node] = info.nodes
    assert (node.name, node.status, node.args) == (
        "geographer",
        "succeeded",
        ("What is the capital of France?",),
    )


async def test_rc_call_returns_the_result_and_works_without_a_runner() -> None:
    Agent = rc.agent_node("echo", llm=ScriptedModel(["one", "two"]))
    first = await rc.call(Agent, "hi")  # a temporary runner
    async with quiet():
        second = await rc.call(Agent, "hi again")
    assert (first.output, second.output) == ("one", "two")


async def test_a_history_continues_a_conversation() -> None:
    model = ScriptedModel(["first answer", "second answer"])
    Agent = rc.agent_node("chat", llm=model, system_message="Be brief.")
    async with quiet():
        first = await rc.call(Agent, "first question")
        history = first.history.copy()
        history.append(UserMessage("second question"))
        second = await rc.call(Agent, history)

    # the system message is not repeated, and the caller's history is left alone
    assert [type(m).__name__ for m in second.history] == [
        "SystemMessage",
        "UserMessage",
        "AssistantMessage",
        "UserMessage",
        "AssistantMessage",
    ]
    assert len(history) == 4
    assert model.calls[1].messages == list(history)


async def test_a_history_without_a_system_message_gets_the_agents() -> None:
    model = ScriptedModel(["ok"])
    Agent = rc.agent_node("chat", llm=model, system_message="Be brief.")
    await rc.call(Agent, MessageHistory([UserMessage("hello")]))
    assert model.calls[0].messages == [SystemMessage("Be brief."), UserMessage("hello")]


async def test_llm_events_name_the_agent_node() -> None:
    recorder = RecordingSubscriber()
    Agent = rc.agent_node("helper", llm=ScriptedModel(["ok"]))
    async with quiet() as runner:
        recorder.attach(runner)
        info = await runner.run(Agent, "hi")
    node_id = info.insertion_requests[0].id

    [started] = recorder.of_type(ev.LLMRequestStarted)
    [received] = recorder.of_type(ev.LLMResponseReceived)
    assert (started.node_id, started.node_name, started.parent_id) == (node_id, "helper", None)
    assert (started.provider, started.model, started.messages) == ("scripted", "scripted", 1)
    assert (received.input_tokens, received.output_tokens, received.cost) == (1, 1, None)
    assert received.latency >= 0
    assert started.time <= received.time
    with pytest.raises(dataclasses.FrozenInstanceError):
        started.model = "other"  # type: ignore[misc]
    names = recorder.names()
    assert names.index("RequestCreated") < names.index("LLMRequestStarted")
    assert names.index("LLMResponseReceived") < names.index("RequestSucceeded")


async def test_the_recording_subscriber_also_takes_stream_items() -> None:
    recorder = RecordingSubscriber()

    async def talk() -> None:
        await rc.stream("a")
        await rc.stream({"b": 1})

    async with quiet(subscriber=recorder):
        await rc.call(talk)
    assert recorder.items == ["a", {"b": 1}]
    assert recorder.events == []
    recorder.clear()
    assert recorder.items == []


def test_a_bad_prompt_is_a_node_creation_error() -> None:
    Agent = rc.agent_node("picky", llm=ScriptedModel(["never"]))
    with quiet() as runner, pytest.raises(rc.NodeCreationError, match="string or a MessageHistory"):
        runner.run_sync(Agent, 42)


def test_the_node_type_carries_name_and_timeout() -> None:
    Agent = rc.agent_node("my agent", llm=ScriptedModel([]), timeout=3.0)
    assert issubclass(Agent, rc.Node)
    assert Agent.pretty_name() == "my agent"
    assert Agent.timeout == 3.0
    assert Agent.__module__ == __name__


def test_a_slow_agent_hits_its_timeout() -> None:
    Agent = rc.agent_node("slow", llm=ScriptedModel(["late"], latency=30.0), timeout=0.05)
    with quiet() as runner, pytest.raises(rc.NodeTimeoutError, match="slow"):
        runner.run_sync(Agent, "hurry")


def untyped_tool(thing: object, callback: type) -> None:
    """A tool whose parameter cannot be described in JSON schema."""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"llm": "gpt-4o"}, r"llm='gpt-4o': unknown model provider .* use one of: local"),
        ({"llm": 42}, "llm must be a model"),
        ({"max_tool_calls": -1}, "max_tool_calls must be an int >= 0"),
        ({"max_tool_calls": 2.5}, "max_tool_calls must be an int >= 0"),
        ({"retries": True}, "retries must be an int >= 0"),
        ({"timeout": 0}, "timeout must be a number of seconds > 0"),
        ({"system_message": 3}, "system_message must be a string"),
        ({"tool_nodes": "add"}, "tool_nodes must be a list"),
        ({"tool_nodes": [42]}, "cannot be a tool"),
        ({"tool_nodes": [add, rc.function_node(add)]}, "two tools named 'add'"),
        ({"tool_nodes": [untyped_tool]}, "parameter 'callback' of 'untyped_tool'"),
        ({"output_schema": type}, "cannot be described in JSON schema"),
    ],
)
def test_bad_definitions_fail_at_once(options: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"llm": ScriptedModel([]), **options}
    with pytest.raises(rc.NodeCreationError, match=message):
        rc.agent_node("bad", **arguments)  # type: ignore[call-overload]


def test_stream_needs_a_model_that_streams() -> None:
    class Plain(rc.llm.ModelBase):
        async def chat(self, messages, tools=None, output_schema=None):  # type: ignore[no-untyped-def]
            return rc.llm.Response("x")

    with pytest.raises(rc.NodeCreationError, match="Plain cannot stream"):
        rc.agent_node("plain", llm=Plain(), stream=True)


def test_structured_output_type_flows_to_the_result() -> None:
    Agent = rc.agent_node(
        "typed", llm=ScriptedModel([City(name="Oslo", population=1)]), output_schema=City
    )
    with quiet() as runner:
        result = runner.run_sync(Agent, "a city").answer
    assert result.output == City(name="Oslo", population=1)
