"""Building agents is cheap: each tool is described once per function or node type, and shared."""

from __future__ import annotations

import gc
import weakref

import pytest
from agent_tools import City, add

import requestcompletion as rc
from requestcompletion.llm import Tool
from requestcompletion.testing import ScriptedModel


def tools_of(agent: type[rc.agent.AgentNode[object]]) -> tuple[Tool, ...]:  # type: ignore[name-defined]
    return agent.agent.toolbox.tools  # type: ignore[no-any-return]


def test_agents_with_the_same_tools_share_their_descriptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    described: list[object] = []
    real = Tool.from_function

    def counting(function: object, **options: object) -> Tool:
        described.append(function)
        return real(function, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(Tool, "from_function", counting)

    def lookup(city: str) -> City:
        """Find a city."""
        return City(name=city, population=1)

    def plus(a: int, b: int) -> int:
        """Add."""
        return a + b

    Lookup = rc.function_node(lookup)
    model = ScriptedModel([])
    agents = [
        rc.agent_node(f"agent{i}", llm=model, tool_nodes=[plus, Lookup], system_message=f"#{i}")
        for i in range(5)
    ]
    assert described == [plus, lookup]  # described once each, not once per agent
    first, *others = (tools_of(agent) for agent in agents)
    assert all(a is b for tools in others for a, b in zip(first, tools, strict=True))
    assert [tool.name for tool in first] == ["plus", "lookup"]


def test_a_shared_tool_still_validates_for_each_agent() -> None:
    model = ScriptedModel([rc.llm.ToolCall("add", {"a": 1, "b": "x"}), "gave up"])
    One = rc.agent_node("one", llm=model, tool_nodes=[add])
    rc.agent_node("two", llm=ScriptedModel([]), tool_nodes=[add])
    assert rc.call_sync(One, "go").output == "gave up"
    [error] = [m for m in model.calls[1].messages if isinstance(m, rc.llm.ToolMessage)]
    assert error.is_error and "b: Input should be a valid integer" in error.content


def test_agents_as_tools_share_one_schema_under_their_own_names() -> None:
    model = ScriptedModel([])
    Math = rc.agent_node("math expert", llm=model, description="Does sums.")
    Words = rc.agent_node("words", llm=model)
    math, words = Math.as_tool(), Words.as_tool()
    assert (math.name, math.description) == ("math_expert", "Does sums.")
    assert words.name == "words" and "Ask the words agent" in words.description
    assert math.parameters is words.parameters
    assert math.validate({"prompt": "1+1"}) == {"prompt": "1+1"}


def test_the_cache_does_not_keep_a_function_alive() -> None:
    def ephemeral(x: int) -> int:
        """A tool made for one request."""
        return x

    Agent = rc.agent_node("short-lived", llm=ScriptedModel([]), tool_nodes=[ephemeral])
    alive = weakref.ref(ephemeral)
    del ephemeral, Agent
    gc.collect()
    assert alive() is None


def test_a_callable_that_cannot_be_cached_is_still_described() -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, text: str) -> str:
            """Echo."""
            return text

    Agent = rc.agent_node("odd", llm=ScriptedModel([]), tool_nodes=[Unhashable()])
    assert [tool.name for tool in tools_of(Agent)] == ["tool"]


def test_a_subclass_of_a_class_node_gets_its_own_tool() -> None:
    class Search(rc.Node[str]):
        def __init__(self, query: str) -> None:
            super().__init__()
            self.query = query

        async def invoke(self) -> str:
            return self.query

    class Deeper(Search):
        def __init__(self, query: str, depth: int) -> None:
            super().__init__(query)
            self.depth = depth

    rc.agent_node("a", llm=ScriptedModel([]), tool_nodes=[Search])
    Agent = rc.agent_node("b", llm=ScriptedModel([]), tool_nodes=[Deeper])
    [tool] = tools_of(Agent)
    assert (tool.name, set(tool.parameters["properties"])) == ("Deeper", {"query", "depth"})


def test_a_bad_output_schema_is_refused_every_time() -> None:
    for _ in range(2):  # the check is cached; its failure must not be
        with pytest.raises(rc.NodeCreationError, match="cannot be described in JSON schema"):
            rc.agent_node("bad", llm=ScriptedModel([]), output_schema=type)
