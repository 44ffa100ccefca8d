"""Nodes the MCP server tests serve (`requestcompletion mcp serve served_nodes:NODES`)."""

from __future__ import annotations

import asyncio
import itertools
import socket

import requestcompletion as rc
from requestcompletion.testing import ScriptedModel


def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: the first
        b: the second
    """
    return a + b


_arrived: list[str] = []
_both_here = asyncio.Event()


async def meet(who: str) -> str:
    """Greet someone, once two calls are in flight at the same time.

    Args:
        who: whom to greet
    """
    _arrived.append(who)
    if len(_arrived) == 2:
        _both_here.set()
    await _both_here.wait()  # only a server that runs calls concurrently gets past this
    return f"hello {who}"


def boom() -> None:
    """Always fails."""
    raise ValueError("no good")


helper = rc.agent_node("helper", llm=ScriptedModel(itertools.cycle(["the agent says hi"])))

NODES = [add, meet, boom, helper]


def takes_a_socket(connection: socket.socket) -> None:
    """Its argument cannot be JSON schema."""


BAD = [add, takes_a_socket]
