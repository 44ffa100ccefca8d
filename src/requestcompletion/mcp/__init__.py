"""MCP (the `mcp` extra): an MCP server's tools as rc tool nodes, and rc nodes served over MCP.

    import requestcompletion as rc

    weather = rc.mcp.tools(rc.mcp.StdioServer("python", ["weather_server.py"]))
    Agent = rc.agent_node("forecaster", llm=model, tool_nodes=weather)

    rc.mcp.serve([Agent, add])      # or, from a shell: requestcompletion mcp serve app:NODES

The official `mcp` SDK does the protocol; it is imported when a server is first
contacted, and its absence is a `MissingExtraError` with the install command.
"""

from __future__ import annotations

import importlib

from ..errors import MissingExtraError

INSTALL_HINT = "pip install 'requestcompletion[mcp]'"

try:
    importlib.import_module("mcp")
except ImportError as _error:
    raise MissingExtraError(
        f"rc.mcp needs the 'mcp' extra, which is not installed ({_error}); "
        f"install it with: {INSTALL_HINT}"
    ) from None

from .client import HTTPServer, StdioServer, tools, tools_async  # noqa: E402
from .server import serve, serve_async  # noqa: E402

__all__ = ["HTTPServer", "StdioServer", "serve", "serve_async", "tools", "tools_async"]
