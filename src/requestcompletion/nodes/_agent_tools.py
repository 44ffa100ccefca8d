"""An agent's tools: the `Tool` each tool node shows the model, and running one turn's calls.

Every valid tool call runs as a child node of the agent through `rc.call`, so it is
recorded in the graph with its arguments and its result. A call that cannot run (no
such tool, arguments that are not JSON or do not fit the schema), a tool that raises
`rc.ModelRetry`, and (with ``tool_errors="model"``, the default) a tool that raises
become a `ToolMessage` with ``is_error=True`` for the model to read; with
``tool_errors="raise"`` the tool's exception fails the agent. An `rc.FatalError`
(and cancellation) always passes through. The calls of one turn run in
parallel; the results come back in the model's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, cast

from .._frozen import fast_constructor
from ..errors import FatalError, ModelRetry, NodeCreationError, ToolArgumentsError
from ..interaction import call, call_all
from ..llm.messages import ToolCall, ToolMessage
from ..llm.tools import Tool
from .agent_result import AgentResult
from .base import Node
from .function import FunctionNode

__all__ = ["Toolbox", "tool_name", "tool_of"]

ERROR_LIMIT = 2_000  # characters of an error shown to the model: enough to fix it, bounded
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]")
_tool_message = fast_constructor(ToolMessage)


def tool_name(name: str) -> str:
    """`name` made acceptable as a tool name (letters, digits, ``_``, ``-``; at most 64)."""
    return _NOT_NAME.sub("_", name)[:64] or "tool"


def tool_of(node: Any) -> Tool:
    """The tool that describes a function, a `function_node` type or a class node.

    Built on first use and kept on the function (or type) itself, like its node spec:
    describing one with pydantic costs most of a millisecond, apps build agents per
    request, and a tool is never changed once made, so every agent shares it. Kept
    there, it lives exactly as long as its function.

    Raises:
        NodeCreationError: it is not a node, or a parameter cannot be described.
    """
    try:
        cached = node.__dict__.get("__rc_tool__")
    except AttributeError:  # no __dict__ (a builtin, a slotted object): not cached
        cached = None
    if type(cached) is tuple and cached[0] is node:  # not a subclass's inherited one
        return cached[1]  # type: ignore[no-any-return]
    tool = _describe(node)
    with contextlib.suppress(AttributeError, TypeError):
        # a reference cycle (node -> tool -> node), collected with the node
        node.__rc_tool__ = node, tool
    return tool


def _describe(node: Any) -> Tool:
    if isinstance(node, type) and issubclass(node, FunctionNode):
        return Tool.from_function(
            node.func, name=tool_name(node.pretty_name()), description=node.tool_description
        )
    if isinstance(node, type) and issubclass(node, Node):
        return Tool.from_function(node, name=tool_name(node.pretty_name()))
    if isinstance(node, type) or not callable(node):
        raise NodeCreationError(
            f"{node!r} cannot be a tool: pass a function, an rc.function_node, an rc.Node "
            "subclass or an rc.agent_node"
        )
    return Tool.from_function(node, name=tool_name(getattr(node, "__name__", "") or "tool"))


Prepare = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns a tool call's validated arguments into the node's (e.g. a sub-agent's prompt)."""


