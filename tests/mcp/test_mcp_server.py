"""rc.mcp.serve and `requestcompletion mcp serve`, driven by the `mcp` SDK's own client."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

import requestcompletion as rc
from mcp import ClientSession

HERE = Path(__file__).parent
COMMAND = [sys.executable, "-m", "requestcompletion", "mcp", "serve"]


def text(result: Any) -> str:
    return "\n".join(item.text for item in result.content)


async def exercise(session: ClientSession) -> None:
    """What every transport must do: list, call, run calls concurrently, report errors."""
    await session.initialize()
    listed = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(listed) == {"add", "meet", "boom", "helper"}
    assert listed["add"].description == "Add two integers."
    assert listed["add"].input_schema["properties"]["a"] == {
        "type": "integer",
        "description": "the first",
    }
    assert listed["helper"].input_schema["required"] == ["prompt"]

    added = await session.call_tool("add", {"a": 1, "b": 2})
    assert (text(added), added.is_error) == ("3", False)
    # the two meets finish only if both are in flight at once
    ada, bob = await asyncio.wait_for(
        asyncio.gather(
            session.call_tool("meet", {"who": "ada"}), session.call_tool("meet", {"who": "bob"})
        ),
        30,
    )
    assert (text(ada), text(bob)) == ("hello ada", "hello bob")
    failed = await session.call_tool("boom", {})
    assert (text(failed), failed.is_error) == ("ValueError: no good", True)
    bad = await session.call_tool("add", {"a": "one"})
    assert bad.is_error
    assert "do not fit its schema" in text(bad)
    unknown = await session.call_tool("nope", {})
    assert unknown.is_error
    assert "there is no tool named 'nope'" in text(unknown)
    agent = await session.call_tool("helper", {"prompt": "hi"})
    assert (text(agent), agent.is_error) == ("the agent says hi", False)


def saved_run(state_dir: Path) -> rc.ExecutionInfo:
    [path] = state_dir.glob("*.json")
    return rc.ExecutionInfo.load(path)


def assert_calls_recorded(info: rc.ExecutionInfo) -> None:
    top = [(n.name, n.status) for n in info.nodes if n.parent_id is None]
    assert sorted(top) == sorted(
        [
            ("add", "succeeded"),
            ("meet", "succeeded"),
            ("meet", "succeeded"),
            ("boom", "failed"),
            ("helper", "succeeded"),
        ]
    )


async def test_stdio_server_answers_the_sdk_client_and_records_each_call(tmp_path: Path) -> None:
    parameters = StdioServerParameters(
        command=COMMAND[0],
        args=[*COMMAND[1:], "served_nodes:NODES", "--state-dir", str(tmp_path)],
        cwd=str(HERE),
    )
    async with AsyncExitStack() as stack:
        read, write = await stack.enter_async_context(stdio_client(parameters))
        session = await stack.enter_async_context(ClientSession(read, write))
        await exercise(session)
    assert_calls_recorded(saved_run(tmp_path))


def test_http_server_answers_the_sdk_client_and_records_each_call(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*COMMAND, "served_nodes:NODES", "--http", "--port", "0", "--state-dir", str(tmp_path)],
        cwd=HERE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # written once the socket listens
        assert line.startswith("MCP server on http://127.0.0.1:"), line
        asyncio.run(over_http(line.split(" on ")[1].strip()))
    finally:
        process.terminate()  # the server stops on SIGTERM; its runner closes and saves
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == 0
    assert_calls_recorded(saved_run(tmp_path))


async def over_http(url: str) -> None:
    async with AsyncExitStack() as stack:
        read, write = await stack.enter_async_context(streamable_http_client(url))
        session = await stack.enter_async_context(ClientSession(read, write))
        await exercise(session)


def test_a_node_whose_arguments_cannot_be_json_schema_is_refused_naming_it() -> None:
    sys.path.insert(0, str(HERE))
    try:
        import served_nodes
    finally:
        sys.path.remove(str(HERE))
    with pytest.raises(rc.NodeCreationError, match=r"cannot offer node 'takes_a_socket'") as caught:
        rc.mcp.serve(served_nodes.BAD)
    assert "'connection'" in str(caught.value)
    assert "socket" in str(caught.value)


def test_the_cli_refuses_a_bad_node_and_a_bad_target() -> None:
    done = subprocess.run(
        [*COMMAND, "served_nodes:BAD"], cwd=HERE, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "cannot offer node 'takes_a_socket'" in done.stderr
    done = subprocess.run(
        [*COMMAND, "served_nodes"], cwd=HERE, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "must be MODULE:ATTR" in done.stderr
    done = subprocess.run(
        [*COMMAND, "served_nodes:MISSING"], cwd=HERE, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, "has no attribute 'MISSING'" in done.stderr) == (1, True)


def test_serve_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"at least one node"):
        rc.mcp.serve([])
    with pytest.raises(ValueError, match=r"transport must be 'stdio' or 'http', not 'sse'"):
        rc.mcp.serve([double], transport="sse")  # type: ignore[arg-type]


def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number
    """
    return 2 * x
