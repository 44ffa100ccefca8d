"""The records of a run: NodeRecord (live, one per call) and the frozen views handed to users.

One call makes one `NodeRecord`: it is both the node (type, inputs, output,
status, times, error) and the request that made it (its parent is the caller, or
None for a top-level request). Keeping the two in one slotted object is what
makes a call cheap in time and memory; the views below are built only when
someone asks (`ExecutionInfo.nodes`, `to_graph`, saving).
"""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "TOOL_WHEN_AN_AGENT_CALLS",
    "UNKNOWN_KIND",
    "Edge",
    "ErrorInfo",
    "NodeInfo",
    "NodeRecord",
    "Stamp",
    "Status",
    "error_text",
    "kind_of",
]

Status = Literal["running", "succeeded", "failed", "cancelled"]
UNKNOWN_KIND = "unknown"
"""The kind of a node in a run saved before kinds were recorded, or of a call of
something that is not a node at all (its creation failed)."""
# the kinds a call answering an agent's tool call shows as "tool"; an agent stays an
# agent there, an MCP tool an MCP tool, and a user's own kind stays the user's
TOOL_WHEN_AN_AGENT_CALLS = frozenset({"function", "node"})


class NodeRecord:
    """The live record of one call. Mutated only by `RCState`, on the runner's loop."""

    __slots__ = (
        "args",
        "cancel_requested",
        "depth",
        "end",
        "end_step",
        "error",
        "id",
        "kwargs",
        "output",
        "parent",
        "spec",
        "start",
        "start_step",
        "status",
        "task",
        "work",
    )

    def __init__(
        self,
        id: int,
        spec: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any] | None,
        parent: NodeRecord | None,
        start: float,
        start_step: int,
        work: Any,
    ) -> None:
        self.id = id
        self.spec = spec  # NodeSpec (live) or SavedType (loaded): has .name and .key
        self.args = args
        self.kwargs = kwargs  # None when the call had no keyword arguments
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.status: Status = "running"
        self.output: Any = None
        self.error: BaseException | ErrorInfo | None = None
        self.start = start
        self.end: float | None = None
        self.start_step = start_step
        self.end_step: int | None = None
        self.task: asyncio.Task[Any] | None = None  # the task it runs in, while running
        self.work: Any = work  # the prepared invocation, until it runs
        self.cancel_requested = False

    @property
    def name(self) -> str:
        return self.spec.name  # type: ignore[no-any-return]

    @property
    def parent_id(self) -> int | None:
        return None if self.parent is None else self.parent.id

    def __repr__(self) -> str:
        return f"<NodeRecord {self.id} {self.name} {self.status}>"


def kind_of(record: NodeRecord) -> str:
    """The kind a call's events and `NodeInfo` say: its node type's kind (see
    `rc.node_kind`), or "tool" for a function or class node an agent called.

    An agent calls other nodes only to answer its model's tool calls (or to hand the
    conversation to another agent, which stays "agent"), so the parent's kind is
    enough to tell; nothing is kept per call.
    """
    kind: str = record.spec.kind
    parent = record.parent
    if parent is not None and kind in TOOL_WHEN_AN_AGENT_CALLS and parent.spec.kind == "agent":
        return "tool"
    return kind


def error_text(error: BaseException) -> str:
    """``"Type: message"`` for `error`; never raises, even when its str() does."""
    info = ErrorInfo.of(error)
    return f"{info.type}: {info.message}" if info.message else info.type


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error as recorded: exception type name, message and formatted traceback."""

    type: str
    message: str
    traceback: str

    @classmethod
    def of(cls, error: BaseException | ErrorInfo) -> ErrorInfo:
        """The record of `error`; never raises, even for an exception whose str() does."""
        if isinstance(error, ErrorInfo):
            return error
        kind = type(error).__qualname__
        try:
            message = str(error)
        except Exception as exc:  # the run's record must survive a broken __str__
            message = f"<str() of the {kind} raised {type(exc).__name__}>"
        return cls(kind, message, _traceback_of(error))


def _traceback_of(error: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(error))
    except Exception as exc:  # a broken __str__ in a chained cause, say
        return f"<the traceback could not be formatted: {type(exc).__name__}>"


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A snapshot of one node run.

    Times are seconds since the epoch; `end` is None while the node runs. `kind` is
    what sort of node ran: "agent", "tool" (called by an agent for a tool call),
    "mcp_tool", "function", "node" or a class node's own `kind` (see
    `rc.node_kind`); "unknown" in a run saved before kinds were recorded.
    """

    id: int
    name: str
    type_key: str
    parent_id: int | None
    status: Status
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    output: Any
    error: ErrorInfo | None
    start: float
    end: float | None
    extras: dict[str, Any] | None = None
    kind: str = UNKNOWN_KIND

    @property
    def duration(self) -> float | None:
        """Seconds the node ran, or None while it runs."""
        return None if self.end is None else self.end - self.start

    @property
    def replayed(self) -> bool:
        """True if a resumed run took this node's output from the run it resumed
        (`Runner.from_state`) instead of running it."""
        return bool((self.extras or {}).get("replayed"))


@dataclass(frozen=True, slots=True)
class Edge:
    """A request: `source` called `target` (source None: a top-level request)."""

    source: int | None
    target: int
    status: Status
    duration: float | None


@dataclass(frozen=True, slots=True)
class Stamp:
    """One step of the run's logical clock: a state change and a short message."""

    step: int
    time: float
    node_id: int
    message: str
