"""tool_errors: a tool's exception goes to the model ("model", the default) or fails the agent."""

from __future__ import annotations

import pytest
from agent_tools import add

import requestcompletion as rc
from requestcompletion.llm import ToolCall, ToolMessage
from requestcompletion.testing import ScriptedModel


def broken(x: int) -> int:
    """A tool with a bug.

    Args:
        x: anything
    """
    raise KeyError("a bug in the tool")


def script() -> ScriptedModel:
    return ScriptedModel([ToolCall("broken", {"x": 1}), "I could not use the tool"])


def test_by_default_a_tool_error_goes_to_the_model() -> None:
    model = script()
    Agent = rc.agent_node("forgiving", llm=model, tool_nodes=[broken])
    assert rc.call_sync(Agent, "go").output == "I could not use the tool"
    [reply] = [m for m in model.calls[1].messages if isinstance(m, ToolMessage)]
    assert reply.is_error and "KeyError: 'a bug in the tool'" in reply.content


def test_raise_fails_the_agent_with_the_tools_own_exception() -> None:
    model = script()
    Agent = rc.agent_node("strict", llm=model, tool_nodes=[broken], tool_errors="raise")
    with rc.Runner(logging_setting="NONE", save_state=False) as runner:
        with pytest.raises(KeyError, match="a bug in the tool"):
            runner.run_sync(Agent, "go")
        agent, tool = runner.info.nodes
    assert (agent.status, tool.status) == ("failed", "failed")
    assert len(model.calls) == 1  # the model was not asked again


def test_the_policy_can_be_set_per_tool() -> None:
    model = ScriptedModel(
        [ToolCall("add", {"a": 1, "b": "not a number"}), ToolCall("broken", {"x": 1}), "x"]
    )
    Agent = rc.agent_node(
        "mixed", llm=model, tool_nodes=[add, broken], tool_errors={"broken": "raise"}
    )
    with pytest.raises(KeyError):  # add's bad arguments went back; broken's bug did not
        rc.call_sync(Agent, "go")
    assert len(model.calls) == 2


def test_model_retry_goes_to_the_model_even_with_raise() -> None:
    def picky(x: int) -> int:
        """Picky.

        Args:
            x: a positive number
        """
        if x < 0:
            raise rc.ModelRetry("x must be positive")
        return x

    model = ScriptedModel([ToolCall("picky", {"x": -1}), ToolCall("picky", {"x": 1}), "ok"])
    Agent = rc.agent_node("picky", llm=model, tool_nodes=[picky], tool_errors="raise")
    assert rc.call_sync(Agent, "go").output == "ok"


@pytest.mark.parametrize(
    ("tool_errors", "message"),
    [
        ("ignore", "tool_errors must be 'model', 'raise' or a mapping"),
        ({"broken": "skip"}, "tool_errors must be 'model', 'raise' or a mapping"),
        ({"nope": "raise"}, r"tool_errors names no such tool: \['nope'\]; the tools are"),
        (3, "tool_errors must be 'model', 'raise' or a mapping"),
    ],
)
def test_a_bad_policy_is_refused(tool_errors: object, message: str) -> None:
    with pytest.raises(rc.NodeCreationError, match=message):
        rc.agent_node("x", llm=ScriptedModel([]), tool_nodes=[broken], tool_errors=tool_errors)  # type: ignore[arg-type]
