"""A tool of an MCP server says "mcp_tool" on its events and in the saved run."""

from __future__ import annotations

import sys
from pathlib import Path

import requestcompletion as rc
from requestcompletion.llm import ToolCall
from requestcompletion.pubsub import events as ev
from requestcompletion.testing import ScriptedModel

SERVER = str(Path(__file__).with_name("mcp_test_server.py"))


async def test_an_mcp_tool_call_says_mcp_tool() -> None:
    [add] = await rc.mcp.tools_async(
        rc.mcp.StdioServer(sys.executable, [SERVER, "stdio"]), include=["add"]
    )
    assert rc.node_kind(add) == "mcp_tool"
    model = ScriptedModel([ToolCall("add", {"a": 2, "b": 3}), "five"])
    agent = rc.agent_node("counter", llm=model, tool_nodes=[add])
    seen: list[ev.Event] = []
    async with rc.Runner(logging_setting="NONE", save_state=False) as runner:
        runner.publisher.subscribe(seen.append)
        info = await runner.run(agent, "add them")
    assert [(n.name, n.kind) for n in info.nodes] == [("counter", "agent"), ("add", "mcp_tool")]
    ended = [(e.node_name, e.kind) for e in seen if isinstance(e, ev.RequestSucceeded)]
    assert ended == [("add", "mcp_tool"), ("counter", "agent")]
