"""Tool calls: run in parallel as child nodes; bad calls go back to the model; bounds hold."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from agent_tools import Meeting, add

import requestcompletion as rc
from requestcompletion.llm import Message, ToolCall, ToolMessage, UserMessage
from requestcompletion.nodes._agent_loop import DEFAULT_MAX_TURNS
from requestcompletion.testing import ScriptedModel


def quiet(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)  # type: ignore[arg-type]


def tool_results(messages: list[Message]) -> list[ToolMessage]:
    return [m for m in messages if isinstance(m, ToolMessage)]


async def test_parallel_tool_calls_are_child_nodes_with_arguments_and_results() -> None:
    meeting = Meeting(2)  # the two `meet` calls can only finish together
    model = ScriptedModel(
        [
            [
                ToolCall("meet", {"who": "ada"}, id="c1"),
                ToolCall("meet", {"who": "bob"}, id="c2"),
                ToolCall("add", {"a": 2, "b": 3}, id="c3"),
            ],
            ToolCall("add", {"a": 1, "b": 1}, id="c4"),
            "all done",
        ]
    )
    Agent = rc.agent_node("host", llm=model, tool_nodes=[meeting.meet, rc.function_node(add)])

    async with quiet() as runner, asyncio.timeout(10):
        info = await runner.run(Agent, "introduce everyone")

    result = info.answer
    assert result.output == "all done"
    assert result.tool_calls == 4
    [agent, *children] = info.nodes
    assert [(c.name, c.parent_id, c.kwargs, c.output, c.status) for c in children] == [
        ("meet", agent.id, {"who": "ada"}, "hello ada", "succeeded"),
        ("meet", agent.id, {"who": "bob"}, "hello bob", "succeeded"),
        ("add", agent.id, {"a": 2, "b": 3}, 5, "succeeded"),
        ("add", agent.id, {"a": 1, "b": 1}, 2, "succeeded"),
    ]
    vertices, edges = info.to_graph()
    assert [v.id for v in vertices] == [agent.id, *(c.id for c in children)]
    assert {(e.source, e.target) for e in edges} == {(None, agent.id)} | {
        (agent.id, c.id) for c in children
    }
    # the results go back in the model's order, quoting the call ids
    second_call = model.calls[1].messages
    assert [(m.tool_call_id, m.content, m.is_error) for m in tool_results(second_call)] == [
        ("c1", "hello ada", False),
        ("c2", "hello bob", False),
        ("c3", "5", False),
    ]
    offered = model.calls[0].tools
    assert [t.name for t in offered] == ["meet", "add"]
    assert offered[1].parameters["properties"]["a"]["description"] == "the first number"


async def test_tools_may_be_plain_functions_function_nodes_and_class_nodes() -> None:
    class Shout(rc.Node[str]):
        """Shout a word."""

        def __init__(self, word: str) -> None:
            super().__init__()
            self.word = word

        async def invoke(self) -> str:
            return self.word.upper()

    def sync_add(a: int, b: int) -> int:
        """Add on a thread."""
        return a + b

    model = ScriptedModel(
        [
            [
                ToolCall("Shout", {"word": "hey"}),
                ToolCall("plus", {"a": 1, "b": 2}),
                ToolCall("sync_add", {"a": 3, "b": 4}),
            ],
            "ok",
        ]
    )
    Plus = rc.function_node(add, name="plus")
    Agent = rc.agent_node("mixed", llm=model, tool_nodes=[Shout, Plus, sync_add])
    async with quiet() as runner:
        info = await runner.run(Agent, "go")
    assert [(n.name, n.output) for n in info.nodes[1:]] == [
        ("Shout", "HEY"),
        ("plus", 3),
        ("sync_add", 7),
    ]
    assert model.calls[0].tools[0].description == "Shout a word."


@pytest.mark.parametrize(
    ("bad_call", "says"),
    [
        (ToolCall("add", {"a": "three", "b": 2}), "do not fit its schema: a: Input should be"),
        (ToolCall("add", {"a": 1}), "b: Field required"),
        (ToolCall("add", {"a": 1, "b": 2, "c": 3}), "c: Extra inputs are not permitted"),
        (ToolCall("add", '{"a": 1, "b":'), "are not valid JSON"),
        (ToolCall("add", "[1, 2]"), "must be a JSON object"),
        (
            ToolCall("subtract", {"a": 1, "b": 2}),
            "there is no tool named 'subtract'; the tools are: 'add'",
        ),
    ],
)
async def test_a_bad_tool_call_goes_back_to_the_model(bad_call: ToolCall, says: str) -> None:
    model = ScriptedModel([[bad_call, ToolCall("add", {"a": 1, "b": 2})], "recovered"])
    Agent = rc.agent_node("careful", llm=model, tool_nodes=[add])
    async with quiet() as runner:
        info = await runner.run(Agent, "add things")

    assert info.answer.output == "recovered"
    error, fine = tool_results(model.calls[1].messages)
    assert error.is_error and error.tool_call_id == bad_call.id
    assert error.content.startswith("Error: ")
    assert says in error.content
    assert (fine.is_error, fine.content) == (False, "3")
    # the bad call never became a node; the good one did
    assert [n.name for n in info.nodes] == ["careful", "add"]


async def test_an_empty_reply_is_sent_back_once_more() -> None:
    model = ScriptedModel(["", "   ", "there you go"])
    Agent = rc.agent_node("shy", llm=model)
    result = await rc.call(Agent, "say something")
    assert result.output == "there you go"
    assert model.calls[1].messages[-1] == UserMessage(
        "Your reply was empty. Answer the request, or call one of the tools."
    )
    assert result.model_calls == 3


async def test_empty_replies_without_end_give_up_with_the_history() -> None:
    Agent = rc.agent_node("mute", llm=ScriptedModel(itertools.cycle([""])), retries=2)
    async with quiet():
        with pytest.raises(rc.LLMError, match="empty reply 3 times in a row") as caught:
            await rc.call(Agent, "anything?")
    assert len(caught.value.history) == 1 + 3 + 2  # the prompt, 3 replies, 2 nudges


async def test_malformed_calls_without_end_give_up_with_the_history() -> None:
    model = ScriptedModel(itertools.cycle([ToolCall("nope", {})]))
    Agent = rc.agent_node("lost", llm=model, tool_nodes=[add], retries=1)
    with pytest.raises(
        rc.errors.ToolArgumentsError, match="malformed tool calls 2 turns"
    ) as caught:
        await rc.call(Agent, "go")
    assert caught.value.tool == "nope"
    assert len(caught.value.history) == 1 + 2 * 2
    assert len(model.calls) == 2


async def test_a_good_turn_resets_the_count_of_bad_ones() -> None:
    bad, good = ToolCall("nope", {}), ToolCall("add", {"a": 1, "b": 1})
    model = ScriptedModel([bad, good, bad, good, bad, "fine"])
    Agent = rc.agent_node("wobbly", llm=model, tool_nodes=[add], retries=1)
    assert (await rc.call(Agent, "go")).output == "fine"


async def test_an_endless_tool_loop_stops_at_max_tool_calls() -> None:
    model = ScriptedModel(itertools.cycle([[ToolCall("add", {"a": 1, "b": 2})] * 2]))
    Agent = rc.agent_node("loop", llm=model, tool_nodes=[add], max_tool_calls=5)
    async with quiet() as runner:
        with pytest.raises(rc.ToolCallLimitError, match="6 tool calls, more than max_tool_calls=5"):
            await runner.run(Agent, "keep adding")
        [agent, *tools] = runner.info.nodes
    error = agent.error
    assert error is not None and error.type == "ToolCallLimitError"
    assert len(tools) == 4  # the third turn was refused before it ran
    history = runner.state.records[agent.id].error.history
    assert len(history) == 1 + 3 + 4  # prompt, 3 assistant turns, 4 tool results
    assert len(history[-1].tool_calls) == 2  # the turn over the limit
    not_run = runner.state.records[agent.id].error.not_run
    assert not_run == history[-1].tool_calls
    assert "None of the 2 calls of the turn over the limit ran" in error.message
    assert all(f"add (id {call.id!r})" in error.message for call in not_run)


async def test_a_model_that_never_stops_calling_tools_stops_at_the_default_turn_bound() -> None:
    model = ScriptedModel(itertools.cycle([ToolCall("add", {"a": 1, "b": 2})]))
    Agent = rc.agent_node("looper", llm=model, tool_nodes=[add])  # no max_tool_calls
    async with quiet() as runner:
        with pytest.raises(rc.TurnLimitError, match=r"asked 50 times .*max_turns=50") as caught:
            await runner.run(Agent, "keep adding")
    assert len(model.calls) == DEFAULT_MAX_TURNS == 50
    assert len(caught.value.history) == 1 + 2 * 50  # every turn and its result is kept
    assert len(runner.info.nodes) == 1 + 50


async def test_max_turns_can_be_set_or_lifted() -> None:
    script = [ToolCall("add", {"a": 1, "b": 2})] * 3 + ["done"]
    Tight = rc.agent_node("tight", llm=ScriptedModel(script), tool_nodes=[add], max_turns=3)
    with pytest.raises(rc.TurnLimitError, match="max_turns=3"):
        await rc.call(Tight, "go")
    Enough = rc.agent_node("enough", llm=ScriptedModel(script), tool_nodes=[add], max_turns=4)
    assert (await rc.call(Enough, "go")).output == "done"
    Free = rc.agent_node("free", llm=ScriptedModel(script), tool_nodes=[add], max_turns=None)
    assert (await rc.call(Free, "go")).model_calls == 4


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_a_bad_max_turns_is_refused(bad: object) -> None:
    with pytest.raises(rc.NodeCreationError, match=r"max_turns must be an int >= 1 or None"):
        rc.agent_node("x", llm=ScriptedModel([]), max_turns=bad)  # type: ignore[arg-type]


async def test_a_tool_that_raises_is_reported_to_the_model() -> None:
    def divide(a: int, b: int) -> float:
        """Divide a by b."""
        return a / b

    model = ScriptedModel([ToolCall("divide", {"a": 1, "b": 0}), "cannot divide by zero"])
    Agent = rc.agent_node("calc", llm=model, tool_nodes=[divide])
    async with quiet() as runner:
        info = await runner.run(Agent, "1/0?")
    assert info.answer.output == "cannot divide by zero"
    [report] = tool_results(model.calls[1].messages)
    assert report.is_error
    assert report.content == "Error: tool 'divide' failed: ZeroDivisionError: division by zero"
    tool = info.nodes[1]
    assert tool.status == "failed" and tool.error is not None
    assert tool.error.type == "ZeroDivisionError"


async def test_a_fatal_error_in_a_tool_ends_the_run() -> None:
    async def explode() -> None:
        """Give up on everything."""
        raise rc.FatalError("the building is on fire")

    model = ScriptedModel(
        [[ToolCall("explode", {}), ToolCall("add", {"a": 1, "b": 1})], "unreachable"]
    )
    Agent = rc.agent_node("doomed", llm=model, tool_nodes=[explode, add])
    async with quiet() as runner:
        with pytest.raises(rc.FatalError, match="on fire"):
            await runner.run(Agent, "go")
    assert len(model.calls) == 1


async def test_with_end_on_error_a_failing_tool_ends_the_run() -> None:
    def broken() -> None:
        """Always fails."""
        raise ValueError("broken tool")

    model = ScriptedModel([ToolCall("broken", {}), "unreachable"])
    Agent = rc.agent_node("strict", llm=model, tool_nodes=[broken])
    async with quiet(end_on_error=True) as runner:
        with pytest.raises(ValueError, match="broken tool"):
            await runner.run(Agent, "go")
    assert len(model.calls) == 1


async def test_an_agent_can_be_the_tool_of_another() -> None:
    inner_model = ScriptedModel([ToolCall("add", {"a": 20, "b": 22}), "the answer is 42"])
    Inner = rc.agent_node(
        "math expert",
        llm=inner_model,
        tool_nodes=[add],
        description="Solves arithmetic.",
        system_message="You do sums.",
    )
    outer_model = ScriptedModel(
        [ToolCall("math_expert", {"prompt": "what is 20 + 22?"}), "my expert says 42"]
    )
    Outer = rc.agent_node("manager", llm=outer_model, tool_nodes=[Inner])

    async with quiet() as runner:
        info = await runner.run(Outer, "ask the expert")

    assert info.answer.output == "my expert says 42"
    manager, expert, adder = info.nodes
    assert (expert.name, expert.parent_id, expert.kwargs) == (
        "math expert",
        manager.id,
        {"prompt": "what is 20 + 22?"},
    )
    assert (adder.name, adder.parent_id, adder.output) == ("add", expert.id, 42)
    assert expert.output.output == "the answer is 42"
    [tool] = outer_model.calls[0].tools
    assert (tool.name, tool.description) == ("math_expert", "Solves arithmetic.")
    assert tool.parameters["required"] == ["prompt"]
    [report] = tool_results(outer_model.calls[1].messages)
    assert report.content == "the answer is 42"
    assert inner_model.calls[0].messages[0].content == "You do sums."
    # each agent's tokens are its own node's; the run adds them up
    assert manager.extras is not None and expert.extras is not None
    usage = info.usage
    assert usage["input_tokens"] == (
        manager.extras["llm"]["input_tokens"] + expert.extras["llm"]["input_tokens"]
    )


async def test_a_sub_agent_with_structured_output_answers_in_json() -> None:
    from agent_tools import City

    Inner = rc.agent_node(
        "finder", llm=ScriptedModel([City(name="Lima", population=10)]), output_schema=City
    )
    outer_model = ScriptedModel([ToolCall("finder", {"prompt": "a city"}), "Lima"])
    Outer = rc.agent_node("boss", llm=outer_model, tool_nodes=[Inner])
    await rc.call(Outer, "go")
    [report] = tool_results(outer_model.calls[1].messages)
    assert report.content == '{"name":"Lima","population":10}'


def test_function_node_description_overrides_the_docstring_for_the_model() -> None:
    from requestcompletion.nodes._agent_tools import tool_of

    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: its name
        """
        return city

    plain = rc.function_node(lookup, name="lookup_plain")
    described = rc.function_node(lookup, name="lookup_described", description="Find a city.")
    assert tool_of(plain).description == "Look a city up."
    assert tool_of(described).description == "Find a city."
    assert tool_of(described).parameters == tool_of(plain).parameters  # arguments as before

    @rc.function_node(description="Say hello.")
    def hello(name: str) -> str:
        return f"hello {name}"

    assert tool_of(hello).description == "Say hello."
    assert hello("ada") == "hello ada"
    with pytest.raises(rc.NodeCreationError, match="description must be a string"):
        rc.function_node(lookup, description=3)  # type: ignore[arg-type]
