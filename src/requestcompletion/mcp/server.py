"""`rc.mcp.serve`: rc nodes — functions, function nodes, class nodes, agents — as MCP tools.

Each node is described the way an agent sees it (`Tool.from_function`, or an agent's
`as_tool`), so a node whose arguments cannot be JSON schema fails before the server
starts, naming it. The server holds one runner for its whole life: every tool call
is a top-level request of it (recorded, timed out, saved like any other), and calls
arrive concurrently, each in a task of the SDK's server. A call's arguments are
validated against the schema first; bad arguments, and a node that raises, answer
with an error result (`is_error`) that the calling model can read, never a crashed
server.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ..errors import NodeCreationError, ToolArgumentsError
from ..runner import Runner

if TYPE_CHECKING:
    import mcp_types

__all__ = ["described", "serve", "serve_async"]

Transport = Literal["stdio", "http"]


def described(nodes: Iterable[Any]) -> dict[str, tuple[Any, Any]]:
    """tool name -> (the `Tool` describing the node, the node), for `nodes`.

    Raises:
        NodeCreationError: a node's arguments cannot be described as JSON schema (the
            message names the node and the argument), or two nodes share a name.
    """
    from ..nodes._agent_tools import tool_of
    from ..nodes.agent import AgentNode

    if isinstance(nodes, str | bytes) or not isinstance(nodes, Iterable):
        raise TypeError(f"rc.mcp.serve needs a list of nodes, not {nodes!r}")
    tools: dict[str, tuple[Any, Any]] = {}
    for node in nodes:
        label = getattr(node, "__qualname__", None) or repr(node)
        try:
            is_agent = isinstance(node, type) and issubclass(node, AgentNode)
            tool = node.as_tool() if is_agent else tool_of(node)
        except NodeCreationError as error:
            raise NodeCreationError(
                f"rc.mcp.serve cannot offer node {label!r} as an MCP tool: {error}"
            ) from None
        if tool.name in tools:
            raise NodeCreationError(
                f"rc.mcp.serve was given two nodes named {tool.name!r}; give one another "
                f"name (rc.function_node(f, name=...))"
            )
        tools[tool.name] = (tool, node)
    if not tools:
        raise ValueError("rc.mcp.serve needs at least one node to offer")
    return tools


def _result(text: str, error: bool = False) -> mcp_types.CallToolResult:
    import mcp_types as types

    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)


def _server(tools: Mapping[str, tuple[Any, Any]], runner: Runner, name: str) -> Any:
    import mcp_types as types
    from mcp.server.lowlevel import Server

    from ..nodes._agent_tools import render

    listing = [
        types.Tool(name=key, description=tool.description, input_schema=tool.parameters)
        for key, (tool, _) in tools.items()
    ]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listing)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        entry = tools.get(params.name)
        if entry is None:
            known = ", ".join(repr(key) for key in tools)
            return _result(f"there is no tool named {params.name!r}; the tools are: {known}", True)
        tool, node = entry
        try:
            kwargs = tool.validate(params.arguments or {})
        except ToolArgumentsError as error:
            return _result(str(error), True)
        try:
            info = await runner.run(node, **kwargs)
        except Exception as error:  # the caller's news, not the server's end
            return _result(f"{type(error).__name__}: {error}", True)
        return _result(render(info.answer))

    return Server(name, on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_async(
    nodes: Iterable[Any],
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str = "requestcompletion",
    **runner_options: Any,
) -> None:
    """`serve` from async code; returns when the server stops (the runner closes then)."""
    tools = described(nodes)
    if transport not in ("stdio", "http"):
        raise ValueError(f"transport must be 'stdio' or 'http', not {transport!r}")
    if transport == "stdio":
        # stdout carries the protocol: the run's log lines must not go there
        runner_options.setdefault("logging_setting", "QUIET")
    async with Runner(**runner_options) as runner:
        server = _server(tools, runner, name)
        if transport == "stdio":
            from mcp.server.stdio import stdio_server

            async with stdio_server() as (read, write):
                await server.run(read, write, server.create_initialization_options())
            return
        import uvicorn

        sock = socket.socket()
        sock.bind((host, port))
        sock.listen(128)  # from here a client's connect waits in the backlog, not refused
        where = sock.getsockname()
        # the port may have been 0 (any free one): say where the server really is
        print(f"MCP server on http://{where[0]}:{where[1]}/mcp", file=sys.stderr, flush=True)
        config = uvicorn.Config(
            server.streamable_http_app(host=host), log_level="warning", lifespan="on"
        )
        with _sigterm_stops_quietly():
            await uvicorn.Server(config).serve(sockets=[sock])


@contextlib.contextmanager
def _sigterm_stops_quietly() -> Iterator[None]:
    """Let a SIGTERM end the server but not the process before its runner saved the run.

    uvicorn stops on SIGTERM and then raises it again for the handler it found in
    place: with the default one, that kills the process before the runner closes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, lambda number, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def serve(
    nodes: Iterable[Any],
    *,
    transport: Transport = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str = "requestcompletion",
    **runner_options: Any,
) -> None:
    """Serve `nodes` as the tools of an MCP server until it is stopped.

    Args:
        nodes: functions, `rc.function_node` types, `rc.Node` subclasses and
            `rc.agent_node` types; each is a tool named as an agent would name it.
        transport: "stdio" (the client starts this process) or "http" (streamable
            HTTP at ``http://{host}:{port}/mcp``).
        host: the address to listen on; 127.0.0.1 unless told otherwise.
        port: the port to listen on (http).
        name: the server's name, as clients see it.
        **runner_options: `ExecutorConfig` fields for the runner every call runs
            in (``timeout``, ``save_state``, ...).

    Raises:
        NodeCreationError: a node's arguments cannot be described as JSON schema;
            the message names the node.
        ValueError: no nodes, or an unknown transport.
    """
    import asyncio

    try:
        asyncio.run(
            serve_async(
                nodes, transport=transport, host=host, port=port, name=name, **runner_options
            )
        )
    except KeyboardInterrupt:
        print("requestcompletion: MCP server stopped", file=sys.stderr)
