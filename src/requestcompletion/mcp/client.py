"""`rc.mcp.tools`: the tools of an MCP server as rc tool nodes an agent can call.

`tools(server)` connects once to list the server's tools and reads each one's input
schema into a Python signature (`_schema`), so a schema rc cannot express fails
there, naming the tool. Each tool becomes an `rc.function_node` (async): a call is a
child node of the agent in the graph, and its result (text, or the structured
content) goes back to the model; an error result, a timeout or a server that died
raises `MCPError`, which the agent shows the model as the tool's error.

The connection the calls use belongs to a runner: opened by the first call in that
runner, in a task of its own (the SDK's transports must be entered and left in one
task), and closed by the runner's close (`Runner.on_close`). A connection that broke
is opened afresh by the next call.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Awaitable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pydantic

from ..context import current_runner, loop_running
from ..errors import ContextError, MCPError
from ..nodes.function import function_node
from ._schema import ABSENT, Parameter, parameters_of

if TYPE_CHECKING:
    from mcp import ClientSession

    from ..runner import Runner

__all__ = ["HTTPServer", "StdioServer", "tools", "tools_async"]


@dataclass(frozen=True)
class StdioServer:
    """An MCP server rc starts as a process and talks to over its stdin and stdout.

    Args:
        command: the program, e.g. ``"uvx"`` or ``sys.executable``.
        args: its arguments.
        env: extra environment variables for it.
        cwd: its working folder.
    """

    command: str
    args: Sequence[str] = ()
    env: dict[str, str] | None = None
    cwd: str | None = None

    def __str__(self) -> str:
        return " ".join([self.command, *self.args])

    def transport(self) -> Any:
        from mcp.client.stdio import StdioServerParameters, stdio_client

        parameters = StdioServerParameters(
            command=self.command, args=list(self.args), env=self.env, cwd=self.cwd
        )
        return stdio_client(parameters)


@dataclass(frozen=True)
class HTTPServer:
    """An MCP server that listens for streamable HTTP at `url` (``http://host:port/mcp``)."""

    url: str

    def __str__(self) -> str:
        return self.url

    def transport(self) -> Any:
        from mcp.client.streamable_http import streamable_http_client

        return streamable_http_client(self.url)


Server = StdioServer | HTTPServer


@dataclass
class _Connection:
    """One open session to a server, held by the task that opened it."""

    ready: asyncio.Future[ClientSession]
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Let go of the session (its task ends soon after)."""
        self.closing.set()
        if self.task is not None and not self.ready.done():
            self.task.cancel()  # still connecting (or stuck doing so): nothing to close politely

    def close(self) -> Awaitable[Any] | None:
        """`stop`, and an awaitable that is done once the session is closed (the
        runner's close awaits it)."""
        self.stop()
        # wait without raising: the task's own end (cancelled, failed) is not the closer's
        return None if self.task is None else asyncio.wait([self.task])


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a failed connection's error as seen, even if no call was left waiting for it."""
    if not future.cancelled():
        future.exception()


class _Client:
    """What the tool nodes of one `tools()` call share: the server and its connections."""

    def __init__(self, server: Server, timeout: float, connect_timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.connections: weakref.WeakKeyDictionary[Runner, _Connection] = (
            weakref.WeakKeyDictionary()
        )

    async def session(self) -> ClientSession:
        runner = current_runner.get()
        if runner is None:
            raise ContextError("an MCP tool runs inside a runner; call it with rc.call")
        connection = self.connections.get(runner)
        if connection is None or (connection.task is not None and connection.task.done()):
            connection = _Connection(asyncio.get_running_loop().create_future())
            connection.ready.add_done_callback(_retrieved)
            connection.task = asyncio.get_running_loop().create_task(self._hold(connection))
            self.connections[runner] = connection
            runner.on_close(connection.close)
        try:
            return await asyncio.wait_for(asyncio.shield(connection.ready), self.connect_timeout)
        except TimeoutError:
            connection.stop()
            raise MCPError(
                f"MCP server {str(self.server)!r} did not answer within {self.connect_timeout}s "
                f"of connecting; check that it starts, or raise tools(..., connect_timeout=)"
            ) from None

    async def _hold(self, connection: _Connection) -> None:
        try:
            async with AsyncExitStack() as stack:
                session = await _open(stack, self.server)
                connection.ready.set_result(session)
                await connection.closing.wait()
        except BaseException as error:
            if not connection.ready.done():
                connection.ready.set_exception(_connect_error(self.server, error))
            if not isinstance(error, Exception):
                raise

    async def call(self, name: str, arguments: dict[str, Any]) -> Any:
        session = await self.session()
        try:
            result = await session.call_tool(name, arguments, read_timeout_seconds=self.timeout)
        except Exception as error:
            # the session may be dead (the server died) or stuck: the next call opens a new one
            runner = current_runner.get()
            connection = None if runner is None else self.connections.pop(runner, None)
            if connection is not None:
                connection.stop()  # the runner's close still waits for it
            raise MCPError(
                f"MCP tool {name!r} on {str(self.server)!r} failed: {type(error).__name__}: {error}"
            ) from error
        if result.is_error:
            raise MCPError(
                f"MCP tool {name!r} on {str(self.server)!r} returned an error: "
                f"{_text_of(result.content)}"
            )
        if result.structured_content is not None:
            return result.structured_content
        return _text_of(result.content)


async def _open(stack: AsyncExitStack, server: Server) -> ClientSession:
    from mcp import ClientSession

    read, write = await stack.enter_async_context(server.transport())
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


def _connect_error(server: Server, error: BaseException) -> MCPError:
    return MCPError(
        f"cannot connect to MCP server {str(server)!r}: {type(error).__name__}: {error}; "
        f"check the command or URL, and that the server starts"
    )


def _text_of(content: Sequence[Any]) -> str:
    parts = []
    for item in content:
        text = getattr(item, "text", None)
        parts.append(text if isinstance(text, str) else f"[{type(item).__name__}]")
    return "\n".join(parts)


def _jsonable(value: Any) -> Any:
    """Validated arguments (models, lists of them) back to the JSON the server reads."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _tool_node(client: _Client, name: str, description: str, parameters: list[Parameter]) -> Any:
    async def call_tool(**arguments: Any) -> Any:
        return await client.call(name, {k: _jsonable(v) for k, v in arguments.items()})

    call_tool.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                p.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if p.required else ABSENT,
                annotation=p.annotation,
            )
            for p in parameters
        ]
    )
    call_tool.__annotations__ = {p.name: p.annotation for p in parameters}
    lines = [" ".join(description.split()) or f"The MCP tool {name}."]
    described = [p for p in parameters if p.description]
    if described:
        lines += ["", "Args:"] + [
            f"    {p.name}: {' '.join(p.description.split())}" for p in described
        ]
    call_tool.__doc__ = "\n".join(lines)
    call_tool.__name__ = call_tool.__qualname__ = name
    from ..nodes._agent_tools import tool_name

    return function_node(call_tool, name=tool_name(name), kind="mcp_tool")


async def tools_async(
    server: Server,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    timeout: float = 30.0,  # noqa: ASYNC109 - it bounds each tool call, not this one
    connect_timeout: float = 30.0,
) -> list[Any]:
    """`tools` from async code."""
    if not isinstance(server, StdioServer | HTTPServer):
        raise TypeError(
            f"tools() needs rc.mcp.StdioServer(...) or rc.mcp.HTTPServer(url), not {server!r}"
        )
    for label, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{label} must be a number of seconds > 0, not {value!r}")
    client = _Client(server, float(timeout), float(connect_timeout))
    try:
        async with asyncio.timeout(connect_timeout), AsyncExitStack() as stack:
            session = await _open(stack, server)
            listed = await session.list_tools()
    except TimeoutError:
        raise MCPError(
            f"MCP server {str(server)!r} did not list its tools within {connect_timeout}s; "
            f"check that it starts, or raise tools(..., connect_timeout=)"
        ) from None
    except Exception as error:
        raise _connect_error(server, error) from error
    names = [tool.name for tool in listed.tools]
    missing = sorted(set(include or ()) - set(names))
    if missing:
        raise MCPError(
            f"MCP server {str(server)!r} has no tool named {', '.join(map(repr, missing))}; "
            f"it has: {', '.join(map(repr, names)) or 'none'}"
        )
    nodes = []
    for tool in listed.tools:
        if (include is not None and tool.name not in include) or tool.name in exclude:
            continue
        parameters = parameters_of(tool.name, tool.input_schema)
        nodes.append(_tool_node(client, tool.name, tool.description or "", parameters))
    return nodes


def tools(
    server: Server,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    timeout: float = 30.0,
    connect_timeout: float = 30.0,
) -> list[Any]:
    """The tools of an MCP server, as tool nodes for `rc.agent_node(tool_nodes=...)`.

    Args:
        server: `StdioServer(command, args)` or `HTTPServer(url)`.
        include: only these tools (each must exist); default all.
        exclude: leave these tools out.
        timeout: seconds each tool call may take; past it the call is a tool error.
        connect_timeout: seconds to start or reach the server and list its tools.

    Returns:
        One `rc.function_node` per tool, named as the server names it.

    Raises:
        MCPError: the server cannot be reached or listed in time, a name in
            `include` does not exist, or a tool's input schema cannot be expressed
            (the message names the tool and the part of its schema).
        ContextError: called inside a running event loop; use `await tools_async(...)`.
    """
    if loop_running():
        raise ContextError(
            "rc.mcp.tools() was called inside a running event loop; "
            "use `await rc.mcp.tools_async(...)`"
        )
    return asyncio.run(
        tools_async(
            server,
            include=include,
            exclude=exclude,
            timeout=timeout,
            connect_timeout=connect_timeout,
        )
    )
