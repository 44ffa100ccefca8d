"""The events a run publishes: frozen dataclasses, one per kind of thing that happened.

Every event says which run it belongs to, which node (id, name, parent id, kind)
and when (`time.perf_counter()` seconds, monotonic). Events are built only when
somebody subscribes, so an unobserved run pays nothing for them.

A node's `kind` says what sort of node the event is about, so a hook can tell an
agent from a tool without knowing their names:

==============  ================================================================
``"agent"``     an `rc.agent_node`, wherever it was called from (a sub-agent or a
                handoff target too); the model events (`LLMRequestStarted`,
                `LLMResponseReceived`, `LLMChunk`) are always about an agent
``"tool"``      a function or class node an agent called to answer a tool call
``"mcp_tool"``  a tool of an MCP server (`rc.mcp.tools`)
``"function"``  a function or `rc.function_node` called by code
``"node"``      an `rc.Node` subclass called by code
(your own)      a class node that sets its `kind` class attribute keeps it, as a
                tool too; a node run by your own execution strategy keeps its kind
==============  ================================================================

`rc.node_kind(node)` says a node type's kind; `NodeInfo.kind` what a saved call was.
Run-level events (`RunStarted`, `RunFinished`, a run-level `FatalFailure`) have
kind None. `kind` is keyword-only, so events built positionally still work.

For one call the events come in this order: `RequestCreated` (or only
`RequestCreationFailed`), then its `Streamed` items, model events and children's
events, then one of `RequestSucceeded`, `RequestFailed` or `RequestCancelled`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._frozen import fast_constructor

__all__ = [
    "Event",
    "FatalFailure",
    "LLMChunk",
    "LLMRequestStarted",
    "LLMResponseReceived",
    "RequestCancelled",
    "RequestCreated",
    "RequestCreationFailed",
    "RequestFailed",
    "RequestSucceeded",
    "RunFinished",
    "RunStarted",
    "Streamed",
    "fast_constructor",
]


@dataclass(frozen=True, slots=True)
class Event:
    """What every event carries. `node_id` etc. are None for run-level events.

    `kind` is what sort of node the event is about: "agent", "tool", "mcp_tool",
    "function", "node" or a class node's own (see the module docstring).
    """

    run_id: str
    node_id: int | None
    node_name: str | None
    parent_id: int | None
    time: float
    kind: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """The runner opened."""


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    """The runner closed. `outcome` is "succeeded", "failed", "timeout" or "cancelled"."""

    outcome: str


@dataclass(frozen=True, slots=True)
class RequestCreated(Event):
    """A node was created and is about to run with these inputs."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RequestSucceeded(Event):
    """A node returned `output` after `duration` seconds."""

    output: Any
    duration: float


@dataclass(frozen=True, slots=True)
class RequestFailed(Event):
    """A node raised `error` after `duration` seconds."""

    error: BaseException
    duration: float


@dataclass(frozen=True, slots=True)
class RequestCreationFailed(Event):
    """A node could not be created from its arguments (a NodeCreationError)."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class RequestCancelled(Event):
    """A node was cancelled: by a timeout, `runner.cancel`, or the run ending."""

    reason: str
    duration: float


@dataclass(frozen=True, slots=True)
class Streamed(Event):
    """A node passed `item` to `rc.stream`."""

    item: Any


@dataclass(frozen=True, slots=True)
class FatalFailure(Event):
    """`error` ended the whole run (end_on_error, or an rc.FatalError)."""

    error: BaseException


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class LLMRequestStarted(Event):
    """An agent node asked a model for a reply (its `kind` is "agent").

    `messages` is how many messages were sent: the first `messages` of `history`,
    which is the agent's own conversation list, passed as it is (never copied, so
    an event nobody reads costs nothing more): it grows as the agent goes on, so
    read `sent` for what this request held. `scrub` takes the model's credentials
    (its API key, secret headers) out of a text: apply it to anything of the
    conversation you show outside the run.
    """

    provider: str
    model: str
    messages: int
    # out of the repr: a log line of the event must not print the whole conversation
    history: Sequence[Any] = field(default=(), repr=False)
    scrub: Callable[[str], str] = field(default=_unchanged, repr=False)

    @property
    def sent(self) -> tuple[Any, ...]:
        """The messages this request sent, oldest first (`requestcompletion.llm` messages)."""
        return tuple(self.history[: self.messages])


@dataclass(frozen=True, slots=True)
class LLMResponseReceived(Event):
    """A model replied (its `kind` is "agent"). Tokens are None when the provider did not say.

    `finish_reason` is why the model stopped, as the provider said it ("stop",
    "tool_calls", ...), or None when it did not say. `response` is the reply itself
    (the `requestcompletion.llm.Response`: text, tool calls, structured output), or
    None in an event built without it.
    """

    provider: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    latency: float
    cost: float | None = None
    finish_reason: str | None = None
    response: Any = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class LLMChunk(Streamed):
    """A piece of a streamed model reply, published once (its `kind` is "agent").

    It is a `Streamed` event, so the config's `subscriber` gets it too: its `item` is
    the `requestcompletion.llm.Chunk`, which tells a model's text apart from what
    nodes pass to `rc.stream`. With an output schema the chunk's `partial` is the
    JSON so far (``pydantic_core.from_json(partial, allow_partial=True)`` reads it).
    """

    text: str
