"""A real MCP server for the client tests, written with the `mcp` SDK's low-level server
(so that each tool's input schema is exactly as written here).

    python mcp_test_server.py stdio|http [bad]

`http` serves streamable HTTP on 127.0.0.1 at a free port and prints the port first
on stdout. `bad` adds a tool whose schema rc cannot express.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server

TOOLS = [
    types.Tool(
        name="add",
        description="Add two integers.",
        input_schema={
            "type": "object",
            "properties": {
                "a": {"type": "integer", "description": "the first"},
                "b": {"type": "integer", "description": "the second"},
            },
            "required": ["a", "b"],
        },
    ),
    types.Tool(
        name="describe",
        description="Say back what was sent.",
        input_schema={
            "type": "object",
            "properties": {
                "person": {"$ref": "#/$defs/Person"},
                "tags": {"type": "array", "items": {"enum": ["x", "y"]}},
            },
            "required": ["person"],
            "$defs": {
                "Person": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "age": {"type": "integer", "minimum": 0},
                    },
                    "required": ["name"],
                    "additionalProperties": False,
                }
            },
        },
    ),
    types.Tool(name="pid", description="The server's process id.", input_schema={"type": "object"}),
    types.Tool(name="fail", description="Always fails.", input_schema={"type": "object"}),
    types.Tool(name="hang", description="Never answers.", input_schema={"type": "object"}),
    types.Tool(name="die", description="Kills the server.", input_schema={"type": "object"}),
]
BAD = types.Tool(
    name="pick",
    description="Its schema uses 'not'.",
    input_schema={"type": "object", "properties": {"x": {"not": {"type": "string"}}}},
)


def _text(text: str, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=error)


def make_server(bad: bool) -> Server[Any]:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[*TOOLS, BAD] if bad else TOOLS)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = params.arguments or {}
        match params.name:
            case "add":
                return _text(str(arguments["a"] + arguments["b"]))
            case "describe":
                return _text(json.dumps(arguments, sort_keys=True))
            case "pid":
                return _text(str(os.getpid()))
            case "fail":
                return _text("the tool broke", error=True)
            case "hang":
                await anyio.Event().wait()
            case "die":
                os._exit(3)
        return _text(f"no tool {params.name!r}", error=True)

    return Server("rc-test-server", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve_http(server: Server[Any]) -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # a client that connects before uvicorn runs waits, not refused
    print(sock.getsockname()[1], flush=True)
    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    made = make_server("bad" in sys.argv[2:])
    if sys.argv[1] == "stdio":
        anyio.run(serve_stdio, made)
    else:
        serve_http(made)
