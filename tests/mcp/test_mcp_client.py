"""rc.mcp.tools: an MCP server's tools as agent tool nodes, over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

import requestcompletion as rc
from requestcompletion.llm import ToolCall, ToolMessage
from requestcompletion.nodes._agent_tools import tool_of
from requestcompletion.testing import ScriptedModel

SERVER = str(Path(__file__).with_name("mcp_test_server.py"))


def stdio(*args: str) -> rc.mcp.StdioServer:
    return rc.mcp.StdioServer(sys.executable, [SERVER, "stdio", *args])


def quiet() -> rc.Runner:
    return rc.Runner(logging_setting="NONE", save_state=False)


def by_name(nodes: list[object]) -> dict[str, object]:
    return {tool_of(node).name: node for node in nodes}


def tool_replies(model: ScriptedModel, call: int) -> list[tuple[str, bool]]:
    messages = model.calls[call].messages
    return [(m.content, m.is_error) for m in messages if isinstance(m, ToolMessage)]


def test_tools_carry_the_servers_names_descriptions_and_schemas() -> None:
    tools = by_name(rc.mcp.tools(stdio()))
    assert set(tools) == {"add", "describe", "pid", "fail", "hang", "die"}
    add = tool_of(tools["add"])
    assert add.description == "Add two integers."
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"] == {"type": "integer", "description": "the first"}
    describe = tool_of(tools["describe"])
    person = describe.parameters["$defs"][describe.parameters["properties"]["person"]["$ref"][8:]]
    assert person["properties"]["name"] == {"type": "string", "minLength": 1}
    assert person["properties"]["age"] == {"type": "integer", "minimum": 0}
    assert person["required"] == ["name"]
    assert describe.parameters["properties"]["tags"]["items"]["enum"] == ["x", "y"]


async def test_an_agent_calls_stdio_tools_in_parallel_as_child_nodes() -> None:
    tools = await rc.mcp.tools_async(stdio(), include=["add", "describe"])
    model = ScriptedModel(
        [
            [
                ToolCall("add", {"a": 2, "b": 3}),
                ToolCall("describe", {"person": {"name": "ada", "age": 36}, "tags": ["x"]}),
            ],
            "done",
        ]
    )
    agent = rc.agent_node("user", llm=model, tool_nodes=tools)
    async with quiet() as runner:
        info = await runner.run(agent, "go")
    assert info.answer.output == "done"
    [top, *children] = info.nodes
    assert [(c.name, c.parent_id, c.status) for c in children] == [
        ("add", top.id, "succeeded"),
        ("describe", top.id, "succeeded"),
    ]
    [(added, added_error), (said, said_error)] = tool_replies(model, 1)
    assert (added, added_error) == ("5", False)
    assert json.loads(said) == {"person": {"name": "ada", "age": 36}, "tags": ["x"]}
    assert not said_error


async def test_arguments_that_do_not_fit_the_servers_schema_go_back_to_the_model() -> None:
    tools = await rc.mcp.tools_async(stdio(), include=["describe"])
    model = ScriptedModel([ToolCall("describe", {"person": {"name": ""}}), "ok"])
    async with quiet() as runner:
        await runner.run(rc.agent_node("user", llm=model, tool_nodes=tools), "go")
    [(text, error)] = tool_replies(model, 1)
    assert error
    assert "person.name" in text


async def test_tools_over_streamable_http(http_url: str) -> None:
    tools = await rc.mcp.tools_async(rc.mcp.HTTPServer(http_url), include=["add"])
    model = ScriptedModel([ToolCall("add", {"a": 40, "b": 2}), "forty-two"])
    async with quiet() as runner:
        info = await runner.run(rc.agent_node("user", llm=model, tool_nodes=tools), "go")
    assert info.answer.output == "forty-two"
    assert tool_replies(model, 1) == [("42", False)]
    assert [n.name for n in info.nodes] == ["user", "add"]


async def test_one_connection_per_runner_opened_on_first_use_and_closed_with_it() -> None:
    pid = by_name(await rc.mcp.tools_async(stdio()))["pid"]
    tasks_before = asyncio.all_tasks()
    async with quiet() as runner:
        first = int((await runner.run(pid)).answer)
        assert int((await runner.run(pid)).answer) == first  # the same process serves the run
    # the loop goes on, and nothing of the connection is left on it
    assert asyncio.all_tasks() == tasks_before
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)  # the runner's close stopped the server
    async with quiet() as runner:
        second = int((await runner.run(pid)).answer)
    assert second != first


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ("fail", "returned an error: the tool broke"),
        ("hang", "failed: "),
        ("die", "failed: "),
    ],
)
async def test_a_failing_hanging_or_dying_server_is_a_tool_error_the_agent_sees(
    tool: str, expected: str
) -> None:
    tools = await rc.mcp.tools_async(stdio(), include=[tool, "add"], timeout=2.0)
    model = ScriptedModel([ToolCall(tool, {}), ToolCall("add", {"a": 1, "b": 1}), "recovered"])
    async with quiet() as runner:
        info = await runner.run(rc.agent_node("user", llm=model, tool_nodes=tools), "go")
    assert info.answer.output == "recovered"
    [(text, error)] = tool_replies(model, 1)
    assert error
    assert f"MCP tool {tool!r}" in text
    assert expected in text
    # the next call works: a broken connection is opened afresh
    assert tool_replies(model, 2)[-1] == ("2", False)
    assert [n.status for n in info.nodes] == ["succeeded", "failed", "succeeded"]


def test_a_schema_rc_cannot_express_fails_at_connect_time_naming_the_tool() -> None:
    with pytest.raises(rc.MCPError, match=r"MCP tool 'pick': its input schema at properties\.x"):
        rc.mcp.tools(stdio("bad"))
    # leaving it out works
    assert "pick" not in by_name(rc.mcp.tools(stdio("bad"), exclude=["pick"]))


def test_a_server_that_cannot_start_is_a_clear_error() -> None:
    server = rc.mcp.StdioServer(sys.executable, ["-c", "raise SystemExit(1)"])
    with pytest.raises(rc.MCPError, match=r"cannot connect to MCP server"):
        rc.mcp.tools(server, connect_timeout=10)


def test_bad_arguments_to_tools() -> None:
    with pytest.raises(TypeError, match=r"rc.mcp.StdioServer"):
        rc.mcp.tools("python server.py")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"timeout must be a number of seconds > 0, not 0"):
        rc.mcp.tools(stdio(), timeout=0)
    with pytest.raises(rc.MCPError, match=r"has no tool named 'nope'"):
        rc.mcp.tools(stdio(), include=["nope"])


def test_a_published_server_mcp_server_time() -> None:
    server = rc.mcp.StdioServer(sys.executable, ["-m", "mcp_server_time", "--local-timezone=UTC"])
    tools = by_name(rc.mcp.tools(server))
    assert "get_current_time" in tools
    with quiet() as runner:
        answer = runner.run_sync(tools["get_current_time"], timezone="UTC").answer
    assert json.loads(answer if isinstance(answer, str) else json.dumps(answer))["timezone"] == (
        "UTC"
    )
