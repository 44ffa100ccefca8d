"""agent_node options from the strategies issue and the default model."""

from __future__ import annotations

import asyncio

import pytest

import requestcompletion as rc
from requestcompletion.llm import ToolCall
from requestcompletion.testing import ScriptedModel


def quiet(**overrides: object) -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False, **overrides)  # type: ignore[arg-type]


async def test_max_parallel_tools_bounds_one_turns_tool_calls() -> None:
    running = peak = 0

    async def slow_echo(text: str) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001)
        running -= 1
        return text

    calls = [ToolCall("slow_echo", {"text": str(i)}, id=f"c{i}") for i in range(7)]
    model = ScriptedModel([calls, "done"])
    Agent = rc.agent_node("bounded", llm=model, tool_nodes=[slow_echo], max_parallel_tools=2)
    async with quiet() as runner:
        info = await runner.run(Agent, "go")
    assert info.answer.output == "done"
    assert peak == 2
    assert [n.output for n in info.nodes[1:]] == [str(i) for i in range(7)]


def test_agent_options_are_checked_when_the_agent_is_defined() -> None:
    model = ScriptedModel(["hi"])
    with pytest.raises(rc.NodeCreationError, match="max_parallel_tools"):
        rc.agent_node("a", llm=model, max_parallel_tools=0)
    with pytest.raises(rc.NodeCreationError, match="mode must be"):
        rc.agent_node("a", llm=model, mode="threads")  # type: ignore[arg-type]
    Remote = rc.agent_node("a", llm=model, mode="distributed")
    assert Remote.execution_mode == "distributed"


def test_without_llm_the_default_model_comes_from_rc_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RC_MODEL", "scripted")
    Agent = rc.agent_node("default")
    assert type(Agent.agent.llm).__name__ == "OfflineDemoModel"
    monkeypatch.setenv("RC_MODEL", "nosuch:model")
    with pytest.raises(rc.ConfigError, match="nosuch"):
        rc.agent_node("default")