class Toolbox:
    """The tools one agent type offers, by name, and the node each one runs.

    An entry is ``(tool, node, prepare)``: `prepare` (or None) turns the model's
    validated arguments into the node's.
    """

    __slots__ = ("approve", "handoffs", "nodes", "raises", "tools")

    def __init__(
        self,
        entries: Iterable[tuple[Tool, Any, Prepare | None]],
        agent: str,
        raises: frozenset[str] = frozenset(),
        handoffs: Iterable[tuple[Tool, Any]] = (),
        approve: bool | frozenset[str] = False,
    ) -> None:
        self.approve = approve  # True: every tool; else the names asked about first
        self.raises = raises  # tools whose exceptions fail the agent (tool_errors="raise")
        handoffs = list(handoffs)
        entries = [*entries, *((tool, target, None) for tool, target in handoffs)]
        nodes: dict[str, tuple[Tool, Any, Prepare | None]] = {}
        for entry in entries:
            name = entry[0].name
            if name in nodes:
                raise NodeCreationError(
                    f"agent {agent!r} has two tools named {name!r}; give one a "
                    "different name (rc.function_node(f, name=...))"
                )
            nodes[name] = entry
        self.nodes = nodes
        # tool name -> the agent a call of it hands the conversation to
        self.handoffs: dict[str, Any] = {tool.name: target for tool, target in handoffs}
        self.tools: tuple[Tool, ...] = tuple(entry[0] for entry in nodes.values())

    async def run(
        self, calls: Sequence[ToolCall], limit: int | None = None
    ) -> tuple[list[ToolMessage], bool]:
        """Run one turn's calls in parallel, at most `limit` at once.

        Returns a result per call, in order, and whether any call was malformed.
        """
        replies: list[ToolMessage | None] = [None] * len(calls)
        started: list[tuple[int, ToolCall]] = []
        runs: list[tuple[Any, tuple[()], dict[str, Any]]] = []
        declined = 0
        for index, tool_call in enumerate(calls):
            entry = self.nodes.get(tool_call.name)
            try:
                if entry is None:
                    raise ToolArgumentsError(self._unknown(tool_call.name), tool=tool_call.name)
                kwargs = entry[0].validate(tool_call.arguments)
                if entry[2] is not None:
                    kwargs = entry[2](kwargs)
            except ToolArgumentsError as error:
                hint = "" if entry is None else ". Call it again with arguments that fit"
                replies[index] = _reply(tool_call, f"Error: {error}{hint}", error=True)
                continue
            approve = self.approve
            if (approve is True or (approve and tool_call.name in approve)) and not (
                await _approved(tool_call)
            ):
                replies[index] = _reply(tool_call, DECLINED.format(tool_call.name), error=True)
                declined += 1
                continue
            started.append((index, tool_call))
            runs.append((entry[1], (), kwargs))
        outcomes: list[Any] = []
        if len(runs) == 1:  # one call runs inline: no task needed
            try:
                outcomes = [await call(runs[0][0], **runs[0][2])]
            except Exception as error:
                outcomes = [error]
        elif limit is not None and len(runs) > limit:
            gate = asyncio.Semaphore(limit)
            outcomes = await asyncio.gather(
                *(_gated(gate, call(node, **kwargs)) for node, _, kwargs in runs),
                return_exceptions=True,
            )
        elif runs:
            # every call runs to its end before a fatal error goes up: none is left behind
            outcomes = await call_all(runs)
        retried = False
        for (index, tool_call), outcome in zip(started, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if isinstance(outcome, FatalError) or not isinstance(outcome, Exception):
                    raise outcome
                if isinstance(outcome, ModelRetry):
                    # the tool asks the model to call again, and says why
                    retried = True
                    text = f"Error: tool {tool_call.name!r} asks you to retry: {outcome}"
                elif tool_call.name in self.raises:
                    raise outcome
                else:
                    # tool_errors="model": the failure is news for the model, not a crash
                    text = (
                        f"Error: tool {tool_call.name!r} failed: "
                        f"{type(outcome).__name__}: {outcome}"
                    )
                replies[index] = _reply(tool_call, text, error=True)
            else:
                replies[index] = _tool_message(tool_call.id, tool_call.name, render(outcome), False)
        malformed = len(started) + declined < len(calls)
        return cast("list[ToolMessage]", replies), retried or malformed

    def _unknown(self, name: str) -> str:
        known = ", ".join(repr(n) for n in self.nodes) or "none"
        return f"there is no tool named {name!r}; the tools are: {known}"


async def _gated(gate: asyncio.Semaphore, run: Awaitable[Any]) -> Any:
    async with gate:
        return await run


def _reply(tool_call: ToolCall, text: str, *, error: bool) -> ToolMessage:
    if len(text) > ERROR_LIMIT:
        text = text[: ERROR_LIMIT - 3] + "..."
    return _tool_message(tool_call.id, tool_call.name, text, error)


def render(output: Any) -> str:
    """A tool's output as the text the model reads: JSON for data, the text of an agent."""
    if isinstance(output, str):
        return output
    if isinstance(output, AgentResult):
        return output.text or "" if output.structured is None else render(output.structured)
    import pydantic_core

    try:
        return pydantic_core.to_json(output).decode()
    except (pydantic_core.PydanticSerializationError, ValueError, TypeError):
        return str(output)


DECLINED = (
    "Error: the human declined to run tool {!r}; do not call it again for this. Go on "
    "without it, or answer with what you have"
)


async def _approved(tool_call: ToolCall) -> bool:
    """Ask the run's human (`rc.ask`) whether this call may run."""
    from ..human import ask

    arguments = json.dumps(tool_call.arguments, ensure_ascii=False, default=repr)
    answer: bool = await ask(
        f"Run tool {tool_call.name!r} with arguments {arguments}? (yes/no)", schema=bool
    )
    return answer


def approvals(
    agent: str, approve: bool | Iterable[Any], entries: Sequence[tuple[Tool, Any, Any]]
) -> bool | frozenset[str]:
    """`agent_node(approve=...)` as True, or the names of the tools to ask about."""
    where = f"agent_node({agent!r})"
    if isinstance(approve, bool):
        return approve
    if isinstance(approve, str | bytes) or not isinstance(approve, Iterable):
        raise NodeCreationError(f"{where}: approve must be True, False or a list of its tools")
    by_node = {id(entry[1]): entry[0].name for entry in entries}
    names = {entry[0].name for entry in entries}
    chosen = set()
    for item in approve:
        name = item if isinstance(item, str) else by_node.get(id(item))
        if name not in names:
            raise NodeCreationError(
                f"{where}: approve names {item!r}, which is not one of its tool_nodes "
                f"({', '.join(sorted(names)) or 'none'})"
            )
        chosen.add(name)
    return frozenset(chosen)
